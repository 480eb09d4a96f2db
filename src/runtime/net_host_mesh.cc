// NetHost::Impl's half that wires connections to membership: accepting and
// dialing, what an authenticated connection, a frame or a close means for
// the peer's slot, and the membership exchange (Peers frames).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "murmur/core/log.h"
#include "murmur/runtime/ban_filter.h"
#include "runtime/endpoint.h"
#include "runtime/net_host_impl.h"

namespace murmur::net {

using asio::ip::tcp;

// Admission control decides before anything is allocated or computed for
// the connection: a refused one costs an accept and a close, and an address
// that keeps being refused is banned and dropped in the kernel
// (ban_filter.h), where it costs nothing.
void NetHost::Impl::Accept() {
  acceptor_.async_wait(tcp::acceptor::wait_read, [this](const asio::error_code& ec) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    AcceptQueued();
  });
}

// Drains the listen queue with accept4 (the peer's address comes with the
// socket, no getpeername), at most kAcceptBatch a turn so that a flood
// cannot starve the loop's other work; then waits for the next arrival,
// or, after a full batch, continues on a later turn.
void NetHost::Impl::AcceptQueued() {
  constexpr int kAcceptBatch = 64;
  const int listener = acceptor_.native_handle();
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    const int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&from), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      OnAccepted(fd, from, length);
      if (!acceptor_.is_open()) return;
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      Accept();
    } else {
      // Out of descriptors or buffers: the queue still holds connections
      // and no new readiness may come, so look again shortly.
      Count("net.accept_errors");
      RetryLater(Duration::Seconds(0.05), [this] { AcceptQueued(); });
    }
    return;
  }
  asio::post(io_, [this] {
    if (acceptor_.is_open()) AcceptQueued();
  });
}

void NetHost::Impl::OnAccepted(int fd, const sockaddr_storage& from, socklen_t length) {
  tcp::endpoint remote;
  const bool known = length <= remote.capacity();
  if (known) {
    std::memcpy(remote.data(), &from, length);
    remote.resize(length);
  }
  std::string source = known ? remote.address().to_string() : "?";
  const AdmissionControl::Verdict verdict = admission_.Admit(source, now());
  if (admission_.TakeBansChanged()) {
    UpdateBanFilter();
    if (admission_.banned().contains(source)) {
      ++stats_.bans;
      Count("net.bans");  // after the filter is in place (tests wait for it)
      Logf(LogLevel::kWarning,
           "[peer %u] banning %s for %.1fs: %zu connections refused within %.1fs",
           options_.self.value, source.c_str(), options_.admission.ban_duration.seconds(),
           options_.admission.ban_after_refusals, options_.admission.ban_window.seconds());
    }
  }
  if (verdict != AdmissionControl::Verdict::kAdmit) {
    CountRejected(std::string(AdmissionControl::VerdictName(verdict)),
                  known ? ToString(remote) : source, "admission control");
    // A reset instead of a FIN: the socket is freed at once, with no
    // FIN/ACK exchange and no TIME_WAIT state to keep.
    const linger reset{.l_onoff = 1, .l_linger = 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(fd);
    return;
  }
  tcp::socket socket(io_);
  asio::error_code ec;
  socket.assign(remote.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    admission_.HandshakeEnded(source, now());
    return;
  }
  stats_.max_in_handshake = std::max(stats_.max_in_handshake, admission_.in_handshake());
  stats_.max_in_handshake_per_address =
      std::max(stats_.max_in_handshake_per_address, admission_.in_handshake(source));
  ConnectionPtr conn = StartConnection(std::move(socket), Role::kAcceptor, ToString(remote),
                                       std::nullopt, std::nullopt);
  conn->admitted_from = std::move(source);
  // Shutting down, the listener is open only for the data streams of links
  // whose messages wait for them (BeginShutdown).
  if (stopping_ && !MayBeStreamOfWaitingLink(*conn)) {
    conn->Close("", "shutting down");
    return;
  }
  conn->Start();
}

void NetHost::Impl::UpdateBanFilter() {
  std::vector<uint32_t> ipv4;
  std::vector<Ipv6Address> ipv6;
  for (const auto& [address, until] : admission_.banned()) {
    if (const std::optional<uint32_t> ip = BannableIpv4(address)) {
      ipv4.push_back(*ip);
    } else if (const std::optional<Ipv6Address> ip6 = BannableIpv6(address)) {
      ipv6.push_back(*ip6);
    }
  }
  const Status status = SetBanFilter(acceptor_.native_handle(), ipv4, ipv6);
  stats_.kernel_banned = status.ok() ? ipv4.size() + ipv6.size() : 0;
  if (!status.ok()) {
    Count("net.ban_filter_errors");
    Logf(LogLevel::kWarning, "[peer %u] %s (banned addresses are refused at accept instead)",
         options_.self.value, status.ToString().c_str());
  }
}

void NetHost::Impl::EndHandshake(const ConnectionPtr& conn) {
  if (unauthenticated_.erase(conn) == 0 || !conn->admitted_from) return;
  admission_.HandshakeEnded(*conn->admitted_from, now());
}

std::vector<Cookie> NetHost::Impl::HelloCookies(const Connection& conn) {
  if (!conn.admitted_from || !admission_.UnderLoad(*conn.admitted_from, now())) return {};
  return cookies_.Accepted(conn.peer_address(), now());
}

ConnectionPtr NetHost::Impl::StartConnection(tcp::socket socket, Role role, std::string address,
                                             std::optional<PeerId> dialed_for,
                                             std::optional<size_t> bootstrap, uint8_t stream,
                                             const SessionId& link_session) {
  HandshakeConfig handshake = handshake_config_;  // the connection copies it
  handshake.stream = stream;
  handshake.link_session = link_session;
  const ConnectionContext context{.handshake = &handshake,
                                  .max_message_bytes = options_.max_message_bytes,
                                  .events = this,
                                  .stats = &stats_,
                                  .shm_budget = &shm_budget_};
  auto conn = std::make_shared<Connection>(context, std::move(socket), role, std::move(address));
  conn->dialed_for = dialed_for;
  conn->bootstrap = bootstrap;
  unauthenticated_.insert(conn);
  return conn;
}

void NetHost::Impl::Dial(const tcp::endpoint& endpoint, std::optional<PeerId> slot,
                         std::function<void(bool)> done, std::optional<size_t> bootstrap) {
  ++stats_.dials;
  auto socket = std::make_shared<tcp::socket>(io_);
  socket->async_connect(endpoint, [this, socket, endpoint, slot, bootstrap,
                                   done](const asio::error_code& ec) {
    if (stopping_) return;
    if (ec) {
      done(false);
      return;
    }
    StartConnection(std::move(*socket), Role::kDialer, ToString(endpoint), slot, bootstrap)
        ->Start();
    done(true);
  });
}

void NetHost::Impl::DialBootstrap(size_t i) {
  if (stopping_ || bootstrap_[i].done) return;
  Dial(
      bootstrap_[i].endpoint, std::nullopt,
      [this, i](bool ok) {
        // Connected: OnAuthenticated marks it done, OnClosed retries a
        // handshake that failed.
        if (ok) return;
        RetryLater(bootstrap_[i].backoff.Next(), [this, i] { DialBootstrap(i); });
      },
      i);
}

// Dials `peer` at its recorded address if membership says it is due.
void NetHost::Impl::MaybeDialSlot(PeerId peer) {
  if (stopping_ || !membership_.ShouldDial(peer)) return;
  Result<tcp::endpoint> endpoint = ParseEndpoint(membership_.record(peer)->address);
  if (!endpoint.ok()) return;
  // The dial stays under way through the handshake (OnClosed or
  // OnAuthenticated ends it), so one pair never races two dials.
  membership_.DialStarted(peer);
  Dial(*endpoint, peer, [this, peer](bool ok) {
    if (ok) return;
    membership_.DialEnded(peer);
    ScheduleRedial(peer);
  });
}

void NetHost::Impl::ScheduleRedial(PeerId peer) {
  if (stopping_) return;
  const std::optional<Duration> delay = membership_.ScheduleRedial(peer);
  if (!delay) return;
  RetryLater(*delay, [this, peer] {
    membership_.RedialDue(peer);
    MaybeDialSlot(peer);
  });
}

void NetHost::Impl::RetryLater(Duration delay, std::function<void()> retry) {
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::nanoseconds(delay.ns));
  timer->async_wait([this, timer, retry = std::move(retry)](const asio::error_code& ec) {
    if (!ec && !stopping_) retry();
  });
}

// --- connection events ----------------------------------------------------------

Status NetHost::Impl::Admit(const PeerRecord& record) { return membership_.CheckSlotKey(record); }

void NetHost::Impl::OnAuthenticated(const ConnectionPtr& conn, const PeerRecord& record) {
  EndHandshake(conn);
  if (conn->admitted_from) {
    admission_.PeerAuthenticated(*conn->admitted_from);
    conn->vouches_for_address = true;
  }
  ++stats_.handshakes;
  for (Bootstrap& b : bootstrap_) {
    if (ToString(b.endpoint) == conn->peer_address()) b.done = true;
  }
  if (conn->dialed_for) membership_.DialEnded(*conn->dialed_for);
  if (conn->stream() > 0) {
    AttachStream(conn, record);
    return;
  }
  if (stopping_) {  // accepted for a data stream (OnAccepted), or in its handshake at the stop
    conn->Close("", "shutting down");
    return;
  }
  const PeerId peer = record.slot;
  PeerLink& link = links_[peer.value];
  if (link.conn) {
    // A newer record than the live connection's: the peer restarted, and
    // that connection belongs to a process that is gone or hung (its end
    // not closed yet, e.g. a host that died): the new one wins whoever
    // dialed, or the restarted peer could not get in (and what we send
    // would go to the old one) until the failure detector gave up on it.
    const bool restarted = record.NewerThan(link.record);
    if (!restarted && membership_.ResolveDuplicate(peer, link.conn->role(), conn->role()) ==
                          Membership::Keep::kExisting) {
      conn->Close("", "duplicate connection");
      LearnRecord(record, RecordSource::kHandshake, nullptr);
      return;
    }
    ConnectionPtr old = link.conn;
    Attach(peer, conn, record);
    old->Close("", restarted ? "replaced: the peer restarted" : "replaced by a newer connection");
    Count(restarted ? "net.connections_replaced_by_restart" : "net.connections_replaced");
  } else {
    Attach(peer, conn, record);
  }
  LearnRecord(record, RecordSource::kHandshake, conn.get());
  if (membership_.Joined(peer)) Count("net.peer_rejoined");
  Greet(peer, *conn);
  if (streams() > 1 && conn->role() == Role::kDialer) DialStreams(peer, conn);
  if (std::exchange(links_[peer.value].reported_down, false) && started_ && !stopping_) {
    Count("net.peers_up");
    node_->OnPeerUp(host_, peer);
  }
  MaybeStartNode();
}

void NetHost::Impl::Attach(PeerId peer, ConnectionPtr conn, const PeerRecord& record) {
  // Streams of a replaced connection belong to it, and go with it.
  DropStreams(links_[peer.value], "replaced: the link's first stream was replaced");
  conn->keep_open_on_eof = streams() > 1;
  conn->control_only = streams() > 1;
  links_[peer.value].conn = std::move(conn);
  links_[peer.value].record = record;
  links_[peer.value].lost = false;
  links_[peer.value].bye_sent = false;
  links_[peer.value].stream_backoff.emplace(options_.backoff_min, options_.backoff_max);
  WatchLinkReady(peer, links_[peer.value].conn);
  membership_.Connected(peer);
}

// What this peer knows of the network, ours included; then what waited
// for the connection.
void NetHost::Impl::Greet(PeerId peer, Connection& conn) {
  conn.Enqueue(FrameType::kPeers, membership_.EncodeKnown(self_record_), 0);
  if (LinkReady(links_[peer.value])) {
    FlushPending(peer);
  } else if (stopping_) {
    SendByeOnLink(links_[peer.value]);
  }
}

// Relays a record membership accepted to every other connected peer
// (membership exchange), then dials if due.
void NetHost::Impl::LearnRecord(const PeerRecord& record, RecordSource source,
                                const Connection* from) {
  const Membership::Learned learned = membership_.Learn(record, source, UnixMillis());
  switch (learned.verdict) {
    case Membership::Verdict::kIgnored:
    case Membership::Verdict::kStale:
      return;
    case Membership::Verdict::kFuture:
      Count("net.records_future");
      return;
    case Membership::Verdict::kNotAdmitted:
      Count("net.records_refused");
      return;
    case Membership::Verdict::kSlotTaken:
      Count("net.records_slot_taken");
      if (MayLogRejection()) {
        Logf(LogLevel::kWarning, "[peer %u] ignored a peer record: %s", options_.self.value,
             learned.why.message().c_str());
      }
      return;
    case Membership::Verdict::kAccepted:
      break;
  }
  ByteWriter one;
  one.WriteU32(1);
  record.Encode(one);
  for (PeerLink& other : links_) {
    if (other.conn && other.conn.get() != from && other.conn->open() &&
        other.conn->slot() != record.slot) {
      RelayPeers(other, one.bytes());
    }
  }
  MaybeDialSlot(record.slot);
}

// The control queue takes one Peers frame per connection; while it holds
// one, a relay waits with the data and is counted like data, so a peer
// sending a stream of fresher records (each relayed to every other peer)
// costs each link at most send_queue_bytes and delays, never starves, its
// data. Over that bound the relay is dropped (net.relays_dropped): gossip
// is best effort, and every handshake sends the whole view again.
void NetHost::Impl::RelayPeers(PeerLink& link, const std::vector<uint8_t>& frame) {
  Connection& conn = *link.conn;
  if (!conn.control_holds(FrameType::kPeers)) {
    conn.Enqueue(FrameType::kPeers, frame, 0);
    return;
  }
  if (link.queued_bytes + frame.size() > options_.send_queue_bytes) {
    Count("net.relays_dropped");
    return;
  }
  link.queued_bytes += frame.size();
  conn.Enqueue(FrameType::kPeers, frame, frame.size());
}

void NetHost::Impl::OnFrame(const ConnectionPtr& conn, FrameType type,
                            std::span<const uint8_t> payload) {
  const PeerId from = conn->slot();
  PeerLink& link = links_[from.value];
  if (!OnLink(link, *conn)) return;  // a replaced connection draining
  switch (type) {
    case FrameType::kData:
      AdvanceTurn(link, *conn);
      ++stats_.msgs_received;
      stats_.bytes_received += payload.size();
      if (stopping_) return;
      if (!started_) StartNode();
      node_->OnMessage(host_, from, payload);
      CheckStop();
      return;
    case FrameType::kHeartbeat:
      ++stats_.heartbeats_received;
      return;
    case FrameType::kPeers:
      OnPeersFrame(conn, payload);
      return;
    case FrameType::kBye:
      membership_.SaidBye(from);
      link.conn->Close("", "peer said bye");
      CheckStop();
      return;
    default:
      conn->Close("unexpected_frame", "unexpected frame type");
      return;
  }
}

void NetHost::Impl::OnPeersFrame(const ConnectionPtr& conn, std::span<const uint8_t> payload) {
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
    LearnRecord(*record, RecordSource::kGossip, conn.get());
  }
  if (Status s = in.ExpectEnd(); !s.ok()) conn->Close("bad_record", s.message());
}

void NetHost::Impl::OnSent(const Connection& conn, size_t data_bytes) {
  links_[conn.slot().value].queued_bytes -= data_bytes;
}

void NetHost::Impl::OnIdle(const Connection& /*conn*/) { OnDrained(); }

void NetHost::Impl::CountRejected(const std::string& reason, const std::string& address,
                                  const std::string& detail) {
  ++stats_.rejected[reason];
  Count("net.rejected." + reason);
  if (MayLogRejection()) {
    Logf(LogLevel::kWarning, "[peer %u] closed connection with %s: %s: %s", options_.self.value,
         address.c_str(), reason.c_str(), detail.c_str());
  }
}

void NetHost::Impl::OnClosed(const ConnectionPtr& conn, ConnectionState was, size_t unsent,
                             const std::string& reason, const std::string& detail) {
  EndHandshake(conn);
  if (conn->vouches_for_address) {
    conn->vouches_for_address = false;
    admission_.PeerClosed(*conn->admitted_from);
  }
  const bool was_open = was == ConnectionState::kOpen;
  if (!was_open && conn->stream_of.lock()) OnStreamClosed(conn, was_open);
  if (!was_open && conn->dialed_for) {
    membership_.DialEnded(*conn->dialed_for);
    if (!stopping_ && !links_[conn->dialed_for->value].conn) ScheduleRedial(*conn->dialed_for);
  }
  // A handshake through a bootstrap address failed (refused, timed out,
  // cut): try that address again after its backoff, as for a failed
  // connect, until one handshake through it succeeds.
  if (!was_open && conn->bootstrap && !stopping_ && !bootstrap_[*conn->bootstrap].done) {
    const size_t i = *conn->bootstrap;
    RetryLater(bootstrap_[i].backoff.Next(), [this, i] { DialBootstrap(i); });
  }
  if (!reason.empty()) {
    if (was_open && (reason == "read_error" || reason == "write_error")) {
      Count("net.connection_errors");  // lost the peer, no fault of its own
    } else {
      CountRejected(reason, conn->peer_address(), detail);
    }
  }
  if (!was_open) return;
  PeerLink& link = links_[conn->slot().value];
  link.queued_bytes -= std::min(link.queued_bytes, unsent);
  if (unsent > 0) Count("net.lost_on_close", static_cast<int64_t>(unsent));
  if (link.conn != conn) {  // a replaced duplicate, or a further stream
    OnStreamClosed(conn, was_open);
    return;
  }
  link.conn.reset();
  DropStreams(link, "the link's first stream closed: " + detail);
  link.lost = true;
  membership_.Disconnected(conn->slot());
  if (!stopping_) OnPeerLost(conn->slot(), detail);
  OnDrained();
}

void NetHost::Impl::OnPeerLost(PeerId peer, const std::string& detail) {
  // A peer that said Bye finished its part; only the others failed.
  if (membership_.said_bye(peer)) {
    Count("net.peers_left");
  } else {
    ++stats_.peers_down;
    Count("net.peers_down");
    Logf(LogLevel::kWarning, "[peer %u] lost peer %u (%s)", options_.self.value, peer.value,
         detail.c_str());
  }
  if (started_) {
    links_[peer.value].reported_down = true;
    node_->OnPeerDown(host_, peer);
    CheckStop();
  }
  ScheduleRedial(peer);
}

}  // namespace murmur::net
