// Several TCP streams per link (NetOptions::streams): two NetHosts in this
// process over 127.0.0.1. Messages keep their order and bytes over any
// number of streams; a further stream is admitted only for its own link
// under its own key; losing one stream takes the link down, and the
// lower slot's redial brings all of its streams back.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "murmur/runtime/frame.h"
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/net_host.h"
#include "runtime/link_streams_setup.h"
#include "testing/counting_sink.h"

namespace murmur::net {
namespace {

using testing::StreamNetworkKey;
using testing::StreamOptions;
using testing::StreamSecurity;

// Sizes around the chunk boundaries and the control/data split: empty, a
// byte, small, one chunk - 1, + 0, + 1, several chunks.
constexpr size_t kSizes[] = {0,          1,          100,        65536,
                             kDataChunk - 1, kDataChunk, kDataChunk + 1, kDataChunk * 5 / 2};

std::vector<uint8_t> Message(uint32_t from, size_t i) {
  const size_t size = kSizes[i % std::size(kSizes)];
  std::vector<uint8_t> m(size);
  for (size_t k = 0; k < size; ++k) m[k] = static_cast<uint8_t>(from * 29 + i * 7 + k * 131);
  return m;
}

// Sends `count` messages to the other slot at start and keeps what it gets.
class Exchanger final : public Node {
 public:
  explicit Exchanger(size_t count) : count_(count) {}
  void OnStart(Host& host) override {
    for (size_t i = 0; i < count_; ++i) host.Send(PeerId(1 - host.self().value),
                                                  Message(host.self().value, i));
  }
  void OnMessage(Host&, PeerId, std::span<const uint8_t> m) override {
    received_.emplace_back(m.begin(), m.end());
  }
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
  bool done() const { return received_.size() == count_; }

  const size_t count_;
  std::vector<std::vector<uint8_t>> received_;
};

TEST(LinkStreams, MessagesOfManySizesArriveWholeAndInOrderOverOneToFourStreams) {
  constexpr size_t kCount = 3 * std::size(kSizes);
  for (uint8_t k = 1; k <= 4; ++k) {
    SCOPED_TRACE("streams " + std::to_string(k));
    testing::CountingSink sa, sb;
    auto b = NetHost::Create(StreamOptions(1, k), StreamSecurity(), sb);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    NetOptions oa = StreamOptions(0, k);
    oa.bootstrap = {(*b)->listen_address()};
    auto a = NetHost::Create(oa, StreamSecurity(), sa);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    Exchanger na(kCount), nb(kCount);
    std::thread tb([&] { (void)(*b)->Run(nb, [&] { return nb.done(); }); });
    (void)(*a)->Run(na, [&] { return na.done(); });
    tb.join();
    ASSERT_EQ(na.received_.size(), kCount);
    ASSERT_EQ(nb.received_.size(), kCount);
    for (size_t i = 0; i < kCount; ++i) {
      EXPECT_TRUE(nb.received_[i] == Message(0, i)) << "0->1 message " << i;
      EXPECT_TRUE(na.received_[i] == Message(1, i)) << "1->0 message " << i;
    }
    // Every stream was its own authenticated session.
    EXPECT_EQ((*a)->stats().handshakes, k);
    EXPECT_EQ((*b)->stats().handshakes, k);
    EXPECT_EQ(sa.Get("net.peers_down") + sb.Get("net.peers_down"), 0);
  }
}

// Long messages over two data streams: the paused stream gives its
// reassembly buffer back, so the link holds one message's buffer, not one
// per stream (without that: twice as much here).
TEST(LinkStreams, ALinkReassemblesOneLongMessageAtATimeWhateverItsStreams) {
  constexpr size_t kLong = size_t{12} << 20;
  constexpr size_t kCount = 6;
  testing::CountingSink sa, sb;
  auto b = NetHost::Create(StreamOptions(1, 3), StreamSecurity(), sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  NetOptions oa = StreamOptions(0, 3);
  oa.bootstrap = {(*b)->listen_address()};
  auto a = NetHost::Create(oa, StreamSecurity(), sa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::atomic<bool> done{false};
  class LongSender final : public Node {
   public:
    explicit LongSender(const std::atomic<bool>& done) : done_(done) {}
    void OnStart(Host& host) override {
      for (size_t i = 0; i < kCount; ++i) host.Send(PeerId(1), std::vector<uint8_t>(kLong, i));
      host.StartTimer(Duration::Seconds(0.005));
    }
    void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
    void OnTimer(Host& host, TimerId) override {
      if (!done_) host.StartTimer(Duration::Seconds(0.005));
    }
    void OnComputeDone(Host&, uint64_t) override {}
    const std::atomic<bool>& done_;
  } sender(done);
  class Keeper final : public Node {
   public:
    explicit Keeper(std::atomic<bool>& done) : done_(done) {}
    void OnStart(Host&) override {}
    void OnMessage(Host&, PeerId, std::span<const uint8_t> m) override {
      received_.emplace_back(m.begin(), m.end());
      if (received_.size() == kCount) done_ = true;
    }
    void OnTimer(Host&, TimerId) override {}
    void OnComputeDone(Host&, uint64_t) override {}
    std::atomic<bool>& done_;
    std::vector<std::vector<uint8_t>> received_;
  } receiver(done);
  std::thread tb([&] { (void)(*b)->Run(receiver, [&] { return done.load(); }); });
  (void)(*a)->Run(sender, [&] { return done.load(); });
  tb.join();
  ASSERT_EQ(receiver.received_.size(), kCount);
  for (size_t i = 0; i < kCount; ++i) {
    EXPECT_EQ(receiver.received_[i], std::vector<uint8_t>(kLong, i)) << "message " << i;
  }
  const size_t held = (*b)->stats().max_link_reassembly_bytes;
  EXPECT_GE(held, kLong);
  EXPECT_LT(held, 2 * kLong) << "the streams kept a reassembly buffer each";
}

// A raw client's handshake to `address` as `config` says; true once the
// host closed the connection after it (within 10 s).
bool HandshakeAndAwaitClose(const std::string& address, const HandshakeConfig& config) {
  const size_t colon = address.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return false;
  }
  Handshake dialer(config, Role::kDialer);
  FrameParser parser(kMaxHandshakePayload, FramePhase::kHello);
  std::vector<Frame> frames;
  std::vector<uint8_t> wire = dialer.HelloFrame();
  (void)::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL);
  bool closed = false;
  bool sent_auth = false;
  while (!closed) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    uint8_t buffer[4096];
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) {
      closed = true;
      break;
    }
    if (sent_auth) continue;
    if (!parser.Feed(std::span(buffer, static_cast<size_t>(got)), frames).ok()) break;
    if (!frames.empty() && frames[0].header.type == FrameType::kHello) {
      if (!dialer.OnHello(frames[0]).ok()) break;
      wire = dialer.AuthFrame();
      (void)::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL);
      sent_auth = true;
    }
  }
  ::close(fd);
  return closed;
}

// Runs until `stop` is set; counts what it gets.
class Waiter final : public Node {
 public:
  explicit Waiter(const std::atomic<bool>& stop) : stop_(stop) {}
  void OnStart(Host& host) override {
    started_ = true;
    host.StartTimer(Duration::Seconds(0.01));
  }
  void OnMessage(Host&, PeerId, std::span<const uint8_t> m) override {
    received_.emplace_back(m.begin(), m.end());
  }
  void OnTimer(Host& host, TimerId) override {
    if (!stop_) host.StartTimer(Duration::Seconds(0.01));
  }
  void OnComputeDone(Host&, uint64_t) override {}

  const std::atomic<bool>& stop_;
  std::atomic<bool> started_{false};
  std::vector<std::vector<uint8_t>> received_;
};

TEST(LinkStreams, FurtherStreamIsRefusedWithoutTheLinksKeyRecordOrNetworkKey) {
  std::array<uint8_t, 32> seed{};
  seed.fill(9);
  const Identity a_key = Identity::FromSeed(seed);
  testing::CountingSink sa, sb;
  auto b = NetHost::Create(StreamOptions(1, 2), StreamSecurity(), sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  NetOptions oa = StreamOptions(0, 2);
  oa.bootstrap = {(*b)->listen_address()};
  auto a = NetHost::Create(oa, StreamSecurity(Identity::FromSeed(seed)), sa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::atomic<bool> stop{false};
  Waiter na(stop), nb(stop);
  std::thread tb([&] { (void)(*b)->Run(nb, [&] { return stop.load(); }); });
  std::thread ta([&] { (void)(*a)->Run(na, [&] { return stop.load(); }); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!(nb.started_ && na.started_) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(nb.started_ && na.started_);
  const Allowlist open;
  const std::string target = (*b)->listen_address();
  // A stranger (its own key, the network key) claiming slot 0's stream 1.
  const Identity stranger = Identity::Generate();
  HandshakeConfig config{.identity = &stranger,
                         .network_key = StreamNetworkKey(),
                         .allowlist = &open,
                         .self_record = PeerRecord::Make(stranger, PeerId(0), "127.0.0.1:1", 1),
                         .num_slots = 2,
                         .streams = 2,
                         .stream = 1};
  EXPECT_TRUE(HandshakeAndAwaitClose(target, config));
  EXPECT_TRUE(sb.WaitFor("net.rejected.slot_taken", 1));
  // Slot 0's own key, but under another record than its link's (an old
  // or a forged one): no link of that record is open.
  config.identity = &a_key;
  config.self_record = PeerRecord::Make(a_key, PeerId(0), "127.0.0.1:1", 1);
  EXPECT_TRUE(HandshakeAndAwaitClose(target, config));
  EXPECT_TRUE(sb.WaitFor("net.rejected.bad_stream", 1));
  // Another network key: refused at the Hello's mac1, before any crypto.
  NetworkKey wrong = StreamNetworkKey();
  wrong[0] ^= 1;
  config.network_key = wrong;
  EXPECT_TRUE(HandshakeAndAwaitClose(target, config));
  EXPECT_TRUE(sb.WaitFor("net.rejected.bad_hello_mac", 1));
  // Another stream count than the run's.
  config.network_key = StreamNetworkKey();
  config.streams = 3;
  EXPECT_TRUE(HandshakeAndAwaitClose(target, config));
  EXPECT_TRUE(sb.WaitFor("net.rejected.not_admitted", 1));
  stop = true;
  ta.join();
  tb.join();
  // The real link was never disturbed: its two streams, nothing else.
  EXPECT_EQ(sa.Get("net.peers_down") + sb.Get("net.peers_down"), 0);
  EXPECT_EQ((*a)->stats().handshakes, 2u);
  EXPECT_EQ(sb.Get("net.rejected.slot_taken"), 1);
  EXPECT_EQ(sb.Get("net.rejected.bad_stream"), 1);
}

// A tick: its count, then zeros (DataStreamDialedTo tells the data
// streams by the bytes they carried).
constexpr size_t kTickBytes = 16384;

// Slot 0 sends its tick count to slot 1 every 5 ms until `stop`; slot 1
// keeps the counts in the order they arrive.
class Ticker final : public Node {
 public:
  explicit Ticker(const std::atomic<bool>& stop) : stop_(stop) {}
  void OnStart(Host& host) override { host.StartTimer(Duration::Seconds(0.005)); }
  void OnMessage(Host&, PeerId, std::span<const uint8_t> m) override {
    uint32_t tick = 0;
    if (m.size() == kTickBytes) std::memcpy(&tick, m.data(), sizeof tick);
    ticks_.push_back(tick);
    count_ = ticks_.size();
  }
  void OnTimer(Host& host, TimerId) override {
    if (host.self() == PeerId(0)) {
      std::vector<uint8_t> m(kTickBytes);  // see DataStreamDialedTo
      std::memcpy(m.data(), &next_, sizeof next_);
      ++next_;
      host.Send(PeerId(1), std::move(m));
    }
    if (!stop_) host.StartTimer(Duration::Seconds(0.005));
  }
  void OnComputeDone(Host&, uint64_t) override {}
  void OnPeerDown(Host&, PeerId) override { ++downs_; }

  const std::atomic<bool>& stop_;
  uint32_t next_ = 0;
  std::vector<uint32_t> ticks_;
  std::atomic<size_t> count_{0};
  std::atomic<int> downs_{0};
};

// One of the link's data streams that this process dialed to `address`:
// of the sockets to that port, the one that has had the most bytes acked.
// The ticks go only on the data streams, padded so that each carries many
// times what the control stream does (handshake, records, heartbeats);
// descriptors are reused, so "the highest descriptor" could be stream 0.
int DataStreamDialedTo(const std::string& address) {
  const uint16_t port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  int best = -1;
  uint64_t most = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0 ||
        peer.sin_family != AF_INET || ntohs(peer.sin_port) != port) {
      continue;
    }
    tcp_info info{};
    socklen_t info_length = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_length) != 0) continue;
    if (info.tcpi_bytes_acked > most) {
      most = info.tcpi_bytes_acked;
      best = fd;
    }
  }
  return best;
}

bool WaitUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Choice (docs/runtime.md): one stream lost is the link lost. Both ends
// declare the peer down, the lower slot redials, all three streams come
// back, and the messages after the loss arrive in order again.
TEST(LinkStreams, LosingOneStreamTakesTheLinkDownAndTheRedialRestoresAllStreams) {
  constexpr uint8_t kStreams = 3;
  testing::CountingSink sa, sb;
  auto b = NetHost::Create(StreamOptions(1, kStreams), StreamSecurity(), sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  NetOptions oa = StreamOptions(0, kStreams);
  oa.bootstrap = {(*b)->listen_address()};
  auto a = NetHost::Create(oa, StreamSecurity(), sa);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::atomic<bool> stop{false};
  Ticker na(stop), nb(stop);
  std::thread tb([&] { (void)(*b)->Run(nb, [&] { return stop.load(); }); });
  std::thread ta([&] { (void)(*a)->Run(na, [&] { return stop.load(); }); });
  ASSERT_TRUE(WaitUntil([&] { return nb.count_ >= 10; }));
  const int fd = DataStreamDialedTo((*b)->listen_address());
  ASSERT_GE(fd, 0);
  ::shutdown(fd, SHUT_RDWR);  // as a middlebox cutting one connection would
  EXPECT_TRUE(sa.WaitFor("net.peers_down", 1));
  EXPECT_TRUE(sb.WaitFor("net.peers_down", 1));
  // What went down was a data stream (the control stream's loss is not
  // counted there).
  EXPECT_GE(sa.Get("net.link_streams_lost") + sb.Get("net.link_streams_lost"), 1);
  const size_t after_loss = nb.count_;
  EXPECT_TRUE(WaitUntil([&] { return nb.count_ >= after_loss + 10; }));
  stop = true;
  ta.join();
  tb.join();
  EXPECT_GE(na.downs_, 1);
  EXPECT_GE(nb.downs_, 1);
  // Two links' worth of streams, each its own handshake.
  EXPECT_GE((*a)->stats().handshakes, 2u * kStreams);
  for (size_t i = 1; i < nb.ticks_.size(); ++i) {
    EXPECT_LT(nb.ticks_[i - 1], nb.ticks_[i]) << "tick " << i << " out of order";
  }
}

}  // namespace
}  // namespace murmur::net
