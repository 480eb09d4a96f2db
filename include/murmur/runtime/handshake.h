// The authenticated key exchange every runtime connection starts with, and
// the sealed session it produces (docs/wire.md has the byte layout):
//  1. the dialer sends Hello: a fresh X25519 public key, mac1, a
//     BLAKE2b-128 MAC over the header and the key under a key derived from
//     the network key (WireGuard's mac1; Donenfeld, 2017, "WireGuard:
//     next generation kernel network tunnel", section 5.4.4). The acceptor
//     checks mac1 before it does any asymmetric crypto: a stranger without
//     the network key costs it one BLAKE2b. Only then does the acceptor
//     make its own key pair and answer with its Hello. Without a network
//     key mac1 is keyed by a public constant and proves nothing; the
//     host's per-address admission limits (admission.h) bound that case.
//     Under load the acceptor also wants mac2, a MAC keyed by a cookie
//     bound to the dialer's address (cookie.h); a Hello without a valid
//     one is answered with a CookieReply, the cookie sealed under a key
//     derived from the network key with the Hello's mac1 as associated
//     data (WireGuard's cookie reply, section 5.4.7: only the sender of
//     that Hello can use it), and the dialer repeats its Hello with mac2.
//     That costs the acceptor three BLAKE2b and one 16-byte seal, no key
//     pair and no signature, and it keeps nothing;
//  2. both derive directional session keys with crypto_kx (dialer = client)
//     and hash them with the transcript (both ephemeral keys) under the
//     network key, when one is set, as BLAKE2b's key: without the network
//     key the next frame fails its MAC;
//  3. both send a sealed Auth: their signed PeerRecord (Ed25519 key, slot,
//     address, incarnation, time) and an Ed25519 signature over the
//     transcript and their role, which binds the long-term key to this
//     session (a recorded Auth cannot be replayed into another session);
//     A link's further stream (stream > 0, NetOptions::streams) also
//     carries, in its dialer's Auth and under that signature, the session
//     id of its link's stream 0: a MAC of that session's transcript under
//     its session keys, so only the two ends of that session know it, and
//     the acceptor attaches the stream to that session's link only (a late
//     stream of an earlier session of the same peer is refused);
//  4. every later frame is XChaCha20-Poly1305 with the 12 header bytes as
//     associated data and a per-direction frame counter as nonce, so a
//     replayed, reordered, dropped or modified frame fails its MAC. In a
//     plain session (both Auths say so; a mismatch is refused) the frames
//     after the Auths are authenticated but not encrypted: a Poly1305 tag
//     over header and payload under a one-time key, the first 32 bytes of
//     the XChaCha20 keystream for the same key and counter nonce (how the
//     AEAD derives its own Poly1305 key), so replays, reorders, drops and
//     changes fail just the same; only confidentiality is given up.
// A pure state machine over bytes (no sockets), so it is unit-tested and
// fuzzed directly. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/bytes.h"
#include "murmur/core/ids.h"
#include "murmur/runtime/cookie.h"
#include "murmur/runtime/frame.h"
#include "murmur/runtime/identity.h"

namespace murmur::net {

// A peer's signed claim "key K is slot S, reachable at ADDRESS, in its
// INCARNATION, as of TIME". Signed by K, so it can be relayed by other
// peers (membership exchange) without being forged. Records of a slot are
// ordered by (incarnation, issued_ms): the incarnation is a counter the
// peer persists and bumps at every start (IncarnationCounter), so a clock
// that went backwards across a restart cannot make the new record look
// older (membership.h says which record wins).
struct PeerRecord {
  PublicKey key{};
  PeerId slot;
  std::string address;       // "host:port"; at most 255 bytes
  uint64_t incarnation = 0;  // the signer's start counter
  uint64_t issued_ms = 0;    // Unix time in milliseconds
  Signature signature{};

  static PeerRecord Make(const Identity& identity, PeerId slot, std::string address,
                         uint64_t issued_ms, uint64_t incarnation = 0);
  // True when this record orders after `other` (a later incarnation, or
  // the same one issued later).
  bool NewerThan(const PeerRecord& other) const {
    return incarnation != other.incarnation ? incarnation > other.incarnation
                                            : issued_ms > other.issued_ms;
  }
  void Encode(ByteWriter& out) const;
  // kCorrupt for malformed bytes or a signature that does not verify.
  static Result<PeerRecord> Decode(ByteReader& in);
};

// Seals and opens the frames of one established session. Counters start at
// 0 in each direction and never repeat.
class SessionCipher {
 public:
  SessionCipher(std::array<uint8_t, 32> tx_key, std::array<uint8_t, 32> rx_key)
      : tx_key_(tx_key), rx_key_(rx_key) {}
  // From the next frame on both ways: authenticate only (see above).
  void SetPlain(bool plain) { plain_ = plain; }
  bool plain() const { return plain_; }
  // Seals `payload` in place (encrypts it, or leaves it as it is in a plain
  // session) and returns the frame's header and tag: the wire frame is
  // header, payload, tag, written without a copy (scatter-gather).
  void SealInPlace(FrameType type, std::span<uint8_t> payload,
                   std::array<uint8_t, kFrameHeaderSize>& header,
                   std::array<uint8_t, kMacSize>& tag);
  // The full wire frame: header, ciphertext, tag.
  std::vector<uint8_t> Seal(FrameType type, std::span<const uint8_t> plaintext);
  // The same into `out`, reusing its capacity (no page faults for a buffer
  // sealed into again and again).
  void SealInto(FrameType type, std::span<const uint8_t> plaintext, std::vector<uint8_t>& out);
  // Decrypts `frame` in place and strips the tag. kCorrupt when the tag does
  // not verify (tampered, replayed, reordered or wrong key); the session is
  // then unusable.
  Status Open(Frame& frame);

 private:
  std::array<uint8_t, 32> tx_key_;
  std::array<uint8_t, 32> rx_key_;
  uint64_t tx_counter_ = 0;
  uint64_t rx_counter_ = 0;
  bool plain_ = false;
};

enum class Role : uint8_t { kDialer = 0, kAcceptor = 1 };

// Names one established session (Handshake::session_id): BLAKE2b-256 of
// its transcript keyed by both directions' session keys. Secret to the
// session's two ends.
using SessionId = std::array<uint8_t, 32>;

struct HandshakeConfig {
  const Identity* identity = nullptr;        // must outlive the handshake
  std::optional<NetworkKey> network_key;     // nullopt: open network
  const Allowlist* allowlist = nullptr;      // must outlive; may be empty
  PeerRecord self_record;                    // signed by `identity`
  uint32_t num_slots = 0;                    // slots are 0..num_slots-1
  // Data frames authenticated but not encrypted (SessionCipher); both ends
  // must agree, the Auth frames say which each end wants.
  bool plain = false;
  // TCP streams per link (1..kMaxStreams; both ends must agree) and, for a
  // dialer, which of its link's streams this connection is (0: the link's
  // first, which carries control frames; an acceptor's is always 0). Both
  // travel in the Auth's signed session flags.
  uint8_t streams = 1;
  uint8_t stream = 0;
  // A dialer's stream > 0: the session_id() of its link's stream 0, sent
  // in its signed Auth (ignored for stream 0).
  SessionId link_session{};
};

inline constexpr uint8_t kMaxStreams = 8;

class Handshake {
 public:
  // A dialer makes its ephemeral key pair here; an acceptor only once the
  // dialer's Hello passed its mac1 (OnHello).
  Handshake(const HandshakeConfig& config, Role role);
  // Our Hello frame (wire bytes); its mac2 is zero unless a CookieReply
  // gave us a cookie. REQUIRES: a dialer, or OnHello succeeded.
  std::vector<uint8_t> HelloFrame() const;
  // The cheap checks an acceptor makes before any asymmetric crypto.
  // CheckMac1: kCorrupt for a frame that is not a Hello, kAborted when its
  // mac1 fails (the work of two BLAKE2b). HasMac2: whether the Hello's mac2
  // is the MAC under `cookie` (one BLAKE2b).
  Status CheckMac1(const Frame& hello) const;
  bool HasMac2(const Frame& hello, const Cookie& cookie) const;
  // The CookieReply answering `hello` (wire bytes): a random nonce and
  // `cookie` sealed with the Hello's mac1 as associated data.
  std::vector<uint8_t> CookieReplyFrame(const Frame& hello, const Cookie& cookie) const;
  // A dialer takes the acceptor's CookieReply to our Hello: kCorrupt when
  // it does not open (not for our Hello, another network key, tampered).
  // Then HelloFrame() carries mac2 under the cookie. REQUIRES: a dialer.
  Status OnCookieReply(const Frame& frame);
  // Takes the peer's Hello: checks its mac1 (kAborted when it fails, the
  // work of one BLAKE2b: a stranger without the network key), then, for an
  // acceptor, makes our key pair, and derives the session keys. kCorrupt
  // for a frame that is not a Hello or a degenerate key.
  Status OnHello(const Frame& frame);
  // Our sealed Auth frame. REQUIRES: OnHello succeeded.
  std::vector<uint8_t> AuthFrame();
  // Opens and checks the peer's Auth: MAC (kCorrupt, usually a wrong network
  // key), record and transcript signatures (kCorrupt), slot range, not our
  // own slot, the allowlist and a peer that does not agree on `plain`
  // (kAborted), as does one with another `streams`; a stream index out of
  // range, or nonzero from an acceptor, is kCorrupt. Returns the peer's
  // record; the session is then plain when config.plain is.
  Result<PeerRecord> OnAuth(Frame& frame);
  // The stream index the peer's Auth claimed. REQUIRES: OnAuth succeeded.
  uint8_t peer_stream() const { return peer_stream_; }
  // The session id the peer's Auth claimed for its link's stream 0 (zero
  // for stream 0). REQUIRES: OnAuth succeeded.
  const SessionId& peer_link_session() const { return peer_link_session_; }
  // This session's id, the same at both ends. REQUIRES: OnHello succeeded.
  const SessionId& session_id() const { return session_id_; }
  // The established session. REQUIRES: OnAuth succeeded.
  SessionCipher TakeCipher() { return std::move(*cipher_); }

 private:
  std::array<uint8_t, 32> TranscriptHash() const;
  std::array<uint8_t, kHelloMac> Mac1(std::span<const uint8_t> header,
                                      std::span<const uint8_t> key) const;
  // BLAKE2b-256(context, key = network key, or unkeyed without one).
  std::array<uint8_t, 32> NetworkDerivedKey(std::string_view context) const;

  const HandshakeConfig config_;
  const Role role_;
  std::array<uint8_t, 32> eph_pk_{};
  std::array<uint8_t, 32> eph_sk_{};
  std::array<uint8_t, 32> peer_eph_pk_{};
  bool have_key_pair_ = false;
  std::optional<Cookie> cookie_;  // a dialer's, from a CookieReply
  std::optional<SessionCipher> cipher_;
  uint8_t peer_stream_ = 0;
  SessionId peer_link_session_{};
  SessionId session_id_{};
};

}  // namespace murmur::net
