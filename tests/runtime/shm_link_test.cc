// ShmLink (src/runtime/shm_link.h): the set-up of the same-host data path
// over an abstract Unix socket, strangers who know the rendezvous name but
// not the session, limits and deadlines, and the byte stream once set up;
// both ends on one io_context of this test.
#include "runtime/shm_link.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace murmur::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

SessionId Session(uint8_t fill) {
  SessionId s{};
  s.fill(fill);
  // Parallel test processes do not share names.
  const auto pid = static_cast<uint32_t>(::getpid());
  std::memcpy(s.data(), &pid, sizeof pid);
  return s;
}

// Runs `io` until `done` or 10 s.
template <typename Pred>
bool RunUntil(asio::io_context& io, Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(milliseconds(5));
  }
  return done();
}

// The session's rendezvous in the abstract namespace, as anyone can read
// its name in /proc/net/unix.
std::pair<sockaddr_un, socklen_t> Rendezvous(const SessionId& session) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name = ShmLink::RendezvousName(session);
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  return {addr, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())};
}

// A local process that knows the rendezvous name, connected to it.
int ConnectStranger(const SessionId& session) {
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  const auto [addr, len] = Rendezvous(session);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len), 0);
  return fd;
}

// Sends a wrong proof with a region of the stranger's own.
void SendWrongProof(int fd) {
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
}

struct Ends {
  std::shared_ptr<ShmLink> acceptor, dialer;
  std::optional<Status> acceptor_ready, dialer_ready;
};

// The acceptor offers with a ring of `acceptor_ring`; if `answer`, the
// dialer answers with `dialer_ring` and both verdicts are awaited.
void Offer(asio::io_context& io, const SessionId& session, Ends& e,
           size_t acceptor_ring = kMinShmRingBytes,
           std::chrono::steady_clock::duration timeout = seconds(10)) {
  auto offer = ShmLink::Offer(io.get_executor(), session, acceptor_ring, timeout,
                              [] { return true; },
                              [&e](const Status& s) { e.acceptor_ready = s; });
  ASSERT_TRUE(offer.ok()) << offer.status().ToString();
  e.acceptor = std::move(offer).value();
}

void Answer(asio::io_context& io, const SessionId& session, Ends& e,
            size_t dialer_ring = kMinShmRingBytes) {
  auto answer = ShmLink::Answer(io.get_executor(), session, dialer_ring, seconds(10),
                                [&e](const Status& s) { e.dialer_ready = s; });
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  e.dialer = std::move(answer).value();
  ASSERT_TRUE(RunUntil(io, [&] { return e.acceptor_ready && e.dialer_ready; }));
}

TEST(ShmLink, BothEndsOfASessionSetUpAndCarryAStreamLongerThanTheRing) {
  asio::io_context io;
  Ends e;
  Offer(io, Session(1), e);
  Answer(io, Session(1), e);
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

// The name stays bound until the dialer proved itself, so a stranger can
// neither get a region nor take the name and sit between the two ends.
TEST(ShmLink, StrangersWithoutTheSessionProofGetNothingAndTheDialerStillGetsThrough) {
  asio::io_context io;
  const SessionId session = Session(2);
  Ends e;
  Offer(io, session, e);
  const int wrong = ConnectStranger(session);
  ASSERT_NO_FATAL_FAILURE(SendWrongProof(wrong));
  const int silent = ConnectStranger(session);  // connects and says nothing
  // The wrong proof is answered by the end of the socket, nothing else.
  std::array<uint8_t, 64> reply{};
  bool closed = false;
  ASSERT_TRUE(RunUntil(io, [&] {
    closed = ::recv(wrong, reply.data(), reply.size(), MSG_DONTWAIT) == 0;
    return closed;
  }));
  EXPECT_FALSE(e.acceptor_ready.has_value());
  // Nobody can take the name while the offer stands.
  const int squatter = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  const auto [addr, len] = Rendezvous(session);
  EXPECT_NE(::bind(squatter, reinterpret_cast<const sockaddr*>(&addr), len), 0);
  Answer(io, session, e);
  EXPECT_TRUE(e.acceptor_ready->ok()) << e.acceptor_ready->ToString();
  EXPECT_TRUE(e.dialer_ready->ok()) << e.dialer_ready->ToString();
  // The silent one was dropped with the others once the dialer proved itself.
  EXPECT_TRUE(RunUntil(io, [&] {
    return ::recv(silent, reply.data(), reply.size(), MSG_DONTWAIT) == 0;
  }));
  ::close(wrong);
  ::close(silent);
  ::close(squatter);
}

TEST(ShmLink, AtMostFourStrangersWaitAtOnceAndTheFifthIsClosed) {
  asio::io_context io;
  const SessionId session = Session(8);
  Ends e;
  Offer(io, session, e);
  std::vector<int> strangers;
  for (size_t i = 0; i <= kMaxShmCandidates; ++i) {
    strangers.push_back(ConnectStranger(session));
    io.restart();
    io.run_for(milliseconds(20));  // accepted before the next comes (the backlog is 4)
  }
  std::array<uint8_t, 8> byte{};
  ASSERT_TRUE(RunUntil(io, [&] {
    return ::recv(strangers.back(), byte.data(), byte.size(), MSG_DONTWAIT) == 0;
  }));
  for (size_t i = 0; i < kMaxShmCandidates; ++i) {  // still waiting, not closed
    EXPECT_LT(::recv(strangers[i], byte.data(), byte.size(), MSG_DONTWAIT), 0) << i;
    EXPECT_EQ(errno, EAGAIN) << i;
  }
  EXPECT_FALSE(e.acceptor_ready.has_value());
  for (int fd : strangers) ::close(fd);
}

TEST(ShmLink, AnOfferNobodyTakesEndsAtItsDeadline) {
  asio::io_context io;
  Ends e;
  Offer(io, Session(3), e, kMinShmRingBytes, milliseconds(50));
  const int silent = ConnectStranger(Session(3));
  ASSERT_TRUE(RunUntil(io, [&] { return e.acceptor_ready.has_value(); }));
  EXPECT_EQ(e.acceptor_ready->code(), StatusCode::kUnavailable);
  EXPECT_NE(e.acceptor_ready->message().find("in time"), std::string::npos);
  EXPECT_FALSE(e.acceptor->ready());
  ::close(silent);
}

TEST(ShmLink, AnAcceptorWithoutRoomEndsTheSetUpOnBothSides) {
  asio::io_context io;
  const SessionId session = Session(4);
  Ends e;
  int asked = 0;
  auto offer = ShmLink::Offer(
      io.get_executor(), session, kMinShmRingBytes, seconds(10),
      [&] {
        ++asked;
        return false;
      },
      [&](const Status& s) { e.acceptor_ready = s; });
  ASSERT_TRUE(offer.ok());
  Answer(io, session, e);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(e.acceptor_ready->code(), StatusCode::kUnavailable);
  EXPECT_NE(e.acceptor_ready->message().find("shm_max_links"), std::string::npos);
  EXPECT_EQ(e.dialer_ready->code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*offer)->ready() || e.dialer->ready());
}

// Peers of different ring settings fail on the acceptor, before it counts
// the link: either way round.
TEST(ShmLink, ARingOfAnotherSizeEndsTheSetUpAtTheAcceptor) {
  for (auto [acceptor_ring, dialer_ring] : {std::pair{kMinShmRingBytes, 2 * kMinShmRingBytes},
                                            std::pair{2 * kMinShmRingBytes, kMinShmRingBytes}}) {
    asio::io_context io;
    Ends e;
    Offer(io, Session(5), e, acceptor_ring);
    Answer(io, Session(5), e, dialer_ring);
    EXPECT_EQ(e.acceptor_ready->code(), StatusCode::kCorrupt) << acceptor_ring;
    EXPECT_NE(e.acceptor_ready->message().find("the size of ours"), std::string::npos);
    EXPECT_EQ(e.dialer_ready->code(), StatusCode::kUnavailable) << acceptor_ring;
  }
}

TEST(ShmLink, ADialerOfAnotherSessionFindsNoRendezvous) {
  asio::io_context io;
  Ends e;
  Offer(io, Session(6), e);
  // Another session's dialer computes another name: nobody listens there.
  auto other = ShmLink::Answer(io.get_executor(), Session(7), kMinShmRingBytes, seconds(10),
                               [](const Status&) {});
  EXPECT_EQ(other.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(ShmLink::RendezvousName(Session(6)), ShmLink::RendezvousName(Session(7)));
  e.acceptor->Close();
  EXPECT_FALSE(e.acceptor_ready.has_value());  // Close() ends it without a verdict
}

}  // namespace
}  // namespace murmur::net
