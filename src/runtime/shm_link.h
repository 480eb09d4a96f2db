// A connection's same-host data path (docs/runtime.md, "Peers on the same
// host"), private to the runtime: the two shared-memory rings of a
// ShmChannel, set up over a Unix socket and then used as a byte stream in
// place of the TCP socket (connection.h decides when).
//
// Set-up, once the TCP session is authenticated and both of its addresses
// are loopback ones (so the two processes share a network namespace): the
// acceptor binds a SOCK_SEQPACKET socket in the abstract namespace under a
// name derived from the session id and says so over the sealed session
// (kShmOffer). The dialer connects and sends a proof (BLAKE2b keyed by the
// session id) with its region's memfd (SCM_RIGHTS); the acceptor checks
// the proof, maps the region and answers with its own proof and memfd,
// which the dialer checks the same way. Anyone on the host can read the
// name (/proc/net/unix) and connect, but without the session id cannot
// make the proof: such a connection is closed and the acceptor listens on
// (up to kMaxShmCandidates at once), keeping the name bound until a dialer
// proved itself, so nobody else can take the name and sit between the two.
// A set-up that has not ended after `timeout` fails; a failed set-up
// leaves the session on TCP. The Unix socket stays open as the doorbell: a 1-byte message
// after bytes were published or room freed, when the peer said it waits
// for them (ShmChannel::SetWaiting; sent with MSG_DONTWAIT, so a peer that
// does not read cannot block us).
//
// Frames travel the rings unsealed (connection.cc): sealing protects bytes
// on a network, and these never leave the two processes' memory. A ring
// is written only once the other end proved the session key, a region can
// be mapped read-only only by whoever receives it, and a third process
// that could read the rings anyway (root, or one allowed to ptrace either
// end) could read the session keys just as well. Loop thread only; held by a
// shared_ptr (its pending waits keep it alive).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/runtime/handshake.h"
#include "runtime/asio.h"
#include "runtime/shm_channel.h"

namespace murmur::net {

// Connections to one rendezvous waiting for their proof at once; more are
// closed as they come.
inline constexpr size_t kMaxShmCandidates = 4;

class ShmLink : public std::enable_shared_from_this<ShmLink> {
 public:
  using Handler = std::function<void(const asio::error_code&, size_t)>;
  // Called once when the set-up ends: Ok, or why it failed.
  using OnReady = std::function<void(const Status&)>;

  // The acceptor's side: binds the rendezvous socket and waits for the
  // dialer; when one proved itself, `admit` says whether there is room for
  // one more link (else the set-up ends, kUnavailable). kUnavailable when
  // this machine cannot (no memfd, bind failed). An offer nobody takes
  // costs sockets and an unwritten memfd (no memory) until `timeout`.
  static Result<std::shared_ptr<ShmLink>> Offer(const asio::any_io_executor& executor,
                                                const SessionId& session, size_t ring_bytes,
                                                std::chrono::steady_clock::duration timeout,
                                                std::function<bool()> admit, OnReady on_ready);
  // The dialer's side, on the acceptor's kShmOffer: connects and sends.
  static Result<std::shared_ptr<ShmLink>> Answer(const asio::any_io_executor& executor,
                                                 const SessionId& session, size_t ring_bytes,
                                                 std::chrono::steady_clock::duration timeout,
                                                 OnReady on_ready);

  ShmLink(const asio::any_io_executor& executor, const SessionId& session, ShmChannel channel,
          OnReady on_ready);

  bool ready() const { return ready_; }
  // Completes with at least one byte, or with asio::error::eof once the
  // peer finished (PeerFinished) and every byte it published was read, or
  // with an error (error() says which). One read at a time. REQUIRES: ready().
  void AsyncReadSome(std::span<uint8_t> into, Handler handler);
  // Completes once every byte of `parts` is in the ring. One write at a
  // time. REQUIRES: ready().
  void AsyncWrite(std::array<std::span<const uint8_t>, 3> parts, Handler handler);
  // The peer's TCP stream ended: it will publish nothing more.
  void PeerFinished();
  // Stops everything; pending handlers complete with operation_aborted.
  void Close();
  // Why a read or write failed (the peer broke the ring's rules).
  const std::string& error() const { return error_; }

  // The rendezvous name for `session` (tests).
  static std::string RendezvousName(const SessionId& session);

 private:
  enum class Proof : uint8_t { kDialer, kAcceptor };
  static std::array<uint8_t, 32> MakeProof(const SessionId& session, Proof who);

  using Descriptor = asio::posix::stream_descriptor;
  void StartTimer(std::chrono::steady_clock::duration timeout);
  void AcceptDialer();
  // Waits for the peer's one set-up message on `socket`: its proof and
  // exactly one memfd. The acceptor reads candidates (any local process);
  // the dialer, the acceptor's answer.
  void AwaitProof(std::shared_ptr<Descriptor> socket, Proof expected);
  // The proof and region from `socket` checked out (the acceptor answers).
  void OnProven(std::shared_ptr<Descriptor> socket, Proof expected, UniqueFd region);
  // Sends our proof and memfd; false (and error_) when the socket refuses.
  bool SendRegion(Proof who);
  void Finish(const Status& status);
  void Progress();
  void Arm();
  void Ring();
  void Complete(Handler& handler, const asio::error_code& ec, size_t n);

  asio::any_io_executor executor_;
  SessionId session_;
  ShmChannel channel_;
  OnReady on_ready_;
  std::function<bool()> admit_;  // the acceptor's
  std::optional<Descriptor> listener_;
  std::vector<std::shared_ptr<Descriptor>> candidates_;  // the acceptor's, unproven
  std::shared_ptr<Descriptor> socket_;                   // the peer's, then the doorbell
  std::optional<asio::steady_timer> timer_;
  bool ready_ = false;
  bool closed_ = false;
  bool armed_ = false;
  bool peer_finished_ = false;
  bool doorbell_open_ = true;
  bool waits_for_data_ = false;  // what we last told the peer (SetWaiting)
  bool waits_for_room_ = false;
  std::string error_;

  std::span<uint8_t> read_into_;
  Handler read_handler_;
  std::array<std::span<const uint8_t>, 3> write_parts_{};
  size_t write_part_ = 0;
  size_t write_done_ = 0;
  size_t write_total_ = 0;
  Handler write_handler_;
};

}  // namespace murmur::net
