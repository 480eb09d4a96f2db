// The valid inputs a fuzz target starts from. Every tests/fuzz/*_fuzz.cc
// defines FuzzSeeds() next to LLVMFuzzerTestOneInput, building its seeds
// with the real encoders where there are some, so the seeds follow the wire
// formats as they change. Two drivers use them:
//  * replay_main.cc (the default g++ build): a seeded, bounded stream of
//    mutations of these seeds, run as a ctest;
//  * seeds_main.cc (-DMURMUR_FUZZ=ON): `<target>_seeds DIR` writes them as
//    files, the seed corpus the libFuzzer binary `<target>` starts from.
#pragma once

#include <cstdint>
#include <vector>

namespace murmur::fuzz {

using Seed = std::vector<uint8_t>;

// The target's seeds; deterministic (no clock, no global randomness).
std::vector<Seed> FuzzSeeds();

}  // namespace murmur::fuzz
