// Helpers the protocol specs (*_spec.cc) share: reading the option groups
// several protocols use (topology, server optimizer, staleness, codecs) and
// building the run-wide pieces (a connected topology, the client list).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/protocol/registry.h"
#include "murmur/protocol/server_optimizer.h"
#include "murmur/protocol/staleness.h"
#include "murmur/protocol/topology.h"

namespace murmur {

std::vector<PeerId> ToPeerIds(const std::vector<uint32_t>& ids);

inline bool Contains(const std::vector<PeerId>& sorted, PeerId peer) {
  return std::binary_search(sorted.begin(), sorted.end(), peer);
}

// The server of a protocol with one: the peer after the learners.
inline PeerId ServerOf(const ProtocolRun& run) {
  return PeerOf(run.num_peers);
}
// PeerId(0..num_peers-1).
std::vector<PeerId> ClientsOf(const ProtocolRun& run);

// ProtocolSpec::persistable of a protocol whose every option its peers can
// persist (each node still says how, or that it cannot: Node::persist_mode).
inline Status AlwaysPersistable(const ProtocolConfig& /*config*/) { return Status::Ok(); }
// A by-round node's start (PersistMode::kByRound): `peer`'s start round and
// whether it persists, into its options (any with `rounds`, `start_round`
// and `resumable`); kInvalidArgument for a round after the run's last.
template <typename Options>
Status ResumeByRound(const PeerContext& peer, Options& options) {
  if (peer.start_round.value > static_cast<uint64_t>(options.rounds)) {
    return Status::InvalidArgument("peer ", peer.id.value, " resumes at round ",
                                   peer.start_round.value, ", after the run's last (",
                                   options.rounds, ")");
  }
  options.start_round = peer.start_round.value;
  options.resumable = peer.persists;
  return Status::Ok();
}

// ProtocolSpec::persistable of a round-synchronous protocol without a
// catch-up jump (Epidemic Learning, DFedSAM): peers killed together may
// save states some rounds apart, and a peer resumed behind waits for models
// of rounds the others never send again, so only a round timeout lets it
// go on. Refuses protocol.round_timeout_s = 0.
inline Status PersistableWithRoundTimeout(const ProtocolConfig& config) {
  if (config.round_timeout_s > 0) return Status::Ok();
  return Status::InvalidArgument(
      "protocol.kind = \"", config.kind, "\" with protocol.round_timeout_s = 0: peers resumed "
      "from states of different rounds would wait forever for models nobody sends again; set "
      "protocol.round_timeout_s > 0 or drop the flag");
}

// protocol.topology, degree, edge_prob, edge_list.
Result<TopologyConfig> ReadTopologyConfig(ConfigReader& r);
// protocol.server_optimizer, server_lr, server_momentum, server_beta1/2, server_tau.
Result<ServerOptimizerConfig> ReadServerOptimizerConfig(ConfigReader& r);
// protocol.staleness, staleness_a, staleness_b.
Result<StalenessConfig> ReadStalenessConfig(ConfigReader& r);
// A codec chain (MakeCodec spec) under `key`; kInvalidArgument names the key.
Result<std::string> ReadCodecKey(ConfigReader& r, std::string_view key);

// The honest peer of `run` with the fewest neighbours in `graph` (built
// from `topology`): it aggregates min(degree, cap) neighbours' models and
// its own. `cap_key` names the key that sets `cap` (e.g.
// "robust.gossip_window"); empty when there is no cap.
AggregationSize SmallestNeighbourhood(const ProtocolRun& run, const Graph& graph,
                                      const TopologyConfig& topology, int64_t cap,
                                      std::string_view cap_key);

// The topology over run.num_peers peers; kInvalidArgument when it is
// disconnected or a peer has no neighbours.
Result<Graph> MakeConnectedTopology(const TopologyConfig& topology, int64_t n, uint64_t seed);

}  // namespace murmur
