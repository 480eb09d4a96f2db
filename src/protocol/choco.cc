#include "murmur/protocol/choco.h"

#include <algorithm>

#include "murmur/protocol/coded_message.h"
#include "murmur/protocol/train_task.h"

namespace murmur {
namespace {

// Deltas for rounds this far beyond the one being mixed are dropped (and
// later recovered by a resync), which bounds what a peer buffers.
constexpr int64_t kMaxRoundsAhead = 4;
// Own deltas kept for retransmission: a lost delta is usually noticed one
// round later, and resending it costs a compressed frame, not a snapshot.
constexpr size_t kDeltaHistory = 4;

void AddSparse(const SparseUpdate& update, std::span<float> x) {
  for (size_t n = 0; n < update.indices.size(); ++n) x[update.indices[n]] += update.values[n];
}

}  // namespace

ChocoNode::ChocoNode(Learner& learner, const ChocoOptions& options,
                     std::shared_ptr<const Codec> codec, std::vector<PeerId> neighbours,
                     std::vector<double> neighbour_weights)
    : learner_(learner),
      options_(options),
      codec_(std::move(codec)),
      snapshot_codec_(MakeCodec("fp32").value()),
      stages_(*codec_, "bytes_stage_"),
      neighbours_(std::move(neighbours)),
      neighbour_weights_(std::move(neighbour_weights)) {
  MURMUR_CHECK(codec_ != nullptr);
  MURMUR_CHECK(neighbours_.size() == neighbour_weights_.size());
  MURMUR_CHECK(std::is_sorted(neighbours_.begin(), neighbours_.end()));
  const size_t dim = learner_.params().size();
  // Every peer starts every copy at the same point, so all copies agree
  // without a first exchange.
  if (options_.public_start == ChocoPublicStart::kSharedInitialModel) {
    public_.assign(learner_.params().begin(), learner_.params().end());
  } else {
    public_.assign(dim, 0.f);
  }
  scratch_.resize(dim);
  decoded_.resize(dim);
  neighbour_public_.assign(neighbours_.size(), public_);
  applied_.assign(neighbours_.size(), 0);
  requested_at_.assign(neighbours_.size(), -1);
  answered_at_.assign(neighbours_.size(), -1);
  down_.assign(neighbours_.size(), false);
  pending_.resize(neighbours_.size());
}

void ChocoNode::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), learner_.params());
  StartRound(host);
}

void ChocoNode::StartRound(Host& host) {
  if (round_ >= options_.rounds) {
    phase_ = Phase::kDone;
    return;
  }
  phase_ = Phase::kTraining;
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_,
                            static_cast<uint64_t>(round_)));
}

void ChocoNode::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(phase_ == Phase::kTraining && tag == static_cast<uint64_t>(round_));
  const int64_t round = round_ + 1;
  host.metrics().ReportTrainLoss(RoundOf(round), last_loss_);
  std::span<const float> x = learner_.params();
  for (size_t i = 0; i < x.size(); ++i) scratch_[i] = x[i] - public_[i];
  ByteWriter out(kCodedMessageHeaderBytes + codec_->MaxEncodedSize(x.size()));
  WriteCodedMessageHeader({.kind = CodedMessageKind::kChocoDelta,
                           .round = RoundOf(round)},
                          out);
  const CodecContext ctx{.seed = options_.seed,
                         .sender = host.self(),
                         .step = static_cast<uint64_t>(round),
                         .privacy_rng = &host.privacy_rng()};
  if (Status s = codec_->EncodeAndDecode(scratch_, ctx, out, decoded_); s.ok()) {
    // x_hat_i moves by exactly what the neighbours decode.
    for (size_t i = 0; i < public_.size(); ++i) public_[i] += decoded_[i];
    public_round_ = round;
    stages_.Count(host.metrics(), scratch_, ctx, out.size() - kCodedMessageHeaderBytes,
                  static_cast<int64_t>(neighbours_.size()));
    std::vector<uint8_t> bytes = std::move(out).Take();
    for (PeerId neighbour : neighbours_) host.Send(neighbour, bytes);
    if (sent_history_.size() == kDeltaHistory) sent_history_.pop_front();
    sent_history_.emplace_back(round, std::move(bytes));
  } else {
    // A diverged (non-finite) model: send nothing. Neighbours see a gap
    // and ask for a snapshot, which fails the same way until it recovers.
    host.metrics().Count("choco.encode_failures", 1);
  }
  phase_ = Phase::kWaiting;
  if (options_.round_timeout.ns > 0) {
    timeout_timer_ = host.StartTimer(options_.round_timeout);
  }
  MixIfComplete(host);
}

void ChocoNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), from);
  if (it == neighbours_.end() || *it != from) {
    host.ReportBadPeer(from, Status::InvalidArgument("CHOCO message from peer ", from,
                                                     ", which is not a neighbour"));
    return;
  }
  const auto k = static_cast<size_t>(it - neighbours_.begin());
  Result<CodedMessage> message = ReadCodedMessage(bytes, CodedMessageKind::kChocoDelta);
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  const CodedMessageHeader& h = message->header;
  if (h.kind != CodedMessageKind::kChocoResyncRequest &&
      (h.round.value < 1 || h.round.value > options_.rounds)) {
    host.ReportBadPeer(from, Status::Corrupt("CHOCO: message for round ", h.round,
                                             " outside 1..", options_.rounds));
    return;
  }
  // Up and in step again (a delta or snapshot for a round not yet mixed):
  // waited for from now on.
  if (h.kind != CodedMessageKind::kChocoResyncRequest && h.round.value > round_) {
    down_[k] = false;
  }
  switch (h.kind) {
    case CodedMessageKind::kChocoDelta:
      OnDelta(host, k, from, h.round, message->payload);
      break;
    case CodedMessageKind::kChocoSnapshot:
      OnSnapshot(host, k, from, h.round, message->payload);
      break;
    case CodedMessageKind::kChocoResyncRequest:
      OnResyncRequest(host, k, from, h.sequence, h.weight);
      break;
    default:
      MURMUR_CHECK(false);  // ReadCodedMessage accepts only CHOCO kinds
  }
}

void ChocoNode::OnDelta(Host& host, size_t k, PeerId from, Round round,
                        std::span<const uint8_t> frame) {
  const int64_t r = round.value;
  if (r <= applied_[k] || pending_[k].count(r)) {
    // Covered by a snapshot already, or a duplicate.
    host.metrics().Count("choco.stale_deltas", 1);
    return;
  }
  if (r > round_ + 1 + kMaxRoundsAhead) {
    // Dropped, so the copy will miss this delta: ask for a snapshot now.
    host.metrics().Count("choco.far_ahead_deltas", 1);
    RequestResync(host, k);
    return;
  }
  SparseUpdate update;
  const CodecContext ctx{.seed = options_.seed, .sender = from, .step = static_cast<uint64_t>(r)};
  if (Status s = codec_->DecodeSparse(frame, ctx, public_.size(), update); !s.ok()) {
    host.ReportBadPeer(from, s);
    return;
  }
  pending_[k].emplace(r, std::move(update));
  CatchUp(host, k);
  if (phase_ == Phase::kWaiting) MixIfComplete(host);
}

void ChocoNode::OnSnapshot(Host& host, size_t k, PeerId from, Round round,
                           std::span<const uint8_t> frame) {
  const int64_t r = round.value;
  if (r <= applied_[k]) {
    host.metrics().Count("choco.stale_snapshots", 1);
    return;
  }
  if (Status s = snapshot_codec_->Decode(frame, {}, decoded_); !s.ok()) {
    host.ReportBadPeer(from, s);
    return;
  }
  std::copy(decoded_.begin(), decoded_.end(), neighbour_public_[k].begin());
  applied_[k] = r;
  auto& pending = pending_[k];
  pending.erase(pending.begin(), pending.upper_bound(r));
  host.metrics().Count("choco.resyncs_applied", 1);
  CatchUp(host, k);
  if (phase_ == Phase::kWaiting) MixIfComplete(host);
}

void ChocoNode::OnResyncRequest(Host& host, size_t k, PeerId from, int64_t applied,
                                uint64_t first_buffered) {
  // At most one answer per neighbour per round: a request costs its sender
  // 17 bytes and this peer up to a whole model.
  if (answered_at_[k] == round_ || applied >= public_round_) return;
  answered_at_[k] = round_;
  // The deltas the requester misses (up to what it has buffered), if all
  // are still here, in order.
  const int64_t last = first_buffered > static_cast<uint64_t>(applied) + 1 &&
                               first_buffered <= static_cast<uint64_t>(public_round_)
                           ? static_cast<int64_t>(first_buffered) - 1
                           : public_round_;
  std::vector<const std::vector<uint8_t>*> missing;
  for (const auto& [round, bytes] : sent_history_) {
    if (round > applied && round <= last) missing.push_back(&bytes);
  }
  if (static_cast<int64_t>(missing.size()) == last - applied) {
    for (const std::vector<uint8_t>* bytes : missing) host.Send(from, *bytes);
    host.metrics().Count("choco.deltas_resent", static_cast<int64_t>(missing.size()));
    return;
  }
  ByteWriter out(kCodedMessageHeaderBytes + snapshot_codec_->MaxEncodedSize(public_.size()));
  WriteCodedMessageHeader({.kind = CodedMessageKind::kChocoSnapshot,
                           .round = RoundOf(public_round_)},
                          out);
  MURMUR_CHECK(snapshot_codec_->Encode(public_, {}, out).ok());  // public_ is finite
  host.Send(from, std::move(out).Take());
  host.metrics().Count("choco.snapshots_sent", 1);
}

void ChocoNode::CatchUp(Host& host, size_t k) {
  auto& pending = pending_[k];
  std::vector<float>& copy = neighbour_public_[k];
  // x_hat_k for round r needs q_k of every round up to r; q for the round
  // after the one being mixed waits until that mix is done.
  while (!pending.empty() && pending.begin()->first == applied_[k] + 1 &&
         applied_[k] + 1 <= round_ + 1) {
    AddSparse(pending.begin()->second, copy);
    applied_[k] = pending.begin()->first;
    pending.erase(pending.begin());
  }
  // FIFO links: a buffered later delta while the next one is missing means
  // the next one was lost (or came from an offline peer), never just late.
  const bool gap = !pending.empty() && pending.begin()->first > applied_[k] + 1;
  const bool far_behind = applied_[k] + 1 + kMaxRoundsAhead < round_ + 1;
  if (gap || far_behind) RequestResync(host, k);
}

void ChocoNode::RequestResync(Host& host, size_t k) {
  if (requested_at_[k] == round_) return;
  requested_at_[k] = round_;
  // weight: the first round already buffered (0: none), so the neighbour
  // resends only what lies between.
  const auto& pending = pending_[k];
  ByteWriter out(kCodedMessageHeaderBytes);
  WriteCodedMessageHeader({.kind = CodedMessageKind::kChocoResyncRequest,
                           .round = RoundOf(round_),
                           .weight = pending.empty() ? 0 : static_cast<uint64_t>(pending.begin()->first),
                           .sequence = static_cast<uint32_t>(applied_[k])},
                          out);
  host.Send(neighbours_[k], std::move(out).Take());
  host.metrics().Count("choco.resync_requests", 1);
}

void ChocoNode::OnTimer(Host& host, TimerId timer) {
  if (phase_ == Phase::kWaiting && timer == timeout_timer_) {
    host.metrics().Count("choco.round_timeouts", 1);
    Mix(host);
  }
}

void ChocoNode::OnPeerDown(Host& host, PeerId peer) {
  const auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), peer);
  if (it == neighbours_.end() || *it != peer) return;
  down_[static_cast<size_t>(it - neighbours_.begin())] = true;
  host.metrics().Count("choco.neighbours_down", 1);
  if (phase_ == Phase::kWaiting) MixIfComplete(host);
}

void ChocoNode::MixIfComplete(Host& host) {
  for (size_t k = 0; k < applied_.size(); ++k) {
    if (applied_[k] < round_ + 1 && !down_[k]) return;
  }
  Mix(host);
}

void ChocoNode::Mix(Host& host) {
  const int64_t round = round_ + 1;
  std::span<float> x = learner_.params();
  std::fill(scratch_.begin(), scratch_.end(), 0.f);
  for (size_t k = 0; k < neighbours_.size(); ++k) {
    if (applied_[k] < round) {
      host.metrics().Count("choco.stale_neighbours", 1);
      continue;
    }
    const auto w = static_cast<float>(neighbour_weights_[k]);
    const float* copy = neighbour_public_[k].data();
    for (size_t i = 0; i < x.size(); ++i) scratch_[i] += w * (copy[i] - public_[i]);
  }
  const auto gamma = static_cast<float>(options_.gamma);
  for (size_t i = 0; i < x.size(); ++i) x[i] += gamma * scratch_[i];
  round_ = round;
  host.metrics().ReportModel(RoundOf(round_), x);
  // Deltas of the next round may already be buffered.
  for (size_t k = 0; k < neighbours_.size(); ++k) CatchUp(host, k);
  StartRound(host);
}

}  // namespace murmur
