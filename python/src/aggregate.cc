// murmur._murmur.aggregate: MakeAggregator (src/robust/factory.cc) over
// Python buffers, read in place, with the GIL released while the rule runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bindings.h"
#include "murmur/core/rng.h"
#include "murmur/core/thread_pool.h"
#include "murmur/robust/factory.h"

namespace murmur::python {
namespace {

// Below this many input floats a call runs on the calling thread when the
// caller leaves `threads` unset: waking pool threads costs more than it
// saves. Results do not depend on the thread count (aggregator.h).
constexpr size_t kAutoThreadsMinFloats = size_t{1} << 18;

// One ThreadPool per thread count, created on first use and kept for the
// life of the process (threads are expensive to start; a small call must
// not pay for it). A rule with a pool allows one call at a time, so each
// pool has a mutex that a call holds while it runs.
struct PoolSlot {
  std::mutex mu;
  ThreadPool pool;
  explicit PoolSlot(int threads) : pool(threads) {}
};

PoolSlot& PoolFor(int threads) {
  static std::mutex mu;
  // Never destroyed: idle workers must not be joined during interpreter
  // shutdown.
  static auto* slots = new std::map<int, std::unique_ptr<PoolSlot>>();
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<PoolSlot>& slot = (*slots)[threads];
  if (!slot) slot = std::make_unique<PoolSlot>(threads);
  return *slot;
}

// The addresses of the input vectors the last call handed the rule, for
// tests that check inputs are read in place.
std::mutex last_mu;
std::vector<uintptr_t> last_addresses;

// The inputs as spans over the caller's memory. `infos` keeps the buffer
// views alive.
std::vector<std::span<const float>> InputViews(const py::object& inputs,
                                               std::vector<py::buffer_info>& infos) {
  std::vector<std::span<const float>> views;
  if (py::isinstance<py::list>(inputs) || py::isinstance<py::tuple>(inputs)) {
    const auto items = py::reinterpret_borrow<py::sequence>(inputs);
    infos.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string what = "inputs[" + std::to_string(i) + "]";
      py::object item = items[i];
      if (!py::isinstance<py::buffer>(item)) {
        throw py::type_error(what + " is a " + std::string(py::str(item.get_type().attr("__name__"))) +
                             ", not an array");
      }
      infos.push_back(py::reinterpret_borrow<py::buffer>(item).request());
      if (infos.back().ndim != 1) {
        throw py::value_error(what + " must be 1-D; it has " + std::to_string(infos.back().ndim) +
                              " dimensions");
      }
      views.push_back(FloatView(infos.back(), what));
    }
  } else if (py::isinstance<py::buffer>(inputs)) {
    infos.push_back(py::reinterpret_borrow<py::buffer>(inputs).request());
    const py::buffer_info& info = infos.back();
    if (info.ndim != 2) {
      throw py::value_error("inputs must be a 2-D array (one row per input) or a list of 1-D "
                            "arrays; it has " + std::to_string(info.ndim) + " dimensions");
    }
    const std::span<const float> all = FloatView(info, "inputs");
    const size_t dim = static_cast<size_t>(info.shape[1]);
    for (py::ssize_t row = 0; row < info.shape[0]; ++row) {
      views.push_back(all.subspan(static_cast<size_t>(row) * dim, dim));
    }
  } else {
    throw py::type_error("inputs must be a 2-D float32 array or a list of 1-D float32 arrays, "
                         "not " + std::string(py::str(inputs.get_type().attr("__name__"))));
  }
  if (views.empty()) throw py::value_error("inputs holds no vectors");
  for (size_t i = 0; i < views.size(); ++i) {
    if (views[i].empty()) {
      throw py::value_error("inputs[" + std::to_string(i) + "] holds no values");
    }
    if (views[i].size() != views[0].size()) {
      throw py::value_error("inputs[" + std::to_string(i) + "] has " +
                            std::to_string(views[i].size()) + " values but inputs[0] has " +
                            std::to_string(views[0].size()) +
                            "; all inputs must have the same size");
    }
  }
  return views;
}

using StageList = std::vector<std::pair<std::string, std::map<std::string, double>>>;

py::array_t<float> Aggregate(const std::string& rule, const py::object& inputs, int f,
                             const StageList& pre, const std::map<std::string, double>& options,
                             const std::optional<std::vector<double>>& weights,
                             const py::object& reference, int threads, uint64_t seed) {
  AggregatorConfig config{.rule = rule, .f = f, .options = options, .pre = {}};
  for (const auto& [name, stage_options] : pre) {
    config.pre.push_back(PreAggregatorConfig{.name = name, .options = stage_options});
  }
  std::vector<py::buffer_info> infos;
  const std::vector<std::span<const float>> views = InputViews(inputs, infos);
  const size_t dim = views[0].size();

  std::span<const float> reference_view;
  std::optional<py::buffer_info> reference_info;
  if (!reference.is_none()) {
    if (!py::isinstance<py::buffer>(reference)) {
      throw py::type_error("reference must be a 1-D float32 array");
    }
    reference_info = py::reinterpret_borrow<py::buffer>(reference).request();
    reference_view = FloatView(*reference_info, "reference");
  }
  if (weights && weights->size() != views.size()) {
    throw py::value_error("weights has " + std::to_string(weights->size()) + " entries for " +
                          std::to_string(views.size()) + " inputs");
  }
  if (threads < 0) throw py::value_error("threads must be >= 1, got " + std::to_string(threads));
  if (threads == 0) {
    threads = views.size() * dim >= kAutoThreadsMinFloats
                  ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))
                  : 1;
  }
  PoolSlot* slot = threads > 1 ? &PoolFor(threads) : nullptr;
  Result<std::unique_ptr<Aggregator>> made =
      MakeAggregator(config, slot != nullptr ? &slot->pool : nullptr);
  if (!made.ok()) ThrowStatus(made.status());

  {
    std::lock_guard<std::mutex> lock(last_mu);
    last_addresses.clear();
    for (const auto& v : views) last_addresses.push_back(reinterpret_cast<uintptr_t>(v.data()));
  }
  py::array_t<float> out(static_cast<py::ssize_t>(dim));
  const std::span<float> out_view(out.mutable_data(), dim);
  const std::span<const double> weight_view =
      weights ? std::span<const double>(*weights) : std::span<const double>();
  Status status;
  {
    py::gil_scoped_release release;
    std::unique_lock<std::mutex> pool_lock;
    if (slot != nullptr) pool_lock = std::unique_lock<std::mutex>(slot->mu);
    Rng rng(seed, PeerId(0), RngPurpose::kProtocol);
    status = (*made)->Aggregate(AggregationInput{.vectors = views, .weights = weight_view,
                                                 .reference = reference_view, .rng = &rng},
                                out_view);
  }
  if (!status.ok()) ThrowStatus(status);
  return out;
}

}  // namespace

void BindAggregate(py::module_& m) {
  m.def("aggregate", &Aggregate, py::arg("rule"), py::arg("inputs"), py::arg("f"),
        py::arg("pre"), py::arg("options"), py::arg("weights"), py::arg("reference"),
        py::arg("threads"), py::arg("seed"),
        "The rule's aggregate of `inputs` as a new float32 array (see murmur.aggregate). "
        "threads = 0 picks the thread count from the input size.");
  m.def("rule_names", &AggregatorNames, "The rules aggregate accepts.");
  m.def("pre_aggregator_names", &PreAggregatorNames, "The pre-aggregators aggregate accepts.");
  m.def(
      "_last_input_addresses",
      [] {
        std::lock_guard<std::mutex> lock(last_mu);
        return last_addresses;
      },
      "Addresses of the input vectors the last aggregate call handed its rule (tests).");
}

}  // namespace murmur::python
