// Shamir sharing, fixed point, masking graphs and the SecAgg / SecAgg+ rounds
// with clients dropping after each phase.
#include "murmur/privacy/secagg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <vector>

namespace murmur::privacy {
namespace {

Secret32 Entropy(uint64_t seed, uint32_t client) {
  Rng rng(seed, PeerId(client), RngPurpose::kTest);
  Secret32 s;
  for (uint8_t& b : s) b = static_cast<uint8_t>(rng.NextU32());
  return s;
}

TEST(Shamir, AnyThresholdSharesReconstructAndFewerDoNot) {
  const Secret32 secret = Entropy(1, 0);
  const std::vector<uint32_t> holders{0, 3, 4, 7, 9};
  Rng rng(2, PeerId(0), RngPurpose::kTest);
  std::vector<uint64_t> coeffs(2 * kShamirChunks);
  for (uint64_t& c : coeffs) c = rng.NextU64();
  const auto shares = ShamirSplit(secret, 3, holders, coeffs);
  EXPECT_EQ(ShamirReconstruct(std::vector{shares[4], shares[1], shares[2]}, 3).value(), secret);
  EXPECT_EQ(ShamirReconstruct(std::vector{shares[0], shares[3], shares[4]}, 3).value(), secret);
  EXPECT_EQ(ShamirReconstruct(std::span(shares).first(2), 3).status().code(),
            StatusCode::kInvalidArgument);
  // Two shares with the threshold misstated give garbage, caught as corrupt
  // or at least not the secret.
  auto wrong = ShamirReconstruct(std::span(shares).first(2), 2);
  EXPECT_TRUE(!wrong.ok() || wrong.value() != secret);
  EXPECT_EQ(ShamirReconstruct(std::vector{shares[0], shares[0], shares[1]}, 3).status().code(),
            StatusCode::kCorrupt);
}

TEST(FixedPoint, RoundTripsWithinHalfAStepAndBoundsTheSum) {
  const FixedPoint fp{.fractional_bits = 16, .max_abs = 8.0};
  for (float x : {0.f, 1.f, -1.f, 0.333f, -7.99f, 8.f}) {
    EXPECT_LE(std::abs(fp.Decode(fp.Encode(x)) - x), std::ldexp(1.0, -17) + 1e-12) << x;
  }
  EXPECT_EQ(fp.Decode(fp.Encode(100.f)), 8.0);  // clamped
  EXPECT_TRUE(fp.Validate(4095).ok());           // 4095 * 8 * 2^16 < 2^31
  EXPECT_EQ(fp.Validate(4096).code(), StatusCode::kInvalidArgument);
}

TEST(MaskingGraph, HararyIsRegularWithLogarithmicDegree) {
  for (uint32_t n : {10u, 100u, 1000u, 4096u}) {
    const uint32_t k = MaskingGraph::LogDegree(n);
    EXPECT_LE(k, 2 * static_cast<uint32_t>(std::ceil(std::log2(n))));
    Rng rng(n, PeerId(0), RngPurpose::kTest);
    const MaskingGraph g = MaskingGraph::Harary(n, k, rng);
    for (uint32_t c = 0; c < n; ++c) {
      ASSERT_EQ(g.neighbours(c).size(), k) << "n=" << n << " client " << c;
      for (uint32_t v : g.neighbours(c)) ASSERT_TRUE(g.linked(v, c));
    }
  }
  EXPECT_EQ(MaskingGraph::LogDegree(1000), 20u);
  EXPECT_EQ(MaskingGraph::LogDegree(5), 4u);
}

// Drives one round. drop[p] lists the clients that vanish before sending
// their phase-p message (0 advertise, 1 shares, 2 masked input, 3 unmask).
struct RoundResult {
  Status status;
  std::vector<double> sum;
  std::set<uint32_t> survivors;
  std::vector<uint32_t> masked_of_client0;
  std::map<uint32_t, Bytes> survivor_messages;  // what the server sent each survivor
};

// Lets a test rewrite the survivor message the server sends a client.
using Tamper = std::function<void(uint32_t client, Bytes& message)>;

RoundResult RunRound(const SecAggConfig& config, const std::vector<std::vector<float>>& inputs,
                     const std::vector<std::set<uint32_t>>& drop, uint64_t seed,
                     const Tamper& tamper = nullptr) {
  const uint32_t n = config.graph.size();
  std::vector<std::unique_ptr<SecAggClient>> clients;
  for (uint32_t c = 0; c < n; ++c) {
    clients.push_back(std::make_unique<SecAggClient>(&config, c, Entropy(seed, c)));
  }
  SecAggServer server(&config);
  std::set<uint32_t> alive;
  for (uint32_t c = 0; c < n; ++c) alive.insert(c);
  RoundResult result;
  // Phase 0.
  for (uint32_t c : drop[0]) alive.erase(c);
  for (uint32_t c : alive) EXPECT_TRUE(server.OnAdvertiseKeys(clients[c]->AdvertiseKeys()).ok());
  auto lists = server.CloseAdvertiseKeys();
  if (!lists.ok()) return {lists.status()};
  // Phase 1.
  for (uint32_t c : drop[1]) alive.erase(c);
  for (uint32_t c : alive) {
    auto msg = clients[c]->ShareKeys(lists->at(c));
    if (!msg.ok()) return {msg.status()};
    EXPECT_TRUE(server.OnShareKeys(*msg).ok());
  }
  auto forwarded = server.CloseShareKeys();
  if (!forwarded.ok()) return {forwarded.status()};
  // Phase 2.
  for (uint32_t c : drop[2]) alive.erase(c);
  for (uint32_t c : alive) {
    auto msg = clients[c]->MaskedInput(forwarded->at(c), inputs[c]);
    if (!msg.ok()) return {msg.status()};
    EXPECT_TRUE(server.OnMaskedInput(*msg).ok());
  }
  auto survivors = server.CloseMaskedInput();
  if (!survivors.ok()) return {survivors.status()};
  if (const auto* y = server.masked_input(0)) result.masked_of_client0 = *y;
  result.survivor_messages = *survivors;
  if (tamper) {
    for (auto& [c, message] : *survivors) tamper(c, message);
  }
  // Phase 3.
  for (uint32_t c : drop[3]) alive.erase(c);
  for (uint32_t c : alive) {
    auto msg = clients[c]->Unmask(survivors->at(c));
    if (!msg.ok()) return {msg.status()};
    EXPECT_TRUE(server.OnUnmask(*msg).ok());
  }
  auto sum = server.Finish();
  if (!sum.ok()) return {sum.status()};
  result.status = Status::Ok();
  result.sum = *sum;
  result.survivors = server.survivors();
  return result;
}

std::vector<std::vector<float>> Inputs(uint32_t n, uint32_t dim, uint64_t seed) {
  Rng rng(seed, PeerId(0), RngPurpose::kTest);
  std::vector<std::vector<float>> inputs(n, std::vector<float>(dim));
  for (auto& v : inputs) {
    for (float& x : v) x = static_cast<float>(4 * rng.Uniform() - 2);
  }
  return inputs;
}

// Sum of the survivors' inputs as fixed point encodes them, so the check is
// exact up to the stated precision.
void ExpectSumOfSurvivors(const SecAggConfig& config, const RoundResult& r,
                          const std::vector<std::vector<float>>& inputs) {
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  for (uint32_t i = 0; i < config.dimension; ++i) {
    double plain = 0;
    for (uint32_t c : r.survivors) plain += inputs[c][i];
    // n values, each within 2^-(bits+1).
    const double tol = r.survivors.size() * std::ldexp(1.0, -config.fixed_point.fractional_bits - 1);
    EXPECT_NEAR(r.sum[i], plain, tol + 1e-9) << "coordinate " << i;
  }
}

SecAggConfig CompleteConfig(uint32_t n, uint32_t t, uint32_t dim) {
  return SecAggConfig{.dimension = dim, .threshold = t,
                      .fixed_point = {.fractional_bits = 16, .max_abs = 8.0},
                      .graph = MaskingGraph::Complete(n)};
}

TEST(SecAgg, UnmaskedSumEqualsPlainSumWithoutDropouts) {
  const SecAggConfig config = CompleteConfig(6, 4, 10);
  ASSERT_TRUE(config.Validate().ok());
  const auto inputs = Inputs(6, 10, 1);
  const RoundResult r = RunRound(config, inputs, {{}, {}, {}, {}}, 1);
  EXPECT_EQ(r.survivors.size(), 6u);
  ExpectSumOfSurvivors(config, r, inputs);
}

TEST(SecAgg, RecoversTheSumWithClientsDroppedAtEachPhase) {
  // n = 8, t = 5: up to 3 clients may drop in total.
  const SecAggConfig config = CompleteConfig(8, 5, 7);
  const auto inputs = Inputs(8, 7, 2);
  for (int p = 0; p < 4; ++p) {
    std::vector<std::set<uint32_t>> drop(4);
    drop[p] = {1, 4, 6};
    const RoundResult r = RunRound(config, inputs, drop, 10 + p);
    ExpectSumOfSurvivors(config, r, inputs);
    // Dropped before the masked input: not in the sum; after: still in it.
    EXPECT_EQ(r.survivors.size(), p <= 2 ? 5u : 8u) << "phase " << p;
  }
  // Spread over the phases.
  const RoundResult r = RunRound(config, inputs, {{0}, {3}, {7}, {}}, 20);
  ExpectSumOfSurvivors(config, r, inputs);
  EXPECT_EQ(r.survivors, (std::set<uint32_t>{1, 2, 4, 5, 6}));
  // A dropout in unmasking does not remove its input from the sum.
  const RoundResult late = RunRound(config, inputs, {{}, {2}, {7}, {1}}, 21);
  ExpectSumOfSurvivors(config, late, inputs);
  EXPECT_EQ(late.survivors, (std::set<uint32_t>{0, 1, 3, 4, 5, 6}));
}

TEST(SecAgg, AbortsCleanlyBeyondTheThreshold) {
  const SecAggConfig config = CompleteConfig(8, 5, 3);
  const auto inputs = Inputs(8, 3, 3);
  for (int p = 0; p < 4; ++p) {
    std::vector<std::set<uint32_t>> drop(4);
    drop[p] = {0, 2, 5, 7};
    const RoundResult r = RunRound(config, inputs, drop, 30 + p);
    EXPECT_EQ(r.status.code(), StatusCode::kAborted) << "phase " << p << ": "
                                                     << r.status.ToString();
  }
}

TEST(SecAggPlus, RecoversTheSumOnALogDegreeHararyGraph) {
  const uint32_t n = 40;
  const uint32_t k = MaskingGraph::LogDegree(n);  // 12
  Rng rng(4, PeerId(0), RngPurpose::kTest);
  const SecAggConfig config{.dimension = 5, .threshold = k / 2 + 1,
                            .fixed_point = {.fractional_bits = 16, .max_abs = 8.0},
                            .graph = MaskingGraph::Harary(n, k, rng)};
  ASSERT_TRUE(config.Validate().ok()) << config.Validate().ToString();
  const auto inputs = Inputs(n, 5, 4);
  const RoundResult none = RunRound(config, inputs, {{}, {}, {}, {}}, 40);
  ExpectSumOfSurvivors(config, none, inputs);
  const RoundResult some = RunRound(config, inputs, {{3}, {9, 17}, {22, 30}, {5, 11}}, 41);
  ExpectSumOfSurvivors(config, some, inputs);
  EXPECT_EQ(some.survivors.size(), n - 5);
}

uint32_t ReadU32At(const Bytes& b, size_t at) {
  return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8 | uint32_t{b[at + 2]} << 16 |
         uint32_t{b[at + 3]} << 24;
}

// SecAgg+'s per-client cost is O(log n) in every message, the survivor
// notice included: each survivor hears only which of its neighbours (and
// itself) survived, 4 + 4 (k + 1) bytes at most, not the n-entry list.
TEST(SecAggPlus, SurvivorNoticeNamesOnlyTheClientsNeighbours) {
  const uint32_t n = 200;
  const uint32_t k = MaskingGraph::LogDegree(n);  // 16
  Rng rng(7, PeerId(0), RngPurpose::kTest);
  const SecAggConfig config{.dimension = 2, .threshold = k / 2 + 1,
                            .fixed_point = {.fractional_bits = 16, .max_abs = 8.0},
                            .graph = MaskingGraph::Harary(n, k, rng)};
  const auto inputs = Inputs(n, 2, 7);
  const std::set<uint32_t> dropped{3, 50, 51, 52, 120};
  const RoundResult r = RunRound(config, inputs, {{}, {}, dropped, {}}, 70);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectSumOfSurvivors(config, r, inputs);
  ASSERT_EQ(r.survivor_messages.size(), n - dropped.size());
  for (const auto& [c, message] : r.survivor_messages) {
    ASSERT_LE(message.size(), 4 + 4 * (k + 1)) << "client " << c;
    std::vector<uint32_t> want{c};
    for (uint32_t v : config.graph.neighbours(c)) {
      if (!dropped.count(v)) want.push_back(v);
    }
    std::sort(want.begin(), want.end());
    ASSERT_EQ(ReadU32At(message, 0), want.size()) << "client " << c;
    ASSERT_EQ(message.size(), 4 + 4 * want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(ReadU32At(message, 4 + 4 * i), want[i]);
  }
}

// A server that names a non-neighbour, repeats a client, leaves the client
// out or announces more entries than its degree allows gets no shares.
TEST(SecAggPlus, ClientRejectsASurvivorNoticeThatLies) {
  const uint32_t n = 40;
  const uint32_t k = MaskingGraph::LogDegree(n);
  Rng rng(8, PeerId(0), RngPurpose::kTest);
  const SecAggConfig config{.dimension = 2, .threshold = k / 2 + 1,
                            .fixed_point = {.fractional_bits = 16, .max_abs = 8.0},
                            .graph = MaskingGraph::Harary(n, k, rng)};
  const auto inputs = Inputs(n, 2, 8);
  uint32_t stranger = 1;
  while (config.graph.linked(0, stranger)) ++stranger;
  auto notice = [](std::vector<uint32_t> ids) {
    Bytes b(4 + 4 * ids.size());
    auto put = [&](size_t at, uint32_t v) {
      for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
    };
    put(0, static_cast<uint32_t>(ids.size()));
    for (size_t i = 0; i < ids.size(); ++i) put(4 + 4 * i, ids[i]);
    return b;
  };
  std::vector<uint32_t> truth{0};
  for (uint32_t v : config.graph.neighbours(0)) truth.push_back(v);
  auto with = [&](std::vector<uint32_t> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  std::vector<uint32_t> stranger_added = truth, repeated = truth, too_many = truth;
  stranger_added.push_back(stranger);
  repeated.push_back(truth.back());
  too_many.push_back(truth.back() + 1);
  too_many.push_back(truth.back() + 2);
  const std::vector<std::tuple<const char*, std::vector<uint32_t>, StatusCode>> lies{
      {"stranger", with(stranger_added), StatusCode::kCorrupt},
      {"repeat", with(repeated), StatusCode::kCorrupt},
      {"self missing", std::vector<uint32_t>(truth.begin() + 1, truth.end()), StatusCode::kAborted},
      {"too many", with(too_many), StatusCode::kCorrupt},
  };
  for (const auto& [what, ids, code] : lies) {
    const Bytes lie = notice(ids);
    const RoundResult r = RunRound(config, inputs, {{}, {}, {}, {}}, 80,
                                   [&](uint32_t c, Bytes& m) { if (c == 0) m = lie; });
    EXPECT_EQ(r.status.code(), code) << what << ": " << r.status.ToString();
  }
  // The honest notice, re-encoded the same way, goes through.
  const RoundResult honest = RunRound(config, inputs, {{}, {}, {}, {}}, 80,
                                      [&](uint32_t c, Bytes& m) { if (c == 0) m = notice(truth); });
  EXPECT_TRUE(honest.status.ok()) << honest.status.ToString();
}

// The server's view of one client's masked vector: over many rounds with
// fresh keys, its 16 top-nibble bins must pass a chi-square test even when
// the client's input is the same constant every round.
TEST(SecAgg, ServersViewOfAClientIsUniform) {
  const SecAggConfig config = CompleteConfig(5, 3, 64);
  std::vector<std::vector<float>> inputs(5, std::vector<float>(64, 1.0f));
  std::vector<int> bins(16, 0);
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    const RoundResult r = RunRound(config, inputs, {{}, {}, {}, {}}, 1000 + round);
    ASSERT_TRUE(r.status.ok());
    ASSERT_EQ(r.masked_of_client0.size(), 64u);
    for (uint32_t v : r.masked_of_client0) ++bins[v >> 28];
  }
  const double expected = kRounds * 64 / 16.0;
  double chi2 = 0;
  for (int b : bins) chi2 += (b - expected) * (b - expected) / expected;
  // 15 degrees of freedom: P(chi2 > 37.70) = 0.001. Deterministic seeds.
  EXPECT_LT(chi2, 37.70);
  // The plain encoding would put every value in one bin.
  EXPECT_EQ(config.fixed_point.Encode(1.0f) >> 28, 0u);
}

TEST(SecAggServer, RejectsBadBytesDuplicatesAndWrongPhase) {
  const SecAggConfig config = CompleteConfig(4, 3, 2);
  SecAggServer server(&config);
  SecAggClient client(&config, 1, Entropy(5, 1));
  const Bytes advert = client.AdvertiseKeys();
  EXPECT_EQ(server.OnAdvertiseKeys(std::span(advert).first(10)).code(), StatusCode::kCorrupt);
  EXPECT_TRUE(server.OnAdvertiseKeys(advert).ok());
  EXPECT_EQ(server.OnAdvertiseKeys(advert).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server.OnMaskedInput(advert).code(), StatusCode::kInvalidArgument);
  Bytes huge{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(server.OnShareKeys(huge).ok());
  EXPECT_EQ(server.CloseAdvertiseKeys().status().code(), StatusCode::kAborted);
}

TEST(SecAggClient, RejectsAKeyListThatLies) {
  const SecAggConfig config = CompleteConfig(4, 3, 2);
  SecAggClient client(&config, 0, Entropy(6, 0));
  (void)client.AdvertiseKeys();
  Bytes list{0xff, 0xff, 0, 0};  // 65535 entries announced, none present
  EXPECT_EQ(client.ShareKeys(list).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(client.ShareKeys(list).status().code(), StatusCode::kInternal);  // out of order
}

}  // namespace
}  // namespace murmur::privacy
