#include "murmur/protocol/spsa_message.h"

#include <algorithm>
#include <cmath>

#include "murmur/core/bytes.h"
#include "murmur/core/check.h"

namespace murmur {
namespace {

Status ExpectKind(ByteReader& in, SpsaMessageKind expected, const char* what) {
  return ReadMessageKind(in, {static_cast<MessageKind>(expected)}, what).status();
}

void WriteHeader(SpsaMessageKind kind, uint32_t step, ByteWriter& out) {
  WriteMessageHeader({static_cast<MessageKind>(kind), Round(step)}, out);
}

}  // namespace

int8_t QuantizeProjectedGrad(double g, double clip, double uniform) {
  MURMUR_CHECK(clip > 0);
  if (!std::isfinite(g)) g = 0;  // a diverged loss must not move the model
  const double level = std::clamp(g, -clip, clip) / clip * 127.0;
  const double low = std::floor(level);
  const double q = low + (uniform < level - low ? 1.0 : 0.0);
  return static_cast<int8_t>(std::clamp(q, -127.0, 127.0));
}

double DequantizeProjectedGrad(int8_t q, double clip) {
  return static_cast<double>(q) / 127.0 * clip;
}

Result<SpsaMessageKind> PeekSpsaKind(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return Status::Corrupt("empty SPSA frame");
  return static_cast<SpsaMessageKind>(bytes[0]);
}

std::vector<uint8_t> EncodeSpsaUpdate(const SpsaUpdate& update) {
  ByteWriter out(kSpsaUpdateBytes);
  WriteHeader(SpsaMessageKind::kSpsaUpdate, update.step, out);
  out.WriteU8(static_cast<uint8_t>(update.q));
  return std::move(out).Take();
}

Result<SpsaUpdate> DecodeSpsaUpdate(std::span<const uint8_t> bytes) {
  if (bytes.size() != kSpsaUpdateBytes) {
    return Status::Corrupt("SPSA update of ", bytes.size(), " bytes, expected ",
                           kSpsaUpdateBytes);
  }
  ByteReader in(bytes);
  MURMUR_RETURN_IF_ERROR(ExpectKind(in, SpsaMessageKind::kSpsaUpdate, "SPSA update"));
  SpsaUpdate update;
  MURMUR_ASSIGN_OR_RETURN(update.step, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(uint8_t q, in.ReadU8());
  update.q = static_cast<int8_t>(q);
  if (update.q == -128) return Status::Corrupt("SPSA update: quantized value -128 is never sent");
  return update;
}

std::vector<uint8_t> EncodeSpsaModelRequest(uint32_t step) {
  ByteWriter out(5);
  WriteHeader(SpsaMessageKind::kSpsaModelRequest, step, out);
  return std::move(out).Take();
}

Result<uint32_t> DecodeSpsaModelRequest(std::span<const uint8_t> bytes) {
  ByteReader in(bytes);
  MURMUR_RETURN_IF_ERROR(ExpectKind(in, SpsaMessageKind::kSpsaModelRequest, "SPSA model request"));
  MURMUR_ASSIGN_OR_RETURN(uint32_t step, in.ReadU32());
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  return step;
}

std::vector<uint8_t> EncodeSpsaModelReply(uint32_t step, std::span<const float> params) {
  ByteWriter out(9 + params.size_bytes());
  WriteHeader(SpsaMessageKind::kSpsaModelReply, step, out);
  out.WriteFloats(params);
  return std::move(out).Take();
}

Result<SpsaModelReply> DecodeSpsaModelReply(std::span<const uint8_t> bytes,
                                            size_t expected_params) {
  ByteReader in(bytes);
  MURMUR_RETURN_IF_ERROR(ExpectKind(in, SpsaMessageKind::kSpsaModelReply, "SPSA model reply"));
  SpsaModelReply reply;
  MURMUR_ASSIGN_OR_RETURN(reply.step, in.ReadU32());
  reply.params.resize(expected_params);
  MURMUR_RETURN_IF_ERROR(in.ReadFloatsInto(reply.params));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  for (float v : reply.params) {
    if (!std::isfinite(v)) return Status::Corrupt("SPSA model reply: non-finite parameter");
  }
  return reply;
}

std::vector<uint8_t> EncodeKSeedFrame(const KSeedFrame& frame) {
  ByteWriter out(10 + 8 * frame.pairs.size());
  WriteHeader(frame.kind, frame.round, out);
  if (frame.kind == SpsaMessageKind::kKSeedRound) out.WriteU8(frame.selected ? 1 : 0);
  out.WriteU32(static_cast<uint32_t>(frame.pairs.size()));
  for (const SeedScalar& p : frame.pairs) {
    out.WriteU32(p.index);
    out.WriteF32(p.scalar);
  }
  return std::move(out).Take();
}

Result<KSeedFrame> DecodeKSeedFrame(std::span<const uint8_t> bytes, SpsaMessageKind expected,
                                    size_t max_pairs, uint32_t pool) {
  MURMUR_CHECK(expected == SpsaMessageKind::kKSeedRound ||
               expected == SpsaMessageKind::kKSeedUpdate);
  ByteReader in(bytes);
  MURMUR_RETURN_IF_ERROR(ExpectKind(in, expected, "FedKSeed"));
  KSeedFrame frame;
  frame.kind = expected;
  MURMUR_ASSIGN_OR_RETURN(frame.round, in.ReadU32());
  if (expected == SpsaMessageKind::kKSeedRound) {
    MURMUR_ASSIGN_OR_RETURN(uint8_t selected, in.ReadU8());
    if (selected > 1) return Status::Corrupt("FedKSeed round: selected flag ", +selected);
    frame.selected = selected == 1;
  }
  MURMUR_ASSIGN_OR_RETURN(uint32_t n, in.ReadU32());
  if (n > max_pairs) {
    return Status::Corrupt("FedKSeed frame of ", n, " pairs exceeds limit ", max_pairs);
  }
  if (in.remaining() != static_cast<size_t>(n) * 8) {
    return Status::Corrupt("FedKSeed frame: ", n, " pairs need ", static_cast<size_t>(n) * 8,
                           " bytes, ", in.remaining(), " follow");
  }
  frame.pairs.resize(n);
  for (SeedScalar& p : frame.pairs) {
    MURMUR_ASSIGN_OR_RETURN(p.index, in.ReadU32());
    MURMUR_ASSIGN_OR_RETURN(p.scalar, in.ReadF32());
    if (p.index >= pool) {
      return Status::Corrupt("FedKSeed frame: seed index ", p.index, " outside the pool of ", pool);
    }
    if (!std::isfinite(p.scalar)) return Status::Corrupt("FedKSeed frame: non-finite scalar");
  }
  return frame;
}

}  // namespace murmur
