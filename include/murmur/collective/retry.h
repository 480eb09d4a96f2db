// Retry-until-success over the survivors: the caller's side of the
// collective fault semantics (collective_group.h). An operation that fails
// with kPeerLost (a member was lost; the buffer is back to its input) or
// kUnavailable (an agreement is under way) is retried after
// AgreeMembership decides the next epoch, so it completes over whoever is
// left; a joiner is admitted the same way. Idea from PCCL (2025) and
// torchft: abort, re-form the group, run again.
#pragma once

#include <functional>
#include <span>

#include "murmur/collective/collective_group.h"

namespace murmur::collective {

// Starts one attempt of an operation on `group`, reporting to the callback.
using OpStarter = std::function<void(Host&, OpCallback)>;

// Runs `start` until it succeeds, fails with another code, or
// `max_attempts` attempts failed; `done` gets the last status. `group`
// must outlive the operation.
void RunWithRetry(CollectiveGroup& group, Host& host, OpStarter start, int max_attempts,
                  OpCallback done);

// AllReduce under RunWithRetry. `buffer` must outlive the operation.
void AllReduceWithRetry(CollectiveGroup& group, Host& host, std::span<float> buffer,
                        ReduceOp op, int max_attempts, OpCallback done);
// The quantized all-reduce (collective.h: Quantization) under RunWithRetry;
// an aborted attempt restores the residual too, so a retry starts over.
void AllReduceWithRetry(CollectiveGroup& group, Host& host, std::span<float> buffer,
                        ReduceOp op, Quantization quantization, int max_attempts,
                        OpCallback done);

}  // namespace murmur::collective
