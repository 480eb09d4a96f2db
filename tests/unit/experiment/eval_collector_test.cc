#include "murmur/experiment/eval_collector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace murmur {
namespace {

// Two peers' reports fed by hand; the model is logistic regression on a
// tiny synthetic test set, so evaluation is cheap and deterministic.
class EvalCollectorTest : public ::testing::Test {
 protected:
  EvalCollectorTest() : pool_(1) {
    data_ = MakeSyntheticDataset({.train_size = 20, .test_size = 20, .height = 2, .width = 2});
    model_ = MakeModel({.kind = ModelKind::kLogisticRegression},
                       {.channels = 1, .height = 2, .width = 2, .num_classes = 10})
                 .value();
  }
  std::unique_ptr<EvalCollector> Make(std::vector<PeerId> evaluated, int64_t rounds,
                                      EvalConfig config = {.every = 2}) {
    return std::make_unique<EvalCollector>(
        *model_, data_.test, config, rounds, std::move(evaluated), 3, pool_,
        [this] { return CollectorContext{.now = now_, .bytes_sent = bytes_}; },
        RunObserver{.on_row = [this](const EvalRow& r) { emitted_.push_back(r.round); },
                    .on_round = [this](int64_t r) { max_round_ = r; }});
  }
  std::vector<float> Model(float v) { return std::vector<float>(model_->num_params(), v); }

  TrainTestSplit data_;
  std::unique_ptr<murmur::Model> model_;
  ThreadPool pool_;
  SimTime now_;
  uint64_t bytes_ = 0;
  std::vector<int64_t> emitted_;
  int64_t max_round_ = -1;
};

TEST_F(EvalCollectorTest, EmitsARowWhenEveryEvaluatedPeerReported) {
  auto c = Make({PeerId(0), PeerId(2)}, 4);
  c->SinkFor(PeerId(0))->ReportModel(Round(2), Model(1.f));
  c->SinkFor(PeerId(1))->ReportModel(Round(2), Model(5.f));  // not evaluated
  c->SinkFor(PeerId(1))->ReportTrainLoss(Round(2), 0.5);
  c->SinkFor(PeerId(0))->ReportTrainLoss(Round(2), 1.5);
  EXPECT_TRUE(emitted_.empty());
  now_ = SimTime{3'000'000'000};
  bytes_ = 77;
  c->SinkFor(PeerId(2))->ReportModel(Round(2), Model(3.f));
  ASSERT_EQ(emitted_, std::vector<int64_t>{2});
  const EvalRow& row = c->rows().back();
  EXPECT_EQ(row.peers_evaluated, 2);
  EXPECT_EQ(row.time_s, 3.0);
  EXPECT_EQ(row.bytes_sent, 77u);
  EXPECT_EQ(row.train_loss, 1.0);  // mean of the losses reported for round 2
  // Models 1 and 3 everywhere: their mean is 2, each is sqrt(dim) away.
  EXPECT_NEAR(row.consensus_dist, std::sqrt(static_cast<double>(model_->num_params())), 1e-9);
  EXPECT_EQ(max_round_, 2);
  EXPECT_FALSE(c->finished());
}

TEST_F(EvalCollectorTest, SkipsNonEvaluationRoundsAndFinishesAtTheLastRound) {
  auto c = Make({PeerId(0)}, 3);
  c->SinkFor(PeerId(0))->ReportModel(Round(1), Model(0.f));
  EXPECT_TRUE(emitted_.empty());
  EXPECT_EQ(max_round_, 1);
  c->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));
  c->SinkFor(PeerId(0))->ReportModel(Round(3), Model(0.f));  // last round, odd
  EXPECT_EQ(emitted_, (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(c->finished());
}

TEST_F(EvalCollectorTest, EmitsIncompleteEarlierRoundsInOrderAndFlushesTheRest) {
  auto c = Make({PeerId(0), PeerId(1)}, 6);
  c->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));  // peer 1 never reports 2
  c->SinkFor(PeerId(0))->ReportModel(Round(4), Model(0.f));
  c->SinkFor(PeerId(1))->ReportModel(Round(4), Model(0.f));
  ASSERT_EQ(emitted_, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(c->rows()[0].peers_evaluated, 1);
  EXPECT_EQ(c->rows()[1].peers_evaluated, 2);
  c->SinkFor(PeerId(1))->ReportModel(Round(6), Model(0.f));
  c->Flush();
  EXPECT_EQ(emitted_, (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ(c->rows()[2].peers_evaluated, 1);
}

TEST_F(EvalCollectorTest, BudgetMakesTheFirstUnreportedRoundTheLast) {
  auto c = Make({PeerId(0), PeerId(1)}, 10);
  c->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));
  c->SinkFor(PeerId(1))->ReportModel(Round(2), Model(0.f));
  c->SinkFor(PeerId(0))->ReportModel(Round(3), Model(0.f));
  c->SinkFor(PeerId(0))->ReportModel(Round(4), Model(0.f));
  c->SinkFor(PeerId(0))->ReportTrainLoss(Round(5), 2.0);  // before the crossing
  c->EndAfterRoundInProgress(RunEnd::kByteBudget);  // peer 0 finished 4: round 5 is last
  c->EndAfterRoundInProgress(RunEnd::kTimeBudget);  // a later crossing changes nothing
  c->SinkFor(PeerId(1))->ReportModel(Round(3), Model(0.f));
  c->SinkFor(PeerId(1))->ReportModel(Round(4), Model(0.f));
  c->SinkFor(PeerId(0))->ReportModel(Round(5), Model(1.f));
  c->SinkFor(PeerId(1))->ReportTrainLoss(Round(5), 4.0);
  EXPECT_FALSE(c->finished());
  c->SinkFor(PeerId(1))->ReportModel(Round(5), Model(1.f));
  EXPECT_TRUE(c->finished());
  EXPECT_EQ(c->ended_by(), RunEnd::kByteBudget);
  // Round 5 gets a row although eval.every is 2, with both peers and the
  // losses reported before and after the crossing.
  ASSERT_EQ(emitted_, (std::vector<int64_t>{2, 4, 5}));
  EXPECT_EQ(c->rows().back().peers_evaluated, 2);
  EXPECT_EQ(c->rows().back().train_loss, 3.0);
  // Nothing is kept beyond the last row, even by Flush.
  c->SinkFor(PeerId(0))->ReportModel(Round(6), Model(0.f));
  c->Flush();
  EXPECT_EQ(emitted_, (std::vector<int64_t>{2, 4, 5}));
  EXPECT_FALSE(c->target_reached().has_value());
}

TEST_F(EvalCollectorTest, BudgetRowNeedNotBeAnEvaluationRound) {
  auto c = Make({PeerId(0)}, 10);
  c->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));
  c->SinkFor(PeerId(0))->ReportTrainLoss(Round(3), 0.25);  // reported before the crossing
  c->EndAfterRoundInProgress(RunEnd::kTimeBudget);
  c->SinkFor(PeerId(0))->ReportModel(Round(3), Model(0.f));
  ASSERT_EQ(emitted_, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(c->rows().back().train_loss, 0.25);
  EXPECT_EQ(c->ended_by(), RunEnd::kTimeBudget);
}

TEST_F(EvalCollectorTest, PeerThatJumpsPastTheLastRoundCountsWithItsFirstModelBeyondIt) {
  auto c = Make({PeerId(0), PeerId(1)}, 10);
  c->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));
  c->SinkFor(PeerId(1))->ReportModel(Round(2), Model(0.f));
  c->EndAfterRoundInProgress(RunEnd::kByteBudget);  // round 3 is the last
  c->SinkFor(PeerId(0))->ReportModel(Round(3), Model(1.f));
  c->SinkFor(PeerId(0))->ReportModel(Round(4), Model(9.f));  // not wanted: has round 3
  EXPECT_FALSE(c->finished());
  c->SinkFor(PeerId(1))->ReportModel(Round(5), Model(3.f));  // caught up past 3
  ASSERT_TRUE(c->finished());
  EXPECT_EQ(c->rows().back().round, 3);
  EXPECT_EQ(c->rows().back().peers_evaluated, 2);
  // Models 1 and 3 (not 9): each is sqrt(dim) from their mean.
  EXPECT_NEAR(c->rows().back().consensus_dist,
              std::sqrt(static_cast<double>(model_->num_params())), 1e-9);
}

TEST_F(EvalCollectorTest, RoundsOutrankATargetWhichOutranksABudget) {
  // The last round's row reaches the target: the run ended by its rounds.
  auto c = Make({PeerId(0)}, 2, EvalConfig{.every = 2, .target_acc = 0.0});
  c->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));
  EXPECT_EQ(c->ended_by(), RunEnd::kRounds);
  ASSERT_TRUE(c->target_reached().has_value());
  EXPECT_EQ(c->target_reached()->round, 2);
  // A budget whose round in progress is the last one.
  auto d = Make({PeerId(0)}, 3);
  d->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));
  d->EndAfterRoundInProgress(RunEnd::kByteBudget);
  d->SinkFor(PeerId(0))->ReportModel(Round(3), Model(0.f));
  EXPECT_EQ(d->ended_by(), RunEnd::kRounds);
  // The budget's last row reaches the target.
  auto e = Make({PeerId(0)}, 10, EvalConfig{.every = 2, .target_acc = 0.0});
  e->SinkFor(PeerId(0))->ReportModel(Round(1), Model(0.f));
  e->EndAfterRoundInProgress(RunEnd::kTimeBudget);
  e->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));
  EXPECT_EQ(e->ended_by(), RunEnd::kTargetAcc);
}

TEST_F(EvalCollectorTest, TargetEndsAtTheFirstRowReachingIt) {
  // All-zero logistic regression predicts class 0 everywhere: its accuracy
  // is the share of class 0 in the test set, which a target just above it
  // does not reach and a target equal to it does.
  auto probe = Make({PeerId(0)}, 4);
  probe->SinkFor(PeerId(0))->ReportModel(Round(0), Model(0.f));
  const double zero_acc = probe->rows().back().acc_mean;
  emitted_.clear();
  auto c = Make({PeerId(0)}, 4, EvalConfig{.every = 2, .target_acc = zero_acc + 1e-9});
  now_ = SimTime{1'000'000'000};
  bytes_ = 10;
  c->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));
  EXPECT_FALSE(c->finished());
  EXPECT_FALSE(c->target_reached().has_value());
  auto d = Make({PeerId(0)}, 4, EvalConfig{.every = 2, .target_acc = zero_acc});
  d->SinkFor(PeerId(0))->ReportModel(Round(2), Model(0.f));
  ASSERT_TRUE(d->finished());
  EXPECT_EQ(d->ended_by(), RunEnd::kTargetAcc);
  ASSERT_TRUE(d->target_reached().has_value());
  EXPECT_EQ(d->target_reached()->round, 2);
  EXPECT_EQ(d->target_reached()->time_s, 1.0);
  EXPECT_EQ(d->target_reached()->bytes_sent, 10u);
  d->SinkFor(PeerId(0))->ReportModel(Round(4), Model(0.f));  // after the end
  EXPECT_EQ(d->rows().size(), 1u);
}

TEST(SampleEvaluatedPeers, IsASeededSortedSubset) {
  std::vector<PeerId> all;
  for (uint32_t i = 0; i < 100; ++i) all.push_back(PeerId(i));
  auto a = SampleEvaluatedPeers(all, 10, 1);
  EXPECT_EQ(a.size(), 10u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(a, SampleEvaluatedPeers(all, 10, 1));
  EXPECT_NE(a, SampleEvaluatedPeers(all, 10, 2));
  EXPECT_EQ(SampleEvaluatedPeers(all, 0, 1).size(), 100u);
}

}  // namespace
}  // namespace murmur

namespace murmur {
namespace {

TEST_F(EvalCollectorTest, FirstReportModeEmitsEachRoundOnceFromItsFirstModel) {
  auto c = Make({PeerId(0), PeerId(1), PeerId(2)}, 4);
  c->EmitOnFirstReport();
  c->SinkFor(PeerId(1))->ReportModel(Round(2), Model(1.f));
  ASSERT_EQ(emitted_, std::vector<int64_t>{2});
  EXPECT_EQ(c->rows().back().peers_evaluated, 1);
  EXPECT_EQ(c->rows().back().consensus_dist, 0.0);
  c->SinkFor(PeerId(2))->ReportModel(Round(2), Model(3.f));  // a second aggregator
  EXPECT_EQ(emitted_, std::vector<int64_t>{2});
  c->SinkFor(PeerId(0))->ReportModel(Round(4), Model(1.f));
  EXPECT_EQ(emitted_, (std::vector<int64_t>{2, 4}));
  EXPECT_TRUE(c->finished());
}

}  // namespace
}  // namespace murmur
