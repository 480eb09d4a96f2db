#include "runtime/connection.h"

#include <algorithm>
#include <utility>

#include "murmur/core/check.h"

namespace murmur::net {

using asio::ip::tcp;

Connection::Connection(const ConnectionContext& context, tcp::socket socket, Role role,
                       std::string peer_address)
    : events_(*context.events),
      stats_(*context.stats),
      max_message_bytes_(context.max_message_bytes),
      socket_(std::move(socket)),
      role_(role),
      peer_address_(std::move(peer_address)),
      handshake_(*context.handshake, role),
      dial_stream_(context.handshake->stream),
      parser_(context.max_message_bytes, FramePhase::kHello),
      shm_budget_(context.shm_budget),
      opened_at_(Clock::now()),
      last_heard_(Clock::now()) {}

void Connection::Start() {
  asio::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  // The acceptor answers only a Hello whose mac1 it checked (handshake.h).
  if (role_ == Role::kDialer) {
    out_.push_back(Outgoing{.wire = handshake_.HelloFrame(), .sealed = true});
    WriteMore();
  }
  ReadMore();
}

void Connection::Enqueue(FrameType type, std::vector<uint8_t> plaintext, size_t data_bytes) {
  MURMUR_CHECK(state_ == ConnectionState::kOpen);
  const bool control = IsControlFrame(type) && !control_holds(type);
  (control ? control_ : out_)
      .push_back(Outgoing{.type = type, .plaintext = std::move(plaintext),
                          .data_bytes = data_bytes});
  WriteMore();
}

bool Connection::control_holds(FrameType type) const {
  return std::any_of(control_.begin(), control_.end(),
                     [type](const Outgoing& o) { return o.type == type; });
}

void Connection::Close(const std::string& reason, const std::string& detail) {
  if (state_ == ConnectionState::kClosed) return;
  const ConnectionState was = state_;
  state_ = ConnectionState::kClosed;
  if (shm_) {
    shm_->Close();  // its pending handlers keep it alive; the mappings go with them
    shm_.reset();
  }
  ReleaseShmSlot();
  asio::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  size_t unsent = 0;
  for (const Outgoing& o : out_) unsent += o.data_bytes;
  out_.clear();
  control_.clear();
  events_.OnClosed(shared_from_this(), was, unsent, reason, detail);
}

void Connection::HalfClose() {
  // The owner half-closes an idle connection, but our kShmSwitch may be in
  // flight (it is in no queue), and the peer drains the ring when TCP
  // ends: the write goes first.
  if (writing_) {
    half_close_due_ = true;
    return;
  }
  half_closed_ = true;
  switch_due_ = false;
  asio::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
}

// Paused between messages: the reassembly buffer goes, so the streams of a
// link hold one long message's buffer between them, not one each.
void Connection::PauseReading() {
  paused_ = true;
  if (partial_.empty()) std::vector<uint8_t>().swap(partial_);
}

void Connection::ResumeReading() {
  paused_ = false;
  if (!read_deferred_) return;
  read_deferred_ = false;
  ReadMore();
}

void Connection::ReadMore() {
  if (closed()) return;
  if (paused_) {
    read_deferred_ = true;
    return;
  }
  std::span<uint8_t> into = parser_.NextBuffer();
  if (state_ != ConnectionState::kOpen) {
    stats_.max_handshake_buffer = std::max(stats_.max_handshake_buffer, parser_.buffer_capacity());
  }
  if (peer_switched_ && !shm_in_) return;  // OnShmReady reads on
  if (shm_in_) {
    WatchTcpEnd();
    shm_->AsyncReadSome(into, [self = shared_from_this()](const asio::error_code& ec, size_t n) {
      self->OnRead(ec, n);
    });
    return;
  }
  socket_.async_read_some(asio::buffer(into.data(), into.size()),
                          [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                            self->OnRead(ec, n);
                          });
}

void Connection::OnRead(const asio::error_code& ec, size_t n) {
  if (closed()) return;
  if (ec == asio::error::eof && (parser_.partial_bytes() > 0 || !partial_.empty())) {
    Close("truncated", "the stream ended " + std::to_string(parser_.partial_bytes()) +
                           " bytes into a frame" +
                           (partial_.empty() ? std::string()
                                             : " (" + std::to_string(partial_.size()) +
                                                   " bytes into a chunked message)"));
    return;
  }
  if (ec == asio::error::eof && keep_open_on_eof && state_ == ConnectionState::kOpen) {
    events_.OnPeerFinished(shared_from_this());  // it may close us
    return;
  }
  if ((ec == asio::error::eof || ec == asio::error::connection_reset) &&
      role_ == Role::kDialer && state_ == ConnectionState::kHello) {
    // The acceptor says nothing when it refuses a Hello (mac1) or a
    // connection (admission limits): tell the dialer's operator.
    Close("unanswered_hello",
          "the peer closed the connection without answering our hello (another network key, "
          "or its admission limits)");
    return;
  }
  if (ec == asio::error::invalid_argument && shm_in_) {
    Close("bad_shm", "shared memory: " + shm_->error());
    return;
  }
  if (ec) {
    Close(ec == asio::error::eof ? "" : "read_error", "read: " + ec.message());
    return;
  }
  last_heard_ = Clock::now();
  stats_.wire_bytes_received += n;
  Result<std::optional<Frame>> frame = parser_.Commit(n);
  if (!frame.ok()) {
    Close("bad_header", frame.status().message());
    return;
  }
  if (frame->has_value()) OnFrame(**frame);
  ReadMore();
}

void Connection::OnFrame(Frame& frame) {
  switch (state_) {
    case ConnectionState::kHello:
      if (frame.header.type == FrameType::kCookieReply) {
        OnCookieReply(frame);
      } else {
        OnHello(frame);
      }
      return;
    case ConnectionState::kAuth:
      OnAuth(frame);
      return;
    case ConnectionState::kOpen:
      OnSealedFrame(frame);
      return;
    case ConnectionState::kClosed:
      return;
  }
}

void Connection::OnHello(Frame& frame) {
  if (role_ == Role::kAcceptor && !HelloPassesCookie(frame)) return;
  if (Status s = handshake_.OnHello(frame); !s.ok()) {
    Close(s.code() == StatusCode::kAborted ? "bad_hello_mac" : "handshake", s.message());
    return;
  }
  if (role_ == Role::kAcceptor) {
    ++stats_.hello_key_exchanges;
    out_.push_back(Outgoing{.wire = handshake_.HelloFrame(), .sealed = true});
  }
  out_.push_back(Outgoing{.wire = handshake_.AuthFrame(), .sealed = true});
  WriteMore();
  state_ = ConnectionState::kAuth;
}

// An acceptor's checks before any asymmetric crypto: mac1, then, under
// load, mac2 under a cookie for this address. A Hello without one is
// answered with a CookieReply (once per connection: a second one without
// it closes the connection) and forgotten.
bool Connection::HelloPassesCookie(const Frame& hello) {
  if (Status s = handshake_.CheckMac1(hello); !s.ok()) {
    Close(s.code() == StatusCode::kAborted ? "bad_hello_mac" : "handshake", s.message());
    return false;
  }
  const std::vector<Cookie> cookies = events_.HelloCookies(*this);
  if (cookies.empty()) return true;
  for (const Cookie& cookie : cookies) {
    if (handshake_.HasMac2(hello, cookie)) {
      ++stats_.cookies_accepted;
      return true;
    }
  }
  if (cookie_exchanged_) {
    Close("bad_cookie", "a second hello under load without a valid cookie");
    return false;
  }
  cookie_exchanged_ = true;
  ++stats_.cookie_replies;
  parser_.ExpectHelloAgain();
  out_.push_back(Outgoing{.wire = handshake_.CookieReplyFrame(hello, cookies.front()),
                          .sealed = true});
  WriteMore();
  return false;
}

// A dialer's: the acceptor is under load and wants our Hello again with
// mac2 under the cookie it sent.
void Connection::OnCookieReply(const Frame& frame) {
  if (role_ != Role::kDialer || cookie_exchanged_) {
    Close("unexpected_frame", role_ == Role::kDialer ? "a second cookie reply"
                                                     : "a cookie reply from a dialer");
    return;
  }
  if (Status s = handshake_.OnCookieReply(frame); !s.ok()) {
    Close("bad_cookie_reply", s.message());
    return;
  }
  cookie_exchanged_ = true;
  out_.push_back(Outgoing{.wire = handshake_.HelloFrame(), .sealed = true});
  WriteMore();
}

void Connection::OnAuth(Frame& frame) {
  Result<PeerRecord> record = handshake_.OnAuth(frame);
  if (!record.ok()) {
    const bool refused = record.status().code() == StatusCode::kAborted;
    Close(refused ? "not_admitted" : "handshake", record.status().message());
    return;
  }
  if (Status s = events_.Admit(*record); !s.ok()) {
    Close("slot_taken", s.message());
    return;
  }
  cipher_.emplace(handshake_.TakeCipher());
  slot_ = record->slot;
  stream_ = role_ == Role::kDialer ? dial_stream_ : handshake_.peer_stream();
  session_id_ = handshake_.session_id();
  peer_link_session_ = handshake_.peer_link_session();
  state_ = ConnectionState::kOpen;
  events_.OnAuthenticated(shared_from_this(), *record);
  // After the owner's verdict: a link's control stream carries no data.
  if (open() && role_ == Role::kAcceptor && !control_only && ShmEligible()) OfferShm();
}

void Connection::OnSealedFrame(Frame& frame) {
  // The parser refuses handshake frames in its open phase, and every
  // frame it accepts then is at least a tag long.
  if (shm_in_) {
    frame.payload.resize(frame.payload.size() - kMacSize);  // unsealed (WriteSealed)
  } else if (Status s = cipher_->Open(frame); !s.ok()) {
    Close("bad_mac", s.message());
    return;
  }
  if (control_only &&
      (frame.header.type == FrameType::kData || frame.header.type == FrameType::kDataPart)) {
    Close("unexpected_frame", "a data frame on a link's control stream");
    return;
  }
  if (frame.header.type == FrameType::kShmOffer || frame.header.type == FrameType::kShmSwitch) {
    if (frame.header.type == FrameType::kShmOffer) {
      OnShmOffer();
    } else {
      OnShmSwitch();
    }
    parser_.Recycle(std::move(frame.payload));
    return;
  }
  if (frame.header.type == FrameType::kDataPart ||
      (frame.header.type == FrameType::kData && !partial_.empty())) {
    if (partial_.size() + frame.payload.size() > max_message_bytes_) {
      Close("oversized", "chunked message exceeds max_message_bytes");
      return;
    }
    partial_.insert(partial_.end(), frame.payload.begin(), frame.payload.end());
    parser_.Recycle(std::move(frame.payload));
    if (frame.header.type == FrameType::kDataPart) return;
    // The node copies what it keeps, so the buffer (and its pages) serves
    // the next long message too.
    auto self = shared_from_this();
    events_.OnFrame(self, FrameType::kData, partial_);
    partial_.clear();
    if (paused_) std::vector<uint8_t>().swap(partial_);  // see PauseReading
    return;
  }
  // Heartbeats and Peers may come between the chunks of a message (the
  // sender's control queue goes first); a Bye may not.
  if (!partial_.empty() && !IsControlFrame(frame.header.type)) {
    Close("unexpected_frame", "a bye inside a chunked message");
    return;
  }
  events_.OnFrame(shared_from_this(), frame.header.type, frame.payload);
  // The next frame reuses the buffer and its pages.
  parser_.Recycle(std::move(frame.payload));
}

// Control frames go first at every frame boundary, except before a
// handshake frame still queued (our Auth must precede every sealed frame:
// the counters start there).
void Connection::WriteMore() {
  if (writing_ || closed()) return;
  const bool handshake_next = !out_.empty() && !out_.front().wire.empty();
  if (switch_due_ && !handshake_next) {
    // Our last frame on TCP: the peer reads the ring from the next one.
    switch_due_ = false;
    writing_ = switching_ = true;
    cipher_->SealInto(FrameType::kShmSwitch, {}, switch_wire_);
    asio::async_write(socket_, asio::buffer(switch_wire_),
                      [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                        self->OnWritten(ec, n);
                      });
    return;
  }
  writing_control_ = !control_.empty() && !handshake_next;
  if (!writing_control_ && out_.empty()) return;
  writing_ = true;
  Outgoing& next = writing_control_ ? control_.front() : out_.front();
  if (!next.wire.empty()) {  // a handshake frame, sealed by the handshake
    MURMUR_CHECK(!shm_out_);
    next.sealed = true;
    asio::async_write(socket_, asio::buffer(next.wire),
                      [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                        self->OnWritten(ec, n);
                      });
    return;
  }
  WriteSealed(next);
}

void Connection::WriteSealed(Outgoing& next) {
  if (!next.sealed) {
    const std::span<uint8_t> rest = std::span(next.plaintext).subspan(next.offset);
    const bool part = next.type == FrameType::kData && rest.size() > kDataChunk;
    const size_t n = part ? kDataChunk : rest.size();
    const FrameType type = part ? FrameType::kDataPart : next.type;
    if (shm_out_) {
      // Shared memory only the peer maps: no one else to seal against
      // (shm_link.h); the frame keeps its layout, with a zero tag.
      next.head = EncodeFrameHeader(
          FrameHeader{.type = type, .length = static_cast<uint32_t>(n + kMacSize)});
      next.tag.fill(0);
    } else {
      cipher_->SealInPlace(type, rest.first(n), next.head, next.tag);
    }
    next.sealed_from = next.offset;
    next.offset += n;
    next.sealed = true;
  }
  if (shm_out_) {
    shm_->AsyncWrite({std::span<const uint8_t>(next.head),
                      std::span<const uint8_t>(next.plaintext)
                          .subspan(next.sealed_from, next.offset - next.sealed_from),
                      std::span<const uint8_t>(next.tag)},
                     [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                       self->OnWritten(ec, n);
                     });
    return;
  }
  const std::array<asio::const_buffer, 3> gather = {
      asio::buffer(next.head),
      asio::buffer(next.plaintext.data() + next.sealed_from, next.offset - next.sealed_from),
      asio::buffer(next.tag)};
  asio::async_write(socket_, gather,
                    [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                      self->OnWritten(ec, n);
                    });
}

void Connection::OnWritten(const asio::error_code& ec, size_t n) {
  writing_ = false;
  if (closed()) return;
  if (ec == asio::error::invalid_argument && shm_out_) {
    Close("bad_shm", "shared memory: " + shm_->error());
    return;
  }
  if (ec) {
    Close("write_error", "write: " + ec.message());
    return;
  }
  stats_.wire_bytes_sent += n;
  if (std::exchange(switching_, false)) {
    shm_out_ = true;
    if (std::exchange(half_close_due_, false)) {
      HalfClose();  // requested while the switch was in flight: nothing follows it
      return;
    }
    WriteMore();
    if (idle()) events_.OnIdle(*this);
    return;
  }
  if (writing_control_) {
    control_.pop_front();
    WriteMore();
    if (idle()) events_.OnIdle(*this);
    return;
  }
  Outgoing& done = out_.front();
  if (done.offset < done.plaintext.size()) {  // more chunks of this message
    done.sealed = false;
    WriteMore();
    return;
  }
  const size_t data_bytes = done.data_bytes;
  out_.pop_front();
  if (data_bytes > 0) events_.OnSent(*this, data_bytes);
  WriteMore();
  if (idle()) events_.OnIdle(*this);
}

}  // namespace murmur::net
