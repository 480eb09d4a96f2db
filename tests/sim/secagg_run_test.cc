// FedAvg with privacy.secure_aggregation in the simulator
// (protocol/fedavg_secagg.h): the masked run gives plain FedAvg's model to
// the fixed-point precision, recovers the sum with clients crashed at each
// of the four phases up to the threshold, aborts cleanly beyond it, and the
// server's view of a client's masked update is uniform.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "murmur/core/bytes.h"
#include "murmur/core/config.h"
#include "murmur/experiment/sim_run.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/privacy/mechanisms.h"
#include "murmur/protocol/fedavg_secagg.h"
#include "murmur/protocol/message_kind.h"
#include "murmur/protocol/secagg_message.h"
#include "testing/scenario.h"

namespace murmur {
namespace {

constexpr int kPeers = 8;

ProtocolConfig SecAggFedAvg(privacy::SecureAggregationMode mode, int64_t rounds) {
  ProtocolConfig c;
  c.kind = "fedavg";
  c.rounds = rounds;
  c.secure_aggregation.mode = mode;
  c.secagg_system_entropy = false;  // replayable masks for the uniformity test
  return c;
}

// Crash-stop fault injection at a SecAgg phase: forwards every event to the
// real client until the server's message opening `phase` arrives (0: the
// round's setup, so the client never advertises keys; p >= 1: the server's
// phase p - 1 reply, so it never sends its phase p message), then receives
// nothing and sends nothing, like sim.crash_* at that instant.
class CrashAtPhase final : public Node {
 public:
  CrashAtPhase(std::unique_ptr<Node> inner, int phase) : inner_(std::move(inner)), phase_(phase) {}
  void OnStart(Host& host) override { inner_->OnStart(host); }
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) override {
    if (crashed_) return;
    const auto kind = PeekMessageKind(bytes);
    int opens = -1;
    if (kind == MessageKind::kSecAggSetup) opens = 0;
    if (kind == MessageKind::kSecAggToClient && bytes.size() > kMessageHeaderBytes) {
      opens = bytes[kMessageHeaderBytes] + 1;
    }
    if (opens == phase_) {
      crashed_ = true;
      return;
    }
    inner_->OnMessage(host, from, bytes);
  }
  void OnTimer(Host& host, TimerId t) override {
    if (!crashed_) inner_->OnTimer(host, t);
  }
  void OnComputeDone(Host& host, uint64_t tag) override {
    if (!crashed_) inner_->OnComputeDone(host, tag);
  }

 private:
  std::unique_ptr<Node> inner_;
  const int phase_;
  bool crashed_ = false;
};

// Keeps every masked input (phase 2) the server receives, then delivers it.
class RecordMaskedInputs final : public Node {
 public:
  explicit RecordMaskedInputs(std::unique_ptr<Node> inner) : inner_(std::move(inner)) {}
  void OnStart(Host& host) override { inner_->OnStart(host); }
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) override {
    Result<SecAggPhaseMessage> m = DecodeSecAggPhase(bytes, SecAggDirection::kToServer);
    if (m.ok() && m->phase == 2) {
      ByteReader in(m->bytes);
      (void)in.ReadU32();  // client index
      (void)in.ReadU32();  // dimension
      while (in.remaining() >= 4) words.push_back(in.ReadU32().value());
    }
    inner_->OnMessage(host, from, bytes);
  }
  void OnTimer(Host& host, TimerId t) override { inner_->OnTimer(host, t); }
  void OnComputeDone(Host& host, uint64_t tag) override { inner_->OnComputeDone(host, tag); }
  std::vector<uint32_t> words;

 private:
  std::unique_ptr<Node> inner_;
};

struct RunResult {
  std::vector<float> global;
  int64_t completed = 0;
  int64_t aborted = 0;
  std::vector<PeerId> survivors;
  std::vector<uint32_t> masked_words;
  std::vector<EvalRow> rows;
  std::vector<float> clip_bits;  // each client's last clip bit (NaN: none)
  std::vector<double> clip_history;
  std::vector<std::vector<uint32_t>> rqm_indices;  // each client's last (RQM encoding)
};

// Runs `protocol` on `h` with client i crashed at crash_phase[i] (-1: never);
// `seed` is the run seed (h's own, for runs compared with h.Run).
RunResult RunWithCrashes(testing::Harness& h, const ProtocolConfig& protocol,
                         const std::vector<int>& crash_phase, uint64_t seed = 1) {
  std::vector<Learner*> learners;
  for (int i = 0; i < kPeers; ++i) learners.push_back(&h.learner(i));
  ProtocolSetup setup = MakeProtocol(protocol, learners, h.model(), seed).value();
  auto* server = dynamic_cast<SecAggFedAvgServer*>(setup.nodes.back().get());
  EXPECT_NE(server, nullptr);
  std::vector<const SecAggFedAvgClient*> clients;
  for (int i = 0; i < kPeers; ++i) {
    clients.push_back(dynamic_cast<const SecAggFedAvgClient*>(setup.nodes[i].get()));
    EXPECT_NE(clients.back(), nullptr);
  }
  for (size_t i = 0; i < crash_phase.size(); ++i) {
    if (crash_phase[i] >= 0) {
      setup.nodes[i] = std::make_unique<CrashAtPhase>(std::move(setup.nodes[i]), crash_phase[i]);
    }
  }
  auto recorder = std::make_unique<RecordMaskedInputs>(std::move(setup.nodes.back()));
  RecordMaskedInputs* record = recorder.get();
  setup.nodes.back() = std::move(recorder);
  ThreadPool pool(1);
  SimulationResult sim = SimulateProtocol(std::move(setup), h.model(), h.data().test, SimConfig{},
                                          EvalConfig{.every = 1}, protocol.rounds, seed, pool,
                                          RunObserver{});
  RunResult out;
  out.masked_words = record->words;
  out.rows = sim.rows;
  // sim.nodes keeps the server alive until the end of this function.
  out.global.assign(server->global_model().begin(), server->global_model().end());
  out.completed = server->completed_rounds();
  out.aborted = server->aborted_rounds();
  out.survivors = server->last_survivors();
  out.clip_history = server->clip_history();
  for (const SecAggFedAvgClient* c : clients) {
    out.clip_bits.push_back(c->last_clip_bit());
    out.rqm_indices.push_back(c->last_rqm_indices());
  }
  return out;
}

// Half a fixed-point step at the default 16 fractional bits: each encoded
// update coordinate is off by at most this, so the mean of the survivors'
// updates is too; 1e-6 covers float rounding of global + mean (|w| < 8).
const double kPrecision = std::ldexp(1.0, -17) + 1e-6;

double MaxAbsDiff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double{a[i]} - b[i]));
  return worst;
}

TEST(SecAggFedAvg, GivesPlainFedAvgsModelToTheFixedPointPrecision) {
  // Equal IID shards (2000 / 8), so FedAvg's sample weights are uniform too.
  testing::Harness plain_h({.peers = kPeers});
  const std::vector<float> initial(plain_h.learner(0).params().begin(),
                                   plain_h.learner(0).params().end());
  ProtocolConfig plain = SecAggFedAvg(privacy::SecureAggregationMode::kNone, 1);
  std::vector<Node*> nodes;
  plain_h.Run(plain, {}, 1, {.every = 1}, nullptr, &nodes);
  const auto* plain_server = dynamic_cast<const FedAvgServer*>(nodes.back());
  ASSERT_NE(plain_server, nullptr);
  for (auto mode : {privacy::SecureAggregationMode::kSecAgg,
                    privacy::SecureAggregationMode::kSecAggPlus}) {
    testing::Harness h({.peers = kPeers});
    const RunResult run = RunWithCrashes(h, SecAggFedAvg(mode, 1), {});
    EXPECT_EQ(run.aborted, 0);
    EXPECT_EQ(run.survivors.size(), size_t{kPeers});
    const double diff = MaxAbsDiff(run.global, plain_server->global_model());
    EXPECT_LE(diff, kPrecision) << privacy::SecureAggregationModeName(mode);
    // The round moved the model far more than the precision: a real check.
    EXPECT_GT(MaxAbsDiff(run.global, initial), 1000 * kPrecision);
  }
  // Over 5 rounds the two trajectories drift apart by training on models
  // 2^-17 apart; accuracy stays within one test sample in 100.
  testing::Harness plain5({.peers = kPeers});
  const double plain_acc =
      plain5.Run(SecAggFedAvg(privacy::SecureAggregationMode::kNone, 5), {}, 1, {.every = 5})
          .back().acc_mean;
  testing::Harness masked5({.peers = kPeers});
  const RunResult run = RunWithCrashes(
      masked5, SecAggFedAvg(privacy::SecureAggregationMode::kSecAgg, 5), {});
  EXPECT_NEAR(run.rows.back().acc_mean, plain_acc, 0.01);
  EXPECT_GT(plain_acc, 0.5);
}

// t = ceil(0.5 * 8) = 4 of 8 share holders: 8 - 4 = 4 clients may drop in
// all. Client p crashes when phase p opens: 0 never advertises keys, 1
// never shares, 2 never sends its masked input, 3 never unmasks (but its
// input is in the sum). The global model must be the initial one plus the
// mean update of clients 3..7, read from their learners.
TEST(SecAggFedAvg, RecoversTheSumWithClientsCrashedAtEachPhaseUpToTheThreshold) {
  testing::Harness h({.peers = kPeers});
  const std::vector<float> initial(h.learner(0).params().begin(), h.learner(0).params().end());
  const RunResult run = RunWithCrashes(
      h, SecAggFedAvg(privacy::SecureAggregationMode::kSecAgg, 1), {0, 1, 2, 3});
  ASSERT_EQ(run.aborted, 0);
  ASSERT_EQ(run.completed, 1);
  ASSERT_EQ(run.survivors.size(), 5u);
  EXPECT_EQ(run.survivors.front(), PeerId(3));
  std::vector<float> expected = initial;
  for (size_t i = 0; i < expected.size(); ++i) {
    double sum = 0;
    for (int c = 3; c < kPeers; ++c) sum += double{h.learner(c).params()[i]} - initial[i];
    expected[i] = static_cast<float>(initial[i] + sum / 5);
  }
  EXPECT_LE(MaxAbsDiff(run.global, expected), kPrecision);
  EXPECT_GT(MaxAbsDiff(run.global, initial), 1000 * kPrecision);
}

// Five crashed at the masked-input phase leave 3 < t = 4 inputs: both rounds
// abort, the global model stays the initial one, and the run ends normally
// with a row per round.
TEST(SecAggFedAvg, AbortsCleanlyBeyondTheThresholdAndTheRunGoesOn) {
  testing::Harness h({.peers = kPeers});
  const std::vector<float> initial(h.learner(0).params().begin(), h.learner(0).params().end());
  const RunResult run = RunWithCrashes(
      h, SecAggFedAvg(privacy::SecureAggregationMode::kSecAgg, 2), {2, 2, 2, 2, 2});
  EXPECT_EQ(run.completed, 2);
  EXPECT_EQ(run.aborted, 2);
  EXPECT_EQ(run.global, initial);
  ASSERT_EQ(run.rows.size(), 3u);  // rounds 0, 1, 2
  EXPECT_EQ(run.rows.back().round, 2);
}

// What the server receives of each client in phase 2, over 2 rounds of 8
// clients of a 7850-parameter model: the top nibbles of all masked words
// must pass a chi-square test for uniformity (15 degrees of freedom, P(chi2
// > 37.70) = 0.001; seeded masks, so deterministic). The plain fixed-point
// updates, all near 0, would put nearly every word in bins 0 and 15.
TEST(SecAggFedAvg, ServersViewOfEveryMaskedUpdateIsUniform) {
  testing::Harness h({.peers = kPeers});
  const RunResult run =
      RunWithCrashes(h, SecAggFedAvg(privacy::SecureAggregationMode::kSecAggPlus, 2), {});
  ASSERT_EQ(run.masked_words.size(), size_t{2 * kPeers * 7850});
  std::vector<double> bins(16, 0);
  for (uint32_t w : run.masked_words) bins[w >> 28] += 1;
  const double expected = static_cast<double>(run.masked_words.size()) / 16;
  double chi2 = 0;
  for (double b : bins) chi2 += (b - expected) * (b - expected) / expected;
  EXPECT_LT(chi2, 37.70);
}

}  // namespace
}  // namespace murmur

namespace murmur {
namespace {

Config SmallFedAvgRun() {
  return Config::FromString(R"(
peers = 8
[data]
dataset = "synthetic"
synthetic_train = 2048
synthetic_test = 400
[model]
kind = "mlp"
hidden = [16]
[protocol]
kind = "fedavg"
rounds = 4
local_steps = 3
[eval]
every = 4
)", "secagg_small_run.toml").value();
}

double LastLoss(const testing::ConfigRun& run) {
  const std::string& jsonl = run.metrics_jsonl;
  const size_t at = jsonl.rfind("\"loss_mean\":");
  return std::stod(jsonl.substr(at + 12));
}

// privacy.mode = "local" noises each client's update before it is masked
// (the distributed noise secure aggregation is for). With system entropy
// the clients draw nothing else from their seeded streams, so the noise is
// the plain local-DP run's, and the two runs end at the same loss to the
// fixed-point precision; the noise itself moves the loss measurably.
TEST(SecAggFedAvg, ComposesWithLocalDpNoise) {
  auto run = [](const std::vector<std::string>& sets) {
    Config config = SmallFedAvgRun();
    for (const std::string& s : sets) EXPECT_TRUE(config.Set(s).ok()) << s;
    testing::ConfigRun r = testing::RunFromConfig(config);
    EXPECT_TRUE(r.summary.ok()) << r.summary.status().ToString();
    return LastLoss(r);
  };
  const std::vector<std::string> dp = {"privacy.mode=local", "privacy.clip=1",
                                       "privacy.noise_multiplier=2"};
  std::vector<std::string> masked_dp = dp;
  masked_dp.push_back("privacy.secure_aggregation=secagg");
  const double noisy = run(dp);
  EXPECT_NEAR(run(masked_dp), noisy, 1e-3);
  EXPECT_GT(std::fabs(run({}) - noisy), 1e-2);
}

TEST(SecAggFedAvg, UnsupportedCombinationsAreRejectedNamingTheFix) {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"privacy.mode=central"}, "privacy.mode = \"local\""},
      {{"protocol.kind=fedasync"}, "\"fedavg\""},
      {{"compress.uplink=int8"}, "[compress]"},
      {{"robust.rule=median"}, "[robust]"},
      {{"protocol.client_fraction=0.1"}, "at least 2 clients"},
      {{"privacy.secagg_max_abs=1e6"}, "privacy.secagg_max_abs"},
  };
  for (const auto& [sets, needle] : cases) {
    Config config = SmallFedAvgRun();
    ASSERT_TRUE(config.Set("privacy.secure_aggregation=secagg+").ok());
    for (const std::string& s : sets) ASSERT_TRUE(config.Set(s).ok()) << s;
    Result<RunConfig> read = ReadRunConfig(config);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    Result<RunSummary> summary = RunExperiment(*read, {});
    ASSERT_FALSE(summary.ok()) << sets.back();
    EXPECT_EQ(summary.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(summary.status().message().find(needle), std::string::npos)
        << summary.status().message();
  }
  Config config = SmallFedAvgRun();
  ASSERT_TRUE(config.Set("privacy.secure_aggregation=secagg++").ok());
  EXPECT_FALSE(ReadRunConfig(config).ok());
}

}  // namespace
}  // namespace murmur

// Adaptive clipping under secure aggregation (Andrew et al. 2021): each
// client's noisy clip bit is one more masked fixed-point coordinate.
namespace murmur {
namespace {

ProtocolConfig AdaptiveSecAgg(privacy::SecureAggregationMode mode, int64_t rounds, double clip,
                              double clip_lr, double count_noise) {
  ProtocolConfig c = SecAggFedAvg(mode, rounds);
  c.privacy.mode = privacy::DpMode::kLocal;
  c.privacy.clip = clip;
  c.privacy.noise_multiplier = 0;
  c.privacy.adaptive_clip = true;
  c.privacy.adaptive.learning_rate = clip_lr;
  c.privacy.adaptive.count_noise_stddev = count_noise;
  return c;
}

// One fixed-point step (2^-16) on each of n bits moves b = sum / n + 1/2 by
// at most 2^-17 (rounding), so log C by at most clip_lr 2^-17 a round.
double ClipTolerance(double clip_lr, int rounds) { return clip_lr * std::ldexp(1.0, -17) * rounds; }

// With system entropy the secagg clients draw from their seeded streams
// exactly what plain local-DP FedAvg clients draw (the bit noise), so the
// masked run's clip after each round is the plain run's, computed from the
// plain sum of the same bits, to the fixed-point precision (plus the
// models' 2^-17 drift, far from flipping a bit), over 3 seeds. Count noise
// 0.6 over 8 clients makes each bit a real number; the clip moves by more
// than 1% in every run, so the check is not of a constant.
TEST(SecAggAdaptiveClip, ClipSequenceIsThePlainSumsOverSeeds) {
  const double clip_lr = 0.5;
  for (uint64_t seed : {1, 2, 3}) {
    ProtocolConfig masked = AdaptiveSecAgg(privacy::SecureAggregationMode::kSecAggPlus, 3, 0.5,
                                           clip_lr, 0.6);
    masked.secagg_system_entropy = true;
    testing::Harness h({.peers = kPeers, .seed = seed});
    const RunResult run = RunWithCrashes(h, masked, {}, seed);
    ASSERT_EQ(run.clip_history.size(), 3u);
    for (int rounds = 1; rounds <= 3; ++rounds) {
      ProtocolConfig plain = masked;
      plain.secure_aggregation.mode = privacy::SecureAggregationMode::kNone;
      plain.rounds = rounds;
      testing::Harness plain_h({.peers = kPeers, .seed = seed});
      std::vector<Node*> nodes;
      plain_h.Run(plain, {}, 1, {.every = rounds}, nullptr, &nodes);
      const auto* server = dynamic_cast<const FedAvgServer*>(nodes.back());
      ASSERT_NE(server, nullptr);
      const double got = run.clip_history[rounds - 1];
      EXPECT_LE(std::fabs(std::log(got / server->clip_norm())), ClipTolerance(clip_lr, rounds))
          << "seed " << seed << " round " << rounds << ": " << got << " vs "
          << server->clip_norm();
    }
    EXPECT_GT(std::fabs(std::log(run.clip_history.back() / 0.5)), 0.01) << "seed " << seed;
  }
}

// t = 4 of 8, one client crashed at each phase (as above; seeds 1, 2): the next clip is
// NextClipNormFromBits over exactly the 5 survivors' bits (clients 3..7,
// read from the clients), not over every bit that was prepared (client 1
// and 2 trained and drew theirs too), and the round is not aborted.
TEST(SecAggAdaptiveClip, DroppedClientsBitsAreLeftOutOfTheCount) {
  const double clip_lr = 0.5;
  for (uint64_t seed : {1, 2}) {
    testing::Harness h({.peers = kPeers, .seed = seed});
    const ProtocolConfig c =
        AdaptiveSecAgg(privacy::SecureAggregationMode::kSecAgg, 1, 0.5, clip_lr, 0.6);
    const RunResult run = RunWithCrashes(h, c, {0, 1, 2, 3}, seed);
    ASSERT_EQ(run.aborted, 0);
    ASSERT_EQ(run.survivors.size(), 5u);
    ASSERT_EQ(run.clip_history.size(), 1u);
    EXPECT_TRUE(std::isnan(run.clip_bits[0]));  // crashed before training
    double survivors = 0, prepared = 0;
    for (int i = 1; i < kPeers; ++i) {
      ASSERT_FALSE(std::isnan(run.clip_bits[i])) << i;
      prepared += run.clip_bits[i];
      if (i >= 3) survivors += run.clip_bits[i];
    }
    const double expected = privacy::NextClipNormFromBits(c.privacy.adaptive, 0.5, survivors, 5);
    const double all = privacy::NextClipNormFromBits(c.privacy.adaptive, 0.5, prepared, 7);
    EXPECT_LE(std::fabs(std::log(run.clip_history[0] / expected)), ClipTolerance(clip_lr, 1));
    EXPECT_GT(std::fabs(std::log(all / expected)), 100 * ClipTolerance(clip_lr, 1));
  }
}

// From a clip far below the update norms (1e-3), adaptive clipping grows C
// (by e^0.5 a round while every bit is -1/2) and the masked run learns;
// the same masked run at the fixed C = 1e-3 barely moves the model. Mean
// test accuracy over 3 seeds after 12 rounds.
TEST(SecAggAdaptiveClip, LearnsFromAClipFarTooSmallWhereTheFixedClipDoesNot) {
  double adaptive = 0, fixed = 0;
  for (uint64_t seed : {1, 2, 3}) {
    ProtocolConfig c =
        AdaptiveSecAgg(privacy::SecureAggregationMode::kSecAggPlus, 12, 1e-3, 1.0, 0.4);
    testing::Harness h({.peers = kPeers, .seed = seed});
    adaptive += h.Run(c, {}, 1, {.every = 12}).back().acc_mean / 3;
    c.privacy.adaptive_clip = false;
    testing::Harness h_fixed({.peers = kPeers, .seed = seed});
    fixed += h_fixed.Run(c, {}, 1, {.every = 12}).back().acc_mean / 3;
  }
  RecordProperty("adaptive_accuracy", std::to_string(adaptive));
  RecordProperty("fixed_accuracy", std::to_string(fixed));
  EXPECT_GT(adaptive, fixed + 0.2);
}

}  // namespace
}  // namespace murmur

// RQM under secure aggregation (privacy.secagg_encoding = "rqm"; Youn et al.
// 2023): the clients mask their RQM level indices in Z_{2^b} and the server
// maps the exact index sum affinely to the sum of the decoded updates.
namespace murmur {
namespace {

ProtocolConfig RqmSecAgg(privacy::SecureAggregationMode mode, int64_t rounds) {
  ProtocolConfig c = SecAggFedAvg(mode, rounds);
  c.secure_aggregation.encoding = privacy::SecAggEncoding::kRqm;
  c.secure_aggregation.rqm = {.clip = 0.05, .delta = 0.075, .levels = 16, .keep_probability = 0.5};
  return c;
}

// The global model after a round is the initial one plus the mean of the
// survivors' RQM-decoded updates, read from the clients' own indices, to
// float rounding of the final map: with no crash (SecAgg and SecAgg+), and
// with one client crashed at each phase (t = 4 of 8: survivors 3..7).
TEST(SecAggRqm, GlobalModelMovesByTheMeanOfTheSurvivorsDecodedUpdates) {
  struct Case {
    privacy::SecureAggregationMode mode;
    std::vector<int> crash;
    int first_survivor;
  };
  for (const Case& k : {Case{privacy::SecureAggregationMode::kSecAgg, {}, 0},
                        Case{privacy::SecureAggregationMode::kSecAggPlus, {}, 0},
                        Case{privacy::SecureAggregationMode::kSecAgg, {0, 1, 2, 3}, 3}}) {
    testing::Harness h({.peers = kPeers});
    const std::vector<float> initial(h.learner(0).params().begin(), h.learner(0).params().end());
    const ProtocolConfig c = RqmSecAgg(k.mode, 1);
    const RunResult run = RunWithCrashes(h, c, k.crash);
    ASSERT_EQ(run.aborted, 0);
    const int n = kPeers - k.first_survivor;
    ASSERT_EQ(run.survivors.size(), size_t(n));
    std::vector<float> expected(initial.size());
    for (size_t i = 0; i < initial.size(); ++i) {
      double sum = 0;
      for (int p = k.first_survivor; p < kPeers; ++p) {
        ASSERT_EQ(run.rqm_indices[p].size(), initial.size());
        sum += privacy::RqmLevel(c.secure_aggregation.rqm, run.rqm_indices[p][i]);
      }
      expected[i] = static_cast<float>(initial[i] + sum / n);
    }
    EXPECT_LE(MaxAbsDiff(run.global, expected), 1e-6);
    // A quantization step is 0.01: the round moved the model by far more
    // than the tolerance.
    EXPECT_GT(MaxAbsDiff(run.global, initial), 1e-3);
  }
}

// On the non-IID task (one or two classes per client) FedAvg under SecAgg+
// with RQM learns by a margin over local-only training, and stays close to
// the fixed-point SecAgg+ run with the same clients and rounds (mean test
// accuracy over seeds 1-3 after 10 rounds).
TEST(SecAggRqm, LearnsOnNonIidDataByAMarginOverLocalTraining) {
  const int64_t rounds = 10;
  double local = 0, rqm = 0, fixed = 0;
  for (uint64_t seed : {1, 2, 3}) {
    const testing::HarnessOptions task = testing::NonIid({.peers = kPeers, .seed = seed});
    local += testing::LocalOnlyAccuracy(task, rounds, 2000 / kPeers / 16) / 3;
    testing::Harness h(task);
    rqm += h.Run(RqmSecAgg(privacy::SecureAggregationMode::kSecAggPlus, rounds), {}, 1,
                 {.every = rounds}).back().acc_mean / 3;
    testing::Harness fixed_h(task);
    fixed += fixed_h.Run(SecAggFedAvg(privacy::SecureAggregationMode::kSecAggPlus, rounds), {}, 1,
                         {.every = rounds}).back().acc_mean / 3;
  }
  RecordProperty("local_accuracy", std::to_string(local));
  RecordProperty("rqm_accuracy", std::to_string(rqm));
  RecordProperty("fixed_point_accuracy", std::to_string(fixed));
  EXPECT_GT(rqm, local + 0.3);
  EXPECT_GT(rqm, fixed - 0.05);
}

TEST(SecAggRqm, ConfigMistakesAreRejectedNamingTheFix) {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"privacy.secagg_encoding=rqm"}, "privacy.secure_aggregation"},
      {{"privacy.rqm_levels=8"}, "privacy.secagg_encoding"},
      {{"privacy.secure_aggregation=secagg", "privacy.secagg_encoding=rqm",
        "privacy.rqm_delta=0.5"}, "delta"},
      {{"privacy.secure_aggregation=secagg", "privacy.secagg_encoding=rqm", "privacy.mode=local",
        "privacy.adaptive_clip=true", "privacy.secagg_max_abs=1"}, "adaptive_clip"},
  };
  for (const auto& [sets, needle] : cases) {
    Config config = SmallFedAvgRun();
    for (const std::string& s : sets) ASSERT_TRUE(config.Set(s).ok()) << s;
    Result<RunConfig> read = ReadRunConfig(config);
    Status status = read.status();
    if (read.ok()) status = RunExperiment(*read, {}).status();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << sets.back();
    EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace murmur
