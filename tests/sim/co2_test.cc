// CO2 (protocol.kind = "co2", co2_spec.cc) in seeded simulated runs: with
// its remedies neutral it is DiLoCo with one-step-delayed outer steps, bit
// for bit; a constant gap penalty is a lower outer lr; outer momentum clipping bounds every coordinate of the shared
// momentum on every peer; and it learns a task a peer cannot learn alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <span>
#include <vector>

#include "diloco_task.h"

namespace murmur::testing {
namespace {

ProtocolConfig Co2(int64_t rounds, int64_t inner_steps, DilocoConfig d) {
  ProtocolConfig c = Diloco(rounds, inner_steps, d);
  c.kind = "co2";
  MutableProtocolOptions<DilocoConfig>(c).delayed = true;
  return c;
}

const DilocoNode& AsDiloco(const Node* node) {
  const auto* d = dynamic_cast<const DilocoNode*>(node);
  EXPECT_NE(d, nullptr);
  return *d;
}

bool Same(std::span<const float> a, std::span<const float> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

TEST(Co2, WithNeutralRemediesIsDelayedDilocoBitForBit) {
  DilocoConfig outer;
  outer.delayed = true;
  std::vector<Node*> diloco_nodes, co2_nodes;
  Harness a(MlpTask(4));
  const std::vector<EvalRow> diloco =
      a.Run(Diloco(6, 10, outer), {}, 1, {.every = 3}, nullptr, &diloco_nodes);
  Harness b(MlpTask(4));
  const std::vector<EvalRow> co2 = b.Run(Co2(6, 10, outer), {}, 1, {.every = 3}, nullptr, &co2_nodes);
  ASSERT_EQ(co2.back().round, 6);
  EXPECT_EQ(co2.back().loss_mean, diloco.back().loss_mean);
  for (size_t i = 0; i < co2_nodes.size(); ++i) {
    EXPECT_TRUE(Same(AsDiloco(co2_nodes[i]).global(), AsDiloco(diloco_nodes[i]).global())) << i;
    EXPECT_TRUE(Same(AsDiloco(co2_nodes[i]).momentum(), AsDiloco(diloco_nodes[i]).momentum()))
        << i;
  }
}

// What the released implementation's constant penalty amounts to: dividing
// the stale aggregate by 4 is dividing the outer lr by 4 (bit for bit, as 4
// is a power of two and the momentum is linear in the aggregate).
TEST(Co2, AConstantGapPenaltyIsALowerOuterLearningRate) {
  DilocoConfig penalized;
  penalized.gap_penalty = 4;
  DilocoConfig slower;
  slower.delayed = true;
  slower.outer_lr = 0.7 / 4;
  std::vector<Node*> co2_nodes, diloco_nodes;
  Harness a(MlpTask(4));
  a.Run(Co2(6, 10, penalized), {}, 1, {.every = 6}, nullptr, &co2_nodes);
  Harness b(MlpTask(4));
  b.Run(Diloco(6, 10, slower), {}, 1, {.every = 6}, nullptr, &diloco_nodes);
  EXPECT_TRUE(Same(AsDiloco(co2_nodes[0]).global(), AsDiloco(diloco_nodes[0]).global()));
}

// A threshold well inside the unclipped momentum's range: every peer's
// momentum ends within it, some coordinates sit on it (the clip acted),
// the peers stay bit-identical, and the model differs from the unclipped
// run's.
TEST(Co2, MomentumClippingBoundsEveryCoordinateOnEveryPeer) {
  DilocoConfig free_outer;
  std::vector<Node*> free_nodes;
  Harness a(MlpTask(4));
  a.Run(Co2(6, 10, free_outer), {}, 1, {.every = 6}, nullptr, &free_nodes);
  float largest = 0;
  for (float m : AsDiloco(free_nodes[0]).momentum()) largest = std::max(largest, std::fabs(m));
  ASSERT_GT(largest, 0.0f);

  DilocoConfig clipped_outer;
  clipped_outer.momentum_clip = 0.25 * largest;
  const auto clip = static_cast<float>(clipped_outer.momentum_clip);
  std::vector<Node*> nodes;
  Harness b(MlpTask(4));
  const std::vector<EvalRow> rows = b.Run(Co2(6, 10, clipped_outer), {}, 1, {.every = 6}, nullptr, &nodes);
  ASSERT_EQ(rows.back().round, 6);
  const DilocoNode& first = AsDiloco(nodes[0]);
  size_t at_bound = 0;
  for (float m : first.momentum()) {
    EXPECT_LE(std::fabs(m), clip);
    if (std::fabs(m) == clip) ++at_bound;
  }
  EXPECT_GT(at_bound, 0u) << "the clip never acted";
  EXPECT_FALSE(Same(first.global(), AsDiloco(free_nodes[0]).global()));
  for (const Node* node : nodes) {
    EXPECT_TRUE(Same(AsDiloco(node).global(), first.global()));
    EXPECT_TRUE(Same(AsDiloco(node).momentum(), first.momentum()));
  }
}

// Each peer holds one or two classes: alone it stays near chance; CO2's
// stale outer steps still pool the peers' progress.
TEST(Co2, LearnsTheNonIidTaskWithAMarginOverLocalTraining) {
  const HarnessOptions task = NonIid(MlpTask(8));
  const double local = LocalOnlyAccuracy(task, 10, 20);
  DilocoConfig outer;
  outer.outer_lr = 1.0;
  outer.outer_momentum = 0.2;
  outer.nesterov = false;
  Harness h(task);
  const std::vector<EvalRow> rows = h.Run(Co2(10, 20, outer), {}, 1, {.every = 10});
  ASSERT_EQ(rows.back().round, 10);
  std::printf("co2 %.4f, local-only %.4f\n", rows.back().acc_mean, local);
  EXPECT_GT(rows.back().acc_mean, local + 0.2)
      << "co2 " << rows.back().acc_mean << " vs local-only " << local;
}

}  // namespace
}  // namespace murmur::testing
