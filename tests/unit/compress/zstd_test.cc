#include "murmur/compress/zstd.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include "compress/wire.h"
#include "compress_test_util.h"
#include "murmur/compress/float_cast.h"
#include "murmur/compress/quantize.h"

namespace murmur {
namespace {

using compress_test::Gaussian;
using compress_test::MustEncode;
using compress_test::RoundTrip;

TEST(ZstdCodec, IsLosslessOverItsInnerCodec) {
  const std::vector<float> x = Gaussian(50000, 1);
  ZstdCodec fp32(std::make_unique<Fp32Codec>(), 3);
  EXPECT_EQ(RoundTrip(fp32, x), x);
  const CodecContext ctx{.seed = 2, .sender = PeerId(1), .step = 7};
  QsgdCodec int4({.bits = 4});
  ZstdCodec zint4(std::make_unique<QsgdCodec>(QsgdOptions{.bits = 4}), 1);
  EXPECT_EQ(RoundTrip(zint4, x, ctx), RoundTrip(int4, x, ctx));
}

TEST(ZstdCodec, ShrinksRedundantFrames) {
  std::vector<float> x(100000, 0.0f);
  for (size_t i = 0; i < x.size(); i += 100) x[i] = 1.0f;
  ZstdCodec codec(std::make_unique<Fp32Codec>(), 1);
  EXPECT_LT(MustEncode(codec, x).size(), x.size() * 4 / 20);
}

// A frame whose zstd content claims more bytes than an honest inner frame
// could have: rejected before the decoder allocates for it.
TEST(ZstdCodec, RejectsDeclaredSizeAboveTheLimitBeforeAllocating) {
  ZstdCodec codec(std::make_unique<Fp32Codec>(), 1);
  const size_t dim = 10;
  std::vector<uint8_t> big(codec.MaxEncodedSize(dim) + 1000, 0);
  std::vector<uint8_t> compressed(ZSTD_compressBound(big.size()));
  compressed.resize(ZSTD_compress(compressed.data(), compressed.size(), big.data(), big.size(), 1));
  ByteWriter w;
  compress_internal::WriteHeader(w, CodecId::kZstd, dim);
  w.WriteBytes(compressed);
  std::vector<float> out(dim);
  const Status s = codec.Decode(w.bytes(), {}, out);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("exceeds the limit"), std::string::npos) << s.message();
}

TEST(ZstdCodec, RejectsUnknownContentSizeAndTrailingFrames) {
  ZstdCodec codec(std::make_unique<Fp32Codec>(), 1);
  const std::vector<float> x = {1, 2, 3};
  std::vector<uint8_t> frame = MustEncode(codec, x);
  std::vector<float> out(3);
  ASSERT_TRUE(codec.Decode(frame, {}, out).ok());
  std::vector<uint8_t> twice = frame;
  twice.insert(twice.end(), frame.begin() + 2, frame.end());  // a second zstd frame
  EXPECT_EQ(codec.Decode(twice, {}, out).code(), StatusCode::kCorrupt);

  // A zstd frame without its content size.
  Fp32Codec inner;
  const std::vector<uint8_t> inner_frame = MustEncode(inner, x);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  std::vector<uint8_t> body(ZSTD_compressBound(inner_frame.size()));
  const size_t n = ZSTD_compress2(cctx, body.data(), body.size(), inner_frame.data(),
                                  inner_frame.size());
  ZSTD_freeCCtx(cctx);
  ASSERT_FALSE(ZSTD_isError(n));
  body.resize(n);
  ByteWriter w;
  compress_internal::WriteHeader(w, CodecId::kZstd, 3);
  w.WriteBytes(body);
  const Status s = codec.Decode(w.bytes(), {}, out);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("not declared"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace murmur
