// NetHost::Impl's several TCP streams per link (NetOptions::streams = K).
// With K > 1 the link's first connection (stream 0, the one membership
// knows) carries only control frames, so a heartbeat never waits behind
// bulk data, not even in the kernel's socket buffers; the protocol's
// messages take turns over streams 1..K-1: message n goes whole on stream
// 1 + n % (K-1), and the receiver reads only the stream whose turn it is
// (the others are paused; what they carry waits in the kernel), so messages
// are delivered in the order sent and a link holds at most one message
// being reassembled, as with one stream. The dialer of stream 0 dials the
// others, each with the full handshake (same identity, network key,
// allowlist and admission limits) and its index in the Auth's signed
// flags, and the session id of the link's stream 0 (handshake.h); an
// acceptor attaches one only to a link whose stream 0 is open, is that
// session, and authenticated with the same record. Losing any stream takes the
// whole link down (OnPeerDown, then the usual redial).
#include <algorithm>
#include <utility>

#include "murmur/core/log.h"
#include "runtime/endpoint.h"
#include "runtime/net_host_impl.h"

namespace murmur::net {

bool NetHost::Impl::LinkReady(const PeerLink& link) const {
  if (!link.conn) return false;
  for (uint8_t s = 1; s < streams(); ++s) {
    if (!link.extra[s]) return false;
  }
  return true;
}

bool NetHost::Impl::OnLink(const PeerLink& link, const Connection& conn) const {
  if (link.conn.get() == &conn) return true;
  const uint8_t s = conn.stream();
  return s > 0 && s < link.extra.size() && link.extra[s].get() == &conn;
}

bool NetHost::Impl::LinkIdle(const PeerLink& link) const {
  if (link.conn && !link.conn->idle()) return false;
  return std::all_of(link.extra.begin(), link.extra.end(),
                     [](const ConnectionPtr& c) { return !c || c->idle(); });
}

// A paused stream reads nothing, so the link is heard when any stream is.
NetHost::Impl::Clock::time_point NetHost::Impl::LinkLastHeard(const PeerLink& link) const {
  Clock::time_point t = link.conn->last_heard();
  for (const ConnectionPtr& c : link.extra) {
    if (c) t = std::max(t, c->last_heard());
  }
  return t;
}

Connection& NetHost::Impl::NextDataStream(PeerLink& link) {
  if (streams() == 1) return *link.conn;
  const uint64_t n = link.sent++;
  return *link.extra[1 + n % (streams() - 1)];
}

void NetHost::Impl::SendOnLink(PeerLink& link, std::vector<uint8_t> message) {
  const size_t size = message.size();
  NextDataStream(link).Enqueue(FrameType::kData, std::move(message), size);
}

// After every data message, on the data streams' turn: the receiver acts
// on a Bye only when it has read what came before it.
void NetHost::Impl::SendByeOnLink(PeerLink& link) {
  if (link.bye_sent || !link.conn || !link.conn->open()) return;
  // A Bye on stream 0 would be read before the messages the data streams
  // carry once they open, and they would be dropped.
  if (StreamsComing(link)) return;
  link.bye_sent = true;
  Connection& on = LinkReady(link) ? NextDataStream(link) : *link.conn;
  on.Enqueue(FrameType::kBye, {}, 0);
}

bool NetHost::Impl::StreamsComing(const PeerLink& link) const {
  return link.conn && link.conn->open() && !LinkReady(link) && !link.pending.empty();
}

bool NetHost::Impl::AcceptingStreams() const {
  return std::any_of(links_.begin(), links_.end(), [this](const PeerLink& link) {
    return StreamsComing(link) && link.conn->role() == Role::kAcceptor;
  });
}

bool NetHost::Impl::MayBeStreamOfWaitingLink(const Connection& conn) const {
  if (conn.role() == Role::kDialer) {
    const ConnectionPtr first = conn.stream_of.lock();
    return first && first->open() && StreamsComing(links_[first->slot().value]);
  }
  return std::any_of(links_.begin(), links_.end(), [&](const PeerLink& link) {
    return StreamsComing(link) && link.conn->role() == Role::kAcceptor &&
           SameHost(link.conn->peer_address(), conn.peer_address());
  });
}

void NetHost::Impl::DialStreams(PeerId peer, const ConnectionPtr& first) {
  for (uint8_t s = 1; s < streams(); ++s) DialStream(peer, first, s);
}

void NetHost::Impl::DialStream(PeerId peer, std::weak_ptr<Connection> first, uint8_t stream) {
  const ConnectionPtr link_first = first.lock();
  if (!link_first || links_[peer.value].conn != link_first || links_[peer.value].extra[stream] ||
      (stopping_ && !StreamsComing(links_[peer.value]))) {
    return;
  }
  Result<asio::ip::tcp::endpoint> endpoint = ParseEndpoint(link_first->peer_address());
  if (!endpoint.ok()) return;
  ++stats_.dials;
  auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
  socket->async_connect(*endpoint, [this, socket, endpoint = *endpoint, peer, first,
                                    stream](const asio::error_code& ec) {
    if (stopping_ && !StreamsComing(links_[peer.value])) return;
    if (ec) {
      PeerLink& link = links_[peer.value];
      if (!link.stream_backoff || link.conn != first.lock()) return;
      RetryLater(link.stream_backoff->Next(), [this, peer, first, stream] {
        DialStream(peer, first, stream);
      });
      return;
    }
    const ConnectionPtr link_first = first.lock();
    if (!link_first) return;
    ConnectionPtr conn = StartConnection(std::move(*socket), Role::kDialer, ToString(endpoint),
                                         std::nullopt, std::nullopt, stream,
                                         link_first->session_id());
    conn->stream_of = first;
    conn->Start();
  });
}

void NetHost::Impl::AttachStream(const ConnectionPtr& conn, const PeerRecord& record) {
  PeerLink& link = links_[record.slot.value];
  const uint8_t s = conn->stream();
  // Dialed by us: for the first stream it was dialed for. Accepted: the
  // peer dialed the link's first stream and this is a new stream of that
  // very session (its signed Auth names it: not a late stream of a
  // session before a restart or a redial), under the same record.
  const bool ours = conn->role() == Role::kDialer;
  const bool joins =
      link.conn && link.conn->open() && !link.extra[s] &&
      (ours ? conn->stream_of.lock() == link.conn
            : link.conn->role() == Role::kAcceptor && !record.NewerThan(link.record) &&
                  !link.record.NewerThan(record) && record.key == link.record.key &&
                  conn->peer_link_session() == link.conn->session_id());
  if (!joins) {
    conn->Close("bad_stream", "stream " + std::to_string(s) + " of peer " +
                                  std::to_string(record.slot.value) +
                                  " matches no open link of that peer");
    return;
  }
  link.extra[s] = conn;
  // Data streams take turns; the first turn is stream 1's.
  if (s != 1 + link.delivered % (streams() - 1)) conn->PauseReading();
  if (LinkReady(link)) FlushPending(record.slot);
}

void NetHost::Impl::FlushPending(PeerId peer) {
  PeerLink& link = links_[peer.value];
  while (!link.pending.empty()) {
    std::vector<uint8_t> message = std::move(link.pending.front());
    link.pending.pop_front();
    SendOnLink(link, std::move(message));
  }
  if (stopping_) SendByeOnLink(link);
}

void NetHost::Impl::AdvanceTurn(PeerLink& link, Connection& from) {
  size_t held = link.conn->reassembly_capacity();
  for (const ConnectionPtr& c : link.extra) {
    if (c) held += c->reassembly_capacity();
  }
  stats_.max_link_reassembly_bytes = std::max(stats_.max_link_reassembly_bytes, held);
  if (streams() == 1 || from.stream() == 0) return;
  from.PauseReading();
  ++link.delivered;
  const ConnectionPtr& next = link.extra[1 + link.delivered % (streams() - 1)];
  if (next) next->ResumeReading();
}

void NetHost::Impl::DropStreams(PeerLink& link, const std::string& detail) {
  std::vector<ConnectionPtr> extra = std::move(link.extra);
  link.extra.assign(streams(), nullptr);
  link.sent = 0;
  link.delivered = 0;
  for (const ConnectionPtr& c : extra) {
    if (c) c->Close("", detail);
  }
}

// The peer ended the link's control stream (it stopped, or its process
// ended). A link that carries data waits for the data stream whose turn it
// is to end too (what it still carries is read first); one that never
// carried any (its data streams not all open) or whose peer said Bye has
// nothing more to come: closing it now spares shutdown_timeout (a partner
// stopping) or peer_timeout (one that crashed).
void NetHost::Impl::OnPeerFinished(const ConnectionPtr& conn) {
  PeerLink& link = links_[conn->slot().value];
  if (link.conn != conn) {
    conn->Close("", "the peer ended a replaced connection");
    return;
  }
  if (LinkReady(link) && !membership_.said_bye(conn->slot())) return;
  // The peer's data streams may be open at its end and still in their
  // handshake at ours (another socket, no order across them).
  EndFinishedLink(conn->slot(), conn, Clock::now() + std::chrono::nanoseconds(options_.handshake_timeout.ns));
}

void NetHost::Impl::EndFinishedLink(PeerId peer, std::weak_ptr<Connection> first,
                                    Clock::time_point deadline) {
  const ConnectionPtr conn = first.lock();
  PeerLink& link = links_[peer.value];
  if (!conn || link.conn != conn || conn->closed()) return;
  if (LinkReady(link) && !membership_.said_bye(peer)) return;  // the turn stream ends it
  if (!StreamHandshakeFor(link) || Clock::now() >= deadline) {
    conn->Close("", "the peer ended the link's control stream before its data streams opened");
    return;
  }
  RetryLater(options_.backoff_min,
             [this, peer, first, deadline] { EndFinishedLink(peer, first, deadline); });
}

bool NetHost::Impl::SameHost(const std::string& a, const std::string& b) {
  return a.substr(0, a.rfind(':')) == b.substr(0, b.rfind(':'));
}

bool NetHost::Impl::StreamHandshakeFor(const PeerLink& link) const {
  return std::any_of(unauthenticated_.begin(), unauthenticated_.end(),
                     [&](const ConnectionPtr& c) {
                       if (c->role() == Role::kDialer) return c->stream_of.lock() == link.conn;
                       return SameHost(c->peer_address(), link.conn->peer_address());
                     });
}

void NetHost::Impl::WatchLinkReady(PeerId peer, const ConnectionPtr& first) {
  if (streams() == 1) return;
  RetryLater(options_.peer_timeout, [this, peer, weak = std::weak_ptr<Connection>(first)] {
    const ConnectionPtr conn = weak.lock();
    if (!conn || links_[peer.value].conn != conn || LinkReady(links_[peer.value])) return;
    Count("net.streams_timeouts");
    conn->Close("", "the link's data streams did not open within " +
                        std::to_string(options_.peer_timeout.seconds()) + "s");
  });
}

void NetHost::Impl::OnStreamClosed(const ConnectionPtr& conn, bool was_open) {
  if (!was_open) {
    // A handshake of a further stream failed (refused under the peer's
    // admission limits, cut): try again while its link is up.
    const ConnectionPtr first = conn->stream_of.lock();
    if (!first || stopping_) return;
    const PeerId peer = first->slot();
    PeerLink& link = links_[peer.value];
    if (link.conn != first || !link.stream_backoff) return;
    const uint8_t stream = conn->dial_stream();
    RetryLater(link.stream_backoff->Next(), [this, peer, weak = conn->stream_of, stream] {
      DialStream(peer, weak, stream);
    });
    return;
  }
  PeerLink& link = links_[conn->slot().value];
  const uint8_t s = conn->stream();
  if (s == 0 || s >= link.extra.size() || link.extra[s] != conn) return;
  link.extra[s].reset();
  // One stream lost is the link lost: its turn order cannot go on.
  Count("net.link_streams_lost");
  if (link.conn) link.conn->Close("", "stream " + std::to_string(s) + " of the link closed");
}

}  // namespace murmur::net
