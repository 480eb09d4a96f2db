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
  std::unique_ptr<EvalCollector> Make(std::vector<PeerId> evaluated, int64_t rounds) {
    return std::make_unique<EvalCollector>(
        *model_, data_.test, EvalConfig{.every = 2}, rounds, std::move(evaluated), 3, pool_,
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
