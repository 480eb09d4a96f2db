// When a round-based decentralized protocol communicates. Following Zhu,
// He, Chen, Shen, Tao, et al., 2025, "A Single Merging Suffices: Recovering
// Server-based Learning Performance in Decentralized Learning": with a
// fixed budget of communication rounds, spending it late in training and
// ending with one global merge (every peer averages every peer's model)
// recovers most of server-based accuracy, while early rounds train locally.
#pragma once

#include <cstdint>

namespace murmur {

enum class CommSchedule {
  kEveryRound,  // communicate in every round (the default)
  kLate,        // communicate only in the last `budget` rounds
};

// Whether round `round` (1-based) of `rounds` exchanges models.
inline bool CommunicatesInRound(CommSchedule schedule, int64_t budget, int64_t round,
                                int64_t rounds) {
  return schedule == CommSchedule::kEveryRound || round > rounds - budget;
}

}  // namespace murmur
