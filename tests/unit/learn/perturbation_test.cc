#include "murmur/learn/perturbation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "murmur/learn/learner.h"

namespace murmur {
namespace {

PerturbationKey Key(uint32_t peer, uint64_t step, NoiseKind noise) {
  return PerturbationKey{.seed = 7, .stream = peer, .step = step, .noise = noise};
}

std::vector<float> Direction(size_t n, const PerturbationKey& key) {
  std::vector<float> z(n, 0.0f);
  AddScaledPerturbation(z, 1.0f, key);
  return z;
}

TEST(Perturbation, TwoPeersRegenerateBitIdenticalDirections) {
  for (NoiseKind noise : {NoiseKind::kRademacher, NoiseKind::kGaussian}) {
    // Peer A perturbs its own model; peer B, holding the same model,
    // regenerates A's direction from (seed, A, step) alone.
    std::vector<float> a(10'007), b(10'007);
    std::iota(a.begin(), a.end(), -5000.0f);
    for (float& v : a) v *= 1e-3f;
    b = a;
    AddScaledPerturbation(a, -0.0123f, Key(3, 41, noise));
    AddScaledPerturbation(b, -0.0123f, Key(3, 41, noise));
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
    // Another peer or step gives another direction.
    EXPECT_NE(Direction(64, Key(3, 41, noise)), Direction(64, Key(4, 41, noise)));
    EXPECT_NE(Direction(64, Key(3, 41, noise)), Direction(64, Key(3, 42, noise)));
  }
}

TEST(Perturbation, WritePerturbedMatchesInPlaceAddBitForBit) {
  std::vector<float> base(3000);
  for (size_t i = 0; i < base.size(); ++i) base[i] = std::sin(static_cast<float>(i));
  for (NoiseKind noise : {NoiseKind::kRademacher, NoiseKind::kGaussian}) {
    std::vector<float> in_place = base, out(base.size());
    AddScaledPerturbation(in_place, 0.37f, Key(1, 2, noise));
    WritePerturbed(base, 0.37f, Key(1, 2, noise), out);
    EXPECT_EQ(std::memcmp(in_place.data(), out.data(), out.size() * sizeof(float)), 0);
  }
}

TEST(Perturbation, CoordinatesDoNotDependOnModelSize) {
  const std::vector<float> small = Direction(300, Key(0, 0, NoiseKind::kGaussian));
  const std::vector<float> large = Direction(1000, Key(0, 0, NoiseKind::kGaussian));
  EXPECT_TRUE(std::equal(small.begin(), small.end(), large.begin()));
}

TEST(Perturbation, RademacherIsPlusMinusOneAndGaussianIsStandardNormal) {
  const std::vector<float> r = Direction(100'000, Key(2, 5, NoiseKind::kRademacher));
  double sum = 0;
  for (float v : r) {
    ASSERT_TRUE(v == 1.0f || v == -1.0f);
    sum += v;
  }
  EXPECT_LT(std::abs(sum / r.size()), 0.02);  // 5 sigma = 5 / sqrt(1e5)
  const std::vector<float> g = Direction(100'000, Key(2, 5, NoiseKind::kGaussian));
  double mean = 0, sq = 0;
  for (float v : g) {
    mean += v;
    sq += static_cast<double>(v) * v;
  }
  mean /= g.size();
  const double var = sq / g.size() - mean * mean;
  EXPECT_LT(std::abs(mean), 0.02);
  EXPECT_NEAR(var, 1.0, 0.03);
}

// L(w) = 1/2 sum a_i w_i^2 + sum b_i w_i: the central difference is exact,
// so the estimate is the directional derivative z . (a * w + b) up to the
// float rounding of w +- eps z.
TEST(Perturbation, SpsaEstimateMatchesDirectionalDerivativeOnQuadratic) {
  const size_t n = 1000;
  std::vector<double> a(n), b(n);
  std::vector<float> w(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = 0.5 + static_cast<double>(i % 7);
    b[i] = std::cos(static_cast<double>(i));
    w[i] = static_cast<float>(std::sin(0.3 * static_cast<double>(i)));
  }
  auto loss = [&](std::span<const float> x) {
    double l = 0;
    for (size_t i = 0; i < n; ++i) l += 0.5 * a[i] * x[i] * x[i] + b[i] * x[i];
    return l;
  };
  for (NoiseKind noise : {NoiseKind::kRademacher, NoiseKind::kGaussian}) {
    for (uint64_t step = 0; step < 5; ++step) {
      const PerturbationKey key = Key(9, step, noise);
      const std::vector<float> z = Direction(n, key);
      double expected = 0;
      for (size_t i = 0; i < n; ++i) expected += z[i] * (a[i] * w[i] + b[i]);
      std::vector<float> scratch(n);
      const std::vector<float> before = w;
      const SpsaEstimate e = EstimateProjectedGradient(loss, w, 1e-2f, key, scratch);
      EXPECT_NEAR(e.projected_grad, expected, 1e-3 * (1.0 + std::abs(expected)))
          << "noise " << static_cast<int>(noise) << " step " << step;
      EXPECT_EQ(w, before);  // the model itself is never touched
    }
  }
}

TEST(Perturbation, LearnerEstimateLeavesParametersBitIdentical) {
  ConfigureTorchThreads(1);
  SyntheticOptions options{.train_size = 200, .test_size = 10};
  TrainTestSplit data = MakeSyntheticDataset(options);
  std::unique_ptr<Model> model =
      MakeModel(ModelConfig{.kind = ModelKind::kLogisticRegression}, InputShape{}).value();
  std::vector<int64_t> shard(200);
  std::iota(shard.begin(), shard.end(), 0);
  Learner learner(*model, data.train, shard, OptimizerConfig{}, 16,
                  Rng(1, PeerId(0), RngPurpose::kInit), Rng(1, PeerId(0), RngPurpose::kBatch));
  const std::vector<float> before(learner.params().begin(), learner.params().end());
  const SpsaEstimate e = learner.EstimateSpsa(Key(0, 0, NoiseKind::kRademacher), 1e-3f);
  EXPECT_TRUE(std::isfinite(e.projected_grad));
  EXPECT_GT(e.loss, 0);
  EXPECT_EQ(std::memcmp(before.data(), learner.params().data(), before.size() * sizeof(float)), 0);
  // One step against the estimate lowers the loss on the same batch when
  // the step is small.
  learner.AddPerturbation(static_cast<float>(-1e-4 * e.projected_grad),
                          Key(0, 0, NoiseKind::kRademacher));
  EXPECT_LT(learner.BatchLoss(learner.params()), e.loss);
}

}  // namespace
}  // namespace murmur
