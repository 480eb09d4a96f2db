// SessionCipher's frames are byte for byte what libsodium's reference
// constructions give (docs/wire.md, "Sealed frames" and "Plain sessions"),
// whichever implementation the build uses for ChaCha20 and Poly1305
// (src/runtime/frame_crypto.h: OpenSSL's when found, else libsodium's):
// encrypted frames open with crypto_aead_xchacha20poly1305_ietf, plain
// frames carry crypto_onetimeauth under the XChaCha20 one-time key, over
// payload lengths around the 16- and 64-byte block edges and a full data
// chunk; frames libsodium seals open here; a flipped bit fails.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <random>

#include "murmur/runtime/handshake.h"

namespace murmur::net {
namespace {

using Key = std::array<uint8_t, 32>;

std::array<uint8_t, 24> CounterNonce(uint64_t counter) {
  std::array<uint8_t, 24> nonce{};
  std::memcpy(nonce.data(), &counter, sizeof counter);  // little-endian machines
  return nonce;
}

const std::vector<size_t>& Lengths() {
  static const std::vector<size_t> lengths = {0,  1,   15,  16,  17,   31,   32,    63,
                                              64, 65,  127, 128, 1000, 4096, 65537, kDataChunk};
  return lengths;
}

std::vector<uint8_t> RandomBytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(SessionCipherReference, EncryptedFramesAreLibsodiumXChaCha20Poly1305) {
  ASSERT_GE(sodium_init(), 0);
  std::mt19937_64 rng(7);
  Key tx{}, rx{};
  for (uint8_t& b : tx) b = static_cast<uint8_t>(rng());
  SessionCipher cipher(tx, rx);
  uint64_t counter = 0;
  for (size_t n : Lengths()) {
    const std::vector<uint8_t> plaintext = RandomBytes(rng, n);
    std::vector<uint8_t> payload = plaintext;
    std::array<uint8_t, kFrameHeaderSize> header{};
    std::array<uint8_t, kMacSize> tag{};
    cipher.SealInPlace(FrameType::kData, payload, header, tag);
    const auto nonce = CounterNonce(counter++);
    std::vector<uint8_t> opened(n + 1);
    // libsodium's pointers must not be null, even for 0 bytes.
    uint8_t none = 0;
    ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
                  opened.data(), nullptr, n > 0 ? payload.data() : &none, n, tag.data(),
                  header.data(), header.size(), nonce.data(), tx.data()),
              0)
        << "length " << n;
    opened.resize(n);
    EXPECT_EQ(opened, plaintext) << "length " << n;
    if (n > 0) EXPECT_NE(payload, plaintext) << "length " << n;
  }
}

TEST(SessionCipherReference, PlainFramesCarryLibsodiumPoly1305UnderTheOneTimeKey) {
  ASSERT_GE(sodium_init(), 0);
  std::mt19937_64 rng(8);
  Key tx{}, rx{};
  for (uint8_t& b : tx) b = static_cast<uint8_t>(rng());
  SessionCipher cipher(tx, rx);
  cipher.SetPlain(true);
  uint64_t counter = 0;
  for (size_t n : Lengths()) {
    const std::vector<uint8_t> plaintext = RandomBytes(rng, n);
    std::vector<uint8_t> payload = plaintext;
    std::array<uint8_t, kFrameHeaderSize> header{};
    std::array<uint8_t, kMacSize> tag{};
    cipher.SealInPlace(FrameType::kData, payload, header, tag);
    EXPECT_EQ(payload, plaintext);
    const auto nonce = CounterNonce(counter++);
    std::array<uint8_t, 32> one_time{};
    crypto_stream_xchacha20(one_time.data(), one_time.size(), nonce.data(), tx.data());
    std::vector<uint8_t> authenticated(header.begin(), header.end());
    authenticated.insert(authenticated.end(), plaintext.begin(), plaintext.end());
    std::array<uint8_t, kMacSize> expected{};
    crypto_onetimeauth(expected.data(), authenticated.data(), authenticated.size(),
                       one_time.data());
    EXPECT_EQ(tag, expected) << "length " << n;
  }
}

// The receiving side: frames sealed by libsodium itself open, and a frame
// with one bit flipped (payload or tag) does not.
TEST(SessionCipherReference, OpensLibsodiumSealedFramesAndRefusesAFlippedBit) {
  ASSERT_GE(sodium_init(), 0);
  std::mt19937_64 rng(9);
  Key tx{}, rx{};
  for (uint8_t& b : rx) b = static_cast<uint8_t>(rng());
  for (bool flip : {false, true}) {
    SessionCipher cipher(tx, rx);
    uint64_t counter = 0;
    for (size_t n : Lengths()) {
      const std::vector<uint8_t> plaintext = RandomBytes(rng, n);
      Frame frame;
      frame.header = FrameHeader{.type = FrameType::kData,
                                 .length = static_cast<uint32_t>(n + kMacSize)};
      const auto header = EncodeFrameHeader(frame.header);
      frame.payload.resize(n + kMacSize);
      const auto nonce = CounterNonce(counter++);
      uint8_t none = 0;
      crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
          n > 0 ? frame.payload.data() : &none, frame.payload.data() + n, nullptr,
          n > 0 ? plaintext.data() : &none, n, header.data(), header.size(), nullptr,
          nonce.data(), rx.data());
      if (flip) frame.payload[rng() % frame.payload.size()] ^= 1u << (rng() % 8);
      const Status s = cipher.Open(frame);
      if (flip) {
        EXPECT_EQ(s.code(), StatusCode::kCorrupt) << "length " << n;
        break;  // the session is unusable after a failed tag
      }
      ASSERT_TRUE(s.ok()) << s.ToString() << " length " << n;
      EXPECT_EQ(frame.payload, plaintext) << "length " << n;
    }
  }
}

}  // namespace
}  // namespace murmur::net
