// Helpers shared by the compress/ unit tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "murmur/compress/codec.h"
#include "murmur/core/rng.h"

namespace murmur::compress_test {

// Standard normal values scaled by `scale`, reproducible from `seed`.
inline std::vector<float> Gaussian(size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed, PeerId(0), RngPurpose::kTest);
  std::vector<float> x(n);
  for (float& v : x) v = static_cast<float>(scale * rng.Normal());
  return x;
}

inline std::unique_ptr<Codec> MustMake(std::string_view spec) {
  Result<std::unique_ptr<Codec>> codec = MakeCodec(spec);
  EXPECT_TRUE(codec.ok()) << spec << ": " << codec.status().ToString();
  if (!codec.ok()) return nullptr;
  return std::move(codec).value();
}

inline std::vector<uint8_t> MustEncode(const Codec& codec, std::span<const float> x,
                                       const CodecContext& ctx = {}) {
  ByteWriter out;
  const Status s = codec.Encode(x, ctx, out);
  EXPECT_TRUE(s.ok()) << codec.name() << ": " << s.ToString();
  return out.bytes();
}

inline std::vector<float> MustDecode(const Codec& codec, std::span<const uint8_t> frame,
                                     size_t dim, const CodecContext& ctx = {}) {
  std::vector<float> out(dim);
  const Status s = codec.Decode(frame, ctx, out);
  EXPECT_TRUE(s.ok()) << codec.name() << ": " << s.ToString();
  return out;
}

inline std::vector<float> RoundTrip(const Codec& codec, std::span<const float> x,
                                    const CodecContext& ctx = {}) {
  return MustDecode(codec, MustEncode(codec, x, ctx), x.size(), ctx);
}

}  // namespace murmur::compress_test
