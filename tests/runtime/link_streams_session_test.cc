// A link's further streams belong to one session of its stream 0
// (NetOptions::streams, net_host_streams.cc; docs/wire.md, version 6): a
// late data stream of an earlier session of the same peer, under the same
// key, record and slot, is refused, and the live link is not disturbed.
// The host is a real NetHost over 127.0.0.1; its peer is played by the
// test with the handshake's own classes, so the test chooses which
// session each stream names and when it arrives.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "murmur/runtime/frame.h"
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/net_host.h"
#include "testing/counting_sink.h"
#include "testing/socket_probe.h"

namespace murmur::net {
namespace {

constexpr uint8_t kStreams = 2;

NetworkKey Psk() {
  NetworkKey psk{};
  psk.fill(7);
  return psk;
}

uint64_t NowMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// One TCP connection of the played peer: the dialer's handshake as its
// config says, then sealed Data frames out. What the host sends after the
// handshake is read and dropped.
class PlayedStream {
 public:
  PlayedStream() = default;
  PlayedStream(const PlayedStream&) = delete;
  PlayedStream& operator=(const PlayedStream&) = delete;
  ~PlayedStream() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Connects to `address` and completes the handshake: true once the
  // host's Auth verified (and, with `await_greeting`, once its first frame
  // after the Auth arrived: the Peers frame it sends when it attaches a
  // link's stream 0).
  bool Open(const std::string& address, const HandshakeConfig& config, bool await_greeting) {
    sockaddr_storage to{};
    const socklen_t length = testing::ToSocketAddress(address, to);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (length == 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&to), length) != 0) {
      return false;
    }
    Handshake handshake(config, Role::kDialer);
    FrameParser parser(kMaxHandshakePayload, FramePhase::kHello);
    if (!Write(handshake.HelloFrame())) return false;
    bool authenticated = false;
    bool greeted = false;
    while (!authenticated || (await_greeting && !greeted)) {
      std::vector<Frame> frames;
      if (!Read(parser, frames)) return false;
      for (Frame& frame : frames) {
        if (frame.header.type == FrameType::kHello) {
          if (!handshake.OnHello(frame).ok() || !Write(handshake.AuthFrame())) return false;
        } else if (frame.header.type == FrameType::kAuth) {
          if (!handshake.OnAuth(frame).ok()) return false;
          session_id_ = handshake.session_id();
          cipher_.emplace(handshake.TakeCipher());
          authenticated = true;
        } else {
          greeted = true;  // sealed, not opened: the test needs only that it came
        }
      }
    }
    return true;
  }

  bool SendData(const std::vector<uint8_t>& message) {
    return Write(cipher_->Seal(FrameType::kData, message));
  }

  // True once the host closed this connection (within 10 s).
  bool ClosedByHost() {
    for (;;) {
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 10000) <= 0) return false;
      uint8_t buffer[4096];
      if (::recv(fd_, buffer, sizeof buffer, 0) <= 0) return true;
    }
  }

  const SessionId& session_id() const { return session_id_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  bool Write(const std::vector<uint8_t>& wire) {
    return ::send(fd_, wire.data(), wire.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(wire.size());
  }
  // Reads what arrives (within 10 s) and parses it.
  bool Read(FrameParser& parser, std::vector<Frame>& frames) {
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    uint8_t buffer[4096];
    const ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
    return got > 0 && parser.Feed(std::span(buffer, static_cast<size_t>(got)), frames).ok();
  }

  int fd_ = -1;
  std::optional<SessionCipher> cipher_;
  SessionId session_id_{};
};

// Keeps what it gets and its OnPeerDown calls; ticks so that its host
// looks at its stop predicate.
class Receiver final : public Node {
 public:
  void OnStart(Host& host) override { host.StartTimer(Duration::Seconds(0.01)); }
  void OnMessage(Host&, PeerId, std::span<const uint8_t> m) override {
    received_.emplace_back(m.begin(), m.end());
    count_ = received_.size();
  }
  void OnTimer(Host& host, TimerId) override { host.StartTimer(Duration::Seconds(0.01)); }
  void OnComputeDone(Host&, uint64_t) override {}
  void OnPeerDown(Host&, PeerId) override { ++downs_; }

  std::vector<std::vector<uint8_t>> received_;
  std::atomic<size_t> count_{0};
  std::atomic<int> downs_{0};
};

// Slot 0 (played) opens stream 0 of session 1, then redials: stream 0 of
// session 2 replaces it at the host. Then session 1's data stream arrives
// late (same key, record and slot; stream 1, which is free). Before, it
// joined session 2's link (matching only slot, key and record), and
// session 2's own data stream was refused: the link carried nothing of
// its real session and flapped. Now the late stream is refused
// (bad_stream) and session 2's data stream delivers every message.
TEST(LinkStreamsSession, ALateDataStreamOfAnEarlierSessionIsRefusedAndTheLiveLinkDelivers) {
  constexpr size_t kCount = 5;
  testing::CountingSink sb;
  NetOptions ob;
  ob.self = PeerId(1);
  ob.num_slots = 2;
  ob.streams = kStreams;
  ob.start_timeout = Duration::Seconds(30);
  ob.peer_timeout = Duration::Seconds(30);  // the played peer sends no heartbeats
  auto b = NetHost::Create(ob, NetSecurity{.identity = Identity::Generate(), .network_key = Psk()},
                           sb);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::atomic<bool> stop{false};
  Receiver nb;
  std::thread tb([&] { (void)(*b)->Run(nb, [&] { return stop.load(); }); });
  const std::string target = (*b)->listen_address();

  std::array<uint8_t, 32> seed{};
  seed.fill(11);
  const Identity a_key = Identity::FromSeed(seed);
  const Allowlist open;
  HandshakeConfig config{.identity = &a_key,
                         .network_key = Psk(),
                         .allowlist = &open,
                         .self_record = PeerRecord::Make(a_key, PeerId(0), "127.0.0.1:1",
                                                         NowMillis()),
                         .num_slots = 2,
                         .streams = kStreams};
  PlayedStream first1, first2, late, data2;
  ASSERT_TRUE(first1.Open(target, config, /*await_greeting=*/true));
  ASSERT_TRUE(first2.Open(target, config, /*await_greeting=*/true));
  EXPECT_EQ(sb.Get("net.connections_replaced"), 1);
  EXPECT_NE(first1.session_id(), first2.session_id());

  config.stream = 1;
  config.link_session = first1.session_id();
  ASSERT_TRUE(late.Open(target, config, /*await_greeting=*/false));
  EXPECT_TRUE(late.ClosedByHost()) << "session 1's data stream joined session 2's link";
  EXPECT_TRUE(sb.WaitFor("net.rejected.bad_stream", 1));

  config.link_session = first2.session_id();
  ASSERT_TRUE(data2.Open(target, config, /*await_greeting=*/false));
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(data2.SendData(std::vector<uint8_t>(100 + i, static_cast<uint8_t>(i))));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (nb.count_ < kCount && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // The link stayed up throughout (before the played peer goes).
  const int downs = nb.downs_;
  const int64_t peers_down = sb.Get("net.peers_down");
  const int64_t streams_lost = sb.Get("net.link_streams_lost");
  const int64_t bad_streams = sb.Get("net.rejected.bad_stream");
  stop = true;
  for (PlayedStream* s : {&first1, &first2, &late, &data2}) s->Close();  // the host's peer ends
  tb.join();
  ASSERT_EQ(nb.received_.size(), kCount);
  for (size_t i = 0; i < kCount; ++i) {
    EXPECT_EQ(nb.received_[i], std::vector<uint8_t>(100 + i, static_cast<uint8_t>(i))) << i;
  }
  EXPECT_EQ(downs, 0);
  EXPECT_EQ(peers_down, 0);
  EXPECT_EQ(streams_lost, 0);
  EXPECT_EQ(bad_streams, 1);
}

}  // namespace
}  // namespace murmur::net
