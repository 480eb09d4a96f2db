// The randomized quantization mechanism (Youn, Hu, Ziani, Abernethy, 2023)
// under its privacy/ names. The one implementation lives in compress/rqm.h:
// RQM is a quantizer (the "rqm" codec frames its wire form) that is also a
// DP mechanism; secure aggregation (secure_aggregation.h) masks its level
// indices. Whoever encodes must draw its randomness from a stream nobody
// else can replay (Host::privacy_rng) for the DP guarantee to hold.
#pragma once

#include "murmur/compress/rqm.h"

namespace murmur::privacy {

using ::murmur::RqmConfig;
using ::murmur::RqmDecode;
using ::murmur::RqmEncode;
using ::murmur::RqmEncodeIndices;
using ::murmur::RqmLevel;
using ::murmur::RqmLevelSum;
using ::murmur::Validate;

}  // namespace murmur::privacy
