#include "murmur/collective/membership_view.h"

#include <algorithm>

namespace murmur::collective {

MembershipView::MembershipView(std::span<const PeerId> initial) {
  for (PeerId p : initial) entries_.push_back(ViewEntry{p, 0, false});
  std::sort(entries_.begin(), entries_.end());
  entries_.erase(std::unique(entries_.begin(), entries_.end(),
                             [](const ViewEntry& a, const ViewEntry& b) { return a.peer == b.peer; }),
                 entries_.end());
}

bool MembershipView::Merge(const ViewEntry& entry, size_t max_entries) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), entry.peer,
                             [](const ViewEntry& e, PeerId p) { return e.peer < p; });
  if (it == entries_.end() || it->peer != entry.peer) {
    if (entries_.size() >= max_entries) return false;
    entries_.insert(it, entry);
    return true;
  }
  if (entry.incarnation > it->incarnation ||
      (entry.incarnation == it->incarnation && entry.dead && !it->dead)) {
    *it = entry;
    return true;
  }
  return false;
}

bool MembershipView::Merge(std::span<const ViewEntry> entries, size_t max_entries) {
  bool changed = false;
  for (const ViewEntry& e : entries) changed |= Merge(e, max_entries);
  return changed;
}

bool MembershipView::MarkDead(PeerId peer) {
  for (ViewEntry& e : entries_) {
    if (e.peer == peer && !e.dead) {
      e.dead = true;
      return true;
    }
  }
  return false;
}

bool MembershipView::IsLive(PeerId peer) const {
  for (const ViewEntry& e : entries_) {
    if (e.peer == peer) return !e.dead;
  }
  return false;
}

std::vector<PeerId> MembershipView::Live() const {
  std::vector<PeerId> live;
  for (const ViewEntry& e : entries_) {
    if (!e.dead) live.push_back(e.peer);
  }
  return live;
}

uint64_t MembersDigest(std::span<const PeerId> members) {
  uint64_t h = 1469598103934665603ull;
  for (PeerId p : members) {
    for (int i = 0; i < 4; ++i) {
      h ^= (p.value >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  return h;
}

}  // namespace murmur::collective
