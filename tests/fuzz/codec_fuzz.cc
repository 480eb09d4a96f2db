// Fuzz target: the compress/ decoders of one codec family, picked at
// compile time (-DMURMUR_CODEC_FAMILY="topk"; CMakeLists.txt builds
// codec_<family>_fuzz for each family below), so each decoder gets its own
// coverage-guided run. Byte 0 picks the spec within the family, byte 1 the
// mode:
//   mode 0: the rest is a frame from a peer; decode it at the dimension it
//           declares (and at a few others);
//   mode 1: the rest seeds a valid vector; encode it, check the frame
//           decodes, then corrupt it with the trailing bytes (position/xor
//           pairs, a truncation) and decode again;
//   mode 2 (fedzip only): the rest is a Huffman table and stream.
// A decoder must return OK with finite values (and a well-formed sparse
// update) or kCorrupt; anything else aborts.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "fuzz_seeds.h"

#include "compress/huffman.h"
#include "murmur/compress/codec.h"

namespace {

using murmur::Codec;
using murmur::CodecContext;
using murmur::PeerId;
using murmur::Rng;
using murmur::RngPurpose;
using murmur::SparseUpdate;
using murmur::Status;
using murmur::StatusCode;

#ifndef MURMUR_CODEC_FAMILY
#error "build with -DMURMUR_CODEC_FAMILY=\"<family>\" (see kSpecs)"
#endif
constexpr std::string_view kFamily = MURMUR_CODEC_FAMILY;

struct FamilySpec {
  std::string_view family;
  const char* spec;
};

// Chains sit with their first stage; zstd holds the chains that end in it.
constexpr FamilySpec kSpecs[] = {
    {"float", "fp32"},
    {"float", "fp16"},
    {"float", "bf16"},
    {"qsgd", "int8:block=16"},
    {"qsgd", "int4"},
    {"qsgd", "int2:block=0"},
    {"qsgd", "int8:round=nearest"},
    {"sign", "sign"},
    {"topk", "topk:0.1"},
    {"topk", "topk:k=3|int4"},
    {"topk", "topk:0.25|fp16"},
    {"randk", "randk:0.25"},
    {"randk", "randk:0.5,scaling=none|bf16"},
    {"randk", "randk:k=5|int8"},
    {"powersgd", "powersgd:2"},
    {"powersgd", "powersgd:1,rows=3|fp16"},
    {"fedzip", "fedzip:0.5,clusters=4"},
    {"fedzip", "fedzip:0.2,clusters=16"},
    {"rqm", "rqm"},
    {"rqm", "rqm:clip=0.05,delta=0.075,levels=3,keep=1"},
    {"rqm", "rqm:levels=65536,keep=0.25"},
    {"zstd", "zstd"},
    {"zstd", "sign|zstd:3"},
    {"zstd", "topk:0.2|int8|zstd"},
    {"zstd", "fedzip:0.1,clusters=8|zstd:3"},
    {"zstd", "rqm:levels=16|zstd"},
};

constexpr bool kHuffman = kFamily == "fedzip";

// This family's codecs; aborts if the family is unknown or a spec is bad.
const std::vector<std::unique_ptr<Codec>>& Codecs() {
  static const std::vector<std::unique_ptr<Codec>>* codecs = [] {
    auto* v = new std::vector<std::unique_ptr<Codec>>();
    for (const FamilySpec& s : kSpecs) {
      if (s.family != kFamily) continue;
      auto c = murmur::MakeCodec(s.spec);
      if (!c.ok()) std::abort();
      v->push_back(std::move(c).value());
    }
    if (v->empty()) std::abort();
    return v;
  }();
  return *codecs;
}

void CheckDecode(const Codec& codec, std::span<const uint8_t> frame, size_t dim,
                 const CodecContext& ctx) {
  std::vector<float> out(dim);
  const Status s = codec.Decode(frame, ctx, out);
  if (s.ok()) {
    for (float v : out) {
      if (!std::isfinite(v)) std::abort();
    }
  } else if (s.code() != StatusCode::kCorrupt) {
    std::abort();
  }
  SparseUpdate sparse;
  const Status t = codec.DecodeSparse(frame, ctx, dim, sparse);
  if (t.ok() != s.ok()) std::abort();
  if (t.ok()) {
    if (sparse.indices.size() != sparse.values.size()) std::abort();
    for (size_t i = 0; i < sparse.indices.size(); ++i) {
      if (sparse.indices[i] >= dim) std::abort();
      if (i > 0 && sparse.indices[i] <= sparse.indices[i - 1]) std::abort();
      if (!std::isfinite(sparse.values[i])) std::abort();
      if (sparse.values[i] != out[sparse.indices[i]]) std::abort();
    }
  } else if (t.code() != StatusCode::kCorrupt) {
    std::abort();
  }
}

// The dimension a frame declares (byte 1.. as a varint), if small.
size_t DeclaredDim(std::span<const uint8_t> frame) {
  uint64_t v = 0;
  for (size_t i = 1; i < frame.size() && i < 5; ++i) {
    v |= static_cast<uint64_t>(frame[i] & 0x7f) << (7 * (i - 1));
    if ((frame[i] & 0x80) == 0) return v <= 4096 ? v : 0;
  }
  return 0;
}

// A finite vector of `dim` values derived from `bytes`.
std::vector<float> Values(std::span<const uint8_t> bytes, size_t dim) {
  std::vector<float> x(dim);
  for (size_t i = 0; i < dim; ++i) {
    const uint8_t b = bytes.empty() ? 0 : bytes[i % bytes.size()];
    x[i] = static_cast<float>(static_cast<int8_t>(b ^ static_cast<uint8_t>(i * 37))) *
           (i % 5 == 0 ? 1e-3f : 0.25f);
  }
  return x;
}

void FuzzHuffman(std::span<const uint8_t> data) {
  if (data.size() < 2) return;
  const size_t n_symbols = 1 + data[0] % 32;
  const size_t n_decode = data[1];
  data = data.subspan(2);
  const size_t table_bytes = std::min(data.size(), n_symbols);
  std::vector<uint8_t> lengths(data.begin(), data.begin() + table_bytes);
  for (uint8_t& l : lengths) l &= 0x0f;
  auto decoder = murmur::compress_internal::HuffmanDecoder::Create(lengths);
  if (!decoder.ok()) return;
  std::vector<uint8_t> symbols(n_decode);
  const Status s = decoder->Decode(data.subspan(table_bytes), symbols);
  if (s.ok()) {
    for (uint8_t sym : symbols) {
      if (sym >= lengths.size() || lengths[sym] == 0) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Codec& codec = *Codecs()[data[0] % Codecs().size()];
  const int mode = data[1] % (kHuffman ? 3 : 2);
  const std::span<const uint8_t> rest(data + 2, size - 2);
  Rng privacy(1, PeerId(2), RngPurpose::kTest);  // the rqm codec's mechanism draws
  const CodecContext ctx{.seed = 1, .sender = PeerId(2), .step = 3, .privacy_rng = &privacy};

  if (mode == 0) {
    for (size_t dim : {DeclaredDim(rest), size_t{0}, size_t{16}}) {
      CheckDecode(codec, rest, dim, ctx);
    }
    return 0;
  }
  if (mode == 2) {
    FuzzHuffman(rest);
    return 0;
  }

  // mode 1: byte 0 is the dimension, byte 1 how many trailing bytes are
  // edits; the bytes between seed the values.
  if (rest.size() < 2) return 0;
  const size_t dim = rest[0] % 200;
  const size_t n_edits = std::min<size_t>(rest[1] % 10, rest.size() - 2);
  const std::span<const uint8_t> values = rest.subspan(2, rest.size() - 2 - n_edits);
  const std::span<const uint8_t> edits = rest.subspan(rest.size() - n_edits);
  const std::vector<float> x = Values(values, dim);
  murmur::ByteWriter w;
  if (!codec.Encode(x, ctx, w).ok()) std::abort();
  std::vector<uint8_t> frame = w.bytes();
  std::vector<float> out(dim);
  if (!codec.Decode(frame, ctx, out).ok()) std::abort();
  if (frame.size() > codec.MaxEncodedSize(dim)) std::abort();
  // Edits: (position, xor) pairs, then possibly a truncation.
  size_t i = 0;
  for (; i + 1 < edits.size(); i += 2) {
    if (frame.empty()) break;
    frame[edits[i] % frame.size()] ^= edits[i + 1];
  }
  if (i < edits.size() && edits[i] % 2 == 1) frame.resize(edits[i] % (frame.size() + 1));
  CheckDecode(codec, frame, dim, ctx);
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  std::vector<Seed> seeds;
  Rng privacy(1, PeerId(2), RngPurpose::kTest);  // the rqm codec's mechanism draws
  const CodecContext ctx{.seed = 1, .sender = PeerId(2), .step = 3, .privacy_rng = &privacy};
  const std::vector<uint8_t> pattern = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  for (size_t c = 0; c < Codecs().size(); ++c) {
    const uint8_t index = static_cast<uint8_t>(c);
    // mode 1: encode 64 and 100 values (no edits, then 4 edit bytes), 1 value.
    for (uint8_t dim : {64, 100, 1}) {
      Seed s = {index, 1, dim, 0};
      s.insert(s.end(), pattern.begin(), pattern.end());
      seeds.push_back(s);
    }
    Seed edited = {index, 1, 64, 4};
    edited.insert(edited.end(), pattern.begin(), pattern.end());
    edited.insert(edited.end(), {9, 0x10, 3, 0x80});
    seeds.push_back(edited);
    // mode 0: real frames of 16 and 40 values (the dimension they declare).
    for (size_t dim : {size_t{16}, size_t{40}}) {
      murmur::ByteWriter w;
      if (!Codecs()[c]->Encode(Values(pattern, dim), ctx, w).ok()) std::abort();
      Seed s = {index, 0};
      s.insert(s.end(), w.bytes().begin(), w.bytes().end());
      seeds.push_back(s);
    }
  }
  if (kHuffman) {
    // mode 2: 4 symbols with code lengths 1, 2, 3, 3 (a complete code),
    // 8 symbols to decode from two stream bytes.
    seeds.push_back({0, 2, 3, 8, 1, 2, 3, 3, 0x5a, 0xc3});
  }
  return seeds;
}
