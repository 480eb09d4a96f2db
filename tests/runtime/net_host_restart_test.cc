// A peer restarts while its old process still holds its connection open
// (hung, or on a host that died without closing it): NetHosts on threads of
// this test over 127.0.0.1. The restarted peer's connection must replace
// the old one at once, whoever dialed which, so what is sent to its slot
// reaches it rather than the hung process, long before the failure
// detector (here 30 s) would give up on the old connection. And a peer
// the detector declared down is declared up (Node::OnPeerUp) when it
// reconnects.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "murmur/runtime/net_host.h"
#include "testing/counting_sink.h"

namespace murmur::net {
namespace {

using Clock = std::chrono::steady_clock;

// Slot 0: sends "ping" to slot 1 every 20 ms until told to stop.
class Pinger final : public Node {
 public:
  void OnStart(Host& host) override { OnTimer(host, TimerId(0)); }
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host& host, TimerId) override {
    host.Send(PeerId(1), {'p', 'i', 'n', 'g'});
    host.StartTimer(Duration::Seconds(0.02));
  }
  void OnComputeDone(Host&, uint64_t) override {}
  std::atomic<bool> stop{false};
};

// Slot 1's first process: hangs in its first message (its loop blocked,
// its socket open) until released.
class Hung final : public Node {
 public:
  void OnStart(Host&) override {}
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {
    got_one = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
  std::atomic<bool> got_one{false};
  std::atomic<bool> release{false};
};

// Slot 1 restarted: counts the pings.
class Restarted final : public Node {
 public:
  void OnStart(Host&) override {}
  void OnMessage(Host&, PeerId from, std::span<const uint8_t>) override {
    if (from == PeerId(0)) ++pings;
  }
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
  std::atomic<int> pings{0};
  std::atomic<bool> stop{false};
};

// Slot 0 of the second test: pings, and counts OnPeerDown and OnPeerUp.
class Watcher final : public Node {
 public:
  void OnStart(Host& host) override { OnTimer(host, TimerId(0)); }
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host& host, TimerId) override {
    host.Send(PeerId(1), {'p', 'i', 'n', 'g'});
    host.StartTimer(Duration::Seconds(0.02));
  }
  void OnComputeDone(Host&, uint64_t) override {}
  void OnPeerDown(Host&, PeerId peer) override {
    if (peer == PeerId(1)) ++downs;
  }
  void OnPeerUp(Host&, PeerId peer) override {
    if (peer == PeerId(1) && downs > 0) ++ups;
  }
  std::atomic<int> downs{0};
  std::atomic<int> ups{0};
  std::atomic<bool> stop{false};
};

NetOptions Options(uint32_t self) {
  NetOptions o;
  o.self = PeerId(self);
  o.num_slots = 2;
  o.peer_timeout = Duration::Seconds(30);  // the detector does not rescue it here
  o.start_timeout = Duration::Seconds(0.05);
  o.backoff_min = Duration::Seconds(0.02);
  o.shutdown_timeout = Duration::Seconds(0.5);
  return o;
}

TEST(NetHostRestart, ARestartedPeerReplacesTheConnectionOfItsHungPredecessor) {
  NetworkKey psk{};
  psk.fill(3);
  std::array<uint8_t, 32> seed{};
  seed.fill(9);
  testing::CountingSink sink_a, sink_b1, sink_b2;
  // Slot 0 dials slot 1's first process (the lower slot's connection, the
  // one duplicate resolution keeps); the restarted one dials slot 0.
  auto b1 = NetHost::Create(Options(1), {.identity = Identity::FromSeed(seed), .network_key = psk},
                            sink_b1);
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  NetOptions oa = Options(0);
  oa.bootstrap = {(*b1)->listen_address()};
  auto a = NetHost::Create(oa, {.identity = Identity::Generate(), .network_key = psk}, sink_a);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  NetOptions ob = Options(1);
  ob.bootstrap = {(*a)->listen_address()};
  Pinger pinger;
  Hung hung;
  Restarted restarted;
  std::thread ta([&] { (void)(*a)->Run(pinger, [&] { return pinger.stop.load(); }); });
  std::thread tb1([&] { (void)(*b1)->Run(hung, [&] { return hung.release.load(); }); });
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!hung.got_one && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(hung.got_one);
  // The same key and slot, a new port and a later record (records are
  // dated in milliseconds).
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto b2 = NetHost::Create(ob, {.identity = Identity::FromSeed(seed), .network_key = psk},
                            sink_b2);
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  std::thread tb2([&] { (void)(*b2)->Run(restarted, [&] { return restarted.stop.load(); }); });
  const auto restarted_at = Clock::now();
  const auto wait_until = restarted_at + std::chrono::seconds(10);
  while (restarted.pings < 3 && Clock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double seconds =
      std::chrono::duration<double>(Clock::now() - restarted_at).count();
  EXPECT_GE(restarted.pings, 3) << "the restarted peer got no pings in " << seconds << " s";
  EXPECT_EQ(sink_a.Get("net.connections_replaced_by_restart"), 1);
  EXPECT_LT(seconds, 5.0);
  restarted.stop = true;
  pinger.stop = true;
  hung.release = true;
  ta.join();
  tb1.join();
  // Its stop is only asked after an event: a timer of its own may be
  // needed if the pings stopped first.
  (*b2)->Shutdown();
  tb2.join();
}

// The failure detector declares the hung peer down (OnPeerDown, once);
// when it is back (restarted with its key and slot), the node hears
// OnPeerUp, once, and the pings reach the new process.
// With a failure detector that gives up after 0.3 s.
NetOptions QuickOptions(uint32_t self) {
  NetOptions o = Options(self);
  o.heartbeat_interval = Duration::Seconds(0.1);
  o.peer_timeout = Duration::Seconds(0.3);
  return o;
}

TEST(NetHostRestart, APeerDeclaredDownIsDeclaredUpWhenItReconnects) {
  NetworkKey psk{};
  psk.fill(4);
  std::array<uint8_t, 32> seed{};
  seed.fill(7);
  testing::CountingSink sink_a, sink_b1, sink_b2;
  auto b1 = NetHost::Create(QuickOptions(1), {.identity = Identity::FromSeed(seed), .network_key = psk},
                            sink_b1);
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  NetOptions oa = QuickOptions(0);
  oa.bootstrap = {(*b1)->listen_address()};
  auto a = NetHost::Create(oa, {.identity = Identity::Generate(), .network_key = psk}, sink_a);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Watcher watcher;
  Hung hung;
  Restarted restarted;
  std::thread ta([&] { (void)(*a)->Run(watcher, [&] { return watcher.stop.load(); }); });
  std::thread tb1([&] { (void)(*b1)->Run(hung, [&] { return hung.release.load(); }); });
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (watcher.downs == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(watcher.downs, 1) << "the hung peer was not declared down";
  EXPECT_EQ(watcher.ups, 0);
  NetOptions ob = QuickOptions(1);
  ob.bootstrap = {(*a)->listen_address()};
  auto b2 = NetHost::Create(ob, {.identity = Identity::FromSeed(seed), .network_key = psk},
                            sink_b2);
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  std::thread tb2([&] { (void)(*b2)->Run(restarted, [&] { return restarted.stop.load(); }); });
  while ((watcher.ups == 0 || restarted.pings < 3) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(watcher.ups, 1);
  EXPECT_EQ(watcher.downs, 1);
  EXPECT_GE(restarted.pings, 3);
  EXPECT_EQ(sink_a.Get("net.peers_up"), 1);
  restarted.stop = true;
  watcher.stop = true;
  hung.release = true;
  ta.join();
  tb1.join();
  (*b2)->Shutdown();
  tb2.join();
}

}  // namespace
}  // namespace murmur::net
