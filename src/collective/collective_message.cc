#include "murmur/collective/collective_message.h"

#include <cstring>

#include "murmur/collective/quantize.h"
#include "murmur/core/check.h"

namespace murmur::collective {
namespace {

constexpr std::initializer_list<MessageKind> kKinds = {
    MessageKind::kCollectiveReady, MessageKind::kCollectiveChunk, MessageKind::kCollectiveDone,
    MessageKind::kCollectiveAbort, MessageKind::kCollectiveView,  MessageKind::kCollectiveJoin,
    MessageKind::kStateHash,       MessageKind::kStateRequest,    MessageKind::kStateChunk,
    MessageKind::kCollectiveQChunk, MessageKind::kCollectiveEvicted,
};

ByteWriter Start(MessageKind kind, OpTag tag, size_t body) {
  ByteWriter out(9 + body);
  WriteMessageKind(kind, out);
  out.WriteU32(tag.epoch);
  out.WriteU32(tag.seq);
  return out;
}

void WriteFloatsRaw(std::span<const float> values, ByteWriter& out) {
  out.WriteU32(static_cast<uint32_t>(values.size()));
  out.WriteBytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(values.data()),
                                          values.size_bytes()));
}

}  // namespace

bool IsCollectiveMessage(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return false;
  for (MessageKind kind : kKinds) {
    if (static_cast<uint8_t>(kind) == bytes[0]) return true;
  }
  return false;
}

bool IsStateSyncMessage(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return false;
  return bytes[0] == static_cast<uint8_t>(MessageKind::kStateHash) ||
         bytes[0] == static_cast<uint8_t>(MessageKind::kStateRequest) ||
         bytes[0] == static_cast<uint8_t>(MessageKind::kStateChunk);
}

std::vector<uint8_t> EncodeReady(OpTag tag, const ReadyBody& body) {
  ByteWriter out = Start(MessageKind::kCollectiveReady, tag, 23);
  out.WriteU8(static_cast<uint8_t>(body.op));
  out.WriteU8(static_cast<uint8_t>(body.reduce));
  out.WriteU8(body.bits);
  out.WriteU32(body.root);
  out.WriteU64(body.length);
  out.WriteU64(body.digest);
  return std::move(out).Take();
}

std::vector<uint8_t> EncodeChunk(OpTag tag, uint32_t step, uint32_t chunk,
                                 std::span<const float> values) {
  ByteWriter out = Start(MessageKind::kCollectiveChunk, tag, 12 + values.size_bytes());
  out.WriteU32(step);
  out.WriteU32(chunk);
  WriteFloatsRaw(values, out);
  return std::move(out).Take();
}

std::vector<uint8_t> EncodeQChunk(OpTag tag, uint32_t step, uint32_t chunk, uint32_t count,
                                  uint8_t bits, float lo, float scale,
                                  std::span<const uint8_t> codes) {
  MURMUR_CHECK(codes.size() == QuantizedBytes(count, bits));
  ByteWriter out = Start(MessageKind::kCollectiveQChunk, tag, 21 + codes.size());
  out.WriteU32(step);
  out.WriteU32(chunk);
  out.WriteU32(count);
  out.WriteU8(bits);
  out.WriteF32(lo);
  out.WriteF32(scale);
  out.WriteBytes(codes);
  return std::move(out).Take();
}

std::vector<uint8_t> EncodeDone(OpTag tag) {
  return Start(MessageKind::kCollectiveDone, tag, 0).Take();
}

std::vector<uint8_t> EncodeAbort(OpTag tag, std::span<const PeerId> lost) {
  ByteWriter out = Start(MessageKind::kCollectiveAbort, tag, 4 + 4 * lost.size());
  out.WriteU32(static_cast<uint32_t>(lost.size()));
  for (PeerId p : lost) out.WriteU32(p.value);
  return std::move(out).Take();
}

std::vector<uint8_t> EncodeView(uint32_t epoch, std::span<const ViewEntry> view) {
  ByteWriter out = Start(MessageKind::kCollectiveView, OpTag{epoch, 0}, 4 + 13 * view.size());
  out.WriteU32(static_cast<uint32_t>(view.size()));
  for (const ViewEntry& e : view) {
    out.WriteU32(e.peer.value);
    out.WriteU64(e.incarnation);
    out.WriteU8(e.dead ? 1 : 0);
  }
  return std::move(out).Take();
}

std::vector<uint8_t> EncodeJoin(uint64_t incarnation) {
  ByteWriter out = Start(MessageKind::kCollectiveJoin, OpTag{}, 8);
  out.WriteU64(incarnation);
  return std::move(out).Take();
}

std::vector<uint8_t> EncodeEvicted(uint32_t epoch, uint64_t incarnation) {
  ByteWriter out = Start(MessageKind::kCollectiveEvicted, OpTag{epoch, 0}, 8);
  out.WriteU64(incarnation);
  return std::move(out).Take();
}

std::vector<uint8_t> EncodeStateHash(OpTag tag, const StateDigest& digest) {
  ByteWriter out = Start(MessageKind::kStateHash, tag, digest.size());
  out.WriteBytes(digest);
  return std::move(out).Take();
}

std::vector<uint8_t> EncodeStateRequest(OpTag tag, const StateRange& range) {
  ByteWriter out = Start(MessageKind::kStateRequest, tag, 16);
  out.WriteU32(range.request);
  out.WriteU64(range.offset);
  out.WriteU32(range.count);
  return std::move(out).Take();
}

std::vector<uint8_t> EncodeStateChunk(OpTag tag, const StateRange& range,
                                      std::span<const float> values) {
  MURMUR_CHECK(values.size() == range.count);
  ByteWriter out = Start(MessageKind::kStateChunk, tag, 16 + values.size_bytes());
  out.WriteU32(range.request);
  out.WriteU64(range.offset);
  WriteFloatsRaw(values, out);
  return std::move(out).Take();
}

Result<Header> ReadHeader(ByteReader& in) {
  Header h;
  MURMUR_ASSIGN_OR_RETURN(h.kind, ReadMessageKind(in, kKinds, "collective message"));
  MURMUR_ASSIGN_OR_RETURN(h.tag.epoch, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(h.tag.seq, in.ReadU32());
  return h;
}

Result<ReadyBody> ReadReady(ByteReader& in) {
  ReadyBody b;
  MURMUR_ASSIGN_OR_RETURN(uint8_t op, in.ReadU8());
  MURMUR_ASSIGN_OR_RETURN(uint8_t reduce, in.ReadU8());
  MURMUR_ASSIGN_OR_RETURN(b.bits, in.ReadU8());
  if (b.bits != 0 && !ValidQuantBits(b.bits)) {
    return Status::Corrupt("collective ready: unknown quantization width ", +b.bits);
  }
  if (op != 1 && op != 2) return Status::Corrupt("collective ready: unknown operation ", +op);
  if (reduce > 1) return Status::Corrupt("collective ready: unknown reduction ", +reduce);
  b.op = static_cast<OpKind>(op);
  b.reduce = static_cast<ReduceOp>(reduce);
  MURMUR_ASSIGN_OR_RETURN(b.root, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(b.length, in.ReadU64());
  MURMUR_ASSIGN_OR_RETURN(b.digest, in.ReadU64());
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  return b;
}

Result<ChunkView> ReadChunk(std::span<const uint8_t> message, size_t max_floats) {
  constexpr size_t kFixed = 9 + 12;
  if (message.size() < kFixed) {
    return Status::Corrupt("collective chunk: ", message.size(), " bytes, shorter than its header");
  }
  ByteReader in(message.subspan(9, 12));
  ChunkView v;
  MURMUR_ASSIGN_OR_RETURN(v.step, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(v.chunk, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(uint32_t n, in.ReadU32());
  if (n > max_floats) {
    return Status::Corrupt("collective chunk: ", n, " floats exceed the limit of ", max_floats);
  }
  if (message.size() - kFixed != size_t{n} * 4) {
    return Status::Corrupt("collective chunk: ", n, " floats in ", message.size() - kFixed,
                           " bytes");
  }
  v.count = n;
  v.floats = message.subspan(kFixed);
  return v;
}

Result<ChunkView> ReadQChunk(std::span<const uint8_t> message, size_t max_floats) {
  constexpr size_t kFixed = 9 + 21;
  if (message.size() < kFixed) {
    return Status::Corrupt("collective quantized chunk: ", message.size(),
                           " bytes, shorter than its header");
  }
  ByteReader in(message.subspan(9, 21));
  ChunkView v;
  MURMUR_ASSIGN_OR_RETURN(v.step, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(v.chunk, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(v.count, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(v.bits, in.ReadU8());
  if (!ValidQuantBits(v.bits)) {
    return Status::Corrupt("collective quantized chunk: unknown width ", +v.bits);
  }
  if (v.count > max_floats) {
    return Status::Corrupt("collective quantized chunk: ", v.count,
                           " values exceed the limit of ", max_floats);
  }
  if (message.size() - kFixed != QuantizedBytes(v.count, v.bits)) {
    return Status::Corrupt("collective quantized chunk: ", v.count, " values of ", +v.bits,
                           " bits in ", message.size() - kFixed, " bytes");
  }
  MURMUR_ASSIGN_OR_RETURN(v.lo, in.ReadF32());
  MURMUR_ASSIGN_OR_RETURN(v.scale, in.ReadF32());
  v.floats = message.subspan(kFixed);
  return v;
}

Status ReadEnd(ByteReader& in) { return in.ExpectEnd(); }

Result<std::vector<PeerId>> ReadAbort(ByteReader& in, size_t max_entries) {
  MURMUR_ASSIGN_OR_RETURN(uint32_t n, in.ReadU32());
  if (n > max_entries || in.remaining() != size_t{n} * 4) {
    return Status::Corrupt("collective abort: ", n, " lost peers with ", in.remaining(),
                           " bytes left (limit ", max_entries, ")");
  }
  std::vector<PeerId> lost;
  for (uint32_t i = 0; i < n; ++i) {
    MURMUR_ASSIGN_OR_RETURN(uint32_t p, in.ReadU32());
    lost.push_back(PeerId(p));
  }
  return lost;
}

Result<std::vector<ViewEntry>> ReadView(ByteReader& in, size_t max_entries) {
  MURMUR_ASSIGN_OR_RETURN(uint32_t n, in.ReadU32());
  if (n > max_entries || in.remaining() != size_t{n} * 13) {
    return Status::Corrupt("collective view: ", n, " entries with ", in.remaining(),
                           " bytes left (limit ", max_entries, ")");
  }
  std::vector<ViewEntry> view;
  for (uint32_t i = 0; i < n; ++i) {
    ViewEntry e;
    MURMUR_ASSIGN_OR_RETURN(uint32_t p, in.ReadU32());
    e.peer = PeerId(p);
    MURMUR_ASSIGN_OR_RETURN(e.incarnation, in.ReadU64());
    MURMUR_ASSIGN_OR_RETURN(uint8_t dead, in.ReadU8());
    if (dead > 1) return Status::Corrupt("collective view: dead flag ", +dead);
    e.dead = dead == 1;
    if (!view.empty() && !(view.back().peer < e.peer)) {
      return Status::Corrupt("collective view: peers not strictly increasing at ", e.peer);
    }
    view.push_back(e);
  }
  return view;
}

Result<uint64_t> ReadJoin(ByteReader& in) {
  MURMUR_ASSIGN_OR_RETURN(uint64_t incarnation, in.ReadU64());
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  return incarnation;
}

Result<StateDigest> ReadStateHash(ByteReader& in) {
  StateDigest d;
  for (uint8_t& b : d) {
    MURMUR_ASSIGN_OR_RETURN(b, in.ReadU8());
  }
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  return d;
}

Result<StateRange> ReadStateRequest(ByteReader& in) {
  StateRange r;
  MURMUR_ASSIGN_OR_RETURN(r.request, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(r.offset, in.ReadU64());
  MURMUR_ASSIGN_OR_RETURN(r.count, in.ReadU32());
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  return r;
}

Result<StateRange> ReadStateChunk(ByteReader& in, size_t max_count, std::vector<float>& out) {
  StateRange r;
  MURMUR_ASSIGN_OR_RETURN(r.request, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(r.offset, in.ReadU64());
  MURMUR_ASSIGN_OR_RETURN(std::vector<float> values, in.ReadFloats(max_count));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  r.count = static_cast<uint32_t>(values.size());
  out = std::move(values);
  return r;
}

void CopyFloats(std::span<const uint8_t> bytes, std::span<float> out) {
  MURMUR_CHECK(bytes.size() == out.size_bytes());
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
}

void AddFloats(std::span<const uint8_t> bytes, std::span<float> out) {
  MURMUR_CHECK(bytes.size() == out.size_bytes());
  for (size_t i = 0; i < out.size(); ++i) {
    float v;
    std::memcpy(&v, bytes.data() + 4 * i, 4);
    out[i] += v;
  }
}

}  // namespace murmur::collective
