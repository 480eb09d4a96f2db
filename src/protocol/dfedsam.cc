#include "murmur/protocol/dfedsam.h"

#include <algorithm>

#include "murmur/protocol/model_message.h"
#include "murmur/protocol/neighbour_mix.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

DfedsamNode::DfedsamNode(Learner& learner, const DfedsamOptions& options,
                         std::vector<PeerId> neighbours, std::vector<double> neighbour_weights,
                         double self_weight)
    : learner_(learner),
      options_(options),
      neighbours_(std::move(neighbours)),
      neighbour_weights_(std::move(neighbour_weights)),
      self_weight_(self_weight),
      barrier_({.name = "dfedsam",
                .timeout_counter = "step_timeouts",
                .timeout = options_.round_timeout,
                .skip_senders_ahead = options_.resumable},
               neighbours_) {
  MURMUR_CHECK(neighbours_.size() == neighbour_weights_.size());
  MURMUR_CHECK(std::is_sorted(neighbours_.begin(), neighbours_.end()));
  MURMUR_CHECK(options_.gossip_steps >= 1);
  MURMUR_CHECK(options_.start_round >= 0 && options_.start_round <= options_.rounds);
  if (options_.start_round > 0) {
    // Nothing is buffered yet: the barrier simply opens the next step.
    round_ = Round(static_cast<uint32_t>(options_.start_round));
    step_ = Round(static_cast<uint32_t>(options_.start_round * options_.gossip_steps));
    (void)barrier_.JumpTo(NextRound(step_));
  }
}

void DfedsamNode::OnStart(Host& host) {
  host.metrics().ReportModel(round_, learner_.params());
  StartRound(host);
}

void DfedsamNode::StartRound(Host& host) {
  if (round_.value >= options_.rounds) {
    phase_ = Phase::kDone;
    return;
  }
  phase_ = Phase::kTraining;
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_,
                            uint64_t{round_.value}));
}

void DfedsamNode::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(phase_ == Phase::kTraining && tag == uint64_t{round_.value});
  host.metrics().ReportTrainLoss(NextRound(round_), last_loss_);
  phase_ = Phase::kGossiping;
  SendStep(host);
}

void DfedsamNode::SendStep(Host& host) {
  // Gossip steps are numbered across the run, so a frame's "round" field is
  // the step it belongs to.
  const Round step = NextRound(step_);
  // One buffer for every neighbour (Host::SendShared).
  const SharedMessage message =
      EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, step, 0, learner_.params());
  for (PeerId neighbour : neighbours_) host.SendShared(neighbour, message);
  barrier_.Wait(host);
  MixIfComplete(host);
}

void DfedsamNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), from);
  if (it == neighbours_.end() || *it != from) {
    host.ReportBadPeer(from, Status::InvalidArgument("DFedSAM model from peer ", from,
                                                     ", which is not a neighbour"));
    return;
  }
  Result<ModelMessage> message =
      DecodeModelMessage(bytes, ModelMessageKind::kDpsgdParams, learner_.params().size());
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  const int64_t step = message->round.value;
  if (step < 1 || step > options_.rounds * options_.gossip_steps) {
    host.ReportBadPeer(from, Status::Corrupt("DFedSAM: unexpected gossip step ", step));
    return;
  }
  // Steps up to step_ are over (counted as dfedsam.late_models).
  const Arrival arrival =
      barrier_.Add(host.metrics(), message->round, from, std::move(message->params));
  if (arrival == Arrival::kStored && phase_ == Phase::kGossiping) MixIfComplete(host);
}

void DfedsamNode::OnPeerDown(Host& host, PeerId peer) {
  barrier_.MarkDown(peer);
  host.metrics().Count("dfedsam.peers_down", 1);
  if (phase_ == Phase::kGossiping) MixIfComplete(host);
}

void DfedsamNode::OnTimer(Host& host, TimerId timer) {
  if (phase_ == Phase::kGossiping && barrier_.TimedOut(host.metrics(), timer)) {
    Mix(host);
  }
}

void DfedsamNode::MixIfComplete(Host& host) {
  if (barrier_.complete()) Mix(host);
}

void DfedsamNode::Mix(Host& host) {
  std::span<float> x = learner_.params();
  ApplyMix(x, CollectArrived(barrier_.Close(), neighbours_, neighbour_weights_, self_weight_));
  step_ = NextRound(step_);
  if (step_.value % options_.gossip_steps != 0) {
    SendStep(host);  // the next gossip step of this round
    return;
  }
  round_ = NextRound(round_);
  host.metrics().ReportModel(round_, x);
  StartRound(host);
}

}  // namespace murmur
