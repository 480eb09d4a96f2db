// Shared pieces of the SecAgg client and server: libsodium wrappers, message
// sizes and the share plaintext. Private to src/privacy/.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/bytes.h"
#include "murmur/privacy/secagg.h"
#include "murmur/compress/bit_packing.h"

namespace murmur::privacy::secagg {

using ::murmur::PackBits;
using ::murmur::RingMask;
using ::murmur::UnpackBits;

inline constexpr size_t kKeyBytes = 32;
using Key = std::array<uint8_t, kKeyBytes>;

enum class Label : uint8_t { kCipherKey = 1, kMaskKey = 2, kSelfMask = 3, kShamir = 4 };

// Once per process; safe to call repeatedly.
void InitSodium();
// BLAKE2b(label || entropy): one of a client's secrets.
Key Derive(const Secret32& entropy, Label label);
Key PublicKey(const Key& secret_key);
// BLAKE2b of the X25519 shared point and both ids (lower first), with a
// domain label: the same key on both sides. kCorrupt for a low-order point.
Result<Key> Agree(const Key& my_secret, uint32_t me, const Key& their_public, uint32_t them,
                  Label label);
// `words` ring elements of ChaCha20 keystream under `seed`.
std::vector<uint32_t> Prg(const Key& seed, size_t words);
// Random field words for Shamir coefficients from a derived key.
std::vector<uint64_t> FieldWords(const Key& seed, size_t words);

// Share plaintext: u32 from, u32 to, the mask-key share, the self-mask share
// (both at the same x). Boxed with XSalsa20-Poly1305.
inline constexpr size_t kShareBytes = 4 + 8 * kShamirChunks;
inline constexpr size_t kPlainBytes = 4 + 4 + 2 * kShareBytes;
inline constexpr size_t kBoxBytes = kPlainBytes + 16;
Bytes Seal(const Key& key, uint32_t from, uint32_t to, std::span<const uint8_t> plain);
Result<Bytes> Open(const Key& key, uint32_t from, uint32_t to, std::span<const uint8_t> box);

void WriteKey(ByteWriter& out, const Key& key);
Result<Key> ReadKey(ByteReader& in);
void WriteShare(ByteWriter& out, const ShamirShare& share);
Result<ShamirShare> ReadShare(ByteReader& in);
// A u32 count that must not exceed `limit` and whose entries of
// `entry_bytes` each must fit in what is left.
Result<uint32_t> ReadCount(ByteReader& in, uint32_t limit, size_t entry_bytes,
                           const char* what);


// +1 when client u adds the pair mask, -1 when it subtracts it.
inline bool AddsPairMask(uint32_t u, uint32_t v) { return u > v; }

enum class ShareKind : uint8_t { kSelfMask = 0, kMaskKey = 1 };

}  // namespace murmur::privacy::secagg
