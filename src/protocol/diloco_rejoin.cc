#include "murmur/protocol/diloco_rejoin.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace murmur {

std::unique_ptr<collective::CollectiveGroup> DilocoRejoin::MakeGroup(
    const collective::CollectiveOptions& options, Host& host, std::vector<PeerId> members,
    bool rejoin) {
  if (rejoin) {
    // An incarnation above the crashed run's (which the members may not
    // have seen die yet): the host's clock, monotonic across the restart
    // on one machine; a member that holds the old one dead admits it one
    // above that in any case.
    return collective::CollectiveGroup::Joining(options, host.self(), std::move(members),
                                                static_cast<uint64_t>(host.now().ns) + 1);
  }
  auto group = std::make_unique<collective::CollectiveGroup>(options, host.self(),
                                                             std::move(members));
  known_members_ = group->members();
  return group;
}

DilocoRejoin::Action DilocoRejoin::AfterEvent(Host& host, const collective::CollectiveGroup& group,
                                              collective::StateSync& sync, bool done,
                                              bool can_resync, bool computing) {
  const std::vector<PeerId>& now = group.members();
  if (now != known_members_) {
    std::vector<PeerId> added;
    std::set_difference(now.begin(), now.end(), known_members_.begin(), known_members_.end(),
                        std::back_inserter(added));
    known_members_ = now;
    // (The joiner's pull fails its hash check if theta moved on meanwhile;
    // it then waits for the next step's digests.)
    if (!added.empty()) sync.Republish(host, added);
  }
  if (group.evictions() == seen_evictions_) return Action::kNone;
  seen_evictions_ = group.evictions();
  if (done) return Action::kNone;  // this peer's run has ended: nothing left to contribute
  ++generation_;
  host.metrics().Count(prefix_ + ".evictions", 1);
  // The members went on without this peer: its theta, m and step are not
  // the group's. Learn them from the members' hashes, as a restarted peer
  // does, instead of mixing a stale pseudo-gradient in.
  sync.ForgetSteps();
  if (!can_resync) {
    // Without hashes (or with a pending delayed aggregate) there is no
    // step to learn: stop rather than fork or mix, and say so.
    host.metrics().Count(prefix_ + ".evicted_stopped", 1);
    halted_ = Status::Aborted(
        "peer ", host.self().value, " was evicted by the other members and cannot resync: "
        "set ", keys_, " to let an evicted peer rejoin");
    rejoin_after_compute_ = computing;
    return Action::kStop;
  }
  if (computing) {
    rejoin_after_compute_ = true;
    return Action::kRejoinAfterCompute;
  }
  return Action::kRejoin;
}

}  // namespace murmur
