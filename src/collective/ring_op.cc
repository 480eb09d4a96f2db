#include "ring_op.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "murmur/collective/quantize.h"
#include "murmur/core/check.h"

namespace murmur::collective {
namespace {

int Mod(int a, int n) { return ((a % n) + n) % n; }

// Copies `from` to `to` with non-temporal stores where the CPU has them:
// the backup is written once and read only by Restore(), so it should
// neither be read into the cache first (a normal store's read for
// ownership) nor push out the buffers the ring is working on.
void StreamCopy(std::span<const float> from, float* to) {
  size_t i = 0;
#if defined(__SSE2__)
  const size_t n = from.size();
  while (i < n && reinterpret_cast<uintptr_t>(to + i) % 16 != 0) {
    to[i] = from[i];
    ++i;
  }
  for (; i + 4 <= n; i += 4) {
    _mm_stream_ps(to + i, _mm_loadu_ps(from.data() + i));
  }
  _mm_sfence();
#endif
  if (i < from.size()) std::memcpy(to + i, from.data() + i, (from.size() - i) * sizeof(float));
}

int RankOf(const std::vector<PeerId>& members, PeerId peer) {
  auto it = std::lower_bound(members.begin(), members.end(), peer);
  MURMUR_CHECK(it != members.end() && *it == peer);
  return static_cast<int>(it - members.begin());
}

}  // namespace

RingOp::RingOp(RingParams params, std::span<float> buffer, std::vector<float> backup,
               OpCallback done)
    : p_(std::move(params)), buffer_(buffer), backup_(std::move(backup)), done_(std::move(done)) {
  MURMUR_CHECK(p_.chunk_floats > 0 && !p_.members.empty());
  MURMUR_CHECK(p_.residual.empty() || p_.residual.size() == buffer_.size());
  // A group reuses the storage, so a long buffer's backup does not fault in
  // fresh pages on every operation.
  lazy_backup_ = p_.bits == 0 && p_.residual.empty();
  if (lazy_backup_) {
    // Each chunk is saved just before its first change (BackUp): the copy
    // overlaps the communication instead of delaying the first send, and
    // the chunk is then in cache for the change.
    if (backup_.size() < buffer_.size()) backup_.resize(buffer_.size());
  } else {
    backup_.reserve(buffer_.size() + p_.residual.size());
    backup_.assign(buffer_.begin(), buffer_.end());
    backup_.insert(backup_.end(), p_.residual.begin(), p_.residual.end());
  }
  // Error feedback: this call sends input + the last calls' error.
  for (size_t i = 0; i < p_.residual.size(); ++i) {
    buffer_[i] += p_.residual[i];
    p_.residual[i] = 0;
  }
  rank_ = RankOf(p_.members, p_.self);
  const int segments = p_.kind == OpKind::kAllReduce ? n() : 1;
  for (int s = 0; s < segments; ++s) max_chunks_ = std::max(max_chunks_, ChunkCount(s));
  received_.assign(static_cast<size_t>(steps()) * max_chunks_, 0);
  if (lazy_backup_) backed_up_.assign(static_cast<size_t>(segments) * max_chunks_, 0);
  for (int t = 0; t < steps(); ++t) {
    if (!Receives(t)) continue;
    expected_ += ChunkCount(RecvSegment(t));
    if (Forwards(t)) to_send_ += ChunkCount(RecvSegment(t));
  }
  const bool sends_first = p_.kind == OpKind::kAllReduce || RankOf(p_.members, p_.root) == rank_;
  if (sends_first && n() > 1) to_send_ += ChunkCount(SendSegment(0));
  done_from_.assign(p_.members.size(), 0);
}

PeerId RingOp::predecessor() const { return p_.members[Mod(rank_ - 1, n())]; }
PeerId RingOp::successor() const { return p_.members[Mod(rank_ + 1, n())]; }

ReadyBody RingOp::ready_body() const {
  return ReadyBody{.op = p_.kind, .reduce = p_.reduce, .bits = p_.bits,
                   .root = p_.kind == OpKind::kBroadcast ? p_.root.value : 0,
                   .length = buffer_.size(), .digest = p_.digest};
}

int RingOp::steps() const {
  if (n() == 1) return 0;
  return p_.kind == OpKind::kAllReduce ? 2 * n() - 2 : n() - 1;
}

int RingOp::SendSegment(int step) const {
  return p_.kind == OpKind::kAllReduce ? Mod(rank_ - step, n()) : 0;
}

int RingOp::RecvSegment(int step) const {
  return p_.kind == OpKind::kAllReduce ? Mod(rank_ - step - 1, n()) : 0;
}

bool RingOp::Receives(int step) const {
  if (step < 0 || step >= steps()) return false;
  if (p_.kind == OpKind::kAllReduce) return true;
  const int d = Mod(rank_ - RankOf(p_.members, p_.root), n());
  return d >= 1 && step == d - 1;
}

bool RingOp::Forwards(int step) const {
  if (p_.kind == OpKind::kAllReduce) return step + 1 < steps();
  const int d = Mod(rank_ - RankOf(p_.members, p_.root), n());
  return step == d - 1 && d < n() - 1;
}

size_t RingOp::SegmentBegin(int segment) const {
  const size_t segments = p_.kind == OpKind::kAllReduce ? p_.members.size() : 1;
  return buffer_.size() * static_cast<size_t>(segment) / segments;
}

size_t RingOp::ChunkCount(int segment) const {
  const size_t len = SegmentBegin(segment + 1) - SegmentBegin(segment);
  return (len + p_.chunk_floats - 1) / p_.chunk_floats;
}

std::span<float> RingOp::Chunk(int segment, size_t chunk) {
  const size_t begin = SegmentBegin(segment) + chunk * p_.chunk_floats;
  const size_t end = std::min(SegmentBegin(segment + 1), begin + p_.chunk_floats);
  return buffer_.subspan(begin, end - begin);
}

void RingOp::Send(Host& host, PeerId to, std::vector<uint8_t> message) {
  if (p_.bytes_sent != nullptr) *p_.bytes_sent += message.size();
  host.Send(to, std::move(message));
}

void RingOp::Start(Host& host) {
  last_progress = host.now();
  if (n() == 1) {
    MaybeFinishData(host);
    return;
  }
  Send(host, predecessor(), EncodeReady(p_.tag, ready_body()));
  const bool sends_first = p_.kind == OpKind::kAllReduce || RankOf(p_.members, p_.root) == rank_;
  if (sends_first) ReleaseFirstStep(host);
  MaybeFinishData(host);
}

void RingOp::ReleaseFirstStep(Host& host) {
  const size_t total = ChunkCount(SendSegment(0));
  size_t allowed = total;
  if (p_.kind == OpKind::kAllReduce && p_.window_chunks > 0 &&
      first_received_ < ChunkCount(RecvSegment(0))) {
    allowed = std::min(total, first_received_ + p_.window_chunks);
  }
  while (first_queued_ < allowed) QueueStep(host, 0, first_queued_++);
}

void RingOp::OnReady(Host& host) {
  if (successor_ready_) return;
  successor_ready_ = true;
  last_progress = host.now();
  std::vector<std::pair<int, size_t>> pending = std::move(pending_);
  pending_.clear();
  for (const auto& [step, chunk] : pending) SendOne(host, step, chunk);
  MaybeFinishData(host);
}

void RingOp::QueueStep(Host& host, int step, size_t chunk) {
  if (successor_ready_) {
    SendOne(host, step, chunk);
  } else {
    pending_.emplace_back(step, chunk);
  }
}

void RingOp::SendOne(Host& host, int step, size_t chunk) {
  // The own segment's chunks change later (at their all-gather step); save
  // them now, while encoding reads them anyway.
  if (step == 0 && p_.kind == OpKind::kAllReduce) BackUp(SendSegment(0), chunk);
  std::span<float> data = Chunk(SendSegment(step), chunk);
  if (p_.bits == 0) {
    Send(host, successor(), EncodeChunk(p_.tag, static_cast<uint32_t>(step),
                                        static_cast<uint32_t>(chunk), data));
  } else {
    Send(host, successor(), EncodeQuantized(step, chunk, data));
  }
  ++sent_;
}

std::vector<uint8_t> RingOp::EncodeQuantized(int step, size_t chunk, std::span<float> data) {
  const auto step32 = static_cast<uint32_t>(step);
  const auto chunk32 = static_cast<uint32_t>(chunk);
  const auto count = static_cast<uint32_t>(data.size());
  if (step > n() - 1) {  // all-gather: forward the owner's bytes as received
    auto it = forward_.find({step, chunk});
    MURMUR_CHECK(it != forward_.end());
    std::vector<uint8_t> message = EncodeQChunk(p_.tag, step32, chunk32, count, p_.bits,
                                                it->second.lo, it->second.scale, it->second.bytes);
    forward_.erase(it);
    return message;
  }
  std::vector<uint8_t> codes(QuantizedBytes(data.size(), p_.bits));
  const QuantBlock block = Quantize(data, p_.bits, codes);
  std::vector<float> decoded(data.size());
  Dequantize(block, p_.bits, codes, decoded);
  if (!p_.residual.empty()) {
    const auto offset = static_cast<size_t>(data.data() - buffer_.data());
    for (size_t i = 0; i < data.size(); ++i) p_.residual[offset + i] += data[i] - decoded[i];
  }
  // The owner of a reduced segment keeps what everybody else will decode.
  if (step == n() - 1) std::copy(decoded.begin(), decoded.end(), data.begin());
  return EncodeQChunk(p_.tag, step32, chunk32, count, p_.bits, block.lo, block.scale, codes);
}

void RingOp::ApplyQuantized(int step, const ChunkView& c, std::span<float> slice) {
  std::vector<float> decoded(slice.size());
  Dequantize({c.lo, c.scale}, p_.bits, c.floats, decoded);
  if (step < n() - 1) {
    for (size_t i = 0; i < slice.size(); ++i) slice[i] += decoded[i];
    return;
  }
  std::copy(decoded.begin(), decoded.end(), slice.begin());
  if (Forwards(step)) {
    forward_[{step + 1, c.chunk}] =
        Codes{c.lo, c.scale, std::vector<uint8_t>(c.floats.begin(), c.floats.end())};
  }
}

Status RingOp::OnChunk(Host& host, PeerId from, const ChunkView& c) {
  const int step = static_cast<int>(std::min<uint32_t>(c.step, 1u << 30));
  if (from != predecessor() || !Receives(step)) {
    return Status::Corrupt("collective chunk of step ", c.step, " from peer ", from,
                           ", which rank ", rank_, " does not expect");
  }
  const int segment = RecvSegment(step);
  if (c.chunk >= ChunkCount(segment)) {
    return Status::Corrupt("collective chunk index ", c.chunk, " of step ", c.step,
                           " beyond the segment's ", ChunkCount(segment), " chunks");
  }
  std::span<float> slice = Chunk(segment, c.chunk);
  if (c.bits != p_.bits || (p_.bits != 0 && c.count != slice.size())) {
    return Status::Corrupt("collective chunk of ", c.count, " values at ", +c.bits,
                           " bits where ", slice.size(), " at ", +p_.bits,
                           " were expected (step ", c.step, ")");
  }
  if (p_.bits == 0 && c.floats.size() != slice.size_bytes()) {
    return Status::Corrupt("collective chunk of ", c.floats.size() / 4, " floats where ",
                           slice.size(), " were expected (step ", c.step, ")");
  }
  uint8_t& seen = received_[static_cast<size_t>(step) * max_chunks_ + c.chunk];
  if (seen) return Status::Corrupt("duplicate collective chunk ", c.chunk, " of step ", c.step);
  seen = 1;
  ++received_count_;
  last_progress = host.now();
  BackUp(segment, c.chunk);
  if (p_.bits != 0) {
    ApplyQuantized(step, c, slice);
  } else if (p_.kind == OpKind::kAllReduce && step < n() - 1) {
    AddFloats(c.floats, slice);
  } else {
    CopyFloats(c.floats, slice);
  }
  if (Forwards(step)) QueueStep(host, step + 1, c.chunk);
  if (p_.kind == OpKind::kAllReduce && step == 0) {
    ++first_received_;
    ReleaseFirstStep(host);
  }
  MaybeFinishData(host);
  return Status::Ok();
}

void RingOp::MaybeFinishData(Host& host) {
  if (data_complete_ || received_count_ < expected_ || sent_ < to_send_) return;
  data_complete_ = true;
  if (p_.kind == OpKind::kAllReduce && p_.reduce == ReduceOp::kAverage) {
    for (int s = 0; s < n(); ++s) {
      for (size_t j = 0; j < ChunkCount(s); ++j) BackUp(s, j);
    }
    const float count = static_cast<float>(n());
    for (float& v : buffer_) v /= count;
  }
  done_from_[rank_] = 1;
  ++done_count_;
  for (PeerId peer : p_.members) {
    if (peer != p_.self) Send(host, peer, EncodeDone(p_.tag));
  }
}

void RingOp::OnDone(Host& host, PeerId from) {
  auto it = std::lower_bound(p_.members.begin(), p_.members.end(), from);
  if (it == p_.members.end() || *it != from) return;
  uint8_t& seen = done_from_[it - p_.members.begin()];
  if (seen) return;
  seen = 1;
  ++done_count_;
  last_progress = host.now();
}

bool RingOp::HasDoneFrom(PeerId peer) const {
  auto it = std::lower_bound(p_.members.begin(), p_.members.end(), peer);
  return it != p_.members.end() && *it == peer && done_from_[it - p_.members.begin()];
}

bool RingOp::committed() const { return data_complete_ && done_count_ == p_.members.size(); }

std::vector<PeerId> RingOp::Waiting() const {
  std::vector<PeerId> waiting;
  if (!data_complete_) {
    if (!successor_ready_ && n() > 1) waiting.push_back(successor());
    if (received_count_ < expected_) waiting.push_back(predecessor());
  } else {
    for (size_t i = 0; i < p_.members.size(); ++i) {
      if (!done_from_[i]) waiting.push_back(p_.members[i]);
    }
  }
  std::sort(waiting.begin(), waiting.end());
  waiting.erase(std::unique(waiting.begin(), waiting.end()), waiting.end());
  return waiting;
}

void RingOp::BackUp(int segment, size_t chunk) {
  if (!lazy_backup_) return;
  uint8_t& saved = backed_up_[static_cast<size_t>(segment) * max_chunks_ + chunk];
  if (saved) return;
  saved = 1;
  const std::span<const float> slice = Chunk(segment, chunk);
  StreamCopy(slice, backup_.data() + (slice.data() - buffer_.data()));
}

void RingOp::Restore() {
  if (lazy_backup_) {
    const int segments = p_.kind == OpKind::kAllReduce ? n() : 1;
    for (int s = 0; s < segments; ++s) {
      for (size_t j = 0; j < ChunkCount(s); ++j) {
        if (!backed_up_[static_cast<size_t>(s) * max_chunks_ + j]) continue;
        const std::span<float> slice = Chunk(s, j);
        const auto from = backup_.begin() + static_cast<std::ptrdiff_t>(slice.data() - buffer_.data());
        std::copy(from, from + static_cast<std::ptrdiff_t>(slice.size()), slice.begin());
      }
    }
    return;
  }
  const auto split = backup_.begin() + static_cast<std::ptrdiff_t>(buffer_.size());
  std::copy(backup_.begin(), split, buffer_.begin());
  std::copy(split, backup_.end(), p_.residual.begin());
}

}  // namespace murmur::collective
