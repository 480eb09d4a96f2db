// Tiny learners for driving protocol nodes by hand: logistic regression on
// 2x2 synthetic images (50 parameters), built the same way every time, so
// two learners built alike train identically.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"

namespace murmur::testing {

// A logistic-regression learner with learning rate `lr` (0 by default, so
// training leaves the parameters exactly as the test set them) over the
// samples [first, first + count) of a 64-sample synthetic set, batch size 8,
// initialised and batched by the seed-1 streams of peer 0.
// REQUIRES: 0 <= first, first + count <= 64.
struct TestLearner {
  explicit TestLearner(double lr = 0.0, int64_t first = 0, int64_t count = 64);

  // Sets every parameter to `v`.
  void Fill(float v);
  // A vector of `v`s as long as the parameters.
  std::vector<float> Constant(float v) const;
  // A copy of the parameters.
  std::vector<float> Params() const;
  size_t size() const { return learner->params().size(); }

  TrainTestSplit data;
  std::unique_ptr<Model> model;
  std::unique_ptr<Learner> learner;  // trains `model` on `data.train`
};

// The frozen setup: a TestLearner with learning rate 0.
struct FrozenLearner : TestLearner {
  FrozenLearner() : TestLearner(0.0) {}
};

}  // namespace murmur::testing
