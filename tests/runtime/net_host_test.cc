// NetHost in one process: hosts on threads of this test, connected over
// 127.0.0.1 with kernel-assigned ports, running small test nodes. Also run
// under ASan+UBSan by scripts/test.sh.
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/net_host.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <optional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "murmur/core/log.h"
#include "murmur/runtime/frame.h"
#include "murmur/runtime/secret_rng.h"
#include "runtime/shm_channel.h"
#include "testing/counting_sink.h"
#include "testing/flooder.h"
#include "testing/socket_probe.h"

namespace murmur::net {
namespace {

// Sends "hello i->j" to every other peer, then one compute task, then
// waits for everyone's hello and for a timer.
class GreeterNode final : public Node {
 public:
  explicit GreeterNode(uint32_t n) : n_(n) {}
  void OnStart(Host& host) override {
    for (uint32_t j = 0; j < n_; ++j) {
      if (j == host.self().value) continue;
      const std::string text = "hello " + std::to_string(host.self().value) + "->" +
                               std::to_string(j);
      host.Send(PeerId(j), std::vector<uint8_t>(text.begin(), text.end()));
    }
    host.RunCompute(ComputeTask{.work = [this] { computed_ = 41 + 1; }, .tag = 7});
    timer_ = host.StartTimer(Duration::Seconds(0.01));
  }
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> m) override {
    received_[from.value] = std::string(m.begin(), m.end());
  }
  void OnTimer(Host&, TimerId id) override { timer_fired_ = id == timer_; }
  void OnComputeDone(Host&, uint64_t tag) override { compute_tag_ = tag; }
  bool done() const {
    return received_.size() == n_ - 1 && timer_fired_ && compute_tag_ == 7;
  }

  const uint32_t n_;
  std::map<uint32_t, std::string> received_;
  TimerId timer_;
  bool timer_fired_ = false;
  uint64_t compute_tag_ = 0;
  int computed_ = 0;
};

NetOptions Options(uint32_t self, uint32_t n) {
  NetOptions o;
  o.self = PeerId(self);
  o.num_slots = n;
  o.start_timeout = Duration::Seconds(30);
  o.backoff_min = Duration::Seconds(0.02);
  return o;
}

// Connections `host` closed for `reason` (NetStats::rejected).
int64_t Rejected(const NetHost& host, const std::string& reason) {
  const auto& rejected = host.stats().rejected;
  auto it = rejected.find(reason);
  return it == rejected.end() ? 0 : it->second;
}

NetSecurity Security(const NetworkKey& psk) {
  return NetSecurity{.identity = Identity::Generate(), .network_key = psk};
}

TEST(NetHost, ThreePeersFormAMeshAndExchangeMessages) {
  NetworkKey psk{};
  psk.fill(1);
  constexpr uint32_t n = 3;
  std::vector<testing::CountingSink> sinks(n);
  std::vector<std::unique_ptr<NetHost>> hosts;
  for (uint32_t i = 0; i < n; ++i) {
    NetOptions o = Options(i, n);
    // Only slot 0's address is given; 1 and 2 find each other through it.
    if (i > 0) o.bootstrap = {hosts[0]->listen_address()};
    Result<std::unique_ptr<NetHost>> h = NetHost::Create(o, Security(psk), sinks[i]);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    hosts.push_back(std::move(h).value());
  }
  std::vector<GreeterNode> nodes(n, GreeterNode(n));
  std::vector<std::thread> threads;
  std::vector<Status> results(n);
  for (uint32_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      results[i] = hosts[i]->Run(nodes[i], [&, i] { return nodes[i].done(); });
    });
  }
  for (auto& t : threads) t.join();
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_TRUE(results[i].ok()) << results[i].ToString();
    ASSERT_TRUE(nodes[i].done()) << "peer " << i;
    EXPECT_EQ(nodes[i].computed_, 42);
    for (uint32_t j = 0; j < n; ++j) {
      if (j == i) continue;
      EXPECT_EQ(nodes[i].received_[j], "hello " + std::to_string(j) + "->" + std::to_string(i));
    }
    EXPECT_EQ(hosts[i]->stats().msgs_sent, n - 1);
    EXPECT_EQ(hosts[i]->stats().bytes_sent, (n - 1) * 10u);  // "hello i->j"
    EXPECT_EQ(hosts[i]->stats().send_dropped, 0u);
    EXPECT_EQ(sinks[i].Get("net.peers_down"), 0);
  }
  // 1 and 2 never had each other's address: membership exchange gave it.
  EXPECT_EQ(nodes[2].received_[1], "hello 1->2");
}

// Sends one large message (several chunks) and a small one after it.
class BulkSender final : public Node {
 public:
  explicit BulkSender(std::vector<uint8_t> big) : big_(std::move(big)) {}
  void OnStart(Host& host) override {
    host.Send(PeerId(1), big_);
    host.Send(PeerId(1), {1, 2, 3});
    sent_ = true;
  }
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
  std::vector<uint8_t> big_;
  bool sent_ = false;
};

class Collector final : public Node {
 public:
  void OnStart(Host&) override {}
  void OnMessage(Host&, PeerId, std::span<const uint8_t> m) override {
    messages_.emplace_back(m.begin(), m.end());
  }
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
  std::vector<std::vector<uint8_t>> messages_;
};

// Peer 1 listening and peer 0 bootstrapped to it, both with `ring` bytes
// of shared-memory ring (0: TCP only) and the other options as Options().
struct TwoHosts {
  testing::CountingSink sa, sb;
  std::unique_ptr<NetHost> a, b;
};

void MakeTwoHosts(size_t ring, TwoHosts& h) {
  NetOptions ob = Options(1, 2);
  ob.shm_ring_bytes = ring;
  auto b = NetHost::Create(ob, Security(NetworkKey{}), h.sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  h.b = std::move(b).value();
  NetOptions oa = Options(0, 2);
  oa.shm_ring_bytes = ring;
  oa.bootstrap = {h.b->listen_address()};
  auto a = NetHost::Create(oa, Security(NetworkKey{}), h.sa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  h.a = std::move(a).value();
}

// Over TCP, and over shared memory (the default between two hosts on
// 127.0.0.1; NetOptions::shm_ring_bytes), where a 1 MiB chunk is 16 of
// the 64 KiB rings used here.
TEST(NetHost, LargeMessagesArriveWholeAndInOrder) {
  // 3.5 chunks: three DataPart frames and a final Data frame.
  std::vector<uint8_t> big(kDataChunk * 7 / 2);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 131 + (i >> 20));
  for (const size_t ring : {size_t{0}, kMinShmRingBytes}) {
    SCOPED_TRACE("shm_ring_bytes " + std::to_string(ring));
    TwoHosts h;
    ASSERT_NO_FATAL_FAILURE(MakeTwoHosts(ring, h));
    NetHost* const a = h.a.get();
    NetHost* const b = h.b.get();
    BulkSender sender(big);
    Collector collector;
    std::thread tb([&] {
      (void)b->Run(collector, [&] { return collector.messages_.size() == 2; });
    });
    (void)a->Run(sender, [&] { return sender.sent_; });
    tb.join();
    ASSERT_EQ(collector.messages_.size(), 2u);
    EXPECT_TRUE(collector.messages_[0] == big);
    EXPECT_EQ(collector.messages_[1], (std::vector<uint8_t>{1, 2, 3}));
    // Four data frames, each with a 12-byte header and a 16-byte tag (a
    // MAC over TCP, zeros in shared memory).
    EXPECT_GE(a->stats().wire_bytes_sent, big.size() + 3 + 4 * 28 + 28);
    // The frames may switch to shared memory anywhere in the stream (the
    // set-up runs beside the first frames; see the next test).
    if (ring == 0) EXPECT_EQ(a->stats().shm_links + b->stats().shm_links, 0u);
    EXPECT_EQ(a->stats().shm_failures + b->stats().shm_failures, 0u);
  }
}

// Peer 0 pings peer 1 until its connection's frames go through shared
// memory, then sends a message of 3.5 chunks and "end" (so they travel
// the rings, whose 64 KiB they exceed many times over).
class ShmProbe final : public Node {
 public:
  ShmProbe(const NetHost* const* host, std::vector<uint8_t> big) : host_(host), big_(std::move(big)) {}
  void OnStart(Host& host) override {
    if (host.self() == PeerId(0)) host.Send(PeerId(1), {'p'});
  }
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> m) override {
    if (host.self() == PeerId(1)) {
      if (m.size() == 1 && m[0] == 'p') {
        host.Send(from, {'p'});
      } else {
        got_.emplace_back(m.begin(), m.end());
      }
      return;
    }
    ++pings_;
    if ((*host_)->stats().shm_links == 0 && pings_ < 100000) {
      host.Send(from, {'p'});
      return;
    }
    host.Send(from, big_);
    host.Send(from, {'e', 'n', 'd'});
    sent_ = true;
  }
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}

  const NetHost* const* host_;
  std::vector<uint8_t> big_;
  int pings_ = 0;
  bool sent_ = false;
  std::vector<std::vector<uint8_t>> got_;
};

TEST(NetHost, PeersOnOneHostMoveToSharedMemoryAndCarryLargeMessagesThere) {
  std::vector<uint8_t> big(kDataChunk * 7 / 2);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 29 + (i >> 18));
  TwoHosts h;
  ASSERT_NO_FATAL_FAILURE(MakeTwoHosts(kMinShmRingBytes, h));
  NetHost* const a = h.a.get();
  NetHost* const b = h.b.get();
  const NetHost* host_a = a;
  ShmProbe sender(&host_a, big), receiver(nullptr, {});
  std::thread tb([&] { (void)b->Run(receiver, [&] { return receiver.got_.size() == 2; }); });
  (void)a->Run(sender, [&] { return sender.sent_; });
  tb.join();
  ASSERT_EQ(receiver.got_.size(), 2u);
  EXPECT_TRUE(receiver.got_[0] == big);
  EXPECT_EQ(receiver.got_[1], (std::vector<uint8_t>{'e', 'n', 'd'}));
  // The dialer's set-up ends after the acceptor's: both moved.
  EXPECT_EQ(a->stats().shm_links, 1u);
  EXPECT_EQ(b->stats().shm_links, 1u);
  EXPECT_LT(sender.pings_, 100000);
}

// With room for one shared-memory link per host, a mesh of three still
// exchanges everything, the other links over TCP.
TEST(NetHost, SharedMemoryLinksStayWithinTheHostsBudget) {
  constexpr uint32_t n = 3;
  std::vector<testing::CountingSink> sinks(n);
  std::vector<std::unique_ptr<NetHost>> hosts;
  for (uint32_t i = 0; i < n; ++i) {
    NetOptions o = Options(i, n);
    o.shm_max_links = 1;
    if (i > 0) o.bootstrap = {hosts[0]->listen_address()};
    Result<std::unique_ptr<NetHost>> h = NetHost::Create(o, Security(NetworkKey{}), sinks[i]);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    hosts.push_back(std::move(h).value());
  }
  std::vector<GreeterNode> nodes(n, GreeterNode(n));
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] { (void)hosts[i]->Run(nodes[i], [&, i] { return nodes[i].done(); }); });
  }
  for (auto& t : threads) t.join();
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_TRUE(nodes[i].done()) << "peer " << i;
    // A dialer that finds the acceptor's budget spent keeps TCP (counted
    // as a failed set-up).
    EXPECT_LE(hosts[i]->stats().shm_links, 1u) << "peer " << i;
  }
}

// One end keeps TCP only: the other's offer lapses, and everything still
// arrives over TCP.
TEST(NetHost, APeerThatKeepsTcpIgnoresTheSharedMemoryOffer) {
  testing::CountingSink sa, sb;
  NetOptions ob = Options(1, 2);  // the acceptor offers
  auto b = NetHost::Create(ob, Security(NetworkKey{}), sb);
  ASSERT_TRUE(b.ok());
  NetOptions oa = Options(0, 2);
  oa.shm_ring_bytes = 0;
  oa.bootstrap = {(*b)->listen_address()};
  auto a = NetHost::Create(oa, Security(NetworkKey{}), sa);
  ASSERT_TRUE(a.ok());
  std::vector<uint8_t> big(kDataChunk + 5, 7);
  BulkSender sender(big);
  Collector collector;
  std::thread tb([&] {
    (void)(*b)->Run(collector, [&] { return collector.messages_.size() == 2; });
  });
  (void)(*a)->Run(sender, [&] { return sender.sent_; });
  tb.join();
  ASSERT_EQ(collector.messages_.size(), 2u);
  EXPECT_TRUE(collector.messages_[0] == big);
  EXPECT_EQ((*a)->stats().shm_links + (*b)->stats().shm_links, 0u);
  EXPECT_EQ((*a)->stats().shm_failures + (*b)->stats().shm_failures, 0u);
}

using murmur::testing::AfterSend;
using murmur::testing::SendAndAwaitClose;

class IdleNode final : public Node {
 public:
  void OnStart(Host&) override {}
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
};

// Every peer of a run knows the seed, so what a DP guarantee rests on must
// come from elsewhere: two hosts made from identical options replay the same
// protocol stream (the run seed's), but their privacy streams differ from
// each other and from every seeded stream of the run.
TEST(NetHost, PrivacyStreamIsSecretWhileTheProtocolStreamReplaysTheSeed) {
  constexpr uint64_t kSeed = 7;
  auto words = [](Rng rng) {
    std::vector<uint32_t> out(8);
    for (uint32_t& w : out) w = rng.NextU32();
    return out;
  };
  testing::CountingSink sa, sb;
  NetOptions o = Options(0, 2);
  o.seed = kSeed;
  auto a = NetHost::Create(o, Security(NetworkKey{}), sa);
  auto b = NetHost::Create(o, Security(NetworkKey{}), sb);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::vector<uint32_t> seeded = words(Rng(kSeed, PeerId(0), RngPurpose::kProtocol));
  EXPECT_EQ(words((*a)->rng()), seeded);
  EXPECT_EQ(words((*b)->rng()), seeded);
  const std::vector<uint32_t> pa = words((*a)->privacy_rng());
  const std::vector<uint32_t> pb = words((*b)->privacy_rng());
  EXPECT_NE(pa, pb);
  // Not any stream of the run's seed either (peers 0..1, every purpose, and
  // DP-SGD's sub-streams of the batch stream).
  for (uint32_t peer : {0u, 1u}) {
    for (uint32_t purpose = 1; purpose <= 100; ++purpose) {
      const std::vector<uint32_t> run =
          words(Rng(kSeed, PeerId(peer), static_cast<RngPurpose>(purpose)));
      EXPECT_NE(pa, run) << peer << " " << purpose;
      EXPECT_NE(pb, run) << peer << " " << purpose;
    }
    for (uint64_t step : {1, 2}) {
      EXPECT_NE(pa, words(Rng::ForStep(kSeed, PeerId(peer), RngPurpose::kBatch, step)));
    }
  }
  EXPECT_NE(words(SecretRng()), words(SecretRng()));
}

TEST(NetHost, HostileConnectionsAreClosedAndCounted) {
  testing::CountingSink sink;
  NetOptions o = Options(0, 2);
  o.handshake_timeout = Duration::Seconds(0.3);
  Result<std::unique_ptr<NetHost>> host = NetHost::Create(o, Security(NetworkKey{}), sink);
  ASSERT_TRUE(host.ok());
  IdleNode node;
  std::thread loop([&] { (void)(*host)->Run(node, nullptr); });
  const std::string addr = (*host)->listen_address();
  const std::string http = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_TRUE(SendAndAwaitClose(addr, std::vector<uint8_t>(http.begin(), http.end())));
  EXPECT_TRUE(SendAndAwaitClose(addr, {'M', 'R', 'M', 'R', 1, 3, 0, 0, 0xff, 0xff, 0xff, 0x7f}));
  EXPECT_TRUE(SendAndAwaitClose(addr, {'M', 'R', 'M', 'R', kWireVersion, 1, 0, 0, 64, 0, 0}));  // then silence
  (*host)->Shutdown();
  loop.join();
  EXPECT_EQ(sink.Get("net.rejected.bad_header"), 2);
  EXPECT_EQ(sink.Get("net.rejected.handshake_timeout"), 1);
  EXPECT_EQ((*host)->stats().handshakes, 0u);
}

TEST(NetHost, StrangerAnnouncingAHugeFrameIsCutOffBeforeAnyAllocation) {
  // 200 MiB is within max_message_bytes (256 MiB), so only the connection's
  // phase can refuse it; the handshake timeout is far beyond the wait in
  // SendAndAwaitClose, so a close means the header alone decided.
  testing::CountingSink sink;
  NetOptions o = Options(0, 2);
  o.handshake_timeout = Duration::Seconds(120);
  Result<std::unique_ptr<NetHost>> host = NetHost::Create(o, Security(NetworkKey{}), sink);
  ASSERT_TRUE(host.ok());
  IdleNode node;
  std::thread loop([&] { (void)(*host)->Run(node, nullptr); });
  const std::string addr = (*host)->listen_address();
  const auto data = EncodeFrameHeader({.type = FrameType::kData, .length = 200u << 20});
  EXPECT_TRUE(SendAndAwaitClose(addr, std::vector<uint8_t>(data.begin(), data.end())));
  // The same after a valid Hello (its mac1 under the network key): the
  // next frame must be an Auth.
  const Identity stranger = Identity::Generate();
  const Allowlist open;
  const Handshake dialer({.identity = &stranger,
                          .network_key = NetworkKey{},
                          .allowlist = &open,
                          .self_record = PeerRecord::Make(stranger, PeerId(1), "127.0.0.1:1", 1),
                          .num_slots = 2},
                         Role::kDialer);
  std::vector<uint8_t> hello = dialer.HelloFrame();
  hello.insert(hello.end(), data.begin(), data.end());
  EXPECT_TRUE(SendAndAwaitClose(addr, hello));
  (*host)->Shutdown();
  loop.join();
  EXPECT_EQ(sink.Get("net.rejected.bad_header"), 2);
  EXPECT_EQ(Rejected(**host, "bad_header"), 2);
  // The largest buffer any unauthenticated connection held: the Hello's.
  EXPECT_LE((*host)->stats().max_handshake_buffer, kMaxHandshakePayload);
  EXPECT_GE((*host)->stats().max_handshake_buffer, kHelloPayload);
  EXPECT_EQ((*host)->stats().handshakes, 0u);
}

TEST(NetHost, StreamEndingInsideAFrameIsCountedAsTruncated) {
  testing::CountingSink sink;
  NetOptions o = Options(0, 2);
  o.handshake_timeout = Duration::Seconds(120);
  Result<std::unique_ptr<NetHost>> host = NetHost::Create(o, Security(NetworkKey{}), sink);
  ASSERT_TRUE(host.ok());
  IdleNode node;
  std::thread loop([&] { (void)(*host)->Run(node, nullptr); });
  const std::string addr = (*host)->listen_address();
  // A Hello header and 10 of its 64 payload bytes, then end of stream.
  std::vector<uint8_t> cut(kFrameHeaderSize + 10, 9);
  const auto hello = EncodeFrameHeader({.type = FrameType::kHello, .length = kHelloPayload});
  std::copy(hello.begin(), hello.end(), cut.begin());
  EXPECT_TRUE(SendAndAwaitClose(addr, cut, AfterSend::kHalfClose));
  // Half a header.
  EXPECT_TRUE(SendAndAwaitClose(addr, {'M', 'R', 'M', 'R', kWireVersion, 1}, AfterSend::kHalfClose));
  // Nothing at all is no frame cut short: an orderly close, not counted.
  EXPECT_TRUE(SendAndAwaitClose(addr, {}, AfterSend::kHalfClose));
  (*host)->Shutdown();
  loop.join();
  EXPECT_EQ(sink.Get("net.rejected.truncated"), 2);
  EXPECT_EQ((*host)->stats().rejected.size(), 1u);  // nothing else was counted
}

// Keeps the log lines the host writes (from its loop thread).
class CapturingLog final : public LogSink {
 public:
  void Write(LogLevel level, std::string_view message) override {
    std::lock_guard lock(mu_);
    lines_.emplace_back(LogLevelName(level), std::string(message));
  }
  std::vector<std::pair<std::string_view, std::string>> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string_view, std::string>> lines_;
};

TEST(NetHost, RejectionsAreLoggedThroughTheLogSinkUpToTheirCap) {
  CapturingLog log;
  ScopedLogSink scoped(&log);
  testing::CountingSink sink;
  NetOptions o = Options(0, 2);
  o.handshake_timeout = Duration::Seconds(120);
  o.max_rejection_logs = 2;
  Result<std::unique_ptr<NetHost>> host = NetHost::Create(o, Security(NetworkKey{}), sink);
  ASSERT_TRUE(host.ok());
  IdleNode node;
  std::thread loop([&] { (void)(*host)->Run(node, nullptr); });
  const std::string addr = (*host)->listen_address();
  const std::string http = "GET / HTTP/1.1\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(SendAndAwaitClose(addr, std::vector<uint8_t>(http.begin(), http.end())));
  }
  (*host)->Shutdown();
  loop.join();
  EXPECT_EQ(sink.Get("net.rejected.bad_header"), 3);  // every one counted
  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 2u);  // only the first two logged
  for (const auto& [level, text] : lines) {
    EXPECT_EQ(level, "warning");
    EXPECT_EQ(text.rfind("[peer 0] closed connection with 127.0.0.1:", 0), 0u) << text;
    EXPECT_NE(text.find(": bad_header: "), std::string::npos) << text;
  }
}

// Sends `text` to every other slot when it starts and keeps what it
// receives (counting "test.messages"); its deadline timer ends waits that
// would otherwise hang a failing test.
class Messenger final : public Node {
 public:
  Messenger(uint32_t n, std::string text) : n_(n), text_(std::move(text)) {}
  void OnStart(Host& host) override {
    for (uint32_t j = 0; j < n_; ++j) {
      if (j != host.self().value) {
        host.Send(PeerId(j), std::vector<uint8_t>(text_.begin(), text_.end()));
      }
    }
    deadline_ = host.StartTimer(Duration::Seconds(30));
    started_ = true;
  }
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> m) override {
    received_[from.value].emplace_back(m.begin(), m.end());
    host.metrics().Count("test.messages", 1);
  }
  void OnTimer(Host&, TimerId id) override { timed_out_ = timed_out_ || id == deadline_; }
  void OnComputeDone(Host&, uint64_t) override {}
  bool Got(uint32_t from, const std::string& text) const {
    auto it = received_.find(from);
    return it != received_.end() &&
           std::find(it->second.begin(), it->second.end(), text) != it->second.end();
  }

  const uint32_t n_;
  const std::string text_;
  std::map<uint32_t, std::vector<std::string>> received_;
  TimerId deadline_;
  bool started_ = false;
  bool timed_out_ = false;
};

TEST(NetHost, SlotBelongsToTheFirstKeyThatClaimsIt) {
  // No allowlist: the network key admits anyone, and slot 2's first key
  // keeps it against a second key claiming it.
  NetworkKey psk{};
  psk.fill(3);
  constexpr uint32_t n = 3;
  std::vector<testing::CountingSink> sinks(n + 1);
  std::vector<std::unique_ptr<NetHost>> hosts;
  for (uint32_t i = 0; i < n; ++i) {
    NetOptions o = Options(i, n);
    if (i > 0) o.bootstrap = {hosts[0]->listen_address()};
    auto h = NetHost::Create(o, Security(psk), sinks[i]);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    hosts.push_back(std::move(h).value());
  }
  std::vector<Messenger> nodes;
  for (uint32_t i = 0; i < n; ++i) nodes.emplace_back(n, "from " + std::to_string(i));
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] { (void)hosts[i]->Run(nodes[i], nullptr); });
  }
  for (uint32_t i = 0; i < n; ++i) EXPECT_TRUE(sinks[i].WaitFor("test.messages", n - 1)) << i;
  // Another key claims slot 2 through slot 1.
  NetOptions o = Options(2, n);
  o.bootstrap = {hosts[1]->listen_address()};
  auto impostor = NetHost::Create(o, Security(psk), sinks[n]);
  ASSERT_TRUE(impostor.ok());
  Messenger impostor_node(n, "impostor");
  std::thread impostor_loop([&] { (void)(*impostor)->Run(impostor_node, nullptr); });
  EXPECT_TRUE(sinks[1].WaitFor("net.rejected.slot_taken", 1));
  (*impostor)->Shutdown();
  impostor_loop.join();
  for (auto& h : hosts) h->Shutdown();
  for (auto& t : threads) t.join();
  EXPECT_GE(Rejected(*hosts[1], "slot_taken"), 1);  // the impostor may have retried once
  // The rightful slot 2 kept its connection, and nothing of the impostor's
  // reached a node.
  EXPECT_EQ(sinks[1].Get("net.peers_down"), 0);
  EXPECT_EQ(nodes[1].received_[2], std::vector<std::string>{"from 2"});
  EXPECT_EQ(nodes[0].received_[2], std::vector<std::string>{"from 2"});
  EXPECT_FALSE(impostor_node.started_);
}

// A bootstrap handshake that fails (here: the peer has another network
// key, so the Auth does not open) is retried with backoff, not dropped
// after one attempt, and the node never starts on the refused link.
TEST(NetHost, FailedBootstrapHandshakeIsRetriedWithBackoff) {
  NetworkKey psk{};
  psk.fill(3);
  NetworkKey other{};
  other.fill(4);
  testing::CountingSink sink0;
  testing::CountingSink sink1;
  auto host0 = NetHost::Create(Options(0, 2), Security(psk), sink0);
  ASSERT_TRUE(host0.ok());
  NetOptions o = Options(1, 2);
  o.bootstrap = {(*host0)->listen_address()};
  auto host1 = NetHost::Create(o, Security(other), sink1);
  ASSERT_TRUE(host1.ok());
  IdleNode node0;
  IdleNode node1;
  std::thread loop0([&] { (void)(*host0)->Run(node0, nullptr); });
  std::thread loop1([&] { (void)(*host1)->Run(node1, nullptr); });
  // Another network key: the Hello fails its mac1 before any crypto.
  const bool retried = sink0.WaitFor("net.rejected.bad_hello_mac", 3);
  (*host1)->Shutdown();
  (*host0)->Shutdown();
  loop1.join();
  loop0.join();
  EXPECT_TRUE(retried);
  EXPECT_GE((*host1)->stats().dials, 3u);
  EXPECT_EQ((*host0)->stats().handshakes, 0u);
}

TEST(NetHost, RelayedRecordOfAnotherKeyForABoundSlotIsIgnored) {
  // Two halves bind slot 2 to different keys: slot 0 to C's, slot 1 to X's.
  // Slot 3 then joins both and the halves meet, so each receives the other
  // key's record for slot 2 by relay; each keeps its first and counts it.
  NetworkKey psk{};
  psk.fill(5);
  constexpr uint32_t n = 4;
  enum { kA, kB, kC, kX, kD };
  std::vector<testing::CountingSink> sinks(5);
  std::vector<std::unique_ptr<NetHost>> hosts(5);
  std::vector<Messenger> nodes = {Messenger(n, "a"), Messenger(n, "b"), Messenger(n, "c"),
                                  Messenger(n, "x"), Messenger(n, "d")};
  std::vector<std::thread> threads;
  auto start = [&](int who, uint32_t slot, std::vector<std::string> bootstrap,
                   Duration start_timeout) {
    NetOptions o = Options(slot, n);
    o.bootstrap = std::move(bootstrap);
    o.start_timeout = start_timeout;
    auto h = NetHost::Create(o, Security(psk), sinks[who]);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    hosts[who] = std::move(h).value();
    threads.emplace_back([&, who] { (void)hosts[who]->Run(nodes[who], nullptr); });
  };
  // C and X start without a full mesh, and their first message starts and
  // binds their half's other peer.
  const Duration soon = Duration::Seconds(0.05), late = Duration::Seconds(30);
  start(kA, 0, {}, late);
  start(kC, 2, {hosts[kA]->listen_address()}, soon);
  EXPECT_TRUE(sinks[kA].WaitFor("test.messages", 1));
  start(kB, 1, {}, late);
  start(kX, 2, {hosts[kB]->listen_address()}, soon);
  EXPECT_TRUE(sinks[kB].WaitFor("test.messages", 1));
  start(kD, 3, {hosts[kA]->listen_address(), hosts[kB]->listen_address()}, late);
  EXPECT_TRUE(sinks[kA].WaitFor("net.records_slot_taken", 1));
  EXPECT_TRUE(sinks[kB].WaitFor("net.records_slot_taken", 1));
  for (auto& h : hosts) h->Shutdown();
  for (auto& t : threads) t.join();
  // Each half still has its own slot 2 and heard only from it.
  EXPECT_EQ(nodes[kA].received_[2], std::vector<std::string>{"c"});
  EXPECT_EQ(nodes[kB].received_[2], std::vector<std::string>{"x"});
}

TEST(NetHost, PeerThatSaidByeIsDialedAgainWhenItRestarts) {
  // Slot 2 leaves with Bye and restarts with its key, bootstrapping from
  // slot 1 only: slot 0 learns its new record through slot 1 and, as the
  // lower slot, must dial it again.
  NetworkKey psk{};
  psk.fill(4);
  constexpr uint32_t n = 3;
  std::vector<testing::CountingSink> sinks(n + 1);
  const Identity slot2 = Identity::Generate();
  std::vector<std::unique_ptr<NetHost>> hosts;
  for (uint32_t i = 0; i < n; ++i) {
    NetOptions o = Options(i, n);
    if (i > 0) o.bootstrap = {hosts[0]->listen_address()};
    NetSecurity security = Security(psk);
    if (i == 2) security.identity = slot2;
    auto h = NetHost::Create(o, std::move(security), sinks[i]);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    hosts.push_back(std::move(h).value());
  }
  Messenger a(n, "a"), b(n, "b"), first(n, "first");
  auto survivor_done = [](const Messenger& m) { return m.Got(2, "second") || m.timed_out_; };
  std::thread ta([&] { (void)hosts[0]->Run(a, [&] { return survivor_done(a); }); });
  std::thread tb([&] { (void)hosts[1]->Run(b, [&] { return survivor_done(b); }); });
  // The first incarnation leaves as soon as it started: Bye to both.
  EXPECT_TRUE(hosts[2]->Run(first, [&] { return first.started_; }).ok());
  NetOptions o = Options(2, n);
  o.bootstrap = {hosts[1]->listen_address()};
  auto restarted = NetHost::Create(o, NetSecurity{.identity = slot2, .network_key = psk},
                                   sinks[n]);
  ASSERT_TRUE(restarted.ok());
  // It stays until slot 0 has its message and says Bye (or its deadline).
  Messenger second(n, "second");
  EXPECT_TRUE((*restarted)
                  ->Run(second, [&] { return (*restarted)->said_bye(PeerId(0)) || second.timed_out_; })
                  .ok());
  ta.join();
  tb.join();
  EXPECT_TRUE(b.Got(2, "second"));
  EXPECT_TRUE(a.Got(2, "second")) << "slot 0 never dialed the restarted slot 2";
  EXPECT_FALSE(a.timed_out_);
  // Peers that left said Bye: none failed.
  EXPECT_GE(sinks[0].Get("net.peers_left"), 1);
  EXPECT_EQ(sinks[0].Get("net.peers_down"), 0);
  EXPECT_GE(sinks[0].Get("net.peer_rejoined"), 1);
  EXPECT_EQ(sinks[0].Get("net.rejected.slot_taken"), 0);  // same key: the same peer
}

TEST(NetHost, RefusesBadOptions) {
  testing::CountingSink sink;
  NetOptions o = Options(3, 2);
  EXPECT_EQ(NetHost::Create(o, Security(NetworkKey{}), sink).status().code(),
            StatusCode::kInvalidArgument);
  o = Options(0, 2);
  o.listen = "localhost:80";
  EXPECT_NE(NetHost::Create(o, Security(NetworkKey{}), sink).status().message().find(
                "not a numeric IP address"),
            std::string::npos);
  o.listen = "127.0.0.1:99999";
  EXPECT_EQ(NetHost::Create(o, Security(NetworkKey{}), sink).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace murmur::net

namespace murmur::net {
namespace {

using testing::Flooder;

// Slot 0 under a flood from 127.0.0.2; slots 1..n-1 join it from
// 127.0.0.1 and must all exchange their greetings. A watchdog ends the run
// after `deadline`, so a test that fails fails in bounded time.
// `cookie_above` 0: every Hello to slot 0 needs a cookie (the flood's
// too), so no flooded Hello may cost slot 0 a key exchange.
void ExpectPeersJoinDuringFlood(const std::optional<NetworkKey>& psk,
                                std::function<std::vector<uint8_t>()> hello,
                                size_t cookie_above = AdmissionLimits{}.cookie_above) {
  constexpr uint32_t n = 5;
  std::vector<testing::CountingSink> sinks(n);
  std::vector<std::unique_ptr<NetHost>> hosts;
  auto create = [&](uint32_t i) {
    NetOptions o = Options(i, n);
    o.admission.cookie_above = cookie_above;
    if (i > 0) o.bootstrap = {hosts[0]->listen_address()};
    auto h = NetHost::Create(o, NetSecurity{.identity = Identity::Generate(), .network_key = psk},
                             sinks[i]);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    hosts.push_back(std::move(h).value());
  };
  create(0);
  std::vector<GreeterNode> nodes(n, GreeterNode(n));
  std::vector<Status> results(n);
  std::vector<std::thread> threads;
  threads.emplace_back(
      [&] { results[0] = hosts[0]->Run(nodes[0], [&] { return nodes[0].done(); }); });
  Flooder flood("127.0.0.2", hosts[0]->listen_address(), 500, std::move(hello));
  // The flood is on: it has cycled through its 500 sockets at least once.
  flood.AwaitConnects(500, std::chrono::seconds(20));
  ASSERT_GE(flood.connects(), 500u);
  for (uint32_t i = 1; i < n; ++i) create(i);
  for (uint32_t i = 1; i < n; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = hosts[i]->Run(nodes[i], [&, i] { return nodes[i].done(); }); });
  }
  // The watchdog: a condition variable, so it wakes as soon as the run
  // ends and otherwise ends the run at the deadline.
  std::mutex mu;
  std::condition_variable cv;
  bool all_done = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return all_done; });
    for (auto& h : hosts) h->Shutdown();
  });
  for (auto& t : threads) t.join();
  {
    std::lock_guard lock(mu);
    all_done = true;
  }
  cv.notify_all();
  watchdog.join();
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_TRUE(results[i].ok()) << "peer " << i << ": " << results[i].ToString();
    EXPECT_TRUE(nodes[i].done()) << "peer " << i << " did not hear from every peer";
  }
  // The flood hit the per-address limits, and nothing of it authenticated.
  const auto& rejected = hosts[0]->stats().rejected;
  auto count = [&](const char* reason) {
    auto it = rejected.find(reason);
    return it == rejected.end() ? int64_t{0} : it->second;
  };
  EXPECT_GT(count("too_many_from_address") + count("handshake_rate"), 0);
  EXPECT_EQ(count("too_many_handshakes"), 0);
  EXPECT_LE(hosts[0]->stats().handshakes, 2u * (n - 1));  // the peers' (and duplicates)
  if (cookie_above == 0) {
    // Only the peers' cookie-carrying Hellos cost a key pair; the flood's
    // valid-mac1 Hellos got cookie replies.
    EXPECT_GT(hosts[0]->stats().cookie_replies, 0u);
    EXPECT_GE(hosts[0]->stats().cookies_accepted, hosts[0]->stats().hello_key_exchanges);
    EXPECT_LE(hosts[0]->stats().hello_key_exchanges, 2u * (n - 1));
  }
}

TEST(NetHost, PeersJoinWhileOneAddressFloodsIdleSocketsAndForgedHellos) {
  NetworkKey psk{};
  psk.fill(6);
  // Without the network key the flooder can only forge mac1.
  const auto head = EncodeFrameHeader({.type = FrameType::kHello, .length = kHelloPayload});
  std::vector<uint8_t> forged(head.begin(), head.end());
  forged.resize(kFrameHeaderSize + kHelloPayload, 0x5a);
  ExpectPeersJoinDuringFlood(psk, [forged] { return forged; });
}

// A flood of valid dialer Hellos of an open network from one identity
// (mac1 proves nothing there); `cookie_above` as for ExpectPeersJoinDuringFlood.
void ExpectPeersJoinDuringValidHelloFlood(size_t cookie_above = AdmissionLimits{}.cookie_above) {
  const Identity flooder = Identity::Generate();
  const Allowlist open;
  const HandshakeConfig config{
      .identity = &flooder,
      .allowlist = &open,
      .self_record = PeerRecord::Make(flooder, PeerId(1), "127.0.0.2:1", 1),
      .num_slots = 5};
  ExpectPeersJoinDuringFlood(
      std::nullopt, [config] { return Handshake(config, Role::kDialer).HelloFrame(); },
      cookie_above);
}

TEST(NetHost, PeersJoinWhileOneAddressFloodsValidHellosOfAnOpenNetwork) {
  // An open network: mac1 proves nothing, so the flooder's Hellos pass it
  // and each admitted one costs the victim a key exchange; the
  // per-address limits bound how many.
  ExpectPeersJoinDuringValidHelloFlood();
}

TEST(NetHost, UnderLoadPeersJoinByCookieWhileValidHellosFloodForFree) {
  // As above, with slot 0 always under load: the flood's Hellos (valid
  // mac1, no cookie) are answered with cookies, never with key exchanges,
  // and the peers join by repeating their Hellos with mac2.
  ExpectPeersJoinDuringValidHelloFlood(0);
}

// Issue 18's flood against the ban: once 127.0.0.2 has been refused
// ban_after_refusals times in a second, its SYNs no longer reach slot 0's
// accept (a fresh connect from it goes unanswered while one from
// 127.0.0.3 completes, and slot 0 refuses nothing more while the flood
// goes on), a peer from 127.0.0.1 still joins, and once the flood stops
// and the ban ends 127.0.0.2 gets in again.
TEST(NetHost, AFloodingAddressIsBannedBeforeAcceptAndLetInWhenItsBanEnds) {
  NetworkKey psk{};
  psk.fill(6);
  const auto head = EncodeFrameHeader({.type = FrameType::kHello, .length = kHelloPayload});
  std::vector<uint8_t> forged(head.begin(), head.end());
  forged.resize(kFrameHeaderSize + kHelloPayload, 0x5a);
  testing::CountingSink sink0, sink1;
  NetOptions o0 = Options(0, 2);
  o0.admission.ban_duration = Duration::Seconds(2);
  auto h0 = NetHost::Create(o0, Security(psk), sink0);
  ASSERT_TRUE(h0.ok()) << h0.status().ToString();
  const std::string target = (*h0)->listen_address();
  GreeterNode n0(2), n1(2);
  Status r0, r1;
  std::thread t0([&] { r0 = (*h0)->Run(n0, nullptr); });
  {
    Flooder flood("127.0.0.2", target, 500, [forged] { return forged; });
    ASSERT_TRUE(sink0.WaitFor("net.bans", 1));
    const auto banned_at = std::chrono::steady_clock::now();
    EXPECT_FALSE(testing::ConnectsWithin("127.0.0.2", target, std::chrono::milliseconds(300)));
    EXPECT_TRUE(testing::ConnectsWithin("127.0.0.3", target, std::chrono::milliseconds(5000)));
    // The flood goes on (its unanswered connects are replaced), and none
    // of it is answered any more: every SYN from before the filter was
    // answered within the 300 ms above (loopback answers in microseconds).
    const uint64_t established = flood.established();
    const uint64_t connects = flood.connects();
    flood.AwaitConnects(connects + 1000, std::chrono::seconds(20));
    EXPECT_GE(flood.connects(), connects + 1000);
    EXPECT_EQ(flood.established(), established);
    // A legitimate peer from another address joins meanwhile.
    NetOptions o1 = Options(1, 2);
    o1.bootstrap = {target};
    auto h1 = NetHost::Create(o1, Security(psk), sink1);
    ASSERT_TRUE(h1.ok()) << h1.status().ToString();
    std::mutex mu;
    std::condition_variable cv;
    bool joined = false;
    std::thread t1([&] {
      r1 = (*h1)->Run(n1, [&] { return n1.done(); });
      std::lock_guard lock(mu);
      joined = true;
      cv.notify_all();
    });
    {
      // Ends slot 1 if it has not joined within 20 s of the ban.
      std::unique_lock lock(mu);
      if (!cv.wait_until(lock, banned_at + std::chrono::seconds(20), [&] { return joined; })) {
        (*h1)->Shutdown();
      }
    }
    t1.join();
    EXPECT_TRUE(r1.ok()) << r1.ToString();
    EXPECT_TRUE(n1.done()) << "slot 1 did not join during the flood";
  }
  // The flood is over; the ban (2 s) ends and 127.0.0.2 is let in.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool let_in = false;
  while (!let_in && std::chrono::steady_clock::now() < deadline) {
    let_in = testing::ConnectsWithin("127.0.0.2", target, std::chrono::milliseconds(300));
  }
  EXPECT_TRUE(let_in) << "127.0.0.2 was still dropped 15 s after the flood";
  (*h0)->Shutdown();
  t0.join();
  EXPECT_GE(sink0.Get("net.bans"), 1);
  EXPECT_EQ(sink0.Get("net.ban_filter_errors"), 0);
  EXPECT_EQ((*h0)->stats().kernel_banned, 0u);  // released
}

// The same ban for a native IPv6 source on a dual-stack listener: ::1
// floods [::]:port, is banned and its SYNs are dropped by the kernel filter
// (before, IPv6 sources passed it and were refused only at accept, so
// their connects completed), while IPv4 (mapped) sources still get in.
TEST(NetHost, AFloodingIpv6AddressIsBannedBeforeAcceptOnADualStackListener) {
  NetworkKey psk{};
  psk.fill(6);
  const auto head = EncodeFrameHeader({.type = FrameType::kHello, .length = kHelloPayload});
  std::vector<uint8_t> forged(head.begin(), head.end());
  forged.resize(kFrameHeaderSize + kHelloPayload, 0x5a);
  testing::CountingSink sink0;
  NetOptions o0 = Options(0, 2);
  o0.listen = "[::]:0";
  o0.admission.ban_duration = Duration::Seconds(2);
  auto h0 = NetHost::Create(o0, Security(psk), sink0);
  if (!h0.ok()) GTEST_SKIP() << "no IPv6 listener here: " << h0.status().ToString();
  const std::string bound = (*h0)->listen_address();
  const std::string port = bound.substr(bound.rfind(':') + 1);
  const std::string v6_target = "[::1]:" + port, v4_target = "127.0.0.1:" + port;
  GreeterNode n0(2);
  Status r0;
  std::thread t0([&] { r0 = (*h0)->Run(n0, nullptr); });
  {
    testing::Flooder flood("::1", v6_target, 500, [forged] { return forged; });
    ASSERT_TRUE(sink0.WaitFor("net.bans", 1));
    EXPECT_EQ((*h0)->stats().kernel_banned, 1u);
    EXPECT_FALSE(testing::ConnectsWithin("::1", v6_target, std::chrono::milliseconds(300)));
    EXPECT_TRUE(testing::ConnectsWithin("127.0.0.3", v4_target, std::chrono::milliseconds(5000)));
    const uint64_t established = flood.established();
    const uint64_t connects = flood.connects();
    flood.AwaitConnects(connects + 1000, std::chrono::seconds(20));
    EXPECT_GE(flood.connects(), connects + 1000);
    EXPECT_EQ(flood.established(), established);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool let_in = false;
  while (!let_in && std::chrono::steady_clock::now() < deadline) {
    let_in = testing::ConnectsWithin("::1", v6_target, std::chrono::milliseconds(300));
  }
  EXPECT_TRUE(let_in) << "::1 was still dropped 15 s after the flood";
  (*h0)->Shutdown();
  t0.join();
  EXPECT_EQ(sink0.Get("net.ban_filter_errors"), 0);
  EXPECT_EQ((*h0)->stats().kernel_banned, 0u);  // released
}

// A blocking raw client (the test plays the dialer's half by hand).
class RawDialer {
 public:
  explicit RawDialer(const std::string& target) {
    const size_t colon = target.rfind(':');
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(std::stoi(target.substr(colon + 1))));
    ::inet_pton(AF_INET, target.substr(0, colon).c_str(), &to.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
  }
  ~RawDialer() { ::close(fd_); }
  bool Send(const std::vector<uint8_t>& bytes) {
    return connected_ &&
           ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Exactly `n` bytes, or fewer when the peer closes or 10 s pass.
  std::vector<uint8_t> Receive(size_t n) {
    std::vector<uint8_t> out;
    while (out.size() < n) {
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 10000) <= 0) break;
      uint8_t buffer[256];
      const ssize_t got = ::recv(fd_, buffer, std::min(sizeof buffer, n - out.size()), 0);
      if (got <= 0) break;
      out.insert(out.end(), buffer, buffer + got);
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

Frame ParseFirst(const std::vector<uint8_t>& wire) {
  FrameParser parser(1 << 20, FramePhase::kHello);
  std::vector<Frame> frames;
  EXPECT_TRUE(parser.Feed(wire, frames).ok());
  return frames.empty() ? Frame{} : std::move(frames[0]);
}

TEST(NetHost, HelloUnderLoadCostsACookieReplyAndNoKeyExchange) {
  NetworkKey psk{};
  psk.fill(4);
  testing::CountingSink sink;
  NetOptions o = Options(0, 2);
  o.admission.cookie_above = 0;  // always under load
  o.admission.handshake_burst = 1000;
  o.admission.max_unauthenticated_per_address = 64;
  auto created = NetHost::Create(o, Security(psk), sink);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  NetHost& host = **created;
  GreeterNode node(2);  // never done: slot 1 never comes
  Status result;
  std::thread loop([&] { result = host.Run(node, [&] { return node.done(); }); });
  // An insider with the network key but no slot: its Hellos pass mac1.
  const Identity id = Identity::Generate();
  const Allowlist open;
  const HandshakeConfig config{.identity = &id,
                               .network_key = psk,
                               .allowlist = &open,
                               .self_record = PeerRecord::Make(id, PeerId(1), "127.0.0.1:1", 1),
                               .num_slots = 2};
  constexpr size_t kReply = kFrameHeaderSize + kCookieReplyPayload;
  constexpr int kHellos = 20;
  for (int i = 0; i < kHellos; ++i) {
    Handshake dialer(config, Role::kDialer);
    RawDialer raw(host.listen_address());
    ASSERT_TRUE(raw.Send(dialer.HelloFrame()));
    const std::vector<uint8_t> reply = raw.Receive(kReply);
    ASSERT_EQ(reply.size(), kReply);
    ASSERT_EQ(reply[5], static_cast<uint8_t>(FrameType::kCookieReply));
    EXPECT_TRUE(dialer.OnCookieReply(ParseFirst(reply)).ok());
  }
  {  // A made-up mac2 gets a cookie reply; repeating it closes the connection.
    Handshake dialer(config, Role::kDialer);
    std::vector<uint8_t> forged = dialer.HelloFrame();
    std::fill(forged.end() - kHelloMac, forged.end(), 0x77);
    RawDialer raw(host.listen_address());
    ASSERT_TRUE(raw.Send(forged));
    ASSERT_EQ(raw.Receive(kReply).size(), kReply);
    ASSERT_TRUE(raw.Send(forged));
    EXPECT_TRUE(raw.Receive(1).empty());  // closed
  }
  {  // The cookie, repeated on the connection, buys the acceptor's Hello.
    Handshake dialer(config, Role::kDialer);
    RawDialer raw(host.listen_address());
    ASSERT_TRUE(raw.Send(dialer.HelloFrame()));
    ASSERT_TRUE(dialer.OnCookieReply(ParseFirst(raw.Receive(kReply))).ok());
    ASSERT_TRUE(raw.Send(dialer.HelloFrame()));
    const std::vector<uint8_t> hello = raw.Receive(kFrameHeaderSize + kHelloPayload);
    ASSERT_EQ(hello.size(), kFrameHeaderSize + kHelloPayload);
    EXPECT_EQ(hello[5], static_cast<uint8_t>(FrameType::kHello));
    EXPECT_TRUE(dialer.OnHello(ParseFirst(hello)).ok());
  }
  host.Shutdown();
  loop.join();
  EXPECT_EQ(host.stats().cookie_replies, kHellos + 2u);
  EXPECT_EQ(host.stats().cookies_accepted, 1u);
  EXPECT_EQ(host.stats().hello_key_exchanges, 1u);  // the cookie-carrying Hello's only
  EXPECT_EQ(Rejected(host, "bad_cookie"), 1);
}

}  // namespace
}  // namespace murmur::net
