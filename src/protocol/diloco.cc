#include "murmur/protocol/diloco.h"

#include <algorithm>

#include "murmur/collective/all_gather.h"
#include "murmur/collective/collective_message.h"
#include "murmur/collective/retry.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

void OuterSgdStep(std::span<float> theta, std::span<float> momentum, std::span<const float> g,
                  double lr, double mu, bool nesterov) {
  MURMUR_CHECK(theta.size() == momentum.size() && theta.size() == g.size());
  const auto lr_f = static_cast<float>(lr);
  const auto mu_f = static_cast<float>(mu);
  for (size_t i = 0; i < theta.size(); ++i) {
    momentum[i] = mu_f * momentum[i] + g[i];
    theta[i] -= lr_f * (nesterov ? g[i] + mu_f * momentum[i] : momentum[i]);
  }
}

DilocoNode::DilocoNode(Learner& learner, DilocoOptions options, std::span<const float> initial,
                       std::shared_ptr<const ModelCombiner> combiner, DilocoAttack attack)
    : learner_(learner),
      options_(std::move(options)),
      combiner_(combiner != nullptr && !combiner->is_plain_average() ? std::move(combiner)
                                                                      : nullptr),
      attack_(attack),
      length_(learner.params().size()),
      shared_(2 * length_, 0.0f),
      delta_(length_) {
  MURMUR_CHECK(initial.size() == length_);
  std::copy(initial.begin(), initial.end(), shared_.begin());
}

void DilocoNode::OnStart(Host& host) {
  std::vector<PeerId> members;
  for (int64_t i = 0; i < options_.num_peers; ++i) members.push_back(PeerOf(i));
  group_ = std::make_unique<collective::CollectiveGroup>(options_.collective, host.self(),
                                                         std::move(members));
  sync_ = std::make_unique<collective::StateSync>(
      collective::StateSyncOptions{.timeout = options_.collective.timeout,
                                   .counter_prefix = "diloco.state_sync"},
      host.self());
  sync_->Serve(shared_);
  std::copy(Global().begin(), Global().end(), learner_.params().begin());
  if (attack_.kind == AttackKind::kNone) host.metrics().ReportModel(Round(0), Global());
  StartRound(host);
}

void DilocoNode::StartRound(Host& host) {
  if (round_ >= options_.rounds) {
    done_ = true;
    return;
  }
  host.RunCompute(TrainTask(learner_, options_.inner_steps, &last_loss_, uint64_t(round_)));
}

void DilocoNode::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(tag == uint64_t(round_) && !done_);
  if (attack_.kind == AttackKind::kNone) {
    host.metrics().ReportTrainLoss(RoundOf(round_ + 1), last_loss_);
  }
  const std::span<const float> local = learner_.params();
  const std::span<const float> theta = Global();
  for (size_t i = 0; i < length_; ++i) delta_[i] = theta[i] - local[i];
  if (attack_.kind != AttackKind::kNone) Attack(host);
  Aggregate(host);
}

void DilocoNode::Attack(Host& host) {
  if (attack_.kind == AttackKind::kSignFlip) {
    const auto scale = static_cast<float>(-attack_.scale);
    for (float& d : delta_) d *= scale;
  } else if (attack_.kind == AttackKind::kGaussian) {
    for (float& d : delta_) d = static_cast<float>(attack_.sigma * host.rng().Normal());
  }
}

void DilocoNode::Aggregate(Host& host) {
  const auto done = [this](Host& h, const Status& status) { FinishAggregation(h, status); };
  if (combiner_ == nullptr) {
    collective::AllReduceWithRetry(*group_, host, delta_, collective::ReduceOp::kAverage,
                                   options_.max_attempts, done);
    return;
  }
  collective::AllGatherWithRetry(*group_, host, delta_, &gathered_, &gathered_from_,
                                 options_.max_attempts, done);
}

void DilocoNode::FinishAggregation(Host& host, const Status& status) {
  bool step = status.ok();
  if (!status.ok()) {
    // Every attempt failed (or the call was malformed): theta stays, and the
    // state check below repairs a peer whose view of the outcome differs.
    host.metrics().Count("diloco.failed_steps", 1);
  } else if (combiner_ != nullptr) {
    std::vector<std::span<const float>> inputs;
    for (size_t k = 0; k < gathered_from_.size(); ++k) {
      inputs.emplace_back(gathered_.data() + k * length_, length_);
    }
    // Relative to a zero reference the combiner returns Rule(deltas); one
    // generator per round, the same on every peer, keeps them identical.
    std::fill(delta_.begin(), delta_.end(), 0.0f);
    Rng rng = Rng::ForStep(options_.seed, PeerId(0), RngPurpose::kProtocol, uint64_t(round_));
    const Status combined = combiner_->Combine(delta_, inputs, OwnModel::kReferenceOnly, {}, rng);
    if (!combined.ok()) {
      host.metrics().Count("robust.failed_aggregations", 1);
      step = false;
    }
  }
  if (step) {
    OuterSgdStep(Global(), Momentum(), delta_, options_.outer.outer_lr,
                 options_.outer.outer_momentum, options_.outer.nesterov);
    host.metrics().Count("diloco.outer_steps", 1);
  }
  ++round_;
  std::copy(Global().begin(), Global().end(), learner_.params().begin());
  if (attack_.kind == AttackKind::kNone) host.metrics().ReportModel(RoundOf(round_), Global());
  if (options_.outer.check_state) {
    CheckState(host);
  } else {
    StartRound(host);
  }
}

void DilocoNode::CheckState(Host& host) {
  const collective::StateDigest mine = collective::HashState(shared_);
  sync_->Compare(
      host, static_cast<uint32_t>(round_), group_->members(), mine,
      [this](Host& h, const Status& status, const collective::Comparison& c) {
        if (!status.ok()) {
          h.metrics().Count("diloco.state_no_majority", 1);
          return StartRound(h);
        }
        if (c.agrees) return StartRound(h);
        h.metrics().Count("diloco.state_mismatches", 1);
        sync_->Pull(h, c.holders, c.majority, shared_, [this](Host& h2, const Status& pulled) {
          if (pulled.ok()) {
            h2.metrics().Count("diloco.state_resyncs", 1);
            std::copy(Global().begin(), Global().end(), learner_.params().begin());
          }
          StartRound(h2);
        });
      });
}

void DilocoNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) {
  if (group_ == nullptr) return;
  if (collective::IsStateSyncMessage(message)) {
    sync_->OnMessage(host, from, message);
  } else if (collective::IsCollectiveMessage(message)) {
    group_->OnMessage(host, from, message);
  } else {
    host.ReportBadPeer(from, Status::InvalidArgument("DiLoCo: a message of kind ",
                                                     message.empty() ? -1 : int{message[0]},
                                                     " from peer ", from,
                                                     ", which is not a collective message"));
  }
}

void DilocoNode::OnTimer(Host& host, TimerId timer) {
  if (group_ == nullptr || group_->OnTimer(host, timer)) return;
  (void)sync_->OnTimer(host, timer);
}

void DilocoNode::OnPeerDown(Host& host, PeerId peer) {
  if (group_ == nullptr) return;
  group_->OnPeerDown(host, peer);
  sync_->OnPeerDown(host, peer);
}

}  // namespace murmur
