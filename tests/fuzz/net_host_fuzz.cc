// Fuzz target: the connection state machine of a real NetHost (Connection,
// admission control, cookies, membership, duplicate resolution; src/runtime/)
// over loopback TCP inside this process. Connection owns an Asio TCP socket
// (no transport to inject), so each input gets a fresh NetHost (slot 3 of 4,
// with a network key, tight admission limits, a 20 ms handshake timeout) and
// a Driver node that plays every remote party from the host's own loop
// thread: between two of the host's events it performs one event decoded
// from the input on raw non-blocking client sockets. First an honest peer
// (slot 1) completes its handshake; then the input's events: open a raw
// socket, or a peer that dials with one of four keys (slot 2's, slot 0's,
// a stranger claiming slot 1, slot 2's key claiming slot 0), with the right
// or a wrong network key, from 127.0.0.1/2/3, writing in pieces of 1..16
// bytes or whole; raw bytes; sealed frames of any type; tampered frames;
// Hellos again; Peers frames with records dated anywhere; close or
// half-close; the node sending; the honest peer sending; sleeping past the
// handshake timeout. Then it waits (3 s at most) until everything settled.
// Invariants (abort = finding):
//  * the host never sends a malformed frame or one that fails its MAC;
//  * the honest peer is never cut off or declared down, and every message
//    between it and the node arrives, in order, whatever the others do;
//  * every connection that misbehaved (bad bytes at a frame boundary, bad
//    MAC, a frame type the open phase refuses, Bye, half-close, a wrong
//    network key, a taken slot) is closed, and no connection stays in its
//    handshake past the timeout (checked after the sleep event; without
//    one an input ends without waiting for the timeout);
//  * at most one live authenticated connection per key (duplicates);
//  * at most kMaxHandshakePayload bytes of frame memory per connection
//    before authentication, and never more connections in handshake than
//    the admission limits, per address and in total.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/core/bytes.h"
#include "murmur/core/log.h"
#include "murmur/runtime/frame.h"
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/net_host.h"

namespace {

using namespace murmur;
using namespace murmur::net;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kSlots = 4;  // the host is slot 3, the highest: it never dials
constexpr size_t kMaxClients = 12;
constexpr size_t kMaxEvents = 64;
constexpr Duration kHandshakeTimeout = Duration::Seconds(0.02);
constexpr Duration kHeartbeat = Duration::Seconds(0.002);
constexpr AdmissionLimits kLimits{.max_unauthenticated = 6,
                                  .max_unauthenticated_per_address = 3,
                                  .handshake_burst = 6,
                                  .handshake_interval = Duration::Seconds(0.002),
                                  .cookie_above = 2,
                                  // No bans: the clients' connects block, and a
                                  // banned source's SYNs go unanswered (bans are
                                  // tested in ban_filter_test and net_host_test).
                                  .ban_after_refusals = 0};

#define FUZZ_CHECK(cond, ...)                                     \
  do {                                                            \
    if (!(cond)) {                                                \
      std::fprintf(stderr, "net_host_fuzz: " __VA_ARGS__);        \
      std::fprintf(stderr, "\n");                                 \
      std::abort();                                               \
    }                                                             \
  } while (0)

// Who a client claims to be: key seed and slot. Persona 0 is the honest
// peer, played by the target alone.
struct Persona {
  uint8_t seed;
  uint32_t slot;
};
constexpr Persona kPersonas[] = {{11, 1}, {12, 2}, {13, 0}, {14, 1}, {12, 0}};
constexpr size_t kNumPersonas = std::size(kPersonas);

const Identity& PersonaIdentity(size_t p) {
  static const std::vector<Identity> ids = [] {
    std::vector<Identity> out;
    for (const Persona& persona : kPersonas) {
      std::array<uint8_t, 32> seed{};
      seed.fill(persona.seed);
      out.push_back(Identity::FromSeed(seed));
    }
    return out;
  }();
  return ids[p];
}

NetworkKey TheNetworkKey(bool right) {
  NetworkKey key{};
  key.fill(right ? 0x4e : 0x17);
  return key;
}

uint64_t NowMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

class Input {
 public:
  explicit Input(std::span<const uint8_t> data) : data_(data) {}
  bool empty() const { return pos_ >= data_.size(); }
  std::span<const uint8_t> all() const { return data_; }
  uint8_t Byte() { return empty() ? 0 : data_[pos_++]; }
  std::vector<uint8_t> Take(size_t n) {
    n = std::min(n, data_.size() - pos_);
    std::vector<uint8_t> out(data_.begin() + pos_, data_.begin() + pos_ + n);
    pos_ += n;
    return out;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

enum class State { kRaw, kHello, kAuth, kOpen, kConfused };

// One remote end: a non-blocking socket and, for a peer, its side of the
// handshake and session.
struct Client {
  int fd = -1;
  int persona = -1;  // -1: raw bytes only
  std::optional<HandshakeConfig> config;
  std::optional<Handshake> handshake;
  FrameParser parser{kDataChunk, FramePhase::kHello};
  std::optional<SessionCipher> cipher;
  State state = State::kRaw;
  bool eof = false;           // the host closed it
  bool closed_by_us = false;  // fd closed here
  bool must_close = false;    // it misbehaved: the host must close it
  bool at_boundary = true;    // what it wrote so far is whole frames
  bool overdue = false;       // was in its handshake when the timeout passed
  size_t chunk = 0;           // write at most this many bytes per step (0: all)
  std::vector<uint8_t> out;   // not yet written
  uint32_t data_seen = 0;     // Data frames from the host (the honest peer checks them)

  bool live() const { return !eof && !closed_by_us; }
};

int Connect(const std::string& listen, uint8_t source) {
  const size_t colon = listen.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(listen.substr(colon + 1))));
  inet_pton(AF_INET, listen.substr(0, colon).c_str(), &to.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  FUZZ_CHECK(fd >= 0, "socket: %d", errno);
  // Closed with a reset, so thousands of inputs leave no TIME_WAIT behind.
  const linger no_linger{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
  const int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(0x7f000001u + source % 3);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Plays every remote party; see the top of this file.
class Driver final : public Node {
 public:
  Driver(std::span<const uint8_t> input, const NetHost& host)
      : in_(input), listen_(host.listen_address()), net_host_(&host) {}

  void OnStart(Host& host) override {
    host_ = &host;
    deadline_ = Clock::now() + std::chrono::seconds(3);
    clients_.push_back(OpenPeer(0, true, 0, 0));
    host.StartTimer(Duration());
  }
  void OnMessage(Host&, PeerId from, std::span<const uint8_t> m) override {
    if (from != PeerId(1)) return;
    FUZZ_CHECK(m.size() == 5 && m[0] == 'H', "a message from slot 1 the honest peer never sent");
    const uint32_t seq = m[1] | m[2] << 8 | m[3] << 16 | uint32_t{m[4]} << 24;
    FUZZ_CHECK(seq == honest_delivered_, "honest message %u arrived as number %u", seq,
               honest_delivered_);
    ++honest_delivered_;
  }
  void OnTimer(Host& host, TimerId) override {
    for (auto& c : clients_) Pump(*c);
    Step();
    if (phase_ != Phase::kDone) {
      host.StartTimer(phase_ == Phase::kEvents ? Duration() : Duration::Seconds(0.0005));
    }
  }
  void OnComputeDone(Host&, uint64_t) override {}
  void OnPeerDown(Host&, PeerId peer) override {
    if (peer == PeerId(1) && phase_ != Phase::kDone && honest_open_) Dump();
    FUZZ_CHECK(peer != PeerId(1) || phase_ == Phase::kDone || !honest_open_,
               "the honest peer was declared down");
  }
  bool done() const { return phase_ == Phase::kDone; }
  void Dump() const {
    std::fprintf(stderr, "phase %d, %zu events; honest: %u of %u delivered, %u of %u back\n",
                 static_cast<int>(phase_), events_, honest_delivered_, honest_sent_,
                 clients_[0]->data_seen, node_sent_);
    std::fprintf(stderr, "input:");
    for (uint8_t b : in_.all()) std::fprintf(stderr, " %d", b);
    std::fprintf(stderr, "\n");
    for (size_t i = 0; i < clients_.size(); ++i) {
      const Client& c = *clients_[i];
      std::fprintf(stderr, "client %zu: persona %d state %d eof %d ours %d must_close %d\n", i,
                   c.persona, static_cast<int>(c.state), c.eof, c.closed_by_us, c.must_close);
    }
  }

 private:
  enum class Phase { kSetup, kEvents, kSettle, kDone };

  std::unique_ptr<Client> OpenPeer(size_t persona, bool right_key, uint8_t source, size_t chunk);
  void Step();
  void SetupStep();
  void Event();
  bool Settled() const;
  void Finish();
  void Pump(Client& c);
  void OnHostFrame(Client& c, Frame& frame);
  void Write(Client& c, std::span<const uint8_t> bytes);
  void Flush(Client& c);
  Client* Pick();
  void SendSealed(Client& c);
  void SendPeers(Client& c);

  Input in_;
  const std::string listen_;
  const NetHost* net_host_;
  Host* host_ = nullptr;
  Phase phase_ = Phase::kSetup;
  std::vector<std::unique_ptr<Client>> clients_;  // [0]: the honest peer
  bool honest_open_ = false;
  bool slept_ = false;
  size_t events_ = 0;
  uint32_t honest_sent_ = 0, honest_delivered_ = 0, node_sent_ = 0;
  Clock::time_point deadline_;
};

std::unique_ptr<Client> Driver::OpenPeer(size_t persona, bool right_key, uint8_t source,
                                         size_t chunk) {
  static const Allowlist allowlist;
  auto c = std::make_unique<Client>();
  c->fd = Connect(listen_, source);
  c->eof = c->fd < 0;
  c->persona = static_cast<int>(persona);
  c->chunk = chunk;
  const Identity& id = PersonaIdentity(persona);
  c->config = HandshakeConfig{
      .identity = &id,
      .network_key = TheNetworkKey(right_key),
      .allowlist = &allowlist,
      .self_record = PeerRecord::Make(id, PeerId(kPersonas[persona].slot), "127.0.0.1:1",
                                      NowMillis()),
      .num_slots = kSlots};
  c->handshake.emplace(*c->config, Role::kDialer);
  c->state = State::kHello;
  // A wrong network key fails mac1; slot 1 belongs to the honest key.
  c->must_close = !right_key || (persona == 3);
  Write(*c, c->handshake->HelloFrame());
  return c;
}

void Driver::Step() {
  switch (phase_) {
    case Phase::kSetup:
      SetupStep();
      return;
    case Phase::kEvents:
      if (in_.empty() || events_++ >= kMaxEvents) {
        phase_ = Phase::kSettle;
        return;
      }
      Event();
      return;
    case Phase::kSettle:
      if (Settled()) {
        Finish();
        return;
      }
      if (Clock::now() > deadline_ + std::chrono::seconds(3)) {
        Dump();
        FUZZ_CHECK(false, "not settled after 3 s (honest: %u of %u delivered; %u of %u back)",
                   honest_delivered_, honest_sent_, clients_[0]->data_seen, node_sent_);
      }
      return;
    case Phase::kDone:
      return;
  }
}

// The honest peer's handshake, retried (a loaded machine may let it pass
// the 20 ms handshake timeout); nothing else happens until it is open.
void Driver::SetupStep() {
  Client& h = *clients_[0];
  // Open at both ends (ours may be open while the host times it out).
  if (h.state == State::kOpen && net_host_->connected(PeerId(1))) {
    honest_open_ = true;
    phase_ = Phase::kEvents;
    return;
  }
  FUZZ_CHECK(h.state != State::kConfused, "the honest handshake failed on our side");
  if (!h.eof) {
    FUZZ_CHECK(Clock::now() < deadline_, "the honest peer could not connect in 3 s");
    return;
  }
  // Retried every step (0.5 ms) until the deadline: admission control
  // refuses part of quick retries from one address.
  if (h.fd >= 0) close(h.fd);
  clients_[0] = OpenPeer(0, true, 0, 0);
}

Client* Driver::Pick() {
  if (clients_.size() < 2) return nullptr;
  return clients_[1 + in_.Byte() % (clients_.size() - 1)].get();
}

void Driver::Event() {
  const uint8_t op = in_.Byte() % 12;
  Client* c = nullptr;
  switch (op) {
    case 0:  // a raw socket
    case 1:  // a peer dialing
      if (clients_.size() >= kMaxClients) return;
      if (op == 0) {
        auto raw = std::make_unique<Client>();
        raw->fd = Connect(listen_, in_.Byte());
        raw->eof = raw->fd < 0;
        clients_.push_back(std::move(raw));
      } else {
        const uint8_t b = in_.Byte();
        clients_.push_back(OpenPeer(1 + b % (kNumPersonas - 1), (b & 0x80) == 0, in_.Byte(),
                                    (b >> 3) % 17));
      }
      return;
    case 2:  // raw bytes, anywhere in the stream
      if ((c = Pick()) == nullptr) return;
      {
        const std::vector<uint8_t> bytes = in_.Take(in_.Byte() % 48);
        if (bytes.empty()) return;
        // A header is checked once whole: a bad one must close the stream.
        if (c->at_boundary && bytes.size() >= kFrameHeaderSize &&
            !std::equal(kFrameMagic.begin(), kFrameMagic.end(), bytes.begin())) {
          c->must_close = true;
        }
        c->at_boundary = false;
        Write(*c, bytes);
      }
      return;
    case 3:  // a sealed frame of any type
      if ((c = Pick()) != nullptr && c->state == State::kOpen) SendSealed(*c);
      return;
    case 4:  // a tampered sealed frame
      if ((c = Pick()) != nullptr && c->state == State::kOpen) {
        std::vector<uint8_t> wire = c->cipher->Seal(FrameType::kData, in_.Take(8));
        wire[kFrameHeaderSize + in_.Byte() % (wire.size() - kFrameHeaderSize)] ^= 0x20;
        if (c->at_boundary) c->must_close = true;
        Write(*c, wire);
      }
      return;
    case 5:  // close, or half-close (end of stream: the host must close it)
      if ((c = Pick()) == nullptr || !c->live()) return;
      if (in_.Byte() & 1) {
        shutdown(c->fd, SHUT_WR);
        c->must_close = true;
      } else {
        close(c->fd);
        c->closed_by_us = true;
      }
      return;
    case 6:  // the host's turn only
      return;
    case 7:  // time passes: every handshake still under way is overdue
      if (slept_) return;
      slept_ = true;
      for (auto& client : clients_) client->overdue = client->state != State::kOpen;
      std::this_thread::sleep_for(std::chrono::nanoseconds((kHandshakeTimeout + kHeartbeat + kHeartbeat).ns));
      return;
    case 8: {  // the node sends
      const PeerId to(in_.Byte() % 3);
      const uint32_t seq = to == PeerId(1) ? node_sent_++ : 0;
      host_->Send(to, {'N', static_cast<uint8_t>(seq), static_cast<uint8_t>(seq >> 8),
                       static_cast<uint8_t>(seq >> 16), static_cast<uint8_t>(seq >> 24)});
      return;
    }
    case 9: {  // the honest peer sends
      Client& h = *clients_[0];
      const uint32_t seq = honest_sent_++;
      const std::vector<uint8_t> m = {'H', static_cast<uint8_t>(seq),
                                      static_cast<uint8_t>(seq >> 8),
                                      static_cast<uint8_t>(seq >> 16),
                                      static_cast<uint8_t>(seq >> 24)};
      Write(h, h.cipher->Seal(FrameType::kData, m));
      return;
    }
    case 10:  // membership records
      if ((c = Pick()) != nullptr && c->state == State::kOpen) SendPeers(*c);
      return;
    case 11:  // a Hello again (a replay, or a Hello where the Auth belongs)
      // The host always refuses it: its stream is past its Hello (or, under
      // load, the first Hello got a cookie and this one has no mac2).
      if ((c = Pick()) != nullptr && c->handshake) {
        if (c->at_boundary) c->must_close = true;
        Write(*c, c->handshake->HelloFrame());
      }
      return;
  }
}

void Driver::SendSealed(Client& c) {
  const uint8_t type = in_.Byte() % 10;
  const std::vector<uint8_t> payload = in_.Take(in_.Byte() % 40);
  // The open phase takes Data, Heartbeat (empty), Peers (decoded) and
  // DataPart (exactly one chunk: never what is sent here); Bye ends it.
  const bool fine = type == static_cast<uint8_t>(FrameType::kData) ||
                    type == static_cast<uint8_t>(FrameType::kPeers) ||
                    (type == static_cast<uint8_t>(FrameType::kHeartbeat) && payload.empty());
  if (!fine && c.at_boundary) c.must_close = true;
  Write(c, c.cipher->Seal(static_cast<FrameType>(type), payload));
}

// Records of any persona for any slot, dated from the far past to the far
// future, and from any incarnation.
void Driver::SendPeers(Client& c) {
  const uint32_t count = in_.Byte() % 4;
  ByteWriter out;
  out.WriteU32(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t b = in_.Byte();
    const size_t p = b % kNumPersonas;
    const int64_t skew_s = static_cast<int8_t>(in_.Byte()) * int64_t{10};
    PeerRecord::Make(PersonaIdentity(p), PeerId((b >> 3) % (kSlots + 1)), "127.0.0.1:1",
                     static_cast<uint64_t>(static_cast<int64_t>(NowMillis()) + skew_s * 1000),
                     in_.Byte() % 3)
        .Encode(out);
  }
  Write(c, c.cipher->Seal(FrameType::kPeers, out.bytes()));
}

bool Driver::Settled() const {
  if (honest_delivered_ < honest_sent_ || clients_[0]->data_seen < node_sent_) return false;
  std::vector<int> open(kNumPersonas, 0);
  for (size_t i = 1; i < clients_.size(); ++i) {
    const Client& c = *clients_[i];
    if (!c.live()) continue;
    if (c.must_close) return false;
    if (c.overdue && c.state != State::kOpen && c.state != State::kConfused) {
      return false;  // past the handshake timeout it must have been closed
    }
    if (c.state == State::kOpen && ++open[c.persona] > 1) return false;
  }
  return true;
}

void Driver::Finish() {
  phase_ = Phase::kDone;
  for (auto& c : clients_) {
    if (c->fd >= 0 && !c->closed_by_us) close(c->fd);
    c->closed_by_us = true;
  }
}

void Driver::Write(Client& c, std::span<const uint8_t> bytes) {
  if (!c.live()) return;
  c.out.insert(c.out.end(), bytes.begin(), bytes.end());
  Flush(c);
}

void Driver::Flush(Client& c) {
  size_t limit = c.chunk == 0 ? c.out.size() : std::min(c.chunk, c.out.size());
  while (limit > 0 && c.live()) {
    const ssize_t n = send(c.fd, c.out.data(), limit, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {  // the host reset it
      c.eof = true;
      return;
    }
    c.out.erase(c.out.begin(), c.out.begin() + n);
    limit -= static_cast<size_t>(n);
  }
}

void Driver::Pump(Client& c) {
  Flush(c);
  const bool honest = &c == clients_[0].get() && phase_ != Phase::kSetup;
  while (c.live()) {
    std::span<uint8_t> into = c.parser.NextBuffer();
    const ssize_t n = recv(c.fd, into.data(), into.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      if (honest) Dump();
      FUZZ_CHECK(!honest, "the host cut off the honest peer");
      c.eof = true;
      return;
    }
    if (c.state == State::kRaw || c.state == State::kConfused) continue;
    Result<std::optional<Frame>> frame = c.parser.Commit(static_cast<size_t>(n));
    FUZZ_CHECK(frame.ok(), "the host sent a malformed frame: %s",
               frame.status().message().c_str());
    if (frame->has_value()) OnHostFrame(c, **frame);
  }
}

// What a dialer does with the host's frames (connection.cc's other side).
void Driver::OnHostFrame(Client& c, Frame& frame) {
  const bool honest = &c == clients_[0].get();
  switch (c.state) {
    case State::kHello:
      if (frame.header.type == FrameType::kCookieReply) {
        if (c.handshake->OnCookieReply(frame).ok()) {
          Write(c, c.handshake->HelloFrame());
        } else {
          c.state = State::kConfused;
        }
      } else if (c.handshake->OnHello(frame).ok()) {
        Write(c, c.handshake->AuthFrame());
        c.state = State::kAuth;
      } else {
        c.state = State::kConfused;
      }
      break;
    case State::kAuth:
      if (c.handshake->OnAuth(frame).ok()) {
        c.cipher.emplace(c.handshake->TakeCipher());
        c.state = State::kOpen;
      } else {
        c.state = State::kConfused;
      }
      break;
    case State::kOpen: {
      const Status opened = c.cipher->Open(frame);
      FUZZ_CHECK(opened.ok(), "a frame from the host failed its MAC: %s",
                 opened.message().c_str());
      if (honest && frame.header.type == FrameType::kData) {
        const auto& m = frame.payload;
        FUZZ_CHECK(m.size() == 5 && m[0] == 'N', "the honest peer got a message never sent");
        const uint32_t seq = m[1] | m[2] << 8 | m[3] << 16 | uint32_t{m[4]} << 24;
        FUZZ_CHECK(seq == c.data_seen, "node message %u arrived as number %u", seq, c.data_seen);
        ++c.data_seen;
      }
      break;
    }
    case State::kRaw:
    case State::kConfused:
      break;
  }
  FUZZ_CHECK(!honest || c.state != State::kConfused, "the honest handshake failed");
}

class NullSink final : public MetricsSink {
 public:
  void ReportModel(Round, std::span<const float>) override {}
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view, int64_t) override {}
};

class NullLog final : public LogSink {
 public:
  void Write(LogLevel, std::string_view) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static NullLog quiet;
  static const bool silenced = (SetLogSink(&quiet), true);
  (void)silenced;
  std::array<uint8_t, 32> seed{};
  seed.fill(10);
  NetOptions options{.self = PeerId(3), .num_slots = kSlots};
  options.heartbeat_interval = kHeartbeat;
  options.handshake_timeout = kHandshakeTimeout;
  options.peer_timeout = Duration::Seconds(30);  // longer than any input (the honest peer is quiet)
  options.start_timeout = Duration();
  options.shutdown_timeout = Duration::Seconds(1);
  options.admission = kLimits;
  NetSecurity security{.identity = Identity::FromSeed(seed),
                       .network_key = TheNetworkKey(true)};
  NullSink sink;
  Result<std::unique_ptr<NetHost>> host = NetHost::Create(options, std::move(security), sink);
  FUZZ_CHECK(host.ok(), "NetHost::Create: %s", host.status().message().c_str());
  Driver driver(std::span(data, size), **host);
  FUZZ_CHECK((*host)->Run(driver, [&] { return driver.done(); }).ok(), "Run failed");
  const NetStats& stats = (*host)->stats();
  FUZZ_CHECK(stats.max_handshake_buffer <= kMaxHandshakePayload,
             "%zu bytes held before authentication", stats.max_handshake_buffer);
  FUZZ_CHECK(stats.max_in_handshake_per_address <= kLimits.max_unauthenticated_per_address,
             "%zu connections in handshake from one address", stats.max_in_handshake_per_address);
  FUZZ_CHECK(stats.max_in_handshake <= kLimits.max_unauthenticated,
             "%zu connections in handshake", stats.max_in_handshake);
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // Event scripts (opcodes as in Driver::Event, operands after them).
  return {
      // The honest peer and the node talk; slot 2 joins twice from two
      // addresses (a duplicate), the second in 5-byte pieces.
      {9, 8, 1, 1, 0x01, 1, 6, 6, 6, 1, 0x29, 2, 6, 6, 6, 9, 8, 1},
      // A raw socket sends garbage, another idles past the timeout.
      {0, 1, 0, 2, 2, 6, 'x', 'y', 'z', 'w', 'v', 'u', 7, 9},
      // A stranger claims slot 1; a peer with a wrong network key.
      {1, 0x02, 0, 1, 0x81, 1, 6, 6, 6, 9, 8, 1},
      // Slot 0 authenticates, then sends every frame type and a tampered
      // frame, then Peers records from the future and the past.
      {1, 0x03, 2, 6, 6, 6, 6, 10, 0, 3, 0x08, 100, 1, 0x0b, 0x9c, 0, 3, 0, 3, 0, 0, 3, 0, 4, 0,
       3, 0, 6, 0, 4, 0, 0, 1, 2, 3, 4, 5, 6, 7, 9},
      // A flood from one address: more sockets than its limit, then Hellos.
      {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0x01, 1, 1, 0x04, 1, 6, 6, 6, 6, 9, 8, 1, 7},
      // Half-close after authenticating; a Hello where the Auth belongs.
      {1, 0x01, 0, 6, 6, 6, 6, 5, 0, 1, 1, 0x03, 1, 11, 1, 6, 6, 9},
  };
}
