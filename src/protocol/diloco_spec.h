// What the DiLoCo-family specs share (diloco_spec.cc, co2_spec.cc, and
// streaming_diloco_spec.cc for the keys and the collective options): the
// [diloco] keys, the run-wide preparation and the node factory.
#pragma once

#include "murmur/protocol/diloco.h"
#include "murmur/protocol/registry.h"

namespace murmur {

// diloco.outer_lr, outer_momentum, nesterov, check_state, delayed,
// evicted_notices into `c`.
Status ReadDilocoKeys(ConfigReader& r, DilocoConfig& c);

// The collective options of a DiLoCo-family run of `num_peers` peers:
// collectives time out after protocol.round_timeout_s, and a member needs
// `outer.evicted_notices` distinct members' Evicted notices. kInvalidArgument
// naming the key when round_timeout_s is not positive or evicted_notices
// exceeds peers - 1 (1 is always accepted).
Result<collective::CollectiveOptions> DilocoCollectiveOptions(const ProtocolConfig& config,
                                                              const DilocoConfig& outer,
                                                              int64_t num_peers);

// Collective timeouts and the node options from the run's config, whose
// protocol options are a DilocoConfig.
Status PrepareDiloco(ProtocolRun& run);
Result<std::unique_ptr<Node>> MakeDilocoNode(const ProtocolRun& run, const PeerContext& peer);
// The rule aggregates every peer's pseudo-gradient.
Result<AggregationSize> DilocoAggregationSize(const ProtocolRun& run);

}  // namespace murmur
