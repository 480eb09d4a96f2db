// What DiLoCo (diloco.h: Douillard et al., 2023, "DiLoCo: Distributed
// Low-Communication Training of Language Models") and Streaming DiLoCo
// (streaming_diloco.h: Douillard et al., 2025, arXiv:2501.18512) share
// when the members evict a peer (docs/protocols/diloco.md, "Faults and
// Byzantine peers"; the collective side is docs/collective.md, "Evicted"): the
// members it has greeted, the evictions it has handled, the generation that
// ends stale continuations, and whether it rejoins after the inner phase in
// flight. The protocol-specific part (what state to drop, how to resync)
// stays in each node.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "murmur/collective/collective_group.h"
#include "murmur/collective/state_sync.h"
#include "murmur/core/host.h"

namespace murmur {

class DilocoRejoin {
 public:
  // What the node does about the events it just handled.
  enum class Action {
    kNone,                // no new eviction (or the run had ended)
    kStop,                // evicted and cannot resync: halt (halted() says why)
    kRejoinAfterCompute,  // evicted mid inner phase: rejoin when it ends
    kRejoin,              // evicted: rejoin now
  };

  // `prefix`: the counters' ("diloco", "streaming"); `keys`: the
  // settings that let an evicted peer resync, for the halting message.
  DilocoRejoin(std::string prefix, std::string keys)
      : prefix_(std::move(prefix)), keys_(std::move(keys)) {}

  // The node's collective group over `members`. With `rejoin` (a peer
  // restarted with --rejoin) a joining group, under an incarnation above
  // the crashed run's, which the caller then resyncs; else a founding
  // group, whose members are the first this peer greets (a joiner greets
  // from its first view on).
  std::unique_ptr<collective::CollectiveGroup> MakeGroup(
      const collective::CollectiveOptions& options, Host& host, std::vector<PeerId> members,
      bool rejoin);

  // After every event: members new in the group's epoch get this peer's
  // newest digest (a restarted peer admitted after this peer compared its
  // last step would otherwise hear of no state until the next step, which
  // cannot complete without it); then, when the group learned that the
  // members left this peer out (a plain restart, or decided out while
  // silent) and its run had not ended, starts a new generation, forgets
  // the compared steps and counts `<prefix>.evictions`. `can_resync`
  // false (no hashes, or a delayed aggregate pending): counts
  // `<prefix>.evicted_stopped` and halts. The caller drops its round in
  // flight for every action but kNone.
  Action AfterEvent(Host& host, const collective::CollectiveGroup& group,
                    collective::StateSync& sync, bool done, bool can_resync, bool computing);

  // An inner phase ended: true when it ran across an eviction (its result
  // is not the group's); the flag is cleared.
  bool TakeRejoinAfterCompute() {
    const bool was = rejoin_after_compute_;
    rejoin_after_compute_ = false;
    return was;
  }

  uint64_t generation() const { return generation_; }
  // A continuation of generation `gen` still applies (no eviction since).
  bool Current(uint64_t gen, const collective::CollectiveGroup& group) const {
    return gen == generation_ && group.evictions() == seen_evictions_;
  }
  // The group saw an eviction AfterEvent has not handled yet (an
  // operation ending with it is dropped, not failed).
  bool Unhandled(const collective::CollectiveGroup& group) const {
    return group.evictions() != seen_evictions_;
  }
  // OK, or why the node halted (kAborted; Node::Halted).
  const Status& halted() const { return halted_; }

 private:
  const std::string prefix_;
  const std::string keys_;
  std::vector<PeerId> known_members_;  // the members last greeted
  uint64_t generation_ = 0;            // rises with every eviction
  uint64_t seen_evictions_ = 0;        // group.evictions() already handled
  bool rejoin_after_compute_ = false;
  Status halted_;
};

}  // namespace murmur
