// Control frames (heartbeats, membership) against a backlog of bulk data on
// one link: two NetHosts in this process over 127.0.0.1. On a single FIFO
// send queue a heartbeat waited behind every queued message (and was not
// even sent while the queue was busy), so the failure detector's messages
// could be delayed past its timeout by a large all-reduce backlog.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "murmur/runtime/frame.h"
#include "murmur/runtime/net_host.h"
#include "testing/counting_sink.h"

namespace murmur::net {
namespace {

// Message i of the backlog: mostly 3.5 chunks (three DataParts and a Data
// frame, so a heartbeat can land inside a chunked message), every fourth a
// few bytes (a small data message must not overtake the large ones).
std::vector<uint8_t> BacklogMessage(size_t i) {
  const size_t size = i % 4 == 3 ? i + 1 : kDataChunk * 7 / 2 + i;
  std::vector<uint8_t> m(size);
  for (size_t k = 0; k < size; ++k) m[k] = static_cast<uint8_t>(i * 7 + k * 131 + (k >> 20));
  return m;
}

// Queues the whole backlog to peer 1 at start, then stays up (heartbeats
// only go out while the host runs) until `done` is set.
class BacklogSender final : public Node {
 public:
  BacklogSender(size_t count, const std::atomic<bool>& done) : count_(count), done_(done) {}
  void OnStart(Host& host) override {
    for (size_t i = 0; i < count_; ++i) host.Send(PeerId(1), BacklogMessage(i));
    host.StartTimer(Duration::Seconds(0.005));
  }
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host& host, TimerId) override {
    if (!done_) host.StartTimer(Duration::Seconds(0.005));
  }
  void OnComputeDone(Host&, uint64_t) override {}

 private:
  const size_t count_;
  const std::atomic<bool>& done_;
};

// Keeps every message and the heartbeats counted when it arrived.
class BacklogReceiver final : public Node {
 public:
  explicit BacklogReceiver(size_t count) : count_(count) {}
  void OnStart(Host&) override {}
  void OnMessage(Host& host, PeerId, std::span<const uint8_t> m) override {
    messages_.emplace_back(m.begin(), m.end());
    heartbeats_at_.push_back(static_cast<NetHost&>(host).stats().heartbeats_received);
    if (messages_.size() == count_) done_ = true;
  }
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}

  const size_t count_;
  std::vector<std::vector<uint8_t>> messages_;
  std::vector<uint64_t> heartbeats_at_;  // heartbeats_received when message i arrived
  std::atomic<bool> done_{false};
};

NetOptions BacklogOptions(uint32_t self, uint8_t streams) {
  NetOptions o;
  o.streams = streams;
  o.self = PeerId(self);
  o.num_slots = 2;
  o.start_timeout = Duration::Seconds(30);
  o.heartbeat_interval = Duration::Seconds(0.002);
  return o;
}

// 28 messages, about 74 MiB, queued at once: heartbeats must reach the
// receiver while the first half of them is still arriving, and every data
// message must arrive whole and in the order sent. With one stream per
// link the control queue goes first; with several, the control stream
// carries no data at all.
void ExpectHeartbeatsCrossABacklog(uint8_t streams) {
  constexpr size_t kCount = 28;
  testing::CountingSink sa, sb;
  NetworkKey psk{};
  psk.fill(3);
  auto b = NetHost::Create(BacklogOptions(1, streams), NetSecurity{.identity = Identity::Generate(),
                                                          .network_key = psk}, sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  NetOptions oa = BacklogOptions(0, streams);
  oa.bootstrap = {(*b)->listen_address()};
  auto a = NetHost::Create(oa, NetSecurity{.identity = Identity::Generate(), .network_key = psk},
                           sa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  BacklogReceiver receiver(kCount);
  BacklogSender sender(kCount, receiver.done_);
  std::thread tb([&] { (void)(*b)->Run(receiver, [&] { return receiver.done_.load(); }); });
  (void)(*a)->Run(sender, [&] { return receiver.done_.load(); });
  tb.join();
  ASSERT_EQ(receiver.messages_.size(), kCount);
  for (size_t i = 0; i < kCount; ++i) {
    EXPECT_TRUE(receiver.messages_[i] == BacklogMessage(i)) << "message " << i;
  }
  // Every heartbeat counted after message 0 was sent after the whole
  // backlog was queued (a heartbeat sent before it arrives before message
  // 0 on the same connection).
  const uint64_t during = receiver.heartbeats_at_[kCount / 2] - receiver.heartbeats_at_[0];
  ::testing::Test::RecordProperty("heartbeats_during_first_half", static_cast<int>(during));
  EXPECT_GE(during, 1u) << "no heartbeat crossed the first half of the backlog (heartbeats "
                        << receiver.heartbeats_at_[0] << " at message 0, "
                        << receiver.heartbeats_at_[kCount - 1] << " at the last)";
  EXPECT_EQ(sa.Get("net.peers_down"), 0);
  EXPECT_EQ(sb.Get("net.peers_down"), 0);
  EXPECT_EQ((*a)->stats().send_dropped, 0u);
}

TEST(ControlPriority, HeartbeatsCrossABacklogOfBulkDataWhichKeepsItsOrder) {
  ExpectHeartbeatsCrossABacklog(1);
}

TEST(ControlPriority, HeartbeatsCrossABacklogOnTheirOwnStream) {
  ExpectHeartbeatsCrossABacklog(3);
}

}  // namespace
}  // namespace murmur::net
