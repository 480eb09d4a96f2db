// Streaming DiLoCo (protocol/streaming_diloco.h) in seeded simulated runs:
// it learns (beating one peer training alone on its shard and near the
// synchronous baseline) with over 100x fewer bytes than that baseline; its
// busiest exchange is 1/P of DiLoCo's (float32, P = 4) and smaller still
// with 4-bit outer gradients; the peers stay bit-identical; bad options are
// refused.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "diloco_task.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/registry.h"
#include "murmur/protocol/streaming_diloco.h"
#include "testing/scenario.h"

namespace murmur::testing {
namespace {

ProtocolConfig Streaming(int64_t rounds, int64_t h, StreamingConfig s) {
  ProtocolConfig c;
  c.kind = "streaming_diloco";
  c.rounds = rounds;
  c.local_steps = h;
  c.round_timeout_s = 1;
  MutableProtocolOptions<StreamingConfig>(c) = s;
  return c;
}

template <typename N>
void ExpectIdentical(const std::vector<Node*>& nodes) {
  const auto* first = dynamic_cast<const N*>(nodes[0]);
  ASSERT_NE(first, nullptr);
  for (Node* node : nodes) {
    const auto* n = dynamic_cast<const N*>(node);
    ASSERT_EQ(n->global().size(), first->global().size());
    for (size_t i = 0; i < n->global().size(); ++i) {
      ASSERT_EQ(n->global()[i], first->global()[i]) << "float " << i;
      ASSERT_EQ(n->momentum()[i], first->momentum()[i]) << "float " << i;
    }
  }
}

// 8 peers, 200 Adam steps each. Streaming DiLoCo: H = 20, P = 4, tau = 1,
// 4-bit outer gradients. Against: the synchronous baseline (an all-reduce
// of the models after every step) and peer 0 training alone on its shard.
TEST(StreamingDiloco, LearnsNearTheSynchronousLossWithOver100xFewerBytes) {
  SimStats stream_stats, sync_stats;
  std::vector<Node*> nodes;
  Harness a(MlpTask(8));
  const std::vector<EvalRow> stream =
      a.Run(Streaming(10, 20, {}), {}, 1, {.every = 10}, &stream_stats, &nodes);
  ASSERT_EQ(stream.back().round, 10);
  ExpectIdentical<StreamingDilocoNode>(nodes);
  Harness b(MlpTask(8));
  const std::vector<EvalRow> sync =
      b.Run(Diloco(200, 1, {.outer_lr = 1, .outer_momentum = 0}), {}, 1, {.every = 100},
            &sync_stats);
  Harness c(MlpTask(8));
  c.learner(0).Train(200);
  const double alone = Evaluate(c.model(), c.learner(0).params(), c.data().test, 0).loss;
  const double start = stream.front().loss_mean;
  const double end = stream.back().loss_mean;
  std::printf("loss: start %.4f, streaming %.4f, synchronous %.4f, alone %.4f; bytes %llu vs %llu\n",
              start, end, sync.back().loss_mean, alone,
              static_cast<unsigned long long>(stream_stats.bytes_sent),
              static_cast<unsigned long long>(sync_stats.bytes_sent));
  EXPECT_LT(end, 0.5 * start);
  EXPECT_LT(end, 0.8 * alone) << "no margin over training alone";
  EXPECT_LT(end, sync.back().loss_mean * 1.15);
  EXPECT_GT(static_cast<double>(sync_stats.bytes_sent) / stream_stats.bytes_sent, 100.0);
}

// The busiest exchange: DiLoCo all-reduces the whole model every H steps;
// Streaming DiLoCo with P = 4 one quarter of it (float32), and with 4-bit
// codes about an eighth of that. Total bytes: float32 streaming moves what
// DiLoCo moves (every float once per H steps).
TEST(StreamingDiloco, PeakExchangeIsLowerByTheFragmentCount) {
  const auto peak = [](const ProtocolConfig& config, SimStats* stats) {
    Harness h(MlpTask(4));
    std::vector<Node*> nodes;
    h.Run(config, {}, 1, {.every = 4}, stats, &nodes);
    uint64_t most = 0;
    for (Node* n : nodes) {
      if (const auto* s = dynamic_cast<const StreamingDilocoNode*>(n)) {
        most = std::max(most, s->peak_exchange_bytes());
      } else {
        most = std::max(most, dynamic_cast<const DilocoNode*>(n)->peak_exchange_bytes());
      }
    }
    return static_cast<double>(most);
  };
  SimStats d_stats, f_stats, q_stats;
  const double diloco = peak(Diloco(4, 8, {.check_state = false}), &d_stats);
  StreamingConfig fp32{.fragments = 4, .overlap_steps = 1, .bits = 0};
  fp32.outer.check_state = false;
  StreamingConfig four = fp32;
  four.bits = 4;
  const double streaming = peak(Streaming(4, 8, fp32), &f_stats);
  const double quantized = peak(Streaming(4, 8, four), &q_stats);
  std::printf("peak exchange bytes: diloco %.0f, streaming fp32 %.0f, streaming 4-bit %.0f\n",
              diloco, streaming, quantized);
  EXPECT_NEAR(diloco / streaming, 4.0, 0.1);
  EXPECT_GT(diloco / quantized, 4.0 * 7.0);
  EXPECT_NEAR(static_cast<double>(f_stats.bytes_sent), d_stats.bytes_sent,
              0.01 * d_stats.bytes_sent);
}

// (Byzantine peers are refused by the registry: streaming_diloco is not
// among the protocols that simulate them.)
TEST(StreamingDiloco, RefusesFragmentsBeyondHAndAttacks) {
  Harness h(MlpTask(4));
  Result<ProtocolRun> run =
      PrepareProtocolRun(Streaming(2, 3, {.fragments = 4}), h.model(), 4, 1, true);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("fragments <= local_steps"), std::string::npos)
      << run.status().ToString();
  run = PrepareProtocolRun(Streaming(2, 8, {.fragments = 4, .overlap_steps = 3}), h.model(), 4,
                           1, true);
  ASSERT_FALSE(run.ok());
  ProtocolConfig attacked = Streaming(2, 8, {});
  attacked.byzantine = {.count = 1, .attack = AttackKind::kSignFlip, .scale = 4};
  run = PrepareProtocolRun(attacked, h.model(), 4, 1, true);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("simulated for protocol.kind"), std::string::npos)
      << run.status().ToString();
}

// diloco.evicted_notices reaches every Streaming DiLoCo peer's collective
// group, and a value above peers - 1 is refused naming the key.
TEST(StreamingDiloco, EvictedNoticesReachEveryPeersGroupAndAreBoundedByTheOtherPeers) {
  Harness h(MlpTask(4));
  std::vector<Node*> nodes;
  StreamingConfig three{.fragments = 2};
  three.outer.evicted_notices = 3;
  h.Run(Streaming(1, 2, three), {}, 1, {.every = 1}, nullptr, &nodes);
  ASSERT_EQ(nodes.size(), 4u);
  for (Node* node : nodes) {
    EXPECT_EQ(dynamic_cast<const StreamingDilocoNode*>(node)->group().options().evicted_notices,
              3u);
  }
  StreamingConfig four = three;
  four.outer.evicted_notices = 4;
  Harness g(MlpTask(4));
  Result<ProtocolRun> run = PrepareProtocolRun(Streaming(2, 2, four), g.model(), 4, 1, true);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().message().find("diloco.evicted_notices = 4 exceeds peers - 1 = 3"),
            std::string::npos)
      << run.status().ToString();
}

}  // namespace
}  // namespace murmur::testing
