// The two primitives every sealed frame costs (handshake.h, SessionCipher;
// docs/wire.md): Poly1305 (Bernstein 2005, "The Poly1305-AES
// message-authentication code") and libsodium's XChaCha20-Poly1305-IETF
// AEAD (ChaCha20-Poly1305 of RFC 8439 with the HChaCha20 extended nonce of
// draft-irtf-cfrg-xchacha), byte for byte as libsodium computes them. When
// the build found OpenSSL (MURMUR_HAVE_OPENSSL_CRYPTO) they run on its
// vectorized ChaCha20 and Poly1305 (about twice libsodium 1.0.18's speed
// on an AVX2 machine: these two were a third of the CPU of a 64 MiB
// all-reduce on loopback), else on libsodium; the bytes on the wire are the
// same either way (tests/runtime/frame_crypto_test.cc checks both against
// libsodium). Private to the runtime; stateless functions, thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>

namespace murmur::net {

using Key32 = std::array<uint8_t, 32>;
using Tag16 = std::array<uint8_t, 16>;
using XNonce = std::array<uint8_t, 24>;

// Poly1305 of the concatenation of `parts` under the one-time `key`.
Tag16 Poly1305Tag(const Key32& key, std::initializer_list<std::span<const uint8_t>> parts);

// Encrypts `inout` in place; `ad` is authenticated, not encrypted.
Tag16 XChaCha20Poly1305Seal(std::span<uint8_t> inout, std::span<const uint8_t> ad,
                            const XNonce& nonce, const Key32& key);
// Checks `tag` over `ad` and the ciphertext `inout`, then decrypts it in
// place. False (and `inout` untouched) when the tag does not match.
bool XChaCha20Poly1305Open(std::span<uint8_t> inout, std::span<const uint8_t> ad,
                           const XNonce& nonce, const Key32& key, const Tag16& tag);

// Which implementation this build uses ("openssl" or "libsodium").
const char* FrameCryptoBackend();

}  // namespace murmur::net
