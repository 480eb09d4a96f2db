// ShmLink (src/runtime/shm_link.h): the set-up of the same-host data path
// over an abstract Unix socket, a stranger who knows the rendezvous name
// but not the session, and the byte stream once set up; both ends on one
// io_context of this test.
#include "runtime/shm_link.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

namespace murmur::net {
namespace {

SessionId Session(uint8_t fill) {
  SessionId s{};
  s.fill(fill);
  s[0] = static_cast<uint8_t>(::getpid());  // parallel test runs do not collide
  s[1] = static_cast<uint8_t>(::getpid() >> 8);
  s[2] = static_cast<uint8_t>(::getpid() >> 16);
  return s;
}

// Runs `io` until `done` or 10 s.
template <typename Pred>
bool RunUntil(asio::io_context& io, Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return done();
}

struct Ends {
  std::shared_ptr<ShmLink> acceptor, dialer;
  std::optional<Status> acceptor_ready, dialer_ready;
};

void SetUpBoth(asio::io_context& io, const SessionId& session, Ends& e) {
  auto offer = ShmLink::Offer(io.get_executor(), session, kMinShmRingBytes, [] { return true; },
                              [&e](const Status& s) { e.acceptor_ready = s; });
  ASSERT_TRUE(offer.ok()) << offer.status().ToString();
  e.acceptor = std::move(offer).value();
  auto answer = ShmLink::Answer(io.get_executor(), session, 2 * kMinShmRingBytes,
                                [&e](const Status& s) { e.dialer_ready = s; });
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  e.dialer = std::move(answer).value();
  ASSERT_TRUE(RunUntil(io, [&] { return e.acceptor_ready && e.dialer_ready; }));
}

TEST(ShmLink, BothEndsOfASessionSetUpAndCarryAStreamLongerThanTheRing) {
  asio::io_context io;
  Ends e;
  SetUpBoth(io, Session(1), e);
  ASSERT_TRUE(e.acceptor_ready->ok()) << e.acceptor_ready->ToString();
  ASSERT_TRUE(e.dialer_ready->ok()) << e.dialer_ready->ToString();
  ASSERT_TRUE(e.acceptor->ready() && e.dialer->ready());

  // Header, 1 MiB body, tag: 16 rings' worth, so the writer waits for room
  // and the reader for bytes many times over (the doorbell both ways).
  std::vector<uint8_t> head(12, 0xAB), body(size_t{1} << 20), tag(16, 0xCD);
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<uint8_t>(i * 7 + (i >> 16));
  bool written = false;
  size_t write_n = 0;
  e.dialer->AsyncWrite({std::span<const uint8_t>(head), std::span<const uint8_t>(body),
                        std::span<const uint8_t>(tag)},
                       [&](const asio::error_code& ec, size_t n) {
                         EXPECT_FALSE(ec) << ec.message();
                         written = true;
                         write_n = n;
                       });
  std::vector<uint8_t> got;
  std::vector<uint8_t> buf(50000);
  bool reading = false;
  std::function<void()> read_more = [&] {
    reading = true;
    e.acceptor->AsyncReadSome(buf, [&](const asio::error_code& ec, size_t n) {
      reading = false;
      ASSERT_FALSE(ec) << ec.message();
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
      if (got.size() < head.size() + body.size() + tag.size()) read_more();
    });
  };
  read_more();
  ASSERT_TRUE(RunUntil(io, [&] { return written && !reading; }));
  EXPECT_EQ(write_n, head.size() + body.size() + tag.size());
  std::vector<uint8_t> sent = head;
  sent.insert(sent.end(), body.begin(), body.end());
  sent.insert(sent.end(), tag.begin(), tag.end());
  EXPECT_TRUE(got == sent);

  // The peer's TCP ended: what it published is read first, then EOF.
  const std::vector<uint8_t> last = {1, 2, 3};
  bool last_written = false;
  e.acceptor->AsyncWrite({std::span<const uint8_t>(last), {}, {}},
                         [&](const asio::error_code&, size_t) { last_written = true; });
  ASSERT_TRUE(RunUntil(io, [&] { return last_written; }));
  e.dialer->PeerFinished();
  std::vector<asio::error_code> codes;
  std::vector<size_t> counts;
  std::function<void()> drain = [&] {
    e.dialer->AsyncReadSome(buf, [&](const asio::error_code& ec, size_t n) {
      codes.push_back(ec);
      counts.push_back(n);
      if (!ec) drain();
    });
  };
  drain();
  ASSERT_TRUE(RunUntil(io, [&] { return !codes.empty() && codes.back(); }));
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(counts[0], 3u);
  EXPECT_EQ(codes[1], asio::error::eof);
  e.acceptor->Close();
  e.dialer->Close();
}

TEST(ShmLink, AStrangerWithoutTheSessionProofGetsNothingAndEndsTheOffer) {
  asio::io_context io;
  const SessionId session = Session(2);
  std::optional<Status> ready;
  auto offer = ShmLink::Offer(io.get_executor(), session, kMinShmRingBytes, [] { return true; },
                              [&](const Status& s) { ready = s; });
  ASSERT_TRUE(offer.ok());
  // The name is visible to anyone on the host (/proc/net/unix); the proof
  // is not: connect, send a wrong one with a region of our own.
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name = ShmLink::RendezvousName(session);
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr),
                      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())),
            0);
  Result<ShmChannel> mine = ShmChannel::Create(kMinShmRingBytes);
  ASSERT_TRUE(mine.ok());
  std::array<uint8_t, 32> wrong{};
  iovec iov{wrong.data(), wrong.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  const int region = mine->region_fd();
  std::memcpy(CMSG_DATA(c), &region, sizeof region);
  ASSERT_EQ(::sendmsg(fd, &msg, 0), 32);
  ASSERT_TRUE(RunUntil(io, [&] { return ready.has_value(); }));
  EXPECT_EQ(ready->code(), StatusCode::kCorrupt);
  EXPECT_FALSE((*offer)->ready());
  // Nothing came back to the stranger but the end of the socket.
  std::array<uint8_t, 64> reply{};
  EXPECT_EQ(::recv(fd, reply.data(), reply.size(), 0), 0);
  ::close(fd);
  // The offer was one-shot: the real dialer now finds no rendezvous, and
  // the session keeps TCP.
  auto late = ShmLink::Answer(io.get_executor(), session, kMinShmRingBytes, [](const Status&) {});
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
}

TEST(ShmLink, AnAcceptorWithoutRoomEndsTheSetUpOnBothSides) {
  asio::io_context io;
  const SessionId session = Session(5);
  std::optional<Status> acceptor_ready, dialer_ready;
  int asked = 0;
  auto offer = ShmLink::Offer(
      io.get_executor(), session, kMinShmRingBytes,
      [&] {
        ++asked;
        return false;
      },
      [&](const Status& s) { acceptor_ready = s; });
  ASSERT_TRUE(offer.ok());
  auto answer = ShmLink::Answer(io.get_executor(), session, kMinShmRingBytes,
                                [&](const Status& s) { dialer_ready = s; });
  ASSERT_TRUE(answer.ok());
  ASSERT_TRUE(RunUntil(io, [&] { return acceptor_ready && dialer_ready; }));
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(acceptor_ready->code(), StatusCode::kUnavailable);
  EXPECT_NE(acceptor_ready->message().find("shm_max_links"), std::string::npos);
  EXPECT_EQ(dialer_ready->code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*offer)->ready() || (*answer)->ready());
}

TEST(ShmLink, ADialerOfAnotherSessionIsRefused) {
  asio::io_context io;
  std::optional<Status> acceptor_ready, dialer_ready;
  auto offer = ShmLink::Offer(io.get_executor(), Session(3), kMinShmRingBytes,
                              [] { return true; },
                              [&](const Status& s) { acceptor_ready = s; });
  ASSERT_TRUE(offer.ok());
  // Another session's dialer computes another name: nobody listens there.
  auto other = ShmLink::Answer(io.get_executor(), Session(4), kMinShmRingBytes,
                               [&](const Status& s) { dialer_ready = s; });
  EXPECT_EQ(other.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(ShmLink::RendezvousName(Session(3)), ShmLink::RendezvousName(Session(4)));
  (*offer)->Close();
  EXPECT_FALSE(acceptor_ready.has_value());  // Close() ends it without a verdict
}

}  // namespace
}  // namespace murmur::net
