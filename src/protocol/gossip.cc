#include "murmur/protocol/gossip.h"

#include <algorithm>

#include "murmur/protocol/model_message.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

GossipNode::GossipNode(Learner& learner, const GossipOptions& options,
                       std::vector<PeerId> neighbours,
                       std::shared_ptr<const ModelCombiner> combiner)
    : learner_(learner),
      options_(options),
      neighbours_(std::move(neighbours)),
      combiner_(combiner != nullptr && !combiner->is_plain_average() ? std::move(combiner)
                                                                      : nullptr) {
  MURMUR_CHECK(!neighbours_.empty());
  MURMUR_CHECK(std::is_sorted(neighbours_.begin(), neighbours_.end()));
}

void StartGossipClock(Host& host, Duration period) {
  const auto offset =
      static_cast<int64_t>(host.rng().Uniform() * static_cast<double>(period.ns));
  host.StartTimer(Duration::Nanos(offset + 1));
}

void GossipNode::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), learner_.params());
  if (options_.dp.enabled()) dp_.emplace(options_.dp, learner_.params());
  if (options_.rounds <= 0) return;
  StartGossipClock(host, options_.period);
}

void GossipNode::OnTimer(Host& host, TimerId /*timer*/) {
  ++cycle_;
  if (cycle_ < options_.rounds) host.StartTimer(options_.period);
  if (!training_) ServeWakeUps(host);
}

void GossipNode::ServeWakeUps(Host& host) {
  while (served_cycles_ < cycle_) {
    ++served_cycles_;
    const Round cycle(static_cast<uint32_t>(served_cycles_));
    const PeerId to = neighbours_[host.rng().UniformInt(neighbours_.size())];
    const std::span<const float> sent =
        dp_ ? dp_->Release(learner_.params(), host) : learner_.params();
    host.Send(to, EncodeModelMessage(ModelMessageKind::kGossipModel, cycle, 0, sent));
    host.metrics().ReportModel(cycle, learner_.params());
  }
}

void GossipNode::OnMessage(Host& host, PeerId from,
                           std::span<const uint8_t> bytes) {
  if (!std::binary_search(neighbours_.begin(), neighbours_.end(), from)) {
    host.ReportBadPeer(from, Status::InvalidArgument("gossip model from peer ", from,
                                                     ", which is not a neighbour"));
    return;
  }
  Result<ModelMessage> message = DecodeModelMessage(
      bytes, ModelMessageKind::kGossipModel, learner_.params().size());
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  if (training_) {
    if (queue_.size() >= options_.max_queued) {
      queue_.pop_front();
      ++dropped_;
      host.metrics().Count("gossip.dropped_models", 1);
    }
    queue_.emplace_back(from, std::move(message->params));
    return;
  }
  MergeAndTrain(host, from, std::move(message->params));
}

void GossipNode::MergeAndTrain(Host& host, PeerId from, std::vector<float> model) {
  std::span<float> x = learner_.params();
  if (combiner_ != nullptr) {
    auto same = std::find_if(window_.begin(), window_.end(),
                             [from](const auto& entry) { return entry.first == from; });
    if (same != window_.end()) window_.erase(same);
    window_.emplace_back(from, std::move(model));
    while (window_.size() > options_.window) window_.pop_front();
    std::vector<std::span<const float>> others;
    for (const auto& [peer, m] : window_) others.emplace_back(m);
    const Status status = combiner_->Combine(x, others, OwnModel::kIsInput, {}, host.rng());
    if (!status.ok()) host.metrics().Count("robust.failed_aggregations", 1);
  } else if (options_.merge == MergeRule::kAverage) {
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * (x[i] + model[i]);
  } else {
    const std::span<const float> models[] = {x, model};
    MergeModels(options_.merge, models, options_.tensors, x);
  }
  training_ = true;
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_, 0));
}

void GossipNode::OnComputeDone(Host& host, uint64_t /*tag*/) {
  training_ = false;
  host.metrics().ReportTrainLoss(RoundOf(cycle_), last_loss_);
  ServeWakeUps(host);
  if (!queue_.empty()) {
    auto [from, next] = std::move(queue_.front());
    queue_.pop_front();
    MergeAndTrain(host, from, std::move(next));
  }
}

void GossipNode::Save(SnapshotWriter& out) const {
  for (int64_t v : {cycle_, served_cycles_, dropped_}) out.I64(v);
  out.Bool(training_);
  out.F64(last_loss_);
  out.U64(queue_.size());
  for (const auto& [from, model] : queue_) {
    out.U32(from.value);
    out.Floats(model);
  }
  // The config (hashed into the snapshot) says whether this part is there.
  if (combiner_ == nullptr) return;
  out.U64(window_.size());
  for (const auto& [from, model] : window_) {
    out.U32(from.value);
    out.Floats(model);
  }
}

std::pair<PeerId, std::vector<float>> GossipNode::RestoreNeighbourModel(SnapshotReader& in,
                                                                      const char* field) const {
  const PeerId from(in.U32(field));
  std::vector<float> model = in.Floats(field);
  // Only neighbours' models of the model's size are filed (OnMessage).
  if (in.ok() && (model.size() != learner_.params().size() ||
                  !std::binary_search(neighbours_.begin(), neighbours_.end(), from))) {
    in.Fail(Status::Corrupt("snapshot: ", field, " holds a model of ", model.size(),
                            " floats from peer ", from.value,
                            ", not a neighbour's of this model's size"));
  }
  return {from, std::move(model)};
}

Status GossipNode::Restore(SnapshotReader& in) {
  for (int64_t* v : {&cycle_, &served_cycles_, &dropped_}) *v = in.I64("gossip.counters");
  training_ = in.Bool("gossip.training");
  last_loss_ = in.F64("gossip.last_loss");
  const uint64_t queued = in.CountAtMost("gossip.queue", options_.max_queued, 12);
  queue_.clear();
  for (uint64_t i = 0; i < queued && in.ok(); ++i) {
    queue_.push_back(RestoreNeighbourModel(in, "gossip.queue"));
  }
  window_.clear();
  if (combiner_ != nullptr) {
    const uint64_t kept = in.CountAtMost("gossip.window", options_.window, 12);
    for (uint64_t i = 0; i < kept && in.ok(); ++i) {
      window_.push_back(RestoreNeighbourModel(in, "gossip.window"));
      // MergeAndTrain keeps one model per sender.
      for (size_t j = 0; j + 1 < window_.size() && in.ok(); ++j) {
        if (window_[j].first == window_.back().first) {
          in.Fail(Status::Corrupt("snapshot: two gossip window models from peer ",
                                  window_.back().first.value));
        }
      }
    }
  }
  MURMUR_RETURN_IF_ERROR(in.status());
  if (cycle_ < 0 || served_cycles_ < 0 || served_cycles_ > cycle_ || cycle_ > options_.rounds) {
    return Status::Corrupt("snapshot: gossip cycle ", cycle_, " served ", served_cycles_);
  }
  return Status::Ok();
}

bool GossipNode::IndependentOfOtherNodes() const {
  return combiner_ == nullptr || combiner_->is_plain_average();
}

}  // namespace murmur
