// The SPSA and FedKSeed wire formats and the SPSA node driven event by
// event through a FakeHost.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "testing/fake_host.h"
#include "testing/frozen_learner.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/fedkseed.h"
#include "murmur/protocol/spsa.h"
#include "murmur/protocol/spsa_message.h"

namespace murmur::testing {
namespace {

TEST(SpsaMessage, UpdateIsExactlySixBytes) {
  const std::vector<uint8_t> bytes = EncodeSpsaUpdate({.step = 0x01020304, .q = -7});
  ASSERT_EQ(bytes.size(), 6u);
  EXPECT_EQ(kSpsaUpdateBytes, 6u);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x28, 0x04, 0x03, 0x02, 0x01, 0xF9}));
  Result<SpsaUpdate> back = DecodeSpsaUpdate(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->step, 0x01020304u);
  EXPECT_EQ(back->q, -7);
}

TEST(SpsaMessage, RejectsMalformedUpdates) {
  std::vector<uint8_t> good = EncodeSpsaUpdate({.step = 3, .q = 1});
  std::vector<uint8_t> short_frame(good.begin(), good.end() - 1);
  std::vector<uint8_t> long_frame = good;
  long_frame.push_back(0);
  std::vector<uint8_t> kind = good;
  kind[0] = 0x29;  // a model request's kind
  std::vector<uint8_t> min_q = good;
  min_q[5] = 0x80;  // -128 is outside the quantizer's range
  for (const auto& bad : {short_frame, long_frame, kind, min_q}) {
    EXPECT_EQ(DecodeSpsaUpdate(bad).status().code(), StatusCode::kCorrupt);
  }
  EXPECT_FALSE(PeekSpsaKind({}).ok());
}

// Found by spsa_message_fuzz under UBSan (a model reply of no parameters).
TEST(SpsaMessage, ModelReplyOfNoParametersRoundTrips) {
  const std::vector<uint8_t> bytes = EncodeSpsaModelReply(5, {});
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x2A, 5, 0, 0, 0, 0, 0, 0, 0}));
  Result<SpsaModelReply> r = DecodeSpsaModelReply(bytes, 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->step, 5u);
  EXPECT_TRUE(r->params.empty());
  EXPECT_EQ(DecodeSpsaModelReply(bytes, 1).status().code(), StatusCode::kCorrupt);
}

TEST(SpsaMessage, QuantizesOnTheSharedClipScale) {
  EXPECT_EQ(QuantizeProjectedGrad(0.0, 2.0, 0.5), 0);
  EXPECT_EQ(QuantizeProjectedGrad(2.0, 2.0, 0.9), 127);
  EXPECT_EQ(QuantizeProjectedGrad(-2.0, 2.0, 0.0), -127);
  EXPECT_EQ(QuantizeProjectedGrad(50.0, 2.0, 0.0), 127);   // clipped
  EXPECT_EQ(QuantizeProjectedGrad(-50.0, 2.0, 0.9), -127);
  EXPECT_EQ(QuantizeProjectedGrad(NAN, 2.0, 0.9), 0);
  // 1.0 / 2.0 * 127 = 63.5: rounds up when the uniform is below 0.5.
  EXPECT_EQ(QuantizeProjectedGrad(1.0, 2.0, 0.49), 64);
  EXPECT_EQ(QuantizeProjectedGrad(1.0, 2.0, 0.51), 63);
  EXPECT_DOUBLE_EQ(DequantizeProjectedGrad(127, 2.0), 2.0);
  EXPECT_DOUBLE_EQ(DequantizeProjectedGrad(-127, 2.0), -2.0);
  // Unbiased: the mean over uniforms of the dequantized value is g.
  double sum = 0;
  for (int i = 0; i < 1000; ++i) {
    sum += DequantizeProjectedGrad(QuantizeProjectedGrad(0.3, 2.0, (i + 0.5) / 1000), 2.0);
  }
  EXPECT_NEAR(sum / 1000, 0.3, 1e-6);
}

TEST(SpsaMessage, KSeedFramesRoundTripAndRejectBadPairs) {
  KSeedFrame frame{.kind = SpsaMessageKind::kKSeedRound,
                   .round = 9,
                   .selected = true,
                   .pairs = {{.index = 3, .scalar = 0.5f}, {.index = 7, .scalar = -1.25f}}};
  std::vector<uint8_t> bytes = EncodeKSeedFrame(frame);
  EXPECT_EQ(bytes.size(), 1u + 4 + 1 + 4 + 2 * 8);
  Result<KSeedFrame> back = DecodeKSeedFrame(bytes, SpsaMessageKind::kKSeedRound, 10, 8);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->round, 9u);
  EXPECT_TRUE(back->selected);
  EXPECT_EQ(back->pairs, frame.pairs);
  // Index 7 is outside a pool of 7; two pairs exceed a limit of 1.
  EXPECT_FALSE(DecodeKSeedFrame(bytes, SpsaMessageKind::kKSeedRound, 10, 7).ok());
  EXPECT_FALSE(DecodeKSeedFrame(bytes, SpsaMessageKind::kKSeedRound, 1, 8).ok());
  EXPECT_FALSE(DecodeKSeedFrame(bytes, SpsaMessageKind::kKSeedUpdate, 10, 8).ok());
  for (size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_FALSE(DecodeKSeedFrame(std::span<const uint8_t>(bytes).first(len),
                                  SpsaMessageKind::kKSeedRound, 10, 8)
                     .ok());
  }
}

// A 50-parameter logistic regression on 2x2 synthetic images, at the
// default learning rate.
struct SmallLearner : TestLearner {
  SmallLearner() : TestLearner(OptimizerConfig{}.lr) {}
};

SpsaOptions ThreePeers() {
  return SpsaOptions{.rounds = 4, .num_peers = 3, .seed = 11, .eps = 1e-3f, .lr = 0.1,
                     .clip = 2.0, .round_timeout = Duration::Seconds(1)};
}

PerturbationKey KeyOf(const SpsaOptions& o, uint32_t peer, uint64_t step) {
  return {.seed = o.seed, .stream = peer, .step = step, .noise = o.noise};
}

// The update every peer applies for (peer, step, q).
void ApplyByHand(std::vector<float>& w, const SpsaOptions& o, uint32_t peer, uint64_t step,
                 int8_t q) {
  const float unit = static_cast<float>(o.lr / static_cast<double>(o.num_peers));
  AddScaledPerturbation(
      w, static_cast<float>(-static_cast<double>(unit) * DequantizeProjectedGrad(q, o.clip)),
      KeyOf(o, peer, step));
}

TEST(SpsaNode, BroadcastsSixBytesAndAppliesEveryUpdateInPeerOrder) {
  SmallLearner l;
  const SpsaOptions o = ThreePeers();
  SpsaNode node(*l.learner, o);
  FakeHost host(PeerId(1));
  std::vector<float> expected = l.Params();
  node.OnStart(host);
  ASSERT_EQ(host.compute.size(), 1u);
  host.FinishCompute(node);
  ASSERT_EQ(host.sent.size(), 2u);
  EXPECT_EQ(host.sent[0].to, PeerId(0));
  EXPECT_EQ(host.sent[1].to, PeerId(2));
  for (const auto& s : host.sent) ASSERT_EQ(s.bytes.size(), 6u);
  EXPECT_EQ(host.sent[0].bytes, host.sent[1].bytes);
  const int8_t own = DecodeSpsaUpdate(host.sent[0].bytes)->q;
  EXPECT_EQ(node.completed_steps(), 0);
  node.OnMessage(host, PeerId(2), EncodeSpsaUpdate({.step = 0, .q = -64}));
  EXPECT_EQ(node.completed_steps(), 0);  // still waiting for peer 0
  node.OnMessage(host, PeerId(0), EncodeSpsaUpdate({.step = 0, .q = 127}));
  ASSERT_EQ(node.completed_steps(), 1);
  // Ascending peer order, whatever the arrival order.
  ApplyByHand(expected, o, 0, 0, 127);
  ApplyByHand(expected, o, 1, 0, own);
  ApplyByHand(expected, o, 2, 0, -64);
  EXPECT_EQ(std::memcmp(expected.data(), l.learner->params().data(),
                        expected.size() * sizeof(float)),
            0);
  EXPECT_EQ(host.models.at(1), expected);
  EXPECT_TRUE(host.bad_peers.empty());
}

TEST(SpsaNode, AppliesALateUpdateOnceAtTheNextStep) {
  SmallLearner l;
  const SpsaOptions o = ThreePeers();
  SpsaNode node(*l.learner, o);
  FakeHost host(PeerId(0));
  std::vector<float> expected = l.Params();
  node.OnStart(host);
  host.FinishCompute(node);
  const int8_t own0 = DecodeSpsaUpdate(host.sent[0].bytes)->q;
  node.OnMessage(host, PeerId(1), EncodeSpsaUpdate({.step = 0, .q = 10}));
  node.OnTimer(host, host.timers.back());  // peer 2 is late
  ASSERT_EQ(node.completed_steps(), 1);
  EXPECT_EQ(host.counters["spsa.round_timeouts"], 1);
  node.OnMessage(host, PeerId(2), EncodeSpsaUpdate({.step = 0, .q = -20}));
  EXPECT_EQ(host.counters["spsa.late_updates"], 1);
  host.FinishCompute(node);
  const int8_t own1 = DecodeSpsaUpdate(host.sent.back().bytes)->q;
  node.OnMessage(host, PeerId(1), EncodeSpsaUpdate({.step = 1, .q = 5}));
  node.OnMessage(host, PeerId(2), EncodeSpsaUpdate({.step = 1, .q = 6}));
  ASSERT_EQ(node.completed_steps(), 2);
  // A repeat of the late update is not applied twice.
  node.OnMessage(host, PeerId(2), EncodeSpsaUpdate({.step = 0, .q = -20}));
  EXPECT_EQ(host.counters["spsa.duplicate_updates"], 1);
  ApplyByHand(expected, o, 0, 0, own0);
  ApplyByHand(expected, o, 1, 0, 10);
  ApplyByHand(expected, o, 2, 0, -20);
  ApplyByHand(expected, o, 0, 1, own1);
  ApplyByHand(expected, o, 1, 1, 5);
  ApplyByHand(expected, o, 2, 1, 6);
  EXPECT_EQ(host.models.at(2), expected);
}

TEST(SpsaNode, RejectsStrangersAndStepsOutsideTheRun) {
  SmallLearner l;
  SpsaNode node(*l.learner, ThreePeers());
  FakeHost host(PeerId(0));
  node.OnStart(host);
  node.OnMessage(host, PeerId(7), EncodeSpsaUpdate({.step = 0, .q = 1}));
  node.OnMessage(host, PeerId(1), EncodeSpsaUpdate({.step = 4, .q = 1}));
  node.OnMessage(host, PeerId(1), std::vector<uint8_t>{0x28, 0, 0});
  node.OnMessage(host, PeerId(1), std::vector<uint8_t>{});
  EXPECT_EQ(host.bad_peers.size(), 4u);
}

TEST(SpsaNode, CutOffPeerAdoptsANeighboursModel) {
  SmallLearner l;
  const SpsaOptions o = ThreePeers();
  SpsaNode node(*l.learner, o);
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  node.OnTimer(host, host.timers.back());  // heard from nobody
  ASSERT_EQ(node.completed_steps(), 1);
  const FakeHost::Sent& request = host.sent.back();
  EXPECT_EQ(request.to, PeerId(1));
  EXPECT_EQ(DecodeSpsaModelRequest(request.bytes).value(), 1u);
  // Peer 1 answers with its model after one step.
  std::vector<float> theirs(l.Params().size(), 0.25f);
  node.OnMessage(host, PeerId(1), EncodeSpsaModelReply(1, theirs));
  host.FinishCompute(node);
  const int8_t own = DecodeSpsaUpdate(host.sent.back().bytes)->q;
  node.OnMessage(host, PeerId(1), EncodeSpsaUpdate({.step = 1, .q = 3}));
  node.OnMessage(host, PeerId(2), EncodeSpsaUpdate({.step = 1, .q = 4}));
  ASSERT_EQ(node.completed_steps(), 2);
  EXPECT_EQ(host.counters["spsa.models_adopted"], 1);
  ApplyByHand(theirs, o, 0, 1, own);
  ApplyByHand(theirs, o, 1, 1, 3);
  ApplyByHand(theirs, o, 2, 1, 4);
  EXPECT_EQ(host.models.at(2), theirs);
}

TEST(SpsaNode, ServesOneModelPerRequesterPerStep) {
  SmallLearner l;
  SpsaNode node(*l.learner, ThreePeers());
  FakeHost host(PeerId(0));
  node.OnStart(host);
  node.OnMessage(host, PeerId(1), EncodeSpsaModelRequest(0));
  node.OnMessage(host, PeerId(1), EncodeSpsaModelRequest(0));
  node.OnMessage(host, PeerId(2), EncodeSpsaModelRequest(0));
  ASSERT_EQ(host.sent.size(), 2u);
  EXPECT_EQ(host.counters["spsa.requests_refused"], 1);
  Result<SpsaModelReply> reply = DecodeSpsaModelReply(host.sent[0].bytes, l.Params().size());
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->step, 0u);
  EXPECT_EQ(reply->params, l.Params());
}

// Seeds 0 and 1 have mean |g| 1 and 3 (psi 0 and 1); seed 2 is unseen
// (psi 1); seed 3 has mean 2 (psi 0.5). With alpha = 2 the weights are
// e^0, e^2, e^2, e^1.
TEST(FedKSeed, ImportanceWeightsAreExpOfMinMaxNormalisedMeanAbsGradient) {
  const std::vector<double> abs_sum = {2.0, 3.0, 0.0, 8.0};
  const std::vector<uint32_t> abs_count = {2, 1, 0, 4};
  const std::vector<double> w = ImportanceWeights(abs_sum, abs_count, 2.0);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_DOUBLE_EQ(w[0], 1.0);
  EXPECT_DOUBLE_EQ(w[1], std::exp(2.0));
  EXPECT_DOUBLE_EQ(w[2], std::exp(2.0));
  EXPECT_DOUBLE_EQ(w[3], std::exp(1.0));
  // Nothing seen yet, or all seen means equal: uniform.
  const std::vector<double> same = ImportanceWeights(std::vector<double>{1, 0, 2},
                                                     std::vector<uint32_t>{1, 0, 2}, 2.0);
  EXPECT_EQ(same[0], same[1]);
  EXPECT_EQ(same[1], same[2]);
}

// Over 200,000 draws each index's frequency is within 5 standard errors of
// w_k / sum(w), every index lies in the pool, and a uniform draw is flat.
TEST(FedKSeed, ImportanceDrawsFollowTheWeightsAndStayInThePool) {
  const std::vector<double> abs_sum = {2.0, 3.0, 0.0, 8.0, 5.0};
  const std::vector<uint32_t> abs_count = {2, 1, 0, 4, 2};
  FedKSeedOptions options{.pool = 5, .local_steps = 200'000,
                          .sampling = SeedSampling::kImportance, .importance_alpha = 1.5};
  Rng rng(11, PeerId(3), RngPurpose::kSeedPool);
  const std::vector<uint32_t> draws = DrawSeedIndices(options, abs_sum, abs_count, rng);
  ASSERT_EQ(draws.size(), 200'000u);
  std::vector<double> counts(5, 0);
  for (uint32_t k : draws) {
    ASSERT_LT(k, 5u);
    ++counts[k];
  }
  const std::vector<double> w = ImportanceWeights(abs_sum, abs_count, 1.5);
  double total = 0;
  for (double x : w) total += x;
  const double n = static_cast<double>(draws.size());
  for (size_t k = 0; k < 5; ++k) {
    const double p = w[k] / total;
    EXPECT_NEAR(counts[k] / n, p, 5 * std::sqrt(p * (1 - p) / n)) << "seed " << k;
  }
  options.sampling = SeedSampling::kUniform;
  std::vector<double> flat(5, 0);
  for (uint32_t k : DrawSeedIndices(options, abs_sum, abs_count, rng)) {
    ASSERT_LT(k, 5u);
    ++flat[k];
  }
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_NEAR(flat[k] / n, 0.2, 5 * std::sqrt(0.2 * 0.8 / n)) << "seed " << k;
  }
}

TEST(FedKSeed, ClientAndServerApplyTheSameAggregateBitForBit) {
  SmallLearner l;
  const FedKSeedOptions o{.rounds = 3, .seed = 5, .pool = 16, .local_steps = 3, .lr = 0.05};
  FedKSeedServer server(l.Params(), o, {PeerId(0)});
  FedKSeedClient client(*l.learner, o, PeerId(1));
  FakeHost server_host(PeerId(1)), client_host(PeerId(0));
  server.OnStart(server_host);
  ASSERT_EQ(server_host.sent.size(), 1u);
  client.OnMessage(client_host, PeerId(1), server_host.sent[0].bytes);
  ASSERT_EQ(client_host.compute.size(), 1u);
  const std::vector<float> before = l.Params();
  client_host.FinishCompute(client);
  EXPECT_EQ(l.Params(), before);  // local steps are undone exactly
  ASSERT_EQ(client_host.sent.size(), 1u);
  Result<KSeedFrame> reply =
      DecodeKSeedFrame(client_host.sent[0].bytes, SpsaMessageKind::kKSeedUpdate, 3, 16);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->pairs.size(), 3u);
  EXPECT_EQ(client_host.sent[0].bytes.size(), 1u + 4 + 4 + 3 * 8);
  server.OnMessage(server_host, PeerId(0), client_host.sent[0].bytes);
  ASSERT_EQ(server_host.sent.size(), 2u);
  client.OnMessage(client_host, PeerId(1), server_host.sent[1].bytes);
  // The client applied round 1's aggregate to its copy: same bits as the
  // server's global model.
  EXPECT_EQ(std::memcmp(server.global().data(), l.learner->params().data(),
                        before.size() * sizeof(float)),
            0);
  EXPECT_NE(l.Params(), before);
}

// A peer declared down is not waited for: the step applies as soon as every
// peer up sent its update (no timeout); once the peer sends an update for
// the current step or a later one, steps wait for it again; a stale one (a
// restarted peer's) does not make them wait.
TEST(SpsaNode, APeerDownIsNotWaitedForUntilItIsInStepAgain) {
  SmallLearner l;
  SpsaOptions o = ThreePeers();
  o.rounds = 6;
  SpsaNode node(*l.learner, o);
  FakeHost host(PeerId(0));
  std::vector<float> expected = l.Params();
  node.OnStart(host);
  host.FinishCompute(node);
  const int8_t own0 = DecodeSpsaUpdate(host.sent[0].bytes)->q;
  node.OnMessage(host, PeerId(1), EncodeSpsaUpdate({.step = 0, .q = 10}));
  EXPECT_EQ(node.completed_steps(), 0);
  node.OnPeerDown(host, PeerId(2));
  ASSERT_EQ(node.completed_steps(), 1);
  EXPECT_EQ(host.counters["spsa.peers_down"], 1);
  EXPECT_EQ(host.counters.count("spsa.round_timeouts"), 0u);
  ApplyByHand(expected, o, 0, 0, own0);
  ApplyByHand(expected, o, 1, 0, 10);
  EXPECT_EQ(host.models.at(1), expected);

  host.FinishCompute(node);  // step 1: peer 2 is down, peer 1 completes it
  node.OnMessage(host, PeerId(1), EncodeSpsaUpdate({.step = 1, .q = 3}));
  ASSERT_EQ(node.completed_steps(), 2);
  node.OnMessage(host, PeerId(2), EncodeSpsaUpdate({.step = 0, .q = 1}));  // stale
  host.FinishCompute(node);  // step 2: still down, peer 1 completes it
  node.OnMessage(host, PeerId(1), EncodeSpsaUpdate({.step = 2, .q = 1}));
  ASSERT_EQ(node.completed_steps(), 3);
  host.FinishCompute(node);  // step 3: peer 2 sends it, so it is in step again
  node.OnMessage(host, PeerId(2), EncodeSpsaUpdate({.step = 3, .q = 1}));
  node.OnMessage(host, PeerId(1), EncodeSpsaUpdate({.step = 3, .q = 1}));
  ASSERT_EQ(node.completed_steps(), 4);
  host.FinishCompute(node);  // step 4 waits for peer 2 again
  node.OnMessage(host, PeerId(1), EncodeSpsaUpdate({.step = 4, .q = 1}));
  EXPECT_EQ(node.completed_steps(), 4);
  node.OnMessage(host, PeerId(2), EncodeSpsaUpdate({.step = 4, .q = 1}));
  EXPECT_EQ(node.completed_steps(), 5);
  EXPECT_TRUE(host.bad_peers.empty());
}

// The server stops waiting for a selected client declared down once every
// other selected client replied (not before: a round no one replied to
// waits), takes the reply of a client down if it comes (it is up then),
// and leaves a client down out of the next rounds' picks.
TEST(FedKSeed, ServerStopsWaitingForAClientDownAndDoesNotPickIt) {
  SmallLearner l;
  const FedKSeedOptions o{.rounds = 4, .seed = 5, .pool = 16, .local_steps = 1, .lr = 0.05,
                          .round_timeout = Duration::Seconds(5)};
  FedKSeedServer server(l.Params(), o, {PeerId(0), PeerId(1)});
  FakeHost host(PeerId(2));
  const auto update = [](uint32_t round) {
    return EncodeKSeedFrame(KSeedFrame{.kind = SpsaMessageKind::kKSeedUpdate,
                                       .round = round,
                                       .pairs = {SeedScalar{.index = 3, .scalar = 0.5f}}});
  };
  const auto picked = [&](size_t first) {
    std::vector<PeerId> out;
    for (size_t i = first; i < host.sent.size(); ++i) {
      Result<KSeedFrame> f =
          DecodeKSeedFrame(host.sent[i].bytes, SpsaMessageKind::kKSeedRound, 16, 16);
      EXPECT_TRUE(f.ok());
      if (f.ok() && f->selected) out.push_back(host.sent[i].to);
    }
    return out;
  };
  server.OnStart(host);
  ASSERT_EQ(host.sent.size(), 2u);
  EXPECT_EQ(picked(0), (std::vector<PeerId>{PeerId(0), PeerId(1)}));  // fraction 1
  server.OnPeerDown(host, PeerId(1));  // round 1: no reply yet, so it waits
  EXPECT_EQ(host.sent.size(), 2u);
  server.OnMessage(host, PeerId(1), update(1));  // it was not dead after all
  EXPECT_EQ(host.sent.size(), 2u);               // still waits for client 0
  server.OnMessage(host, PeerId(0), update(1));
  ASSERT_EQ(host.sent.size(), 4u);
  EXPECT_EQ(picked(2), (std::vector<PeerId>{PeerId(0), PeerId(1)}));  // 1 is up again

  server.OnMessage(host, PeerId(0), update(2));  // round 2: waits for client 1
  EXPECT_EQ(host.sent.size(), 4u);
  server.OnPeerDown(host, PeerId(1));
  ASSERT_EQ(host.sent.size(), 6u);  // round 3 began at once, no timeout
  EXPECT_EQ(picked(4), (std::vector<PeerId>{PeerId(0)}));  // 1 is down
  EXPECT_EQ(host.counters["fedkseed.clients_down"], 2);
  EXPECT_EQ(host.counters.count("fedkseed.round_timeouts"), 0u);
  EXPECT_TRUE(host.bad_peers.empty());
}

}  // namespace
}  // namespace murmur::testing
