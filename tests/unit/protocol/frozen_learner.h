// A logistic-regression learner over 2x2 synthetic images with lr 0, so
// training leaves the parameters exactly as a test set them (50 of them).
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"

namespace murmur::testing {

struct FrozenLearner {
  FrozenLearner() {
    data = MakeSyntheticDataset({.train_size = 64, .test_size = 8, .height = 2, .width = 2});
    model = MakeModel({.kind = ModelKind::kLogisticRegression},
                      {.channels = 1, .height = 2, .width = 2, .num_classes = 10})
                .value();
    std::vector<int64_t> shard(64);
    for (int64_t i = 0; i < 64; ++i) shard[i] = i;
    learner = std::make_unique<Learner>(*model, data.train, shard, OptimizerConfig{.lr = 0.0}, 8,
                                        Rng(1, PeerId(0), RngPurpose::kInit),
                                        Rng(1, PeerId(0), RngPurpose::kBatch));
  }
  void Fill(float v) { std::fill(learner->params().begin(), learner->params().end(), v); }
  std::vector<float> Constant(float v) const {
    return std::vector<float>(learner->params().size(), v);
  }
  TrainTestSplit data;
  std::unique_ptr<Model> model;
  std::unique_ptr<Learner> learner;
};

}  // namespace murmur::testing
