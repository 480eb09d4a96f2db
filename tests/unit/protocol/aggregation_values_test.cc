// The aggregation steps of Epidemic Learning, MoDeST and variance-corrected
// merging checked by value: nodes driven message by message through a
// FakeHost with frozen learners (learning rate 0, so training leaves the
// parameters as the test set them), and hand-computed expected models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/model_merge.h"
#include "murmur/protocol/model_message.h"
#include "murmur/protocol/modest.h"
#include "murmur/protocol/modest_message.h"
#include "testing/fake_host.h"
#include "testing/frozen_learner.h"

namespace murmur::testing {
namespace {

// Parameter i of a test model: small integers, so every mean below is
// exact in float.
std::vector<float> Pattern(size_t dim, int mod, float offset) {
  std::vector<float> v(dim);
  for (size_t i = 0; i < dim; ++i) v[i] = static_cast<float>(static_cast<int>(i) % mod) + offset;
  return v;
}

// Epidemic Learning (EL-Local): after training, a peer replaces its model by
// the plain average of its own and every model drawn to reach it this round.
TEST(EpidemicNode, MixesByThePlainAverageOfItsOwnAndEveryDrawnSendersModel) {
  FrozenLearner f;
  const size_t dim = f.size();
  const EpidemicOptions options{.rounds = 3, .local_steps = 1, .fanout = 2, .num_peers = 5,
                                .seed = 1};
  // The peer that the most others draw in round 1 (with seed 1, fanout 2
  // of 5 peers), and who they are.
  PeerId self;
  std::vector<PeerId> senders;
  for (uint32_t p = 0; p < 5; ++p) {
    std::vector<PeerId> to_p;
    for (uint32_t j = 0; j < 5; ++j) {
      if (j == p) continue;
      const auto targets = EpidemicTargets(1, PeerId(j), 1, 2, 5);
      if (std::find(targets.begin(), targets.end(), PeerId(p)) != targets.end()) {
        to_p.push_back(PeerId(j));
      }
    }
    if (to_p.size() > senders.size()) {
      self = PeerId(p);
      senders = to_p;
    }
  }
  ASSERT_GE(senders.size(), 2u);
  EpidemicNode node(*f.learner, options);
  FakeHost host(self);
  const std::vector<float> own = Pattern(dim, 5, 1.0f);
  std::copy(own.begin(), own.end(), f.learner->params().begin());
  node.OnStart(host);
  host.FinishCompute(node);
  // Round 1: it pushed its model to its 2 drawn targets.
  ASSERT_EQ(host.sent.size(), 2u);
  // Sender j's model: (i mod 3) + 2j in coordinate i.
  std::vector<double> expected(own.begin(), own.end());
  for (size_t s = 0; s < senders.size(); ++s) {
    const std::vector<float> model = Pattern(dim, 3, 2.0f * static_cast<float>(senders[s].value));
    for (size_t i = 0; i < dim; ++i) expected[i] += model[i];
    EXPECT_EQ(node.completed_rounds(), 0) << "mixed before the last drawn sender arrived";
    node.OnMessage(host, senders[s],
                   EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, model));
  }
  EXPECT_TRUE(host.bad_peers.empty());
  ASSERT_EQ(node.completed_rounds(), 1);
  const auto k = static_cast<double>(senders.size() + 1);
  for (size_t i = 0; i < dim; ++i) {
    ASSERT_FLOAT_EQ(f.learner->params()[i], static_cast<float>(expected[i] / k)) << i;
    ASSERT_FLOAT_EQ(host.models.at(1)[i], static_cast<float>(expected[i] / k)) << i;
  }
  // A peer not drawn to send to it in round 1 is refused, and changes nothing.
  for (uint32_t j = 0; j < 5; ++j) {
    if (PeerId(j) == self ||
        std::find(senders.begin(), senders.end(), PeerId(j)) != senders.end()) {
      continue;
    }
    const std::vector<float> before = f.Params();
    node.OnMessage(host, PeerId(j), EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1),
                                                       0, f.Constant(100.0f)));
    EXPECT_EQ(f.Params(), before);
    EXPECT_EQ(host.bad_peers.size(), 1u);
    break;
  }
}

ModestOptions SmallModest() {
  return ModestOptions{.rounds = 5,
                       .local_steps = 1,
                       .num_peers = 6,
                       .trainers = 3,
                       .aggregators = 1,
                       .ping_timeout = Duration::Seconds(0.1),
                       .round_timeout = Duration::Seconds(1),
                       .seed = 1};
}

std::vector<uint8_t> ModestFrameOf(ModestMessageType type, int64_t round, ModestRole role,
                                   const std::vector<float>& params) {
  return EncodeModestFrame(type, round, role, {}, params);
}

// An aggregator of round r averages the s trained models it receives, reports
// the mean as round r's model and hands exactly that mean to the trainers of
// round r + 1 that answer its pings.
TEST(ModestNode, AggregatorReportsAndForwardsTheExactMeanOfTheTrainedModels) {
  FrozenLearner f;
  const size_t dim = f.size();
  ModestNode node(*f.learner, SmallModest());
  FakeHost host(PeerId(0));
  const std::vector<std::vector<float>> trained = {
      Pattern(dim, 4, 0.0f), Pattern(dim, 3, 5.0f), Pattern(dim, 7, -2.0f)};
  std::vector<float> mean(dim);
  for (size_t i = 0; i < dim; ++i) {
    mean[i] = static_cast<float>(
        (double{trained[0][i]} + double{trained[1][i]} + double{trained[2][i]}) / 3.0);
  }
  for (uint32_t t = 0; t < 3; ++t) {
    EXPECT_EQ(host.models.count(1), 0u) << "closed before all s trainers reported";
    node.OnMessage(host, PeerId(t + 2),
                   ModestFrameOf(ModestMessageType::kTrained, 1, ModestRole::kTrainer, trained[t]));
  }
  ASSERT_TRUE(host.bad_peers.empty());
  ASSERT_EQ(node.aggregated_rounds(), (std::vector<int64_t>{1}));
  ASSERT_EQ(host.models.count(1), 1u);
  EXPECT_EQ(host.models.at(1), mean);
  // Acks to the three trainers, pings to round-2 trainer candidates; answer
  // every ping and collect the models it hands out.
  const std::vector<FakeHost::Sent> first = host.sent;
  int acks = 0;
  for (const FakeHost::Sent& s : first) {
    Result<ModestFrame> frame = DecodeModestFrame(s.bytes, 6, dim);
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    if (frame->type == ModestMessageType::kAck) ++acks;
    if (frame->type == ModestMessageType::kPing) {
      EXPECT_EQ(frame->round, 2);
      node.OnMessage(host, s.to, ModestFrameOf(ModestMessageType::kPong, 2, frame->role, {}));
    }
  }
  EXPECT_EQ(acks, 3);
  int globals = 0;
  for (size_t k = first.size(); k < host.sent.size(); ++k) {
    Result<ModestFrame> frame = DecodeModestFrame(host.sent[k].bytes, 6, dim);
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    if (frame->type != ModestMessageType::kGlobal) continue;
    ++globals;
    EXPECT_EQ(frame->round, 2);
    EXPECT_EQ(frame->params, mean);
  }
  EXPECT_EQ(globals, 3);
}

// A trainer of round r starts from the model its aggregator handed it (not
// from its own), and reports exactly what it trained (here, with learning
// rate 0, the model it received) to the round's aggregators.
TEST(ModestNode, TrainerStartsFromTheReceivedModelAndSendsWhatItTrained) {
  FrozenLearner f;
  const size_t dim = f.size();
  f.Fill(7.0f);
  ModestNode node(*f.learner, SmallModest());
  FakeHost host(PeerId(0));
  const std::vector<float> global = Pattern(dim, 6, -1.5f);
  node.OnMessage(host, PeerId(4),
                 ModestFrameOf(ModestMessageType::kGlobal, 2, ModestRole::kTrainer, global));
  ASSERT_TRUE(host.bad_peers.empty());
  ASSERT_EQ(host.compute.size(), 1u);
  host.FinishCompute(node);
  EXPECT_EQ(node.trained_rounds(), (std::vector<int64_t>{2}));
  EXPECT_EQ(f.Params(), global);
  const std::vector<FakeHost::Sent> pings = host.sent;
  for (const FakeHost::Sent& s : pings) {
    Result<ModestFrame> frame = DecodeModestFrame(s.bytes, 6, dim);
    ASSERT_TRUE(frame.ok());
    if (frame->type == ModestMessageType::kPing) {
      node.OnMessage(host, s.to, ModestFrameOf(ModestMessageType::kPong, 2, frame->role, {}));
    }
  }
  int trained = 0;
  for (const FakeHost::Sent& s : host.sent) {
    Result<ModestFrame> frame = DecodeModestFrame(s.bytes, 6, dim);
    ASSERT_TRUE(frame.ok());
    if (frame->type != ModestMessageType::kTrained) continue;
    ++trained;
    EXPECT_EQ(frame->round, 2);
    EXPECT_EQ(frame->params, global);
  }
  EXPECT_EQ(trained, 1);  // one aggregator per round
}

// Variance-corrected merging on hand-computed values. Two models, two
// tensors of four values:
//   tensor A: a = (1, 3, 1, 3), b = (1, 1, 3, 3): each has variance 1;
//     their average (1, 2, 2, 3) has mean 2 and variance 0.5 (plain
//     averaging halves it); the correction scales deviations by
//     sqrt(1 / 0.5): (2 - sqrt 2, 2, 2, 2 + sqrt 2), variance 1 again.
//   tensor B: a = (0, 0, 0, 4), b = (4, 0, 0, 0): variance 3 each; average
//     (2, 0, 0, 2), mean 1, variance 1; scaled by sqrt 3:
//     (1 + sqrt 3, 1 - sqrt 3, 1 - sqrt 3, 1 + sqrt 3), variance 3.
TEST(MergeModels, VarianceCorrectionRescalesEachTensorToTheInputsVarianceExactly) {
  const std::vector<float> a = {1, 3, 1, 3, 0, 0, 0, 4};
  const std::vector<float> b = {1, 1, 3, 3, 4, 0, 0, 0};
  const std::span<const float> views[] = {a, b};
  const ParamTensor tensors[] = {{.offset = 0, .size = 4, .fan_in = 1},
                                 {.offset = 4, .size = 4, .fan_in = 1}};
  std::vector<float> plain(8), corrected(8);
  MergeModels(MergeRule::kAverage, views, tensors, plain);
  MergeModels(MergeRule::kVarianceCorrected, views, tensors, corrected);
  EXPECT_EQ(plain, (std::vector<float>{1, 2, 2, 3, 2, 0, 0, 2}));
  const double r2 = std::sqrt(2.0);
  const double r3 = std::sqrt(3.0);
  const std::vector<double> expected = {2 - r2, 2, 2, 2 + r2, 1 + r3, 1 - r3, 1 - r3, 1 + r3};
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(corrected[i], expected[i], 1e-6) << i;
  // Variances: plain averaging shrinks them (0.5 of 1, 1 of 3), the
  // correction preserves them.
  const auto variance = [](std::span<const float> x) {
    double mean = 0, var = 0;
    for (float v : x) mean += v;
    mean /= static_cast<double>(x.size());
    for (float v : x) var += (v - mean) * (v - mean);
    return var / static_cast<double>(x.size());
  };
  const std::span<const float> p(plain), c(corrected);
  EXPECT_DOUBLE_EQ(variance(p.subspan(0, 4)), 0.5);
  EXPECT_DOUBLE_EQ(variance(p.subspan(4, 4)), 1.0);
  EXPECT_NEAR(variance(c.subspan(0, 4)), 1.0, 1e-6);
  EXPECT_NEAR(variance(c.subspan(4, 4)), 3.0, 1e-6);
}

}  // namespace
}  // namespace murmur::testing
