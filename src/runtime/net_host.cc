#include "murmur/runtime/net_host.h"

#include <malloc.h>

#include <csignal>
#include <utility>

#include "murmur/core/log.h"
#include "murmur/runtime/secret_rng.h"
#include "runtime/endpoint.h"
#include "runtime/net_host_impl.h"

namespace murmur::net {

void KeepFreedMessageMemory() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

namespace {

using asio::ip::tcp;

std::chrono::nanoseconds ToChrono(Duration d) { return std::chrono::nanoseconds(d.ns); }

}  // namespace

uint64_t UnixMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

NetHost::Impl::Impl(NetHost& host, const NetOptions& options, NetSecurity security,
                    MetricsSink& sink)
    : host_(host),
      options_(options),
      security_(std::move(security)),
      sink_(sink),
      rng_(options.seed, options.self, RngPurpose::kProtocol),
      privacy_rng_(SecretRng()),
      epoch_(Clock::now()),
      acceptor_(io_),
      heartbeat_(io_),
      start_timer_(io_),
      membership_(MembershipOptions{.self = options.self,
                                    .num_slots = options.num_slots,
                                    .backoff_min = options.backoff_min,
                                    .backoff_max = options.backoff_max,
                                    .max_clock_skew = options.max_clock_skew},
                  security_.allowlist),
      detector_{.peer_timeout = options.peer_timeout,
                .handshake_timeout = options.handshake_timeout},
      links_(options.num_slots),
      admission_(options.admission),
      cookies_(options.admission.cookie_rotation) {}

Status NetHost::Impl::Bind() {
  MURMUR_ASSIGN_OR_RETURN(tcp::endpoint endpoint, ParseEndpoint(options_.listen));
  asio::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) acceptor_.non_blocking(true, ec);  // AcceptQueued's accept4 must not block
  if (ec) {
    return Status::Unavailable("cannot listen on ", options_.listen, ": ", ec.message());
  }
  bound_ = ToString(acceptor_.local_endpoint());
  const std::string advertised = options_.advertise.empty() ? bound_ : options_.advertise;
  if (advertised.size() > 255) {
    return Status::InvalidArgument("advertised address '", advertised, "' is too long");
  }
  uint64_t incarnation = 0;
  if (!options_.incarnation_file.empty()) {
    MURMUR_ASSIGN_OR_RETURN(incarnation, BumpIncarnation(options_.incarnation_file));
  }
  self_record_ =
      PeerRecord::Make(security_.identity, options_.self, advertised, UnixMillis(), incarnation);
  handshake_config_ = HandshakeConfig{.identity = &security_.identity,
                                      .network_key = security_.network_key,
                                      .allowlist = &security_.allowlist,
                                      .self_record = self_record_,
                                      .num_slots = options_.num_slots,
                                      .plain = security_.plain,
                                      .streams = options_.streams};
  shm_budget_ = ShmBudget{.ring_bytes = options_.shm_ring_bytes,
                          .max_links = options_.shm_max_links,
                          .setup_timeout = ToChrono(options_.handshake_timeout)};
  for (PeerLink& link : links_) link.extra.assign(options_.streams, nullptr);
  return Status::Ok();
}

Status NetHost::Impl::Run(Node& node, const std::function<bool()>& stop) {
  node_ = &node;
  stop_ = stop;
  worker_.Start([this](uint64_t tag) {
    asio::post(io_, [this, tag] {
      worker_.Finished();
      if (stopping_) return;
      node_->OnComputeDone(host_, tag);
      CheckStop();
    });
  });
  Accept();
  for (const std::string& address : options_.bootstrap) {
    Result<tcp::endpoint> endpoint = ParseEndpoint(address);
    if (!endpoint.ok()) return endpoint.status();
    bootstrap_.push_back(Bootstrap{.endpoint = *endpoint,
                                   .backoff = Backoff(options_.backoff_min, options_.backoff_max)});
  }
  for (size_t i = 0; i < bootstrap_.size(); ++i) DialBootstrap(i);
  ScheduleHeartbeat();
  if (options_.handle_signals) WatchSignals();
  start_timer_.expires_after(ToChrono(options_.start_timeout));
  start_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec && !started_) {
      Logf(LogLevel::kWarning, "[peer %u] starting after %.1fs without a full mesh",
           options_.self.value, options_.start_timeout.seconds());
      StartNode();
    }
  });
  MaybeStartNode();
  io_.run();
  return interrupted_ ? Status::Aborted("interrupted") : Status::Ok();
}

void NetHost::Impl::WatchSignals() {
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.async_wait([this](const asio::error_code& ec, int signal) {
    if (ec) return;
    Logf(LogLevel::kInfo, "[peer %u] signal %d: saying bye", options_.self.value, signal);
    interrupted_ = true;
    BeginShutdown();
  });
}

void NetHost::Impl::Shutdown() {
  asio::post(io_, [this] {
    interrupted_ = true;
    BeginShutdown();
  });
}

// --- Host -------------------------------------------------------------------

SimTime NetHost::Impl::now() const { return At(Clock::now()); }

SimTime NetHost::Impl::At(Clock::time_point t) const {
  return SimTime{std::chrono::duration_cast<std::chrono::nanoseconds>(t - epoch_).count()};
}

void NetHost::Impl::Send(PeerId to, std::vector<uint8_t> message) {
  MURMUR_CHECK(to.value < links_.size() && to != options_.self);
  if (stopping_) return;
  PeerLink& link = links_[to.value];
  if (message.size() > options_.max_message_bytes) {
    Count("net.send_oversized");
    Logf(LogLevel::kWarning,
         "[peer %u] dropping a %zu-byte message to peer %u: over the %zu-byte limit",
         options_.self.value, message.size(), to.value, options_.max_message_bytes);
    return;
  }
  if (link.queued_bytes > 0 && link.queued_bytes + message.size() > options_.send_queue_bytes) {
    ++stats_.send_dropped;
    Count("net.send_dropped");
    return;
  }
  ++stats_.msgs_sent;
  stats_.bytes_sent += message.size();
  link.queued_bytes += message.size();
  if (LinkReady(link)) {
    SendOnLink(link, std::move(message));
  } else {
    link.pending.push_back(std::move(message));
    while (link.lost && link.pending.size() > options_.max_pending_while_lost) {
      link.queued_bytes -= link.pending.front().size();
      link.pending.pop_front();
      Count("net.dropped_while_lost");
    }
  }
}

TimerId NetHost::Impl::StartTimer(Duration after) {
  const TimerId id(next_timer_++);
  auto timer = std::make_shared<asio::steady_timer>(io_, ToChrono(after));
  timer->async_wait([this, timer, id](const asio::error_code& ec) {
    if (ec || stopping_) return;
    node_->OnTimer(host_, id);
    CheckStop();
  });
  return id;
}

void NetHost::Impl::RunCompute(ComputeTask task) { worker_.Run(std::move(task)); }

void NetHost::Impl::ReportBadPeer(PeerId peer, const Status& why) {
  Count("net.bad_peer_reports");
  Logf(LogLevel::kWarning, "[peer %u] rejected a message from peer %u: %s", options_.self.value,
       peer.value, why.ToString().c_str());
  if (peer.value < links_.size() && links_[peer.value].conn) {
    links_[peer.value].conn->Close("bad_message", why.ToString());
  }
}

// --- failure detector, start and shutdown -------------------------------------

void NetHost::Impl::ScheduleHeartbeat() {
  heartbeat_.expires_after(ToChrono(options_.heartbeat_interval));
  heartbeat_.async_wait([this](const asio::error_code& ec) {
    if (!ec) OnHeartbeat();
  });
}

void NetHost::Impl::OnHeartbeat() {
  const SimTime t = now();
  admission_.ExpireBans(t);
  if (admission_.TakeBansChanged() && !stopping_) UpdateBanFilter();
  for (PeerLink& link : links_) {
    if (!link.conn) continue;
    ConnectionPtr conn = link.conn;
    if (detector_.Silent(At(LinkLastHeard(link)), t)) {
      Count("net.peer_timeouts");
      conn->Close("", "failure detector: silent for " +
                          std::to_string(options_.peer_timeout.seconds()) + "s");
    } else if (conn->control_idle() && !stopping_) {
      // Also while data is queued: the control queue goes first, so the
      // peer hears us within a chunk plus the socket buffers.
      conn->Enqueue(FrameType::kHeartbeat, {}, 0);
    }
  }
  std::vector<ConnectionPtr> slow;
  for (const ConnectionPtr& c : unauthenticated_) {
    if (detector_.HandshakeOverdue(At(c->opened_at()), t)) slow.push_back(c);
  }
  for (const ConnectionPtr& c : slow) {
    c->Close("handshake_timeout",
             "no handshake within " + std::to_string(options_.handshake_timeout.seconds()) + "s");
  }
  if (stopping_ && Clock::now() > shutdown_deadline_) {
    io_.stop();
    return;
  }
  ScheduleHeartbeat();
}

void NetHost::Impl::MaybeStartNode() {
  if (started_ || stopping_ || node_ == nullptr) return;
  if (membership_.AllConnected()) StartNode();
}

void NetHost::Impl::StartNode() {
  if (started_ || stopping_) return;
  started_ = true;
  started_at_ = now();
  start_timer_.cancel();
  node_->OnStart(host_);
  CheckStop();
}

void NetHost::Impl::CheckStop() {
  if (!stopping_ && stop_ && stop_()) BeginShutdown();
}

void NetHost::Impl::BeginShutdown() {
  if (stopping_) return;
  stopping_ = true;
  shutdown_deadline_ = Clock::now() + ToChrono(options_.shutdown_timeout);
  asio::error_code ec;
  start_timer_.cancel();
  signals_.cancel(ec);
  for (PeerLink& link : links_) {
    if (link.conn && link.conn->open()) SendByeOnLink(link);
  }
  std::vector<ConnectionPtr> pending;
  for (const ConnectionPtr& c : unauthenticated_) {
    if (!MayBeStreamOfWaitingLink(*c)) pending.push_back(c);
  }
  for (const ConnectionPtr& c : pending) c->Close("", "shutting down");
  OnDrained();
}

// At shutdown: once every queue has been written (Bye last), half-closes
// every connection, so the kernel still delivers what it holds, and stops
// the loop when the peers have closed their ends (or at the deadline).
void NetHost::Impl::OnDrained() {
  if (!stopping_) return;
  if (acceptor_.is_open() && !AcceptingStreams()) {
    asio::error_code ec;
    acceptor_.close(ec);
  }
  bool any = false;
  for (const PeerLink& link : links_) {
    if (link.conn && (!LinkIdle(link) || StreamsComing(link))) return;
    any = any || link.conn != nullptr;
  }
  if (!any && unauthenticated_.empty()) {
    io_.stop();
    return;
  }
  if (half_closed_) return;
  half_closed_ = true;
  for (const PeerLink& link : links_) {
    if (link.conn) link.conn->HalfClose();
    for (const ConnectionPtr& c : link.extra) {
      if (c) c->HalfClose();
    }
  }
}

// --- NetHost ------------------------------------------------------------------

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
  if (options.streams < 1 || options.streams > kMaxStreams) {
    return Status::InvalidArgument("streams per link must be 1..", static_cast<int>(kMaxStreams),
                                   ", not ", static_cast<int>(options.streams));
  }
  if (options.shm_ring_bytes != 0 && (options.shm_ring_bytes < kMinShmRingBytes ||
                                      options.shm_ring_bytes > kMaxShmRingBytes)) {
    return Status::InvalidArgument("shm_ring_bytes must be 0 (TCP only) or ", kMinShmRingBytes,
                                   "..", kMaxShmRingBytes, ", not ", options.shm_ring_bytes);
  }
  if (options.backoff_min.ns <= 0 || options.backoff_max < options.backoff_min) {
    return Status::InvalidArgument("backoff_min must be positive and at most backoff_max");
  }
  const AdmissionLimits& a = options.admission;
  if (a.max_unauthenticated == 0 || a.max_unauthenticated_per_address == 0 ||
      a.handshake_burst == 0 || a.handshake_interval.ns <= 0 || a.max_tracked_addresses == 0 ||
      a.cookie_rotation.ns <= 0 || a.ban_window.ns <= 0 || a.ban_duration.ns <= 0 ||
      a.max_banned == 0 || a.max_banned > kMaxBanned) {
    return Status::InvalidArgument("every admission limit must be positive (max_banned at most ",
                                   kMaxBanned, ")");
  }
  auto host = std::unique_ptr<NetHost>(new NetHost(nullptr));
  host->impl_ = std::make_unique<Impl>(*host, options, std::move(security), sink);
  MURMUR_RETURN_IF_ERROR(host->impl_->Bind());
  return host;
}

NetHost::NetHost(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetHost::~NetHost() = default;

std::string NetHost::listen_address() const { return impl_->bound(); }
const PublicKey& NetHost::public_key() const { return impl_->public_key(); }
Status NetHost::Run(Node& node, const std::function<bool()>& stop) {
  return impl_->Run(node, stop);
}
void NetHost::Shutdown() { impl_->Shutdown(); }
const NetStats& NetHost::stats() const { return impl_->stats(); }
bool NetHost::said_bye(PeerId peer) const {
  MURMUR_CHECK(peer.value < impl_->membership().num_slots());
  return impl_->membership().said_bye(peer);
}
bool NetHost::connected(PeerId peer) const {
  MURMUR_CHECK(peer.value < impl_->membership().num_slots());
  return impl_->membership().connected(peer);
}
SimTime NetHost::started_at() const { return impl_->started_at(); }
PeerId NetHost::self() const { return impl_->self(); }
SimTime NetHost::now() const { return impl_->now(); }
void NetHost::Send(PeerId to, std::vector<uint8_t> message) {
  impl_->Send(to, std::move(message));
}
TimerId NetHost::StartTimer(Duration after) { return impl_->StartTimer(after); }
void NetHost::RunCompute(ComputeTask task) { impl_->RunCompute(std::move(task)); }
Rng& NetHost::rng() { return impl_->rng(); }
Rng& NetHost::privacy_rng() { return impl_->privacy_rng(); }
MetricsSink& NetHost::metrics() { return impl_->sink(); }
void NetHost::ReportBadPeer(PeerId peer, const Status& why) { impl_->ReportBadPeer(peer, why); }

}  // namespace murmur::net
