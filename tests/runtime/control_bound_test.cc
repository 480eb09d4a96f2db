// The bound on a connection's control queue (connection.h): two
// Connections over 127.0.0.1 in one io_context. Heartbeat and Peers frames
// go before queued data, so before the bound an authenticated peer sending
// a stream of fresher records (each relayed to every other peer as a
// Peers frame) could fill the control queue without limit, outside
// send_queue_bytes, and hold every data message back behind it.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "murmur/core/bytes.h"
#include "runtime/asio.h"
#include "runtime/connection.h"

namespace murmur::net {
namespace {

using asio::ip::tcp;

Identity Id(uint8_t b) {
  std::array<uint8_t, 32> seed{};
  seed.fill(b);
  return Identity::FromSeed(seed);
}

// Records what the connection reports: the receiver's frame types in the
// order they arrived, and the sender's data bytes written.
class Recorder final : public ConnectionEvents {
 public:
  std::vector<Cookie> HelloCookies(const Connection&) override { return {}; }
  Status Admit(const PeerRecord&) override { return Status::Ok(); }
  void OnAuthenticated(const ConnectionPtr& conn, const PeerRecord&) override {
    authenticated = conn;
  }
  void OnFrame(const ConnectionPtr&, FrameType type, std::span<const uint8_t> payload) override {
    frames.push_back(type);
    if (type == FrameType::kData) data_sizes.push_back(payload.size());
  }
  void OnSent(const Connection&, size_t data_bytes) override { sent_bytes += data_bytes; }
  void OnIdle(const Connection&) override {}
  void OnPeerFinished(const ConnectionPtr&) override {}
  void OnClosed(const ConnectionPtr&, ConnectionState, size_t, const std::string& reason,
                const std::string& detail) override {
    closed = reason + ": " + detail;
  }

  ConnectionPtr authenticated;
  std::vector<FrameType> frames;
  std::vector<size_t> data_sizes;
  size_t sent_bytes = 0;
  std::string closed;
};

struct Side {
  explicit Side(uint8_t seed, uint32_t slot)
      : identity(Id(seed)),
        config{.identity = &identity,
               .allowlist = &allowlist,
               .self_record = PeerRecord::Make(identity, PeerId(slot), "127.0.0.1:1", 1000),
               .num_slots = 2} {}
  Identity identity;
  Allowlist allowlist;
  HandshakeConfig config;
  NetStats stats;
  Recorder events;
  ConnectionContext Context() {
    return ConnectionContext{.handshake = &config,
                             .max_message_bytes = 64 << 20,
                             .events = &events,
                             .stats = &stats};
  }
};

// Four data messages of three chunks each, then 200 Peers frames, queued
// at once on the dialer: the control queue never holds more than one Peers
// frame, the others follow the data in order, so the first data message
// arrives after at most two Peers frames (the one queued and the one the
// first chunk's write let through), and every frame arrives.
TEST(ControlBound, PeersFramesBeyondOneWaitWithTheDataInOrder) {
  asio::io_context io;
  Side dialer(1, 0), acceptor(2, 1);
  tcp::acceptor listener(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ConnectionPtr accepted;
  listener.async_accept([&](const asio::error_code& ec, tcp::socket socket) {
    ASSERT_FALSE(ec) << ec.message();
    accepted = std::make_shared<Connection>(acceptor.Context(), std::move(socket),
                                            Role::kAcceptor, "127.0.0.1:2");
    accepted->Start();
  });
  tcp::socket socket(io);
  socket.connect(listener.local_endpoint());
  auto dialed = std::make_shared<Connection>(dialer.Context(), std::move(socket), Role::kDialer,
                                             "127.0.0.1:1");
  dialed->Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!dialer.events.authenticated && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(dialer.events.authenticated) << dialer.events.closed;

  constexpr size_t kMessages = 4;
  constexpr size_t kPeers = 200;
  const size_t size = kDataChunk * 3;
  for (size_t i = 0; i < kMessages; ++i) {
    dialed->Enqueue(FrameType::kData, std::vector<uint8_t>(size, static_cast<uint8_t>(i)), size);
  }
  size_t max_control = 0;
  size_t counted = 0;
  for (size_t i = 0; i < kPeers; ++i) {
    ByteWriter none;
    none.WriteU32(0);
    // What the host does: a frame the control queue cannot take is data.
    const bool as_data = dialed->control_holds(FrameType::kPeers);
    const size_t bytes = as_data ? none.bytes().size() : 0;
    counted += bytes;
    dialed->Enqueue(FrameType::kPeers, none.bytes(), bytes);
    max_control = std::max(max_control, dialed->control_queued());
  }
  EXPECT_LE(max_control, 1u);
  while (acceptor.events.frames.size() < kMessages + kPeers &&
         std::chrono::steady_clock::now() < deadline && acceptor.events.closed.empty()) {
    io.run_one_for(std::chrono::milliseconds(100));
  }
  const std::vector<FrameType>& got = acceptor.events.frames;
  ASSERT_EQ(got.size(), kMessages + kPeers) << acceptor.events.closed;
  EXPECT_EQ(std::count(got.begin(), got.end(), FrameType::kData), kMessages);
  const size_t first_data = std::find(got.begin(), got.end(), FrameType::kData) - got.begin();
  EXPECT_LE(first_data, 2u) << "the Peers frames starved the data";
  // The data messages, whole, in the order sent, and before all but the
  // first Peers frames (FIFO with them in the data queue).
  EXPECT_EQ(acceptor.events.data_sizes, std::vector<size_t>(kMessages, size));
  const size_t last_data = got.rend() - std::find(got.rbegin(), got.rend(), FrameType::kData) - 1;
  EXPECT_LE(last_data, kMessages + 1);
  EXPECT_EQ(dialer.events.sent_bytes, kMessages * size + counted);
  EXPECT_GE(counted, (kPeers - 2) * 4);
}

}  // namespace
}  // namespace murmur::net
