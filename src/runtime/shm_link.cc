#include "runtime/shm_link.h"

#include <sodium.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

#include "murmur/core/check.h"

namespace murmur::net {

namespace {

constexpr std::string_view kNameContext = "murmur shm rendezvous v1";
constexpr std::string_view kDialerContext = "murmur shm dialer v1";
constexpr std::string_view kAcceptorContext = "murmur shm acceptor v1";
constexpr size_t kProofBytes = 32;

// BLAKE2b keyed by the session id: only the session's two ends can compute it.
template <size_t N>
std::array<uint8_t, N> KeyedHash(const SessionId& session, std::string_view context) {
  std::array<uint8_t, N> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const uint8_t*>(context.data()),
                     context.size(), session.data(), session.size());
  return out;
}

// The abstract-namespace address of `name` (no file; scoped to the network
// namespace, as 127.0.0.1 is).
std::pair<sockaddr_un, socklen_t> AbstractAddress(const std::string& name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  MURMUR_CHECK(name.size() + 1 <= sizeof addr.sun_path);
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  return {addr, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())};
}

Result<UniqueFd> SeqPacketSocket() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Unavailable("unix socket: ", std::strerror(errno));
  return fd;
}

}  // namespace

std::string ShmLink::RendezvousName(const SessionId& session) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "murmur-shm-";
  for (uint8_t b : KeyedHash<16>(session, kNameContext)) {
    name += kHex[b >> 4];
    name += kHex[b & 15];
  }
  return name;
}

std::array<uint8_t, 32> ShmLink::MakeProof(const SessionId& session, Proof who) {
  return KeyedHash<kProofBytes>(session,
                                who == Proof::kDialer ? kDialerContext : kAcceptorContext);
}

ShmLink::ShmLink(const asio::any_io_executor& executor, const SessionId& session,
                 ShmChannel channel, OnReady on_ready)
    : executor_(executor),
      session_(session),
      channel_(std::move(channel)),
      on_ready_(std::move(on_ready)) {}

Result<std::shared_ptr<ShmLink>> ShmLink::Offer(const asio::any_io_executor& executor,
                                                const SessionId& session, size_t ring_bytes,
                                                std::chrono::steady_clock::duration timeout,
                                                std::function<bool()> admit, OnReady on_ready) {
  Result<ShmChannel> channel = ShmChannel::Create(ring_bytes);
  if (!channel.ok()) return channel.status();
  Result<UniqueFd> fd = SeqPacketSocket();
  if (!fd.ok()) return fd.status();
  const auto [addr, len] = AbstractAddress(RendezvousName(session));
  if (::bind(fd->get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
      ::listen(fd->get(), static_cast<int>(kMaxShmCandidates)) != 0) {
    return Status::Unavailable("binding the shared-memory rendezvous: ", std::strerror(errno));
  }
  auto link = std::make_shared<ShmLink>(executor, session, std::move(channel).value(),
                                        std::move(on_ready));
  link->admit_ = std::move(admit);
  link->listener_.emplace(executor, fd->Release());
  link->StartTimer(timeout);
  link->AcceptDialer();
  return link;
}

Result<std::shared_ptr<ShmLink>> ShmLink::Answer(const asio::any_io_executor& executor,
                                                 const SessionId& session, size_t ring_bytes,
                                                 std::chrono::steady_clock::duration timeout,
                                                 OnReady on_ready) {
  Result<ShmChannel> channel = ShmChannel::Create(ring_bytes);
  if (!channel.ok()) return channel.status();
  Result<UniqueFd> fd = SeqPacketSocket();
  if (!fd.ok()) return fd.status();
  const auto [addr, len] = AbstractAddress(RendezvousName(session));
  if (::connect(fd->get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    return Status::Unavailable("connecting to the shared-memory rendezvous: ",
                               std::strerror(errno));
  }
  auto link = std::make_shared<ShmLink>(executor, session, std::move(channel).value(),
                                        std::move(on_ready));
  link->socket_ = std::make_shared<Descriptor>(executor, fd->Release());
  if (!link->SendRegion(Proof::kDialer)) return Status::Unavailable(link->error_);
  link->StartTimer(timeout);
  link->AwaitProof(link->socket_, Proof::kAcceptor);
  return link;
}

void ShmLink::StartTimer(std::chrono::steady_clock::duration timeout) {
  timer_.emplace(executor_, timeout);
  timer_->async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec || self->ready_) return;
    self->Finish(Status::Unavailable("the shared-memory set-up did not end in time"));
  });
}

void ShmLink::AcceptDialer() {
  listener_->async_wait(Descriptor::wait_read, [self = shared_from_this()](
                                                   const asio::error_code& ec) {
    if (ec || self->closed_ || !self->listener_) return;
    const int c =
        ::accept4(self->listener_->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
      self->Finish(Status::Unavailable("accept: ", std::strerror(errno)));
      return;
    }
    if (c >= 0) {
      if (self->candidates_.size() >= kMaxShmCandidates) {
        ::close(c);  // enough strangers already
      } else {
        auto socket = std::make_shared<Descriptor>(self->executor_, c);
        self->candidates_.push_back(socket);
        self->AwaitProof(socket, Proof::kDialer);
      }
    }
    self->AcceptDialer();
  });
}

void ShmLink::AwaitProof(std::shared_ptr<Descriptor> socket, Proof expected) {
  socket->async_wait(
      Descriptor::wait_read,
      [self = shared_from_this(), socket, expected](const asio::error_code& ec) {
        if (ec || self->closed_ || self->ready_) return;
        std::array<uint8_t, 2 * kProofBytes> data{};
        iovec iov{data.data(), data.size()};
        alignas(cmsghdr) std::array<char, CMSG_SPACE(4 * sizeof(int))> control{};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        const ssize_t n = ::recvmsg(socket->native_handle(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
          self->AwaitProof(socket, expected);
          return;
        }
        // Whatever came, every descriptor received is ours to close.
        std::vector<UniqueFd> fds;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n >= 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
          const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (size_t i = 0; i < count; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds.emplace_back(fd);
          }
        }
        const std::array<uint8_t, kProofBytes> proof = MakeProof(self->session_, expected);
        const bool proven = n == static_cast<ssize_t>(kProofBytes) &&
                            (msg.msg_flags & MSG_CTRUNC) == 0 && fds.size() == 1 &&
                            sodium_memcmp(data.data(), proof.data(), kProofBytes) == 0;
        if (proven) {
          self->OnProven(socket, expected, std::move(fds.front()));
        } else if (expected == Proof::kDialer) {
          // A stranger (or nothing): drop it, keep listening.
          std::erase(self->candidates_, socket);
        } else {
          self->Finish(n <= 0 ? Status::Unavailable(
                                    "the shared-memory rendezvous closed before set-up")
                              : Status::Corrupt("a shared-memory answer without the "
                                                "session's proof and one region"));
        }
      });
}

void ShmLink::OnProven(std::shared_ptr<Descriptor> socket, Proof expected, UniqueFd region) {
  if (expected == Proof::kDialer) {
    // The dialer: nobody else will be answered, so the name may go.
    listener_.reset();
    for (auto& other : candidates_) {
      if (other != socket) other->close();
    }
    candidates_.clear();
    socket_ = std::move(socket);
    if (!admit_()) {
      Finish(Status::Unavailable("no room for another shared-memory link (shm_max_links)"));
      return;
    }
  }
  if (Status s = channel_.AttachPeer(std::move(region)); !s.ok()) {
    Finish(s);
    return;
  }
  if (expected == Proof::kDialer && !SendRegion(Proof::kAcceptor)) {
    Finish(Status::Unavailable(error_));
    return;
  }
  Finish(Status::Ok());
}

bool ShmLink::SendRegion(Proof who) {
  std::array<uint8_t, kProofBytes> proof = MakeProof(session_, who);
  iovec iov{proof.data(), proof.size()};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  const int fd = channel_.region_fd();
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (::sendmsg(socket_->native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) !=
      static_cast<ssize_t>(proof.size())) {
    error_ = std::string("sending our shared-memory region: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void ShmLink::Finish(const Status& status) {
  if (closed_ || ready_) return;
  OnReady on_ready = std::move(on_ready_);
  on_ready_ = nullptr;
  if (timer_) timer_->cancel();
  if (status.ok()) {
    ready_ = true;
  } else {
    Close();
  }
  if (on_ready) on_ready(status);
}

void ShmLink::AsyncReadSome(std::span<uint8_t> into, Handler handler) {
  MURMUR_CHECK(ready_ && !read_handler_);
  read_into_ = into;
  read_handler_ = std::move(handler);
  Progress();
}

void ShmLink::AsyncWrite(std::array<std::span<const uint8_t>, 3> parts, Handler handler) {
  MURMUR_CHECK(ready_ && !write_handler_);
  write_parts_ = parts;
  write_part_ = 0;
  write_done_ = 0;
  write_total_ = parts[0].size() + parts[1].size() + parts[2].size();
  write_handler_ = std::move(handler);
  Progress();
}

void ShmLink::PeerFinished() {
  peer_finished_ = true;
  Progress();
}

void ShmLink::Close() {
  if (closed_) return;
  closed_ = true;
  on_ready_ = nullptr;
  if (timer_) timer_->cancel();
  listener_.reset();
  for (auto& c : candidates_) c->close();
  candidates_.clear();
  if (socket_) socket_->close();
  if (read_handler_) Complete(read_handler_, asio::error::operation_aborted, 0);
  if (write_handler_) Complete(write_handler_, asio::error::operation_aborted, 0);
}

void ShmLink::Complete(Handler& handler, const asio::error_code& ec, size_t n) {
  Handler h = std::move(handler);
  handler = nullptr;
  asio::post(executor_, [h = std::move(h), ec, n] { h(ec, n); });
}

// Moves what it can both ways, completes what finished, rings the peer
// when it published bytes or freed room, and waits for the doorbell while
// something is still pending.
void ShmLink::Progress() {
  if (closed_ || !ready_) return;
  bool wrote = false, read = false;
  for (;;) {
    if (write_handler_) {
      while (write_part_ < write_parts_.size()) {
        const std::span<const uint8_t> rest = write_parts_[write_part_].subspan(write_done_);
        if (rest.empty()) {
          ++write_part_;
          write_done_ = 0;
          continue;
        }
        Result<size_t> n = channel_.Write(rest);
        if (!n.ok()) {
          error_ = n.status().message();
          Complete(write_handler_, asio::error::invalid_argument, 0);
          break;
        }
        if (*n == 0) break;
        wrote = true;
        write_done_ += *n;
      }
      if (write_handler_ && write_part_ == write_parts_.size()) {
        Complete(write_handler_, asio::error_code(), write_total_);
      }
    }
    if (read_handler_) {
      Result<size_t> n = channel_.Read(read_into_);
      if (!n.ok()) {
        error_ = n.status().message();
        Complete(read_handler_, asio::error::invalid_argument, 0);
      } else if (*n > 0) {
        read = true;
        Complete(read_handler_, asio::error_code(), *n);
      } else if (peer_finished_) {
        Complete(read_handler_, asio::error::eof, 0);
      }
    }
    // About to sleep: say what for, then look once more (SetWaiting).
    const bool for_data = read_handler_ != nullptr, for_room = write_handler_ != nullptr;
    if (for_data == waits_for_data_ && for_room == waits_for_room_) break;
    waits_for_data_ = for_data;
    waits_for_room_ = for_room;
    channel_.SetWaiting(for_data, for_room);
    if (!for_data && !for_room) break;
  }
  if ((wrote && channel_.PeerWaitsForData()) || (read && channel_.PeerWaitsForRoom())) Ring();
  Arm();
}

void ShmLink::Ring() {
  if (!doorbell_open_) return;
  const uint8_t one = 1;
  // A full socket means the peer has wake-ups waiting already.
  (void)::send(socket_->native_handle(), &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void ShmLink::Arm() {
  if (armed_ || closed_ || !doorbell_open_ || (!read_handler_ && !write_handler_)) return;
  armed_ = true;
  socket_->async_wait(Descriptor::wait_read,
                      [self = shared_from_this()](const asio::error_code& ec) {
                        self->armed_ = false;
                        if (ec || self->closed_) return;
                        // Bounded: a peer ringing as fast as we read gets
                        // the loop back after these (the wait fires again).
                        std::array<uint8_t, 64> drain{};
                        for (int i = 0; i < 64; ++i) {
                          const ssize_t n = ::recv(self->socket_->native_handle(), drain.data(),
                                                   drain.size(), MSG_DONTWAIT);
                          if (n == 0) self->doorbell_open_ = false;  // the peer is gone
                          if (n <= 0) break;
                        }
                        self->Progress();
                      });
}

}  // namespace murmur::net
