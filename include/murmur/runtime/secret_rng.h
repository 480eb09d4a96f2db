// A random stream nobody else can regenerate: keyed by 128 bits from the
// operating system (libsodium's randombytes_buf), held only in this
// process's memory and never written to a file, a log or the wire.
//
// Why: a run's seeded streams (core/rng.h) are a function of the run seed,
// which every peer of a `murmur launch` run holds in its config.toml. DP
// noise drawn from them could be regenerated and subtracted by any peer
// (docs/privacy.md, threat model). A real peer therefore draws the
// randomness a DP guarantee rests on (Gaussian noise, DP-SGD's Poisson
// sampling, the adaptive clip bit's noise, RQM's subsets and rounding, the
// server's client sampling under DP) from a SecretRng: NetHost::privacy_rng
// and the runtime learner's DP-SGD streams. The simulator keeps them seeded
// (replayable, for experiments only).
#pragma once

#include <array>
#include <cstdint>

#include "murmur/core/rng.h"

namespace murmur::net {

// 128 bits from randombytes_buf. Thread-safe.
std::array<uint32_t, 4> DrawSecretRngKey();

// Rng::FromSecretKey(DrawSecretRngKey()): a fresh key on every call.
Rng SecretRng();

}  // namespace murmur::net
