// Properties every rule (and some chains) must have, over many seeds:
// permutation invariance, bounded output when f inputs are arbitrary,
// non-finite inputs never reaching the output, thread-count independence.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>

#include "murmur/robust/factory.h"
#include "unit/robust/test_util.h"

namespace murmur {
namespace {

using robust_test::Vectors;

enum class Bound {
  kNone,            // mean: one input moves it anywhere
  kCoordinatewise,  // every output coordinate within the honest range
  kNearHonest,      // within a small distance of the honest inputs
  kNormAtMostN,     // the Flag Aggregator's ||out|| <= n/m
};

struct RuleCase {
  std::string label;
  AggregatorConfig config;
  Bound bound = Bound::kNearHonest;
  bool permutation_invariant = true;
  bool needs_rng = false;
  // Only identical (Sybil) Byzantine copies are bounded.
  bool sybil_only = false;
};

std::vector<RuleCase> Cases() {
  auto rule = [](std::string name, int f, std::map<std::string, double> opts = {}) {
    return AggregatorConfig{.rule = std::move(name), .f = f, .options = std::move(opts),
                            .pre = {}};
  };
  std::vector<RuleCase> cases = {
      {"mean", rule("mean", 0), Bound::kNone},
      {"median", rule("median", 3), Bound::kCoordinatewise},
      {"trimmed_mean", rule("trimmed-mean", 3), Bound::kCoordinatewise},
      {"meamed", rule("meamed", 3), Bound::kCoordinatewise},
      {"krum", rule("krum", 3)},
      {"multi_krum", rule("multi-krum", 3)},
      {"geometric_median", rule("geometric-median", 3)},
      {"bulyan", rule("bulyan", 2), Bound::kCoordinatewise},
      {"centered_clipping", rule("centered-clipping", 3, {{"tau", 1.0}, {"iterations", 3}})},
      {"flag", rule("flag", 0, {{"subspace_dim", 2}}), Bound::kNormAtMostN},
      {"monna", rule("monna", 3)},
      // f = 3 Sybils (the rule itself ignores f).
      {"similarity", rule("similarity-downweighting", 3), Bound::kNearHonest, true, false,
       true},
  };
  AggregatorConfig arc_tm = rule("trimmed-mean", 3);
  arc_tm.pre = {{"arc", {}}};
  cases.push_back({"arc_trimmed_mean", arc_tm, Bound::kCoordinatewise});
  AggregatorConfig nnm_krum = rule("krum", 2);
  nnm_krum.pre = {{"nnm", {}}};
  cases.push_back({"nnm_krum", nnm_krum});
  AggregatorConfig clip_median = rule("median", 3);
  clip_median.pre = {{"clip", {{"tau", 5.0}}}};
  cases.push_back({"clip_median", clip_median});
  AggregatorConfig bucket_median = rule("median", 2);
  bucket_median.pre = {{"bucketing", {{"s", 2}}}};
  cases.push_back(
      {"bucketing_median", bucket_median, Bound::kCoordinatewise, false, true});
  return cases;
}

constexpr size_t kN = 11;
constexpr size_t kDim = 37;

class RuleProperties : public ::testing::TestWithParam<RuleCase> {
 protected:
  std::unique_ptr<Aggregator> Make(int f, ThreadPool* pool = nullptr) const {
    AggregatorConfig config = GetParam().config;
    config.f = f;
    auto made = MakeAggregator(config, pool);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return std::move(made).value();
  }

  // Runs with the first honest input as reference (for MoNNA and centered
  // clipping; the other rules ignore it) and a fixed Rng.
  Status RunRule(const Aggregator& rule, const Vectors& in, std::span<const float> reference,
             std::vector<float>& out, uint64_t rng_seed = 5) const {
    Rng rng(rng_seed, PeerId(0), RngPurpose::kTest);
    out.assign(kDim, -1.0f);
    return rule.Aggregate(
        {.vectors = in.list(), .reference = reference, .rng = &rng}, out);
  }
};

TEST_P(RuleProperties, IsPermutationInvariant) {
  if (!GetParam().permutation_invariant) GTEST_SKIP() << "randomized by design";
  const int f = GetParam().config.f;
  auto rule = Make(f);
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Rng rng(seed, PeerId(1), RngPurpose::kTest);
    Vectors in = robust_test::GaussianVectors(rng, kN, kDim, 1.0f, 1.0f);
    const std::vector<float> reference = in.data[0];
    std::vector<float> base;
    ASSERT_TRUE(RunRule(*rule, in, reference, base).ok());
    std::vector<size_t> perm(kN);
    std::iota(perm.begin(), perm.end(), size_t{0});
    rng.Shuffle(std::span<size_t>(perm));
    Vectors shuffled;
    for (size_t i : perm) shuffled.data.push_back(in.data[i]);
    shuffled.Refresh();
    std::vector<float> out;
    ASSERT_TRUE(RunRule(*rule, shuffled, reference, out).ok());
    for (size_t k = 0; k < kDim; ++k) {
      ASSERT_NEAR(out[k], base[k], 1e-5 * (1 + std::fabs(base[k])))
          << "seed " << seed << " coordinate " << k;
    }
  }
}

// Byzantine inputs of three kinds, replacing the last f of kN inputs.
enum class Attack { kIdenticalHuge, kRandomHuge, kFloatMax };

Vectors WithByzantine(const Vectors& honest, int f, Attack attack, Rng& rng) {
  Vectors all = honest;
  for (int b = 0; b < f; ++b) {
    std::vector<float> v(kDim);
    for (size_t k = 0; k < kDim; ++k) {
      switch (attack) {
        case Attack::kIdenticalHuge:
          v[k] = 1e30f;
          break;
        case Attack::kRandomHuge:
          v[k] = static_cast<float>(rng.Normal()) * 1e30f;
          break;
        case Attack::kFloatMax:
          v[k] = (k + b) % 2 ? FLT_MAX : -FLT_MAX;
          break;
      }
    }
    all.data.push_back(v);
  }
  all.Refresh();
  return all;
}

TEST_P(RuleProperties, StaysBoundedWhenFInputsAreArbitrary) {
  const RuleCase& c = GetParam();
  // Rules without an f bound face one Byzantine input.
  const int f = std::max(1, c.config.f);
  auto rule = Make(c.config.f);
  for (Attack attack : {Attack::kIdenticalHuge, Attack::kRandomHuge, Attack::kFloatMax}) {
    if (c.sybil_only && attack != Attack::kIdenticalHuge) continue;
    for (uint64_t seed = 1; seed <= 10; ++seed) {
      Rng rng(seed, PeerId(2), RngPurpose::kTest);
      Vectors honest =
          robust_test::GaussianVectors(rng, kN - static_cast<size_t>(f), kDim, 1.0f, 0.1f);
      Vectors all = WithByzantine(honest, f, attack, rng);
      std::vector<float> out;
      ASSERT_TRUE(RunRule(*rule, all, honest.data[0], out).ok());
      for (float v : out) ASSERT_TRUE(std::isfinite(v)) << "seed " << seed;
      double out_norm = 0;
      for (float v : out) out_norm += static_cast<double>(v) * v;
      for (size_t k = 0; k < kDim; ++k) {
        float lo = honest.data[0][k], hi = lo;
        for (const auto& h : honest.data) {
          lo = std::min(lo, h[k]);
          hi = std::max(hi, h[k]);
        }
        switch (c.bound) {
          case Bound::kNone:
          case Bound::kNormAtMostN:
            break;
          case Bound::kCoordinatewise:
            ASSERT_GE(out[k], lo) << "seed " << seed << " coordinate " << k;
            ASSERT_LE(out[k], hi) << "seed " << seed << " coordinate " << k;
            break;
          case Bound::kNearHonest:
            ASSERT_GE(out[k], lo - 1.0f) << "seed " << seed << " coordinate " << k;
            ASSERT_LE(out[k], hi + 1.0f) << "seed " << seed << " coordinate " << k;
            break;
        }
      }
      if (c.bound == Bound::kNormAtMostN) {
        const double m = c.config.options.at("subspace_dim");
        ASSERT_LE(std::sqrt(out_norm), static_cast<double>(kN) / m * (1 + 1e-6));
      }
    }
  }
}

TEST_P(RuleProperties, DropsNonFiniteInputsAsByzantine) {
  const RuleCase& c = GetParam();
  const int f = c.config.f;
  // Up to f inputs poisoned (at least one), each with one NaN, +Inf or -Inf.
  const int poisoned = std::max(1, std::min(f, 3));
  auto rule = Make(f);
  auto reduced = Make(std::max(0, f - poisoned));
  const float bad_values[] = {NAN, INFINITY, -INFINITY};
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Rng rng(seed, PeerId(3), RngPurpose::kTest);
    Vectors honest = robust_test::GaussianVectors(
        rng, kN - static_cast<size_t>(poisoned), kDim, 1.0f, 0.5f);
    Vectors all;
    size_t next_honest = 0;
    for (size_t i = 0; i < kN; ++i) {
      const bool bad = i % 3 == 1 && static_cast<int>(i / 3) < poisoned;
      if (bad) {
        std::vector<float> v = honest.data[0];
        v[(i * 7) % kDim] = bad_values[i / 3];
        all.data.push_back(v);
      } else {
        all.data.push_back(honest.data[next_honest++]);
      }
    }
    all.Refresh();
    std::vector<float> out, expected;
    ASSERT_TRUE(RunRule(*rule, all, honest.data[0], out).ok()) << "seed " << seed;
    ASSERT_TRUE(RunRule(*reduced, honest, honest.data[0], expected).ok());
    for (float v : out) ASSERT_TRUE(std::isfinite(v));
    ASSERT_EQ(0, std::memcmp(out.data(), expected.data(), kDim * sizeof(float)))
        << "seed " << seed;
  }
}

TEST_P(RuleProperties, RejectsInputsThatAreAllNonFinite) {
  auto rule = Make(GetParam().config.f);
  Vectors all;
  for (size_t i = 0; i < kN; ++i) all.data.push_back(std::vector<float>(kDim, NAN));
  all.Refresh();
  const std::vector<float> reference(kDim, 0.0f);
  std::vector<float> out;
  Status s = RunRule(*rule, all, reference, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("NaN or Inf"));
  EXPECT_THAT(s.message(), ::testing::HasSubstr("n=11"));
}

TEST_P(RuleProperties, ThreadCountDoesNotChangeTheResult) {
  const int f = GetParam().config.f;
  ThreadPool pool(3);
  auto single = Make(f);
  auto multi = Make(f, &pool);
  // Several coordinate chunks, and a dimension that is not a multiple of
  // any block size.
  const size_t dim = 3 * 16384 + 77;
  Rng rng(9, PeerId(4), RngPurpose::kTest);
  Vectors in = robust_test::GaussianVectors(rng, kN, dim, 0.5f, 1.0f);
  std::vector<float> a(dim), b(dim);
  Rng rng_a(1, PeerId(0), RngPurpose::kTest), rng_b(1, PeerId(0), RngPurpose::kTest);
  ASSERT_TRUE(
      single->Aggregate({.vectors = in.list(), .reference = in.data[0], .rng = &rng_a}, a)
          .ok());
  ASSERT_TRUE(
      multi->Aggregate({.vectors = in.list(), .reference = in.data[0], .rng = &rng_b}, b)
          .ok());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), dim * sizeof(float)));
}

INSTANTIATE_TEST_SUITE_P(AllRules, RuleProperties, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.label; });

TEST(Mean, IsMovedArbitrarilyByOneByzantineInput) {
  // The baseline the robust rules are measured against.
  Vectors in{{1}, {1}, {1}, {1e30f}};
  std::vector<float> out(1);
  ASSERT_TRUE(MakeAggregator({.rule = "mean"}).value()->Aggregate(in.list(), out).ok());
  EXPECT_GT(out[0], 1e29f);
}

struct PreconditionCase {
  std::string rule;
  size_t n;
  int f;
  std::vector<PreAggregatorConfig> pre;
};

TEST(Preconditions, NameTheRuleNAndF) {
  const PreconditionCase cases[] = {
      {"trimmed-mean", 4, 2, {}},     {"meamed", 2, 1, {}},
      {"krum", 4, 1, {}},             {"multi-krum", 6, 2, {}},
      {"bulyan", 6, 1, {}},           {"geometric-median", 6, 3, {}},
      {"centered-clipping", 2, 1, {}}, {"monna", 4, 2, {}},
      {"median", 4, 2, {}},            {"median", 2, 1, {{"nnm", {}}}},
      {"median", 4, 2, {{"arc", {}}}},
  };
  for (const auto& c : cases) {
    auto rule = MakeAggregator({.rule = c.rule, .f = c.f, .options = {}, .pre = c.pre});
    ASSERT_TRUE(rule.ok()) << rule.status().ToString();
    Vectors in;
    for (size_t i = 0; i < c.n; ++i) in.data.push_back({static_cast<float>(i), 1.0f});
    in.Refresh();
    const float reference[] = {0, 0};
    std::vector<float> out(2);
    Status s = rule.value()->Aggregate({.vectors = in.list(), .reference = reference}, out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.rule;
    const std::string stage = c.pre.empty() ? c.rule : c.pre[0].name;
    EXPECT_THAT(s.message(), ::testing::HasSubstr(stage + ": n=" + std::to_string(c.n) +
                                                  " f=" + std::to_string(c.f)));
  }
}

TEST(Preconditions, RejectInputsOfTheWrongSize) {
  auto rule = MakeAggregator({.rule = "median"}).value();
  Vectors in{{1, 2}, {1, 2, 3}};
  std::vector<float> out(2);
  Status s = rule->Aggregate(in.list(), out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("input 1 has 3 elements, expected 2"));
}

TEST(Preconditions, RejectWeightsForRulesWithoutThem) {
  auto rule = MakeAggregator({.rule = "krum", .f = 0}).value();
  Vectors in{{1}, {2}, {3}};
  const double w[] = {1, 1, 1};
  std::vector<float> out(1);
  Status s = rule->Aggregate({.vectors = in.list(), .weights = w}, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("weights"));
}

}  // namespace
}  // namespace murmur
