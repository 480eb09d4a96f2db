// Fuzz target: the compressed protocol messages (coded_message.h) as CHOCO
// and compressed FedAvg decode them: the header for every expected kind,
// then the payload through a few codecs at dimension 16, densely, sparsely
// and through an EF21 uplink decoder. Every step must return OK with
// finite, well-formed values or kCorrupt; anything else aborts.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/compress/codec.h"
#include "murmur/protocol/coded_message.h"
#include "murmur/protocol/fedavg_compression.h"

namespace {

using murmur::CodedMessageKind;
using murmur::StatusCode;

constexpr size_t kDim = 16;

void Require(bool ok) {
  if (!ok) std::abort();
}

void RequireOkOrCorrupt(const murmur::Status& s) {
  Require(s.ok() || s.code() == StatusCode::kCorrupt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto codecs = [] {
    std::vector<std::unique_ptr<murmur::Codec>> out;
    for (const char* spec : {"fp32", "topk:0.25|int8", "sign"}) {
      out.push_back(murmur::MakeCodec(spec).value());
    }
    return out;
  }();
  const std::span<const uint8_t> bytes(data, size);
  for (CodedMessageKind kind : {CodedMessageKind::kChocoDelta, CodedMessageKind::kFedAvgCodedGlobal,
                                CodedMessageKind::kFedAvgCodedUpdate}) {
    murmur::Result<murmur::CodedMessage> m = murmur::ReadCodedMessage(bytes, kind);
    RequireOkOrCorrupt(m.status());
    if (!m.ok()) continue;
    Require(m->payload.data() >= data && m->payload.data() + m->payload.size() <= data + size);
    const murmur::CodecContext ctx{.seed = 1, .sender = murmur::PeerId(3),
                                   .step = m->header.round.value};
    for (const auto& codec : codecs) {
      murmur::SparseUpdate sparse;
      const murmur::Status s = codec->DecodeSparse(m->payload, ctx, kDim, sparse);
      RequireOkOrCorrupt(s);
      if (s.ok()) {
        Require(sparse.indices.size() == sparse.values.size());
        for (size_t i = 0; i < sparse.indices.size(); ++i) {
          Require(sparse.indices[i] < kDim && (i == 0 || sparse.indices[i] > sparse.indices[i - 1]));
          Require(std::isfinite(sparse.values[i]));
        }
      }
      murmur::UplinkDecoder decoder(*codec, kDim, murmur::ErrorFeedbackKind::kEf21);
      std::vector<float> update(kDim);
      for (int repeat = 0; repeat < 2; ++repeat) {
        murmur::Result<bool> used = decoder.Receive(m->payload, m->header.sequence, ctx, update);
        RequireOkOrCorrupt(used.status());
        if (used.ok() && *used) {
          for (float v : update) Require(std::isfinite(v));
        }
      }
    }
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // Each kind the target decodes, carrying a real frame of each codec at
  // dimension 16, plus a CHOCO resync request (no payload).
  std::vector<float> x(kDim);
  for (size_t i = 0; i < kDim; ++i) x[i] = 0.25f * static_cast<float>(static_cast<int>(i) - 8);
  std::vector<Seed> seeds;
  uint32_t sequence = 0;
  for (CodedMessageKind kind : {CodedMessageKind::kChocoDelta, CodedMessageKind::kChocoSnapshot,
                                CodedMessageKind::kFedAvgCodedGlobal,
                                CodedMessageKind::kFedAvgCodedUpdate}) {
    for (const char* spec : {"fp32", "topk:0.25|int8", "sign"}) {
      const murmur::CodecContext ctx{.seed = 1, .sender = murmur::PeerId(3), .step = 2};
      murmur::ByteWriter out;
      murmur::WriteCodedMessageHeader(
          {.kind = kind, .round = murmur::Round(2), .weight = 5, .sequence = ++sequence % 3},
          out);
      if (!murmur::MakeCodec(spec).value()->Encode(x, ctx, out).ok()) std::abort();
      seeds.push_back(out.bytes());
    }
  }
  murmur::ByteWriter resync;
  murmur::WriteCodedMessageHeader({.kind = CodedMessageKind::kChocoResyncRequest,
                                   .round = murmur::Round(4), .weight = 6, .sequence = 3},
                                  resync);
  seeds.push_back(resync.bytes());
  return seeds;
}
