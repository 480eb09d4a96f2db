// FedAsync, FedBuff and FedCompass servers and the async client, driven
// event by event through a FakeHost.
#include <gtest/gtest.h>

#include <cmath>

#include "testing/fake_host.h"
#include "murmur/protocol/async_message.h"
#include "murmur/protocol/fedasync.h"
#include "murmur/protocol/fedbuff.h"
#include "murmur/protocol/fedcompass.h"

namespace murmur::testing {
namespace {

std::vector<uint8_t> Update(uint32_t version, std::vector<float> values, uint64_t steps = 1,
                            double compute_s = 0, uint64_t samples = 1) {
  return EncodeAsyncMessage(AsyncMessage{.kind = AsyncMessageKind::kUpdate,
                                         .version = version,
                                         .samples = samples,
                                         .steps = steps,
                                         .compute_s = compute_s,
                                         .values = std::move(values)});
}

AsyncMessage LastTaskTo(const FakeHost& host, PeerId client) {
  for (auto it = host.sent.rbegin(); it != host.sent.rend(); ++it) {
    if (it->to == client) {
      return DecodeAsyncMessage(it->bytes, AsyncMessageKind::kTask, 1).value();
    }
  }
  ADD_FAILURE() << "no task sent to " << client;
  return {};
}

std::vector<PeerId> Clients(int n) {
  std::vector<PeerId> out;
  for (int i = 0; i < n; ++i) out.push_back(PeerId(i));
  return out;
}

TEST(FedAsyncServer, MixesEachUpdateWithItsStalenessWeight) {
  FedAsyncServer server({0.f}, {.rounds = 10, .local_steps = 3, .alpha = 0.5,
                                .staleness = {.kind = StalenessKind::kPolynomial, .a = 0.5}},
                        Clients(2));
  FakeHost host(PeerId(2));
  server.OnStart(host);
  ASSERT_EQ(host.sent.size(), 2u);
  EXPECT_EQ(LastTaskTo(host, PeerId(0)).steps, 3u);
  server.OnMessage(host, PeerId(0), Update(0, {4.f}));
  // Fresh: alpha_t = 0.5, x = 0.5*0 + 0.5*4 = 2; client 0 restarts from it.
  EXPECT_FLOAT_EQ(server.global_model()[0], 2.f);
  EXPECT_EQ(LastTaskTo(host, PeerId(0)).version, 1u);
  server.OnMessage(host, PeerId(1), Update(0, {10.f}));
  // One version stale: alpha_t = 0.5 / sqrt(2).
  const double a = 0.5 / std::sqrt(2.0);
  EXPECT_NEAR(server.global_model()[0], (1 - a) * 2.0 + a * 10.0, 1e-6);
  EXPECT_EQ(server.completed_rounds(), 2);
  EXPECT_EQ(host.models.count(2), 1u);
}

TEST(FedAsyncServer, RejectsUpdatesFromNonClientsAndFutureVersions) {
  FedAsyncServer server({0.f}, {.rounds = 10, .local_steps = 1}, Clients(2));
  FakeHost host(PeerId(2));
  server.OnStart(host);
  server.OnMessage(host, PeerId(7), Update(0, {1.f}));
  server.OnMessage(host, PeerId(0), Update(5, {1.f}));
  server.OnMessage(host, PeerId(1), std::vector<uint8_t>{1, 2, 3});
  EXPECT_EQ(host.bad_peers, (std::vector<PeerId>{PeerId(7), PeerId(0), PeerId(1)}));
  EXPECT_EQ(server.completed_rounds(), 0);
}

TEST(FedBuffServer, AppliesUpdatesOnlyWhenTheBufferIsFull) {
  FedBuffServer server({0.f}, {.rounds = 10, .local_steps = 2, .buffer_size = 2,
                               .max_concurrency = 2,
                               .staleness = {.kind = StalenessKind::kPolynomial, .a = 0.5}},
                       Clients(3));
  FakeHost host(PeerId(3));
  server.OnStart(host);
  ASSERT_EQ(host.sent.size(), 2u);  // the concurrency cap
  PeerId first = host.sent[0].to, second = host.sent[1].to;
  server.OnMessage(host, first, Update(0, {1.f}));
  EXPECT_EQ(server.buffered(), 1);
  EXPECT_EQ(server.completed_rounds(), 0);
  EXPECT_EQ(server.global_model()[0], 0.f);
  ASSERT_EQ(host.sent.size(), 3u);  // a replacement keeps 2 clients busy
  const PeerId third = host.sent[2].to;
  server.OnMessage(host, second, Update(0, {3.f}));
  // (1 + 3) / 2 = 2, replacing the model (default server optimizer).
  EXPECT_EQ(server.completed_rounds(), 1);
  EXPECT_FLOAT_EQ(server.global_model()[0], 2.f);
  EXPECT_EQ(server.buffered(), 0);
  // An update one version stale counts 1/sqrt(2); the buffer waits again.
  server.OnMessage(host, third, Update(0, {4.f}));
  EXPECT_EQ(server.completed_rounds(), 1);
  EXPECT_FLOAT_EQ(server.global_model()[0], 2.f);
  const PeerId fourth = host.sent.back().to;
  server.OnMessage(host, fourth, Update(1, {2.f}));
  EXPECT_EQ(server.completed_rounds(), 2);
  EXPECT_NEAR(server.global_model()[0], 2.0 + (4.0 / std::sqrt(2.0) + 2.0) / 2, 1e-6);
}

TEST(FedBuffServer, TimedOutTaskFreesItsSlotAndItsLateAnswerIsIgnored) {
  FedBuffServer server({0.f}, {.rounds = 10, .local_steps = 2, .buffer_size = 1,
                               .max_concurrency = 1, .task_timeout = Duration::Seconds(5)},
                       Clients(2));
  FakeHost host(PeerId(2));
  server.OnStart(host);
  ASSERT_EQ(host.sent.size(), 1u);
  const PeerId slow = host.sent[0].to;
  server.OnTimer(host, host.timers.back());
  EXPECT_EQ(host.counters["fedbuff.task_timeouts"], 1);
  ASSERT_EQ(host.sent.size(), 2u);
  // A random idle client took the slot; the slow client's answer is late
  // unless it was given the slot again.
  if (host.sent[1].to != slow) {
    server.OnMessage(host, slow, Update(0, {1.f}));
    EXPECT_EQ(host.counters["fedbuff.late_updates"], 1);
    EXPECT_EQ(server.completed_rounds(), 0);
  }
}

// A client declared down gives its slot up at once (no task timeout), the
// slot goes to the other client, the one down is not picked while down,
// and its late answer is ignored; up again, it is picked.
TEST(FedBuffServer, AClientDownGivesItsSlotUpAtOnceAndIsNotPicked) {
  FedBuffServer server({0.f}, {.rounds = 10, .local_steps = 2, .buffer_size = 1,
                               .max_concurrency = 1, .task_timeout = Duration::Seconds(5)},
                       Clients(2));
  FakeHost host(PeerId(2));
  server.OnStart(host);
  ASSERT_EQ(host.sent.size(), 1u);
  const PeerId down = host.sent[0].to;
  const PeerId other(1 - down.value);
  server.OnPeerDown(host, down);
  EXPECT_EQ(host.counters["fedbuff.tasks_of_clients_down"], 1);
  EXPECT_EQ(host.counters.count("fedbuff.task_timeouts"), 0u);
  ASSERT_EQ(host.sent.size(), 2u);
  EXPECT_EQ(host.sent[1].to, other);
  // Its answer to the task it gave up is late; the other's is applied and
  // the slot goes to the other again (the one down is not picked).
  server.OnMessage(host, down, Update(0, {1.f}));
  EXPECT_EQ(host.counters["fedbuff.late_updates"], 1);
  server.OnPeerDown(host, down);  // down again: its answer said it was up
  for (int i = 0; i < 5; ++i) {
    server.OnMessage(host, other, Update(static_cast<uint32_t>(i), {1.f}));
    ASSERT_EQ(host.sent.back().to, other) << "update " << i;
  }
  EXPECT_EQ(server.completed_rounds(), 5);
  server.OnPeerUp(host, down);  // the slot is taken: nothing sent yet
  EXPECT_EQ(host.sent.size(), 7u);
  server.OnPeerDown(host, other);  // the slot is free: the one back gets it
  ASSERT_EQ(host.sent.size(), 8u);
  EXPECT_EQ(host.sent.back().to, down);
  EXPECT_TRUE(host.bad_peers.empty());
}

// Three clients with measured speeds 0.1, 0.12 and 0.15 s/step and no
// network overhead. Client 0's first update opens a group expected at
// t = 1 + 10*0.1 = 2; the slower clients join it with floor(0.8/0.12) = 6
// and floor(0.5/0.15) = 3 steps; the group closes when all three arrive.
TEST(FedCompassServer, GivesFasterClientsMoreStepsSoTheyArriveTogether) {
  FedCompassServer server({0.f}, {.rounds = 100, .min_steps = 2, .max_steps = 10,
                                  .lambda = 1.5},
                          Clients(3));
  FakeHost host(PeerId(3));
  server.OnStart(host);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(LastTaskTo(host, PeerId(c)).steps, 10u);
  host.Advance(Duration::Seconds(1.0));
  server.OnMessage(host, PeerId(0), Update(0, {1.f}, 10, 1.0));
  EXPECT_EQ(server.completed_rounds(), 1);  // first updates are applied alone
  EXPECT_EQ(server.assigned_steps(PeerId(0)), 10);
  host.Advance(Duration::Seconds(0.2));
  server.OnMessage(host, PeerId(1), Update(0, {1.f}, 10, 1.2));
  EXPECT_EQ(server.assigned_steps(PeerId(1)), 6);
  host.Advance(Duration::Seconds(0.3));
  server.OnMessage(host, PeerId(2), Update(0, {1.f}, 10, 1.5));
  EXPECT_EQ(server.assigned_steps(PeerId(2)), 3);
  EXPECT_EQ(server.completed_rounds(), 3);
  EXPECT_EQ(host.counters["fedcompass.groups"], 1);
  // The group: all three arrive around t = 2; the round closes on the last.
  host.Advance(Duration::Seconds(0.45));
  server.OnMessage(host, PeerId(2), Update(3, {1.f}, 3, 0.45));
  host.Advance(Duration::Seconds(0.05));
  server.OnMessage(host, PeerId(0), Update(1, {1.f}, 10, 1.0));
  EXPECT_EQ(server.completed_rounds(), 3);
  server.OnMessage(host, PeerId(1), Update(2, {4.f}, 6, 0.72));
  ASSERT_EQ(server.completed_rounds(), 4);
  // (s + 1)^-0.5 staleness weights, one sample each, so each client's
  // share is 1/3. The singles had staleness 0, 1, 2; the group's members 2
  // (client 0), 1 (client 1), 0 (client 2).
  const double singles = (1.0 + 1.0 / std::sqrt(2.0) + 1.0 / std::sqrt(3.0)) / 3.0;
  const double group = (1.0 / std::sqrt(3.0) + 4.0 / std::sqrt(2.0) + 1.0) / 3.0;
  EXPECT_NEAR(server.global_model()[0], singles + group, 1e-5);
  EXPECT_EQ(LastTaskTo(host, PeerId(0)).version, 4u);
  EXPECT_EQ(LastTaskTo(host, PeerId(1)).version, 4u);
  EXPECT_EQ(LastTaskTo(host, PeerId(2)).version, 4u);
  EXPECT_EQ(host.counters["fedcompass.groups_closed_at_latest"], 0);
}

// Client 0 updates at t = 1, client 1 at t = 1.5 and joins its group
// with 3 steps.
void StartAndLetClient1Join(FedCompassServer& server, FakeHost& host) {
  server.OnStart(host);
  host.Advance(Duration::Seconds(1.0));
  server.OnMessage(host, PeerId(0), Update(0, {1.f}, 10, 1.0));
  host.Advance(Duration::Seconds(0.5));
  server.OnMessage(host, PeerId(1), Update(0, {1.f}, 10, 1.5));  // joins with 3 steps
  ASSERT_EQ(server.assigned_steps(PeerId(1)), 3);
}

TEST(FedCompassServer, ClosesAGroupAtItsLatestArrivalTimeWithoutStragglers) {
  FedCompassServer server({0.f}, {.rounds = 100, .min_steps = 2, .max_steps = 10,
                                  .lambda = 1.5},
                          Clients(2));
  FakeHost host(PeerId(2));
  ASSERT_NO_FATAL_FAILURE(StartAndLetClient1Join(server, host));
  ASSERT_EQ(server.completed_rounds(), 2);
  host.Advance(Duration::Seconds(0.5));
  server.OnMessage(host, PeerId(0), Update(1, {2.f}, 10, 1.0));
  EXPECT_EQ(server.completed_rounds(), 2);  // waits for client 1
  // Client 1 stalls; the group's timer (the only timer) fires at t = 2.5.
  ASSERT_EQ(host.timers.size(), 1u);
  host.Advance(Duration::Seconds(0.5));
  server.OnTimer(host, host.timers[0]);
  EXPECT_EQ(server.completed_rounds(), 3);
  EXPECT_EQ(host.counters["fedcompass.groups_closed_at_latest"], 1);
  EXPECT_EQ(host.counters["fedcompass.missed_groups"], 1);
  // Its late update is applied alone.
  host.Advance(Duration::Seconds(1.0));
  server.OnMessage(host, PeerId(1), Update(2, {1.f}, 3, 1.5));
  EXPECT_EQ(server.completed_rounds(), 4);
}

// As above, but client 1 is declared down instead of stalling: the group
// closes at once with client 0's update, not at its latest arrival time,
// and client 1 gets no task until it is up again.
TEST(FedCompassServer, ClosesAGroupAtOnceWhenItsStragglerIsDown) {
  FedCompassServer server({0.f}, {.rounds = 100, .min_steps = 2, .max_steps = 10,
                                  .lambda = 1.5},
                          Clients(2));
  FakeHost host(PeerId(2));
  ASSERT_NO_FATAL_FAILURE(StartAndLetClient1Join(server, host));
  host.Advance(Duration::Seconds(0.5));
  server.OnMessage(host, PeerId(0), Update(1, {2.f}, 10, 1.0));
  EXPECT_EQ(server.completed_rounds(), 2);  // waits for client 1
  const size_t sent = host.sent.size();
  server.OnPeerDown(host, PeerId(1));
  EXPECT_EQ(server.completed_rounds(), 3);
  EXPECT_EQ(host.counters["fedcompass.tasks_of_clients_down"], 1);
  EXPECT_EQ(host.counters.count("fedcompass.groups_closed_at_latest"), 0u);
  // Client 0 got its next task; client 1 none.
  ASSERT_EQ(host.sent.size(), sent + 1);
  EXPECT_EQ(host.sent.back().to, PeerId(0));
  server.OnPeerUp(host, PeerId(1));
  ASSERT_EQ(host.sent.size(), sent + 2);
  EXPECT_EQ(host.sent.back().to, PeerId(1));
  EXPECT_EQ(LastTaskTo(host, PeerId(1)).version, 3u);
}

// Found by async_message_fuzz under UBSan (an empty value array).
TEST(AsyncMessage, RoundTripsAnUpdateOfNoValues) {
  const std::vector<uint8_t> bytes = Update(7, {}, 2, 0.25, 5);
  Result<AsyncMessage> m = DecodeAsyncMessage(bytes, AsyncMessageKind::kUpdate, 0);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->version, 7u);
  EXPECT_EQ(m->samples, 5u);
  EXPECT_EQ(m->steps, 2u);
  EXPECT_EQ(m->compute_s, 0.25);
  EXPECT_TRUE(m->values.empty());
  EXPECT_EQ(EncodeAsyncMessage(*m), bytes);
}

TEST(AsyncMessage, RejectsCorruptFrames) {
  std::vector<uint8_t> good = Update(0, {1.f, 2.f}, 4, 0.5);
  EXPECT_TRUE(DecodeAsyncMessage(good, AsyncMessageKind::kUpdate, 2).ok());
  EXPECT_EQ(DecodeAsyncMessage(good, AsyncMessageKind::kTask, 2).status().code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(DecodeAsyncMessage(good, AsyncMessageKind::kUpdate, 3).status().code(),
            StatusCode::kCorrupt);
  std::vector<uint8_t> truncated(good.begin(), good.end() - 1);
  EXPECT_FALSE(DecodeAsyncMessage(truncated, AsyncMessageKind::kUpdate, 2).ok());
  EXPECT_EQ(DecodeAsyncMessage(Update(0, {1.f, 2.f}, 4, -1.0), AsyncMessageKind::kUpdate, 2)
                .status()
                .code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(DecodeAsyncMessage(Update(0, {1.f, NAN}, 4, 1.0), AsyncMessageKind::kUpdate, 2)
                .status()
                .code(),
            StatusCode::kCorrupt);
  EXPECT_FALSE(DecodeAsyncMessage(Update(0, {1.f, 2.f}, kMaxAsyncSteps + 1, 1.0),
                                  AsyncMessageKind::kUpdate, 2)
                   .ok());
}

}  // namespace
}  // namespace murmur::testing
