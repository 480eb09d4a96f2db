// Tiny learners for driving protocol nodes by hand: logistic regression on
// 2x2 synthetic images (50 parameters).
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"

namespace murmur::testing {

// A logistic-regression learner with learning rate `lr` (0 by default, so
// training leaves the parameters exactly as the test set them) over the
// samples [first, first + count) of a 64-sample synthetic set. Two
// TestLearners built alike train identically.
struct TestLearner {
  explicit TestLearner(double lr = 0.0, int64_t first = 0, int64_t count = 64) {
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
  void Fill(float v) { std::fill(learner->params().begin(), learner->params().end(), v); }
  std::vector<float> Constant(float v) const {
    return std::vector<float>(learner->params().size(), v);
  }
  std::vector<float> Params() const {
    return std::vector<float>(learner->params().begin(), learner->params().end());
  }
  size_t size() const { return learner->params().size(); }
  TrainTestSplit data;
  std::unique_ptr<Model> model;
  std::unique_ptr<Learner> learner;
};

}  // namespace murmur::testing
