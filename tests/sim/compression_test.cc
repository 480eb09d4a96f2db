// Seeded scenarios for compressed communication: CHOCO-SGD's defining
// properties (exact gossip with the identity codec, consensus on the
// average under top-k), learning with a fraction of the bytes, recovery
// from lost deltas; compressed FedAvg learning with fewer bytes.
#include <gtest/gtest.h>

#include <cmath>

#include "testing/scenario.h"
#include "murmur/protocol/choco.h"
#include "murmur/protocol/registry.h"
#include "murmur/protocol/dfedsam.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/fedbuff.h"
#include "murmur/protocol/fedcompass.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/modest.h"
#include "murmur/protocol/choco_gossip.h"
#include "murmur/protocol/coded_message.h"
#include "murmur/protocol/model_message.h"
#include "murmur/sim/simulator.h"

namespace murmur::testing {
namespace {

ProtocolConfig Choco(int64_t rounds, int64_t local_steps, const char* codec, double gamma) {
  ProtocolConfig c;
  c.kind = "choco";
  c.rounds = rounds;
  c.local_steps = local_steps;
  MutableProtocolOptions<ChocoConfig>(c).topology.kind = TopologyKind::kRing;
  MutableProtocolOptions<ChocoConfig>(c).codec = codec;
  MutableProtocolOptions<ChocoConfig>(c).gamma = gamma;
  return c;
}

std::vector<std::vector<float>> Params(Harness& h, int peers) {
  std::vector<std::vector<float>> out;
  for (int i = 0; i < peers; ++i) {
    out.emplace_back(h.learner(i).params().begin(), h.learner(i).params().end());
  }
  return out;
}

TEST(Choco, IdentityCodecWithGammaOneEqualsDpsgd) {
  ProtocolConfig choco = Choco(10, 1, "fp32", 1.0);
  ProtocolConfig dpsgd = choco;
  dpsgd.kind = "dpsgd";
  dpsgd.options = DpsgdConfig{.topology = ProtocolOptionsAs<ChocoConfig>(choco).topology};
  Harness a({.peers = 7, .optimizer = {.lr = 0.0}, .same_init = false});
  Harness b({.peers = 7, .optimizer = {.lr = 0.0}, .same_init = false});
  ASSERT_GT(std::abs(a.learner(0).params()[0] - a.learner(1).params()[0]), 1e-4);
  a.Run(choco);
  b.Run(dpsgd);
  const auto x = Params(a, 7);
  const auto y = Params(b, 7);
  double max_diff = 0;
  for (int i = 0; i < 7; ++i) {
    for (size_t j = 0; j < x[i].size(); ++j) {
      max_diff = std::max(max_diff, std::abs(static_cast<double>(x[i][j]) - y[i][j]));
    }
  }
  EXPECT_LT(max_diff, 1e-5);
}

TEST(Choco, ZeroLearningRateTopKConvergesToTheExactAverage) {
  Harness h({.peers = 9, .optimizer = {.lr = 0.0}, .same_init = false});
  const size_t dim = h.learner(0).params().size();
  std::vector<double> average(dim, 0.0);
  for (int i = 0; i < 9; ++i) {
    for (size_t j = 0; j < dim; ++j) average[j] += h.learner(i).params()[j] / 9.0;
  }
  double initial_error = 0;
  for (int i = 0; i < 9; ++i) {
    for (size_t j = 0; j < dim; ++j) {
      initial_error = std::max(initial_error, std::abs(h.learner(i).params()[j] - average[j]));
    }
  }
  h.Run(Choco(300, 1, "topk:0.1", 0.4));
  double max_error = 0;
  std::vector<double> mean(dim, 0.0);
  for (int i = 0; i < 9; ++i) {
    for (size_t j = 0; j < dim; ++j) {
      max_error = std::max(max_error, std::abs(h.learner(i).params()[j] - average[j]));
      mean[j] += h.learner(i).params()[j] / 9.0;
    }
  }
  // Symmetric W keeps the average; top-k only slows the approach to it.
  double mean_drift = 0;
  for (size_t j = 0; j < dim; ++j) mean_drift = std::max(mean_drift, std::abs(mean[j] - average[j]));
  EXPECT_LT(mean_drift, 1e-5);
  EXPECT_LT(max_error, 5e-3 * initial_error) << "initial " << initial_error;
}

// The learning tests below run on the non-IID task (scenario.h: each peer
// holds one or two classes) and beat local-only training of the same peers,
// measured in the same test, by a wide margin.
TEST(Choco, TopKLearnsTheNonIidTaskWithAFractionOfTheBytes) {
  ProtocolConfig choco = Choco(20, 5, "topk:0.05", 0.5);
  ProtocolConfig dpsgd = choco;
  dpsgd.kind = "dpsgd";
  dpsgd.options = DpsgdConfig{.topology = ProtocolOptionsAs<ChocoConfig>(choco).topology};
  const HarnessOptions task = NonIid({.peers = 8});
  const double local = LocalOnlyAccuracy(task, 20, 5);
  Harness a(task);
  Harness b(task);
  std::vector<EvalRow> compressed = a.Run(choco);
  std::vector<EvalRow> plain = b.Run(dpsgd);
  ASSERT_EQ(compressed.back().round, 20);
  EXPECT_LT(compressed.front().acc_mean, 0.3);
  EXPECT_GT(compressed.back().acc_mean, 0.85);
  // Top-5% deltas cost some accuracy on the non-IID task (0.900 vs 0.984
  // with seed 1).
  EXPECT_GT(compressed.back().acc_mean, plain.back().acc_mean - 0.1);
  EXPECT_GT(compressed.back().acc_mean, local + 0.4) << "local-only reaches " << local;
  EXPECT_LT(compressed.back().bytes_sent * 8, plain.back().bytes_sent);
  EXPECT_EQ(compressed.back().bytes_received, compressed.back().bytes_sent);  // lossless links
}

class CountingSink final : public MetricsSink {
 public:
  void ReportModel(Round, std::span<const float>) override {}
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view name, int64_t delta) override {
    counters[std::string(name)] += delta;
  }
  std::map<std::string, int64_t> counters;
};

// Without resyncs, a copy that misses one delta is wrong for the rest of
// the run (0.8^15: almost every link loses one). With them, most copies end
// bit-identical to the neighbour's own public model.
TEST(Choco, LostDeltasAreDetectedAndResynced) {
  Harness h({.peers = 8});
  std::vector<Learner*> learners;
  for (int i = 0; i < 8; ++i) learners.push_back(&h.learner(i));
  ProtocolConfig c = Choco(15, 5, "topk:0.05", 0.5);
  c.round_timeout_s = 0.5;
  ProtocolSetup setup = MakeProtocol(c, learners, h.model(), 1).value();
  std::vector<ChocoNode*> nodes;
  for (auto& node : setup.nodes) nodes.push_back(dynamic_cast<ChocoNode*>(node.get()));
  CountingSink sink;
  ThreadPool pool(2);
  SimConfig lossy;
  lossy.link.loss = 0.2;
  Simulator sim(lossy, 1, std::move(setup.nodes), std::vector<MetricsSink*>(8, &sink), pool);
  sim.Run(nullptr);
  EXPECT_GT(sim.stats().msgs_lost, 0u);
  EXPECT_LT(sim.stats().bytes_received, sim.stats().bytes_sent);
  EXPECT_GT(sink.counters["choco.resync_requests"], 0);
  EXPECT_GT(sink.counters["choco.deltas_resent"], 0);
  EXPECT_GT(sink.counters["choco.resyncs_applied"], 0);
  EXPECT_EQ(sim.stats().bad_peer_reports, 0u);
  int in_sync = 0, pairs = 0;
  for (ChocoNode* node : nodes) {
    EXPECT_EQ(node->completed_rounds(), 15);
    for (size_t k = 0; k < node->neighbours().size(); ++k) {
      const ChocoNode* other = nodes[node->neighbours()[k].value];
      std::span<const float> copy = node->neighbour_public_model(k);
      ++pairs;
      in_sync += std::equal(copy.begin(), copy.end(), other->public_model().begin());
    }
  }
  EXPECT_GE(in_sync * 2, pairs) << in_sync << " of " << pairs << " copies in sync";
  for (int i = 0; i < 8; ++i) {
    EXPECT_GT(Evaluate(h.model(), h.learner(i).params(), h.data().test, 0).accuracy, 0.8);
  }
}

TEST(Choco, FinishesUnderChurnAndLossWithoutDeadlock) {
  SimConfig harsh;
  harsh.link.loss = 0.2;
  harsh.churn = ChurnConfig{.mean_online_s = 2.0, .mean_offline_s = 1.0};
  ProtocolConfig c = Choco(15, 5, "topk:0.05|int8", 0.5);
  c.round_timeout_s = 0.5;
  Harness h({.peers = 8});
  SimStats stats;
  std::vector<EvalRow> rows = h.Run(c, harsh, 2, {.every = 5}, &stats);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().round, 15);
  EXPECT_EQ(rows.back().peers_evaluated, 8);
  EXPECT_GT(stats.msgs_offline, 0u);
  EXPECT_GT(rows.back().acc_mean, 0.5);
}

ProtocolConfig Gossip(int64_t rounds, const char* codec) {
  ProtocolConfig c;
  c.kind = "gossip";
  c.rounds = rounds;
  c.local_steps = 5;
  MutableProtocolOptions<GossipConfig>(c).topology.kind = TopologyKind::kFullyConnected;
  MutableProtocolOptions<GossipConfig>(c).period_s = 0.5;
  MutableProtocolOptions<GossipConfig>(c).codec = codec;
  return c;
}

// Same schedule (the same neighbour draws), 1-bit pushes: the bytes are
// exactly the message count times one header plus one sign frame.
TEST(CompressedGossip, SignLearnsWithOneThirtySecondOfTheBytes) {
  const HarnessOptions task = NonIid({.peers = 8});
  const double local = LocalOnlyAccuracy(task, 30, 5);
  Harness a(task);
  Harness b(task);
  SimStats compressed_stats, plain_stats;
  std::vector<EvalRow> compressed = a.Run(Gossip(30, "sign"), {}, 1, {.every = 10},
                                          &compressed_stats);
  std::vector<EvalRow> plain = b.Run(Gossip(30, "fp32"), {}, 1, {.every = 10}, &plain_stats);
  ASSERT_EQ(compressed.back().round, 30);
  EXPECT_LT(compressed.front().acc_mean, 0.3);
  EXPECT_GT(compressed.back().acc_mean, 0.85);
  EXPECT_GT(compressed.back().acc_mean, plain.back().acc_mean - 0.05);
  EXPECT_GT(compressed.back().acc_mean, local + 0.4) << "local-only reaches " << local;
  const size_t dim = a.learner(0).params().size();
  EXPECT_EQ(compressed_stats.msgs_sent, 8u * 30u);
  EXPECT_EQ(plain_stats.msgs_sent, compressed_stats.msgs_sent);
  const uint64_t sign_message =
      kCodedMessageHeaderBytes + MakeCodec("sign").value()->MaxEncodedSize(dim);
  const uint64_t plain_message =
      EncodeModelMessage(ModelMessageKind::kGossipModel, Round(1), 0, a.learner(0).params())
          .size();
  EXPECT_EQ(compressed_stats.bytes_sent, compressed_stats.msgs_sent * sign_message);
  EXPECT_EQ(plain_stats.bytes_sent, plain_stats.msgs_sent * plain_message);
  EXPECT_GT(plain_stats.bytes_sent, 31 * compressed_stats.bytes_sent);
}

TEST(CompressedGossip, TopKLearnsTheNonIidTask) {
  const HarnessOptions task = NonIid({.peers = 8});
  const double local = LocalOnlyAccuracy(task, 30, 5);
  Harness h(task);
  ProtocolConfig c = Gossip(30, "topk:0.1|int8");
  MutableProtocolOptions<GossipConfig>(c).topology.kind = TopologyKind::kRing;
  SimStats stats;
  std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 10}, &stats);
  ASSERT_EQ(rows.back().round, 30);
  EXPECT_GT(rows.back().acc_mean, 0.8);
  EXPECT_GT(rows.back().acc_mean, local + 0.4) << "local-only reaches " << local;
  EXPECT_EQ(stats.bad_peer_reports, 0u);
}

// RQM as gossip's codec (compress.codec = "rqm:..."): every push is one
// fixed-size RQM frame (4 bits a coordinate at 16 levels) of the CHOCO
// difference, drawn from the sender's privacy stream, and the peers learn
// the non-IID task by a wide margin over local-only training measured in
// the same test, close to uncompressed gossip.
TEST(CompressedGossip, RqmLearnsTheNonIidTaskWithFixedSizeFrames) {
  const HarnessOptions task = NonIid({.peers = 8});
  const double local = LocalOnlyAccuracy(task, 30, 5);
  const char* spec = "rqm:clip=0.05,delta=0.075,levels=16,keep=0.5";
  Harness a(task);
  Harness b(task);
  SimStats rqm_stats, plain_stats;
  std::vector<EvalRow> rqm = a.Run(Gossip(30, spec), {}, 1, {.every = 10}, &rqm_stats);
  std::vector<EvalRow> plain = b.Run(Gossip(30, "fp32"), {}, 1, {.every = 10}, &plain_stats);
  ASSERT_EQ(rqm.back().round, 30);
  EXPECT_LT(rqm.front().acc_mean, 0.3);
  EXPECT_GT(rqm.back().acc_mean, local + 0.3) << "local-only reaches " << local;
  EXPECT_GT(rqm.back().acc_mean, plain.back().acc_mean - 0.1)
      << "uncompressed gossip reaches " << plain.back().acc_mean;
  EXPECT_EQ(rqm_stats.bad_peer_reports, 0u);
  RecordProperty("rqm_accuracy", std::to_string(rqm.back().acc_mean));
  RecordProperty("fp32_accuracy", std::to_string(plain.back().acc_mean));
  RecordProperty("local_only_accuracy", std::to_string(local));
  const size_t dim = a.learner(0).params().size();
  const uint64_t frame = MakeCodec(spec).value()->MaxEncodedSize(dim);
  uint64_t varint = 1;  // the frame's dimension, LEB128
  for (uint64_t v = dim; v >= 128; v >>= 7) ++varint;
  EXPECT_EQ(frame, 1 + varint + 8 + (dim * 4 + 7) / 8);
  EXPECT_EQ(rqm_stats.bytes_sent, rqm_stats.msgs_sent * (kCodedMessageHeaderBytes + frame));
}

// Copies at the same sequence number must be bit-identical (a loss is
// never silently absorbed), and the gaps losses leave are repaired: most
// edges end in sync although a fifth of all messages are lost.
TEST(CompressedGossip, LostMessagesDoNotDesynchroniseCopies) {
  Harness h({.peers = 8});
  ProtocolConfig c = Gossip(40, "topk:0.1|int8");
  MutableProtocolOptions<GossipConfig>(c).topology.kind = TopologyKind::kRing;
  SimConfig lossy;
  lossy.link.loss = 0.2;
  SimStats stats;
  std::vector<Node*> nodes;
  std::vector<EvalRow> rows = h.Run(c, lossy, 1, {.every = 10}, &stats, &nodes);
  EXPECT_GT(stats.msgs_lost, 0u);
  EXPECT_EQ(stats.bad_peer_reports, 0u);
  int in_sync = 0, edges = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto* node = dynamic_cast<ChocoGossipNode*>(nodes[i]);
    ASSERT_NE(node, nullptr);
    for (size_t k = 0; k < node->neighbours().size(); ++k) {
      auto* other = dynamic_cast<ChocoGossipNode*>(nodes[node->neighbours()[k].value]);
      const std::vector<PeerId>& back = other->neighbours();
      const auto me = static_cast<size_t>(
          std::lower_bound(back.begin(), back.end(), PeerId(static_cast<uint32_t>(i))) -
          back.begin());
      ++edges;
      const int64_t sent = node->sent_sequence(k);
      const int64_t applied = other->received_sequence(me);
      EXPECT_LE(applied, sent);
      std::span<const float> a = node->sent_copy(k);
      std::span<const float> b = other->received_copy(me);
      if (applied == sent) {
        EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()))
            << "edge " << i << "->" << node->neighbours()[k] << " at sequence " << sent;
        ++in_sync;
      }
    }
  }
  EXPECT_GE(in_sync * 2, edges) << in_sync << " of " << edges << " edges in sync";
  EXPECT_GT(rows.back().acc_mean, 0.8);
}

ProtocolConfig FedAvg(const char* uplink, const char* downlink, ErrorFeedbackKind feedback) {
  ProtocolConfig c;
  c.kind = "fedavg";
  c.rounds = 10;
  MutableProtocolOptions<FedAvgConfig>(c).client_fraction = 0.5;
  MutableProtocolOptions<FedAvgConfig>(c).compress.uplink = uplink;
  MutableProtocolOptions<FedAvgConfig>(c).compress.downlink = downlink;
  MutableProtocolOptions<FedAvgConfig>(c).compress.error_feedback = feedback;
  return c;
}

// Two clients, every round both: 2 models down and 2 up per round, each a
// 17-byte header and 4 bytes per parameter.
TEST(FedAvg, UplinkAndDownlinkBytesAreCountedApartAndAddUp) {
  Harness h({.peers = 2});
  ProtocolConfig c = FedAvg("fp32", "fp32", ErrorFeedbackKind::kNone);
  c.rounds = 3;
  MutableProtocolOptions<FedAvgConfig>(c).client_fraction = 1.0;
  SimStats stats;
  std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 1}, &stats);
  ASSERT_EQ(rows.back().round, 3);
  const uint64_t message = 17 + 4 * h.learner(0).params().size();
  for (const EvalRow& row : rows) {
    ASSERT_TRUE(row.bytes_up.has_value() && row.bytes_down.has_value());
    EXPECT_EQ(*row.bytes_up + *row.bytes_down, row.bytes_sent) << "round " << row.round;
    EXPECT_TRUE(row.stage_bytes.empty());  // uncoded
  }
  // The row of round r is out when the server has aggregated r rounds' updates
  // and sent round r + 1's global model (none after the last).
  EXPECT_EQ(*rows.back().bytes_up, 3 * 2 * message);
  EXPECT_EQ(*rows.back().bytes_down, 3 * 2 * message);
  // Per peer: each client sent 3 and received 3 models; the server the rest.
  ASSERT_EQ(stats.peers.size(), 3u);
  for (int client = 0; client < 2; ++client) {
    EXPECT_EQ(stats.peers[client].bytes_sent, 3 * message);
    EXPECT_EQ(stats.peers[client].bytes_received, 3 * message);
    EXPECT_EQ(stats.peers[client].msgs_sent, 3u);
  }
  EXPECT_EQ(stats.peers[2].bytes_sent, 6 * message);
  EXPECT_EQ(stats.peers[2].bytes_received, 6 * message);
  EXPECT_EQ(stats.max_peer_bytes, 12 * message);
}

// Stage columns count the codec frames: the last stage is exactly the
// direction's bytes minus the 17-byte message headers; the structure stage
// holds the kept values as fp32.
TEST(FedAvg, CodecStageBytesAreTheFramesAfterEachStage) {
  Harness h({.peers = 2});
  ProtocolConfig c = FedAvg("topk:0.1|int8", "int8|zstd", ErrorFeedbackKind::kEf21);
  c.rounds = 3;
  MutableProtocolOptions<FedAvgConfig>(c).client_fraction = 1.0;
  std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 3});
  const EvalRow& last = rows.back();
  ASSERT_EQ(last.round, 3);
  ASSERT_TRUE(last.bytes_up && last.bytes_down);
  EXPECT_EQ(*last.bytes_up + *last.bytes_down, last.bytes_sent);
  const uint64_t messages = 3 * 2;  // each way
  const std::map<std::string, uint64_t>& st = last.stage_bytes;
  ASSERT_EQ(st.size(), 4u);
  EXPECT_EQ(st.at("bytes_up_stage_int8"), *last.bytes_up - messages * kCodedMessageHeaderBytes);
  EXPECT_EQ(st.at("bytes_down_stage_zstd"),
            *last.bytes_down - messages * kCodedMessageHeaderBytes);
  const size_t dim = h.learner(0).params().size();
  const size_t k = dim / 10;  // at least, however the fraction rounds
  EXPECT_GE(st.at("bytes_up_stage_topk"), messages * 4 * k);
  EXPECT_GT(st.at("bytes_up_stage_topk"), st.at("bytes_up_stage_int8") + messages * 2 * k);  // 4 vs ~1 byte a value
  // int8 frames have a size fixed by the dimension.
  std::unique_ptr<Codec> int8 = MakeCodec("int8").value();
  ByteWriter frame;
  ASSERT_TRUE(int8->Encode(std::vector<float>(dim, 0.5f), {}, frame).ok());
  EXPECT_EQ(st.at("bytes_down_stage_int8"), messages * frame.size());
}

TEST(FedAvg, Int8BothWaysLearnsWithAQuarterOfTheBytes) {
  const HarnessOptions task = NonIid({.peers = 8});
  const double local = LocalOnlyAccuracy(task, 10, 5);
  Harness a(task);
  Harness b(task);
  std::vector<EvalRow> compressed = a.Run(FedAvg("int8", "int8", ErrorFeedbackKind::kNone));
  std::vector<EvalRow> plain = b.Run(FedAvg("fp32", "fp32", ErrorFeedbackKind::kNone));
  ASSERT_EQ(compressed.back().round, 10);
  EXPECT_GT(compressed.back().acc_mean, 0.85);
  EXPECT_NEAR(compressed.back().acc_mean, plain.back().acc_mean, 0.02);
  EXPECT_GT(compressed.back().acc_mean, local + 0.4) << "local-only reaches " << local;
  EXPECT_LT(compressed.back().bytes_sent * 3.5, plain.back().bytes_sent);
}

TEST(FedAvg, TopKUplinkWithEveryErrorFeedbackLearnsUnderLoss) {
  SimConfig lossy;
  lossy.link.loss = 0.1;
  const HarnessOptions task = NonIid({.peers = 8});
  const double local = LocalOnlyAccuracy(task, 15, 5);
  for (ErrorFeedbackKind feedback : {ErrorFeedbackKind::kNone, ErrorFeedbackKind::kEf,
                                     ErrorFeedbackKind::kEf21, ErrorFeedbackKind::kEControl}) {
    ProtocolConfig c = FedAvg("topk:0.1|int8", "fp16", feedback);
    c.rounds = 15;
    c.round_timeout_s = 1.0;
    Harness h(task);
    std::vector<EvalRow> rows = h.Run(c, lossy);
    ASSERT_EQ(rows.back().round, 15) << static_cast<int>(feedback);
    EXPECT_GT(rows.back().acc_mean, 0.7) << static_cast<int>(feedback);
    EXPECT_GT(rows.back().acc_mean, local + 0.3)
        << static_cast<int>(feedback) << ": local-only reaches " << local;
  }
}

}  // namespace
}  // namespace murmur::testing
