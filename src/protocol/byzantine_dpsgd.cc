#include "murmur/protocol/byzantine_dpsgd.h"

#include <algorithm>
#include <limits>

#include "murmur/protocol/model_message.h"
#include "murmur/protocol/train_task.h"
#include "murmur/robust/attacks.h"
#include "protocol/byzantine_craft.h"

namespace murmur {

ByzantineDpsgdNode::ByzantineDpsgdNode(Learner& learner, const DpsgdOptions& options,
                                       std::vector<PeerId> neighbours,
                                       std::vector<PeerId> honest,
                                       const ByzantineConfig& config)
    : learner_(learner),
      options_(options),
      neighbours_(std::move(neighbours)),
      honest_(std::move(honest)),
      config_(config) {
  MURMUR_CHECK(config_.attack != AttackKind::kNone);
  MURMUR_CHECK(std::is_sorted(neighbours_.begin(), neighbours_.end()));
  MURMUR_CHECK(std::is_sorted(honest_.begin(), honest_.end()));
  MURMUR_CHECK(std::includes(neighbours_.begin(), neighbours_.end(), honest_.begin(),
                             honest_.end()));
}

void ByzantineDpsgdNode::OnStart(Host& host) { StartRound(host); }

void ByzantineDpsgdNode::StartRound(Host& host) {
  const bool crashed =
      config_.attack == AttackKind::kCrash && round_ + 1 >= config_.crash_round;
  if (round_ >= options_.rounds || crashed) {
    phase_ = Phase::kDone;
    inbox_.clear();
    return;
  }
  std::span<const float> x = ExchangedParams(options_, learner_.params());
  base_.assign(x.begin(), x.end());
  phase_ = Phase::kTraining;
  if (config_.attack == AttackKind::kFreeRide) {
    AfterTraining(host);
    return;
  }
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_,
                            static_cast<uint64_t>(round_)));
}

void ByzantineDpsgdNode::OnComputeDone(Host& host, uint64_t /*tag*/) { AfterTraining(host); }

void ByzantineDpsgdNode::AfterTraining(Host& host) {
  phase_ = Phase::kWaiting;
  if (options_.round_timeout.ns > 0) timeout_timer_ = host.StartTimer(options_.round_timeout);
  AttackIfComplete(host);
}

void ByzantineDpsgdNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (!std::binary_search(neighbours_.begin(), neighbours_.end(), from)) {
    host.ReportBadPeer(from, Status::InvalidArgument("D-PSGD model from peer ", from,
                                                     ", which is not a neighbour"));
    return;
  }
  auto it = std::lower_bound(honest_.begin(), honest_.end(), from);
  if (it == honest_.end() || *it != from) return;  // a fellow attacker
  Result<ModelMessage> message =
      DecodeModelMessage(bytes, ModelMessageKind::kDpsgdParams,
                         ExchangedParams(options_, learner_.params()).size());
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  const int64_t round = message->round.value;
  if (phase_ == Phase::kDone || round <= round_ || round > options_.rounds) return;
  inbox_[round][static_cast<size_t>(it - honest_.begin())] = std::move(message->params);
  if (phase_ == Phase::kWaiting) AttackIfComplete(host);
}

void ByzantineDpsgdNode::OnTimer(Host& host, TimerId timer) {
  if (phase_ == Phase::kWaiting && timer == timeout_timer_) Attack(host);
}

void ByzantineDpsgdNode::AttackIfComplete(Host& host) {
  auto it = inbox_.find(round_ + 1);
  const size_t have = it == inbox_.end() ? 0 : it->second.size();
  if (have == honest_.size()) Attack(host);
}

void ByzantineDpsgdNode::Attack(Host& host) {
  auto it = inbox_.find(round_ + 1);
  std::vector<const std::vector<float>*> received(honest_.size(), nullptr);
  std::vector<std::span<const float>> models;
  if (it != inbox_.end()) {
    for (auto& [k, model] : it->second) {
      received[k] = &model;
      models.emplace_back(model);
    }
  }
  const size_t dim = base_.size();
  if (config_.attack == AttackKind::kGaussian) {
    round_noise_.resize(dim);
    GaussianNoise(config_.sigma, host.rng(), round_noise_);
  }
  const Round round(static_cast<uint32_t>(round_ + 1));
  // Equivocation crafts per receiver; every other attack sends one model.
  std::vector<float> shared;
  for (size_t k = 0; k < honest_.size(); ++k) {
    if (config_.attack == AttackKind::kOmission &&
        host.rng().Uniform() < config_.omission_prob) {
      continue;
    }
    const CraftInput in{.base = base_,
                        .trained = ExchangedParams(options_, learner_.params()),
                        .honest = models,
                        .receiver = received[k] != nullptr ? std::span<const float>(*received[k])
                                                           : std::span<const float>(),
                        .noise = round_noise_};
    if (config_.attack == AttackKind::kEquivocation) {
      host.Send(honest_[k], EncodeModelMessage(ModelMessageKind::kDpsgdParams, round, 0,
                                               CraftModel(config_, in)));
      continue;
    }
    if (shared.empty()) shared = CraftModel(config_, in);
    host.Send(honest_[k], EncodeModelMessage(ModelMessageKind::kDpsgdParams, round, 0, shared));
  }
  // Stay near consensus: the plain mean of the trained model and the
  // honest models received.
  std::span<float> x = ExchangedParams(options_, learner_.params());
  models.emplace_back(x);
  std::vector<float> mixed(dim);
  MURMUR_CHECK(MeanOf(models, mixed).ok());
  std::copy(mixed.begin(), mixed.end(), x.begin());
  if (it != inbox_.end()) inbox_.erase(it);
  ++round_;
  StartRound(host);
}

}  // namespace murmur
