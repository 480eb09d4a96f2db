// Pure parts of MoDeST, Epidemic Learning and variance-corrected averaging.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "murmur/learn/model.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/model_merge.h"
#include "murmur/protocol/modest.h"

namespace murmur {
namespace {

std::vector<PeerId> Peers(uint32_t n) {
  std::vector<PeerId> out;
  for (uint32_t i = 0; i < n; ++i) out.push_back(PeerId(i));
  return out;
}

TEST(ModestCandidates, PeersWithTheSameViewDrawTheSameSample) {
  const std::vector<PeerId> view = Peers(50);
  for (int64_t round = 1; round <= 20; ++round) {
    // Two peers compute the order independently (same inputs, own calls),
    // from the view listed in another order.
    std::vector<PeerId> shuffled = view;
    std::reverse(shuffled.begin(), shuffled.end());
    const auto a = ModestCandidates(7, round, ModestRole::kTrainer, view);
    const auto b = ModestCandidates(7, round, ModestRole::kTrainer, shuffled);
    EXPECT_EQ(a, b) << "round " << round;
    ASSERT_EQ(a.size(), view.size());
    EXPECT_EQ(std::set<PeerId>(a.begin(), a.end()).size(), view.size());
  }
}

TEST(ModestCandidates, SamplesChangeWithRoundRoleAndSeedAndSkipDeparted) {
  const std::vector<PeerId> view = Peers(50);
  auto first = [](std::vector<PeerId> order, size_t k) {
    order.resize(k);
    return std::set<PeerId>(order.begin(), order.end());
  };
  const auto base = first(ModestCandidates(7, 3, ModestRole::kTrainer, view), 10);
  EXPECT_NE(base, first(ModestCandidates(7, 4, ModestRole::kTrainer, view), 10));
  EXPECT_NE(base, first(ModestCandidates(7, 3, ModestRole::kAggregator, view), 10));
  EXPECT_NE(base, first(ModestCandidates(8, 3, ModestRole::kTrainer, view), 10));
  // A peer that left only removes itself: the others keep their rank order.
  const auto full = ModestCandidates(7, 3, ModestRole::kTrainer, view);
  std::vector<PeerId> smaller;
  for (PeerId p : view) {
    if (p != full[0]) smaller.push_back(p);
  }
  const auto without = ModestCandidates(7, 3, ModestRole::kTrainer, smaller);
  EXPECT_TRUE(std::equal(without.begin(), without.end(), full.begin() + 1));
}

TEST(EpidemicTargets, DrawsFanoutDistinctOtherPeersUniformly) {
  const int64_t n = 10;
  const int64_t s = 3;
  std::vector<int64_t> hits(n, 0);
  for (int64_t round = 1; round <= 3000; ++round) {
    const auto targets = EpidemicTargets(5, PeerId(4), round, s, n);
    ASSERT_EQ(static_cast<int64_t>(targets.size()), s);
    ASSERT_TRUE(std::is_sorted(targets.begin(), targets.end()));
    ASSERT_EQ(std::adjacent_find(targets.begin(), targets.end()), targets.end());
    for (PeerId t : targets) {
      ASSERT_NE(t, PeerId(4));
      ASSERT_LT(t.value, n);
      ++hits[t.value];
    }
  }
  // Each of the 9 others is chosen with probability 3/9: 1000 of 3000.
  for (int64_t i = 0; i < n; ++i) {
    if (i == 4) continue;
    EXPECT_NEAR(hits[i], 1000, 120) << "peer " << i;
  }
}

double Variance(std::span<const float> x) {
  double mean = 0;
  for (float v : x) mean += v;
  mean /= static_cast<double>(x.size());
  double var = 0;
  for (float v : x) var += (v - mean) * (v - mean);
  return var / static_cast<double>(x.size());
}

// k models of `model` initialised independently (peers 0..k-1 of run
// `seed`), and their plain and variance-corrected merges.
struct Merged {
  std::vector<std::vector<float>> models;
  std::vector<float> plain;
  std::vector<float> corrected;
};

Merged MergeIndependentInits(const Model& model, int k, uint64_t seed) {
  Merged m;
  m.models.assign(k, std::vector<float>(model.num_params()));
  for (int i = 0; i < k; ++i) {
    Rng rng(seed, PeerId(static_cast<uint32_t>(i)), RngPurpose::kInit);
    model.Initialize(m.models[i], rng);
  }
  std::vector<std::span<const float>> views(m.models.begin(), m.models.end());
  m.plain.resize(model.num_params());
  m.corrected.resize(model.num_params());
  MergeModels(MergeRule::kAverage, views, model.tensors(), m.plain);
  MergeModels(MergeRule::kVarianceCorrected, views, model.tensors(), m.corrected);
  return m;
}

TEST(MergeModels, VarianceCorrectionPreservesKaimingInitVariancePerTensor) {
  auto model = MakeModel(ModelConfig{.kind = ModelKind::kMlp, .hidden = {64, 32}}, InputShape{})
                   .value();
  const auto tensors = model->tensors();
  ASSERT_EQ(tensors.size(), 6u);
  ASSERT_EQ(tensors.back().offset + tensors.back().size, model->num_params());
  const int k = 4;
  const auto [models, plain, corrected] = MergeIndependentInits(*model, k, 1);
  for (const ParamTensor& t : tensors) {
    // Kaiming-uniform U(-b, b), b = 1/sqrt(fan_in): variance b^2 / 3.
    const double init_var = 1.0 / (3.0 * static_cast<double>(t.fan_in));
    double input_var = 0;
    for (const auto& m : models) {
      input_var += Variance(std::span<const float>(m).subspan(t.offset, t.size));
    }
    input_var /= k;
    const auto sub = [&](const std::vector<float>& v) {
      return std::span<const float>(v).subspan(t.offset, t.size);
    };
    EXPECT_NEAR(Variance(sub(corrected)), input_var, 1e-5 * input_var);
    if (t.size >= 1000) {
      EXPECT_NEAR(input_var, init_var, 0.1 * init_var);
      // Averaging k independent models divides the variance by k.
      EXPECT_NEAR(Variance(sub(plain)), init_var / k, 0.15 * init_var / k);
    }
  }
}

// The setting of Vanishing Variance (Xavier-initialised models): averaging
// k independent models divides each weight tensor's variance
// 2 / (fan_in + fan_out) by k; the correction restores it per tensor, and
// the zero biases stay exactly zero.
TEST(MergeModels, VarianceCorrectionPreservesXavierInitVariancePerLayer) {
  auto model = MakeModel(ModelConfig{.kind = ModelKind::kMlp,
                                     .init = InitScheme::kXavierUniform,
                                     .hidden = {64, 32}},
                         InputShape{})
                   .value();
  const auto tensors = model->tensors();
  ASSERT_EQ(tensors.size(), 6u);
  const int k = 8;
  const auto [models, plain, corrected] = MergeIndependentInits(*model, k, 7);
  const auto sub = [](const std::vector<float>& v, const ParamTensor& t) {
    return std::span<const float>(v).subspan(t.offset, t.size);
  };
  for (size_t l = 0; l < tensors.size(); l += 2) {
    const ParamTensor& w = tensors[l];
    const ParamTensor& b = tensors[l + 1];
    const double fan_out = static_cast<double>(w.size / w.fan_in);
    const double xavier_var = 2.0 / (static_cast<double>(w.fan_in) + fan_out);
    double input_var = 0;
    for (const auto& m : models) input_var += Variance(sub(m, w));
    input_var /= k;
    EXPECT_NEAR(input_var, xavier_var, 0.1 * xavier_var) << "layer " << l / 2;
    EXPECT_NEAR(Variance(sub(plain, w)), xavier_var / k, 0.15 * xavier_var / k)
        << "layer " << l / 2;
    EXPECT_NEAR(Variance(sub(corrected, w)), input_var, 1e-5 * input_var)
        << "layer " << l / 2;
    for (float v : sub(corrected, b)) ASSERT_EQ(v, 0.0f) << "bias of layer " << l / 2;
  }
}

TEST(MergeModels, AverageIsExactAndAliasingIsAllowed) {
  std::vector<float> a = {1, 2, 3, 4};
  const std::vector<float> b = {3, 2, 1, 0};
  const std::span<const float> views[] = {a, b};
  const ParamTensor whole[] = {{.offset = 0, .size = 4, .fan_in = 1}};
  MergeModels(MergeRule::kAverage, views, whole, a);
  EXPECT_EQ(a, (std::vector<float>{2, 2, 2, 2}));
  // Deviations {-1.5,-0.5,0.5,1.5} and {1.5,0.5,-0.5,-1.5} cancel: the
  // averaged tensor is constant, so variance correction leaves it alone.
  std::vector<float> c = {1, 2, 3, 4};
  std::vector<float> d = {1, 1, 1, 5};
  std::vector<float> out(4);
  const std::span<const float> cd[] = {c, d};
  MergeModels(MergeRule::kVarianceCorrected, cd, whole, out);
  // mean(out) stays 2.25; variance becomes mean(1.25, 3) = 2.125.
  double mean = 0;
  for (float v : out) mean += v;
  EXPECT_NEAR(mean / 4, 2.25, 1e-6);
  EXPECT_NEAR(Variance(out), 2.125, 1e-5);
}

}  // namespace
}  // namespace murmur
