// Sybil collusion and MoNNA in seeded D-PSGD simulations on synthetic data:
// many identities pushing one targeted poisoning (labels 0 -> 1) take over
// the class under plain averaging; SybilWall (histories + gossip) keeps
// it. MoNNA (local momentum, one step per round, nearest-neighbour
// averaging) learns under sign flipping where the mean breaks.
#include <gtest/gtest.h>

#include <algorithm>

#include "testing/scenario.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/registry.h"
#include "murmur/protocol/choco.h"
#include "murmur/protocol/dfedsam.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/fedbuff.h"
#include "murmur/protocol/fedcompass.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/modest.h"

namespace murmur::testing {
namespace {

constexpr int64_t kPeers = 16;

ByzantineConfig Sybils(int64_t count) {
  return {.count = count, .attack = AttackKind::kSybil, .source_class = 0, .target_class = 1};
}

ProtocolConfig SybilDpsgd(const ByzantineConfig& attack, const std::string& rule) {
  ProtocolConfig c;
  c.kind = "dpsgd";
  c.rounds = 20;
  c.local_steps = 5;
  MutableProtocolOptions<DpsgdConfig>(c).topology = {.kind = TopologyKind::kRegular, .degree = 4};
  c.byzantine = attack;
  c.robust = {.rule = rule};
  return c;
}

struct Outcome {
  double accuracy = 0;        // mean over honest peers, all classes
  double attack_success = 0;  // mean over honest peers: source samples read as target
};

Outcome RunSybil(const ByzantineConfig& attack, const std::string& rule,
                 SimStats* stats = nullptr) {
  Harness h({.peers = kPeers, .poison = attack});
  const ProtocolConfig c = SybilDpsgd(attack, rule);
  const std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 5}, stats);
  // The source class of the test set relabelled as the target: accuracy
  // on it is the fraction the attack wins.
  const Dataset& test = h.data().test;
  std::vector<int64_t> source;
  for (int64_t i = 0; i < test.size(); ++i) {
    if (test.labels[i] == attack.source_class) source.push_back(i);
  }
  ByzantineConfig relabel = attack;
  relabel.attack = AttackKind::kSybil;
  const Dataset flipped = MakePoisonedDataset(test, source, relabel);
  const std::vector<PeerId> byzantine = ChooseByzantinePeers(attack, kPeers, 1);
  Outcome out{.accuracy = rows.back().acc_mean};
  int honest = 0;
  for (int64_t i = 0; i < kPeers; ++i) {
    if (std::binary_search(byzantine.begin(), byzantine.end(), PeerId(uint32_t(i)))) continue;
    out.attack_success += Evaluate(h.model(), h.learner(i).params(), flipped, 0).accuracy;
    ++honest;
  }
  out.attack_success /= honest;
  return out;
}

TEST(SybilDpsgd, CollusionTakesOverTheClassUnderTheMeanAndSybilWallStopsIt) {
  const Outcome clean = RunSybil({}, "mean");
  const Outcome mean = RunSybil(Sybils(6), "mean");
  SimStats stats;
  const Outcome wall = RunSybil(Sybils(6), "sybilwall", &stats);
  std::printf("clean acc %.4f success %.4f | mean acc %.4f success %.4f | sybilwall acc %.4f "
              "success %.4f\n",
              clean.accuracy, clean.attack_success, mean.accuracy, mean.attack_success,
              wall.accuracy, wall.attack_success);
  EXPECT_GT(clean.accuracy, 0.85);
  EXPECT_LT(clean.attack_success, 0.05);
  EXPECT_GT(mean.attack_success, clean.attack_success + 0.15);
  EXPECT_LT(wall.attack_success, clean.attack_success + 0.05);
  EXPECT_GT(wall.accuracy, clean.accuracy - 0.05);
  EXPECT_EQ(stats.bad_peer_reports, 0u);
}

TEST(MonnaDpsgd, LearnsUnderSignFlippingWhereTheMeanBreaks) {
  // MoNNA (Farhadkhani et al. 2023): m_t = beta m_{t-1} + (1 - beta) g_t,
  // x_{t+1/2} = x_t - gamma m_t, then the mean of the n - f received
  // half-step models nearest the own one. The learner's PyTorch momentum
  // buf_t = beta buf_{t-1} + g_t equals m_t / (1 - beta), so lr =
  // gamma (1 - beta) is the same algorithm; one local step per round.
  auto config = [](const std::string& rule, AttackKind attack) {
    ProtocolConfig c;
    c.kind = "dpsgd";
    c.rounds = 60;
    c.local_steps = 1;
    MutableProtocolOptions<DpsgdConfig>(c).topology = {.kind = TopologyKind::kRegular, .degree = 6};
    c.byzantine = {.count = 2, .attack = attack, .scale = 10.0};
    c.robust = {.rule = rule, .f = 2};
    return c;
  };
  const HarnessOptions monna{.peers = 12, .optimizer = {.lr = 0.05, .momentum = 0.9}};
  Harness h(monna);
  const double clean = h.Run(config("mean", AttackKind::kNone)).back().acc_mean;
  Harness h2(monna);
  const double mean = h2.Run(config("mean", AttackKind::kSignFlip)).back().acc_mean;
  Harness h3(monna);
  const double nna = h3.Run(config("monna", AttackKind::kSignFlip)).back().acc_mean;
  std::printf("clean %.4f mean %.4f monna %.4f\n", clean, mean, nna);
  EXPECT_GT(clean, 0.85);
  EXPECT_LT(mean, clean - 0.2);
  EXPECT_GT(nna, clean - 0.05);
}

}  // namespace
}  // namespace murmur::testing
