// One TCP connection of a NetHost (net_host.h), private to the runtime:
// the handshake (runtime/handshake.h), then sealed frames both ways. It
// owns its socket, frame parser, send queue and reassembly buffer and
// enforces their bounds (kMaxHandshakePayload before authentication, one
// kDataChunk per frame after, max_message_bytes per chunked message), and
// reports what happens to a ConnectionEvents: it knows nothing of slots,
// membership or the node. Any violation closes it with a reason (a counter
// suffix such as "bad_mac"). Between two processes on the same host, the
// frames move to shared memory after the handshake (shm_link.h: the
// acceptor offers; the dialer, its set-up done, says kShmSwitch on TCP as
// its last frame there, and the acceptor answers with its own; TCP then
// only tells when the peer is gone). Loop thread only; kept alive by the
// shared_ptrs of its pending Asio operations and of its owner.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/runtime/frame.h"
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/net_host.h"
#include "runtime/asio.h"
#include "runtime/shm_link.h"

namespace murmur::net {

class Connection;
using ConnectionPtr = std::shared_ptr<Connection>;

enum class ConnectionState { kHello, kAuth, kOpen, kClosed };

// What a connection reports to its owner, on the loop thread. The
// connection may be closed from inside any of these.
class ConnectionEvents {
 public:
  virtual ~ConnectionEvents() = default;
  // The cookies a Hello on `conn` (an acceptor's) must carry a mac2 under
  // (cookie.h; the one to hand out first), or none when the host is not
  // under load.
  virtual std::vector<Cookie> HelloCookies(const Connection& conn) = 0;
  // The peer's Auth verified (signatures, slot range, allowlist). Ok lets
  // the session open; an error closes the connection as "slot_taken".
  virtual Status Admit(const PeerRecord& record) = 0;
  // The session is open (conn->open()); `record` is the peer's.
  virtual void OnAuthenticated(const ConnectionPtr& conn, const PeerRecord& record) = 0;
  // A frame opened after authentication; a chunked message arrives once,
  // whole, as kData. `payload` is valid during the call only.
  virtual void OnFrame(const ConnectionPtr& conn, FrameType type,
                       std::span<const uint8_t> payload) = 0;
  // A queued message of `data_bytes` (> 0) was written out.
  virtual void OnSent(const Connection& conn, size_t data_bytes) = 0;
  // The send queue became empty.
  virtual void OnIdle(const Connection& conn) = 0;
  // The peer ended its stream in order on a connection that keeps open on
  // EOF (keep_open_on_eof): it reads no more; the owner closes it or not.
  virtual void OnPeerFinished(const ConnectionPtr& conn) = 0;
  // Closed (once). `was`: the state before; `unsent`: the data bytes still
  // queued, now dropped; `reason`: a counter suffix, or empty for an
  // orderly close that is no peer's fault.
  virtual void OnClosed(const ConnectionPtr& conn, ConnectionState was, size_t unsent,
                        const std::string& reason, const std::string& detail) = 0;
};

// A host's shared-memory rings (shm_link.h): their size and how many of
// its connections may hold them at once, so memory stays bounded however
// many peers share the host. Loop thread only.
struct ShmBudget {
  size_t ring_bytes = 0;  // per direction; 0: TCP only
  size_t max_links = 0;
  std::chrono::steady_clock::duration setup_timeout = std::chrono::seconds(5);
  size_t in_use = 0;
};

struct ConnectionContext {
  const HandshakeConfig* handshake = nullptr;  // copied; what it points to must outlive
  size_t max_message_bytes = 0;
  ConnectionEvents* events = nullptr;          // must outlive the connection
  NetStats* stats = nullptr;                   // wire bytes, handshake buffer
  // The same-host data path (shm_link.h), taken when both of the
  // connection's addresses are loopback ones, the budget has room and the
  // peer agrees; null: TCP only. Must outlive the connection.
  ShmBudget* shm_budget = nullptr;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(const ConnectionContext& context, asio::ip::tcp::socket socket, Role role,
             std::string peer_address);

  // Sends our Hello and starts reading. Call once, on a shared_ptr.
  void Start();
  // Queues a frame, sealed when it reaches the head of its queue (so
  // sealing one frame overlaps with the peer opening the previous one);
  // `data_bytes` is what OnSent reports for it (0 for control frames).
  // Heartbeat and Peers frames go to the control queue, which is written
  // first at every frame boundary, also between the chunks of a long
  // message; Data and Bye keep their order in the data queue. The control
  // queue holds at most one frame of each type (the one being written
  // included): a Heartbeat or Peers frame whose type it already holds
  // waits in the data queue, in order, so a stream of them (relayed
  // records) cannot starve the data; the owner counts such a frame like
  // data, through `data_bytes` (control_holds says where it will go).
  // REQUIRES: open().
  void Enqueue(FrameType type, std::vector<uint8_t> plaintext, size_t data_bytes);
  // Closes once; see ConnectionEvents::OnClosed.
  void Close(const std::string& reason, const std::string& detail);
  // Stops sending (shutdown): the peer reads what is in flight, then EOF.
  void HalfClose();
  // Stops reading at the next frame boundary / reads again (a link's data
  // streams take turns, net_host_streams.cc): what the peer sends waits in
  // the kernel's buffers, so a paused connection holds no more memory.
  void PauseReading();
  void ResumeReading();

  bool open() const { return state_ == ConnectionState::kOpen; }
  bool closed() const { return state_ == ConnectionState::kClosed; }
  bool idle() const { return out_.empty() && control_.empty(); }
  // The control queue is empty: no Heartbeat or Peers frame waits there
  // or is being written (one may still wait in the data queue).
  bool control_idle() const { return control_.empty(); }
  // The control queue holds a frame of `type` (queued or being written):
  // Enqueue puts the next one of that type in the data queue.
  bool control_holds(FrameType type) const;
  size_t control_queued() const { return control_.size(); }
  Role role() const { return role_; }
  // The peer's slot and which stream of its link this connection is (0:
  // the first). REQUIRES: it authenticated.
  PeerId slot() const { return slot_; }
  uint8_t stream() const { return stream_; }
  // The stream index this connection claims as a dialer (0 for acceptors).
  uint8_t dial_stream() const { return dial_stream_; }
  // This session's id (Handshake::session_id), and for an accepted stream
  // > 0 the id of the stream-0 session its dialer says it belongs to.
  // REQUIRES: it authenticated.
  const SessionId& session_id() const { return session_id_; }
  const SessionId& peer_link_session() const { return peer_link_session_; }
  const std::string& peer_address() const { return peer_address_; }
  Clock::time_point opened_at() const { return opened_at_; }
  Clock::time_point last_heard() const { return last_heard_; }
  // Memory its reassembly buffer holds (long messages, kept for reuse).
  size_t reassembly_capacity() const { return partial_.capacity(); }

  // The owner's notes on why it dialed (unset for accepted connections).
  std::optional<PeerId> dialed_for;  // the slot dialed, if known
  std::optional<size_t> bootstrap;   // the bootstrap address dialed, if any
  // A link's further stream: the link's first connection it was dialed for.
  std::weak_ptr<Connection> stream_of;
  // The source address admission control counted (accepted ones only).
  std::optional<std::string> admitted_from;
  // Whether admission control counts it as an authenticated peer on
  // `admitted_from` (an address that is then never banned).
  bool vouches_for_address = false;
  // An orderly end of the peer's stream stops reading instead of closing
  // and is reported (OnPeerFinished): a link's control stream, whose data
  // streams may still be draining.
  bool keep_open_on_eof = false;
  // Refuses Data and DataPart frames ("unexpected_frame"): a link's
  // control stream, so that only its turn stream ever reassembles.
  bool control_only = false;

 private:
  // A queued frame: handshake frames come sealed (`wire`); the others are
  // sealed in place, one kDataChunk of `plaintext` at a time, and written
  // as header, that span of `plaintext`, tag (no copy).
  struct Outgoing {
    FrameType type = FrameType::kData;
    std::vector<uint8_t> plaintext;
    std::vector<uint8_t> wire;
    bool sealed = false;
    size_t data_bytes = 0;
    size_t offset = 0;  // Data: plaintext bytes already sealed into chunks
    size_t sealed_from = 0;  // where the chunk being written starts
    std::array<uint8_t, kFrameHeaderSize> head{};
    std::array<uint8_t, kMacSize> tag{};
  };

  void ReadMore();
  void OnRead(const asio::error_code& ec, size_t n);
  void OnFrame(Frame& frame);
  void OnHello(Frame& frame);
  bool HelloPassesCookie(const Frame& hello);
  void OnCookieReply(const Frame& frame);
  void OnAuth(Frame& frame);
  void OnSealedFrame(Frame& frame);
  // Seals `next`'s next frame (a chunk of a long Data) and writes it.
  void WriteSealed(Outgoing& next);
  void WriteMore();
  void OnWritten(const asio::error_code& ec, size_t n);
  // The same-host data path (shm_link.h).
  bool ShmEligible() const;
  void OfferShm();
  void OnShmOffer();
  void OnShmSwitch();
  void OnShmReady(const Status& status);
  // Our kShmSwitch goes out at the next frame boundary.
  void SwitchOut();
  ShmLink::OnReady ShmReadyCallback();
  bool TakeShmSlot();
  void ReleaseShmSlot();
  void WatchTcpEnd();

  ConnectionEvents& events_;
  NetStats& stats_;
  const size_t max_message_bytes_;
  asio::ip::tcp::socket socket_;
  const Role role_;
  const std::string peer_address_;
  Handshake handshake_;
  const uint8_t dial_stream_;  // the stream index a dialer claims
  std::optional<SessionCipher> cipher_;
  FrameParser parser_;
  ConnectionState state_ = ConnectionState::kHello;
  PeerId slot_;
  uint8_t stream_ = 0;
  SessionId session_id_{};
  SessionId peer_link_session_{};
  bool paused_ = false;
  bool read_deferred_ = false;  // ReadMore was due while paused
  std::deque<Outgoing> out_;      // handshake frames, then Data and Bye
  std::deque<Outgoing> control_;  // Heartbeat and Peers: before out_'s next frame
  std::vector<uint8_t> partial_;  // leading chunks of a message being received
  bool writing_ = false;
  bool writing_control_ = false;  // the write in flight is control_.front()'s
  bool cookie_exchanged_ = false;  // one CookieReply per connection, either way
  ShmBudget* const shm_budget_;
  bool holds_shm_slot_ = false;
  std::shared_ptr<ShmLink> shm_;
  bool shm_out_ = false;        // our frames go through shm_
  bool shm_in_ = false;         // the peer's frames come through shm_
  bool switch_due_ = false;     // kShmSwitch goes out at the next frame boundary
  bool switching_ = false;      // the write in flight is our kShmSwitch
  bool peer_switched_ = false;  // its kShmSwitch came before our set-up ended
  bool watching_tcp_ = false;
  bool half_close_due_ = false;  // HalfClose waits for the write in flight
  bool half_closed_ = false;     // we send nothing more: no switch either
  std::vector<uint8_t> switch_wire_;
  std::array<uint8_t, 1> tcp_probe_{};
  const Clock::time_point opened_at_;
  Clock::time_point last_heard_;
};

}  // namespace murmur::net
