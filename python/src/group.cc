// murmur._murmur._Group: the C++ ProcessGroup (murmur/group/process_group.h)
// for murmur.Group (python/murmur/group.py, docs/python.md). Every blocking
// call releases the GIL while it waits, so other Python threads (a data
// loader) run meanwhile. Buffers are float32, C-contiguous and writable, and
// are updated in place.
#include <pybind11/stl.h>

#include <memory>

#include "bindings.h"
#include "murmur/group/process_group.h"

namespace murmur::python {
namespace {

using group::ProcessGroup;

std::span<float> MutableFloatView(const py::buffer_info& info, const std::string& what) {
  if (info.readonly) throw py::value_error(what + " must be writable");
  std::span<const float> view = FloatView(info, what);
  return {const_cast<float*>(view.data()), view.size()};
}

py::dict MembershipDict(const group::Membership& m) {
  py::dict d;
  d["epoch"] = m.epoch;
  py::list members;
  for (PeerId p : m.members) members.append(p.value);
  d["members"] = members;
  return d;
}

template <typename T>
T OrThrow(Result<T> r) {
  if (!r.ok()) ThrowStatus(r.status());
  return std::move(r).value();
}

}  // namespace

void BindGroup(py::module_& m) {
  py::class_<ProcessGroup>(m, "_Group")
      .def(py::init([](uint32_t rank, uint32_t world_size, const std::string& listen,
                       std::vector<std::string> peers, const std::string& key_file,
                       const std::string& network_key_file, bool rejoin, double timeout,
                       double start_timeout, size_t chunk_floats, int max_attempts,
                       uint32_t min_members) {
             group::GroupOptions o;
             o.rank = rank;
             o.world_size = world_size;
             o.listen = listen;
             o.peers = std::move(peers);
             o.key_file = key_file;
             o.network_key_file = network_key_file;
             o.rejoin = rejoin;
             o.timeout_s = timeout;
             o.start_timeout_s = start_timeout;
             o.chunk_floats = chunk_floats;
             o.max_attempts = max_attempts;
             o.min_members = min_members;
             py::gil_scoped_release release;
             return OrThrow(ProcessGroup::Create(o));
           }),
           py::arg("rank"), py::arg("world_size"), py::arg("listen"), py::arg("peers"),
           py::arg("key_file"), py::arg("network_key_file"), py::arg("rejoin"),
           py::arg("timeout"), py::arg("start_timeout"), py::arg("chunk_floats"),
           py::arg("max_attempts"), py::arg("min_members"))
      .def_property_readonly("listen_address", &ProcessGroup::listen_address)
      .def_property_readonly("rank", &ProcessGroup::rank)
      .def("all_reduce",
           [](ProcessGroup& g, py::buffer buf, const std::string& op) {
             if (op != "sum" && op != "mean") throw py::value_error("op must be 'sum' or 'mean'");
             py::buffer_info info = buf.request(true);
             std::span<float> data = MutableFloatView(info, "tensor");
             const auto reduce = op == "sum" ? collective::ReduceOp::kSum
                                             : collective::ReduceOp::kAverage;
             Result<group::Membership> r = [&] {
               py::gil_scoped_release release;
               return g.AllReduce(data, reduce);
             }();
             return MembershipDict(OrThrow(std::move(r)));
           })
      .def("broadcast_state",
           [](ProcessGroup& g, py::buffer buf, std::optional<uint32_t> root) {
             py::buffer_info info = buf.request(true);
             std::span<float> data = MutableFloatView(info, "state");
             std::optional<PeerId> r;
             if (root) r = PeerId(*root);
             Result<group::Membership> res = [&] {
               py::gil_scoped_release release;
               return g.BroadcastState(data, r);
             }();
             return MembershipDict(OrThrow(std::move(res)));
           })
      .def("diloco_init",
           [](ProcessGroup& g, py::buffer buf) {
             py::buffer_info info = buf.request();
             std::span<const float> data = FloatView(info, "params");
             Status s = [&] {
               py::gil_scoped_release release;
               return g.DilocoInit(data);
             }();
             if (!s.ok()) ThrowStatus(s);
           })
      .def("diloco_outer_step",
           [](ProcessGroup& g, py::buffer buf, double lr, double momentum, bool nesterov) {
             py::buffer_info info = buf.request(true);
             std::span<float> data = MutableFloatView(info, "params");
             group::OuterOptions o{.lr = lr, .momentum = momentum, .nesterov = nesterov};
             Result<group::OuterStepReport> r = [&] {
               py::gil_scoped_release release;
               return g.DilocoOuterStep(data, o);
             }();
             group::OuterStepReport rep = OrThrow(std::move(r));
             py::dict d = MembershipDict(rep.membership);
             d["weight"] = rep.weight;
             d["contributed"] = rep.contributed;
             d["resynced"] = rep.resynced;
             d["hashes_agree"] = rep.hashes_agree;
             d["digest"] = rep.digest_hex;
             d["step"] = rep.step;
             return d;
           })
      .def("members", [](ProcessGroup& g) { return MembershipDict(g.members()); })
      .def("poll_events", [](ProcessGroup& g) {
        py::list out;
        for (const group::MembershipEvent& e : g.PollEvents()) {
          py::dict d;
          d["kind"] = e.kind == group::MembershipEvent::Kind::kJoined ? "joined" : "left";
          d["peer"] = e.peer.value;
          d["epoch"] = e.epoch;
          out.append(d);
        }
        return out;
      });
}

}  // namespace murmur::python
