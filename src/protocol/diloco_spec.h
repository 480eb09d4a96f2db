// What the DiLoCo-family specs share (diloco_spec.cc, co2_spec.cc): the
// [diloco] keys, the run-wide preparation and the node factory.
#pragma once

#include "murmur/protocol/diloco.h"
#include "murmur/protocol/registry.h"

namespace murmur {

// diloco.outer_lr, outer_momentum, nesterov, check_state, delayed into `c`.
Status ReadDilocoKeys(ConfigReader& r, DilocoConfig& c);

// Collective timeouts and the node options from the run's config, whose
// protocol options are a DilocoConfig.
Status PrepareDiloco(ProtocolRun& run);
Result<std::unique_ptr<Node>> MakeDilocoNode(const ProtocolRun& run, const PeerContext& peer);
// The rule aggregates every peer's pseudo-gradient.
Result<AggregationSize> DilocoAggregationSize(const ProtocolRun& run);

}  // namespace murmur
