#include <gtest/gtest.h>

#include <cmath>

#include "compress_test_util.h"
#include "murmur/compress/codec.h"
#include "murmur/compress/sparsify.h"

namespace murmur {
namespace {

using compress_test::Gaussian;
using compress_test::MustEncode;
using compress_test::MustMake;
using compress_test::RoundTrip;

TEST(MakeCodec, CanonicalNamesRoundTrip) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"fp32", "fp32"},
      {"fp16", "fp16"},
      {"bf16", "bf16"},
      {"sign", "sign"},
      {"int8", "int8"},
      {"int4:block=64", "int4:block=64"},
      {"int2:round=nearest,block=0", "int2:block=0,round=nearest"},
      {"topk:0.01", "topk:0.01"},
      {"topk:0.01|fp32", "topk:0.01"},
      {" topk : k=100 | int8 | zstd:3 ", "topk:k=100|int8|zstd:3"},
      {"randk:0.1,scaling=none|fp16", "randk:0.1,scaling=none|fp16"},
      {"powersgd:4", "powersgd:4"},
      {"powersgd:rank=2,rows=100|bf16", "powersgd:2,rows=100|bf16"},
      {"fedzip:0.01", "fedzip:0.01,clusters=8"},
      {"fedzip:0.05,clusters=3|zstd", "fedzip:0.05,clusters=3|zstd"},
      {"zstd", "zstd"},
      {"fp32|zstd:1", "zstd"},
      {"int8|zstd:19", "int8|zstd:19"},
  };
  for (const auto& [spec, name] : cases) {
    const auto codec = MustMake(spec);
    ASSERT_NE(codec, nullptr) << spec;
    EXPECT_EQ(codec->name(), name) << spec;
    EXPECT_EQ(MustMake(codec->name())->name(), name);
  }
}

TEST(MakeCodec, ErrorsNameTheBadStage) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"topk:2", "stage 1 \"topk:2\": fraction 2 must be in (0, 1]"},
      {"topk", "needs a fraction"},
      {"topk:0.1,k=5", "needs a fraction"},
      {"topk:abc", "'abc' is not a number"},
      {"int9", "unknown codec 'int9'"},
      {"int8|topk:0.1", "stage 2 \"topk:0.1\": 'topk' is out of place"},
      {"int8|fp16", "out of place"},
      {"zstd|int8", "out of place"},
      {"topk:0.1||int8", "stage 2 \"\": empty stage"},
      {"int8:bits=4", "unknown argument 'bits'"},
      {"int8:block=8,block=9", "given twice"},
      {"int8:round=up", "round 'up' is not stochastic or nearest"},
      {"fp16:3", "takes no positional argument"},
      {"zstd:99", "level 99 is outside [1, 22]"},
      {"fedzip:0.1|int8", "quantizes its own values"},
      {"fedzip:0.1,clusters=40", "clusters 40 is outside [2, 16]"},
      {"powersgd", "needs a rank"},
      {"powersgd:0", "rank 0 is outside"},
      {"randk:0.1,scaling=maybe", "scaling 'maybe'"},
  };
  for (const auto& [spec, fragment] : cases) {
    const Result<std::unique_ptr<Codec>> codec = MakeCodec(spec);
    ASSERT_FALSE(codec.ok()) << spec;
    EXPECT_EQ(codec.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(codec.status().message().find(fragment), std::string::npos)
        << spec << " -> " << codec.status().message();
  }
}

TEST(MakeCodec, ChainsRoundTripWithinTheirStagesBounds) {
  const std::vector<float> x = Gaussian(20000, 7);
  const CodecContext ctx{.seed = 1, .sender = PeerId(2), .step = 3};
  // topk|int8|zstd: exactly the top 1% positions, values within one int8
  // level of their bucket max (fp32 values of the kept entries).
  const auto chain = MustMake("topk:0.01|int8|zstd");
  const std::vector<float> y = RoundTrip(*chain, x, ctx);
  const std::vector<uint32_t> kept = TopKIndices(x, 200);
  float max_kept = 0;
  for (uint32_t i : kept) max_kept = std::max(max_kept, std::abs(x[i]));
  size_t nonzero = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::binary_search(kept.begin(), kept.end(), static_cast<uint32_t>(i))) {
      ASSERT_EQ(y[i], 0.0f) << i;
    } else {
      ASSERT_LE(std::abs(y[i] - x[i]), max_kept / 127 * 1.0001f) << i;
      nonzero += y[i] != 0;
    }
  }
  EXPECT_GT(nonzero, 190u);
  // Every chain of the grammar round trips its own frames.
  for (const char* spec : {"fp16|zstd", "randk:0.05|int4", "powersgd:2|fp16|zstd",
                           "topk:k=7|sign", "fedzip:0.1,clusters=4|zstd:5", "int2:block=0|zstd"}) {
    const auto codec = MustMake(spec);
    const std::vector<uint8_t> frame = MustEncode(*codec, x, ctx);
    EXPECT_LE(frame.size(), codec->MaxEncodedSize(x.size())) << spec;
    std::vector<float> out(x.size());
    EXPECT_TRUE(codec->Decode(frame, ctx, out).ok()) << spec;
    SparseUpdate sparse;
    ASSERT_TRUE(codec->DecodeSparse(frame, ctx, x.size(), sparse).ok()) << spec;
    std::vector<float> dense(x.size(), 0.0f);
    for (size_t i = 0; i < sparse.indices.size(); ++i) dense[sparse.indices[i]] = sparse.values[i];
    EXPECT_EQ(dense, out) << spec;
  }
}

}  // namespace
}  // namespace murmur
