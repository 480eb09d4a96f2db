// Secure aggregation over a small ring composed with RQM (secagg.h's
// SecAggInput::kRing, secure_aggregation.h's SecAggEncoding::kRqm): the
// server unmasks the exact sum of the clients' RQM level indices, maps it
// affinely to the sum of their decoded updates, survives dropouts up to the
// threshold, sees each masked index as uniform over Z_{2^b}, and receives
// ceil(b d / 8) packed bytes per client that it decodes strictly.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "murmur/privacy/rqm.h"
#include "murmur/privacy/secagg.h"
#include "murmur/privacy/secure_aggregation.h"

namespace murmur::privacy {
namespace {

using Indices = std::vector<uint32_t>;

Secret32 Entropy(uint64_t seed, uint32_t client) {
  Rng rng(seed, PeerId(client), RngPurpose::kTest);
  Secret32 s;
  for (uint8_t& b : s) b = static_cast<uint8_t>(rng.NextU32());
  return s;
}

// RQM at 16 levels over [-2, 2], the update clamped to [-1, 1].
const RqmConfig kRqm{.clip = 1.0, .delta = 2.0, .levels = 16, .keep_probability = 0.5};

SecureAggregationConfig RqmSecAgg(SecureAggregationMode mode) {
  return {.mode = mode, .threshold = 0.5, .encoding = SecAggEncoding::kRqm, .rqm = kRqm};
}

// Each client's RQM indices of a random update in [-1.2, 1.2]^dim (some
// coordinates clamped).
std::vector<Indices> RqmInputs(uint32_t n, uint32_t dim, uint64_t seed) {
  Rng rng(seed, PeerId(0), RngPurpose::kTest);
  std::vector<Indices> out;
  for (uint32_t c = 0; c < n; ++c) {
    std::vector<float> update(dim);
    for (float& x : update) x = static_cast<float>(2.4 * rng.Uniform() - 1.2);
    out.push_back(RqmEncodeIndices(kRqm, update, rng));
  }
  return out;
}

// One round whose clients in drop[p] vanish before their phase-p message;
// the server is left after the last unmasking share, for the caller to
// finish.
struct RingRound {
  Status status;
  std::unique_ptr<SecAggServer> server;
  std::map<uint32_t, Bytes> masked;  // what each client sent in phase 2
};

RingRound RunRingRound(const SecAggConfig& config, const std::vector<Indices>& inputs,
                       const std::vector<std::set<uint32_t>>& drop, uint64_t seed) {
  const uint32_t n = config.graph.size();
  std::vector<std::unique_ptr<SecAggClient>> clients;
  for (uint32_t c = 0; c < n; ++c) {
    clients.push_back(std::make_unique<SecAggClient>(&config, c, Entropy(seed, c)));
  }
  RingRound r;
  r.server = std::make_unique<SecAggServer>(&config);
  SecAggServer& server = *r.server;
  std::set<uint32_t> alive;
  for (uint32_t c = 0; c < n; ++c) alive.insert(c);
  for (uint32_t c : drop[0]) alive.erase(c);
  for (uint32_t c : alive) EXPECT_TRUE(server.OnAdvertiseKeys(clients[c]->AdvertiseKeys()).ok());
  auto lists = server.CloseAdvertiseKeys();
  if (!lists.ok()) return {lists.status()};
  for (uint32_t c : drop[1]) alive.erase(c);
  for (uint32_t c : alive) {
    auto msg = clients[c]->ShareKeys(lists->at(c));
    if (!msg.ok()) return {msg.status()};
    EXPECT_TRUE(server.OnShareKeys(*msg).ok());
  }
  auto forwarded = server.CloseShareKeys();
  if (!forwarded.ok()) return {forwarded.status()};
  for (uint32_t c : drop[2]) alive.erase(c);
  for (uint32_t c : alive) {
    auto msg = clients[c]->MaskedRingInput(forwarded->at(c), inputs[c]);
    if (!msg.ok()) return {msg.status()};
    EXPECT_TRUE(server.OnMaskedInput(*msg).ok());
    r.masked[c] = std::move(*msg);
  }
  auto survivors = server.CloseMaskedInput();
  if (!survivors.ok()) return {survivors.status()};
  for (uint32_t c : drop[3]) alive.erase(c);
  for (uint32_t c : alive) {
    auto msg = clients[c]->Unmask(survivors->at(c));
    if (!msg.ok()) return {msg.status()};
    EXPECT_TRUE(server.OnUnmask(*msg).ok());
  }
  r.status = Status::Ok();
  return r;
}

Indices PlainSum(const std::vector<Indices>& inputs, const std::set<uint32_t>& clients) {
  Indices sum(inputs[0].size(), 0);
  for (uint32_t c : clients) {
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += inputs[c][i];
  }
  return sum;
}

TEST(RingBitsForSum, HoldsTheLargestSumAndNoMore) {
  EXPECT_EQ(RingBitsForSum(0), 1);
  EXPECT_EQ(RingBitsForSum(1), 1);
  EXPECT_EQ(RingBitsForSum(2), 2);
  EXPECT_EQ(RingBitsForSum(255), 8);
  EXPECT_EQ(RingBitsForSum(256), 9);
  EXPECT_EQ(RingBitsForSum(100 * 15), 11);  // 1500 < 2048
  EXPECT_EQ(RingBitsForSum(0xffffffffull), 32);
  // A round's config: n clients at m levels mask in Z_{2^bit_width(n (m-1))}.
  const auto config = MakeRoundConfig(RqmSecAgg(SecureAggregationMode::kSecAggPlus), 100, 10, 7);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->input, SecAggInput::kRing);
  EXPECT_EQ(config->ring_bits, 11);
  EXPECT_EQ(MakeRoundConfig(RqmSecAgg(SecureAggregationMode::kSecAgg), 3, 10, 7)->ring_bits, 6);
  const auto fixed = MakeRoundConfig({.mode = SecureAggregationMode::kSecAgg}, 3, 10, 7);
  EXPECT_EQ(fixed->input, SecAggInput::kFixedPoint);
  EXPECT_EQ(fixed->ring_bits, 32);
}

TEST(SecAggConfig, RefusesARingWidthThatDoesNotFitTheInput) {
  SecAggConfig c{.dimension = 4, .threshold = 2, .graph = MaskingGraph::Complete(3)};
  EXPECT_TRUE(c.Validate().ok());
  c.ring_bits = 16;  // fixed point needs Z_{2^32}
  EXPECT_EQ(c.Validate().code(), StatusCode::kInvalidArgument);
  c.input = SecAggInput::kRing;
  EXPECT_TRUE(c.Validate().ok());
  for (int bad : {0, 33}) {
    c.ring_bits = bad;
    EXPECT_EQ(c.Validate().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// Levels -2, -1, 0, 1, 2: indices 0, 3, 4 decode to -2 + 1 + 2 = 1, and
// -3 * 2 + 2 * 2 * 7 / 4 = 1.
TEST(RqmLevelSum, IsTheSumOfTheDecodedLevels) {
  const RqmConfig five{.clip = 1.0, .delta = 2.0, .levels = 5, .keep_probability = 1.0};
  EXPECT_EQ(RqmLevelSum(five, 3, 7), 1.0);
  EXPECT_EQ(RqmLevelSum(five, 2, 0), -4.0);
  EXPECT_EQ(RqmLevelSum(five, 2, 8), 4.0);
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const std::vector<Indices> inputs = RqmInputs(7, 1, seed);
    double decoded = 0;
    uint64_t index_sum = 0;
    for (const Indices& in : inputs) {
      decoded += RqmLevel(kRqm, in[0]);
      index_sum += in[0];
    }
    EXPECT_NEAR(RqmLevelSum(kRqm, 7, index_sum), decoded, 1e-12) << "seed " << seed;
  }
}

// RqmEncode is RqmEncodeIndices packed: the same draws give the same levels.
TEST(RqmEncodeIndices, AreWhatRqmEncodePacks) {
  std::vector<float> x(37);
  Rng values(3, PeerId(0), RngPurpose::kTest);
  for (float& v : x) v = static_cast<float>(2 * values.Uniform() - 1);
  Rng a(9, PeerId(1), RngPurpose::kTest), b(9, PeerId(1), RngPurpose::kTest);
  const Indices indices = RqmEncodeIndices(kRqm, x, a);
  std::vector<float> decoded(x.size());
  ASSERT_TRUE(RqmDecode(kRqm, RqmEncode(kRqm, x, b), decoded).ok());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_LT(indices[i], kRqm.levels);
    EXPECT_EQ(decoded[i], static_cast<float>(RqmLevel(kRqm, indices[i]))) << i;
  }
  EXPECT_EQ(a.NextU64(), b.NextU64());  // both consumed the same draws
}

// Over 20 seeds, SecAgg and SecAgg+: the unmasked index sum is the plain sum
// exactly, and the decoded mean is the mean of the clients' RQM-decoded
// updates to double rounding of the affine map.
TEST(SecAggRing, UnmaskedIndexSumIsThePlainSumExactly) {
  constexpr uint32_t kDim = 33;
  for (auto mode : {SecureAggregationMode::kSecAgg, SecureAggregationMode::kSecAggPlus}) {
    const uint32_t n = mode == SecureAggregationMode::kSecAgg ? 6 : 20;
    const SecureAggregationConfig secagg = RqmSecAgg(mode);
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      const SecAggConfig config = MakeRoundConfig(secagg, n, kDim, seed).value();
      const std::vector<Indices> inputs = RqmInputs(n, kDim, seed);
      RingRound r = RunRingRound(config, inputs, {{}, {}, {}, {}}, seed);
      ASSERT_TRUE(r.status.ok()) << r.status.ToString();
      std::set<uint32_t> all;
      for (uint32_t c = 0; c < n; ++c) all.insert(c);
      const Result<std::vector<double>> sum = FinishRoundSum(secagg, *r.server);
      ASSERT_TRUE(sum.ok()) << sum.status().ToString();
      const Indices plain = PlainSum(inputs, all);
      for (size_t i = 0; i < kDim; ++i) {
        double decoded = 0;
        for (uint32_t c = 0; c < n; ++c) decoded += RqmLevel(kRqm, inputs[c][i]);
        ASSERT_EQ((*sum)[i], RqmLevelSum(kRqm, n, plain[i])) << "seed " << seed << " i " << i;
        ASSERT_NEAR((*sum)[i] / n, decoded / n, 1e-12) << "seed " << seed << " i " << i;
      }
    }
  }
  // The largest sum, every client at the top level: n (m - 1) = 6 * 15 =
  // 90 < 2^7, so it does not wrap.
  const SecAggConfig config = MakeRoundConfig(RqmSecAgg(SecureAggregationMode::kSecAgg), 6, 4, 1).value();
  ASSERT_EQ(config.ring_bits, 7);
  RingRound r = RunRingRound(config, std::vector<Indices>(6, Indices(4, 15)), {{}, {}, {}, {}}, 1);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.server->FinishRing().value(), Indices(4, 90));
}

// Finish decodes fixed point, which a ring round's sum is not: calling it
// there is the caller's mistake, refused with kInvalidArgument before
// anything is unmasked, so the round is not spent: FinishRing afterwards
// still returns the exact sum, and only then is the round over (both refuse
// a second call). FinishRoundSum picks the right one from the encoding.
TEST(SecAggRing, FinishOnARingRoundIsRefusedWithoutSpendingTheRound) {
  const SecureAggregationConfig secagg = RqmSecAgg(SecureAggregationMode::kSecAgg);
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const SecAggConfig config = MakeRoundConfig(secagg, 6, 9, seed).value();
    ASSERT_EQ(config.input, SecAggInput::kRing);
    const std::vector<Indices> inputs = RqmInputs(6, 9, seed);
    RingRound r = RunRingRound(config, inputs, {{}, {}, {}, {}}, seed);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.server->Finish().status().code(), StatusCode::kInvalidArgument) << seed;
    EXPECT_EQ(r.server->FinishRing().value(), PlainSum(inputs, {0, 1, 2, 3, 4, 5})) << seed;
    EXPECT_EQ(r.server->FinishRing().status().code(), StatusCode::kInvalidArgument) << seed;
    EXPECT_EQ(r.server->Finish().status().code(), StatusCode::kInvalidArgument) << seed;
    // The protocol's path: the same round through FinishRoundSum decodes
    // the index sum to the sum of the clients' levels.
    RingRound again = RunRingRound(config, inputs, {{}, {}, {}, {}}, seed);
    ASSERT_TRUE(again.status.ok());
    const Result<std::vector<double>> sum = FinishRoundSum(secagg, *again.server);
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    const Indices plain = PlainSum(inputs, {0, 1, 2, 3, 4, 5});
    for (size_t i = 0; i < plain.size(); ++i) {
      EXPECT_EQ((*sum)[i], RqmLevelSum(secagg.rqm, 6, plain[i])) << seed << " " << i;
    }
  }
}

// t = ceil(0.5 * 8) = 4 of 8 share holders. One client drops before each
// phase's message (0 .. 3; client 3's masked input is in the sum): the
// server still recovers the exact index sum of clients 3..7. Five dropped
// at the masked input leave 3 < t: aborted, no sum.
TEST(SecAggRing, RecoversTheExactSumWithDropoutsUpToTheThreshold) {
  const SecureAggregationConfig secagg = RqmSecAgg(SecureAggregationMode::kSecAgg);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const SecAggConfig config = MakeRoundConfig(secagg, 8, 17, seed).value();
    ASSERT_EQ(config.threshold, 4u);
    const std::vector<Indices> inputs = RqmInputs(8, 17, seed);
    RingRound r = RunRingRound(config, inputs, {{0}, {1}, {2}, {3}}, seed);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.server->survivors(), (std::set<uint32_t>{3, 4, 5, 6, 7}));
    EXPECT_EQ(r.server->FinishRing().value(), PlainSum(inputs, {3, 4, 5, 6, 7})) << seed;
    RingRound beyond = RunRingRound(config, inputs, {{}, {}, {0, 1, 2, 3, 4}, {}}, seed);
    EXPECT_EQ(beyond.status.code(), StatusCode::kAborted) << seed;
  }
}

// 100 clients, SecAgg+, 16 levels: b = 11, so a masked vector of 1000
// indices is 8 + ceil(11 * 1000 / 8) = 1383 bytes, against 8 + 4 * 1000 =
// 4008 in fixed point.
TEST(SecAggRing, MaskedInputIsPackedAtTheRingWidth) {
  constexpr uint32_t kDim = 1000;
  const SecAggConfig config =
      MakeRoundConfig(RqmSecAgg(SecureAggregationMode::kSecAggPlus), 100, kDim, 3).value();
  ASSERT_EQ(config.ring_bits, 11);
  EXPECT_EQ(MaskedInputBytes(config), 1383u);
  const SecAggConfig fixed =
      MakeRoundConfig({.mode = SecureAggregationMode::kSecAggPlus}, 100, kDim, 3).value();
  EXPECT_EQ(MaskedInputBytes(fixed), 4008u);
  const std::vector<Indices> inputs = RqmInputs(100, kDim, 3);
  RingRound r = RunRingRound(config, inputs, {{}, {}, {}, {}}, 3);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.masked.size(), 100u);
  for (const auto& [c, message] : r.masked) ASSERT_EQ(message.size(), 1383u) << c;
  std::set<uint32_t> all;
  for (uint32_t c = 0; c < 100; ++c) all.insert(c);
  EXPECT_EQ(r.server->FinishRing().value(), PlainSum(inputs, all));
}

// The server's view of one client whose indices are the same constant
// every round: over 200 rounds with fresh keys, its masked values must fill
// all 2^6 elements of the ring evenly (3 clients at 16 levels: b = 6).
TEST(SecAggRing, ServersViewOfAClientIsUniformOverTheRing) {
  const SecAggConfig config =
      MakeRoundConfig(RqmSecAgg(SecureAggregationMode::kSecAgg), 3, 64, 1).value();
  ASSERT_EQ(config.ring_bits, 6);
  const std::vector<Indices> inputs(3, Indices(64, 7));
  std::vector<int> bins(64, 0);
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    RingRound r = RunRingRound(config, inputs, {{}, {}, {}, {}}, 5000 + round);
    ASSERT_TRUE(r.status.ok());
    const std::vector<uint32_t>* y = r.server->masked_input(0);
    ASSERT_NE(y, nullptr);
    for (uint32_t v : *y) {
      ASSERT_LT(v, 64u);
      ++bins[v];
    }
  }
  const double expected = kRounds * 64 / 64.0;
  double chi2 = 0;
  for (int b : bins) chi2 += (b - expected) * (b - expected) / expected;
  RecordProperty("chi2", std::to_string(chi2));
  // 63 degrees of freedom: P(chi2 > 103.44) = 0.001. Deterministic seeds.
  // Unmasked, every value would be 7: chi2 = 63 * 12800 = 806400.
  EXPECT_LT(chi2, 103.44);
}

// A peer's packed masked input is checked, never trusted: b = 7, d = 33 is
// 231 bits in 29 bytes with 1 padding bit (the last byte's top bit).
TEST(SecAggServer, RejectsAMalformedPackedMaskedInput) {
  const SecAggConfig config =
      MakeRoundConfig(RqmSecAgg(SecureAggregationMode::kSecAgg), 6, 33, 1).value();
  ASSERT_EQ(config.ring_bits, 7);
  ASSERT_EQ(MaskedInputBytes(config), 8u + 29u);
  const std::vector<Indices> inputs = RqmInputs(6, 33, 1);
  std::vector<std::unique_ptr<SecAggClient>> clients;
  for (uint32_t c = 0; c < 6; ++c) {
    clients.push_back(std::make_unique<SecAggClient>(&config, c, Entropy(1, c)));
  }
  SecAggServer server(&config);
  for (auto& c : clients) ASSERT_TRUE(server.OnAdvertiseKeys(c->AdvertiseKeys()).ok());
  auto lists = server.CloseAdvertiseKeys().value();
  for (uint32_t c = 0; c < 6; ++c) {
    ASSERT_TRUE(server.OnShareKeys(clients[c]->ShareKeys(lists.at(c)).value()).ok());
  }
  auto forwarded = server.CloseShareKeys().value();
  // A client refuses an input outside the ring, and may then send a good one.
  Indices outside = inputs[0];
  outside[5] = 128;
  EXPECT_EQ(clients[0]->MaskedRingInput(forwarded.at(0), outside).status().code(),
            StatusCode::kInvalidArgument);
  const Bytes honest = clients[0]->MaskedRingInput(forwarded.at(0), inputs[0]).value();
  ASSERT_EQ(honest.size(), 37u);
  auto corrupt = [&](const Bytes& message) {
    return server.OnMaskedInput(message).code() == StatusCode::kCorrupt;
  };
  EXPECT_TRUE(corrupt(Bytes(honest.begin(), honest.end() - 1)));  // a byte short
  Bytes longer = honest;
  longer.push_back(0);
  EXPECT_TRUE(corrupt(longer));  // a byte over
  Bytes padded = honest;
  padded.back() |= 0x80;  // a padding bit set
  EXPECT_TRUE(corrupt(padded));
  Bytes wider = honest;
  wider[4] = 34;  // claims one more value in the same bytes
  EXPECT_TRUE(corrupt(wider));
  Bytes huge = honest;
  huge.resize(8);
  huge[4] = huge[5] = huge[6] = huge[7] = 0xff;  // 2^32 - 1 values, no bytes
  EXPECT_TRUE(corrupt(huge));
  Bytes fixed_point_sized = honest;
  fixed_point_sized.resize(8 + 4 * 33);  // the 32-bit form of the same vector
  EXPECT_TRUE(corrupt(fixed_point_sized));
  // The honest message is still accepted after all that, once.
  EXPECT_TRUE(server.OnMaskedInput(honest).ok());
  EXPECT_EQ(server.OnMaskedInput(honest).code(), StatusCode::kInvalidArgument);
  // A ring round ends in FinishRing; Finish's fixed-point decode is refused.
  for (uint32_t c = 1; c < 6; ++c) {
    ASSERT_TRUE(
        server.OnMaskedInput(clients[c]->MaskedRingInput(forwarded.at(c), inputs[c]).value()).ok());
  }
  ASSERT_TRUE(server.CloseMaskedInput().ok());
  EXPECT_EQ(server.Finish().status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace murmur::privacy
