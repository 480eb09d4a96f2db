#include "murmur/sim/simulator.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace murmur {
namespace {

// Records what happens to it; scripted by a start action.
class ScriptedNode : public Node {
 public:
  std::function<void(Host&)> on_start;
  std::function<void(Host&, uint64_t)> on_compute_done;
  std::vector<std::pair<double, size_t>> received;  // (time, size)
  std::vector<double> timers;
  std::vector<std::pair<double, uint64_t>> computes;
  PeerId last_from;

  void OnStart(Host& host) override {
    if (on_start) on_start(host);
  }
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> m) override {
    received.emplace_back(host.now().seconds(), m.size());
    last_from = from;
  }
  void OnTimer(Host& host, TimerId) override { timers.push_back(host.now().seconds()); }
  void OnComputeDone(Host& host, uint64_t tag) override {
    computes.emplace_back(host.now().seconds(), tag);
    if (on_compute_done) on_compute_done(host, tag);
  }
};

struct World {
  explicit World(int n, SimConfig config = {}, int threads = 1) : pool(threads) {
    std::vector<std::unique_ptr<Node>> owned;
    std::vector<MetricsSink*> sinks;
    for (int i = 0; i < n; ++i) {
      auto node = std::make_unique<ScriptedNode>();
      nodes.push_back(node.get());
      owned.push_back(std::move(node));
      sinks.push_back(&sink);
    }
    this->config = config;
    owned_nodes = std::move(owned);
    this->sinks = sinks;
  }
  Simulator& Build(uint64_t seed = 1) {
    sim = std::make_unique<Simulator>(config, seed, std::move(owned_nodes), sinks, pool);
    return *sim;
  }
  ThreadPool pool;
  NullMetricsSink sink;
  SimConfig config;
  std::vector<ScriptedNode*> nodes;
  std::vector<std::unique_ptr<Node>> owned_nodes;
  std::vector<MetricsSink*> sinks;
  std::unique_ptr<Simulator> sim;
};

SimConfig Links(double latency_s, double mbps, double loss = 0) {
  SimConfig c;
  c.link = LinkConfig{.latency_s = latency_s, .bandwidth_mbps = mbps, .loss = loss};
  return c;
}

TEST(Simulator, DeliversAfterLatencyPlusTransmissionTime) {
  World w(2, Links(0.010, 8.0));  // 8 Mbit/s = 1 byte per microsecond
  w.nodes[0]->on_start = [](Host& h) { h.Send(PeerId(1), std::vector<uint8_t>(1000)); };
  Simulator& sim = w.Build();
  sim.Run(nullptr);
  ASSERT_EQ(w.nodes[1]->received.size(), 1u);
  EXPECT_NEAR(w.nodes[1]->received[0].first, 0.010 + 0.001, 1e-9);
  EXPECT_EQ(w.nodes[1]->last_from, PeerId(0));
  EXPECT_EQ(sim.stats().bytes_sent, 1000u);
  EXPECT_EQ(sim.stats().msgs_sent, 1u);
}

TEST(Simulator, QueuesMessagesOnTheSameLink) {
  World w(3, Links(0.0, 8.0));
  w.nodes[0]->on_start = [](Host& h) {
    h.Send(PeerId(1), std::vector<uint8_t>(1000));
    h.Send(PeerId(1), std::vector<uint8_t>(1000));
    h.Send(PeerId(2), std::vector<uint8_t>(1000));  // another link: no wait
  };
  w.Build().Run(nullptr);
  ASSERT_EQ(w.nodes[1]->received.size(), 2u);
  EXPECT_NEAR(w.nodes[1]->received[0].first, 0.001, 1e-9);
  EXPECT_NEAR(w.nodes[1]->received[1].first, 0.002, 1e-9);
  ASSERT_EQ(w.nodes[2]->received.size(), 1u);
  EXPECT_NEAR(w.nodes[2]->received[0].first, 0.001, 1e-9);
}

TEST(Simulator, LossDropsTheConfiguredFraction) {
  World w(2, Links(0.001, 1000, 0.3));
  w.nodes[0]->on_start = [](Host& h) {
    for (int i = 0; i < 10000; ++i) h.Send(PeerId(1), std::vector<uint8_t>(8));
  };
  Simulator& sim = w.Build();
  sim.Run(nullptr);
  const double delivered = static_cast<double>(w.nodes[1]->received.size());
  EXPECT_NEAR(delivered / 10000, 0.7, 0.02);
  EXPECT_EQ(sim.stats().msgs_lost + w.nodes[1]->received.size(), 10000u);
}

TEST(Simulator, CountsBytesReceivedAndTheBusiestPeer) {
  World w(2, Links(0.001, 1000, 0.3));
  w.nodes[0]->on_start = [](Host& h) {
    for (int i = 0; i < 1000; ++i) h.Send(PeerId(1), std::vector<uint8_t>(8));
  };
  Simulator& sim = w.Build();
  sim.Run(nullptr);
  EXPECT_EQ(sim.stats().bytes_sent, 8000u);
  // Lost messages are sent, never received.
  EXPECT_GT(sim.stats().msgs_lost, 0u);
  EXPECT_EQ(sim.stats().bytes_received, 8 * w.nodes[1]->received.size());
  EXPECT_EQ(sim.stats().bytes_received + 8 * sim.stats().msgs_lost, 8000u);
  // Peer 0 sent everything; peer 1 received less: peer 0 is the busiest.
  EXPECT_EQ(sim.stats().max_peer_bytes, 8000u);
}

// Three peers, distinct sizes per link so every figure is hand-checkable:
// 0 -> 1: 5 x 100 B, 1 -> 2: 3 x 10 B, 2 -> 0: 2 x 1 B, 1 -> 0: 1 x 1000 B.
TEST(Simulator, CountsTrafficPerPeerAndDirection) {
  World w(3, Links(0.001, 1000));
  w.nodes[0]->on_start = [](Host& h) {
    for (int i = 0; i < 5; ++i) h.Send(PeerId(1), std::vector<uint8_t>(100));
  };
  w.nodes[1]->on_start = [](Host& h) {
    for (int i = 0; i < 3; ++i) h.Send(PeerId(2), std::vector<uint8_t>(10));
    h.Send(PeerId(0), std::vector<uint8_t>(1000));
  };
  w.nodes[2]->on_start = [](Host& h) {
    for (int i = 0; i < 2; ++i) h.Send(PeerId(0), std::vector<uint8_t>(1));
  };
  Simulator& sim = w.Build();
  sim.Run(nullptr);
  const std::vector<PeerTraffic>& t = sim.stats().peers;
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].bytes_sent, 500u);
  EXPECT_EQ(t[0].msgs_sent, 5u);
  EXPECT_EQ(t[0].bytes_received, 1002u);
  EXPECT_EQ(t[0].msgs_received, 3u);
  EXPECT_EQ(t[1].bytes_sent, 1030u);
  EXPECT_EQ(t[1].msgs_sent, 4u);
  EXPECT_EQ(t[1].bytes_received, 500u);
  EXPECT_EQ(t[1].msgs_received, 5u);
  EXPECT_EQ(t[2].bytes_sent, 2u);
  EXPECT_EQ(t[2].bytes_received, 30u);
  EXPECT_EQ(t[2].msgs_received, 3u);
  EXPECT_EQ(t[0].bytes_addressed, 1002u);
  EXPECT_EQ(t[2].bytes_addressed, 30u);
  EXPECT_EQ(sim.stats().max_peer_bytes, 1530u);  // peer 1: 1030 + 500
}

// Sums over peers equal the global counters, under loss and churn too.
TEST(Simulator, PerPeerTrafficSumsToTheGlobalCounters) {
  // Slow links spread the deliveries over seconds, across churn periods.
  SimConfig c = Links(0.001, 0.01, 0.2);
  c.churn = ChurnConfig{.mean_online_s = 0.01, .mean_offline_s = 0.005};
  World w(4, c);
  for (int i = 0; i < 4; ++i) {
    w.nodes[i]->on_start = [i](Host& h) {
      for (int m = 0; m < 200; ++m) {
        h.Send(PeerId(static_cast<uint32_t>((i + 1 + m % 3) % 4)),
               std::vector<uint8_t>(static_cast<size_t>(1 + (m * 7 + i) % 50)));
      }
      h.StartTimer(Duration::Seconds(0.1));
    };
  }
  Simulator& sim = w.Build();
  sim.Run(nullptr);
  const SimStats& s = sim.stats();
  uint64_t sent = 0, received = 0, msgs_sent = 0, msgs_received = 0, addressed = 0;
  for (const PeerTraffic& t : s.peers) {
    sent += t.bytes_sent;
    received += t.bytes_received;
    msgs_sent += t.msgs_sent;
    msgs_received += t.msgs_received;
    addressed += t.bytes_addressed;
  }
  EXPECT_GT(s.msgs_lost, 0u);
  EXPECT_GT(s.msgs_offline, 0u);
  EXPECT_EQ(sent, s.bytes_sent);
  EXPECT_EQ(addressed, s.bytes_sent);
  EXPECT_EQ(received, s.bytes_received);
  EXPECT_EQ(msgs_sent, s.msgs_sent);
  size_t delivered = 0;
  for (ScriptedNode* n : w.nodes) delivered += n->received.size();
  EXPECT_EQ(msgs_received, delivered);
  EXPECT_LT(received, sent);
}

TEST(Simulator, TimersFireAtTheirVirtualTime) {
  World w(1);
  w.nodes[0]->on_start = [](Host& h) {
    h.StartTimer(Duration::Seconds(2.5));
    h.StartTimer(Duration::Seconds(0.5));
  };
  w.Build().Run(nullptr);
  EXPECT_EQ(w.nodes[0]->timers, (std::vector<double>{0.5, 2.5}));
}

TEST(Simulator, ComputeTakesFlopsOverDeviceSpeed) {
  SimConfig config;
  config.device.gflops = 2;  // 2e9 flops per second
  World w(1, config);
  int ran = 0;
  w.nodes[0]->on_start = [&ran](Host& h) {
    h.RunCompute(ComputeTask{.flops = 3e9, .work = [&ran] { ++ran; }, .tag = 7});
  };
  w.Build().Run(nullptr);
  EXPECT_EQ(ran, 1);
  ASSERT_EQ(w.nodes[0]->computes.size(), 1u);
  EXPECT_NEAR(w.nodes[0]->computes[0].first, 1.5, 1e-9);
  EXPECT_EQ(w.nodes[0]->computes[0].second, 7u);
}

TEST(Simulator, RunsConcurrentComputeInOneParallelBatch) {
  World w(8, SimConfig{}, /*threads=*/4);
  std::vector<int> results(8, 0);
  for (int i = 0; i < 8; ++i) {
    w.nodes[i]->on_start = [&results, i](Host& h) {
      h.RunCompute(ComputeTask{.flops = 1e9 * (i + 1), .work = [&results, i] { results[i] = i * i; }});
    };
  }
  Simulator& sim = w.Build();
  sim.Run(nullptr);
  EXPECT_EQ(sim.stats().compute_tasks, 8u);
  EXPECT_EQ(sim.stats().compute_batches, 1u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(results[i], i * i);
    // Completion order follows virtual durations, not execution order.
    EXPECT_NEAR(w.nodes[i]->computes[0].first, 0.1 * (i + 1), 1e-9);
  }
}

TEST(Simulator, HeterogeneousSpeedsAreLogNormalWithMeanOne) {
  SimConfig config;
  config.device.speed_sigma = 0.5;
  World w(2000, config);
  Simulator& sim = w.Build();
  double sum = 0;
  for (uint32_t i = 0; i < 2000; ++i) sum += sim.device_speed(PeerId(i));
  EXPECT_NEAR(sum / 2000, 1.0, 0.05);
  EXPECT_NE(sim.device_speed(PeerId(0)), sim.device_speed(PeerId(1)));
}

TEST(Simulator, OfflinePeersMissMessagesAndChurnFollowsItsSchedule) {
  SimConfig config = Links(0.001, 1000);
  config.churn = ChurnConfig{.mean_online_s = 1.0, .mean_offline_s = 1.0};
  World w(2, config);
  // Peer 0 sends every 10 ms for 200 s of virtual time.
  struct Pinger : ScriptedNode {
    int left = 20000;
    void OnStart(Host& h) override { h.StartTimer(Duration::Seconds(0.01)); }
    void OnTimer(Host& h, TimerId) override {
      h.Send(PeerId(1), std::vector<uint8_t>(4));
      if (--left > 0) h.StartTimer(Duration::Seconds(0.01));
    }
  };
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(std::make_unique<Pinger>());
  auto receiver = std::make_unique<ScriptedNode>();
  ScriptedNode* r = receiver.get();
  nodes.push_back(std::move(receiver));
  NullMetricsSink sink;
  ThreadPool pool(1);
  Simulator sim(config, 5, std::move(nodes), {&sink, &sink}, pool);
  sim.Run(nullptr);
  // Each end is online half the time, independently: ~1/4 get through.
  const double fraction = static_cast<double>(r->received.size()) / 20000;
  EXPECT_GT(fraction, 0.15);
  EXPECT_LT(fraction, 0.35);
  EXPECT_GT(sim.stats().msgs_offline, 0u);
}

TEST(Simulator, SameSeedGivesSameEventTimes) {
  auto run = [](uint64_t seed) {
    SimConfig config = Links(0.001, 100, 0.2);
    World w(4, config);
    for (int i = 0; i < 4; ++i) {
      w.nodes[i]->on_start = [i](Host& h) {
        for (int k = 0; k < 50; ++k) {
          h.Send(PeerId(h.rng().UniformInt(4)), std::vector<uint8_t>(100 + i));
        }
      };
    }
    w.Build(seed).Run(nullptr);
    std::vector<std::pair<double, size_t>> all;
    for (auto* n : w.nodes) all.insert(all.end(), n->received.begin(), n->received.end());
    return all;
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
}

}  // namespace
}  // namespace murmur

namespace murmur {
namespace {

TEST(Simulator, CrashStopsTheConfiguredShareOfPeersForGood) {
  SimConfig config = Links(0.001, 1000);
  config.crash = CrashConfig{.fraction = 0.75, .at_s = 1.0};
  World w(8, config);
  // Every peer runs a timer every 0.1 s for 3 s and sends to peer 0 each
  // time: crashed peers stop at 1 s, their timers and messages with them.
  struct Ticker : ScriptedNode {
    int left = 30;
    void OnStart(Host& h) override { h.StartTimer(Duration::Seconds(0.1)); }
    void OnTimer(Host& h, TimerId) override {
      timers.push_back(h.now().seconds());
      if (h.self() != PeerId(0)) h.Send(PeerId(0), std::vector<uint8_t>(4));
      if (--left > 0) h.StartTimer(Duration::Seconds(0.1));
    }
  };
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<Ticker*> tickers;
  for (int i = 0; i < 8; ++i) {
    auto t = std::make_unique<Ticker>();
    tickers.push_back(t.get());
    nodes.push_back(std::move(t));
  }
  NullMetricsSink sink;
  ThreadPool pool(1);
  Simulator sim(config, 3, std::move(nodes), std::vector<MetricsSink*>(8, &sink), pool);
  sim.Run(nullptr);
  EXPECT_EQ(sim.stats().crashed_peers, 6u);
  int crashed = 0;
  for (int i = 0; i < 8; ++i) {
    const Ticker& t = *tickers[i];
    if (!sim.online(PeerId(static_cast<uint32_t>(i)))) {
      ++crashed;
      EXPECT_LE(t.timers.back(), 1.0 + 1e-9) << "peer " << i;
    } else {
      EXPECT_EQ(t.timers.size(), 30u) << "peer " << i;
    }
  }
  EXPECT_EQ(crashed, 6);
}

}  // namespace
}  // namespace murmur
