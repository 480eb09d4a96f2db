// A peer's view of the group: for every peer ever heard of, its
// incarnation and whether it is dead, as a state-based CRDT (a join
// semilattice): merging takes, per peer, the higher incarnation and, at
// equal incarnations, dead over alive (Shapiro, Preguica, Baquero, Zawirski
// 2011, "Conflict-free replicated data types"; incarnations as in SWIM, Das,
// Gupta, Motivala 2002). Merges commute, so peers that
// exchange views until nothing changes hold the same view; the agreement
// in collective_group.h builds on that (docs/collective.md).
//
// A restarted peer comes back under a higher incarnation (its joining
// instant), so its old incarnation's death does not shadow it.
// Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/collective/collective_message.h"
#include "murmur/core/ids.h"

namespace murmur::collective {

class MembershipView {
 public:
  MembershipView() = default;
  // Every peer of `initial` alive at incarnation 0.
  explicit MembershipView(std::span<const PeerId> initial);

  // Merges one entry. Returns true when the view changed. An entry for a
  // new peer is refused (false) when the view already holds `max_entries`.
  bool Merge(const ViewEntry& entry, size_t max_entries);
  bool Merge(std::span<const ViewEntry> entries, size_t max_entries);
  // Marks `peer`'s current incarnation dead; false when unknown or dead.
  bool MarkDead(PeerId peer);

  bool IsLive(PeerId peer) const;
  // The live peers, ascending: the members of the next epoch.
  std::vector<PeerId> Live() const;
  // Sorted by peer.
  std::span<const ViewEntry> entries() const { return entries_; }
  bool operator==(const MembershipView&) const = default;

 private:
  std::vector<ViewEntry> entries_;
};

// FNV-1a over the ids: equal member lists give equal digests; carried by
// Ready messages so that peers with split views never exchange data.
uint64_t MembersDigest(std::span<const PeerId> members);

}  // namespace murmur::collective
