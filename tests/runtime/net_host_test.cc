// NetHost in one process: hosts on threads of this test, connected over
// 127.0.0.1 with kernel-assigned ports, running small test nodes. Also run
// under ASan+UBSan by scripts/test.sh.
#include "murmur/runtime/net_host.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "murmur/runtime/frame.h"

namespace murmur::net {
namespace {

class CountingSink final : public MetricsSink {
 public:
  void ReportModel(Round, std::span<const float>) override {}
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view name, int64_t delta) override {
    std::lock_guard lock(mu_);
    counters_[std::string(name)] += delta;
  }
  int64_t Get(const std::string& name) {
    std::lock_guard lock(mu_);
    return counters_[name];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int64_t> counters_;
};

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

NetSecurity Security(const NetworkKey& psk) {
  return NetSecurity{.identity = Identity::Generate(), .network_key = psk};
}

TEST(NetHost, ThreePeersFormAMeshAndExchangeMessages) {
  NetworkKey psk{};
  psk.fill(1);
  constexpr uint32_t n = 3;
  std::vector<CountingSink> sinks(n);
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

TEST(NetHost, LargeMessagesArriveWholeAndInOrder) {
  // 3.5 chunks: three DataPart frames and a final Data frame.
  std::vector<uint8_t> big(kDataChunk * 7 / 2);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 131 + (i >> 20));
  CountingSink sa, sb;
  auto b = NetHost::Create(Options(1, 2), Security(NetworkKey{}), sb);
  ASSERT_TRUE(b.ok());
  NetOptions oa = Options(0, 2);
  oa.bootstrap = {(*b)->listen_address()};
  auto a = NetHost::Create(oa, Security(NetworkKey{}), sa);
  ASSERT_TRUE(a.ok());
  BulkSender sender(big);
  Collector collector;
  std::thread tb([&] {
    (void)(*b)->Run(collector, [&] { return collector.messages_.size() == 2; });
  });
  (void)(*a)->Run(sender, [&] { return sender.sent_; });
  tb.join();
  ASSERT_EQ(collector.messages_.size(), 2u);
  EXPECT_TRUE(collector.messages_[0] == big);
  EXPECT_EQ(collector.messages_[1], (std::vector<uint8_t>{1, 2, 3}));
  // Four sealed data frames, each with a 12-byte header and a 16-byte MAC.
  EXPECT_GE((*a)->stats().wire_bytes_sent, big.size() + 3 + 4 * 28 + 28);
}

// Connects to `address`, writes `bytes`, and returns true when the host
// closes the connection within 20 s.
bool SendAndAwaitClose(const std::string& address, const std::vector<uint8_t>& bytes) {
  const size_t colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return false;
  }
  (void)!::write(fd, bytes.data(), bytes.size());
  char buf[256];
  bool closed = false;
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  while (!closed && ::poll(&p, 1, 20000) > 0) closed = ::read(fd, buf, sizeof buf) <= 0;
  ::close(fd);
  return closed;
}

class IdleNode final : public Node {
 public:
  void OnStart(Host&) override {}
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
};

TEST(NetHost, HostileConnectionsAreClosedAndCounted) {
  CountingSink sink;
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
  EXPECT_TRUE(SendAndAwaitClose(addr, {'M', 'R', 'M', 'R', 1, 1, 0, 0, 32, 0, 0}));  // then silence
  (*host)->Shutdown();
  loop.join();
  EXPECT_EQ(sink.Get("net.rejected.bad_header"), 2);
  EXPECT_EQ(sink.Get("net.rejected.handshake_timeout"), 1);
  EXPECT_EQ((*host)->stats().handshakes, 0u);
}

TEST(NetHost, RefusesBadOptions) {
  CountingSink sink;
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
