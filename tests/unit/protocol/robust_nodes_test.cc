// Honest nodes with a robust rule from the [robust] table, and the
// ModelCombiner they share, on hand-computed inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "testing/fake_host.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/model_combiner.h"
#include "murmur/protocol/model_message.h"
#include "testing/frozen_learner.h"

namespace murmur::testing {
namespace {

using Vec = std::vector<float>;

std::shared_ptr<const ModelCombiner> Combiner(AggregatorConfig config) {
  return ModelCombiner::Make(config).value();
}

std::vector<std::span<const float>> Views(const std::vector<Vec>& vs) {
  return std::vector<std::span<const float>>(vs.begin(), vs.end());
}

TEST(ModelCombiner, DefaultMeanIsThePlainAverageAndOthersAreNot) {
  EXPECT_TRUE(Combiner({})->is_plain_average());
  EXPECT_FALSE(Combiner({.rule = "mean", .pre = {{.name = "arc"}}})->is_plain_average());
  EXPECT_FALSE(Combiner({.rule = "median"})->is_plain_average());
  EXPECT_EQ(ModelCombiner::Make({.rule = "no-such-rule"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ModelCombiner, AppliesTheRuleToDifferencesFromTheOwnModel) {
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  // Own model as input: median of {0, 1, 2, 100} (differences from 10) is
  // 1.5, so the result is 11.5.
  Vec own{10.f};
  const std::vector<Vec> others{{11.f}, {12.f}, {110.f}};
  ASSERT_TRUE(Combiner({.rule = "median", .f = 1})
                  ->Combine(own, Views(others), OwnModel::kIsInput, {}, rng)
                  .ok());
  EXPECT_EQ(own, Vec{11.5f});
  // Self-centered clipping (ClippedGossip): inputs {0, 10}, tau 1, one
  // iteration: 0 + (0 + 10 * 1/10) / 2 = 0.5.
  Vec x{0.f};
  const std::vector<Vec> far{{10.f}};
  ASSERT_TRUE(Combiner({.rule = "centered-clipping", .options = {{"tau", 1.0}}})
                  ->Combine(x, Views(far), OwnModel::kIsInput, {}, rng)
                  .ok());
  EXPECT_FLOAT_EQ(x[0], 0.5f);
}

TEST(ModelCombiner, DropsNonFiniteModelsAndKeepsTheOwnModelOnFailure) {
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Vec own{1.f, 1.f};
  const std::vector<Vec> others{{nan, 5.f}, {3.f, 3.f}};
  ASSERT_TRUE(Combiner({.rule = "mean", .pre = {{.name = "clip", .options = {{"tau", 100.0}}}}})
                  ->Combine(own, Views(others), OwnModel::kIsInput, {}, rng)
                  .ok());
  EXPECT_EQ(own, (Vec{2.f, 2.f}));  // mean of {1, 3}; the NaN model is gone
  // Trimmed mean with f = 1 needs n > 2: two inputs fail, own unchanged.
  Vec kept{4.f};
  const std::vector<Vec> one{{8.f}};
  EXPECT_FALSE(Combiner({.rule = "trimmed-mean", .f = 1})
                   ->Combine(kept, Views(one), OwnModel::kIsInput, {}, rng)
                   .ok());
  EXPECT_EQ(kept, Vec{4.f});
}

TEST(FedAvgServer, RobustRuleAggregatesClientUpdates) {
  FedAvgServer server({1.f}, {.rounds = 1, .client_fraction = 1.0, .local_epochs = 1,
                              .round_timeout = Duration::Seconds(10)},
                      {PeerId(0), PeerId(1), PeerId(2)},
                      Combiner({.rule = "trimmed-mean", .f = 1}));
  FakeHost host(PeerId(3));
  server.OnStart(host);
  auto update = [](float v) {
    return EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, Round(1), 10, Vec{v});
  };
  server.OnMessage(host, PeerId(0), update(2.f));
  server.OnMessage(host, PeerId(1), update(3.f));
  server.OnMessage(host, PeerId(2), update(1000.f));
  ASSERT_EQ(server.completed_rounds(), 1);
  // Updates {1, 2, 999}: trimming one each side leaves 2; global 1 + 2.
  EXPECT_EQ(server.global_model()[0], 3.f);
}

TEST(FedAvgServer, RejectsNonFiniteUpdatesSoTheGlobalModelStaysFinite) {
  FedAvgServer server({1.f}, {.rounds = 1, .client_fraction = 1.0, .local_epochs = 1,
                              .round_timeout = Duration::Seconds(10)},
                      {PeerId(0), PeerId(1)});
  FakeHost host(PeerId(2));
  server.OnStart(host);
  const float inf = std::numeric_limits<float>::infinity();
  server.OnMessage(host, PeerId(0),
                   EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, Round(1), 10, Vec{inf}));
  EXPECT_EQ(host.bad_peers, std::vector<PeerId>{PeerId(0)});
  server.OnMessage(host, PeerId(1),
                   EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, Round(1), 10, Vec{5.f}));
  ASSERT_TRUE(host.timers.size() == 1);
  server.OnTimer(host, host.timers[0]);
  EXPECT_EQ(server.global_model()[0], 5.f);
}

TEST(DpsgdNode, RobustRuleReplacesTheMetropolisAverage) {
  TestLearner l;
  l.Fill(3.f);
  DpsgdNode node(*l.learner, {.rounds = 1, .local_steps = 1, .round_timeout = Duration::Seconds(5)},
                 {PeerId(1), PeerId(2), PeerId(3)}, {0.25, 0.25, 0.25}, 0.25,
                 Combiner({.rule = "median", .f = 1}));
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  auto model = [&](float v) {
    return EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, l.Constant(v));
  };
  node.OnMessage(host, PeerId(1), model(5.f));
  node.OnMessage(host, PeerId(2), model(9.f));
  node.OnMessage(host, PeerId(3), model(1e6f));
  ASSERT_EQ(node.completed_rounds(), 1);
  // Median of {3, 5, 9, 1e6} = 7 (the Metropolis average would be ~250004).
  EXPECT_EQ(host.models.at(1), l.Constant(7.f));
}

TEST(DpsgdNode, RoundTooSmallForTheRuleKeepsTheOwnModelAndIsCounted) {
  TestLearner l;
  l.Fill(3.f);
  DpsgdNode node(*l.learner, {.rounds = 1, .local_steps = 1, .round_timeout = Duration::Seconds(5)},
                 {PeerId(1), PeerId(2)}, {0.25, 0.25}, 0.5,
                 Combiner({.rule = "krum", .f = 1}));
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  node.OnTimer(host, host.timers[0]);  // nobody arrived: Krum needs n > 2f + 2
  ASSERT_EQ(node.completed_rounds(), 1);
  EXPECT_EQ(host.models.at(1), l.Constant(3.f));
  EXPECT_EQ(host.counters["robust.failed_aggregations"], 1);
}

TEST(GossipNode, RobustRuleUsesAWindowOfTheLatestModelPerNeighbour) {
  TestLearner l;
  l.Fill(0.f);
  GossipNode node(*l.learner,
                  {.rounds = 10, .local_steps = 1, .period = Duration::Seconds(1), .window = 2},
                  {PeerId(1), PeerId(2), PeerId(3)}, Combiner({.rule = "median"}));
  FakeHost host(PeerId(0));
  node.OnStart(host);
  auto push = [&](PeerId from, float v) {
    node.OnMessage(host, from,
                   EncodeModelMessage(ModelMessageKind::kGossipModel, Round(1), 0, l.Constant(v)));
    host.FinishCompute(node);
  };
  push(PeerId(1), 4.f);  // median{0, 4} = 2
  EXPECT_EQ(l.Params(), l.Constant(2.f));
  push(PeerId(1), 8.f);  // window holds peer 1 once: median{2, 8} = 5
  EXPECT_EQ(l.Params(), l.Constant(5.f));
  push(PeerId(2), 6.f);  // median{5, 8, 6} = 6
  EXPECT_EQ(l.Params(), l.Constant(6.f));
  push(PeerId(3), 100.f);  // window of 2 drops peer 1: median{6, 6, 100} = 6
  EXPECT_EQ(l.Params(), l.Constant(6.f));
}

}  // namespace
}  // namespace murmur::testing
