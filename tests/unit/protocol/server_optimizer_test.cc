// Server optimizers against hand-computed steps on tiny vectors, and the
// staleness functions against their formulas.
#include "murmur/protocol/server_optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "murmur/protocol/staleness.h"

namespace murmur {
namespace {

TEST(ServerOptimizer, ReplaceCopiesTheAggregateExactly) {
  ServerOptimizer opt({});
  std::vector<float> x = {1.f, 2.f};
  const std::vector<float> aggregate = {0.1f, -7.3f};
  opt.Step(x, aggregate);
  EXPECT_EQ(x, aggregate);
}

TEST(ServerOptimizer, SgdWithMomentumIsFedAvgM) {
  ServerOptimizer opt({.kind = ServerOptimizerKind::kSgd, .lr = 0.5, .momentum = 0.9});
  std::vector<float> x = {1.f};
  opt.Step(x, std::vector<float>{3.f});  // delta 2, m = 2, x = 1 + 0.5*2 = 2
  EXPECT_FLOAT_EQ(x[0], 2.f);
  opt.Step(x, std::vector<float>{3.f});  // delta 1, m = 0.9*2 + 1 = 2.8, x = 3.4
  EXPECT_FLOAT_EQ(x[0], 3.4f);
}

// Reddi et al. 2021, Algorithm 2, two steps by hand with b1 = 0.9,
// b2 = 0.99, tau = 0.1, lr = 0.01, v starting at tau^2 = 0.01.
TEST(ServerOptimizer, AdamMatchesTheHandComputedSteps) {
  ServerOptimizer opt({.kind = ServerOptimizerKind::kAdam, .lr = 0.01, .beta1 = 0.9,
                       .beta2 = 0.99, .tau = 0.1});
  std::vector<float> x = {0.f, 1.f};
  opt.Step(x, std::vector<float>{1.f, 0.f});  // deltas 1, -1
  // m = 0.1*delta; v = 0.99*0.01 + 0.01*1 = 0.0199; x += 0.01 m / (sqrt v + 0.1)
  const double step1 = 0.01 * 0.1 / (std::sqrt(0.0199) + 0.1);
  EXPECT_NEAR(x[0], step1, 1e-7);
  EXPECT_NEAR(x[1], 1.0 - step1, 1e-7);
  opt.Step(x, std::vector<float>{x[0] + 2.f, x[1]});  // deltas 2, 0
  const double m0 = 0.9 * 0.1 + 0.1 * 2, v0 = 0.99 * 0.0199 + 0.01 * 4;
  const double m1 = 0.9 * -0.1, v1 = 0.99 * 0.0199;
  EXPECT_NEAR(x[0], step1 + 0.01 * m0 / (std::sqrt(v0) + 0.1), 1e-6);
  EXPECT_NEAR(x[1], 1.0 - step1 + 0.01 * m1 / (std::sqrt(v1) + 0.1), 1e-6);
}

// A server restored from a snapshot (`murmur peer --persist-every`, `murmur
// run --resume`) steps on as the saved one does: m and v are saved, and a
// restored optimizer's step equals the original's bit for bit, where a
// fresh one's (m = 0, v = tau^2) does not.
TEST(ServerOptimizer, SnapshotRestoresTheMomentsExactly) {
  const ServerOptimizerConfig config{.kind = ServerOptimizerKind::kAdam, .lr = 0.01,
                                     .beta1 = 0.9, .beta2 = 0.99, .tau = 0.1};
  ServerOptimizer opt(config);
  std::vector<float> x = {0.f, 1.f};
  opt.Step(x, std::vector<float>{1.f, 0.f});
  opt.Step(x, std::vector<float>{x[0] + 2.f, x[1]});
  SnapshotWriter out;
  opt.Save(out);
  const std::vector<uint8_t> bytes = out.Take();
  ServerOptimizer restored(config), fresh(config);
  SnapshotReader in(bytes);
  restored.Restore(in, x.size());
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in.remaining(), 0u);
  const std::vector<float> aggregate = {x[0] - 0.5f, x[1] + 1.f};
  std::vector<float> a = x, b = x, c = x;
  opt.Step(a, aggregate);
  restored.Step(b, aggregate);
  fresh.Step(c, aggregate);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Moments of another dimension do not fit.
  SnapshotReader wrong(bytes);
  ServerOptimizer(config).Restore(wrong, 3);
  EXPECT_EQ(wrong.status().code(), StatusCode::kCorrupt);
}

TEST(ServerOptimizer, YogiMovesVTowardsTheSquaredDeltaAdditively) {
  ServerOptimizer opt({.kind = ServerOptimizerKind::kYogi, .lr = 0.1, .beta1 = 0.5,
                       .beta2 = 0.9, .tau = 0.5});
  std::vector<float> x = {0.f};
  opt.Step(x, std::vector<float>{2.f});
  // v0 = 0.25 < delta^2 = 4: v = 0.25 + 0.1*4 = 0.65; m = 0.5*2 = 1.
  EXPECT_NEAR(x[0], 0.1 * 1.0 / (std::sqrt(0.65) + 0.5), 1e-6);
  const float x1 = x[0];
  opt.Step(x, std::vector<float>{x1});
  // delta 0: v = 0.65 - 0.1*0*sign = 0.65; m = 0.5.
  EXPECT_NEAR(x[0], x1 + 0.1 * 0.5 / (std::sqrt(0.65) + 0.5), 1e-6);
}

TEST(ServerOptimizer, AdagradAccumulatesSquaredDeltas) {
  ServerOptimizer opt({.kind = ServerOptimizerKind::kAdagrad, .lr = 1.0, .beta1 = 0.0,
                       .tau = 1.0});
  std::vector<float> x = {0.f};
  opt.Step(x, std::vector<float>{3.f});  // v = 1 + 9 = 10, m = 3
  EXPECT_NEAR(x[0], 3.0 / (std::sqrt(10.0) + 1.0), 1e-6);
  const float x1 = x[0];
  opt.Step(x, std::vector<float>{x1 + 1.f});  // v = 11, m = 1
  EXPECT_NEAR(x[0], x1 + 1.0 / (std::sqrt(11.0) + 1.0), 1e-6);
}

TEST(ServerOptimizer, ParsesNamesAndRejectsUnknownOnes) {
  EXPECT_EQ(ParseServerOptimizerKind("yogi").value(), ServerOptimizerKind::kYogi);
  EXPECT_EQ(ParseServerOptimizerKind("fedavg").value(), ServerOptimizerKind::kReplace);
  EXPECT_EQ(ParseServerOptimizerKind("adamw").status().code(), StatusCode::kInvalidArgument);
}

TEST(StalenessWeight, MatchesXieKoyejoGuptaFormulas) {
  EXPECT_EQ(StalenessWeight({.kind = StalenessKind::kConstant}, 17), 1.0);
  const StalenessConfig poly{.kind = StalenessKind::kPolynomial, .a = 0.5};
  EXPECT_DOUBLE_EQ(StalenessWeight(poly, 0), 1.0);
  EXPECT_DOUBLE_EQ(StalenessWeight(poly, 3), 0.5);  // 4^-0.5
  EXPECT_DOUBLE_EQ(StalenessWeight({.kind = StalenessKind::kPolynomial, .a = 2}, 1), 0.25);
  const StalenessConfig hinge{.kind = StalenessKind::kHinge, .a = 10, .b = 4};
  EXPECT_DOUBLE_EQ(StalenessWeight(hinge, 4), 1.0);
  EXPECT_DOUBLE_EQ(StalenessWeight(hinge, 5), 1.0 / 11);
  EXPECT_DOUBLE_EQ(StalenessWeight(hinge, 7), 1.0 / 31);
}

}  // namespace
}  // namespace murmur
