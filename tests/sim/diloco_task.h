// What the DiLoCo and Streaming DiLoCo scenario tests share: the protocol
// config and the task (a small MLP trained with Adam on 2,000 samples).
#pragma once

#include <cstdint>

#include "murmur/protocol/diloco.h"
#include "murmur/protocol/registry.h"
#include "testing/scenario.h"

namespace murmur::testing {

// DiLoCo: `rounds` outer steps of `inner_steps` inner steps each.
inline ProtocolConfig Diloco(int64_t rounds, int64_t inner_steps, DilocoConfig d = {}) {
  ProtocolConfig c;
  c.kind = "diloco";
  c.rounds = rounds;
  c.local_steps = inner_steps;
  c.round_timeout_s = 1;
  MutableProtocolOptions<DilocoConfig>(c) = d;
  return c;
}

inline HarnessOptions MlpTask(int64_t peers) {
  return {.peers = peers,
          .model = ModelKind::kMlp,
          .optimizer = {.kind = OptimizerKind::kAdam, .lr = 1e-3},
          .batch_size = 16,
          .train_size = 2000,
          .test_size = 400};
}

}  // namespace murmur::testing
