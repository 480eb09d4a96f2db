// NetHost: the real-network Host (ARCHITECTURE.md). One process runs one
// Node over authenticated, encrypted TCP (runtime/handshake.h) to the other
// peers of the run, on a single Asio io_context thread:
//  * a listener and outbound connections: every peer dials the bootstrap
//    addresses, learns the others' signed PeerRecords in the handshake and
//    in Peers frames (membership exchange; a newer record is relayed), and
//    the lower slot of every pair dials the higher one unless they are
//    already connected, so a full mesh forms. Give a peer one bootstrap
//    address (e.g. slot 0's): with several, two peers may dial each other at
//    once; both ends then keep the connection the lower slot dialed, and
//    messages already queued on the other are lost. A connection whose
//    peer record is newer than the live one's (the peer restarted while
//    its old connection still looked alive) replaces it whoever dialed;
//  * the node starts when every other slot is connected, on the first data
//    frame, or `start_timeout` after Run() began, whichever comes first;
//  * Send() seals the message and queues it on the peer's connection (or in
//    the peer's pending queue while it is not connected). Queues are bounded
//    by `send_queue_bytes` per peer: a message that does not fit is dropped
//    and counted (Host::Send is unreliable by contract), never buffered
//    without bound. For a peer that was connected and is lost (crashed,
//    restarting) only the newest `max_pending_while_lost` messages are
//    kept ("net.dropped_while_lost"): a restarted peer gets its neighbours'
//    current messages, not a backlog of every round it missed;
//  * RunCompute() runs the task on one worker thread and posts the
//    completion back to the loop; timers are asio steady_timers and now()
//    is the monotonic time since the host was created;
//  * heartbeats every `heartbeat_interval`; a connection silent for
//    `peer_timeout` is closed, and losing a peer's last connection raises
//    Node::OnPeerDown. The lower slot redials with exponential backoff
//    (backoff_min doubling to backoff_max) until the peer is back or says
//    Bye; a newer record of a peer that said Bye (it restarted) makes it
//    dialable again;
//  * a slot belongs to the first key that claims it with a signed record
//    (in a handshake or a relayed Peers frame): a restart with the same key
//    is recognised by that key, and a claim by another key is refused
//    ("net.rejected.slot_taken" for a connection,
//    "net.records_slot_taken" for a relayed record);
//  * hostile input (bad header, a frame type the connection's phase does
//    not accept, oversized, truncated, bad MAC or replay, failed or slow
//    handshake, refused key, a Hello failing its mac1) closes that
//    connection, counting the reason as
//    "net.rejected.<reason>" and logging it; training goes on. An accepted
//    connection over its address's or the total admission limits
//    (admission.h) is closed before any crypto (with a reset), counted the
//    same way; an address refused over and over is banned for a while and
//    its SYNs dropped by a kernel filter on the listener (ban_filter.h,
//    "net.bans"). Before
//    authentication a connection holds at most kMaxHandshakePayload bytes
//    of frame memory, after it at most one chunk (kDataChunk) per frame.
// Not thread-safe: every method runs on the loop thread, except that Run()
// is called from the thread that becomes the loop. The node and the sink
// must outlive the host. Diagnostics (refused connections, lost peers,
// dropped messages) go to murmur/core/log.h's sink; at most
// `max_rejection_logs` lines about refused connections and records.
//
// The pieces (Gloo-style; docs/runtime.md, "Inside NetHost"):
//  * src/runtime/connection.h: one socket's handshake, framing, sealing
//    and bounds, reporting to a narrow ConnectionEvents interface;
//  * murmur/runtime/membership.h: slots, signed records, trust on first
//    use, dial policy, backoff, duplicate resolution and the failure
//    detector's verdicts, as pure logic with its own unit tests;
//  * this class: the event loop, timers, the compute worker, the send
//    queues, start and shutdown, wiring connections to membership
//    (src/runtime/net_host.cc and net_host_mesh.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/runtime/admission.h"
#include "murmur/runtime/identity.h"

namespace murmur::net {

struct NetOptions {
  PeerId self;
  uint32_t num_slots = 0;            // PeerIds 0..num_slots-1 take part
  std::string listen = "127.0.0.1:0";
  std::string advertise;             // address others dial; empty: the bound listen address
  std::vector<std::string> bootstrap;  // "host:port" of some other peers
  uint64_t seed = 1;                 // for rng(): (seed, self, kProtocol); not privacy_rng()
  Duration heartbeat_interval = Duration::Seconds(0.5);
  Duration peer_timeout = Duration::Seconds(5);
  Duration handshake_timeout = Duration::Seconds(5);
  Duration start_timeout = Duration::Seconds(60);
  Duration shutdown_timeout = Duration::Seconds(5);  // flushing queues at the end
  Duration backoff_min = Duration::Seconds(0.1);
  Duration backoff_max = Duration::Seconds(5);
  size_t max_message_bytes = size_t{256} << 20;
  size_t send_queue_bytes = size_t{512} << 20;       // per peer
  size_t max_pending_while_lost = 4;                 // messages kept for a lost peer
  // TCP connections per link (1..8; every peer of a run must agree, else
  // refused as "net.rejected.not_admitted"). 1: one connection carries
  // everything. K > 1: the first carries control frames only (heartbeats,
  // membership) and the protocol's messages take turns over the other
  // K-1, each message whole on one stream, delivered in the order sent
  // (docs/runtime.md, "Several streams per link").
  uint8_t streams = 1;
  // Connections whose two addresses are loopback ones (the peer runs on
  // this host, in this network namespace) move their sealed frames to a
  // shared-memory ring of this many bytes per direction once the peer
  // agrees (docs/runtime.md, "Peers on the same host"): no kernel TCP
  // copies and no per-frame sealing (only the two authenticated processes
  // map the rings). 0: always TCP. 64 KiB .. 64 MiB.
  size_t shm_ring_bytes = size_t{1} << 20;
  // At most this many connections use shared memory at once (the others
  // keep TCP), so a host running many peers holds at most
  // shm_max_links x shm_ring_bytes of rings per peer.
  size_t shm_max_links = 16;
  // Accepted connections allowed into a handshake: per source address and
  // in total, and a handshake rate per address (admission.h; defaults: 64
  // in total, 8 per address, bursts of 16 then 20 per second per address),
  // when Hellos need a cookie (more than 16 in handshake), and bans (an
  // address refused 128 times in a second, for 10 s).
  AdmissionLimits admission;
  // A peer record dated more than this after our clock is refused
  // (membership.h), so a record from the future cannot freeze a slot.
  Duration max_clock_skew = Duration::Seconds(60);
  // Where this peer's incarnation counter is kept (IncarnationCounter in
  // identity.h; by convention the key file's path + ".incarnation"): Create
  // bumps it, so records of a restart order after the previous run's even
  // if the clock went backwards. Empty: incarnation 0, time alone orders.
  std::string incarnation_file;
  // Log lines about refused connections and ignored records (the first
  // ones); later ones are only counted ("net.rejected.<reason>",
  // "net.records_slot_taken"), so a hostile peer cannot flood the log.
  size_t max_rejection_logs = 50;
  bool handle_signals = false;      // SIGINT/SIGTERM end Run() gracefully
};

struct NetSecurity {
  Identity identity;
  std::optional<NetworkKey> network_key;
  Allowlist allowlist;
  // Frames after the handshake authenticated but not encrypted (private
  // clusters: saves the cipher's CPU; docs/wire.md, "Plain sessions"). The
  // handshake stays authenticated and every peer must agree: a peer with
  // the other setting is refused ("net.rejected.not_admitted").
  bool plain = false;
};

struct NetStats {
  uint64_t bytes_sent = 0;          // message bytes queued by Send
  uint64_t msgs_sent = 0;
  uint64_t msgs_received = 0;
  uint64_t bytes_received = 0;      // message bytes delivered to the node
  uint64_t wire_bytes_sent = 0;     // frames written, headers and MACs included
  uint64_t wire_bytes_received = 0;
  uint64_t send_dropped = 0;        // messages refused by a full send queue
  uint64_t handshakes = 0;          // completed
  uint64_t peers_down = 0;          // OnPeerDown raised
  uint64_t heartbeats_received = 0; // Heartbeat frames from authenticated peers
  // Most reassembly buffer memory one link's streams held at once, seen at
  // each delivered message (one stream's worth, whatever the stream count).
  size_t max_link_reassembly_bytes = 0;
  uint64_t dials = 0;               // outbound connection attempts
  size_t max_handshake_buffer = 0;  // most frame memory a connection held before authenticating
  uint64_t cookie_replies = 0;      // Hellos answered with a cookie (no crypto)
  uint64_t cookies_accepted = 0;    // Hellos under load that carried a valid cookie
  uint64_t hello_key_exchanges = 0; // Hellos an acceptor made a key pair and signed for
  uint64_t shm_links = 0;           // connections whose frames moved to shared memory
  uint64_t shm_failures = 0;        // same-host set-ups that failed (the connection kept TCP)
  // Most accepted connections in handshake at once, in total and from one
  // source address (what admission control bounds; tests and fuzzing).
  size_t max_in_handshake = 0;
  size_t max_in_handshake_per_address = 0;
  uint64_t bans = 0;          // addresses banned (admission.h), counted at each ban
  size_t kernel_banned = 0;   // addresses the listener's kernel filter drops now
  std::map<std::string, int64_t> rejected;  // closed connections by reason
};

// Process-wide (glibc mallopt): freed heap memory up to 256 MiB stays with
// the process and no allocation below 64 MiB is its own mmap, so message
// buffers that the node allocates and NetHost frees once written reuse
// pages already mapped instead of faulting fresh ones in for every message
// (~19% of the collective's CPU time before, docs/collective.md). For
// processes that move bulk data (`murmur bench`); costs that much retained
// memory. Call before the first large allocation.
void KeepFreedMessageMemory();

class NetHost final : public Host {
 public:
  // Binds the listener. kInvalidArgument for a bad address or options,
  // kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<NetHost>> Create(const NetOptions& options,
                                                 NetSecurity security, MetricsSink& sink);
  ~NetHost() override;

  // "host:port" actually bound (the port is the kernel's when 0 was asked).
  std::string listen_address() const;
  const PublicKey& public_key() const;

  // Runs the loop on the calling thread until `stop()` returns true (asked
  // after every event delivered to the node) or Shutdown(); then says Bye to
  // every peer and flushes the send queues for up to shutdown_timeout.
  // Returns kAborted when interrupted by Shutdown().
  Status Run(Node& node, const std::function<bool()>& stop);
  // Thread-safe and async-signal-unsafe: asks Run() to finish (e.g. from a
  // signal watcher thread).
  void Shutdown();

  // Loop thread only, or after Run() returned. REQUIRES (said_bye,
  // connected): peer < num_slots.
  const NetStats& stats() const;
  bool said_bye(PeerId peer) const;
  // now() when the node started (time 0 of the simulator's clock); zero
  // before it starts.
  SimTime started_at() const;
  bool connected(PeerId peer) const;

  // Host.
  PeerId self() const override;
  SimTime now() const override;
  void Send(PeerId to, std::vector<uint8_t> message) override;
  TimerId StartTimer(Duration after) override;
  void RunCompute(ComputeTask task) override;
  Rng& rng() override;
  // Keyed by 128 bits from randombytes_buf when the host is made, never
  // written anywhere (runtime/secret_rng.h): no other peer, and no rerun,
  // can regenerate it.
  Rng& privacy_rng() override;
  MetricsSink& metrics() override;
  void ReportBadPeer(PeerId peer, const Status& why) override;

  class Impl;

 private:
  explicit NetHost(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace murmur::net
