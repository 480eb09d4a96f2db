#include "testing/frozen_learner.h"

#include <algorithm>

#include "murmur/core/check.h"

namespace murmur::testing {

TestLearner::TestLearner(double lr, int64_t first, int64_t count) {
  MURMUR_CHECK(first >= 0 && count >= 0 && first + count <= 64);
  data = MakeSyntheticDataset({.train_size = 64, .test_size = 8, .height = 2, .width = 2});
  model = MakeModel({.kind = ModelKind::kLogisticRegression},
                    {.channels = 1, .height = 2, .width = 2, .num_classes = 10})
              .value();
  std::vector<int64_t> shard(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) shard[i] = first + i;
  learner = std::make_unique<Learner>(*model, data.train, shard, OptimizerConfig{.lr = lr}, 8,
                                      Rng(1, PeerId(0), RngPurpose::kInit),
                                      Rng(1, PeerId(0), RngPurpose::kBatch));
}

void TestLearner::Fill(float v) {
  std::fill(learner->params().begin(), learner->params().end(), v);
}

std::vector<float> TestLearner::Constant(float v) const {
  return std::vector<float>(learner->params().size(), v);
}

std::vector<float> TestLearner::Params() const {
  return std::vector<float>(learner->params().begin(), learner->params().end());
}

}  // namespace murmur::testing
