// ProcessGroup's calls as continuations on the loop thread (group_impl.h):
// every call agrees on the membership first (so a restarted peer's Join is
// admitted at the others' next call), then runs its collectives with retry
// over the survivors (collective/retry.h).
#include <algorithm>
#include <cstring>
#include <map>

#include "group_impl.h"
#include "murmur/collective/all_gather.h"
#include "murmur/collective/retry.h"

namespace murmur::group {
namespace {

constexpr size_t kDigestFloats = sizeof(StateDigest) / sizeof(float);  // 8

std::string Hex(const StateDigest& d) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace

void ProcessGroup::Impl::Agree(Host& host, std::function<void(Host&, Status)> then) {
  // The others may have agreed on a new epoch with this peer while it was
  // busy (their views reach its loop thread, which takes part): then that
  // epoch is this call's. Starting yet another agreement would leave the
  // others' first operation in the epoch waiting for a whole timeout.
  if (called_ && group_->epoch() != last_call_epoch_ && !group_->needs_agreement() &&
      !group_->has_pending_joins()) {
    called_ = true;
    last_call_epoch_ = group_->epoch();
    NoteMembership(group_->members(), group_->epoch());
    return then(host, Status::Ok());
  }
  group_->AgreeMembership(host, [this, then](Host& h, const Status& s) {
    if (s.ok()) {
      NoteMembership(group_->members(), group_->epoch());
      called_ = true;
      last_call_epoch_ = group_->epoch();
    }
    then(h, s);
  });
}

void ProcessGroup::Impl::AllReduce(Host& host, std::span<float> data, collective::ReduceOp op,
                                   Finish finish) {
  Agree(host, [this, data, op, finish](Host& h, Status agreed) {
    if (!agreed.ok()) return finish(agreed);
    collective::AllReduceWithRetry(*group_, h, data, op, options_.max_attempts,
                                   [this, finish](Host&, const Status& s) {
                                     NoteMembership(group_->members(), group_->epoch());
                                     finish(s);
                                   });
  });
}

void ProcessGroup::Impl::BroadcastFromRoot(Host& host, std::span<float> state, PeerId root,
                                           Finish finish) {
  Agree(host, [this, state, root, finish](Host& h, Status agreed) {
    if (!agreed.ok()) return finish(agreed);
    collective::RunWithRetry(
        *group_, h,
        [this, state, root](Host& h2, collective::OpCallback cb) {
          group_->Broadcast(h2, state, root, std::move(cb));
        },
        options_.max_attempts, [this, finish](Host&, const Status& s) {
          NoteMembership(group_->members(), group_->epoch());
          finish(s);
        });
  });
}

void ProcessGroup::Impl::SyncToMajority(Host& host, std::span<float> state, bool holds,
                                        std::function<void(Host&, Status, SyncResult)> then) {
  const StateDigest mine = collective::HashState(state);
  digest_mine_.assign(kDigestFloats + 1, 0.0f);
  std::memcpy(digest_mine_.data(), mine.data(), mine.size());
  digest_mine_[kDigestFloats] = holds ? 1.0f : 0.0f;
  collective::AllGatherWithRetry(
      *group_, host, digest_mine_, &gathered_, &gathered_members_, options_.max_attempts,
      [this, state, holds, mine, then](Host& h, const Status& s) {
        if (!s.ok()) return then(h, s, {});
        NoteMembership(gathered_members_, group_->epoch());
        // The digest held by most members that hold a state; ties go to the
        // digest of the lowest such member (every member decides the same).
        std::map<StateDigest, std::vector<PeerId>> by_digest;
        for (size_t k = 0; k < gathered_members_.size(); ++k) {
          const float* row = gathered_.data() + k * (kDigestFloats + 1);
          if (row[kDigestFloats] != 1.0f) continue;
          StateDigest d;
          std::memcpy(d.data(), row, d.size());
          by_digest[d].push_back(gathered_members_[k]);
        }
        SyncResult result;
        result.all_equal = by_digest.size() <= 1;
        if (by_digest.empty()) return then(h, Status::Ok(), result);  // nobody holds one yet
        auto best = by_digest.begin();
        for (auto it = by_digest.begin(); it != by_digest.end(); ++it) {
          if (it->second.size() > best->second.size() ||
              (it->second.size() == best->second.size() && it->second[0] < best->second[0])) {
            best = it;
          }
        }
        if (holds && best->first == mine) {
          result.agreed_before = true;
          return then(h, Status::Ok(), result);
        }
        std::vector<PeerId> holders = best->second;
        std::erase(holders, group_->self());
        sync_->Pull(h, holders, best->first, state, [then, result](Host& h2, const Status& ps) {
          SyncResult r = result;
          r.pulled = ps.ok();
          then(h2, ps, r);
        });
      });
}

void ProcessGroup::Impl::OuterStep(Host& host, std::span<float> local, OuterOptions opts,
                                   OuterStepReport* report, Finish finish) {
  if (shared_.size() != 2 * local.size() + 1) {
    return finish(Status::InvalidArgument("group: diloco_outer_step with ", local.size(),
                                          " parameters; diloco_init was given ",
                                          shared_.size() / 2, " (or not called)"));
  }
  Agree(host, [this, local, opts, report, finish](Host& h, Status agreed) {
    if (!agreed.ok()) return finish(agreed);
    SyncToMajority(h, shared_, has_state_, [this, local, opts, report, finish](
                                               Host& h2, Status synced, SyncResult before) {
      if (!synced.ok()) return finish(synced);
      const bool contributes = has_state_ && before.agreed_before;
      if (before.pulled) has_state_ = true;
      report->resynced = before.pulled;
      report->contributed = contributes;
      // Weighted pseudo-gradient: (global - local) and a weight of 1, or
      // zeros from a peer whose inner steps started from another state.
      const size_t n = local.size();
      scratch_.assign(n + 1, 0.0f);
      if (contributes) {
        for (size_t i = 0; i < n; ++i) scratch_[i] = shared_[i] - local[i];
        scratch_[n] = 1.0f;
      }
      collective::AllReduceWithRetry(
          *group_, h2, scratch_, collective::ReduceOp::kSum, options_.max_attempts,
          [this, local, opts, report, finish, n](Host& h3, const Status& reduced) {
            if (!reduced.ok()) return finish(reduced);
            report->membership = Membership{group_->epoch(), group_->members()};
            NoteMembership(group_->members(), group_->epoch());
            const float w = scratch_[n];
            report->weight = w;
            if (w > 0) {
              const float lr = static_cast<float>(opts.lr), mu = static_cast<float>(opts.momentum);
              float* theta = shared_.data();
              float* m = shared_.data() + n;
              for (size_t i = 0; i < n; ++i) {
                const float g = scratch_[i] / w;
                m[i] = mu * m[i] + g;
                theta[i] -= lr * (opts.nesterov ? g + mu * m[i] : m[i]);
              }
            }
            shared_[2 * n] += 1.0f;  // the outer step count, part of the shared state
            std::copy(shared_.begin(), shared_.begin() + static_cast<ptrdiff_t>(n), local.begin());
            SyncToMajority(h3, shared_, has_state_, [this, local, report, finish, n](
                                                         Host&, Status after, SyncResult r) {
              if (!after.ok()) return finish(after);
              if (r.pulled) {
                report->resynced = true;
                std::copy(shared_.begin(), shared_.begin() + static_cast<ptrdiff_t>(n),
                          local.begin());
              }
              report->hashes_agree = r.all_equal;
              report->step = static_cast<uint64_t>(shared_[2 * n]);
              report->digest_hex = Hex(collective::HashState(shared_));
              finish(Status::Ok());
            });
          });
    });
  });
}

}  // namespace murmur::group
