#include "runtime/frame_crypto.h"

#include <sodium.h>

#include <cstring>

#include "murmur/core/check.h"

#ifdef MURMUR_HAVE_OPENSSL_CRYPTO
#include <openssl/evp.h>
#endif

namespace murmur::net {

namespace {

Tag16 SodiumPoly1305Tag(const Key32& key, std::initializer_list<std::span<const uint8_t>> parts) {
  crypto_onetimeauth_state state;
  crypto_onetimeauth_init(&state, key.data());
  for (std::span<const uint8_t> part : parts) {
    crypto_onetimeauth_update(&state, part.data(), part.size());
  }
  Tag16 tag{};
  crypto_onetimeauth_final(&state, tag.data());
  return tag;
}

Tag16 SodiumSeal(std::span<uint8_t> inout, std::span<const uint8_t> ad, const XNonce& nonce,
                 const Key32& key) {
  // libsodium declares the output pointer non-null even for an empty
  // message; an empty span's data() may be null.
  uint8_t none = 0;
  uint8_t* out = inout.empty() ? &none : inout.data();
  Tag16 tag{};
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, tag.data(), nullptr, out,
                                                      inout.size(), ad.data(), ad.size(),
                                                      nullptr, nonce.data(), key.data());
  return tag;
}

bool SodiumOpen(std::span<uint8_t> inout, std::span<const uint8_t> ad, const XNonce& nonce,
                const Key32& key, const Tag16& tag) {
  uint8_t none = 0;
  uint8_t* io = inout.empty() ? &none : inout.data();
  return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(io, nullptr, io, inout.size(),
                                                             tag.data(), ad.data(), ad.size(),
                                                             nonce.data(), key.data()) == 0;
}

// Below this many bytes libsodium is faster: OpenSSL's per-call setup
// (contexts, an implicit fetch) costs more than its vector code saves.
constexpr size_t kOpenSslFrom = 2048;

}  // namespace

#ifdef MURMUR_HAVE_OPENSSL_CRYPTO
namespace {

// Fetched once: a fetch takes the provider store's lock.
EVP_MAC* Poly1305Mac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "POLY1305", nullptr);
  MURMUR_CHECK(mac != nullptr);
  return mac;
}

EVP_CIPHER* ChaCha20Cipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20", nullptr);
  MURMUR_CHECK(cipher != nullptr);
  return cipher;
}

// ChaCha20 (IETF: 32-bit block counter, 96-bit nonce) of `in` into `out`
// (may be the same) from block `counter`.
void ChaCha20Ietf(const uint8_t* in, uint8_t* out, size_t n, uint32_t counter,
                  const std::array<uint8_t, 12>& nonce, const Key32& key) {
  if (n == 0) return;
  // OpenSSL's IV: the 32-bit little-endian block counter, then the nonce.
  std::array<uint8_t, 16> iv{};
  for (int i = 0; i < 4; ++i) iv[i] = static_cast<uint8_t>(counter >> (8 * i));
  std::memcpy(iv.data() + 4, nonce.data(), nonce.size());
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  MURMUR_CHECK(ctx != nullptr);
  int len = 0;
  MURMUR_CHECK(n <= (size_t{1} << 30));
  MURMUR_CHECK(EVP_EncryptInit_ex2(ctx, ChaCha20Cipher(), key.data(), iv.data(), nullptr) == 1 &&
               EVP_EncryptUpdate(ctx, out, &len, in, static_cast<int>(n)) == 1 &&
               static_cast<size_t>(len) == n);
  EVP_CIPHER_CTX_free(ctx);
}

// libsodium's xchacha20poly1305_ietf: the HChaCha20 subkey of the nonce's
// first 16 bytes, then ChaCha20-IETF under nonce 0^4 || nonce[16..24]:
// block 0 gives the Poly1305 key, the message starts at block 1.
struct XSetup {
  Key32 subkey{};
  std::array<uint8_t, 12> nonce{};
  Key32 poly_key{};
};

XSetup Setup(const XNonce& nonce, const Key32& key) {
  XSetup s;
  crypto_core_hchacha20(s.subkey.data(), nonce.data(), key.data(), nullptr);
  std::memcpy(s.nonce.data() + 4, nonce.data() + 16, 8);
  std::array<uint8_t, 64> block{};
  ChaCha20Ietf(block.data(), block.data(), block.size(), 0, s.nonce, s.subkey);
  std::memcpy(s.poly_key.data(), block.data(), s.poly_key.size());
  sodium_memzero(block.data(), block.size());
  return s;
}

Tag16 OpenSslPoly1305Tag(const Key32& key,
                          std::initializer_list<std::span<const uint8_t>> parts) {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(Poly1305Mac());
  MURMUR_CHECK(ctx != nullptr);
  MURMUR_CHECK(EVP_MAC_init(ctx, key.data(), key.size(), nullptr) == 1);
  for (std::span<const uint8_t> part : parts) {
    if (!part.empty()) MURMUR_CHECK(EVP_MAC_update(ctx, part.data(), part.size()) == 1);
  }
  Tag16 tag{};
  size_t len = 0;
  MURMUR_CHECK(EVP_MAC_final(ctx, tag.data(), &len, tag.size()) == 1 && len == tag.size());
  EVP_MAC_CTX_free(ctx);
  return tag;
}

// RFC 8439 section 2.8: ad, pad to 16, ciphertext, pad to 16, both lengths.
Tag16 AeadTag(const Key32& poly_key, std::span<const uint8_t> ad,
              std::span<const uint8_t> ciphertext) {
  static constexpr uint8_t kZeros[16] = {};
  std::array<uint8_t, 16> lengths{};
  const uint64_t ad_len = ad.size(), ct_len = ciphertext.size();
  for (int i = 0; i < 8; ++i) {
    lengths[i] = static_cast<uint8_t>(ad_len >> (8 * i));
    lengths[8 + i] = static_cast<uint8_t>(ct_len >> (8 * i));
  }
  return OpenSslPoly1305Tag(poly_key, {ad, std::span(kZeros, (16 - ad.size() % 16) % 16),
                                       ciphertext,
                                       std::span(kZeros, (16 - ciphertext.size() % 16) % 16),
                                       lengths});
}

Tag16 OpenSslSeal(std::span<uint8_t> inout, std::span<const uint8_t> ad, const XNonce& nonce,
                  const Key32& key) {
  XSetup s = Setup(nonce, key);
  ChaCha20Ietf(inout.data(), inout.data(), inout.size(), 1, s.nonce, s.subkey);
  const Tag16 tag = AeadTag(s.poly_key, ad, inout);
  sodium_memzero(&s, sizeof s);
  return tag;
}

bool OpenSslOpen(std::span<uint8_t> inout, std::span<const uint8_t> ad, const XNonce& nonce,
                 const Key32& key, const Tag16& tag) {
  XSetup s = Setup(nonce, key);
  const Tag16 expected = AeadTag(s.poly_key, ad, inout);
  const bool ok = crypto_verify_16(expected.data(), tag.data()) == 0;
  if (ok) ChaCha20Ietf(inout.data(), inout.data(), inout.size(), 1, s.nonce, s.subkey);
  sodium_memzero(&s, sizeof s);
  return ok;
}

}  // namespace
#endif

Tag16 Poly1305Tag(const Key32& key, std::initializer_list<std::span<const uint8_t>> parts) {
#ifdef MURMUR_HAVE_OPENSSL_CRYPTO
  size_t total = 0;
  for (std::span<const uint8_t> part : parts) total += part.size();
  if (total >= kOpenSslFrom) return OpenSslPoly1305Tag(key, parts);
#endif
  return SodiumPoly1305Tag(key, parts);
}

Tag16 XChaCha20Poly1305Seal(std::span<uint8_t> inout, std::span<const uint8_t> ad,
                            const XNonce& nonce, const Key32& key) {
#ifdef MURMUR_HAVE_OPENSSL_CRYPTO
  if (inout.size() >= kOpenSslFrom) return OpenSslSeal(inout, ad, nonce, key);
#endif
  return SodiumSeal(inout, ad, nonce, key);
}

bool XChaCha20Poly1305Open(std::span<uint8_t> inout, std::span<const uint8_t> ad,
                           const XNonce& nonce, const Key32& key, const Tag16& tag) {
#ifdef MURMUR_HAVE_OPENSSL_CRYPTO
  if (inout.size() >= kOpenSslFrom) return OpenSslOpen(inout, ad, nonce, key, tag);
#endif
  return SodiumOpen(inout, ad, nonce, key, tag);
}

const char* FrameCryptoBackend() {
#ifdef MURMUR_HAVE_OPENSSL_CRYPTO
  return "openssl";
#else
  return "libsodium";
#endif
}

}  // namespace murmur::net
