// Secure aggregation: the server learns the sum of the clients' vectors and
// nothing else about any one of them, even when clients drop out mid-round.
//
//  * Bonawitz, Ivanov, Kreuter, Marcedone, McMahan, Patel, Ramage, Segal,
//    Seth, 2017, "Practical Secure Aggregation for Privacy-Preserving Machine
//    Learning" (SecAgg): pairwise masks from Diffie-Hellman key agreement
//    cancel in the sum; a self mask hides a client whose pairwise masks the
//    server unmasks after it was (or pretended it was) dropped; Shamir shares
//    of both let the survivors recover what the sum needs.
//  * Bell, Bonawitz, Gascón, Lepoint, Raykova, 2020, "Secure Single-Server
//    Aggregation with (Poly)Logarithmic Overhead" (SecAgg+): masks and shares
//    only along a random k-regular (Harary) graph with k = O(log n), so a
//    client's cost grows with log n instead of n.
//
// Inputs come in two kinds (SecAggInput): floats in fixed point over
// Z_{2^32}, or integers already in a ring Z_{2^b}, b <= 32. The second is
// how secure aggregation composes with a quantizer whose levels are affine
// in the index, such as RQM (Youn, Hu, Ziani, Abernethy, 2023, "Randomized
// Quantization is All You Need for Differential Privacy in Federated
// Learning"; privacy/rqm.h): the clients mask their level indices, the
// server unmasks their exact sum, and b need only hold that sum
// (RingBitsForSum), so the masked input is bit-packed at b bits a value.
//
// Threat model (docs/privacy.md): an honest-but-curious server and up to
// threshold - 1 clients colluding with it learn nothing about an honest
// client's input beyond the sum of the survivors' inputs. Not covered: an
// actively malicious server (no signatures or consistency round here), or
// clients sending bad inputs (the sum hides who did, so Byzantine-robust
// rules that inspect individual updates cannot run on top of this).
//
// Crypto (libsodium): X25519 key agreement hashed with BLAKE2b; ChaCha20 as
// the mask generator; XSalsa20-Poly1305 boxes carry the shares between
// clients through the server. Every client secret derives from one 32-byte
// entropy seed handed to the client: randombytes_buf in a deployment, the
// run's seeded Rng in the simulator (replayable, not secret).
//
// The four rounds, as pure state machines over byte messages that a protocol
// node will later carry over the Host seam:
//   0 client AdvertiseKeys -> server; server KeyLists -> each client
//   1 client ShareKeys(key list) -> server; server ForwardedShares -> each
//   2 client MaskedInput(shares, input) -> server; server Survivors -> each
//     (the masked input: u32 id | u32 dimension | dimension values of
//     ring_bits bits each, packed LSB first and zero-padded to a byte; at
//     32 bits that is dimension little-endian u32s)
//     (each survivor hears only which of its neighbours and itself survived:
//     O(degree) bytes, as SecAgg+ needs for logarithmic per-client cost)
//   3 client Unmask(survivors) -> server; server Finish -> the sum
// A client that misses a message simply drops out. Every decoder checks
// sizes against the config before allocating and returns kCorrupt on bad
// bytes; a phase with fewer than `threshold` participants returns kAborted.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"
#include "murmur/privacy/shamir.h"

namespace murmur::privacy {

// Fixed-point encoding into Z_{2^32}: x -> round(clamp(x, -max_abs, max_abs)
// * 2^fractional_bits) mod 2^32. Precision: each value is off by at most
// 2^-(fractional_bits+1), so a sum of n values by at most n * 2^-(bits+1)
// (plus float rounding of the result). Overflow bound: a sum of n values is
// exact iff n * max_abs * 2^fractional_bits < 2^31; Validate enforces it.
struct FixedPoint {
  int fractional_bits = 16;
  double max_abs = 8.0;

  // kInvalidArgument when the sum of `summands` values could wrap.
  Status Validate(uint32_t summands) const;
  uint32_t Encode(float x) const;
  // The signed value of a (summed) ring element.
  double Decode(uint32_t v) const;
};

// What a client's input is, and so which ring masks it.
enum class SecAggInput : uint8_t {
  kFixedPoint,  // floats, FixedPoint-encoded into Z_{2^32} (ring_bits = 32)
  kRing,        // integers already in Z_{2^ring_bits}; the sum is exact mod 2^ring_bits
};

// The fewest ring bits that hold every value 0 .. max_sum, so that a sum of
// non-negative inputs up to max_sum never wraps: bit_width(max_sum), at
// least 1. E.g. n clients' RQM indices below m sum to at most n (m - 1):
// 100 clients at 16 levels need 11 bits. REQUIRES: max_sum < 2^32.
int RingBitsForSum(uint64_t max_sum);

// Who masks with whom and who holds whose shares: a symmetric graph without
// self-loops over clients 0 .. n-1.
class MaskingGraph {
 public:
  // Everyone with everyone: the original SecAgg.
  static MaskingGraph Complete(uint32_t n);
  // A Harary graph H(k, n) (each client linked to the k/2 nearest on each
  // side of a ring) over a random relabelling of the clients: SecAgg+.
  // REQUIRES: k even, 2 <= k < n.
  static MaskingGraph Harary(uint32_t n, uint32_t k, Rng& rng);
  // The smallest even k >= 2 * ceil(log2 n), capped at n - 1: SecAgg+'s
  // logarithmic degree.
  static uint32_t LogDegree(uint32_t n);

  uint32_t size() const { return static_cast<uint32_t>(neighbours_.size()); }
  // Sorted, without `client`.
  const std::vector<uint32_t>& neighbours(uint32_t client) const { return neighbours_[client]; }
  bool linked(uint32_t a, uint32_t b) const;

 private:
  std::vector<std::vector<uint32_t>> neighbours_;
};

struct SecAggConfig {
  uint32_t dimension = 0;
  // Shares of a client's secrets go to its neighbours and itself; any
  // `threshold` of them reconstruct. REQUIRES 2 <= threshold <= min degree + 1.
  uint32_t threshold = 2;
  FixedPoint fixed_point;  // kFixedPoint only
  SecAggInput input = SecAggInput::kFixedPoint;
  // Masks and masked values live in Z_{2^ring_bits}: 32 for kFixedPoint,
  // 1 .. 32 for kRing (the caller's bound on the sum: RingBitsForSum).
  int ring_bits = 32;
  MaskingGraph graph;

  // kInvalidArgument naming the value for a bad dimension (0 or > 2^24),
  // threshold, graph size (< 2 or > 2^16), ring width or (kFixedPoint)
  // fixed-point overflow bound.
  Status Validate() const;
};

// The bytes of a masked-input message: 8 + ceil(ring_bits * dimension / 8).
size_t MaskedInputBytes(const SecAggConfig& config);

using Bytes = std::vector<uint8_t>;

// One client's side of a round. `config` must outlive the client. Not
// thread-safe. Each method must be called once, in round order; a call out
// of order returns kInternal.
class SecAggClient {
 public:
  // REQUIRES: config->Validate().ok(), id < config->graph.size().
  SecAggClient(const SecAggConfig* config, uint32_t id, const Secret32& entropy);
  ~SecAggClient();

  uint32_t id() const;
  // Round 0: this client's two public keys.
  Bytes AdvertiseKeys();
  // Round 1: shares of the mask key and self-mask seed, boxed for each
  // neighbour in the server's key list. kCorrupt for a bad list, kAborted
  // when fewer than threshold holders remain.
  Result<Bytes> ShareKeys(std::span<const uint8_t> key_list);
  // Round 2: the masked input. REQUIRES: input.size() == dimension and
  // config input kFixedPoint. kCorrupt for bad or forged boxes, kAborted
  // below threshold.
  Result<Bytes> MaskedInput(std::span<const uint8_t> forwarded_shares,
                            std::span<const float> input);
  // Round 2 for config input kRing: `input` is already in the ring.
  // kInvalidArgument (before anything else, so the call may be repeated)
  // for a value >= 2^ring_bits; otherwise as MaskedInput.
  // REQUIRES: input.size() == dimension.
  Result<Bytes> MaskedRingInput(std::span<const uint8_t> forwarded_shares,
                                std::span<const uint32_t> input);
  // Round 3: for each neighbour (and itself) that sent shares, the share of
  // its self-mask seed if it survived, of its mask key if not; never both.
  // `survivors` lists the survivors among its neighbours and itself (at most
  // degree + 1, strictly increasing); kCorrupt for anything else, kAborted
  // when this client is not listed or fewer than threshold of them survived.
  Result<Bytes> Unmask(std::span<const uint8_t> survivors);

 private:
  // Opens the forwarded shares and masks `encoded` (ring elements).
  Result<Bytes> Mask(std::span<const uint8_t> forwarded, std::vector<uint32_t> encoded);

  struct State;
  std::unique_ptr<State> state_;
};

// The server's side of a round. `config` must outlive it. Not thread-safe.
// On*() accept one client message each (kCorrupt for bad bytes, kInvalidArgument
// for a duplicate or a message of the wrong phase); Close*() end a phase and
// return the message for each client still in it, keyed by client id.
class SecAggServer {
 public:
  explicit SecAggServer(const SecAggConfig* config);
  ~SecAggServer();

  Status OnAdvertiseKeys(std::span<const uint8_t> message);
  Result<std::map<uint32_t, Bytes>> CloseAdvertiseKeys();
  Status OnShareKeys(std::span<const uint8_t> message);
  Result<std::map<uint32_t, Bytes>> CloseShareKeys();
  // kCorrupt unless the message declares the config's dimension and is
  // exactly MaskedInputBytes long with zero padding bits: the sender's
  // lengths are checked, never trusted.
  Status OnMaskedInput(std::span<const uint8_t> message);
  Result<std::map<uint32_t, Bytes>> CloseMaskedInput();
  Status OnUnmask(std::span<const uint8_t> message);
  // The sum of the survivors' inputs, decoded from fixed point. kAborted,
  // naming the client, when a needed secret has fewer than threshold shares;
  // kInvalidArgument for a kRing round (use FinishRing; FinishRoundSum picks
  // by encoding): a caller's mistake, refused before anything is unmasked,
  // so the round is not spent and FinishRing still ends it.
  Result<std::vector<double>> Finish();
  // The sum of the survivors' inputs in Z_{2^ring_bits}, each < 2^ring_bits.
  // Fails as Finish does (either ends the round).
  Result<std::vector<uint32_t>> FinishRing();
  // The clients whose inputs are in the sum (valid after CloseMaskedInput).
  const std::set<uint32_t>& survivors() const;
  // The masked vector a client sent, each value < 2^ring_bits: what the
  // server sees of it.
  const std::vector<uint32_t>* masked_input(uint32_t client) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace murmur::privacy
