#include "murmur/runtime/net_host.h"

#include <asio.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "murmur/runtime/handshake.h"

namespace murmur::net {
namespace {

using Clock = std::chrono::steady_clock;
using asio::ip::tcp;

std::chrono::nanoseconds ToChrono(Duration d) { return std::chrono::nanoseconds(d.ns); }

uint64_t UnixMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Result<tcp::endpoint> ParseEndpoint(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("address '", address, "' is not HOST:PORT");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = address.substr(colon + 1);
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("address '", address, "': port '", port_text,
                                   "' is not 0..65535");
  }
  asio::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    return Status::InvalidArgument("address '", address, "': '", host,
                                   "' is not a numeric IP address");
  }
  return tcp::endpoint(ip, static_cast<uint16_t>(port));
}

std::string ToString(const tcp::endpoint& e) {
  std::string out;
  if (e.address().is_v6()) out.push_back('[');
  out.append(e.address().to_string());
  if (e.address().is_v6()) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(e.port()));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------

class NetHost::Impl {
 public:
  class Connection;
  using ConnectionPtr = std::shared_ptr<Connection>;

  Impl(NetHost& host, const NetOptions& options, NetSecurity security, MetricsSink& sink)
      : host_(host),
        options_(options),
        security_(std::move(security)),
        sink_(sink),
        rng_(options.seed, options.self, RngPurpose::kProtocol),
        epoch_(Clock::now()),
        acceptor_(io_),
        heartbeat_(io_),
        start_timer_(io_),
        slots_(options.num_slots) {}

  ~Impl() {
    {
      std::lock_guard lock(compute_mu_);
      worker_exit_ = true;
    }
    compute_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  Status Bind() {
    MURMUR_ASSIGN_OR_RETURN(tcp::endpoint endpoint, ParseEndpoint(options_.listen));
    asio::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable("cannot listen on ", options_.listen, ": ", ec.message());
    }
    bound_ = ToString(acceptor_.local_endpoint());
    const std::string advertised = options_.advertise.empty() ? bound_ : options_.advertise;
    if (advertised.size() > 255) {
      return Status::InvalidArgument("advertised address '", advertised, "' is too long");
    }
    self_record_ = PeerRecord::Make(security_.identity, options_.self, advertised, UnixMillis());
    handshake_config_ = HandshakeConfig{.identity = &security_.identity,
                                        .network_key = security_.network_key,
                                        .allowlist = &security_.allowlist,
                                        .self_record = self_record_,
                                        .num_slots = options_.num_slots};
    return Status::Ok();
  }

  Status Run(Node& node, const std::function<bool()>& stop) {
    node_ = &node;
    stop_ = stop;
    worker_ = std::thread([this] { WorkerLoop(); });
    Accept();
    for (const std::string& address : options_.bootstrap) {
      Result<tcp::endpoint> endpoint = ParseEndpoint(address);
      if (!endpoint.ok()) return endpoint.status();
      bootstrap_.push_back(Bootstrap{.endpoint = *endpoint, .backoff = options_.backoff_min});
    }
    for (size_t i = 0; i < bootstrap_.size(); ++i) DialBootstrap(i);
    ScheduleHeartbeat();
    if (options_.handle_signals) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      signals_.async_wait([this](const asio::error_code& ec, int signal) {
        if (ec) return;
        std::fprintf(stderr, "[peer %u] signal %d: saying bye\n", options_.self.value, signal);
        interrupted_ = true;
        BeginShutdown();
      });
    }
    start_timer_.expires_after(ToChrono(options_.start_timeout));
    start_timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec && !started_) {
        std::fprintf(stderr, "[peer %u] starting after %.1fs without a full mesh\n",
                     options_.self.value, options_.start_timeout.seconds());
        StartNode();
      }
    });
    MaybeStartNode();
    io_.run();
    return interrupted_ ? Status::Aborted("interrupted") : Status::Ok();
  }

  void Shutdown() {
    asio::post(io_, [this] {
      interrupted_ = true;
      BeginShutdown();
    });
  }

  // --- Host -----------------------------------------------------------------

  SimTime now() const {
    return SimTime{std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - epoch_)
                       .count()};
  }

  void Send(PeerId to, std::vector<uint8_t> message) {
    MURMUR_CHECK(to.value < slots_.size() && to != options_.self);
    if (stopping_) return;
    Slot& slot = slots_[to.value];
    if (message.size() > options_.max_message_bytes) {
      Count("net.send_oversized");
      std::fprintf(stderr, "[peer %u] dropping a %zu-byte message to peer %u: over the %zu-byte limit\n",
                   options_.self.value, message.size(), to.value, options_.max_message_bytes);
      return;
    }
    if (slot.queued_bytes > 0 && slot.queued_bytes + message.size() > options_.send_queue_bytes) {
      ++stats_.send_dropped;
      Count("net.send_dropped");
      return;
    }
    ++stats_.msgs_sent;
    stats_.bytes_sent += message.size();
    slot.queued_bytes += message.size();
    if (slot.conn) {
      const size_t size = message.size();
      slot.conn->Enqueue(FrameType::kData, std::move(message), size);
    } else {
      slot.pending.push_back(std::move(message));
    }
  }

  TimerId StartTimer(Duration after) {
    const TimerId id(next_timer_++);
    auto timer = std::make_shared<asio::steady_timer>(io_, ToChrono(after));
    timer->async_wait([this, timer, id](const asio::error_code& ec) {
      if (ec || stopping_) return;
      node_->OnTimer(host_, id);
      CheckStop();
    });
    return id;
  }

  void RunCompute(ComputeTask task) {
    std::lock_guard lock(compute_mu_);
    MURMUR_CHECK(!task_.has_value() && !compute_busy_);  // one task in flight
    compute_busy_ = true;
    task_ = std::move(task);
    compute_cv_.notify_all();
  }

  void ReportBadPeer(PeerId peer, const Status& why) {
    Count("net.bad_peer_reports");
    std::fprintf(stderr, "[peer %u] rejected a message from peer %u: %s\n", options_.self.value,
                 peer.value, why.ToString().c_str());
    if (peer.value < slots_.size() && slots_[peer.value].conn) {
      slots_[peer.value].conn->Close("bad_message", why.ToString());
    }
  }

  // --- connections ------------------------------------------------------------

  class Connection : public std::enable_shared_from_this<Connection> {
   public:
    enum class State { kHello, kAuth, kOpen, kClosed };

    Connection(Impl& impl, tcp::socket socket, Role role, std::string peer_address)
        : impl_(impl),
          socket_(std::move(socket)),
          role_(role),
          peer_address_(std::move(peer_address)),
          handshake_(impl.handshake_config_, role),
          parser_(impl.options_.max_message_bytes, FramePhase::kHello),
          opened_at_(Clock::now()),
          last_heard_(Clock::now()) {}

    void Start() {
      asio::error_code ec;
      socket_.set_option(tcp::no_delay(true), ec);
      const auto hello = handshake_.HelloFrame();
      out_.push_back(Outgoing{.wire = hello, .sealed = true});
      WriteMore();
      ReadMore();
    }

    // Queues a frame, sealed when it reaches the head of the queue (so
    // sealing one frame overlaps with the peer opening the previous one);
    // `data_bytes` is what it counts against the slot's queue limit (0 for
    // control frames).
    void Enqueue(FrameType type, std::vector<uint8_t> plaintext, size_t data_bytes) {
      MURMUR_CHECK(state_ == State::kOpen);
      out_.push_back(Outgoing{.type = type, .plaintext = std::move(plaintext),
                              .data_bytes = data_bytes});
      WriteMore();
    }

    // Closes once; `reason` is a counter suffix, or empty for an orderly
    // close that is no peer's fault.
    void Close(const std::string& reason, const std::string& detail) {
      if (state_ == State::kClosed) return;
      const State was = state_;
      state_ = State::kClosed;
      asio::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      socket_.close(ec);
      size_t unsent = 0;
      for (const Outgoing& o : out_) unsent += o.data_bytes;
      out_.clear();
      impl_.OnClosed(shared_from_this(), was, unsent, reason, detail);
    }

    bool open() const { return state_ == State::kOpen; }
    bool closed() const { return state_ == State::kClosed; }
    bool idle() const { return out_.empty(); }
    State state() const { return state_; }
    Role role() const { return role_; }
    PeerId slot() const { return slot_; }
    const std::string& peer_address() const { return peer_address_; }
    Clock::time_point opened_at() const { return opened_at_; }
    Clock::time_point last_heard() const { return last_heard_; }
    bool replaced = false;  // closed because a preferred connection won
    std::optional<PeerId> dialed_for;  // the slot this end dialed, if known
    std::optional<size_t> bootstrap;   // the bootstrap address this end dialed, if any
    void HalfClose() {
      asio::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_send, ec);
    }

   private:
    struct Outgoing {
      FrameType type = FrameType::kData;
      std::vector<uint8_t> plaintext;
      std::vector<uint8_t> wire;
      bool sealed = false;
      size_t data_bytes = 0;
      size_t offset = 0;  // Data: plaintext bytes already sealed into chunks
    };

    void ReadMore() {
      if (closed()) return;
      std::span<uint8_t> into = parser_.NextBuffer();
      if (state_ != State::kOpen) {
        impl_.stats_.max_handshake_buffer =
            std::max(impl_.stats_.max_handshake_buffer, parser_.buffer_capacity());
      }
      socket_.async_read_some(
          asio::buffer(into.data(), into.size()),
          [self = shared_from_this()](const asio::error_code& ec, size_t n) {
            self->OnRead(ec, n);
          });
    }

    void OnRead(const asio::error_code& ec, size_t n) {
      if (closed()) return;
      if (ec == asio::error::eof && (parser_.partial_bytes() > 0 || !partial_.empty())) {
        Close("truncated", "the stream ended " + std::to_string(parser_.partial_bytes()) +
                               " bytes into a frame" +
                               (partial_.empty() ? std::string()
                                                 : " (" + std::to_string(partial_.size()) +
                                                       " bytes into a chunked message)"));
        return;
      }
      if (ec) {
        Close(ec == asio::error::eof ? "" : "read_error", "read: " + ec.message());
        return;
      }
      last_heard_ = Clock::now();
      impl_.stats_.wire_bytes_received += n;
      Result<std::optional<Frame>> frame = parser_.Commit(n);
      if (!frame.ok()) {
        Close("bad_header", frame.status().message());
        return;
      }
      if (frame->has_value()) OnFrame(**frame);
      ReadMore();
    }

    void OnFrame(Frame& frame) {
      switch (state_) {
        case State::kHello: {
          if (Status s = handshake_.OnHello(frame); !s.ok()) {
            Close("handshake", s.message());
            return;
          }
          out_.push_back(Outgoing{.wire = handshake_.AuthFrame(), .sealed = true});
          WriteMore();
          state_ = State::kAuth;
          return;
        }
        case State::kAuth: {
          Result<PeerRecord> record = handshake_.OnAuth(frame);
          if (!record.ok()) {
            const bool refused = record.status().code() == StatusCode::kAborted;
            Close(refused ? "not_admitted" : "handshake", record.status().message());
            return;
          }
          if (Status s = impl_.CheckSlotKey(*record); !s.ok()) {
            Close("slot_taken", s.message());
            return;
          }
          cipher_.emplace(handshake_.TakeCipher());
          slot_ = record->slot;
          state_ = State::kOpen;
          impl_.OnAuthenticated(shared_from_this(), *record);
          return;
        }
        case State::kOpen: {
          // The parser refuses handshake frames in its open phase.
          if (Status s = cipher_->Open(frame); !s.ok()) {
            Close("bad_mac", s.message());
            return;
          }
          if (frame.header.type == FrameType::kDataPart ||
              (frame.header.type == FrameType::kData && !partial_.empty())) {
            if (partial_.size() + frame.payload.size() > impl_.options_.max_message_bytes) {
              Close("oversized", "chunked message exceeds max_message_bytes");
              return;
            }
            partial_.insert(partial_.end(), frame.payload.begin(), frame.payload.end());
            parser_.Recycle(std::move(frame.payload));
            if (frame.header.type == FrameType::kDataPart) return;
            // The node copies what it keeps, so the buffer (and its pages)
            // serves the next long message too.
            auto self = shared_from_this();
            impl_.OnSealedFrame(self, FrameType::kData, partial_);
            partial_.clear();
            return;
          }
          if (!partial_.empty()) {
            Close("unexpected_frame", "a control frame inside a chunked message");
            return;
          }
          impl_.OnSealedFrame(shared_from_this(), frame.header.type, frame.payload);
          return;
        }
        case State::kClosed:
          return;
      }
    }

    void WriteMore() {
      if (writing_ || out_.empty() || closed()) return;
      writing_ = true;
      Outgoing& next = out_.front();
      if (!next.sealed) {
        const std::span<const uint8_t> rest = std::span(next.plaintext).subspan(next.offset);
        const bool part = next.type == FrameType::kData && rest.size() > kDataChunk;
        const size_t n = part ? kDataChunk : rest.size();
        cipher_->SealInto(part ? FrameType::kDataPart : next.type, rest.first(n), next.wire);
        next.offset += n;
        next.sealed = true;
      }
      asio::async_write(socket_, asio::buffer(out_.front().wire),
                        [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                          self->OnWritten(ec, n);
                        });
    }

    void OnWritten(const asio::error_code& ec, size_t n) {
      writing_ = false;
      if (closed()) return;
      if (ec) {
        Close("write_error", "write: " + ec.message());
        return;
      }
      impl_.stats_.wire_bytes_sent += n;
      Outgoing& done = out_.front();
      if (done.offset < done.plaintext.size()) {  // more chunks of this message
        done.sealed = false;
        WriteMore();
        return;
      }
      const size_t data_bytes = done.data_bytes;
      out_.pop_front();
      if (data_bytes > 0) impl_.slots_[slot_.value].queued_bytes -= data_bytes;
      WriteMore();
      if (out_.empty()) impl_.OnDrained();
    }

    Impl& impl_;
    tcp::socket socket_;
    const Role role_;
    const std::string peer_address_;
    Handshake handshake_;
    std::optional<SessionCipher> cipher_;
    FrameParser parser_;
    State state_ = State::kHello;
    PeerId slot_;
    std::deque<Outgoing> out_;
    std::vector<uint8_t> partial_;  // leading chunks of a message being received
    bool writing_ = false;
    const Clock::time_point opened_at_;
    Clock::time_point last_heard_;
  };

  struct Slot {
    ConnectionPtr conn;                        // the authenticated connection
    std::deque<std::vector<uint8_t>> pending;  // messages waiting for one
    size_t queued_bytes = 0;                   // pending + queued on conn
    std::optional<PeerRecord> record;
    bool said_bye = false;
    bool ever_connected = false;
    Duration backoff;
    bool dial_scheduled = false;
    bool dialing = false;
  };

  struct Bootstrap {
    tcp::endpoint endpoint;
    Duration backoff;
    bool done = false;  // a handshake through it succeeded
  };

  void Count(const std::string& name, int64_t delta = 1) { sink_.Count(name, delta); }

  void Accept() {
    acceptor_.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
      if (stopping_) return;
      if (!ec) {
        asio::error_code peer_ec;
        const auto remote = socket.remote_endpoint(peer_ec);
        const std::string address = peer_ec ? "?" : ToString(remote);
        if (unauthenticated_.size() >= options_.max_unauthenticated) {
          CountRejected("too_many_handshakes", address, "too many connections in handshake");
          socket.close(peer_ec);
        } else {
          auto conn = std::make_shared<Connection>(*this, std::move(socket), Role::kAcceptor,
                                                   address);
          unauthenticated_.insert(conn);
          conn->Start();
        }
      }
      Accept();
    });
  }

  void Dial(const tcp::endpoint& endpoint, std::optional<PeerId> slot,
            std::function<void(bool)> done, std::optional<size_t> bootstrap = std::nullopt) {
    ++stats_.dials;
    auto socket = std::make_shared<tcp::socket>(io_);
    socket->async_connect(endpoint, [this, socket, endpoint, slot, bootstrap,
                                     done](const asio::error_code& ec) {
      if (stopping_) return;
      if (ec) {
        done(false);
        return;
      }
      auto conn = std::make_shared<Connection>(*this, std::move(*socket), Role::kDialer,
                                               ToString(endpoint));
      conn->dialed_for = slot;
      conn->bootstrap = bootstrap;
      unauthenticated_.insert(conn);
      conn->Start();
      done(true);
    });
  }

  void DialBootstrap(size_t i) {
    if (stopping_ || bootstrap_[i].done) return;
    Dial(
        bootstrap_[i].endpoint, std::nullopt,
        [this, i](bool ok) {
          // Connected: OnAuthenticated marks it done, OnClosed retries a
          // handshake that failed.
          if (ok) return;
          RetryLater(bootstrap_[i].backoff, [this, i] { DialBootstrap(i); });
        },
        i);
  }

  // Dials `peer` at its recorded address if this end is the pair's dialer.
  void MaybeDialSlot(PeerId peer) {
    Slot& slot = slots_[peer.value];
    if (stopping_ || slot.conn || slot.said_bye || slot.dial_scheduled || slot.dialing ||
        !slot.record || options_.self > peer) {
      return;
    }
    Result<tcp::endpoint> endpoint = ParseEndpoint(slot.record->address);
    if (!endpoint.ok()) return;
    slot.dialing = true;
    // `dialing` stays set through the handshake (OnClosed or
    // OnAuthenticated clears it), so one pair never races two dials.
    Dial(*endpoint, peer, [this, peer](bool ok) {
      if (ok) return;
      slots_[peer.value].dialing = false;
      ScheduleRedial(peer);
    });
  }

  void ScheduleRedial(PeerId peer) {
    Slot& slot = slots_[peer.value];
    if (stopping_ || slot.said_bye || slot.dial_scheduled || options_.self > peer) return;
    slot.dial_scheduled = true;
    if (slot.backoff.ns == 0) slot.backoff = options_.backoff_min;
    RetryLater(slot.backoff, [this, peer] {
      slots_[peer.value].dial_scheduled = false;
      MaybeDialSlot(peer);
    });
  }

  // Runs `retry` after `backoff`, then doubles `backoff` up to backoff_max.
  void RetryLater(Duration& backoff, std::function<void()> retry) {
    auto timer = std::make_shared<asio::steady_timer>(io_, ToChrono(backoff));
    timer->async_wait([this, timer, retry = std::move(retry)](const asio::error_code& ec) {
      if (!ec && !stopping_) retry();
    });
    backoff = std::min(Duration::Nanos(backoff.ns * 2), options_.backoff_max);
  }

  void OnAuthenticated(const ConnectionPtr& conn, const PeerRecord& record) {
    unauthenticated_.erase(conn);
    ++stats_.handshakes;
    for (Bootstrap& b : bootstrap_) {
      if (ToString(b.endpoint) == conn->peer_address()) b.done = true;
    }
    if (conn->dialed_for) slots_[conn->dialed_for->value].dialing = false;
    Slot& slot = slots_[record.slot.value];
    if (slot.conn) {
      // Two connections for one pair: both ends keep the one the lower slot
      // dialed; between two of the same kind, the newer one (the old one is
      // probably a dead incarnation not yet noticed).
      const PeerId lower = std::min(options_.self, record.slot);
      auto dialed_by_lower = [&](const ConnectionPtr& c) {
        return (c->role() == Role::kDialer) == (lower == options_.self);
      };
      ConnectionPtr loser = conn;
      if (dialed_by_lower(conn) || !dialed_by_lower(slot.conn)) loser = slot.conn;
      if (loser == slot.conn) {
        ConnectionPtr old = slot.conn;
        slot.conn = conn;
        old->replaced = true;
        old->Close("", "replaced by a newer connection");
        Count("net.connections_replaced");
      } else {
        conn->replaced = true;
        conn->Close("", "duplicate connection");
        LearnRecord(record, nullptr);
        return;
      }
    } else {
      slot.conn = conn;
    }
    LearnRecord(record, conn.get());
    slot.backoff = options_.backoff_min;
    const bool rejoined = slot.ever_connected;
    slot.ever_connected = true;
    if (rejoined) Count("net.peer_rejoined");
    slot.said_bye = false;
    // What this peer knows of the network, ours included.
    ByteWriter peers;
    uint32_t count = 0;
    for (const Slot& s : slots_) count += s.record ? 1 : 0;
    peers.WriteU32(count + 1);
    self_record_.Encode(peers);
    for (const Slot& s : slots_) {
      if (s.record) s.record->Encode(peers);
    }
    conn->Enqueue(FrameType::kPeers, std::move(peers).Take(), 0);
    while (!slot.pending.empty()) {
      std::vector<uint8_t> message = std::move(slot.pending.front());
      slot.pending.pop_front();
      const size_t size = message.size();
      conn->Enqueue(FrameType::kData, std::move(message), size);
    }
    if (stopping_) conn->Enqueue(FrameType::kBye, {}, 0);
    MaybeStartNode();
  }

  // A slot belongs to the first key that claimed it with a signed record
  // (trust on first use, for this process's lifetime): kAborted naming both
  // keys for a record of the slot signed by another key.
  Status CheckSlotKey(const PeerRecord& record) const {
    if (record.slot.value >= slots_.size()) return Status::Ok();  // the handshake refuses it
    const Slot& slot = slots_[record.slot.value];
    if (!slot.record || slot.record->key == record.key) return Status::Ok();
    return Status::Aborted("slot ", record.slot, " belongs to ", PeerName(slot.record->key),
                           "; refusing ", PeerName(record.key), "'s claim to it");
  }

  // Keeps `record` if it is the slot's newest from the slot's key; relays a
  // new one to every other connected peer (membership exchange), then dials
  // if due.
  void LearnRecord(const PeerRecord& record, const Connection* from) {
    if (record.slot == options_.self || record.slot.value >= slots_.size()) return;
    if (!security_.allowlist.Admit(record.key, record.slot).ok()) {
      Count("net.records_refused");
      return;
    }
    if (Status s = CheckSlotKey(record); !s.ok()) {
      Count("net.records_slot_taken");
      if (++rejected_logged_ <= 50) {
        std::fprintf(stderr, "[peer %u] ignored a peer record: %s\n", options_.self.value,
                     s.message().c_str());
      }
      return;
    }
    Slot& slot = slots_[record.slot.value];
    if (slot.record && slot.record->issued_ms >= record.issued_ms) return;
    const bool moved = slot.record && slot.record->address != record.address;
    // A newer record is a new incarnation: a peer that left with Bye and
    // restarted is to be dialed again.
    if (slot.record && !slot.conn) slot.said_bye = false;
    slot.record = record;
    if (moved) slot.backoff = options_.backoff_min;
    ByteWriter one;
    one.WriteU32(1);
    record.Encode(one);
    for (Slot& other : slots_) {
      if (other.conn && other.conn.get() != from && other.conn->open() &&
          other.conn->slot() != record.slot) {
        other.conn->Enqueue(FrameType::kPeers, one.bytes(), 0);
      }
    }
    MaybeDialSlot(record.slot);
  }

  void OnSealedFrame(const ConnectionPtr& conn, FrameType type,
                     std::span<const uint8_t> payload) {
    const PeerId from = conn->slot();
    if (slots_[from.value].conn != conn) return;  // a replaced connection draining
    switch (type) {
      case FrameType::kData:
        ++stats_.msgs_received;
        stats_.bytes_received += payload.size();
        if (stopping_) return;
        if (!started_) StartNode();
        node_->OnMessage(host_, from, payload);
        CheckStop();
        return;
      case FrameType::kHeartbeat:
        return;
      case FrameType::kPeers: {
        ByteReader in(payload);
        Result<uint32_t> count = in.ReadU32();
        if (!count.ok() || *count > options_.num_slots + 1) {
          conn->Close("bad_record", "peers frame with a bad record count");
          return;
        }
        for (uint32_t i = 0; i < *count; ++i) {
          Result<PeerRecord> record = PeerRecord::Decode(in);
          if (!record.ok()) {
            conn->Close("bad_record", record.status().message());
            return;
          }
          LearnRecord(*record, conn.get());
        }
        if (Status s = in.ExpectEnd(); !s.ok()) conn->Close("bad_record", s.message());
        return;
      }
      case FrameType::kBye:
        slots_[from.value].said_bye = true;
        conn->Close("", "peer said bye");
        CheckStop();
        return;
      default:
        conn->Close("unexpected_frame", "unexpected frame type");
        return;
    }
  }

  void CountRejected(const std::string& reason, const std::string& address,
                     const std::string& detail) {
    ++stats_.rejected[reason];
    Count("net.rejected." + reason);
    if (++rejected_logged_ <= 50) {
      std::fprintf(stderr, "[peer %u] closed connection with %s: %s: %s\n", options_.self.value,
                   address.c_str(), reason.c_str(), detail.c_str());
    }
  }

  void OnClosed(const ConnectionPtr& conn, Connection::State was, size_t unsent,
                const std::string& reason, const std::string& detail) {
    unauthenticated_.erase(conn);
    if (was != Connection::State::kOpen && conn->dialed_for) {
      Slot& dialed = slots_[conn->dialed_for->value];
      dialed.dialing = false;
      if (!stopping_ && !dialed.conn) ScheduleRedial(*conn->dialed_for);
    }
    // A handshake through a bootstrap address failed (refused, timed out,
    // cut): try that address again after its backoff, as for a failed
    // connect, until one handshake through it succeeds.
    if (was != Connection::State::kOpen && conn->bootstrap && !stopping_ &&
        !bootstrap_[*conn->bootstrap].done) {
      const size_t i = *conn->bootstrap;
      RetryLater(bootstrap_[i].backoff, [this, i] { DialBootstrap(i); });
    }
    if (!reason.empty()) {
      const bool lost_peer = was == Connection::State::kOpen &&
                             (reason == "read_error" || reason == "write_error");
      if (lost_peer) {
        Count("net.connection_errors");
      } else {
        CountRejected(reason, conn->peer_address(), detail);
      }
    }
    if (was != Connection::State::kOpen) return;
    Slot& slot = slots_[conn->slot().value];
    slot.queued_bytes -= std::min(slot.queued_bytes, unsent);
    if (unsent > 0) Count("net.lost_on_close", static_cast<int64_t>(unsent));
    if (slot.conn != conn) return;  // a replaced duplicate
    slot.conn.reset();
    if (!stopping_) {
      // A peer that said Bye finished its part; only the others failed.
      if (slot.said_bye) {
        Count("net.peers_left");
      } else {
        ++stats_.peers_down;
        Count("net.peers_down");
        std::fprintf(stderr, "[peer %u] lost peer %u (%s)\n", options_.self.value,
                     conn->slot().value, detail.c_str());
      }
      if (started_) {
        node_->OnPeerDown(host_, conn->slot());
        CheckStop();
      }
      ScheduleRedial(conn->slot());
    }
    OnDrained();
  }

  void ScheduleHeartbeat() {
    heartbeat_.expires_after(ToChrono(options_.heartbeat_interval));
    heartbeat_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      const auto t = Clock::now();
      for (Slot& slot : slots_) {
        if (!slot.conn) continue;
        ConnectionPtr conn = slot.conn;
        if (t - conn->last_heard() > ToChrono(options_.peer_timeout)) {
          Count("net.peer_timeouts");
          conn->Close("", "failure detector: silent for " +
                              std::to_string(options_.peer_timeout.seconds()) + "s");
        } else if (conn->idle() && !stopping_) {
          conn->Enqueue(FrameType::kHeartbeat, {}, 0);
        }
      }
      std::vector<ConnectionPtr> slow;
      for (const ConnectionPtr& c : unauthenticated_) {
        if (t - c->opened_at() > ToChrono(options_.handshake_timeout)) slow.push_back(c);
      }
      for (const ConnectionPtr& c : slow) {
        c->Close("handshake_timeout", "no handshake within " +
                                          std::to_string(options_.handshake_timeout.seconds()) + "s");
      }
      if (stopping_ && Clock::now() > shutdown_deadline_) {
        io_.stop();
        return;
      }
      ScheduleHeartbeat();
    });
  }

  void MaybeStartNode() {
    if (started_ || stopping_ || node_ == nullptr) return;
    for (uint32_t i = 0; i < slots_.size(); ++i) {
      if (i != options_.self.value && !slots_[i].conn) return;
    }
    StartNode();
  }

  void StartNode() {
    if (started_ || stopping_) return;
    started_ = true;
    started_at_ = now();
    start_timer_.cancel();
    node_->OnStart(host_);
    CheckStop();
  }

  void CheckStop() {
    if (!stopping_ && stop_ && stop_()) BeginShutdown();
  }

  void BeginShutdown() {
    if (stopping_) return;
    stopping_ = true;
    shutdown_deadline_ = Clock::now() + ToChrono(options_.shutdown_timeout);
    asio::error_code ec;
    acceptor_.close(ec);
    start_timer_.cancel();
    signals_.cancel(ec);
    for (Slot& slot : slots_) {
      if (slot.conn && slot.conn->open()) slot.conn->Enqueue(FrameType::kBye, {}, 0);
    }
    std::vector<ConnectionPtr> pending(unauthenticated_.begin(), unauthenticated_.end());
    for (const ConnectionPtr& c : pending) c->Close("", "shutting down");
    OnDrained();
  }

  // At shutdown: once every queue has been written (Bye last), half-closes
  // every connection, so the kernel still delivers what it holds, and stops
  // the loop when the peers have closed their ends (or at the deadline).
  void OnDrained() {
    if (!stopping_) return;
    bool any = false;
    for (const Slot& slot : slots_) {
      if (slot.conn && !slot.conn->idle()) return;
      any = any || slot.conn != nullptr;
    }
    if (!any && unauthenticated_.empty()) {
      io_.stop();
      return;
    }
    if (half_closed_) return;
    half_closed_ = true;
    for (const Slot& slot : slots_) {
      if (slot.conn) slot.conn->HalfClose();
    }
  }

  void WorkerLoop() {
    for (;;) {
      ComputeTask task;
      {
        std::unique_lock lock(compute_mu_);
        compute_cv_.wait(lock, [this] { return worker_exit_ || task_.has_value(); });
        if (worker_exit_) return;
        task = std::move(*task_);
        task_.reset();
      }
      task.work();
      asio::post(io_, [this, tag = task.tag] {
        {
          std::lock_guard lock(compute_mu_);
          compute_busy_ = false;
        }
        if (stopping_) return;
        node_->OnComputeDone(host_, tag);
        CheckStop();
      });
    }
  }

  NetHost& host_;
  const NetOptions options_;
  NetSecurity security_;
  MetricsSink& sink_;
  Rng rng_;
  const Clock::time_point epoch_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  asio::steady_timer heartbeat_;
  asio::steady_timer start_timer_;
  std::string bound_;
  PeerRecord self_record_;
  HandshakeConfig handshake_config_;
  std::vector<Slot> slots_;
  std::vector<Bootstrap> bootstrap_;
  std::set<ConnectionPtr> unauthenticated_;
  NetStats stats_;
  int64_t rejected_logged_ = 0;
  Node* node_ = nullptr;
  std::function<bool()> stop_;
  bool started_ = false;
  bool stopping_ = false;
  bool interrupted_ = false;
  bool half_closed_ = false;
  SimTime started_at_;
  asio::signal_set signals_{io_};
  Clock::time_point shutdown_deadline_;
  uint64_t next_timer_ = 1;

  std::thread worker_;
  std::mutex compute_mu_;
  std::condition_variable compute_cv_;
  std::optional<ComputeTask> task_;
  bool compute_busy_ = false;
  bool worker_exit_ = false;
};

// ---------------------------------------------------------------------------

Result<std::unique_ptr<NetHost>> NetHost::Create(const NetOptions& options, NetSecurity security,
                                                 MetricsSink& sink) {
  MURMUR_RETURN_IF_ERROR(InitCrypto());
  if (options.num_slots < 1 || options.self.value >= options.num_slots) {
    return Status::InvalidArgument("peer index ", options.self, " is not in 0..",
                                   static_cast<int64_t>(options.num_slots) - 1);
  }
  if (options.heartbeat_interval.ns <= 0 || options.peer_timeout <= options.heartbeat_interval) {
    return Status::InvalidArgument("peer_timeout (", options.peer_timeout.seconds(),
                                   "s) must exceed heartbeat_interval (",
                                   options.heartbeat_interval.seconds(), "s)");
  }
  if (options.backoff_min.ns <= 0 || options.backoff_max < options.backoff_min) {
    return Status::InvalidArgument("backoff_min must be positive and at most backoff_max");
  }
  auto host = std::unique_ptr<NetHost>(new NetHost(nullptr));
  host->impl_ = std::make_unique<Impl>(*host, options, std::move(security), sink);
  MURMUR_RETURN_IF_ERROR(host->impl_->Bind());
  return host;
}

NetHost::NetHost(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetHost::~NetHost() = default;

std::string NetHost::listen_address() const { return impl_->bound_; }
const PublicKey& NetHost::public_key() const { return impl_->security_.identity.public_key(); }
Status NetHost::Run(Node& node, const std::function<bool()>& stop) {
  return impl_->Run(node, stop);
}
void NetHost::Shutdown() { impl_->Shutdown(); }
const NetStats& NetHost::stats() const { return impl_->stats_; }
bool NetHost::said_bye(PeerId peer) const { return impl_->slots_.at(peer.value).said_bye; }
bool NetHost::connected(PeerId peer) const {
  return impl_->slots_.at(peer.value).conn != nullptr;
}
SimTime NetHost::started_at() const { return impl_->started_at_; }
PeerId NetHost::self() const { return impl_->options_.self; }
SimTime NetHost::now() const { return impl_->now(); }
void NetHost::Send(PeerId to, std::vector<uint8_t> message) {
  impl_->Send(to, std::move(message));
}
TimerId NetHost::StartTimer(Duration after) { return impl_->StartTimer(after); }
void NetHost::RunCompute(ComputeTask task) { impl_->RunCompute(std::move(task)); }
Rng& NetHost::rng() { return impl_->rng_; }
MetricsSink& NetHost::metrics() { return impl_->sink_; }
void NetHost::ReportBadPeer(PeerId peer, const Status& why) { impl_->ReportBadPeer(peer, why); }

}  // namespace murmur::net
