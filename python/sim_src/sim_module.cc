// The extension module murmur._sim: simulated runs (murmur.run) and rules
// defined in Python (murmur.register_rule). It links murmur_experiment and
// so LibTorch; python/murmur/__init__.py imports it lazily. docs/python.md.
//
// Threads and the GIL: RunExperiment runs with the GIL released. The run's
// callbacks -- each evaluation row, each finished round, and every call of a
// Python rule -- take the GIL for the moment they touch Python. Rows and
// rounds are reported on the thread that called run(), which (when it is the
// main thread) is where PyErr_CheckSignals runs Python's signal handlers, so
// Ctrl-C raises KeyboardInterrupt there; the run is then stopped through
// RunObserver::stop and the exception re-raised once RunExperiment returns.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/run_config.h"
#include "murmur/experiment/sim_run.h"
#include "murmur/robust/external_rules.h"

namespace py = pybind11;

namespace murmur::python {
namespace {

[[noreturn]] void ThrowStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kCorrupt:
      throw py::value_error(status.message());
    case StatusCode::kNotFound:
      PyErr_SetString(PyExc_FileNotFoundError, status.message().c_str());
      throw py::error_already_set();
    default:
      throw std::runtime_error(status.ToString());
  }
}

// What the callbacks of the run in progress share. One run at a time per
// process (the external rule registry is process-wide).
struct ActiveRun {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<py::error_already_set> error;  // the first Python error
};
std::atomic<ActiveRun*> active_run{nullptr};

// Keeps the first error and asks the run to stop. REQUIRES: the GIL, and a
// Python error set (it is fetched).
void StopWithPythonError(ActiveRun& run) {
  py::error_already_set error;
  std::lock_guard lock(run.mu);
  if (!run.error) run.error.emplace(std::move(error));
  run.stop.store(true);
}

// Runs Python's pending signal handlers (Ctrl-C). REQUIRES: the GIL.
void PollSignals(ActiveRun& run) {
  if (PyErr_CheckSignals() != 0) StopWithPythonError(run);
}

// One call of a Python rule: fn(inputs (n x d float32), weights or None, f)
// -> d floats. Any exception, or a result of the wrong type or shape, stops
// the run with that exception.
Status CallPythonRule(const std::string& name, const py::object& fn, const CheckedInput& in,
                      std::span<float> out) {
  py::gil_scoped_acquire gil;
  ActiveRun* run = active_run.load();
  if (run != nullptr && run->stop.load()) return Status::Aborted(name, ": the run is stopping");
  const size_t n = in.vectors.size();
  const size_t d = out.size();
  try {
    py::array_t<float> inputs({n, d});
    float* rows = inputs.mutable_data();
    for (size_t i = 0; i < n; ++i) std::memcpy(rows + i * d, in.vectors[i].data(), d * 4);
    py::object weights = py::none();
    if (!in.weights.empty()) {
      py::array_t<double> w(static_cast<py::ssize_t>(n));
      std::memcpy(w.mutable_data(), in.weights.data(), n * sizeof(double));
      weights = std::move(w);
    }
    py::object result = fn(inputs, weights, in.f);
    auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(result);
    std::string problem;
    if (!array) {
      PyErr_Clear();
      problem = "returned " + std::string(py::str(py::type::of(result).attr("__name__"))) +
                ", not an array of floats";
    } else if (array.ndim() != 1 || static_cast<size_t>(array.size()) != d) {
      problem = "returned an array of shape " + std::string(py::str(py::tuple(
                    py::cast(std::vector<py::ssize_t>(array.shape(),
                                                      array.shape() + array.ndim()))))) +
                ", expected (" + std::to_string(d) + ",)";
    }
    if (!problem.empty()) {
      const std::string message = name + ": " + problem;
      PyErr_SetString(PyExc_ValueError, message.c_str());
      if (run != nullptr) StopWithPythonError(*run);
      else PyErr_Clear();
      return Status::InvalidArgument(message);
    }
    std::memcpy(out.data(), array.data(), d * sizeof(float));
    return Status::Ok();
  } catch (py::error_already_set& e) {
    const std::string message = name + " raised " + e.what();
    if (run != nullptr) {
      e.restore();
      StopWithPythonError(*run);
    }
    return Status::Aborted(message);
  }
}

// Replaces every registered external rule by `rules`: (name, fn,
// accepts_weights) with name "py:...". REQUIRES: the GIL.
void SetRules(const std::vector<std::tuple<std::string, py::object, bool>>& rules) {
  for (const std::string& name : ExternalRuleNames()) UnregisterExternalRule(name);
  for (const auto& [name, fn, accepts_weights] : rules) {
    // The callable is released under the GIL, whichever thread drops the
    // last reference.
    std::shared_ptr<py::object> held(new py::object(fn), [](py::object* object) {
      py::gil_scoped_acquire gil;
      delete object;
    });
    ExternalRule rule{.aggregate = [name = name, held](const CheckedInput& in,
                                                       std::span<float> out) {
                        return CallPythonRule(name, *held, in, out);
                      },
                      .accepts_weights = accepts_weights};
    if (Status s = RegisterExternalRule(name, std::move(rule)); !s.ok()) ThrowStatus(s);
  }
}

Result<RunConfig> LoadConfig(const std::string& path, const std::string& text,
                             const std::vector<std::string>& sets) {
  Config config;
  if (!path.empty()) {
    MURMUR_ASSIGN_OR_RETURN(config, Config::FromFile(path));
  } else if (!text.empty()) {
    MURMUR_ASSIGN_OR_RETURN(config, Config::FromString(text, "<config>"));
  }
  for (const std::string& set : sets) MURMUR_RETURN_IF_ERROR(config.Set(set));
  return ReadRunConfig(config);
}

// peers.csv and summary.json, as `murmur run --out` writes them.
Status WriteFinalFiles(const std::string& dir, const RunConfig& config,
                       const RunSummary& summary) {
  MURMUR_RETURN_IF_ERROR(WritePeerTraffic(dir, summary.roles, summary.stats.peers));
  if (summary.rows.empty()) return Status::Ok();
  return WriteRunSummary(dir, summary.rows.back(), TotalsOf(config, summary));
}

// One simulated run, as `murmur run` does it: from `path` (a TOML file) or
// `text` (a TOML document) or neither (the quickstart), with `sets` applied
// in order. Writes `out_dir`'s files when it is non-empty. `progress`, when
// not None, is called with each row as its metrics.jsonl line.
py::dict Run(const std::string& path, const std::string& text,
             const std::vector<std::string>& sets, const std::string& out_dir,
             const py::object& progress) {
  ActiveRun state;
  ActiveRun* expected = nullptr;
  if (!active_run.compare_exchange_strong(expected, &state)) {
    throw std::runtime_error("murmur.run: another run is in progress in this process");
  }
  struct Deactivate {
    ~Deactivate() { active_run.store(nullptr); }
  } deactivate;
  Result<RunConfig> config = LoadConfig(path, text, sets);
  if (!config.ok()) ThrowStatus(config.status());
  std::optional<MetricsWriter> writer;
  if (!out_dir.empty()) {
    Result<MetricsWriter> opened = MetricsWriter::Open(out_dir, config->resolved_toml);
    if (!opened.ok()) ThrowStatus(opened.status());
    writer.emplace(std::move(opened).value());
  }
  std::vector<std::string> rows;
  Status write_status;
  RunObserver observer{
      .on_row =
          [&](const EvalRow& row) {
            if (writer && write_status.ok()) write_status = writer->Append(row);
            rows.push_back(MetricsWriter::ToJson(row));
            py::gil_scoped_acquire gil;
            if (state.stop.load()) return;
            if (!progress.is_none()) {
              try {
                progress(py::str(rows.back()));
              } catch (py::error_already_set& e) {
                e.restore();
                StopWithPythonError(state);
                return;
              }
            }
            PollSignals(state);
          },
      .on_round =
          [&](int64_t) {
            py::gil_scoped_acquire gil;
            PollSignals(state);
          },
      .stop = [&state] { return state.stop.load(std::memory_order_relaxed); }};
  Result<RunSummary> summary = Status::Internal("not run");
  {
    py::gil_scoped_release release;
    summary = RunExperiment(*config, observer);
  }
  const bool finished = summary.ok() && RunCompleted(*summary);
  // A stopped run keeps what it measured, as a cut-short `murmur run` does.
  if (summary.ok() && writer) {
    if (Status s = WriteFinalFiles(out_dir, *config, *summary); !s.ok()) {
      if (!state.error) ThrowStatus(s);
    }
  }
  if (state.error) throw py::error_already_set(std::move(*state.error));
  if (!summary.ok()) ThrowStatus(summary.status());
  if (!write_status.ok()) ThrowStatus(write_status);
  py::dict result;
  result["rows"] = rows;
  result["finished"] = finished;
  result["rounds"] = config->protocol.rounds;
  result["threads"] = summary->threads;
  result["num_params"] = summary->num_params;
  result["wall_s"] = summary->wall_s;
  result["setup_wall_s"] = summary->setup_wall_s;
  result["resolved_toml"] = config->resolved_toml;
  return result;
}

}  // namespace
}  // namespace murmur::python

PYBIND11_MODULE(_sim, m) {
  m.doc() = "murmur's simulator (links LibTorch): murmur.run and Python-defined rules";
  m.def("run", &murmur::python::Run, py::arg("path"), py::arg("text"), py::arg("sets"),
        py::arg("out_dir"), py::arg("progress"));
  m.def("set_rules", &murmur::python::SetRules, py::arg("rules"));
  m.def("rule_names", &murmur::AggregatorNames);
}
