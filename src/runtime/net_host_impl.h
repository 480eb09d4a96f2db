// NetHost's implementation (net_host.h), private to the runtime. The pieces:
//  * Connection (connection.h): one socket's handshake, framing, sealing
//    and bounds; it reports to this class through ConnectionEvents;
//  * Membership (murmur/runtime/membership.h): slots' records, trust on
//    first use, dial and redial policy, backoff, duplicate resolution and
//    the failure detector's verdicts; pure logic;
//  * ComputeWorker (compute_worker.h): the compute thread;
//  * this class: the event loop, timers, listener and dials, the per-peer
//    send queues, start and shutdown, and the wiring of connections to
//    membership. net_host.cc holds the lifecycle and the Host methods,
//    net_host_mesh.cc the connection events and dialing.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "murmur/runtime/admission.h"
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/membership.h"
#include "murmur/runtime/net_host.h"
#include "runtime/asio.h"
#include "runtime/compute_worker.h"
#include "runtime/connection.h"

namespace murmur::net {

// The wall clock as Unix milliseconds: what PeerRecords are dated with.
uint64_t UnixMillis();

class NetHost::Impl final : public ConnectionEvents {
 public:
  using Clock = std::chrono::steady_clock;

  Impl(NetHost& host, const NetOptions& options, NetSecurity security, MetricsSink& sink);

  // net_host.h's NetHost::Create, Run and Shutdown.
  Status Bind();
  Status Run(Node& node, const std::function<bool()>& stop);
  void Shutdown();

  // Host.
  SimTime now() const;
  void Send(PeerId to, std::vector<uint8_t> message);
  TimerId StartTimer(Duration after);
  void RunCompute(ComputeTask task);
  void ReportBadPeer(PeerId peer, const Status& why);

  // ConnectionEvents (net_host_mesh.cc).
  std::vector<Cookie> HelloCookies(const Connection& conn) override;
  Status Admit(const PeerRecord& record) override;
  void OnAuthenticated(const ConnectionPtr& conn, const PeerRecord& record) override;
  void OnFrame(const ConnectionPtr& conn, FrameType type,
               std::span<const uint8_t> payload) override;
  void OnSent(const Connection& conn, size_t data_bytes) override;
  void OnIdle(const Connection& conn) override;
  void OnPeerFinished(const ConnectionPtr& conn) override;
  void OnClosed(const ConnectionPtr& conn, ConnectionState was, size_t unsent,
                const std::string& reason, const std::string& detail) override;

  const std::string& bound() const { return bound_; }
  const PublicKey& public_key() const { return security_.identity.public_key(); }
  const NetStats& stats() const { return stats_; }
  const Membership& membership() const { return membership_; }
  SimTime started_at() const { return started_at_; }
  PeerId self() const { return options_.self; }
  Rng& rng() { return rng_; }
  Rng& privacy_rng() { return privacy_rng_; }
  MetricsSink& sink() { return sink_; }

 private:
  // What the host holds per peer beyond membership: the pair's
  // authenticated connection and the messages for it.
  struct PeerLink {
    ConnectionPtr conn;                        // mirrors membership_.connected
    PeerRecord record;                         // the one `conn` authenticated with
    bool lost = false;                         // was connected, is not (pending bounded)
    bool reported_down = false;                // OnPeerDown told, OnPeerUp not yet
    std::deque<std::vector<uint8_t>> pending;  // messages waiting for a connection
    size_t queued_bytes = 0;                   // pending + queued on conn
    // With NetOptions::streams K > 1 (net_host_streams.cc): conn carries
    // control frames only, and data messages (and Bye) take turns over the
    // data streams extra[1..K-1], message n on stream 1 + n % (K-1), both
    // counters from 0 when conn attached. extra[0] is unused.
    std::vector<ConnectionPtr> extra;
    uint64_t sent = 0;       // data messages handed to the data streams
    uint64_t delivered = 0;  // data messages received from them
    bool bye_sent = false;   // our Bye is queued on this link (once per conn)
    // Between failed dials of the link's data streams (from backoff_min,
    // doubling to backoff_max; reset when conn attaches).
    std::optional<Backoff> stream_backoff;
  };
  struct Bootstrap {
    asio::ip::tcp::endpoint endpoint;
    Backoff backoff;
    bool done = false;  // a handshake through it succeeded
  };

  // net_host.cc: start, heartbeats, shutdown.
  void Count(const std::string& name, int64_t delta = 1) { sink_.Count(name, delta); }
  SimTime At(Clock::time_point t) const;
  void WatchSignals();
  void ScheduleHeartbeat();
  void OnHeartbeat();
  void MaybeStartNode();
  void StartNode();
  void CheckStop();
  void BeginShutdown();
  void OnDrained();

  // net_host_mesh.cc: connections and membership.
  void Accept();          // waits for the listen queue to be readable
  void AcceptQueued();    // accepts what is queued
  void OnAccepted(int fd, const sockaddr_storage& from, socklen_t length);
  // Sets the listener's kernel filter to admission's ban list.
  void UpdateBanFilter();
  // Makes a connection in handshake; the caller starts it. A dialer's
  // stream > 0 names its link's stream-0 session (`link_session`).
  ConnectionPtr StartConnection(asio::ip::tcp::socket socket, Role role, std::string address,
                                std::optional<PeerId> dialed_for,
                                std::optional<size_t> bootstrap, uint8_t stream = 0,
                                const SessionId& link_session = {});
  // `conn` left its handshake (authenticated or closed): releases its
  // admission slot. Safe to call again.
  void EndHandshake(const ConnectionPtr& conn);
  void Dial(const asio::ip::tcp::endpoint& endpoint, std::optional<PeerId> slot,
            std::function<void(bool)> done, std::optional<size_t> bootstrap = std::nullopt);
  void DialBootstrap(size_t i);
  void MaybeDialSlot(PeerId peer);
  void ScheduleRedial(PeerId peer);
  void RetryLater(Duration delay, std::function<void()> retry);
  void Attach(PeerId peer, ConnectionPtr conn, const PeerRecord& record);
  void Greet(PeerId peer, Connection& conn);
  void LearnRecord(const PeerRecord& record, RecordSource source, const Connection* from);
  void OnPeersFrame(const ConnectionPtr& conn, std::span<const uint8_t> payload);
  // Queues a Peers frame relayed to `link`'s peer (bounded, see there).
  void RelayPeers(PeerLink& link, const std::vector<uint8_t>& frame);
  void CountRejected(const std::string& reason, const std::string& address,
                     const std::string& detail);
  bool MayLogRejection() { return ++rejected_logged_ <= options_.max_rejection_logs; }
  void OnPeerLost(PeerId peer, const std::string& detail);

  // net_host_streams.cc: a link's several TCP streams.
  uint8_t streams() const { return options_.streams; }
  // Every stream of the link is open (always, with one stream per link).
  bool LinkReady(const PeerLink& link) const;
  bool OnLink(const PeerLink& link, const Connection& conn) const;
  bool LinkIdle(const PeerLink& link) const;
  Clock::time_point LinkLastHeard(const PeerLink& link) const;
  // The stream the link's next data message (or Bye) goes on.
  Connection& NextDataStream(PeerLink& link);
  void SendOnLink(PeerLink& link, std::vector<uint8_t> message);
  // Once per link, after what is pending: while the link's data streams
  // are still coming, FlushPending sends it.
  void SendByeOnLink(PeerLink& link);
  // Messages wait for the link's data streams: they still open while we
  // shut down (we dial them, or keep accepting and admitting them), so
  // those messages go out, and the Bye after them.
  bool StreamsComing(const PeerLink& link) const;
  // Shutting down, the listener stays open while this holds: a link we
  // accepted waits for the data streams its peer dials.
  bool AcceptingStreams() const;
  // `conn`, in its handshake, may be a data stream of a link whose
  // messages wait for it (an accepted one: from that link's host).
  bool MayBeStreamOfWaitingLink(const Connection& conn) const;
  // "host:port" addresses of one host.
  static bool SameHost(const std::string& a, const std::string& b);
  // The dialer of a link's first stream dials the others.
  void DialStreams(PeerId peer, const ConnectionPtr& first);
  void DialStream(PeerId peer, std::weak_ptr<Connection> first, uint8_t stream);
  // An authenticated connection claiming stream > 0 joins its link.
  void AttachStream(const ConnectionPtr& conn, const PeerRecord& record);
  // Queues what waited for the link once every stream is open.
  void FlushPending(PeerId peer);
  // A data message arrived on `from` (a Bye ends the link instead): the
  // next stream's turn.
  void AdvanceTurn(PeerLink& link, Connection& from);
  // Closes the link's other streams (`first` is closing or replaced).
  void DropStreams(PeerLink& link, const std::string& detail);
  // A stream that is not the link's first closed.
  void OnStreamClosed(const ConnectionPtr& conn, bool was_open);
  // A handshake under way may be one of the link's data streams.
  bool StreamHandshakeFor(const PeerLink& link) const;
  // The link's first stream `first` attached: its data streams must open
  // within peer_timeout, or it closes (and the redial, with its backoff,
  // and OnPeerDown apply); a link that carries no data is not up.
  void WatchLinkReady(PeerId peer, const ConnectionPtr& first);
  // The peer ended `first` (OnPeerFinished) before the link was ready:
  // closes it once no handshake may still make it so, or at `deadline`.
  void EndFinishedLink(PeerId peer, std::weak_ptr<Connection> first,
                       Clock::time_point deadline);

  NetHost& host_;
  const NetOptions options_;
  NetSecurity security_;
  MetricsSink& sink_;
  Rng rng_;
  Rng privacy_rng_;  // secret: never saved, logged or sent
  const Clock::time_point epoch_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer heartbeat_;
  asio::steady_timer start_timer_;
  asio::signal_set signals_{io_};
  std::string bound_;
  PeerRecord self_record_;
  HandshakeConfig handshake_config_;
  ShmBudget shm_budget_;  // same-host rings (connection.h)
  Membership membership_;
  const FailureDetector detector_;
  std::vector<PeerLink> links_;
  std::vector<Bootstrap> bootstrap_;
  std::set<ConnectionPtr> unauthenticated_;
  AdmissionControl admission_;
  CookieMinter cookies_;
  NetStats stats_;
  size_t rejected_logged_ = 0;
  Node* node_ = nullptr;
  std::function<bool()> stop_;
  bool started_ = false;
  bool stopping_ = false;
  bool interrupted_ = false;
  bool half_closed_ = false;
  SimTime started_at_;
  Clock::time_point shutdown_deadline_;
  uint64_t next_timer_ = 1;
  // Last: destroyed first, so its thread is joined before the loop goes.
  ComputeWorker worker_;
};

}  // namespace murmur::net
