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
