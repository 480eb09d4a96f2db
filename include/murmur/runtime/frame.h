// The runtime's wire frames (docs/wire.md): a 12-byte header (magic "MRMR",
// version, type, flags, payload length) and a payload. Every frame but
// Hello and CookieReply is sealed with XChaCha20-Poly1305 (runtime/handshake.h), so its
// payload ends in a 16-byte tag. FrameParser turns a byte stream into
// frames, refusing a bad header before any payload memory is allocated.
// What a header may announce depends on the connection's phase: before
// authentication only a 64-byte Hello (or, to a dialer, a 56-byte
// CookieReply) and then an Auth of at most
// kMaxHandshakePayload bytes, so a stranger can never make a peer allocate
// more than that; after it, no frame carries more than one kDataChunk (long
// messages are chunked), so even an authenticated peer makes the parser
// allocate at most kDataChunk + kMacSize per frame.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "murmur/core/status.h"

namespace murmur::net {

inline constexpr std::array<uint8_t, 4> kFrameMagic = {'M', 'R', 'M', 'R'};
// 2: Hello carries mac1; records an incarnation. 3: Hello carries mac2;
// CookieReply. 4: Auth carries session flags (plain data frames). 5:
// control frames between a message's chunks; streams per link in the
// flags. 6: a further stream's Auth carries its link's session id.
inline constexpr uint8_t kWireVersion = 6;
inline constexpr size_t kFrameHeaderSize = 12;
inline constexpr size_t kMacSize = 16;             // Poly1305 tag
inline constexpr size_t kHelloKey = 32;            // X25519 public key
inline constexpr size_t kHelloMac = 16;            // mac1 (handshake.h)
inline constexpr size_t kHelloPayload = kHelloKey + 2 * kHelloMac;  // key, mac1, mac2
inline constexpr size_t kCookieNonce = 24;        // XChaCha20-Poly1305 nonce
inline constexpr size_t kCookieReplyPayload = kCookieNonce + 16 + kMacSize;
inline constexpr size_t kMaxHandshakePayload = 4096;
inline constexpr size_t kMaxPeersPayload = 1 << 20;

enum class FrameType : uint8_t {
  kHello = 1,      // cleartext: ephemeral X25519 key, mac1, mac2
  kAuth = 2,       // sealed: signed peer record + handshake signature
  kData = 3,       // sealed: one protocol message
  kHeartbeat = 4,  // sealed: empty
  kPeers = 5,      // sealed: signed peer records (membership exchange)
  kBye = 6,        // sealed: empty; the sender finished and is leaving
  kDataPart = 7,   // sealed: a leading chunk of a message; a kData ends it
  kCookieReply = 8,  // cleartext nonce + sealed cookie: "say that again, with mac2"
  kShmOffer = 9,     // sealed: empty; acceptor to dialer: "meet me in shared memory"
  kShmSwitch = 10,   // sealed: empty; the sender's next frames come through shared memory
};

// Messages longer than this travel as kDataPart chunks of this size and a
// final kData, so sealing, sending and opening overlap within a message.
inline constexpr size_t kDataChunk = size_t{1} << 20;

std::string_view FrameTypeName(FrameType type);

// Heartbeat and Peers: the frames a connection writes ahead of queued data
// (connection.h) and that may arrive between the chunks of a message.
constexpr bool IsControlFrame(FrameType type) {
  return type == FrameType::kHeartbeat || type == FrameType::kPeers;
}

// Where a connection's byte stream is, which decides the frame types it
// accepts: a new connection takes only a Hello (or CookieReply), then only an Auth, and once
// authenticated only Data, DataPart, Heartbeat, Peers, Bye, ShmOffer and
// ShmSwitch.
enum class FramePhase : uint8_t {
  kHello,  // nothing received yet, or a CookieReply sent or received
  kAuth,   // the peer's Hello received
  kOpen,   // the peer's Auth received (the handshake may still refuse it)
};

std::string_view FramePhaseName(FramePhase phase);

struct FrameHeader {
  FrameType type = FrameType::kData;
  uint32_t length = 0;  // payload bytes, MAC included
};

// The 12 header bytes of `header`; they are also the AEAD associated data.
std::array<uint8_t, kFrameHeaderSize> EncodeFrameHeader(const FrameHeader& header);

// Parses and checks a header: magic, version, known type, zero flags, a
// type that `phase` accepts, and a length allowed for the type (Hello:
// exactly 64; CookieReply: exactly 56; Heartbeat, Bye, ShmOffer and
// ShmSwitch: exactly the MAC; Auth: at most 4 KiB;
// Peers: at most 1 MiB; DataPart: exactly 1 MiB + MAC; Data: at most
// min(max_data_payload, 1 MiB) + MAC). kCorrupt naming the field and value
// otherwise.
Result<FrameHeader> DecodeFrameHeader(std::span<const uint8_t, kFrameHeaderSize> bytes,
                                      FramePhase phase, size_t max_data_payload);

struct Frame {
  FrameHeader header;
  std::vector<uint8_t> payload;
};

// Incremental frame parser over a byte stream. The socket reads straight
// into NextBuffer() and reports how much arrived with Commit(); Feed() does
// the same from a span (tests, fuzzing). It starts in `phase` and follows
// the handshake by itself: a completed Hello moves it to kAuth, a completed
// Auth to kOpen. Not thread-safe.
class FrameParser {
 public:
  FrameParser(size_t max_data_payload, FramePhase phase)
      : max_data_payload_(max_data_payload), phase_(phase) {}

  // Where the next bytes of the stream go; never empty.
  std::span<uint8_t> NextBuffer();
  // `n` bytes were written at the start of NextBuffer(). Returns a frame
  // when one completed, nullopt when more bytes are needed, kCorrupt for a
  // bad header (the stream is then unusable).
  Result<std::optional<Frame>> Commit(size_t n);
  // Parses `bytes`, appending complete frames to `out`. Stops at the first
  // error.
  Status Feed(std::span<const uint8_t> bytes, std::vector<Frame>& out);
  // Back to kHello after a Hello was answered with a CookieReply: the
  // peer's next frame must be a Hello again. REQUIRES: phase() == kAuth
  // and partial_bytes() == 0.
  void ExpectHelloAgain();
  // Hands a consumed frame's payload buffer back for the next frame to
  // reuse (large messages arrive as many 1 MiB chunks).
  void Recycle(std::vector<uint8_t> buffer) { spare_ = std::move(buffer); }

  // The phase the next header is checked against.
  FramePhase phase() const { return phase_; }
  // Bytes of the frame in progress received so far, header included; 0 at
  // a frame boundary (so a stream that ends with this > 0 was truncated).
  size_t partial_bytes() const;
  // Payload memory the parser holds (the frame in progress and the spare
  // buffer): at most kMaxHandshakePayload before kOpen.
  size_t buffer_capacity() const;

 private:
  const size_t max_data_payload_;
  FramePhase phase_;
  std::array<uint8_t, kFrameHeaderSize> header_bytes_{};
  size_t header_have_ = 0;
  std::optional<Frame> frame_;  // set once the header parsed
  size_t payload_have_ = 0;
  bool failed_ = false;
  std::vector<uint8_t> spare_;
};

}  // namespace murmur::net
