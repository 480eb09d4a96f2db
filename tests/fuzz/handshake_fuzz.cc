// Fuzz target: an accepting peer's handshake and session fed an arbitrary
// byte stream as the dialer's side (Hello, Auth, then sealed frames), plus
// the peer-record decoder on the raw bytes. Must never crash, and nothing
// unauthenticated may get through: with a random ephemeral key on our side,
// no fuzzer-made Auth can pass its MAC.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/runtime/handshake.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace murmur::net;
  static const Identity identity = [] {
    std::array<uint8_t, 32> seed{};
    seed.fill(5);
    return Identity::FromSeed(seed);
  }();
  static const Allowlist allowlist;
  static const PeerRecord self_record =
      PeerRecord::Make(identity, murmur::PeerId(0), "127.0.0.1:1", 1);
  const std::span<const uint8_t> bytes(data, size);
  {
    murmur::ByteReader in(bytes);
    (void)PeerRecord::Decode(in);
  }
  FrameParser parser(1 << 16, FramePhase::kHello);
  std::vector<Frame> frames;
  (void)parser.Feed(bytes, frames);
  // Only streams that get as far as a Hello and one more frame pay for a
  // fresh ephemeral key pair.
  if (frames.size() < 2) return 0;
  HandshakeConfig config{.identity = &identity,
                         .allowlist = &allowlist,
                         .self_record = self_record,
                         .num_slots = 4};
  Handshake handshake(config, Role::kAcceptor);
  if (!handshake.OnHello(frames[0]).ok()) return 0;
  (void)handshake.AuthFrame();
  if (handshake.OnAuth(frames[1]).ok()) std::abort();  // forged authentication
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // What a real dialer sends: its Hello and its sealed Auth (which our
  // acceptor cannot open, its ephemeral key being fresh), then the Auth
  // alone; and an encoded peer record for the record decoder.
  using namespace murmur::net;
  std::array<uint8_t, 32> seed{};
  seed.fill(6);
  const Identity dialer_id = Identity::FromSeed(seed);
  seed.fill(5);
  const Identity acceptor_id = Identity::FromSeed(seed);
  const Allowlist allowlist;
  const PeerRecord dialer_record = PeerRecord::Make(dialer_id, murmur::PeerId(1), "127.0.0.1:2", 7);
  Handshake dialer({.identity = &dialer_id, .allowlist = &allowlist,
                    .self_record = dialer_record, .num_slots = 4},
                   Role::kDialer);
  Handshake acceptor({.identity = &acceptor_id, .allowlist = &allowlist,
                      .self_record = PeerRecord::Make(acceptor_id, murmur::PeerId(0), "127.0.0.1:1", 1),
                      .num_slots = 4},
                     Role::kAcceptor);
  std::vector<uint8_t> stream = dialer.HelloFrame();
  FrameParser to_acceptor(1 << 16, FramePhase::kHello);
  FrameParser parser(1 << 16, FramePhase::kHello);
  std::vector<Frame> dialer_hello, hello;
  if (!to_acceptor.Feed(stream, dialer_hello).ok() || dialer_hello.size() != 1 ||
      !acceptor.OnHello(dialer_hello[0]).ok() || !parser.Feed(acceptor.HelloFrame(), hello).ok() ||
      hello.size() != 1 || !dialer.OnHello(hello[0]).ok()) {
    std::abort();
  }
  const std::vector<uint8_t> auth = dialer.AuthFrame();
  stream.insert(stream.end(), auth.begin(), auth.end());
  murmur::ByteWriter record;
  dialer_record.Encode(record);
  return {stream, auth, record.bytes()};
}
