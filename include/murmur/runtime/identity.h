// A peer's long-term identity and the admission material of a network:
//  * Identity: an Ed25519 key pair (libsodium) kept in a key file that
//    holds the 32-byte seed as hex. The file is created on first use with
//    mode 0600, and a file that group or others may read is refused (like
//    ssh). The peer's printable id derives from the public key (PeerName).
//  * NetworkKey: an optional 32-byte pre-shared key mixed into every
//    session key, so a stranger without it cannot complete a handshake.
//  * Allowlist: optional public keys admitted to the network, each bound to
//    the dense slot (PeerId) it may take.
// Thread-compatible values.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>

#include "murmur/core/ids.h"
#include "murmur/core/status.h"

namespace murmur::net {

using PublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

// Initializes libsodium; safe to call many times. kInternal if it fails.
Status InitCrypto();

std::string ToHex(std::span<const uint8_t> bytes);
// kInvalidArgument unless `hex` is exactly 2 * out.size() hex digits.
Status FromHex(std::string_view hex, std::span<uint8_t> out);

// "mm-" and 16 hex digits of BLAKE2b-64(public key): how logs name a peer.
std::string PeerName(const PublicKey& key);

class Identity {
 public:
  // A fresh random key pair.
  static Identity Generate();
  // Deterministic from a 32-byte seed (tests).
  static Identity FromSeed(std::span<const uint8_t, 32> seed);
  // Loads the key file at `path`, or creates it (mode 0600, parents
  // included) when absent. kInvalidArgument for a file that group or others
  // can access, or that is not 64 hex digits; kUnavailable if it cannot be
  // read or written.
  static Result<Identity> LoadOrCreate(const std::string& path);

  const PublicKey& public_key() const { return public_key_; }
  Signature Sign(std::span<const uint8_t> message) const;

 private:
  PublicKey public_key_{};
  std::array<uint8_t, 64> secret_key_{};
  std::array<uint8_t, 32> seed_{};
};

// True when `signature` is `key`'s signature of `message`.
bool VerifySignature(const PublicKey& key, std::span<const uint8_t> message,
                     const Signature& signature);

using NetworkKey = std::array<uint8_t, 32>;

// Reads a network key file (64 hex digits; same permission rule as key
// files). kNotFound, kInvalidArgument or kUnavailable.
Result<NetworkKey> LoadNetworkKey(const std::string& path);
// Writes a fresh random network key to `path` with mode 0600.
Status CreateNetworkKeyFile(const std::string& path);

// A peer's incarnation: a counter kept in a small file beside its key file
// (decimal, mode 0600) and bumped at every start, so the records of a
// restart order after the previous run's (PeerRecord::NewerThan) even when
// the wall clock went backwards. Reads the counter at `path` (0 when the
// file is absent), writes the next value atomically (a temporary file in
// the same directory, fsync, rename over `path`: a crash leaves the old
// value or the new one, never a torn file) and returns it.
// kInvalidArgument for a file that is not one decimal number or is at
// UINT64_MAX; kUnavailable when it cannot be written.
Result<uint64_t> BumpIncarnation(const std::string& path);

// Which keys may join, and as which slot. Empty: anyone who completes the
// handshake (i.e. holds the network key, if one is set) may take any slot.
class Allowlist {
 public:
  // Reads lines "PUBKEY_HEX SLOT" ('#' starts a comment). kInvalidArgument
  // naming the line for a malformed one or a slot given twice.
  static Result<Allowlist> Load(const std::string& path);
  void Add(const PublicKey& key, PeerId slot);
  bool empty() const { return slot_of_.empty(); }
  // Ok when `key` may take `slot`; kAborted naming the key otherwise.
  Status Admit(const PublicKey& key, PeerId slot) const;
  // The allowlist file format (what Load reads).
  std::string ToText() const;

 private:
  std::map<PublicKey, PeerId> slot_of_;
};

}  // namespace murmur::net
