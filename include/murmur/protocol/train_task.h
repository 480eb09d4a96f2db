// The compute task every model-training protocol hands its Host: `steps`
// local SGD steps on the peer's Learner, run off the event loop.
#pragma once

#include <cstdint>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"

namespace murmur {

// The task writes the mean training loss to `*loss` when it runs. `learner`
// and `loss` must outlive the task, and the node must leave both alone until
// OnComputeDone(tag).
inline ComputeTask TrainTask(Learner& learner, int64_t steps, double* loss, uint64_t tag) {
  Learner* l = &learner;
  return ComputeTask{.flops = learner.TrainFlops(steps),
                     .work = [l, steps, loss] { *loss = l->Train(steps).mean_loss; },
                     .tag = tag};
}

}  // namespace murmur
