// A link of several TCP streams (NetOptions::streams, net_host_streams.cc)
// at its edges: a peer that stops before its link's data streams are open,
// a partner that stops or vanishes while they are. Two NetHosts in this
// process over 127.0.0.1.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "murmur/runtime/net_host.h"
#include "runtime/link_streams_setup.h"
#include "testing/counting_sink.h"

namespace murmur::net {
namespace {

using testing::StreamOptions;
using testing::StreamSecurity;

std::vector<uint8_t> Message(size_t i) {
  return std::vector<uint8_t>(100 + i * 1000, static_cast<uint8_t>(i + 1));
}

// Sends `count` messages to the other slot at start and asks to stop at
// once: its link's data streams are still being dialed.
class SendAndStop final : public Node {
 public:
  explicit SendAndStop(size_t count) : count_(count) {}
  void OnStart(Host& host) override {
    for (size_t i = 0; i < count_; ++i) host.Send(PeerId(1 - host.self().value), Message(i));
    sent_ = true;
  }
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
  const size_t count_;
  std::atomic<bool> sent_{false};
};

// Keeps what it gets; ticks so that its host looks at its stop predicate.
class Keeper final : public Node {
 public:
  void OnStart(Host& host) override { host.StartTimer(Duration::Seconds(0.01)); }
  void OnMessage(Host&, PeerId, std::span<const uint8_t> m) override {
    received_.emplace_back(m.begin(), m.end());
    count_ = received_.size();
  }
  void OnTimer(Host& host, TimerId) override { host.StartTimer(Duration::Seconds(0.01)); }
  void OnComputeDone(Host&, uint64_t) override {}
  std::vector<std::vector<uint8_t>> received_;
  std::atomic<size_t> count_{0};
};

// The messages a peer sent before it stopped are delivered whole, in order,
// and then its one Bye: before, the Bye went on the control stream at
// once, was read first, and the messages were dropped.
TEST(LinkStreamsShutdown, MessagesQueuedBeforeTheDataStreamsOpenSurviveAnImmediateStop) {
  constexpr size_t kCount = 5;
  testing::CountingSink sa, sb;
  auto b = NetHost::Create(StreamOptions(1, 3), StreamSecurity(), sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  NetOptions oa = StreamOptions(0, 3);
  oa.bootstrap = {(*b)->listen_address()};
  auto a = NetHost::Create(oa, StreamSecurity(), sa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  SendAndStop na(kCount);
  Keeper nb;
  std::atomic<bool> a_done{false};
  std::thread tb([&] {
    (void)(*b)->Run(nb, [&] { return nb.count_ == kCount || a_done.load(); });
  });
  const auto start = std::chrono::steady_clock::now();
  (void)(*a)->Run(na, [&] { return na.sent_.load(); });
  const double a_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  a_done = true;
  tb.join();
  ASSERT_EQ(nb.received_.size(), kCount);
  for (size_t i = 0; i < kCount; ++i) EXPECT_TRUE(nb.received_[i] == Message(i)) << i;
  EXPECT_EQ(sb.Get("net.peers_down"), 0);
  EXPECT_EQ(sb.Get("net.rejected.unexpected_frame"), 0);
  // A stopped as soon as its Bye was out, not at its shutdown deadline.
  EXPECT_LT(a_seconds, NetOptions{}.shutdown_timeout.seconds());
}

// The same on the accepting side: slot 1 (which slot 0 dials, so which
// waits for slot 0 to dial the data streams) sends and stops at once. Its
// messages, then its Bye, go out on the data streams once they open;
// before, it closed its listener at the stop, refused the streams still in
// their handshake and sent its Bye on stream 0 at once, and none arrived.
TEST(LinkStreamsShutdown, AcceptorsMessagesQueuedBeforeTheDataStreamsOpenSurviveAnImmediateStop) {
  constexpr size_t kCount = 5;
  testing::CountingSink sa, sb;
  SendAndStop nb(kCount);
  Keeper na;
  auto b = NetHost::Create(StreamOptions(1, 3), StreamSecurity(), sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  NetOptions oa = StreamOptions(0, 3);
  oa.bootstrap = {(*b)->listen_address()};
  auto a = NetHost::Create(oa, StreamSecurity(), sa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::atomic<bool> b_done{false};
  std::thread ta([&] {
    (void)(*a)->Run(na, [&] { return na.count_ == kCount || b_done.load(); });
  });
  const auto start = std::chrono::steady_clock::now();
  (void)(*b)->Run(nb, [&] { return nb.sent_.load(); });
  const double b_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  b_done = true;
  ta.join();
  ASSERT_EQ(na.received_.size(), kCount);
  for (size_t i = 0; i < kCount; ++i) EXPECT_TRUE(na.received_[i] == Message(i)) << i;
  EXPECT_EQ(sa.Get("net.peers_down"), 0);
  EXPECT_EQ(sa.Get("net.rejected.unexpected_frame"), 0);
  EXPECT_EQ((*b)->stats().handshakes, 3u);
  EXPECT_LT(b_seconds, NetOptions{}.shutdown_timeout.seconds());
}

// Runs until `stop`, ticking so that its host looks at the predicate.
class Idler final : public Node {
 public:
  void OnStart(Host& host) override { host.StartTimer(Duration::Seconds(0.01)); }
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host& host, TimerId) override { host.StartTimer(Duration::Seconds(0.01)); }
  void OnComputeDone(Host&, uint64_t) override {}
};

// Slot 1 admits one handshake from 127.0.0.1 (its rate limit), so slot 0's
// link gets its control stream and never a data stream. Before, the link
// stayed up on its heartbeats, retrying the streams every backoff_min;
// now it must be ready within peer_timeout, else it goes down (OnPeerDown,
// the usual redial), and the stream dials back off.
TEST(LinkStreamsShutdown, ALinkWhoseDataStreamsNeverOpenGoesDownWithinPeerTimeout) {
  testing::CountingSink sa, sb;
  NetOptions ob = StreamOptions(1, 3);
  ob.admission.handshake_burst = 1;
  ob.admission.handshake_interval = Duration::Seconds(1000);
  ob.peer_timeout = Duration::Seconds(0.6);
  ob.heartbeat_interval = Duration::Seconds(0.05);
  auto b = NetHost::Create(ob, StreamSecurity(), sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  NetOptions oa = StreamOptions(0, 3);
  oa.bootstrap = {(*b)->listen_address()};
  oa.peer_timeout = Duration::Seconds(0.6);
  oa.heartbeat_interval = Duration::Seconds(0.05);
  auto a = NetHost::Create(oa, StreamSecurity(), sa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::atomic<bool> stop{false};
  Idler na, nb;
  std::thread tb([&] { (void)(*b)->Run(nb, [&] { return stop.load(); }); });
  std::thread ta([&] { (void)(*a)->Run(na, [&] { return stop.load(); }); });
  const bool down = sa.WaitFor("net.peers_down", 1);
  stop = true;
  ta.join();
  tb.join();
  ASSERT_TRUE(down) << "the link stayed up without its data streams";
  EXPECT_GE(sa.Get("net.streams_timeouts") + sb.Get("net.streams_timeouts"), 1);
  // Two streams, each retried at 0.02, 0.04, 0.08, ... s within 0.6 s:
  // at most 5 dials each, plus the first stream's; every backoff_min
  // it would be about 60.
  EXPECT_LE((*a)->stats().dials, 14u);
  EXPECT_EQ((*a)->stats().handshakes, 1u);
}

// Slot 1 refuses slot 0's data streams (as above) and neither end's
// peer_timeout comes into it: slot 0 sends a message, stops, waits its
// shutdown_timeout for the streams, and goes, ending its control stream
// without a Bye. Slot 1's link never carried data, so it closes at once;
// before, stream 0 ignored the end and slot 1 waited for its next write
// to find the reset (a heartbeat, 30 s here) or for peer_timeout.
TEST(LinkStreamsShutdown, APartnerEndingTheControlStreamOfALinkNotReadyIsGoneAtOnce) {
  testing::CountingSink sa, sb;
  NetOptions ob = StreamOptions(1, 3);
  ob.admission.handshake_burst = 1;
  ob.admission.handshake_interval = Duration::Seconds(1000);
  ob.peer_timeout = Duration::Seconds(60);
  ob.heartbeat_interval = Duration::Seconds(30);  // no write finds the reset
  auto b = NetHost::Create(ob, StreamSecurity(), sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  NetOptions oa = StreamOptions(0, 3);
  oa.bootstrap = {(*b)->listen_address()};
  oa.peer_timeout = Duration::Seconds(60);
  oa.heartbeat_interval = Duration::Seconds(0.05);
  oa.shutdown_timeout = Duration::Seconds(0.3);
  auto a = NetHost::Create(oa, StreamSecurity(), sa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::atomic<bool> stop{false};
  Idler nb;
  std::thread tb([&] { (void)(*b)->Run(nb, [&] { return stop.load(); }); });
  SendAndStop na(1);
  (void)(*a)->Run(na, [&] { return na.sent_.load(); });
  a->reset();  // its sockets close: the peer reads the end of stream 0
  const auto ended = std::chrono::steady_clock::now();
  const bool gone = sb.WaitFor("net.peers_down", 1);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - ended).count();
  stop = true;
  tb.join();
  ASSERT_TRUE(gone) << "slot 1 still holds the link";
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ((*b)->stats().handshakes, 1u);
}

}  // namespace
}  // namespace murmur::net
