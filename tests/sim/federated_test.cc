// Seeded simulated runs of FedProx, the server optimizers, FedAsync, FedBuff
// and FedCompass: their defining properties and that each learns.
#include <gtest/gtest.h>

#include <cmath>

#include "testing/scenario.h"
#include "murmur/protocol/async_client.h"
#include "murmur/protocol/registry.h"
#include "murmur/protocol/choco.h"
#include "murmur/protocol/dfedsam.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/fedbuff.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/modest.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/fedcompass.h"
#include "murmur/protocol/fedprox.h"

namespace murmur::testing {
namespace {

ProtocolConfig Federated(const std::string& kind, int64_t rounds) {
  ProtocolConfig c;
  c.kind = kind;
  c.rounds = rounds;
  c.local_steps = 10;
  return c;
}

std::vector<float> ServerModel(const std::vector<Node*>& nodes) {
  const auto* server = dynamic_cast<const FedAvgServer*>(nodes.back());
  EXPECT_NE(server, nullptr);
  return {server->global_model().begin(), server->global_model().end()};
}

double Distance(std::span<const float> a, std::span<const float> b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(d);
}

TEST(FedProx, ZeroMuAndNoBudgetEqualsFedAvgExactly) {
  const OptimizerConfig sgd{.lr = 0.05, .momentum = 0.9};
  std::vector<Node*> nodes;
  Harness fedavg({.peers = 4, .optimizer = sgd});
  fedavg.Run(Federated("fedavg", 3), {}, 1, {.every = 1}, nullptr, &nodes);
  const std::vector<float> expected = ServerModel(nodes);
  Harness fedprox({.peers = 4, .optimizer = sgd});
  fedprox.Run(Federated("fedprox", 3), {}, 1, {.every = 1}, nullptr, &nodes);
  EXPECT_EQ(ServerModel(nodes), expected);
}

// One round from the same start: the proximal term pulls every client's
// model, and so their average, towards the global model.
TEST(FedProx, LargeMuKeepsTheRoundsModelNearTheGlobalModel) {
  auto one_round_move = [](double mu) {
    Harness h({.peers = 4, .optimizer = {.lr = 0.05}});
    const std::vector<float> start(h.learner(0).params().begin(), h.learner(0).params().end());
    ProtocolConfig c = Federated("fedprox", 1);
    MutableProtocolOptions<FedAvgConfig>(c).local_epochs = 3;
    MutableProtocolOptions<FedAvgConfig>(c).proximal_mu = mu;
    std::vector<Node*> nodes;
    h.Run(c, {}, 1, {.every = 1}, nullptr, &nodes);
    return Distance(ServerModel(nodes), start);
  };
  const double free_move = one_round_move(0.0);
  const double prox_move = one_round_move(10.0);
  EXPECT_GT(free_move, 0.1);
  EXPECT_LT(prox_move, 0.2 * free_move) << "free " << free_move << " prox " << prox_move;
}

TEST(FedProx, SlowClientsSendPartialWorkWithinTheirTimeBudget) {
  Harness h({.peers = 8});
  ProtocolConfig c = Federated("fedprox", 6);
  MutableProtocolOptions<FedAvgConfig>(c).proximal_mu = 0.01;
  MutableProtocolOptions<FedAvgConfig>(c).local_time_budget_s = 0.002;
  SimConfig sim;
  sim.device.speed_sigma = 1.0;
  std::vector<Node*> nodes;
  std::vector<EvalRow> rows = h.Run(c, sim, 1, {.every = 3}, nullptr, &nodes);
  const int64_t full = h.learner(0).shard_size() / h.learner(0).batch_size();
  int partial = 0;
  for (int i = 0; i < 8; ++i) {
    const auto* client = dynamic_cast<const FedAvgClient*>(nodes[i]);
    ASSERT_NE(client, nullptr);
    EXPECT_GE(client->last_steps(), 1);
    EXPECT_LE(client->last_steps(), full);
    if (client->last_steps() < full) ++partial;
  }
  SCOPED_TRACE(::testing::Message() << partial << " of 8 clients sent partial work");
  EXPECT_GT(partial, 0);
  EXPECT_LT(partial, 8);
  EXPECT_GT(rows.back().acc_mean, 0.8);
}

struct LearnCase {
  const char* name;
  ProtocolConfig protocol;
};

// On the non-IID task (protocols_test.cc), by a margin over local-only
// training of the same peers.
TEST(FederatedProtocols, EachLearnsTheNonIidTaskUnderHeterogeneousSpeeds) {
  ProtocolConfig adam = Federated("fedavg", 10);
  MutableProtocolOptions<FedAvgConfig>(adam).server_optimizer = {.kind = ServerOptimizerKind::kAdam, .lr = 0.05};
  ProtocolConfig yogi = Federated("fedavg", 10);
  MutableProtocolOptions<FedAvgConfig>(yogi).server_optimizer = {.kind = ServerOptimizerKind::kYogi, .lr = 0.05};
  ProtocolConfig adagrad = Federated("fedavg", 10);
  MutableProtocolOptions<FedAvgConfig>(adagrad).server_optimizer = {.kind = ServerOptimizerKind::kAdagrad, .lr = 0.05};
  ProtocolConfig avgm = Federated("fedavg", 10);
  MutableProtocolOptions<FedAvgConfig>(avgm).server_optimizer = {.kind = ServerOptimizerKind::kSgd, .lr = 1.0, .momentum = 0.5};
  ProtocolConfig fedprox = Federated("fedprox", 10);
  MutableProtocolOptions<FedAvgConfig>(fedprox).proximal_mu = 0.1;
  ProtocolConfig fedasync = Federated("fedasync", 80);
  ProtocolConfig fedbuff = Federated("fedbuff", 20);
  MutableProtocolOptions<FedBuffConfig>(fedbuff).buffer_size = 4;
  MutableProtocolOptions<FedBuffConfig>(fedbuff).max_concurrency = 6;
  ProtocolConfig fedcompass = Federated("fedcompass", 30);
  SimConfig sim;
  sim.device.speed_sigma = 1.0;
  const HarnessOptions task = NonIid({.peers = 8});
  const double local = LocalOnlyAccuracy(task, 10, 10);
  EXPECT_LT(local, 0.4);
  for (const LearnCase& c : {LearnCase{"fedadam", adam}, LearnCase{"fedyogi", yogi},
                             LearnCase{"fedadagrad", adagrad},
                             LearnCase{"fedavgm", avgm}, LearnCase{"fedprox", fedprox},
                             LearnCase{"fedasync", fedasync}, LearnCase{"fedbuff", fedbuff},
                             LearnCase{"fedcompass", fedcompass}}) {
    Harness h(task);
    std::vector<EvalRow> rows = h.Run(c.protocol, sim, 1, {.every = 10});
    ASSERT_GE(rows.size(), 2u) << c.name;
    EXPECT_EQ(rows.back().round, c.protocol.rounds) << c.name;
    EXPECT_LT(rows.front().acc_mean, 0.3) << c.name;
    EXPECT_GT(rows.back().acc_mean, 0.85) << c.name;
    EXPECT_GT(rows.back().acc_mean, local + 0.4) << c.name << ": local-only reaches " << local;
  }
}

TEST(FedCompass, ClientsArriveInGroupsUnderLogNormalSpeeds) {
  Harness h({.peers = 8});
  ProtocolConfig c = Federated("fedcompass", 40);
  c.local_steps = 20;
  MutableProtocolOptions<FedCompassConfig>(c).min_steps = 4;
  SimConfig sim;
  sim.device.speed_sigma = 1.0;
  std::vector<Node*> nodes;
  h.Run(c, sim, 1, {.every = 10}, nullptr, &nodes);
  const auto* server = dynamic_cast<const FedCompassServer*>(nodes.back());
  ASSERT_NE(server, nullptr);
  const FedCompassServer::GroupStats& stats = server->group_stats();
  ASSERT_GT(stats.closed, 10);
  SCOPED_TRACE(::testing::Message() << "closed " << stats.closed << " complete " << stats.complete
                                    << " arrivals " << stats.arrivals << " max_spread "
                                    << stats.max_spread);
  // Groups hold several clients and nearly all members make it in time.
  EXPECT_GE(static_cast<double>(stats.arrivals) / static_cast<double>(stats.closed), 2.0);
  EXPECT_GE(static_cast<double>(stats.complete) / static_cast<double>(stats.closed), 0.8);
  // Members arrive between one step of the slowest before the expected time
  // and the latest time: a spread of at most (lambda - 1) + 1/min_steps of
  // the group's span.
  EXPECT_LE(stats.max_spread, (ProtocolOptionsAs<FedCompassConfig>(c).lambda - 1) +
                                     1.0 / ProtocolOptionsAs<FedCompassConfig>(c).min_steps);
  // Faster clients are given more steps within a group, so the server
  // assigned different step counts.
  int64_t lo = c.local_steps, hi = 0;
  for (int i = 0; i < 8; ++i) {
    lo = std::min(lo, server->assigned_steps(PeerId(i)));
    hi = std::max(hi, server->assigned_steps(PeerId(i)));
  }
  EXPECT_LT(lo, hi);
}

}  // namespace
}  // namespace murmur::testing
