#include "protocol/spec_util.h"

#include "murmur/compress/codec.h"

namespace murmur {

std::vector<PeerId> ToPeerIds(const std::vector<uint32_t>& ids) {
  std::vector<PeerId> out;
  out.reserve(ids.size());
  for (uint32_t id : ids) out.push_back(PeerId(id));
  return out;
}

std::vector<PeerId> ClientsOf(const ProtocolRun& run) {
  std::vector<PeerId> clients;
  clients.reserve(static_cast<size_t>(run.num_peers));
  for (int64_t i = 0; i < run.num_peers; ++i) clients.push_back(PeerOf(i));
  return clients;
}

Result<TopologyConfig> ReadTopologyConfig(ConfigReader& r) {
  TopologyConfig t;
  MURMUR_ASSIGN_OR_RETURN(std::string topology,
                          r.String("protocol.topology", "ring",
                                   {"ring", "torus", "full", "regular", "erdos-renyi",
                                    "exponential", "edge-list"}));
  MURMUR_ASSIGN_OR_RETURN(t.kind, ParseTopologyKind(topology));
  MURMUR_ASSIGN_OR_RETURN(t.degree, r.Int("protocol.degree", t.degree, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(t.edge_prob, r.Double("protocol.edge_prob", t.edge_prob, 1e-9, 1.0));
  MURMUR_ASSIGN_OR_RETURN(t.edge_list_path, r.String("protocol.edge_list", t.edge_list_path));
  if (t.kind == TopologyKind::kEdgeList && t.edge_list_path.empty()) {
    return Status::InvalidArgument(
        "config key 'protocol.topology' = \"edge-list\" needs 'protocol.edge_list' "
        "set to a file of \"u v\" lines");
  }
  return t;
}

Result<ServerOptimizerConfig> ReadServerOptimizerConfig(ConfigReader& r) {
  ServerOptimizerConfig c;
  MURMUR_ASSIGN_OR_RETURN(std::string name,
                          r.String("protocol.server_optimizer", "fedavg",
                                   {"fedavg", "sgd", "adagrad", "adam", "yogi"}));
  MURMUR_ASSIGN_OR_RETURN(c.kind, ParseServerOptimizerKind(name));
  MURMUR_ASSIGN_OR_RETURN(c.lr, r.Double("protocol.server_lr", c.lr, 1e-9, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.momentum,
                          r.Double("protocol.server_momentum", c.momentum, 0, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(c.beta1, r.Double("protocol.server_beta1", c.beta1, 0, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(c.beta2, r.Double("protocol.server_beta2", c.beta2, 0, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(c.tau, r.Double("protocol.server_tau", c.tau, 1e-12, 1e3));
  return c;
}

Result<StalenessConfig> ReadStalenessConfig(ConfigReader& r) {
  StalenessConfig c;
  MURMUR_ASSIGN_OR_RETURN(std::string kind,
                          r.String("protocol.staleness", "polynomial",
                                   {"constant", "polynomial", "hinge"}));
  MURMUR_ASSIGN_OR_RETURN(c.kind, ParseStalenessKind(kind));
  MURMUR_ASSIGN_OR_RETURN(c.a, r.Double("protocol.staleness_a", c.a, 0, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.b, r.Int("protocol.staleness_b", c.b, 0, 1'000'000'000));
  return c;
}

Result<std::string> ReadCodecKey(ConfigReader& r, std::string_view key) {
  MURMUR_ASSIGN_OR_RETURN(std::string spec, r.String(key, "fp32"));
  if (Status s = MakeCodec(spec).status(); !s.ok()) {
    return Status::InvalidArgument("config key '", key, "' = \"", spec, "\": ", s.message());
  }
  return spec;
}

AggregationSize SmallestNeighbourhood(const ProtocolRun& run, const Graph& graph,
                                      const TopologyConfig& topology, int64_t cap,
                                      std::string_view cap_key) {
  int64_t peer = -1;
  int64_t degree = 0;
  for (int64_t i = 0; i < graph.size(); ++i) {
    if (Contains(run.byzantine, PeerOf(i))) continue;
    const auto d = static_cast<int64_t>(graph.neighbours[i].size());
    if (peer < 0 || d < degree) {
      peer = i;
      degree = d;
    }
  }
  if (peer < 0) return AggregationSize{.inputs = graph.size() + 1};  // no honest peer
  const int64_t used = std::min(degree, cap);
  std::string where = Status::Concat(
      "on protocol.topology = \"", TopologyKindName(topology.kind), "\" over ", run.num_peers,
      " peers, peer ", peer, " aggregates ", used + 1, " models, its own and ", used,
      " from neighbours");
  if (used < degree) where += Status::Concat(" (", cap_key, " = ", cap, "; it has ", degree, ")");
  return AggregationSize{.inputs = used + 1,
                         .where = std::move(where),
                         .remedy = used < degree ? "a larger " + std::string(cap_key)
                                                 : "a denser protocol.topology"};
}

Result<Graph> MakeConnectedTopology(const TopologyConfig& topology, int64_t n, uint64_t seed) {
  MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeTopology(topology, n, seed));
  if (n > 1 && !IsConnected(graph)) {
    return Status::InvalidArgument(
        "the topology over ", n,
        " peers is disconnected, so peers could never agree on a model");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (n > 1 && graph.neighbours[i].empty()) {
      return Status::InvalidArgument("peer ", i, " has no neighbours");
    }
  }
  return graph;
}

}  // namespace murmur
