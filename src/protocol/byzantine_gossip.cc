#include "murmur/protocol/byzantine_gossip.h"

#include <algorithm>

#include "murmur/protocol/model_message.h"
#include "murmur/protocol/train_task.h"
#include "murmur/robust/attacks.h"
#include "protocol/byzantine_craft.h"

namespace murmur {

ByzantineGossipNode::ByzantineGossipNode(Learner& learner, const GossipOptions& options,
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
}

void ByzantineGossipNode::OnStart(Host& host) {
  std::span<const float> x = learner_.params();
  base_.assign(x.begin(), x.end());
  trained_ = base_;
  if (options_.rounds <= 0) return;
  const auto offset = static_cast<int64_t>(host.rng().Uniform() *
                                           static_cast<double>(options_.period.ns));
  host.StartTimer(Duration::Nanos(offset + 1));
}

void ByzantineGossipNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (!std::binary_search(neighbours_.begin(), neighbours_.end(), from)) {
    host.ReportBadPeer(from, Status::InvalidArgument("gossip model from peer ", from,
                                                     ", which is not a neighbour"));
    return;
  }
  if (!std::binary_search(honest_.begin(), honest_.end(), from)) return;  // an ally
  Result<ModelMessage> message =
      DecodeModelMessage(bytes, ModelMessageKind::kGossipModel, learner_.params().size());
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  std::vector<float>& latest = latest_[from] = std::move(message->params);
  if (training_ || config_.attack == AttackKind::kFreeRide) return;
  std::span<float> x = learner_.params();
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * (x[i] + latest[i]);
  base_.assign(x.begin(), x.end());
  training_ = true;
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_, 0));
}

void ByzantineGossipNode::OnComputeDone(Host& /*host*/, uint64_t /*tag*/) {
  training_ = false;
  std::span<const float> x = learner_.params();
  trained_.assign(x.begin(), x.end());
}

void ByzantineGossipNode::OnTimer(Host& host, TimerId /*timer*/) {
  ++cycle_;
  if (config_.attack == AttackKind::kCrash && cycle_ >= config_.crash_round) return;
  if (cycle_ < options_.rounds) host.StartTimer(options_.period);
  Push(host);
}

void ByzantineGossipNode::Push(Host& host) {
  if (honest_.empty()) return;
  const PeerId to = honest_[host.rng().UniformInt(honest_.size())];
  if (config_.attack == AttackKind::kOmission && host.rng().Uniform() < config_.omission_prob) {
    return;
  }
  std::vector<std::span<const float>> honest;
  for (const auto& [peer, model] : latest_) honest.emplace_back(model);
  std::vector<float> noise;
  if (config_.attack == AttackKind::kGaussian) {
    noise.resize(base_.size());
    GaussianNoise(config_.sigma, host.rng(), noise);
  }
  auto receiver = latest_.find(to);
  const CraftInput in{.base = base_,
                      .trained = trained_,
                      .honest = honest,
                      .receiver = receiver != latest_.end() ? std::span<const float>(receiver->second)
                                                            : std::span<const float>(),
                      .noise = noise};
  host.Send(to, EncodeModelMessage(ModelMessageKind::kGossipModel,
                                   RoundOf(cycle_), 0,
                                   CraftModel(config_, in)));
}

void ByzantineGossipNode::Save(SnapshotWriter& out) const {
  out.I64(cycle_);
  out.Bool(training_);
  out.F64(last_loss_);
  out.Floats(base_);
  out.Floats(trained_);
  out.U64(latest_.size());
  for (const auto& [peer, model] : latest_) {
    out.U32(peer.value);
    out.Floats(model);
  }
}

Status ByzantineGossipNode::Restore(SnapshotReader& in) {
  cycle_ = in.I64("byzantine_gossip.cycle");
  training_ = in.Bool("byzantine_gossip.training");
  last_loss_ = in.F64("byzantine_gossip.last_loss");
  base_ = in.Floats("byzantine_gossip.base");
  trained_ = in.Floats("byzantine_gossip.trained");
  const size_t dim = learner_.params().size();
  latest_.clear();
  const uint64_t held = in.CountAtMost("byzantine_gossip.latest", honest_.size(), 12);
  for (uint64_t i = 0; i < held && in.ok(); ++i) {
    const PeerId peer(in.U32("byzantine_gossip.peer"));
    std::vector<float> model = in.Floats("byzantine_gossip.model");
    // OnMessage keeps honest neighbours' models of this size only; Push
    // reads them as such.
    if (in.ok() && (model.size() != dim ||
                    !std::binary_search(honest_.begin(), honest_.end(), peer) ||
                    latest_.count(peer) != 0)) {
      in.Fail(Status::Corrupt("snapshot: a Byzantine gossip peer holds a model of ",
                              model.size(), " floats from peer ", peer.value,
                              ", not one honest neighbour's of this model's size"));
    }
    latest_[peer] = std::move(model);
  }
  MURMUR_RETURN_IF_ERROR(in.status());
  if (base_.size() != dim || trained_.size() != dim || cycle_ < 0 ||
      cycle_ > options_.rounds) {
    return Status::Corrupt("snapshot: Byzantine gossip cycle ", cycle_, " with models of ",
                           base_.size(), " and ", trained_.size(), " floats");
  }
  return Status::Ok();
}

}  // namespace murmur
