#include "murmur/experiment/peer_metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace murmur {
namespace {

EvalRow Row(int64_t round, double acc, double loss, double train, uint64_t bytes, double t) {
  EvalRow r;
  r.round = round;
  r.acc_mean = r.acc_min = r.acc_max = acc;
  r.loss_mean = loss;
  r.train_loss = train;
  r.bytes_sent = bytes;
  r.msgs_sent = bytes / 100;
  r.time_s = t;
  r.peers_evaluated = 1;
  return r;
}

TEST(MergePeerRows, AggregatesEachRoundAcrossPeers) {
  const std::vector<std::vector<EvalRow>> peers = {
      {Row(0, 0.1, 2.0, std::nan(""), 0, 0.0), Row(2, 0.8, 0.6, 0.7, 1000, 1.5)},
      {Row(0, 0.2, 2.2, std::nan(""), 0, 0.1), Row(2, 0.6, 1.0, 0.9, 3000, 1.2)},
      {Row(2, 0.7, 0.8, std::nan(""), 2000, 2.0)},  // missed round 0
  };
  const std::vector<EvalRow> rows = MergePeerRows(peers);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].round, 0);
  EXPECT_EQ(rows[0].peers_evaluated, 2);
  EXPECT_DOUBLE_EQ(rows[0].acc_mean, 0.15);
  EXPECT_DOUBLE_EQ(rows[0].loss_mean, 2.1);
  EXPECT_TRUE(std::isnan(rows[0].train_loss));
  EXPECT_DOUBLE_EQ(rows[0].time_s, 0.1);
  const EvalRow& r = rows[1];
  EXPECT_EQ(r.round, 2);
  EXPECT_EQ(r.peers_evaluated, 3);
  EXPECT_NEAR(r.acc_mean, 0.7, 1e-12);
  EXPECT_DOUBLE_EQ(r.acc_min, 0.6);
  EXPECT_DOUBLE_EQ(r.acc_max, 0.8);
  EXPECT_NEAR(r.loss_mean, 0.8, 1e-12);
  EXPECT_NEAR(r.train_loss, 0.8, 1e-12);  // mean of the two finite ones
  EXPECT_EQ(r.bytes_sent, 6000u);
  EXPECT_EQ(r.msgs_sent, 60u);
  EXPECT_DOUBLE_EQ(r.time_s, 2.0);
  EXPECT_TRUE(std::isnan(r.consensus_dist));
}

TEST(MergePeerRows, WeightsRowsThatAlreadyCoverSeveralPeers) {
  EvalRow a = Row(4, 0.9, 0.3, 0.2, 10, 1);
  a.peers_evaluated = 3;
  EvalRow b = Row(4, 0.5, 0.7, 0.4, 10, 1);
  const std::vector<EvalRow> rows = MergePeerRows({{a}, {b}});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].peers_evaluated, 4);
  EXPECT_NEAR(rows[0].acc_mean, (3 * 0.9 + 0.5) / 4, 1e-12);
  EXPECT_NEAR(rows[0].loss_mean, (3 * 0.3 + 0.7) / 4, 1e-12);
}

// A restarted peer's file holds its earlier life's rows, then the new
// life's from round 0 again: each round counts that peer once, by its first
// report.
TEST(MergePeerRows, ARoundAPeerReportsAgainCountsOnce) {
  const std::vector<std::vector<EvalRow>> peers = {
      {Row(0, 0.2, 2.0, 1.0, 0, 0.0), Row(2, 0.6, 1.0, 0.9, 1000, 1.0),
       Row(0, 0.1, 2.4, 1.0, 0, 0.0), Row(2, 0.3, 1.8, 0.9, 500, 0.4),
       Row(4, 0.8, 0.5, 0.5, 900, 0.8)},
      {Row(2, 0.8, 0.6, 0.7, 3000, 1.2)},
  };
  const std::vector<EvalRow> rows = MergePeerRows(peers);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].peers_evaluated, 1);
  EXPECT_DOUBLE_EQ(rows[0].acc_mean, 0.2);
  EXPECT_EQ(rows[1].peers_evaluated, 2);
  EXPECT_DOUBLE_EQ(rows[1].acc_mean, 0.7);
  EXPECT_EQ(rows[1].bytes_sent, 4000u);
  EXPECT_EQ(rows[2].round, 4);
  EXPECT_DOUBLE_EQ(rows[2].acc_mean, 0.8);
}

TEST(MergePeerRows, NoRowsGiveNoRows) { EXPECT_TRUE(MergePeerRows({{}, {}}).empty()); }

}  // namespace
}  // namespace murmur
