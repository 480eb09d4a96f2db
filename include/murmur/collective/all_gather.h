// All-gather over a CollectiveGroup: every member ends with every member's
// vector, in member order, bit for bit alike. Built from one Broadcast per
// member (the root's segment of a members x length buffer), started in
// waves of at most `kAllGatherWave` so the operations in flight stay inside
// the group's seq_window. A robust rule (median, trimmed mean, Krum...)
// needs every input, not their sum, so Byzantine-robust aggregation runs
// over a gather instead of a ring reduce (docs/collective.md).
//
// Faults are those of Broadcast: a member lost mid-operation fails every
// broadcast of the epoch with kPeerLost on every survivor; the attempt then
// reports kPeerLost once all its broadcasts reported, and
// AllGatherWithRetry agrees on the survivors and gathers again over them
// (the buffer is laid out anew for the new member list).
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "murmur/collective/collective_group.h"

namespace murmur::collective {

inline constexpr size_t kAllGatherWave = 8;

// One attempt: resizes `*gathered` to members().size() x mine.size(),
// copies `mine` into this peer's segment and broadcasts every segment from
// its member. `done` runs once every broadcast reported: OK when all
// succeeded, else the first failure. REQUIRES: every member calls it with
// the same length; `mine` and `gathered` outlive the operation.
void AllGather(CollectiveGroup& group, Host& host, std::span<const float> mine,
               std::vector<float>* gathered, OpCallback done);

// AllGather under RunWithRetry (retry.h). On success `*members` holds the
// members whose vectors `*gathered` holds, in order.
void AllGatherWithRetry(CollectiveGroup& group, Host& host, std::span<const float> mine,
                        std::vector<float>* gathered, std::vector<PeerId>* members,
                        int max_attempts, OpCallback done);

}  // namespace murmur::collective
