// Reads a run's [robust] and [byzantine] tables (docs/config.md and
// docs/robustness.md list the keys) into its ProtocolConfig.
#pragma once

#include "murmur/core/config.h"
#include "murmur/protocol/protocol.h"

namespace murmur {

// kInvalidArgument naming the key and the bad value: unknown rule,
// pre-aggregator or attack, an option out of range, both byzantine.count and
// byzantine.fraction, or no honest peer left among `peers`.
Status ReadRobustConfig(ConfigReader& r, int64_t peers, ProtocolConfig& protocol);

}  // namespace murmur
