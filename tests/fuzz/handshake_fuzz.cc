// Fuzz target: one side of a handshake fed an arbitrary byte stream, frame
// by frame as a Connection does (connection.cc), plus the peer-record
// decoder on the raw bytes. The first byte picks the side:
//  0: an acceptor, not under load: Hello, then Auth;
//  1: an acceptor under load: a Hello without mac2 under the cookie is
//     answered with a CookieReply (what the target makes, not sends) and
//     the next frame must be a Hello with it; then Auth;
//  2: a dialer: the acceptor's CookieReply (then our Hello is repeated) or
//     Hello, then Auth.
// Must never crash, and nothing unauthenticated may get through: with a
// random ephemeral key on our side, no fuzzer-made Auth can pass its MAC.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/runtime/handshake.h"

namespace {

using namespace murmur::net;

const Identity& OurIdentity() {
  static const Identity identity = [] {
    std::array<uint8_t, 32> seed{};
    seed.fill(5);
    return Identity::FromSeed(seed);
  }();
  return identity;
}

// The cookie the acceptor under load hands out (a real one comes from
// CookieMinter's random secret; a fixed one lets the seeds carry mac2).
Cookie TheCookie() {
  Cookie cookie{};
  cookie.fill(0xc0);
  return cookie;
}

// Where the target is in the handshake; OnFrame returns false to stop.
struct Side {
  Handshake handshake;
  Role role;
  bool under_load;
  bool cookie_exchanged = false;
  bool hello_done = false;

  bool OnFrame(FrameParser& parser, Frame& frame) {
    if (hello_done) {
      if (handshake.OnAuth(frame).ok()) std::abort();  // forged authentication
      return false;
    }
    if (frame.header.type == FrameType::kCookieReply) {
      if (role != Role::kDialer || cookie_exchanged) return false;
      if (!handshake.OnCookieReply(frame).ok()) return false;
      cookie_exchanged = true;
      (void)handshake.HelloFrame();
      return true;
    }
    if (role == Role::kAcceptor) {
      if (!handshake.CheckMac1(frame).ok()) return false;
      if (under_load && !handshake.HasMac2(frame, TheCookie())) {
        if (cookie_exchanged) return false;
        cookie_exchanged = true;
        (void)handshake.CookieReplyFrame(frame, TheCookie());
        parser.ExpectHelloAgain();
        return true;
      }
    }
    if (!handshake.OnHello(frame).ok()) return false;
    if (role == Role::kAcceptor) (void)handshake.HelloFrame();
    (void)handshake.AuthFrame();
    hello_done = true;
    return true;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Allowlist allowlist;
  static const PeerRecord self_record =
      PeerRecord::Make(OurIdentity(), murmur::PeerId(0), "127.0.0.1:1", 1);
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 3;
  const std::span<const uint8_t> bytes(data + 1, size - 1);
  {
    murmur::ByteReader in(bytes);
    (void)PeerRecord::Decode(in);
  }
  const HandshakeConfig config{.identity = &OurIdentity(),
                               .allowlist = &allowlist,
                               .self_record = self_record,
                               .num_slots = 4};
  const Role role = mode == 2 ? Role::kDialer : Role::kAcceptor;
  Side side{.handshake = Handshake(config, role), .role = role, .under_load = mode == 1};
  FrameParser parser(1 << 16, FramePhase::kHello);
  size_t pos = 0;
  while (pos < bytes.size()) {
    std::span<uint8_t> into = parser.NextBuffer();
    const size_t n = std::min(into.size(), bytes.size() - pos);
    std::copy_n(bytes.data() + pos, n, into.data());
    pos += n;
    murmur::Result<std::optional<Frame>> frame = parser.Commit(n);
    if (!frame.ok()) return 0;
    if (frame->has_value() && !side.OnFrame(parser, **frame)) return 0;
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // What real peers send, after the mode byte: a dialer's Hello and its
  // sealed Auth (which our side cannot open, its ephemeral key being
  // fresh); under load, the dialer's Hello, then it again with mac2 under
  // TheCookie(), then the Auth; to a dialer, an acceptor's CookieReply and
  // Hello; and an encoded peer record for the record decoder.
  using namespace murmur::net;
  std::array<uint8_t, 32> seed{};
  seed.fill(6);
  const Identity dialer_id = Identity::FromSeed(seed);
  const Allowlist allowlist;
  const PeerRecord dialer_record = PeerRecord::Make(dialer_id, murmur::PeerId(1), "127.0.0.1:2", 7);
  Handshake dialer({.identity = &dialer_id, .allowlist = &allowlist,
                    .self_record = dialer_record, .num_slots = 4},
                   Role::kDialer);
  Handshake acceptor({.identity = &OurIdentity(), .allowlist = &allowlist,
                      .self_record = PeerRecord::Make(OurIdentity(), murmur::PeerId(0), "127.0.0.1:1", 1),
                      .num_slots = 4},
                     Role::kAcceptor);
  auto parse = [](const std::vector<uint8_t>& wire) {
    FrameParser parser(1 << 16, FramePhase::kHello);
    std::vector<Frame> frames;
    if (!parser.Feed(wire, frames).ok() || frames.size() != 1) std::abort();
    return std::move(frames[0]);
  };
  auto cat = [](uint8_t mode, std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> out{mode};
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  const std::vector<uint8_t> plain_hello = dialer.HelloFrame();
  const Frame hello_frame = parse(plain_hello);
  const std::vector<uint8_t> reply = acceptor.CookieReplyFrame(hello_frame, TheCookie());
  if (!dialer.OnCookieReply(parse(reply)).ok()) std::abort();
  const std::vector<uint8_t> cookie_hello = dialer.HelloFrame();
  const Frame cookie_frame = parse(cookie_hello);
  if (!acceptor.OnHello(cookie_frame).ok() || !dialer.OnHello(parse(acceptor.HelloFrame())).ok()) {
    std::abort();
  }
  const std::vector<uint8_t> auth = dialer.AuthFrame();
  murmur::ByteWriter record;
  dialer_record.Encode(record);
  return {cat(0, {plain_hello, auth}),
          cat(0, {auth}),
          cat(1, {plain_hello, cookie_hello, auth}),
          cat(2, {reply, acceptor.HelloFrame(), auth}),
          cat(2, {acceptor.HelloFrame(), auth}),
          cat(0, {record.bytes()})};
}
