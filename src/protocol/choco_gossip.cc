#include "murmur/protocol/choco_gossip.h"

#include <algorithm>

#include "murmur/protocol/coded_message.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/train_task.h"

namespace murmur {
namespace {

// Messages kept per edge for retransmission: with a push to each neighbour
// every `degree` cycles, a loss is noticed at the edge's next push, and
// resending a compressed frame is far cheaper than a snapshot.
constexpr size_t kEdgeHistory = 4;

void AddSparse(const SparseUpdate& update, std::span<float> x) {
  for (size_t n = 0; n < update.indices.size(); ++n) x[update.indices[n]] += update.values[n];
}

}  // namespace

ChocoGossipNode::ChocoGossipNode(Learner& learner, const ChocoGossipOptions& options,
                                 std::shared_ptr<const Codec> codec,
                                 std::vector<PeerId> neighbours)
    : learner_(learner),
      options_(options),
      codec_(std::move(codec)),
      snapshot_codec_(MakeCodec("fp32").value()),
      stages_(*codec_, "bytes_stage_"),
      neighbours_(std::move(neighbours)) {
  MURMUR_CHECK(codec_ != nullptr);
  MURMUR_CHECK(!neighbours_.empty());
  MURMUR_CHECK(std::is_sorted(neighbours_.begin(), neighbours_.end()));
  std::span<const float> x = learner_.params();
  const std::vector<float> start = options_.shared_initial_model
                                       ? std::vector<float>(x.begin(), x.end())
                                       : std::vector<float>(x.size(), 0.f);
  out_.resize(neighbours_.size());
  in_.resize(neighbours_.size());
  for (size_t k = 0; k < neighbours_.size(); ++k) {
    out_[k].copy = start;
    out_[k].synced = options_.shared_initial_model;
    in_[k].copy = start;
    in_[k].valid = options_.shared_initial_model;
  }
  scratch_.resize(x.size());
}

void ChocoGossipNode::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), learner_.params());
  if (options_.rounds <= 0) return;
  StartGossipClock(host, options_.period);
}

void ChocoGossipNode::OnTimer(Host& host, TimerId /*timer*/) {
  ++cycle_;
  if (cycle_ < options_.rounds) host.StartTimer(options_.period);
  if (!training_) ServeWakeUps(host);
}

void ChocoGossipNode::ServeWakeUps(Host& host) {
  while (served_cycles_ < cycle_) {
    ++served_cycles_;
    const auto cycle = static_cast<uint32_t>(served_cycles_);
    // The same draw as plain gossip, so both pick the same neighbours.
    Push(host, host.rng().UniformInt(neighbours_.size()), cycle);
    host.metrics().ReportModel(Round(cycle), learner_.params());
  }
}

void ChocoGossipNode::Push(Host& host, size_t k, uint32_t cycle) {
  OutEdge& edge = out_[k];
  std::span<const float> x = learner_.params();
  if (!edge.synced) {
    ByteWriter out(kCodedMessageHeaderBytes + snapshot_codec_->MaxEncodedSize(x.size()));
    WriteCodedMessageHeader({.kind = CodedMessageKind::kGossipSnapshot,
                             .round = Round(cycle),
                             .sequence = static_cast<uint32_t>(edge.sequence + 1)},
                            out);
    if (!snapshot_codec_->Encode(x, {}, out).ok()) {
      host.metrics().Count("gossip.encode_failures", 1);  // a diverged model
      return;
    }
    // fp32 frames decode bit for bit.
    std::copy(x.begin(), x.end(), edge.copy.begin());
    edge.synced = true;
    ++edge.sequence;
    std::vector<uint8_t> bytes = std::move(out).Take();
    host.Send(neighbours_[k], bytes);
    Remember(edge, std::move(bytes));
    return;
  }
  for (size_t i = 0; i < x.size(); ++i) scratch_[i] = x[i] - edge.copy[i];
  ByteWriter out(kCodedMessageHeaderBytes + codec_->MaxEncodedSize(x.size()));
  WriteCodedMessageHeader({.kind = CodedMessageKind::kGossipDelta,
                           .round = Round(cycle),
                           .sequence = static_cast<uint32_t>(edge.sequence + 1)},
                          out);
  const CodecContext ctx{.seed = options_.seed,
                         .sender = host.self(),
                         .step = cycle,
                         .privacy_rng = &host.privacy_rng()};
  if (!codec_->Encode(scratch_, ctx, out).ok()) {
    host.metrics().Count("gossip.encode_failures", 1);
    return;
  }
  std::vector<uint8_t> bytes = std::move(out).Take();
  const std::span<const uint8_t> frame =
      std::span<const uint8_t>(bytes).subspan(kCodedMessageHeaderBytes);
  // The receiver's decoder and the receiver's update, so that both copies
  // stay bit-identical whatever the codec rounds.
  MURMUR_CHECK(codec_->DecodeSparse(frame, ctx, x.size(), update_).ok());
  AddSparse(update_, edge.copy);
  ++edge.sequence;
  stages_.Count(host.metrics(), scratch_, ctx, frame.size(), 1);
  host.Send(neighbours_[k], bytes);
  Remember(edge, std::move(bytes));
}

void ChocoGossipNode::Remember(OutEdge& edge, std::vector<uint8_t> bytes) {
  if (edge.history.size() == kEdgeHistory) edge.history.pop_front();
  edge.history.emplace_back(edge.sequence, std::move(bytes));
}

void ChocoGossipNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), from);
  if (it == neighbours_.end() || *it != from) {
    host.ReportBadPeer(from, Status::InvalidArgument("compressed gossip message from peer ", from,
                                                     ", which is not a neighbour"));
    return;
  }
  const auto k = static_cast<size_t>(it - neighbours_.begin());
  Result<CodedMessage> message = ReadCodedMessage(bytes, CodedMessageKind::kGossipDelta);
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  const CodedMessageHeader& h = message->header;
  if (h.kind != CodedMessageKind::kGossipResyncRequest &&
      (h.sequence == 0 || h.round.value < 1 || h.round.value > options_.rounds)) {
    host.ReportBadPeer(from, Status::Corrupt("compressed gossip: sequence ", h.sequence,
                                             " or cycle ", h.round, " outside 1..",
                                             options_.rounds));
    return;
  }
  switch (h.kind) {
    case CodedMessageKind::kGossipDelta:
      OnDelta(host, k, from, h.round.value, h.sequence, message->payload);
      break;
    case CodedMessageKind::kGossipSnapshot:
      OnSnapshot(host, k, from, h.sequence, message->payload);
      break;
    case CodedMessageKind::kGossipResyncRequest:
      OnResyncRequest(host, k, from, h.sequence);
      break;
    default:
      MURMUR_CHECK(false);  // ReadCodedMessage accepts only gossip kinds
  }
}

void ChocoGossipNode::OnDelta(Host& host, size_t k, PeerId from, uint32_t cycle,
                              int64_t sequence, std::span<const uint8_t> frame) {
  InEdge& edge = in_[k];
  if (sequence <= edge.applied) {
    host.metrics().Count("gossip.stale_deltas", 1);  // a duplicate resend
    return;
  }
  if (!edge.valid || sequence != edge.applied + 1) {
    // FIFO links: a gap means a lost message, never a late one.
    host.metrics().Count("gossip.gaps", 1);
    RequestResync(host, k);
    return;
  }
  const CodecContext ctx{.seed = options_.seed, .sender = from, .step = cycle};
  if (Status s = codec_->DecodeSparse(frame, ctx, edge.copy.size(), update_); !s.ok()) {
    host.ReportBadPeer(from, s);
    return;
  }
  AddSparse(update_, edge.copy);
  edge.applied = sequence;
  Received(host, k);
}

void ChocoGossipNode::OnSnapshot(Host& host, size_t k, PeerId from, int64_t sequence,
                                 std::span<const uint8_t> frame) {
  InEdge& edge = in_[k];
  if (sequence <= edge.applied && edge.valid) {
    host.metrics().Count("gossip.stale_snapshots", 1);
    return;
  }
  if (Status s = snapshot_codec_->Decode(frame, {}, scratch_); !s.ok()) {
    host.ReportBadPeer(from, s);
    return;
  }
  std::copy(scratch_.begin(), scratch_.end(), edge.copy.begin());
  edge.applied = sequence;
  edge.valid = true;
  host.metrics().Count("gossip.snapshots_applied", 1);
  Received(host, k);
}

void ChocoGossipNode::OnResyncRequest(Host& host, size_t k, PeerId from, int64_t applied) {
  OutEdge& edge = out_[k];
  // At most one answer per neighbour per cycle: a request costs 17 bytes,
  // an answer up to a whole model.
  if (!edge.synced || applied >= edge.sequence || edge.answered_at == cycle_) return;
  edge.answered_at = cycle_;
  const bool have_all = !edge.history.empty() && edge.history.front().first <= applied + 1 &&
                        edge.history.back().first == edge.sequence;
  if (have_all) {
    int64_t resent = 0;
    for (const auto& [sequence, bytes] : edge.history) {
      if (sequence > applied) {
        host.Send(from, bytes);
        ++resent;
      }
    }
    host.metrics().Count("gossip.messages_resent", resent);
    return;
  }
  ByteWriter out(kCodedMessageHeaderBytes + snapshot_codec_->MaxEncodedSize(edge.copy.size()));
  WriteCodedMessageHeader({.kind = CodedMessageKind::kGossipSnapshot,
                           .round = RoundOf(std::max<int64_t>(cycle_, 1)),
                           .sequence = static_cast<uint32_t>(edge.sequence)},
                          out);
  MURMUR_CHECK(snapshot_codec_->Encode(edge.copy, {}, out).ok());  // copies stay finite
  host.Send(from, std::move(out).Take());
  host.metrics().Count("gossip.snapshots_sent", 1);
}

void ChocoGossipNode::RequestResync(Host& host, size_t k) {
  InEdge& edge = in_[k];
  if (edge.requested_at == cycle_) return;
  edge.requested_at = cycle_;
  ByteWriter out(kCodedMessageHeaderBytes);
  WriteCodedMessageHeader({.kind = CodedMessageKind::kGossipResyncRequest,
                           .round = RoundOf(cycle_),
                           .sequence = static_cast<uint32_t>(edge.applied)},
                          out);
  host.Send(neighbours_[k], std::move(out).Take());
  host.metrics().Count("gossip.resync_requests", 1);
}

void ChocoGossipNode::Received(Host& host, size_t k) {
  if (!training_) {
    MergeAndTrain(host, k);
    return;
  }
  // The merge reads the copy when training ends, so a neighbour already
  // waiting needs no second entry.
  if (std::find(queue_.begin(), queue_.end(), k) != queue_.end()) return;
  if (queue_.size() >= options_.max_queued) {
    queue_.pop_front();
    host.metrics().Count("gossip.dropped_models", 1);
  }
  queue_.push_back(k);
}

void ChocoGossipNode::MergeAndTrain(Host& host, size_t k) {
  std::span<float> x = learner_.params();
  const std::vector<float>& copy = in_[k].copy;
  // (1 - gamma) x + gamma x_hat: with gamma = 1/2 the same number as
  // gossip.cc's 0.5 (x + model), since halving is exact.
  const auto gamma = static_cast<float>(options_.gamma);
  const float keep = 1.f - gamma;
  for (size_t i = 0; i < x.size(); ++i) x[i] = keep * x[i] + gamma * copy[i];
  training_ = true;
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_, 0));
}

void ChocoGossipNode::OnComputeDone(Host& host, uint64_t /*tag*/) {
  training_ = false;
  host.metrics().ReportTrainLoss(RoundOf(cycle_), last_loss_);
  ServeWakeUps(host);
  if (!queue_.empty()) {
    const size_t k = queue_.front();
    queue_.pop_front();
    MergeAndTrain(host, k);
  }
}

}  // namespace murmur
