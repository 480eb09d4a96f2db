// Fuzz target: the SecAgg / SecAgg+ round messages (privacy/secagg.h), the
// bytes inside the 0x61 / 0x62 frames that secagg_message_fuzz.cc bounds.
// A client runs three decoders on server bytes (key list, forwarded shares,
// survivor notice) and the server four on client bytes. Each input picks one
// (byte 0) and replaces that one message of an otherwise honest round on a
// SecAgg+ graph of 8 clients (degree 4, threshold 3). Must never crash; an
// accepted client reply stays within the degree's bound, and the server's
// Finish after a fuzzed message still either aborts or returns the sum.
// Two more inputs run the masked-input phase of a ring round (integer
// inputs in Z_{2^6}, bit-packed as RQM's level indices travel: secagg.h's
// SecAggInput::kRing): the client's forwarded shares and the server's
// packed masked input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/privacy/secagg.h"
#include "privacy/secagg_internal.h"

namespace {

using murmur::privacy::Bytes;
using murmur::privacy::SecAggClient;
using murmur::privacy::SecAggConfig;
using murmur::privacy::SecAggServer;

constexpr uint32_t kClients = 8;
constexpr uint32_t kDegree = 4;
constexpr uint32_t kDim = 3;

SecAggConfig MakeConfig(bool ring) {
  murmur::Rng rng(5, murmur::PeerId(0), murmur::RngPurpose::kTest);
  return SecAggConfig{.dimension = kDim, .threshold = 3,
                      .fixed_point = {.fractional_bits = 16, .max_abs = 8.0},
                      .input = ring ? murmur::privacy::SecAggInput::kRing
                                    : murmur::privacy::SecAggInput::kFixedPoint,
                      .ring_bits = ring ? 6 : 32,
                      .graph = murmur::privacy::MaskingGraph::Harary(kClients, kDegree, rng)};
}

const SecAggConfig& Config(bool ring = false) {
  static const SecAggConfig fixed = MakeConfig(false);
  static const SecAggConfig ringed = MakeConfig(true);
  return ring ? ringed : fixed;
}

murmur::privacy::Secret32 Entropy(uint32_t client) {
  murmur::privacy::Secret32 s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(31 * client + i);
  return s;
}

const std::vector<float>& Input() {
  static const std::vector<float> input{0.5f, -1.f, 2.f};
  return input;
}

// Level indices as 4-level RQM would send: 8 clients sum to at most 24 < 2^6.
const std::vector<uint32_t>& RingInput() {
  static const std::vector<uint32_t> input{0, 2, 3};
  return input;
}

std::unique_ptr<SecAggClient> NewClient(uint32_t id, bool ring = false) {
  return std::make_unique<SecAggClient>(&Config(ring), id, Entropy(id));
}

murmur::Result<Bytes> Masked(SecAggClient& client, std::span<const uint8_t> forwarded,
                             bool ring) {
  return ring ? client.MaskedRingInput(forwarded, RingInput())
              : client.MaskedInput(forwarded, Input());
}

// The messages of one honest round, client -> server (up) and server ->
// client (down), by phase and client.
struct Honest {
  std::map<uint32_t, Bytes> up[4], down[3];
};

Honest MakeHonestRound(bool ring) {
    Honest h;
    std::vector<std::unique_ptr<SecAggClient>> clients;
    for (uint32_t c = 0; c < kClients; ++c) clients.push_back(NewClient(c, ring));
    SecAggServer server(&Config(ring));
    for (uint32_t c = 0; c < kClients; ++c) {
      h.up[0][c] = clients[c]->AdvertiseKeys();
      (void)server.OnAdvertiseKeys(h.up[0][c]);
    }
    h.down[0] = server.CloseAdvertiseKeys().value();
    for (uint32_t c = 0; c < kClients; ++c) {
      h.up[1][c] = clients[c]->ShareKeys(h.down[0][c]).value();
      (void)server.OnShareKeys(h.up[1][c]);
    }
    h.down[1] = server.CloseShareKeys().value();
    for (uint32_t c = 0; c < kClients; ++c) {
      h.up[2][c] = Masked(*clients[c], h.down[1][c], ring).value();
      (void)server.OnMaskedInput(h.up[2][c]);
    }
    h.down[2] = server.CloseMaskedInput().value();
    for (uint32_t c = 0; c < kClients; ++c) h.up[3][c] = clients[c]->Unmask(h.down[2][c]).value();
    return h;
}

const Honest& HonestRound(bool ring = false) {
  static const Honest fixed = MakeHonestRound(false);
  static const Honest ringed = MakeHonestRound(true);
  return ring ? ringed : fixed;
}

// Client 0 receives `bytes` as its phase-`phase` server message (0 key
// list, 1 forwarded shares, 2 survivor notice), the earlier ones honest.
void FuzzClient(int phase, std::span<const uint8_t> bytes, bool ring = false) {
  const Honest& h = HonestRound(ring);
  auto client = NewClient(0, ring);
  (void)client->AdvertiseKeys();
  const size_t k = Config().graph.neighbours(0).size();
  auto down = [&](int p) { return p == phase ? bytes : std::span<const uint8_t>(h.down[p].at(0)); };
  auto shares = client->ShareKeys(down(0));
  if (!shares.ok()) return;
  if (shares->size() > 8 + k * (4 + murmur::privacy::secagg::kBoxBytes)) std::abort();
  if (phase == 0) return;
  auto masked = Masked(*client, down(1), ring);
  if (!masked.ok()) return;
  if (masked->size() != murmur::privacy::MaskedInputBytes(Config(ring))) std::abort();
  if (!ring && masked->size() != 8 + 4 * size_t{kDim}) std::abort();
  if (phase == 1) return;
  auto unmask = client->Unmask(down(2));
  if (!unmask.ok()) return;
  if (unmask->size() > 8 + (k + 1) * (5 + murmur::privacy::secagg::kShareBytes)) std::abort();
}

// The server receives `bytes` in place of client 0's phase-`phase` message
// (0 keys, 1 shares, 2 masked input, 3 unmasking shares), then the rest of
// the honest round, and finishes it.
void FuzzServer(int phase, std::span<const uint8_t> bytes, bool ring = false) {
  const Honest& h = HonestRound(ring);
  SecAggServer server(&Config(ring));
  for (int p = 0; p < 4; ++p) {
    for (const auto& [c, message] : h.up[p]) {
      (void)(p == 0   ? server.OnAdvertiseKeys(c == 0 && p == phase ? bytes : message)
             : p == 1 ? server.OnShareKeys(c == 0 && p == phase ? bytes : message)
             : p == 2 ? server.OnMaskedInput(c == 0 && p == phase ? bytes : message)
                      : server.OnUnmask(c == 0 && p == phase ? bytes : message));
    }
    if (p == 3) break;
    auto closed = p == 0 ? server.CloseAdvertiseKeys()
                         : (p == 1 ? server.CloseShareKeys() : server.CloseMaskedInput());
    if (!closed.ok()) return;
  }
  if (ring) {
    auto sum = server.FinishRing();
    if (!sum.ok()) return;
    if (sum->size() != kDim) std::abort();
    for (uint32_t v : *sum) {
      if (v >= 64) std::abort();  // the sum stays in Z_{2^6}
    }
    for (uint32_t c : server.survivors()) {
      for (uint32_t v : *server.masked_input(c)) {
        if (v >= 64) std::abort();
      }
    }
    return;
  }
  auto sum = server.Finish();
  if (sum.ok() && sum->size() != kDim) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int which = data[0] % 9;
  const std::span<const uint8_t> bytes(data + 1, size - 1);
  if (which < 3) {
    FuzzClient(which, bytes);
  } else if (which < 7) {
    FuzzServer(which - 3, bytes);
  } else if (which == 7) {
    FuzzClient(1, bytes, /*ring=*/true);
  } else {
    FuzzServer(2, bytes, /*ring=*/true);
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  const Honest& h = HonestRound();
  std::vector<Seed> seeds;
  auto add = [&](uint8_t which, const Bytes& message) {
    Seed seed{which};
    seed.insert(seed.end(), message.begin(), message.end());
    seeds.push_back(std::move(seed));
  };
  for (uint8_t p = 0; p < 3; ++p) add(p, h.down[p].at(0));
  for (uint8_t p = 0; p < 4; ++p) add(static_cast<uint8_t>(3 + p), h.up[p].at(0));
  add(7, HonestRound(true).down[1].at(0));
  add(8, HonestRound(true).up[2].at(0));
  return seeds;
}
