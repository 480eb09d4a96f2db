#include "murmur/runtime/handshake.h"

#include <sodium.h>

#include <cstring>
#include <string_view>

#include "runtime/frame_crypto.h"

namespace murmur::net {
namespace {

constexpr std::string_view kRecordContext = "murmur/1 record";
constexpr std::string_view kAuthContext = "murmur/1 auth";
constexpr std::string_view kTranscriptContext = "murmur/1 handshake";
constexpr std::string_view kMac1Context = "murmur/2 mac1";
constexpr std::string_view kCookieReplyContext = "murmur/3 cookie reply";
constexpr std::string_view kSessionIdContext = "murmur/6 session id";
constexpr size_t kMaxAddress = 255;

std::vector<uint8_t> RecordSigningBytes(const PeerRecord& r) {
  ByteWriter w;
  w.WriteBytes(std::span(reinterpret_cast<const uint8_t*>(kRecordContext.data()),
                         kRecordContext.size()));
  w.WriteBytes(r.key);
  w.WriteU32(r.slot.value);
  w.WriteU64(r.incarnation);
  w.WriteU64(r.issued_ms);
  w.WriteU8(static_cast<uint8_t>(r.address.size()));
  w.WriteBytes(std::span(reinterpret_cast<const uint8_t*>(r.address.data()), r.address.size()));
  return std::move(w).Take();
}

// Auth's session flags (wire version 5): bit 0, plain data frames; bits
// 1-3, streams per link - 1; bits 4-6, this connection's stream index
// (when nonzero, version 6: the link's session id follows the flags).
constexpr uint8_t kFlagPlain = 1;
constexpr uint8_t kFlagUnknown = 0x80;

uint8_t SessionFlags(const HandshakeConfig& c) {
  return static_cast<uint8_t>((c.plain ? kFlagPlain : 0) | ((c.streams - 1) & 7) << 1 |
                              (c.stream & 7) << 4);
}

uint8_t FlagsStream(uint8_t flags) { return (flags >> 4) & 7; }

// A further stream's Auth signs its link's session id too.
std::vector<uint8_t> AuthSigningBytes(Role signer, const std::array<uint8_t, 32>& transcript,
                                      uint8_t flags, const SessionId& link_session) {
  ByteWriter w;
  w.WriteBytes(std::span(reinterpret_cast<const uint8_t*>(kAuthContext.data()),
                         kAuthContext.size()));
  w.WriteU8(static_cast<uint8_t>(signer));
  w.WriteBytes(transcript);
  w.WriteU8(flags);
  if (FlagsStream(flags) != 0) w.WriteBytes(link_session);
  return std::move(w).Take();
}

// BLAKE2b-256("murmur/6 session id" || transcript, key = dialer-to-acceptor
// key || acceptor-to-dialer key): both ends compute it, nobody else can.
SessionId MakeSessionId(const std::array<uint8_t, 32>& transcript,
                        const std::array<uint8_t, 32>& dialer_tx,
                        const std::array<uint8_t, 32>& acceptor_tx) {
  std::array<uint8_t, 64> key{};
  std::copy(dialer_tx.begin(), dialer_tx.end(), key.begin());
  std::copy(acceptor_tx.begin(), acceptor_tx.end(), key.begin() + 32);
  crypto_generichash_state state;
  crypto_generichash_init(&state, key.data(), key.size(), 32);
  sodium_memzero(key.data(), key.size());
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(kSessionIdContext.data()),
                            kSessionIdContext.size());
  crypto_generichash_update(&state, transcript.data(), transcript.size());
  SessionId id{};
  crypto_generichash_final(&state, id.data(), id.size());
  return id;
}

std::array<uint8_t, 24> Nonce(uint64_t counter) {
  std::array<uint8_t, 24> nonce{};
  std::memcpy(nonce.data(), &counter, sizeof counter);
  return nonce;
}

// A plain frame's tag: Poly1305 over header and payload under the one-time
// key XChaCha20(key, nonce)[0..32), as the AEAD derives its Poly1305 key.
std::array<uint8_t, kMacSize> PlainTag(const std::array<uint8_t, 32>& key, uint64_t counter,
                                       std::span<const uint8_t> header,
                                       std::span<const uint8_t> payload) {
  const auto nonce = Nonce(counter);
  std::array<uint8_t, crypto_onetimeauth_KEYBYTES> one_time{};
  crypto_stream_xchacha20(one_time.data(), one_time.size(), nonce.data(), key.data());
  const std::array<uint8_t, kMacSize> tag = Poly1305Tag(one_time, {header, payload});
  sodium_memzero(one_time.data(), one_time.size());
  return tag;
}

}  // namespace

PeerRecord PeerRecord::Make(const Identity& identity, PeerId slot, std::string address,
                            uint64_t issued_ms, uint64_t incarnation) {
  MURMUR_CHECK(address.size() <= kMaxAddress);
  PeerRecord r;
  r.key = identity.public_key();
  r.slot = slot;
  r.address = std::move(address);
  r.incarnation = incarnation;
  r.issued_ms = issued_ms;
  r.signature = identity.Sign(RecordSigningBytes(r));
  return r;
}

void PeerRecord::Encode(ByteWriter& out) const {
  out.WriteBytes(key);
  out.WriteU32(slot.value);
  out.WriteU64(incarnation);
  out.WriteU64(issued_ms);
  out.WriteU8(static_cast<uint8_t>(address.size()));
  out.WriteBytes(std::span(reinterpret_cast<const uint8_t*>(address.data()), address.size()));
  out.WriteBytes(signature);
}

Result<PeerRecord> PeerRecord::Decode(ByteReader& in) {
  PeerRecord r;
  for (uint8_t& b : r.key) {
    MURMUR_ASSIGN_OR_RETURN(b, in.ReadU8());
  }
  MURMUR_ASSIGN_OR_RETURN(uint32_t slot, in.ReadU32());
  r.slot = PeerId(slot);
  MURMUR_ASSIGN_OR_RETURN(r.incarnation, in.ReadU64());
  MURMUR_ASSIGN_OR_RETURN(r.issued_ms, in.ReadU64());
  MURMUR_ASSIGN_OR_RETURN(uint8_t length, in.ReadU8());
  if (in.remaining() < length) {
    return Status::Corrupt("peer record: address of ", static_cast<int>(length),
                           " bytes truncated");
  }
  for (uint8_t i = 0; i < length; ++i) {
    MURMUR_ASSIGN_OR_RETURN(uint8_t c, in.ReadU8());
    r.address.push_back(static_cast<char>(c));
  }
  for (uint8_t& b : r.signature) {
    MURMUR_ASSIGN_OR_RETURN(b, in.ReadU8());
  }
  if (!VerifySignature(r.key, RecordSigningBytes(r), r.signature)) {
    return Status::Corrupt("peer record for slot ", r.slot, " from ", PeerName(r.key),
                           ": bad signature");
  }
  return r;
}

std::vector<uint8_t> SessionCipher::Seal(FrameType type, std::span<const uint8_t> plaintext) {
  std::vector<uint8_t> out;
  SealInto(type, plaintext, out);
  return out;
}

void SessionCipher::SealInto(FrameType type, std::span<const uint8_t> plaintext,
                             std::vector<uint8_t>& out) {
  out.resize(kFrameHeaderSize + plaintext.size() + kMacSize);
  std::span<uint8_t> payload(out.data() + kFrameHeaderSize, plaintext.size());
  if (!plaintext.empty()) std::memmove(payload.data(), plaintext.data(), plaintext.size());
  std::array<uint8_t, kFrameHeaderSize> head{};
  std::array<uint8_t, kMacSize> tag{};
  SealInPlace(type, payload, head, tag);
  std::memcpy(out.data(), head.data(), head.size());
  std::memcpy(out.data() + kFrameHeaderSize + plaintext.size(), tag.data(), tag.size());
}

void SessionCipher::SealInPlace(FrameType type, std::span<uint8_t> payload,
                                std::array<uint8_t, kFrameHeaderSize>& header,
                                std::array<uint8_t, kMacSize>& tag) {
  header = EncodeFrameHeader(
      FrameHeader{.type = type, .length = static_cast<uint32_t>(payload.size() + kMacSize)});
  const uint64_t counter = tx_counter_++;
  if (plain_) {
    tag = PlainTag(tx_key_, counter, header, payload);
    return;
  }
  tag = XChaCha20Poly1305Seal(payload, header, Nonce(counter), tx_key_);
}

Status SessionCipher::Open(Frame& frame) {
  if (frame.payload.size() < kMacSize) {
    return Status::Corrupt("sealed ", FrameTypeName(frame.header.type), " frame shorter than its MAC");
  }
  const auto head = EncodeFrameHeader(frame.header);
  const size_t n = frame.payload.size() - kMacSize;
  const uint64_t counter = rx_counter_++;
  bool ok = false;
  if (plain_) {
    const auto tag = PlainTag(rx_key_, counter, head, std::span(frame.payload).first(n));
    ok = crypto_verify_16(tag.data(), frame.payload.data() + n) == 0;
  } else {
    Tag16 tag{};
    std::memcpy(tag.data(), frame.payload.data() + n, tag.size());
    ok = XChaCha20Poly1305Open(std::span(frame.payload).first(n), head, Nonce(counter), rx_key_,
                               tag);
  }
  if (!ok) {
    return Status::Corrupt("MAC check failed on ", FrameTypeName(frame.header.type),
                           " frame ", rx_counter_ - 1,
                           " (tampered, replayed, reordered, or a wrong network key)");
  }
  frame.payload.resize(n);
  return Status::Ok();
}

Handshake::Handshake(const HandshakeConfig& config, Role role) : config_(config), role_(role) {
  MURMUR_CHECK(config_.identity != nullptr && config_.allowlist != nullptr);
  MURMUR_CHECK(InitCrypto().ok());
  if (role_ == Role::kDialer) {
    crypto_kx_keypair(eph_pk_.data(), eph_sk_.data());
    have_key_pair_ = true;
  }
}

std::array<uint8_t, 32> Handshake::NetworkDerivedKey(std::string_view context) const {
  std::array<uint8_t, 32> key{};
  const uint8_t* psk = config_.network_key ? config_.network_key->data() : nullptr;
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const uint8_t*>(context.data()),
                     context.size(), psk, psk ? config_.network_key->size() : 0);
  return key;
}

// BLAKE2b-128 over the Hello's header and key, keyed by
// BLAKE2b-256("murmur/2 mac1", key = network key): symmetric, so both
// directions' Hellos carry one, and checking it costs two BLAKE2b calls.
std::array<uint8_t, kHelloMac> Handshake::Mac1(std::span<const uint8_t> header,
                                               std::span<const uint8_t> key) const {
  std::array<uint8_t, 32> mac_key = NetworkDerivedKey(kMac1Context);
  crypto_generichash_state state;
  crypto_generichash_init(&state, mac_key.data(), mac_key.size(), kHelloMac);
  crypto_generichash_update(&state, header.data(), header.size());
  crypto_generichash_update(&state, key.data(), key.size());
  std::array<uint8_t, kHelloMac> mac{};
  crypto_generichash_final(&state, mac.data(), mac.size());
  sodium_memzero(mac_key.data(), mac_key.size());
  return mac;
}

namespace {

// mac2: BLAKE2b-128 over the Hello's header, key and mac1, keyed by the cookie.
std::array<uint8_t, kHelloMac> Mac2(const Cookie& cookie, std::span<const uint8_t> header,
                                    std::span<const uint8_t> key_and_mac1) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, cookie.data(), cookie.size(), kHelloMac);
  crypto_generichash_update(&state, header.data(), header.size());
  crypto_generichash_update(&state, key_and_mac1.data(), key_and_mac1.size());
  std::array<uint8_t, kHelloMac> mac{};
  crypto_generichash_final(&state, mac.data(), mac.size());
  return mac;
}

}  // namespace

std::vector<uint8_t> Handshake::HelloFrame() const {
  MURMUR_CHECK(have_key_pair_);
  const auto head = EncodeFrameHeader({.type = FrameType::kHello, .length = kHelloPayload});
  std::vector<uint8_t> out(kFrameHeaderSize + kHelloPayload, 0);
  std::memcpy(out.data(), head.data(), kFrameHeaderSize);
  uint8_t* payload = out.data() + kFrameHeaderSize;
  std::memcpy(payload, eph_pk_.data(), kHelloKey);
  const auto mac1 = Mac1(head, eph_pk_);
  std::memcpy(payload + kHelloKey, mac1.data(), kHelloMac);
  if (cookie_) {
    const auto mac2 = Mac2(*cookie_, head, std::span(payload, kHelloKey + kHelloMac));
    std::memcpy(payload + kHelloKey + kHelloMac, mac2.data(), kHelloMac);
  }
  return out;
}

Status Handshake::CheckMac1(const Frame& hello) const {
  if (hello.header.type != FrameType::kHello || hello.payload.size() != kHelloPayload) {
    return Status::Corrupt("handshake: expected a hello frame, got ",
                           FrameTypeName(hello.header.type));
  }
  const auto expected =
      Mac1(EncodeFrameHeader(hello.header), std::span(hello.payload).first(kHelloKey));
  if (crypto_verify_16(expected.data(), hello.payload.data() + kHelloKey) != 0) {
    return Status::Aborted("handshake: hello fails its mac1 (no or another network key)");
  }
  return Status::Ok();
}

bool Handshake::HasMac2(const Frame& hello, const Cookie& cookie) const {
  if (hello.header.type != FrameType::kHello || hello.payload.size() != kHelloPayload) {
    return false;
  }
  const auto expected = Mac2(cookie, EncodeFrameHeader(hello.header),
                             std::span(hello.payload).first(kHelloKey + kHelloMac));
  return crypto_verify_16(expected.data(), hello.payload.data() + kHelloKey + kHelloMac) == 0;
}

std::vector<uint8_t> Handshake::CookieReplyFrame(const Frame& hello, const Cookie& cookie) const {
  MURMUR_CHECK(hello.payload.size() == kHelloPayload);
  const auto head =
      EncodeFrameHeader({.type = FrameType::kCookieReply, .length = kCookieReplyPayload});
  std::vector<uint8_t> out(kFrameHeaderSize + kCookieReplyPayload);
  std::memcpy(out.data(), head.data(), kFrameHeaderSize);
  uint8_t* nonce = out.data() + kFrameHeaderSize;
  randombytes_buf(nonce, kCookieNonce);
  std::array<uint8_t, 32> key = NetworkDerivedKey(kCookieReplyContext);
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
      nonce + kCookieNonce, nonce + kCookieNonce + kCookieSize, nullptr, cookie.data(),
      cookie.size(), hello.payload.data() + kHelloKey, kHelloMac, nullptr, nonce, key.data());
  sodium_memzero(key.data(), key.size());
  return out;
}

Status Handshake::OnCookieReply(const Frame& frame) {
  MURMUR_CHECK(role_ == Role::kDialer && have_key_pair_);
  if (frame.header.type != FrameType::kCookieReply ||
      frame.payload.size() != kCookieReplyPayload) {
    return Status::Corrupt("handshake: expected a cookie reply, got ",
                           FrameTypeName(frame.header.type));
  }
  const auto mac1 =
      Mac1(EncodeFrameHeader({.type = FrameType::kHello, .length = kHelloPayload}), eph_pk_);
  std::array<uint8_t, 32> key = NetworkDerivedKey(kCookieReplyContext);
  const uint8_t* nonce = frame.payload.data();
  Cookie cookie{};
  const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
      cookie.data(), nullptr, nonce + kCookieNonce, kCookieSize,
      nonce + kCookieNonce + kCookieSize, mac1.data(), mac1.size(), nonce, key.data());
  sodium_memzero(key.data(), key.size());
  if (rc != 0) {
    return Status::Corrupt(
        "handshake: cookie reply does not open (not for our hello, or another network key)");
  }
  cookie_ = cookie;
  return Status::Ok();
}

std::array<uint8_t, 32> Handshake::TranscriptHash() const {
  const auto& dialer = role_ == Role::kDialer ? eph_pk_ : peer_eph_pk_;
  const auto& acceptor = role_ == Role::kDialer ? peer_eph_pk_ : eph_pk_;
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, 32);
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(kTranscriptContext.data()),
                            kTranscriptContext.size());
  crypto_generichash_update(&state, dialer.data(), dialer.size());
  crypto_generichash_update(&state, acceptor.data(), acceptor.size());
  std::array<uint8_t, 32> out{};
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

Status Handshake::OnHello(const Frame& frame) {
  MURMUR_RETURN_IF_ERROR(CheckMac1(frame));
  const std::span<const uint8_t> key = std::span(frame.payload).first(kHelloKey);
  std::copy(key.begin(), key.end(), peer_eph_pk_.begin());
  if (!have_key_pair_) {
    crypto_kx_keypair(eph_pk_.data(), eph_sk_.data());
    have_key_pair_ = true;
  }
  std::array<uint8_t, 32> rx{}, tx{};
  const int rc = role_ == Role::kDialer
                     ? crypto_kx_client_session_keys(rx.data(), tx.data(), eph_pk_.data(),
                                                     eph_sk_.data(), peer_eph_pk_.data())
                     : crypto_kx_server_session_keys(rx.data(), tx.data(), eph_pk_.data(),
                                                     eph_sk_.data(), peer_eph_pk_.data());
  sodium_memzero(eph_sk_.data(), eph_sk_.size());
  if (rc != 0) return Status::Corrupt("handshake: degenerate X25519 key in hello");
  const auto transcript = TranscriptHash();
  auto mix = [&](std::array<uint8_t, 32>& key) {
    std::array<uint8_t, 64> in{};
    std::copy(key.begin(), key.end(), in.begin());
    std::copy(transcript.begin(), transcript.end(), in.begin() + 32);
    const uint8_t* psk = config_.network_key ? config_.network_key->data() : nullptr;
    crypto_generichash(key.data(), key.size(), in.data(), in.size(), psk,
                       psk ? config_.network_key->size() : 0);
    sodium_memzero(in.data(), in.size());
  };
  mix(rx);
  mix(tx);
  session_id_ = role_ == Role::kDialer ? MakeSessionId(transcript, tx, rx)
                                       : MakeSessionId(transcript, rx, tx);
  cipher_.emplace(tx, rx);
  return Status::Ok();
}

std::vector<uint8_t> Handshake::AuthFrame() {
  MURMUR_CHECK(cipher_.has_value());
  ByteWriter w;
  config_.self_record.Encode(w);
  MURMUR_CHECK(config_.streams >= 1 && config_.streams <= kMaxStreams &&
               config_.stream < config_.streams && (role_ == Role::kDialer || config_.stream == 0));
  const uint8_t flags = SessionFlags(config_);
  w.WriteU8(flags);
  if (config_.stream != 0) w.WriteBytes(config_.link_session);
  w.WriteBytes(
      config_.identity->Sign(AuthSigningBytes(role_, TranscriptHash(), flags, config_.link_session)));
  return cipher_->Seal(FrameType::kAuth, w.bytes());
}

Result<PeerRecord> Handshake::OnAuth(Frame& frame) {
  MURMUR_CHECK(cipher_.has_value());
  if (frame.header.type != FrameType::kAuth) {
    return Status::Corrupt("handshake: expected an auth frame, got ",
                           FrameTypeName(frame.header.type));
  }
  MURMUR_RETURN_IF_ERROR(cipher_->Open(frame));
  ByteReader in(frame.payload);
  MURMUR_ASSIGN_OR_RETURN(PeerRecord record, PeerRecord::Decode(in));
  MURMUR_ASSIGN_OR_RETURN(uint8_t flags, in.ReadU8());
  peer_stream_ = FlagsStream(flags);
  peer_link_session_ = {};
  if (peer_stream_ != 0) {
    for (uint8_t& b : peer_link_session_) {
      MURMUR_ASSIGN_OR_RETURN(b, in.ReadU8());
    }
  }
  Signature sig{};
  for (uint8_t& b : sig) {
    MURMUR_ASSIGN_OR_RETURN(b, in.ReadU8());
  }
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  const Role peer_role = role_ == Role::kDialer ? Role::kAcceptor : Role::kDialer;
  if (!VerifySignature(record.key,
                       AuthSigningBytes(peer_role, TranscriptHash(), flags, peer_link_session_),
                       sig)) {
    return Status::Corrupt("handshake: ", PeerName(record.key),
                           " did not sign this session's transcript");
  }
  if ((flags & kFlagUnknown) != 0) {
    return Status::Corrupt("handshake: ", PeerName(record.key), " sent unknown session flags ",
                           static_cast<int>(flags));
  }
  const int peer_streams = ((flags >> 1) & 7) + 1;
  if (peer_stream_ >= peer_streams || (peer_role == Role::kAcceptor && peer_stream_ != 0)) {
    return Status::Corrupt("handshake: ", PeerName(record.key), " claims stream ",
                           static_cast<int>(peer_stream_), " of ", peer_streams);
  }
  if (peer_streams != config_.streams) {
    return Status::Aborted("handshake: ", PeerName(record.key), " wants ", peer_streams,
                           " streams per link, this peer ", static_cast<int>(config_.streams),
                           " (every peer of a run needs the same --streams)");
  }
  const bool peer_plain = (flags & kFlagPlain) != 0;
  if (peer_plain != config_.plain) {
    auto name = [](bool plain) { return plain ? "plain (authenticated, unencrypted)" : "encrypted"; };
    return Status::Aborted("handshake: ", PeerName(record.key), " wants ", name(peer_plain),
                           " data frames, this peer ", name(config_.plain),
                           " ones (every peer of a run needs the same --plain)");
  }
  if (record.slot.value >= config_.num_slots) {
    return Status::Aborted("handshake: ", PeerName(record.key), " claims slot ", record.slot,
                           " but this run has slots 0..", config_.num_slots - 1);
  }
  if (record.slot == config_.self_record.slot) {
    return Status::Aborted("handshake: ", PeerName(record.key), " claims our own slot ",
                           record.slot);
  }
  MURMUR_RETURN_IF_ERROR(config_.allowlist->Admit(record.key, record.slot));
  cipher_->SetPlain(config_.plain);
  return record;
}

}  // namespace murmur::net
