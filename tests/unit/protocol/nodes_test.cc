// The protocol state machines driven event by event through a FakeHost.
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <set>

#include "murmur/core/snapshot.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/dfedsam.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/model_message.h"
#include "testing/fake_host.h"
#include "testing/frozen_learner.h"

namespace murmur::testing {
namespace {

std::vector<uint8_t> Dpsgd(uint32_t round, const std::vector<float>& params) {
  return EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(round), 0, params);
}

TEST(FedAvgServer, AveragesRepliesWeightedBySampleCount) {
  FedAvgServer server({0.f, 0.f}, {.rounds = 2, .client_fraction = 1.0, .local_epochs = 1,
                                    .round_timeout = Duration::Seconds(10)},
                      {PeerId(0), PeerId(1)});
  FakeHost host(PeerId(2));
  server.OnStart(host);
  ASSERT_EQ(host.sent.size(), 2u);
  auto update = [](uint64_t weight, std::vector<float> p) {
    return EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, Round(1), weight, p);
  };
  server.OnMessage(host, PeerId(0), update(1, {1.f, 2.f}));
  EXPECT_EQ(server.completed_rounds(), 0);
  server.OnMessage(host, PeerId(1), update(3, {5.f, 6.f}));
  ASSERT_EQ(server.completed_rounds(), 1);
  // (1*1 + 3*5) / 4 = 4, (1*2 + 3*6) / 4 = 5.
  EXPECT_EQ(std::vector<float>(server.global_model().begin(), server.global_model().end()),
            (std::vector<float>{4.f, 5.f}));
  EXPECT_EQ(host.models.at(1), (std::vector<float>{4.f, 5.f}));
  EXPECT_EQ(host.sent.size(), 4u);  // round 2 went out
}

TEST(FedAvgServer, IgnoresLateRepliesAndRejectsNonClients) {
  FedAvgServer server({0.f}, {.rounds = 3, .client_fraction = 0.5, .local_epochs = 1,
                              .round_timeout = Duration::Seconds(10)},
                      {PeerId(0), PeerId(1)});
  FakeHost host(PeerId(2));
  server.OnStart(host);
  ASSERT_EQ(host.sent.size(), 1u);  // floor(0.5 * 2) = 1 client
  const PeerId chosen = host.sent[0].to;
  auto update = [](uint32_t round, float v) {
    return EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, Round(round), 10,
                              std::vector<float>{v});
  };
  server.OnMessage(host, PeerId(5), update(1, 9.f));  // not a client
  EXPECT_EQ(host.bad_peers, std::vector<PeerId>{PeerId(5)});
  server.OnMessage(host, chosen, update(2, 9.f));  // wrong round: late/early
  EXPECT_EQ(host.counters["fedavg.late_replies"], 1);
  server.OnMessage(host, chosen, update(1, 3.f));
  EXPECT_EQ(server.completed_rounds(), 1);
  EXPECT_EQ(server.global_model()[0], 3.f);
  server.OnMessage(host, chosen, update(1, 7.f));  // round 1 is over
  EXPECT_EQ(host.counters["fedavg.late_replies"], 2);
  EXPECT_EQ(server.global_model()[0], 3.f);
  EXPECT_EQ(host.bad_peers.size(), 1u);
}

// With client_fraction < 1 a restored server's pick of a round's clients
// may differ from the killed server's (its host's random stream restarted),
// which sent the round's model to clients it does not wait for now. Such a
// client's update is an honest one: dropped (before its parameters are
// decoded: the NaN below would make it a bad peer's) and counted, and the
// round goes on with the picked clients. A second one of the round from it
// is a bad peer's, as is any update from a peer that is not a client.
TEST(FedAvgServer, DropsAnUpdateOfAClientItDidNotPickWithoutReportingIt) {
  const std::vector<PeerId> clients = {PeerId(0), PeerId(1), PeerId(2), PeerId(3)};
  FedAvgServer server({0.f}, {.rounds = 3, .client_fraction = 0.5, .local_epochs = 1}, clients);
  FakeHost host(PeerId(4));
  server.OnStart(host);
  ASSERT_EQ(host.sent.size(), 2u);  // floor(0.5 * 4) = 2 clients
  std::set<PeerId> picked;
  for (const FakeHost::Sent& sent : host.sent) picked.insert(sent.to);
  ASSERT_EQ(picked.size(), 2u);
  std::vector<PeerId> others;
  for (PeerId c : clients) {
    if (!picked.count(c)) others.push_back(c);
  }
  ASSERT_EQ(others.size(), 2u);
  auto update = [](uint32_t round, float v) {
    return EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, Round(round), 10,
                              std::vector<float>{v});
  };
  server.OnMessage(host, others[0], update(1, std::numeric_limits<float>::quiet_NaN()));
  server.OnMessage(host, others[1], update(1, 100.f));
  EXPECT_TRUE(host.bad_peers.empty());
  EXPECT_EQ(host.counters["fedavg.unselected_updates"], 2);
  EXPECT_EQ(server.completed_rounds(), 0);
  server.OnMessage(host, others[1], update(1, 100.f));  // a second one: not honest
  EXPECT_EQ(host.bad_peers, std::vector<PeerId>{others[1]});
  server.OnMessage(host, PeerId(9), update(1, 1.f));  // not a client at all
  EXPECT_EQ(host.bad_peers, (std::vector<PeerId>{others[1], PeerId(9)}));
  EXPECT_EQ(host.counters["fedavg.unselected_updates"], 2);
  const std::vector<PeerId> p(picked.begin(), picked.end());
  server.OnMessage(host, p[0], update(1, 2.f));
  server.OnMessage(host, p[1], update(1, 6.f));
  ASSERT_EQ(server.completed_rounds(), 1);
  EXPECT_EQ(server.global_model()[0], 4.f);  // (2 + 6) / 2: the others' were dropped
}

TEST(FedAvgServer, KeepsTheGlobalModelWhenARoundTimesOutEmpty) {
  FedAvgServer server({1.5f}, {.rounds = 1, .client_fraction = 1.0, .local_epochs = 1,
                               .round_timeout = Duration::Seconds(1)},
                      {PeerId(0)});
  FakeHost host(PeerId(1));
  server.OnStart(host);
  ASSERT_EQ(host.timers.size(), 1u);
  server.OnTimer(host, host.timers[0]);
  EXPECT_EQ(server.completed_rounds(), 1);
  EXPECT_EQ(server.global_model()[0], 1.5f);
  EXPECT_EQ(host.counters["fedavg.empty_rounds"], 1);
  EXPECT_EQ(host.counters["fedavg.round_timeouts"], 1);
}

// A FedAvg server restored from its snapshot after round 1 (`murmur peer
// --persist-every`: Restore, then OnStart) reports its model of round 1 and
// sends every client round 2 with the saved global model; a client's
// second update of round 2 (one queued for the killed server, then the
// answer to the resent round) is counted and ignored, not a bad peer.
TEST(FedAvgServer, RestoredServerResendsItsRoundAndIgnoresADuplicateUpdate) {
  const FedAvgOptions options{.rounds = 3, .client_fraction = 1.0, .local_epochs = 1};
  FedAvgServer saved({0.f}, options, {PeerId(0), PeerId(1)});
  FakeHost host(PeerId(2));
  saved.OnStart(host);
  auto update = [](uint32_t round, float v) {
    return EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, Round(round), 10,
                              std::vector<float>{v});
  };
  saved.OnMessage(host, PeerId(0), update(1, 2.f));
  saved.OnMessage(host, PeerId(1), update(1, 4.f));
  ASSERT_EQ(saved.completed_rounds(), 1);
  SnapshotWriter out;
  saved.Save(out);
  const std::vector<uint8_t> bytes = out.Take();

  FedAvgServer restored({0.f}, options, {PeerId(0), PeerId(1)});
  SnapshotReader in(bytes);
  ASSERT_TRUE(restored.Restore(in).ok());
  FakeHost again(PeerId(2));
  restored.OnStart(again);
  EXPECT_EQ(again.models.count(0), 0u);
  EXPECT_EQ(again.models.at(1), std::vector<float>{3.f});
  ASSERT_EQ(again.sent.size(), 2u);
  for (const FakeHost::Sent& sent : again.sent) {
    Result<ModelMessage> global = DecodeModelMessage(sent.bytes, ModelMessageKind::kFedAvgGlobal, 1);
    ASSERT_TRUE(global.ok());
    EXPECT_EQ(global->round, Round(2));
    EXPECT_EQ(global->params, std::vector<float>{3.f});
  }
  restored.OnMessage(again, PeerId(0), update(2, 5.f));
  restored.OnMessage(again, PeerId(0), update(2, 9.f));
  EXPECT_TRUE(again.bad_peers.empty());
  EXPECT_EQ(again.counters["fedavg.duplicate_updates"], 1);
  EXPECT_EQ(restored.completed_rounds(), 1);
  restored.OnMessage(again, PeerId(1), update(2, 7.f));
  ASSERT_EQ(restored.completed_rounds(), 2);
  EXPECT_EQ(restored.global_model()[0], 6.f);  // (5 + 7) / 2: the 9 was dropped
}

// A client's duplicate update of a round is tolerated once (the restored
// server's resend case); a second one is a bad peer's, which would
// otherwise make the server read full-size updates without end. The
// allowance is per round: round 3 tolerates one again.
TEST(FedAvgServer, ReportsTheSecondDuplicateUpdateOfARound) {
  FedAvgServer server({0.f}, {.rounds = 3, .client_fraction = 1.0, .local_epochs = 1},
                      {PeerId(0), PeerId(1)});
  FakeHost host(PeerId(2));
  server.OnStart(host);
  auto update = [](uint32_t round, float v) {
    return EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, Round(round), 10,
                              std::vector<float>{v});
  };
  server.OnMessage(host, PeerId(0), update(1, 2.f));
  server.OnMessage(host, PeerId(0), update(1, 8.f));
  EXPECT_TRUE(host.bad_peers.empty());
  EXPECT_EQ(host.counters["fedavg.duplicate_updates"], 1);
  server.OnMessage(host, PeerId(0), update(1, 8.f));
  EXPECT_EQ(host.bad_peers, std::vector<PeerId>{PeerId(0)});
  EXPECT_EQ(host.counters["fedavg.duplicate_updates"], 1);
  server.OnMessage(host, PeerId(1), update(1, 4.f));
  ASSERT_EQ(server.completed_rounds(), 1);
  EXPECT_EQ(server.global_model()[0], 3.f);  // (2 + 4) / 2
  server.OnMessage(host, PeerId(1), update(2, 5.f));
  server.OnMessage(host, PeerId(1), update(2, 5.f));
  EXPECT_EQ(host.counters["fedavg.duplicate_updates"], 2);
  EXPECT_EQ(host.bad_peers.size(), 1u);
}

// A client training round 2 gets round 2's global model again (its server
// restarted from a state of round 1): it ignores it, as its update answers
// it, and trains the next round it gets only once.
TEST(FedAvgClient, IgnoresAResentGlobalModelOfTheRoundItIsTraining) {
  FrozenLearner l;
  FedAvgClient client(*l.learner, {.rounds = 3, .client_fraction = 1.0, .local_epochs = 1},
                      PeerId(4));
  FakeHost host(PeerId(0));
  client.OnStart(host);
  auto global = [&](uint32_t round, float v) {
    return EncodeModelMessage(ModelMessageKind::kFedAvgGlobal, Round(round), 0, l.Constant(v));
  };
  client.OnMessage(host, PeerId(4), global(2, 1.f));
  ASSERT_EQ(host.compute.size(), 1u);
  client.OnMessage(host, PeerId(4), global(2, 1.f));
  EXPECT_EQ(host.counters["fedavg.resent_rounds"], 1);
  host.FinishCompute(client);
  ASSERT_EQ(host.sent.size(), 1u);
  EXPECT_TRUE(host.compute.empty());  // round 2 is not trained twice
  client.OnMessage(host, PeerId(4), global(3, 1.f));
  EXPECT_EQ(host.compute.size(), 1u);
}

TEST(DpsgdNode, MixesWithMetropolisWeightsBuffersFutureRoundsAndDropsPastOnes) {
  FrozenLearner l;
  l.Fill(3.f);
  DpsgdNode node(*l.learner, {.rounds = 3, .local_steps = 1, .round_timeout = Duration::Seconds(5)},
                 {PeerId(1), PeerId(2)}, {0.25, 0.25}, 0.5);
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  ASSERT_EQ(host.sent.size(), 2u);  // own model to both neighbours
  node.OnMessage(host, PeerId(1), Dpsgd(2, l.Constant(100.f)));  // early: buffered
  node.OnMessage(host, PeerId(1), Dpsgd(1, l.Constant(5.f)));
  EXPECT_EQ(node.completed_rounds(), 0);
  node.OnMessage(host, PeerId(2), Dpsgd(1, l.Constant(9.f)));
  ASSERT_EQ(node.completed_rounds(), 1);
  // 0.5 * 3 + 0.25 * 5 + 0.25 * 9 = 5.
  EXPECT_EQ(host.models.at(1), l.Constant(5.f));
  node.OnMessage(host, PeerId(2), Dpsgd(1, l.Constant(1.f)));  // past round
  EXPECT_EQ(host.counters["dpsgd.late_models"], 1);
  host.FinishCompute(node);
  node.OnMessage(host, PeerId(2), Dpsgd(2, l.Constant(1.f)));
  ASSERT_EQ(node.completed_rounds(), 2);
  // 0.5 * 5 + 0.25 * 100 (buffered) + 0.25 * 1 = 27.75.
  EXPECT_EQ(host.models.at(2), l.Constant(27.75f));
}

// Issue 18 item 4: an insider flooding models for far-future rounds must not
// grow the peer's memory; within the window they are buffered as before.
TEST(DpsgdNode, DropsModelsBeyondTheRoundWindowAndIgnoresDuplicates) {
  FrozenLearner l;
  l.Fill(3.f);
  DpsgdNode node(*l.learner, {.rounds = 100, .local_steps = 1, .round_timeout = Duration::Seconds(5)},
                 {PeerId(1), PeerId(2)}, {0.25, 0.25}, 0.5);
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  const int64_t window = RoundBarrierOptions{}.window;
  // Peer 1 floods every round; peer 2 is up and at round 1, so the flood
  // cannot make this peer jump ahead either.
  for (int64_t r = 2; r <= 100; ++r) {
    node.OnMessage(host, PeerId(1), Dpsgd(static_cast<uint32_t>(r), l.Constant(7.f)));
  }
  EXPECT_EQ(host.counters["dpsgd.beyond_window_models"], 100 - 1 - window);
  EXPECT_EQ(host.counters["dpsgd.catch_ups"], 0);
  node.OnMessage(host, PeerId(1), Dpsgd(1, l.Constant(5.f)));
  node.OnMessage(host, PeerId(2), Dpsgd(1, l.Constant(9.f)));
  node.OnMessage(host, PeerId(1), Dpsgd(1, l.Constant(500.f)));  // after completion: late
  EXPECT_EQ(host.counters["dpsgd.late_models"], 1);
  ASSERT_EQ(node.completed_rounds(), 1);
  EXPECT_EQ(host.models.at(1), l.Constant(5.f));  // 0.5 * 3 + 0.25 * 5 + 0.25 * 9
  node.OnMessage(host, PeerId(1), Dpsgd(2, l.Constant(900.f)));  // round 2 is buffered
  EXPECT_EQ(host.counters["dpsgd.duplicate_models"], 1);
  host.FinishCompute(node);
  node.OnMessage(host, PeerId(2), Dpsgd(2, l.Constant(1.f)));
  ASSERT_EQ(node.completed_rounds(), 2);
  EXPECT_EQ(host.models.at(2), l.Constant(4.5f));  // 0.5 * 5 + 0.25 * 7 + 0.25 * 1: the first stands
  EXPECT_EQ(host.counters["dpsgd.stranger_models"], 0);
}

// Issue 18 item 2: a neighbour the failure detector declares down is not
// waited for; the round completes at once with its weight on the peer.
TEST(DpsgdNode, NeighbourDeclaredDownIsNotWaitedFor) {
  FrozenLearner l;
  l.Fill(2.f);
  DpsgdNode node(*l.learner, {.rounds = 3, .local_steps = 1, .round_timeout = Duration::Seconds(5)},
                 {PeerId(1), PeerId(2)}, {0.25, 0.25}, 0.5);
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  node.OnMessage(host, PeerId(1), Dpsgd(1, l.Constant(6.f)));
  EXPECT_EQ(node.completed_rounds(), 0);
  node.OnPeerDown(host, PeerId(2));
  ASSERT_EQ(node.completed_rounds(), 1);  // no timeout needed
  EXPECT_EQ(host.models.at(1), l.Constant(3.f));  // 0.75 * 2 + 0.25 * 6
  EXPECT_EQ(host.counters["dpsgd.neighbours_down"], 1);
  EXPECT_EQ(host.counters["dpsgd.round_timeouts"], 0);
  // The next round does not wait for peer 2 either...
  host.FinishCompute(node);
  node.OnMessage(host, PeerId(1), Dpsgd(2, l.Constant(3.f)));
  ASSERT_EQ(node.completed_rounds(), 2);  // 0.75 * 3 + 0.25 * 3
  // ...until it sends for an open round again.
  node.OnMessage(host, PeerId(2), Dpsgd(3, l.Constant(3.f)));
  host.FinishCompute(node);
  EXPECT_EQ(node.completed_rounds(), 2);  // waits for peer 1 now as well
  node.OnMessage(host, PeerId(1), Dpsgd(3, l.Constant(3.f)));
  EXPECT_EQ(node.completed_rounds(), 3);
  node.OnPeerDown(host, PeerId(7));  // not a neighbour: ignored
  EXPECT_EQ(host.counters["dpsgd.neighbours_down"], 1);
}

// Issue 18 item 2: a restarted peer (round 0) whose neighbours are at round
// 40 adopts their average and rejoins them at round 40.
TEST(DpsgdNode, RestartedPeerCatchesUpWithItsNeighbours) {
  FrozenLearner l;
  l.Fill(3.f);
  DpsgdNode node(*l.learner, {.rounds = 100, .local_steps = 1, .round_timeout = Duration::Seconds(5)},
                 {PeerId(1), PeerId(2)}, {0.25, 0.25}, 0.5);
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);  // round 1 trained, waiting
  node.OnMessage(host, PeerId(1), Dpsgd(40, l.Constant(10.f)));
  EXPECT_EQ(node.completed_rounds(), 0);  // peer 2 has not shown it is at 40
  node.OnMessage(host, PeerId(2), Dpsgd(40, l.Constant(20.f)));
  EXPECT_EQ(node.completed_rounds(), 39);
  EXPECT_EQ(host.models.at(39), l.Constant(15.f));  // the neighbours' average
  EXPECT_EQ(host.counters["dpsgd.catch_ups"], 1);
  const size_t sent_before = host.sent.size();
  host.FinishCompute(node);  // trains round 40, sends it, mixes at once
  EXPECT_EQ(host.sent.size(), sent_before + 2);
  ASSERT_EQ(node.completed_rounds(), 40);
  EXPECT_EQ(host.models.at(40), l.Constant(15.f));  // 0.5 * 15 + 0.25 * 10 + 0.25 * 20
}

// Issue 18 item 3: a peer restored from its persisted state at round 7
// reports that round's model, sends its round-8 model and mixes round 8;
// as a persisting peer it does not wait for a neighbour already two rounds
// ahead (resumed from a later state), whose round-8 model never comes.
TEST(DpsgdNode, ResumedPeerStartsAtItsRoundAndSkipsANeighbourAhead) {
  FrozenLearner l;
  l.Fill(4.f);
  DpsgdNode node(*l.learner,
                 {.rounds = 100, .local_steps = 1, .round_timeout = Duration::Seconds(5),
                  .start_round = 7, .resumable = true},
                 {PeerId(1), PeerId(2)}, {0.25, 0.25}, 0.5);
  FakeHost host(PeerId(0));
  EXPECT_EQ(node.completed_rounds(), 7);
  node.OnStart(host);
  ASSERT_EQ(host.models.size(), 1u);
  EXPECT_EQ(host.models.begin()->first, 7u);  // not round 0
  host.FinishCompute(node);
  ASSERT_EQ(host.sent.size(), 2u);
  for (const auto& sent : host.sent) {
    Result<ModelMessage> m =
        DecodeModelMessage(sent.bytes, ModelMessageKind::kDpsgdParams, l.Constant(0.f).size());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->round, Round(8));
  }
  // A model for a finished round is late, as for any peer at round 7.
  node.OnMessage(host, PeerId(1), Dpsgd(7, l.Constant(1.f)));
  EXPECT_EQ(host.counters["dpsgd.late_models"], 1);
  node.OnMessage(host, PeerId(1), Dpsgd(8, l.Constant(8.f)));
  EXPECT_EQ(node.completed_rounds(), 7);  // peer 2 not heard from: waited for
  // Peer 2 resumed at round 20: its model of round 22 shows it is past 8.
  node.OnMessage(host, PeerId(2), Dpsgd(22, l.Constant(100.f)));
  ASSERT_EQ(node.completed_rounds(), 8);
  EXPECT_EQ(host.models.at(8), l.Constant(5.f));  // 0.75 * 4 + 0.25 * 8
  EXPECT_EQ(host.counters["dpsgd.round_timeouts"], 0);
  EXPECT_EQ(host.counters["dpsgd.catch_ups"], 0);  // peer 1 is in step
}

// Epidemic Learning persists by round as D-PSGD: resumed at round 7 it
// reports that round's model, pushes its round-8 model and mixes round 8
// without waiting for a sender already two rounds ahead. Three peers with
// fan-out 2: every other peer sends to it every round.
TEST(EpidemicNode, ResumedPeerStartsAtItsRoundAndSkipsASenderAhead) {
  FrozenLearner l;
  l.Fill(4.f);
  EpidemicNode node(*l.learner, {.rounds = 100, .local_steps = 1, .fanout = 2, .num_peers = 3,
                                 .round_timeout = Duration::Seconds(5), .seed = 1,
                                 .start_round = 7, .resumable = true});
  EXPECT_EQ(node.persist_mode(), PersistMode::kByRound);
  FakeHost host(PeerId(0));
  node.OnStart(host);
  ASSERT_EQ(host.models.size(), 1u);
  EXPECT_EQ(host.models.begin()->first, 7u);
  host.FinishCompute(node);
  ASSERT_EQ(host.sent.size(), 2u);
  for (const auto& sent : host.sent) {
    Result<ModelMessage> m =
        DecodeModelMessage(sent.bytes, ModelMessageKind::kDpsgdParams, l.Constant(0.f).size());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->round, Round(8));
  }
  node.OnMessage(host, PeerId(1), Dpsgd(8, l.Constant(8.f)));
  EXPECT_EQ(node.completed_rounds(), 7);  // peer 2 not heard from: waited for
  node.OnMessage(host, PeerId(2), Dpsgd(10, l.Constant(100.f)));
  ASSERT_EQ(node.completed_rounds(), 8);
  EXPECT_EQ(host.models.at(8), l.Constant(6.f));  // (4 + 8) / 2
  EXPECT_TRUE(host.bad_peers.empty());
}

// DFedSAM persists by round: resumed at round 7 with Q = 2 gossip steps a
// round, it is at step 14, gossips steps 15 and 16 of round 8, and does not
// wait for a neighbour whose newest model is two or more steps ahead.
TEST(DfedsamNode, ResumedPeerStartsAtItsRoundsStepAndSkipsANeighbourAhead) {
  FrozenLearner l;
  l.Fill(4.f);
  DfedsamNode node(*l.learner,
                   {.rounds = 100, .local_steps = 1, .gossip_steps = 2,
                    .round_timeout = Duration::Seconds(5), .start_round = 7, .resumable = true},
                   {PeerId(1), PeerId(2)}, {0.25, 0.25}, 0.5);
  EXPECT_EQ(node.persist_mode(), PersistMode::kByRound);
  EXPECT_EQ(node.completed_gossip_steps(), 14);
  FakeHost host(PeerId(0));
  node.OnStart(host);
  ASSERT_EQ(host.models.size(), 1u);
  EXPECT_EQ(host.models.begin()->first, 7u);
  host.FinishCompute(node);
  node.OnMessage(host, PeerId(2), Dpsgd(20, l.Constant(100.f)));  // resumed further on
  node.OnMessage(host, PeerId(1), Dpsgd(15, l.Constant(8.f)));
  EXPECT_EQ(node.completed_gossip_steps(), 15);  // 0.75 * 4 + 0.25 * 8 = 5
  node.OnMessage(host, PeerId(1), Dpsgd(16, l.Constant(8.f)));
  ASSERT_EQ(node.completed_rounds(), 8);
  EXPECT_EQ(host.models.at(8), l.Constant(5.75f));  // 0.75 * 5 + 0.25 * 8
  ASSERT_EQ(host.sent.size(), 4u);  // steps 15 and 16 to both neighbours
  EXPECT_EQ(host.counters["dfedsam.step_timeouts"], 0);
}

TEST(DpsgdNode, TimeoutGivesMissingNeighboursWeightToSelf) {
  FrozenLearner l;
  l.Fill(2.f);
  DpsgdNode node(*l.learner, {.rounds = 1, .local_steps = 1, .round_timeout = Duration::Seconds(5)},
                 {PeerId(1), PeerId(2)}, {0.25, 0.25}, 0.5);
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  node.OnMessage(host, PeerId(1), Dpsgd(1, l.Constant(6.f)));
  ASSERT_EQ(host.timers.size(), 1u);
  node.OnTimer(host, TimerId(999));  // a stale timer changes nothing
  EXPECT_EQ(node.completed_rounds(), 0);
  node.OnTimer(host, host.timers[0]);
  ASSERT_EQ(node.completed_rounds(), 1);
  // 0.75 * 2 + 0.25 * 6 = 3.
  EXPECT_EQ(host.models.at(1), l.Constant(3.f));
  EXPECT_EQ(host.counters["dpsgd.round_timeouts"], 1);
}

TEST(DpsgdNode, RejectsModelsFromNonNeighboursAndOutOfRangeRounds) {
  FrozenLearner l;
  DpsgdNode node(*l.learner, {.rounds = 2, .local_steps = 1, .round_timeout = Duration::Seconds(5)},
                 {PeerId(1)}, {0.5}, 0.5);
  FakeHost host(PeerId(0));
  node.OnStart(host);
  node.OnMessage(host, PeerId(7), Dpsgd(1, l.Constant(1.f)));
  node.OnMessage(host, PeerId(1), Dpsgd(3, l.Constant(1.f)));  // beyond the last round
  node.OnMessage(host, PeerId(1), std::vector<uint8_t>{1, 2, 3});
  EXPECT_EQ(host.bad_peers, (std::vector<PeerId>{PeerId(7), PeerId(1), PeerId(1)}));
}

TEST(GossipNode, ServesEveryWakeUpThatFellDueDuringTraining) {
  FrozenLearner l;
  GossipNode node(*l.learner, {.rounds = 5, .local_steps = 1, .period = Duration::Seconds(1)},
                  {PeerId(1)});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  node.OnMessage(host, PeerId(1),
                 EncodeModelMessage(ModelMessageKind::kGossipModel, Round(1), 0, l.Constant(4.f)));
  ASSERT_EQ(host.compute.size(), 1u);  // merged, now training
  for (int i = 0; i < 3; ++i) node.OnTimer(host, host.timers.back());
  EXPECT_TRUE(host.sent.empty());  // parameters belong to the compute task
  host.FinishCompute(node);
  ASSERT_EQ(host.sent.size(), 3u);
  EXPECT_EQ(host.models.count(1) + host.models.count(2) + host.models.count(3), 3u);
  node.OnMessage(host, PeerId(5),
                 EncodeModelMessage(ModelMessageKind::kGossipModel, Round(1), 0, l.Constant(4.f)));
  EXPECT_EQ(host.bad_peers, std::vector<PeerId>{PeerId(5)});
}

}  // namespace
}  // namespace murmur::testing
