// Membership agreement without a master (collective_group.h,
// docs/collective.md): peers exchange MembershipViews, a grow-only CRDT,
// resending on every change, and decide when every live peer's latest view
// equals their own. Ideas from PCCL (2025; it uses a master to arbitrate,
// we replace it by the view exchange), torchft's quorum, hivemind's
// averager (groups formed among the peers that answer), and SWIM's
// refutation by incarnation (Das, Gupta, Motivala 2002).
#include <algorithm>

#include "murmur/collective/collective_group.h"
#include "ring_op.h"

namespace murmur::collective {

void CollectiveGroup::AgreeMembership(Host& host, OpCallback done) {
  agree_callbacks_.push_back(std::move(done));
  if (joining_) {
    // Also when a view already pulled this joiner into an agreement: its
    // own first messages may have been lost (over NetHost, a restarted
    // peer's first connection can be the one dropped as a duplicate), and
    // only Joins, resent every timeout until admitted, recover from that.
    const bool resending = std::any_of(timers_.begin(), timers_.end(), [](const auto& t) {
      return t.second.first == TimerPurpose::kJoin;
    });
    if (!resending) SendJoins(host);
    if (!agreeing_) return;
  }
  if (agreeing_) return;
  StartAgreement(host, epoch_ + 1);
}

void CollectiveGroup::SendJoins(Host& host) {
  if (!joining_) return;
  for (PeerId c : contacts_) host.Send(c, EncodeJoin(incarnation_));
  // Resent until admitted: a Join may be lost, or reach members between
  // agreements (then it waits for their next one).
  timers_[host.StartTimer(options_.timeout)] = {TimerPurpose::kJoin, OpTag{}};
}

bool CollectiveGroup::BeginAgreement(Host& host, uint32_t target) {
  bool resend = !agreeing_;
  if (!agreeing_) Count(host, "agreements");
  agreeing_ = true;
  if (target > target_epoch_) {
    target_epoch_ = target;
    last_views_.clear();
    resend = true;
  }
  for (const ViewEntry& join : pending_joins_) resend |= view_.Merge(join, options_.max_members);
  pending_joins_.clear();
  RefuteIfDead();
  last_agreement_progress_ = host.now();
  const bool armed = std::any_of(timers_.begin(), timers_.end(), [](const auto& t) {
    return t.second.first == TimerPurpose::kAgreement;
  });
  if (!armed) timers_[host.StartTimer(options_.timeout)] = {TimerPurpose::kAgreement, OpTag{}};
  return resend;
}

void CollectiveGroup::StartAgreement(Host& host, uint32_t target) {
  BeginAgreement(host, target);
  SendView(host);
  MaybeDecide(host);
}

void CollectiveGroup::SendView(Host& host) {
  // The live peers, and the current members even when marked dead: a
  // falsely suspected member learns it and refutes (RefuteIfDead) instead
  // of going on alone.
  std::vector<PeerId> to = view_.Live();
  to.insert(to.end(), members_.begin(), members_.end());
  std::sort(to.begin(), to.end());
  to.erase(std::unique(to.begin(), to.end()), to.end());
  for (PeerId p : to) {
    if (p != self_) host.Send(p, EncodeView(target_epoch_, view_.entries()));
  }
}

void CollectiveGroup::RefuteIfDead() {
  for (const ViewEntry& e : view_.entries()) {
    if (e.peer == self_ && e.dead) {
      incarnation_ = std::max(incarnation_, e.incarnation + 1);
    }
  }
  (void)view_.Merge(ViewEntry{self_, incarnation_, false}, options_.max_members);
}

void CollectiveGroup::HandleView(Host& host, PeerId from, uint32_t epoch,
                                 std::span<const ViewEntry> entries) {
  // Also a refutation (the sender under a higher incarnation): once we
  // decided an epoch without it, our operations in it may have run without
  // it (a restarted peer refutes the views queued for its crashed run).
  if (TellEvicted(host, from, epoch)) return;
  bool resend = false;
  if (joining_ && !agreeing_) {
    // A joiner learns the epoch being agreed from the first view it gets.
    resend = BeginAgreement(host, epoch);
  } else if (agreeing_) {
    if (epoch < target_epoch_) return Count(host, "dropped_stale");
    resend = BeginAgreement(host, epoch);
  } else if (epoch <= epoch_) {
    MembershipView merged = view_;
    if (epoch < epoch_ || !merged.Merge(entries, options_.max_members)) {
      return Count(host, "dropped_stale");
    }
    // A peer still agreeing on our epoch knows something we decided
    // without (a join, a death): our epoch is wrong; agree on the next.
    broken_ = true;
    resend = BeginAgreement(host, epoch_ + 1);
  } else {
    resend = BeginAgreement(host, epoch);
  }
  resend |= view_.Merge(entries, options_.max_members);
  const uint64_t before = incarnation_;
  RefuteIfDead();
  resend |= incarnation_ != before;
  if (epoch == target_epoch_) {
    MembershipView theirs;
    (void)theirs.Merge(entries, options_.max_members);
    last_views_[from] = std::move(theirs);
  }
  last_agreement_progress_ = host.now();
  if (resend) SendView(host);
  MaybeDecide(host);
}

void CollectiveGroup::HandleJoin(Host& host, PeerId from, uint64_t incarnation) {
  if (joining_) return Count(host, "dropped_unexpected");
  for (const ViewEntry& e : view_.entries()) {
    if (e.peer != from) continue;
    if (!e.dead && e.incarnation >= incarnation) {
      // Already live here: a resent Join. If we are agreeing it gets our
      // views anyway.
      return Count(host, "duplicate_joins");
    }
    // A restart whose incarnation does not order after its death: admit
    // it one past the dead one (every member computes the same).
    if (e.dead) incarnation = std::max(incarnation, e.incarnation + 1);
  }
  const ViewEntry entry{from, incarnation, false};
  Count(host, "joins");
  if (agreeing_) {
    if (view_.Merge(entry, options_.max_members)) {
      SendView(host);
      MaybeDecide(host);
    }
    return;
  }
  for (ViewEntry& pending : pending_joins_) {
    if (pending.peer == from) {
      pending.incarnation = std::max(pending.incarnation, incarnation);
      return;
    }
  }
  if (pending_joins_.size() >= options_.max_members) return Count(host, "dropped_beyond_window");
  pending_joins_.push_back(entry);
}

void CollectiveGroup::MaybeDecide(Host& host) {
  if (!agreeing_) return;
  // Operations of the current epoch still in flight end first (commit,
  // abort, or the watchdog): deciding under one would let it commit after
  // the new epoch began, one step behind a joiner that the new epoch
  // admitted and that counts that step as not done (it would pair its
  // first operation with the members' next one). MaybeCommit and AbortOps
  // call back here once the last one ended.
  if (!ops_.empty()) return;
  const std::vector<PeerId> live = view_.Live();
  if (live.size() < options_.min_members) return;  // no quorum: keep waiting
  for (PeerId q : live) {
    if (q == self_) continue;
    auto it = last_views_.find(q);
    if (it == last_views_.end() || !(it->second == view_)) return;
  }
  epoch_ = target_epoch_;
  members_ = live;
  next_seq_ = 0;
  broken_ = false;
  agreeing_ = false;
  joining_ = false;
  last_views_.clear();
  Count(host, "epochs");
  ApplyEarlyAborts(host);
  std::vector<OpCallback> callbacks = std::move(agree_callbacks_);
  agree_callbacks_.clear();
  for (OpCallback& done : callbacks) done(host, Status::Ok());
}

void CollectiveGroup::OnAgreementTimer(Host& host) {
  if (!agreeing_) return;
  const Duration idle = host.now() - last_agreement_progress_;
  if (idle < options_.timeout) {
    timers_[host.StartTimer(options_.timeout - idle)] = {TimerPurpose::kAgreement, OpTag{}};
    return;
  }
  // Silent peers (no view equal to ours for a whole timeout) are dead.
  std::vector<PeerId> silent;
  for (PeerId q : view_.Live()) {
    if (q == self_) continue;
    auto it = last_views_.find(q);
    if (it == last_views_.end() || !(it->second == view_)) silent.push_back(q);
  }
  bool changed = false;
  for (PeerId q : silent) changed |= view_.MarkDead(q);
  Count(host, "suspected", static_cast<int64_t>(silent.size()));
  last_agreement_progress_ = host.now();
  timers_[host.StartTimer(options_.timeout)] = {TimerPurpose::kAgreement, OpTag{}};
  if (changed) SendView(host);
  MaybeDecide(host);
}

bool CollectiveGroup::TellEvicted(Host& host, PeerId from, uint32_t epoch) {
  // A peer this one holds dead that still speaks for an epoch up to ours
  // was left out of our epoch (it crashed and restarted as a founder, or
  // was decided out while it was silent). Merging its view would readmit
  // it as it is, a member with a state the others left behind; tell it
  // instead, so that it rejoins (HandleEvicted) and resyncs.
  if (joining_ || epoch > epoch_ || std::binary_search(members_.begin(), members_.end(), from)) {
    return false;
  }
  for (const ViewEntry& e : view_.entries()) {
    if (e.peer != from || !e.dead) continue;
    Count(host, "evicted_notices");
    host.Send(from, EncodeEvicted(epoch_, e.incarnation));
    return true;
  }
  return false;
}

void CollectiveGroup::HandleEvicted(Host& host, PeerId from, uint32_t epoch,
                                    uint64_t incarnation) {
  // An old notice (this peer has been in that epoch or a later one since),
  // or one while joining: nothing to do. (Not compared with this peer's
  // incarnation: a restart refutes the views queued for its crashed run,
  // raising it above the one the members hold dead.)
  if (joining_ || epoch <= epoch_) {
    return Count(host, "dropped_stale");
  }
  // Only a peer this one knows in its view (a member it has agreed with,
  // alive or held dead) may say that the members left it out; a stranger's
  // notice is dropped.
  const std::span<const ViewEntry> known = view_.entries();
  if (from == self_ || std::none_of(known.begin(), known.end(),
                                    [&](const ViewEntry& e) { return e.peer == from; })) {
    return Count(host, "dropped_evicted_stranger");
  }
  // options_.evicted_notices distinct peers (at most as many as it knows
  // besides itself) must say so before it aborts and rejoins: with 1 (the
  // default) one insider can evict it (docs/collective.md, "Evicted").
  if (evicted_at_epoch_ != epoch_) {
    evicted_by_.clear();
    evicted_at_epoch_ = epoch_;
  }
  auto& [notice_epoch, notice_incarnation] = evicted_by_[from];
  notice_epoch = std::max(notice_epoch, epoch);
  notice_incarnation = std::max(notice_incarnation, incarnation);
  const auto others = static_cast<size_t>(std::count_if(
      known.begin(), known.end(), [&](const ViewEntry& e) { return e.peer != self_; }));
  const size_t needed = std::min<size_t>(std::max<uint32_t>(options_.evicted_notices, 1), others);
  if (evicted_by_.size() < needed) return Count(host, "evicted_notices_pending");
  uint32_t max_epoch = 0;
  uint64_t max_incarnation = 0;
  for (const auto& [peer, notice] : evicted_by_) {
    max_epoch = std::max(max_epoch, notice.first);
    max_incarnation = std::max(max_incarnation, notice.second);
  }
  evicted_by_.clear();
  BecomeJoiner(host, from, max_epoch, max_incarnation);
}

void CollectiveGroup::BecomeJoiner(Host& host, PeerId from, uint32_t epoch,
                                   uint64_t incarnation) {
  Count(host, "evictions");
  ++evictions_;
  // Become a joiner under a higher incarnation, contacting every peer this
  // one knew of; the operations in flight end with kAborted (not retried:
  // a retry would run them in the members' next epoch, pairing this peer's
  // stale buffer with the members' next step).
  std::vector<PeerId> contacts;
  for (const ViewEntry& e : view_.entries()) {
    if (e.peer != self_) contacts.push_back(e.peer);
  }
  if (std::find(contacts.begin(), contacts.end(), from) == contacts.end()) {
    contacts.push_back(from);
  }
  incarnation_ = std::max(incarnation_, incarnation) + 1;
  view_ = MembershipView();
  (void)view_.Merge(ViewEntry{self_, incarnation_, false}, options_.max_members);
  contacts_ = std::move(contacts);
  members_ = {self_};
  joining_ = true;
  agreeing_ = false;
  broken_ = false;
  // The first view it gets names the epoch it is admitted into (HandleView);
  // a target of an agreement it was in would make it ignore lower ones.
  target_epoch_ = epoch_;
  last_views_.clear();
  pending_joins_.clear();
  early_.clear();
  std::vector<std::unique_ptr<RingOp>> aborted;
  for (auto& [tag, op] : ops_) aborted.push_back(std::move(op));
  ops_.clear();
  std::vector<OpCallback> agreements = std::move(agree_callbacks_);
  agree_callbacks_.clear();
  const Status why = Status::Aborted("collective: peer ", self_, " was left out of epoch ", epoch,
                                     " (peer ", from, " holds it dead); rejoin");
  for (auto& op : aborted) {
    op->Restore();
    KeepSpareBackup(op->TakeBackup());
    Count(host, "aborted");
    OpCallback done = op->TakeCallback();
    done(host, why);
  }
  for (OpCallback& done : agreements) done(host, why);
}

}  // namespace murmur::collective
