// The quantized all-reduce (collective.h: Quantization, quantize.h): the
// min-max codec on hand-computed values, a 2-peer ring on a hand-computed
// case (results and residuals), bit-identical results on every member over
// many seeds with a peer crashed at a random delivery and the retry over the
// survivors, and error feedback keeping the running sum of results on the
// exact running sum where quantizing without feedback drifts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "group_net.h"
#include "murmur/collective/quantize.h"
#include "murmur/collective/retry.h"

namespace murmur::collective {
namespace {

using test::GroupNet;
using test::Options;
using test::Outcome;
using test::Record;

TEST(Quantize, FourBitsHandComputed) {
  // lo 0, hi 7.5: scale 0.5; 1 -> 2, 2 -> 4, 3.5 -> 7, 7.5 -> 15; 0.26 -> floor(0.52 + 0.5) = 1.
  const std::vector<float> x = {0, 1, 2, 3.5f, 7.5f, 0.26f};
  std::vector<uint8_t> codes(QuantizedBytes(x.size(), 4));
  ASSERT_EQ(codes.size(), 3u);
  const QuantBlock b = Quantize(x, 4, codes);
  EXPECT_EQ(b.lo, 0.0f);
  EXPECT_EQ(b.scale, 0.5f);
  EXPECT_EQ(codes, (std::vector<uint8_t>{0x20, 0x74, 0x1f}));  // even index in the low nibble
  std::vector<float> y(x.size());
  Dequantize(b, 4, codes, y);
  EXPECT_EQ(y, (std::vector<float>{0, 1, 2, 3.5f, 7.5f, 0.5f}));
}

TEST(Quantize, EightBitsHandComputedOddLengthAndNegativeRange) {
  // lo -2, hi 253: scale 1; -1.4 -> floor(0.6 + 0.5) = 1 -> decodes to -1.
  const std::vector<float> x = {-2, 253, 0, -1.4f, 100.5f};
  std::vector<uint8_t> codes(QuantizedBytes(x.size(), 8));
  const QuantBlock b = Quantize(x, 8, codes);
  EXPECT_EQ(b.lo, -2.0f);
  EXPECT_EQ(b.scale, 1.0f);
  EXPECT_EQ(codes, (std::vector<uint8_t>{0, 255, 2, 1, 103}));  // 102.5 + 0.5 = 103
  std::vector<float> y(x.size());
  Dequantize(b, 8, codes, y);
  EXPECT_EQ(y, (std::vector<float>{-2, 253, 0, -1, 101}));
}

TEST(Quantize, ConstantBlockNonFiniteValuesAndEmptyInput) {
  const std::vector<float> same = {3.25f, 3.25f, 3.25f};
  std::vector<uint8_t> codes(QuantizedBytes(3, 4));
  QuantBlock b = Quantize(same, 4, codes);
  EXPECT_EQ(b.lo, 3.25f);
  EXPECT_EQ(b.scale, 0.0f);
  std::vector<float> y(3);
  Dequantize(b, 4, codes, y);
  EXPECT_EQ(y, same);
  const std::vector<float> odd = {NAN, 1, INFINITY, 16};
  std::vector<uint8_t> c2(QuantizedBytes(4, 4));
  b = Quantize(odd, 4, c2);
  EXPECT_EQ(b.lo, 1.0f);
  EXPECT_EQ(b.scale, 1.0f);
  EXPECT_EQ(c2, (std::vector<uint8_t>{0x00, 0xf0}));
  EXPECT_EQ(Quantize(std::span<const float>(), 8, {}).scale, 0.0f);
  EXPECT_FALSE(ValidQuantBits(2));
  EXPECT_FALSE(ValidQuantBits(0));
}

// n = 2, six floats, 4 bits, one chunk per segment. Rank 0 sends segment 0
// {0, 0.75, 15} (scale 1): decoded {0, 1, 15}, residual -0.25 at 1. Rank 1
// sends segment 1 {0, 0.25, 15}: decoded {0, 0, 15}, residual +0.25 at 4.
// The owners' all-gather encodings of {0, 1, 15} and {0, 0, 15} are exact.
TEST(QuantizedAllReduce, TwoPeersHandComputedResultsAndResiduals) {
  GroupNet net(2, Options(8), 3);
  std::vector<std::vector<float>> bufs = {{0, 0.75f, 15, 0, 0, 0}, {0, 0, 0, 0, 0.25f, 15}};
  std::vector<std::vector<float>> res(2, std::vector<float>(6, 0));
  std::vector<Outcome> outs(2);
  for (int i = 0; i < 2; ++i) {
    net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum,
                                   Quantization{.bits = 4, .residual = res[i]}, Record(outs[i]));
  }
  net.Drain();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(outs[i].called && outs[i].status.ok()) << outs[i].status.ToString();
    EXPECT_EQ(bufs[i], (std::vector<float>{0, 1, 15, 0, 0, 15})) << "peer " << i;
  }
  EXPECT_EQ(res[0], (std::vector<float>{0, -0.25f, 0, 0, 0, 0}));
  EXPECT_EQ(res[1], (std::vector<float>{0, 0, 0, 0, 0.25f, 0}));
}

TEST(QuantizedAllReduce, RefusesAResidualOfAnotherLengthAndAnUnknownWidth) {
  GroupNet net(2, Options(8), 4);
  std::vector<float> buf(5, 1), res(4, 0);
  Outcome a, b;
  net.group(PeerId(0)).AllReduce(net.host(PeerId(0)), buf, ReduceOp::kSum,
                                 Quantization{.bits = 4, .residual = res}, Record(a));
  net.group(PeerId(0)).AllReduce(net.host(PeerId(0)), buf, ReduceOp::kSum,
                                 Quantization{.bits = 3}, Record(b));
  EXPECT_EQ(a.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(buf, std::vector<float>(5, 1));
}

bool SameBytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), 4 * a.size()) == 0;
}

struct Case {
  int n;
  size_t len;
  uint8_t bits;
  ReduceOp op;
};

// Runs one quantized all-reduce with error feedback over `net` (peers that
// are alive), with a crash armed by the caller; checks agreement, bit
// identity, restoration and the residual identity. Returns the survivors'
// common status code.
StatusCode RunAndCheck(GroupNet& net, const Case& c, std::vector<std::vector<float>>& bufs,
                       std::vector<std::vector<float>>& res, bool retry, const std::string& where) {
  const std::vector<std::vector<float>> in = bufs, res_in = res;
  std::vector<Outcome> outs(c.n);
  const std::vector<PeerId> starters = net.Alive();
  for (PeerId p : starters) {
    const Quantization q{.bits = c.bits, .residual = res[p.value]};
    if (retry) {
      AllReduceWithRetry(net.group(p), net.host(p), bufs[p.value], c.op, q, 5, Record(outs[p.value]));
    } else {
      net.group(p).AllReduce(net.host(p), bufs[p.value], c.op, q, Record(outs[p.value]));
    }
  }
  EXPECT_TRUE(net.Run([&] {
    if (!retry && net.Alive().size() == starters.size()) {
      for (PeerId p : starters) if (!outs[p.value].called) return false;
      return true;
    }
    for (PeerId p : net.Alive()) if (!outs[p.value].called) return false;
    return true;
  }, 10)) << where;
  const std::vector<PeerId> alive = net.Alive();
  const StatusCode code = outs[alive[0].value].status.code();
  for (PeerId p : alive) {
    EXPECT_EQ(outs[p.value].status.code(), code) << where << ": survivors disagree";
    if (code == StatusCode::kOk) {
      EXPECT_TRUE(SameBytes(bufs[p.value], bufs[alive[0].value])) << where << ": not bit-identical";
    } else {
      EXPECT_TRUE(SameBytes(bufs[p.value], in[p.value])) << where << ": buffer not restored";
      EXPECT_TRUE(SameBytes(res[p.value], res_in[p.value])) << where << ": residual not restored";
    }
  }
  if (code != StatusCode::kOk) return code;
  // The residuals carry exactly what quantization lost (float rounding aside):
  // sum_i (in_i + res_in_i) = result (x n for the average) + sum_i res_i.
  const std::vector<PeerId> members = net.group(alive[0]).members();
  const float scale_up = c.op == ReduceOp::kAverage ? static_cast<float>(members.size()) : 1.0f;
  for (size_t j = 0; j < c.len; ++j) {
    double lhs = 0, rhs = bufs[alive[0].value][j] * scale_up, mag = 1;
    for (PeerId p : members) {
      lhs += double(in[p.value][j]) + res_in[p.value][j];
      rhs += res[p.value][j];
      mag += std::fabs(in[p.value][j]);
    }
    EXPECT_NEAR(lhs, rhs, 1e-4 * mag) << where << " element " << j;
  }
  return code;
}

// Random sizes, lengths, chunk sizes, widths, delivery orders and crash
// instants: every survivor ends bit-identical, aborted calls are restored
// (buffer and residual), and the retry over the survivors completes.
TEST(QuantizedAllReduce, BitIdenticalOverSeedsWithCrashesAndRetries) {
  int aborted = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    std::mt19937_64 rng(seed);
    const Case c{.n = 2 + static_cast<int>(seed % 6), .len = size_t(rng() % 40),
                 .bits = uint8_t(seed % 2 == 0 ? 4 : 8),
                 .op = seed % 3 == 0 ? ReduceOp::kAverage : ReduceOp::kSum};
    GroupNet net(c.n, Options(1 + rng() % 7), seed);
    std::normal_distribution<float> normal(0, 1);
    std::vector<std::vector<float>> bufs(c.n, std::vector<float>(c.len));
    std::vector<std::vector<float>> res(c.n, std::vector<float>(c.len));
    for (auto& b : bufs) for (float& v : b) v = normal(rng);
    for (auto& r : res) for (float& v : r) v = 0.01f * normal(rng);
    const std::string where = "seed " + std::to_string(seed);
    if (seed % 4 != 3) net.CrashBefore(PeerId(rng() % c.n), rng() % 60, seed % 2 == 0);
    const StatusCode code = RunAndCheck(net, c, bufs, res, /*retry=*/false, where);
    if (::testing::Test::HasFailure()) return;
    if (code == StatusCode::kOk) continue;
    ++aborted;
    EXPECT_EQ(RunAndCheck(net, c, bufs, res, /*retry=*/true, where + " retry"), StatusCode::kOk);
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(aborted, 50);
}

// Constant inputs, 4 bits, 300 steps: without feedback every step makes the
// same error, so the running sum of results drifts linearly from the exact
// running sum; with feedback the gap stays within a few quantization steps.
TEST(QuantizedAllReduce, ErrorFeedbackTracksTheExactRunningSum) {
  const int n = 4;
  const size_t len = 64;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0, 1);
  std::vector<std::vector<float>> inputs(n, std::vector<float>(len));
  for (auto& in : inputs) for (float& v : in) v = normal(rng);
  double gap[2] = {0, 0};
  for (int feedback = 0; feedback < 2; ++feedback) {
    GroupNet net(n, Options(16), 11);
    std::vector<std::vector<float>> res(n, std::vector<float>(len, 0));
    std::vector<double> got(len, 0), exact(len, 0);
    for (int step = 0; step < 300; ++step) {
      std::vector<std::vector<float>> bufs = inputs;
      std::vector<Outcome> outs(n);
      for (int i = 0; i < n; ++i) {
        const Quantization q{.bits = 4, .residual = feedback ? std::span<float>(res[i])
                                                             : std::span<float>()};
        net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum, q,
                                       Record(outs[i]));
      }
      net.Drain();
      for (int i = 0; i < n; ++i) ASSERT_TRUE(outs[i].called && outs[i].status.ok());
      for (size_t j = 0; j < len; ++j) {
        got[j] += bufs[0][j];
        for (int i = 0; i < n; ++i) exact[j] += inputs[i][j];
      }
    }
    for (size_t j = 0; j < len; ++j) gap[feedback] = std::max(gap[feedback], std::fabs(got[j] - exact[j]));
  }
  std::printf("max |running sum - exact| after 300 steps: %.4f without feedback, %.4f with\n",
              gap[0], gap[1]);
  // One 4-bit step of a 16-float chunk of sums of 4 normals is about 0.4.
  EXPECT_LT(gap[1], 2.0);
  EXPECT_GT(gap[0], 10 * gap[1]);
}

}  // namespace
}  // namespace murmur::collective
