#include "murmur/compress/error_feedback.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "compress_test_util.h"
#include "murmur/compress/sparsify.h"

namespace murmur {
namespace {

using compress_test::Gaussian;
using compress_test::MustDecode;
using compress_test::MustEncode;
using compress_test::MustMake;

double Norm(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s);
}

// Top-k decodes kept coordinates exactly and others as 0, so in float
// p = x + e_old splits exactly: p == C(p) + e_new, coordinate by coordinate.
TEST(ErrorFeedbackEncoder, ResidualIsExactlyWhatCompressionDropped) {
  const auto codec = MustMake("topk:0.1");
  const size_t d = 1000;
  ErrorFeedbackEncoder ef(*codec, d);
  for (uint64_t step = 0; step < 20; ++step) {
    SCOPED_TRACE("step=" + std::to_string(step));
    const std::vector<float> x = Gaussian(d, 100 + step);
    const std::vector<float> e_old(ef.error().begin(), ef.error().end());
    ByteWriter out;
    const CodecContext ctx{.seed = 1, .sender = PeerId(0), .step = step};
    ASSERT_TRUE(ef.Encode(x, ctx, out).ok());
    const std::vector<float> c = MustDecode(*codec, out.bytes(), d, ctx);
    for (size_t i = 0; i < d; ++i) {
      const float p = x[i] + e_old[i];
      ASSERT_EQ(c[i] + ef.error()[i], p) << i;
      ASSERT_TRUE(c[i] == 0.0f || ef.error()[i] == 0.0f) << i;
    }
  }
}

// Nothing is lost over time: what was sent plus what is still owed equals
// what was given (up to float rounding of the running sums).
TEST(ErrorFeedbackEncoder, SentPlusResidualTelescopesToTheInputs) {
  const auto codec = MustMake("sign");
  const size_t d = 500;
  ErrorFeedbackEncoder ef(*codec, d);
  std::vector<double> given(d, 0.0), sent(d, 0.0);
  for (uint64_t step = 0; step < 50; ++step) {
    const std::vector<float> x = Gaussian(d, 200 + step, 0.1);
    ByteWriter out;
    ASSERT_TRUE(ef.Encode(x, {.step = step}, out).ok());
    const std::vector<float> c = MustDecode(*codec, out.bytes(), d);
    for (size_t i = 0; i < d; ++i) {
      given[i] += x[i];
      sent[i] += c[i];
    }
  }
  for (size_t i = 0; i < d; ++i) EXPECT_NEAR(sent[i] + ef.error()[i], given[i], 1e-4) << i;
}

TEST(ErrorFeedbackEncoder, FailureLeavesStateAndOutputUntouched) {
  const auto codec = MustMake("topk:0.5");
  ErrorFeedbackEncoder ef(*codec, 4);
  ByteWriter out;
  ASSERT_TRUE(ef.Encode(std::vector<float>{1, 2, 3, 4}, {}, out).ok());
  const std::vector<float> before(ef.error().begin(), ef.error().end());
  const size_t size_before = out.size();
  const std::vector<float> bad = {1, std::numeric_limits<float>::quiet_NaN(), 3, 4};
  EXPECT_EQ(ef.Encode(bad, {}, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(std::vector<float>(ef.error().begin(), ef.error().end()), before);
  EXPECT_EQ(out.size(), size_before);
}

// With a constant target, EF21's estimate picks up the top 10% of the
// remaining difference exactly each step: exact after 10 steps. Sender and
// receiver estimates agree bit for bit throughout.
TEST(Ef21Encoder, EstimateReachesAConstantTargetAndReceiverAgrees) {
  const auto codec = MustMake("topk:0.1");
  const size_t d = 200;
  Ef21Encoder sender(*codec, d);
  EstimateReceiver receiver(*codec, d);
  const std::vector<float> x = Gaussian(d, 3);
  double last = Norm(x, sender.estimate());
  for (uint64_t step = 0; step < 10; ++step) {
    ByteWriter out;
    const CodecContext ctx{.seed = 5, .sender = PeerId(2), .step = step};
    ASSERT_TRUE(sender.Encode(x, ctx, out).ok());
    ASSERT_TRUE(receiver.Receive(out.bytes(), ctx).ok());
    ASSERT_TRUE(std::equal(sender.estimate().begin(), sender.estimate().end(),
                           receiver.estimate().begin()));
    const double now = Norm(x, sender.estimate());
    EXPECT_LT(now, last);
    last = now;
  }
  EXPECT_EQ(last, 0.0);
}

TEST(EstimateReceiver, CorruptFrameLeavesTheEstimateUnchanged) {
  const auto codec = MustMake("topk:0.1");
  Ef21Encoder sender(*codec, 100);
  EstimateReceiver receiver(*codec, 100);
  ByteWriter out;
  ASSERT_TRUE(sender.Encode(Gaussian(100, 1), {}, out).ok());
  ASSERT_TRUE(receiver.Receive(out.bytes(), {}).ok());
  const std::vector<float> before(receiver.estimate().begin(), receiver.estimate().end());
  std::vector<uint8_t> truncated = out.bytes();
  truncated.pop_back();
  EXPECT_EQ(receiver.Receive(truncated, {}).code(), StatusCode::kCorrupt);
  EXPECT_EQ(std::vector<float>(receiver.estimate().begin(), receiver.estimate().end()), before);
}

TEST(EControlEncoder, EtaZeroIsEf21) {
  const auto codec = MustMake("topk:0.05|int8");
  const size_t d = 300;
  Ef21Encoder ef21(*codec, d);
  EControlEncoder econtrol(*codec, d, 0.0f);
  for (uint64_t step = 0; step < 15; ++step) {
    const std::vector<float> x = Gaussian(d, 50 + step);
    const CodecContext ctx{.seed = 8, .sender = PeerId(1), .step = step};
    ByteWriter a, b;
    ASSERT_TRUE(ef21.Encode(x, ctx, a).ok());
    ASSERT_TRUE(econtrol.Encode(x, ctx, b).ok());
    ASSERT_EQ(a.bytes(), b.bytes()) << "step " << step;
  }
}

// The update rule on hand-computed values, with top-1 of 2 coordinates:
//   delta = C(eta e + x - h); e <- e + x - h - delta; h <- h + delta.
TEST(EControlEncoder, FollowsTheUpdateRuleOnHandComputedValues) {
  const auto codec = MustMake("topk:k=1");
  EControlEncoder ec(*codec, 2, 0.5f);
  ByteWriter out;
  // Step 1: e = h = 0, x = (3, 1): delta = C(3, 1) = (3, 0); e = (0, 1); h = (3, 0).
  ASSERT_TRUE(ec.Encode(std::vector<float>{3, 1}, {}, out).ok());
  EXPECT_EQ(std::vector<float>(ec.estimate().begin(), ec.estimate().end()), (std::vector<float>{3, 0}));
  EXPECT_EQ(std::vector<float>(ec.error().begin(), ec.error().end()), (std::vector<float>{0, 1}));
  // Step 2: x = (3, 1): input = 0.5 (0, 1) + (0, 1) = (0, 1.5); delta = (0, 1.5);
  // e = (0, 1) + (0, 1) - (0, 1.5) = (0, 0.5); h = (3, 1.5).
  ASSERT_TRUE(ec.Encode(std::vector<float>{3, 1}, {}, out).ok());
  EXPECT_EQ(std::vector<float>(ec.estimate().begin(), ec.estimate().end()), (std::vector<float>{3, 1.5f}));
  EXPECT_EQ(std::vector<float>(ec.error().begin(), ec.error().end()), (std::vector<float>{0, 0.5f}));
}

TEST(EControlEncoder, ReceiverTracksTheSenderAndConvergesOnAConstantTarget) {
  const auto codec = MustMake("topk:0.1");
  const size_t d = 400;
  EControlEncoder sender(*codec, d, 0.1f);
  EstimateReceiver receiver(*codec, d);
  const std::vector<float> x = Gaussian(d, 9);
  for (uint64_t step = 0; step < 60; ++step) {
    ByteWriter out;
    ASSERT_TRUE(sender.Encode(x, {.step = step}, out).ok());
    ASSERT_TRUE(receiver.Receive(out.bytes(), {.step = step}).ok());
    ASSERT_TRUE(std::equal(sender.estimate().begin(), sender.estimate().end(),
                           receiver.estimate().begin()));
  }
  EXPECT_LT(Norm(x, receiver.estimate()), 1e-3 * Norm(x, std::vector<float>(d, 0.0f)));
}

// Every error-feedback path against no feedback, by value: top-2 of 4
// coordinates on the constant input x = (5, 3, 2, 1), three steps.
//  * No feedback sends C(x) = (5, 3, 0, 0) every step: coordinates 2 and 3
//    are never delivered (sum sent (15, 9, 0, 0)).
//  * Error feedback (EF) sends C(x + e): step 1 p = (5, 3, 2, 1) sends
//    (5, 3, 0, 0), e = (0, 0, 2, 1); step 2 p = (5, 3, 4, 2) sends
//    (5, 0, 4, 0), e = (0, 3, 0, 2); step 3 p = (5, 6, 2, 3) sends
//    (5, 6, 0, 0), e = (0, 0, 2, 3): sum sent (15, 9, 4, 0), and
//    sent + e = (15, 9, 6, 3) = 3x exactly.
//  * EF21 moves the receiver's estimate g by C(x - g): (5, 3, 0, 0), then
//    C(0, 0, 2, 1) = (0, 0, 2, 1), so g = x exactly after two steps, where
//    no feedback leaves the receiver's view at (5, 3, 0, 0).
TEST(ErrorFeedback, EveryPathDeliversWhatNoFeedbackDropsOnHandComputedValues) {
  const auto codec = MustMake("topk:k=2");
  const std::vector<float> x = {5, 3, 2, 1};
  ErrorFeedbackEncoder ef(*codec, 4);
  Ef21Encoder ef21(*codec, 4);
  EstimateReceiver receiver(*codec, 4);
  std::vector<float> plain_sum(4, 0.0f), ef_sum(4, 0.0f), plain_view;
  const std::vector<std::vector<float>> ef_sent = {{5, 3, 0, 0}, {5, 0, 4, 0}, {5, 6, 0, 0}};
  const std::vector<std::vector<float>> ef21_estimate = {{5, 3, 0, 0}, {5, 3, 2, 1}, {5, 3, 2, 1}};
  for (uint64_t step = 0; step < 3; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const CodecContext ctx{.step = step};
    plain_view = MustDecode(*codec, MustEncode(*codec, x, ctx), 4, ctx);
    ByteWriter ef_out, ef21_out;
    ASSERT_TRUE(ef.Encode(x, ctx, ef_out).ok());
    const std::vector<float> sent = MustDecode(*codec, ef_out.bytes(), 4, ctx);
    EXPECT_EQ(sent, ef_sent[step]);
    ASSERT_TRUE(ef21.Encode(x, ctx, ef21_out).ok());
    ASSERT_TRUE(receiver.Receive(ef21_out.bytes(), ctx).ok());
    EXPECT_EQ(std::vector<float>(receiver.estimate().begin(), receiver.estimate().end()),
              ef21_estimate[step]);
    for (size_t i = 0; i < 4; ++i) {
      plain_sum[i] += plain_view[i];
      ef_sum[i] += sent[i];
    }
  }
  EXPECT_EQ(plain_view, (std::vector<float>{5, 3, 0, 0}));
  EXPECT_EQ(plain_sum, (std::vector<float>{15, 9, 0, 0}));
  EXPECT_EQ(ef_sum, (std::vector<float>{15, 9, 4, 0}));
  EXPECT_EQ(std::vector<float>(ef.error().begin(), ef.error().end()),
            (std::vector<float>{0, 0, 2, 3}));
}

}  // namespace
}  // namespace murmur
