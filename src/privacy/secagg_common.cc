// FixedPoint, MaskingGraph, SecAggConfig and the crypto and wire helpers.
#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "privacy/secagg_internal.h"

namespace murmur::privacy {

Status FixedPoint::Validate(uint32_t summands) const {
  if (fractional_bits < 0 || fractional_bits > 30) {
    return Status::InvalidArgument("fixed point: fractional_bits=", fractional_bits,
                                   " must lie in [0, 30]");
  }
  if (!(max_abs > 0) || !std::isfinite(max_abs)) {
    return Status::InvalidArgument("fixed point: max_abs=", max_abs, " must be finite and > 0");
  }
  const double bound = static_cast<double>(summands) * max_abs * std::ldexp(1.0, fractional_bits);
  if (!(bound < std::ldexp(1.0, 31))) {
    return Status::InvalidArgument("fixed point: ", summands, " values of |x| <= ", max_abs,
                                   " at 2^-", fractional_bits,
                                   " could wrap 2^31; lower max_abs or fractional_bits");
  }
  return Status::Ok();
}

uint32_t FixedPoint::Encode(float x) const {
  const double v = std::isfinite(x) ? std::clamp<double>(x, -max_abs, max_abs) : 0.0;
  return static_cast<uint32_t>(std::llround(std::ldexp(v, fractional_bits)));
}

double FixedPoint::Decode(uint32_t v) const {
  return std::ldexp(static_cast<double>(static_cast<int32_t>(v)), -fractional_bits);
}

int RingBitsForSum(uint64_t max_sum) {
  MURMUR_CHECK(max_sum <= 0xffffffffull);
  return std::max(1, static_cast<int>(std::bit_width(max_sum)));
}

size_t MaskedInputBytes(const SecAggConfig& config) {
  return 8 + (static_cast<size_t>(config.ring_bits) * config.dimension + 7) / 8;
}

MaskingGraph MaskingGraph::Complete(uint32_t n) {
  MaskingGraph g;
  g.neighbours_.resize(n);
  for (uint32_t a = 0; a < n; ++a) {
    for (uint32_t b = 0; b < n; ++b) {
      if (a != b) g.neighbours_[a].push_back(b);
    }
  }
  return g;
}

MaskingGraph MaskingGraph::Harary(uint32_t n, uint32_t k, Rng& rng) {
  MURMUR_CHECK(k % 2 == 0 && k >= 2 && k < n);
  std::vector<uint32_t> label(n);
  for (uint32_t i = 0; i < n; ++i) label[i] = i;
  rng.Shuffle(std::span<uint32_t>(label));
  MaskingGraph g;
  g.neighbours_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t d = 1; d <= k / 2; ++d) {
      const uint32_t j = (i + d) % n;
      g.neighbours_[label[i]].push_back(label[j]);
      g.neighbours_[label[j]].push_back(label[i]);
    }
  }
  for (auto& nbrs : g.neighbours_) {
    std::sort(nbrs.begin(), nbrs.end());
    nbrs.erase(std::unique(nbrs.begin(), nbrs.end()), nbrs.end());
  }
  return g;
}

uint32_t MaskingGraph::LogDegree(uint32_t n) {
  MURMUR_CHECK(n >= 2);
  const uint32_t k = 2 * std::bit_width(n - 1);  // 2 * ceil(log2 n)
  return std::min(k, n - 1);
}

bool MaskingGraph::linked(uint32_t a, uint32_t b) const {
  const auto& nbrs = neighbours_[a];
  return std::binary_search(nbrs.begin(), nbrs.end(), b);
}

Status SecAggConfig::Validate() const {
  if (dimension == 0 || dimension > (1u << 24)) {
    return Status::InvalidArgument("secagg: dimension=", dimension, " must lie in [1, 2^24]");
  }
  const uint32_t n = graph.size();
  if (n < 2 || n > (1u << 16)) {
    return Status::InvalidArgument("secagg: ", n, " clients; need 2 .. 65536");
  }
  size_t min_degree = n;
  for (uint32_t c = 0; c < n; ++c) min_degree = std::min(min_degree, graph.neighbours(c).size());
  if (threshold < 2 || threshold > min_degree + 1) {
    return Status::InvalidArgument("secagg: threshold=", threshold, " must lie in [2, ",
                                   min_degree + 1, "] (minimum degree + 1)");
  }
  if (input == SecAggInput::kRing) {
    if (ring_bits < 1 || ring_bits > 32) {
      return Status::InvalidArgument("secagg: ring_bits=", ring_bits, " must lie in [1, 32]");
    }
    return Status::Ok();
  }
  if (ring_bits != 32) {
    return Status::InvalidArgument("secagg: ring_bits=", ring_bits,
                                   " with fixed-point input; fixed point lives in Z_{2^32}");
  }
  return fixed_point.Validate(n);
}

namespace secagg {

void InitSodium() { MURMUR_CHECK(sodium_init() >= 0); }

Key Derive(const Secret32& entropy, Label label) {
  Key out;
  const uint8_t tag = static_cast<uint8_t>(label);
  crypto_generichash(out.data(), out.size(), &tag, 1, entropy.data(), entropy.size());
  return out;
}

Key PublicKey(const Key& secret_key) {
  Key pk;
  crypto_scalarmult_base(pk.data(), secret_key.data());
  return pk;
}

Result<Key> Agree(const Key& my_secret, uint32_t me, const Key& their_public, uint32_t them,
                  Label label) {
  uint8_t shared[crypto_scalarmult_BYTES];
  if (crypto_scalarmult(shared, my_secret.data(), their_public.data()) != 0) {
    return Status::Corrupt("secagg: client ", them, " sent a low-order public key");
  }
  ByteWriter info;
  info.WriteU8(static_cast<uint8_t>(label));
  info.WriteU32(std::min(me, them));
  info.WriteU32(std::max(me, them));
  info.WriteBytes(shared);
  Key out;
  crypto_generichash(out.data(), out.size(), info.bytes().data(), info.size(), nullptr, 0);
  sodium_memzero(shared, sizeof shared);
  return out;
}

std::vector<uint32_t> Prg(const Key& seed, size_t words) {
  std::vector<uint32_t> out(words, 0);
  const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {};
  crypto_stream_chacha20_xor(reinterpret_cast<uint8_t*>(out.data()),
                             reinterpret_cast<const uint8_t*>(out.data()), words * 4, nonce,
                             seed.data());
  return out;
}

std::vector<uint64_t> FieldWords(const Key& seed, size_t words) {
  std::vector<uint64_t> out(words, 0);
  const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {};
  crypto_stream_chacha20_xor(reinterpret_cast<uint8_t*>(out.data()),
                             reinterpret_cast<const uint8_t*>(out.data()), words * 8, nonce,
                             seed.data());
  // 61 bits, reduced: the one value equal to p maps to 0 (bias 2^-61).
  for (uint64_t& w : out) w = (w & kShamirPrime) % kShamirPrime;
  return out;
}

namespace {
void Nonce(uint32_t from, uint32_t to, uint8_t (&nonce)[crypto_secretbox_NONCEBYTES]) {
  std::memset(nonce, 0, sizeof nonce);
  std::memcpy(nonce, &from, 4);
  std::memcpy(nonce + 4, &to, 4);
}
}  // namespace

Bytes Seal(const Key& key, uint32_t from, uint32_t to, std::span<const uint8_t> plain) {
  uint8_t nonce[crypto_secretbox_NONCEBYTES];
  Nonce(from, to, nonce);
  Bytes box(plain.size() + crypto_secretbox_MACBYTES);
  crypto_secretbox_easy(box.data(), plain.data(), plain.size(), nonce, key.data());
  return box;
}

Result<Bytes> Open(const Key& key, uint32_t from, uint32_t to, std::span<const uint8_t> box) {
  if (box.size() < crypto_secretbox_MACBYTES) return Status::Corrupt("secagg: short box");
  uint8_t nonce[crypto_secretbox_NONCEBYTES];
  Nonce(from, to, nonce);
  Bytes plain(box.size() - crypto_secretbox_MACBYTES);
  if (crypto_secretbox_open_easy(plain.data(), box.data(), box.size(), nonce, key.data()) != 0) {
    return Status::Corrupt("secagg: box from client ", from, " to ", to, " fails to open");
  }
  return plain;
}

void WriteKey(ByteWriter& out, const Key& key) { out.WriteBytes(key); }

Result<Key> ReadKey(ByteReader& in) {
  Key key;
  for (uint8_t& b : key) {
    MURMUR_ASSIGN_OR_RETURN(b, in.ReadU8());
  }
  return key;
}

void WriteShare(ByteWriter& out, const ShamirShare& share) {
  out.WriteU32(share.x);
  for (uint64_t y : share.y) out.WriteU64(y);
}

Result<ShamirShare> ReadShare(ByteReader& in) {
  ShamirShare share;
  MURMUR_ASSIGN_OR_RETURN(share.x, in.ReadU32());
  for (uint64_t& y : share.y) {
    MURMUR_ASSIGN_OR_RETURN(y, in.ReadU64());
  }
  return share;
}

Result<uint32_t> ReadCount(ByteReader& in, uint32_t limit, size_t entry_bytes,
                           const char* what) {
  MURMUR_ASSIGN_OR_RETURN(uint32_t count, in.ReadU32());
  if (count > limit) {
    return Status::Corrupt("secagg ", what, ": ", count, " entries exceed limit ", limit);
  }
  if (in.remaining() < count * entry_bytes) {
    return Status::Corrupt("secagg ", what, ": ", count, " entries truncated at ",
                           in.remaining(), " bytes");
  }
  return count;
}

}  // namespace secagg
}  // namespace murmur::privacy
