#include "murmur/collective/retry.h"

#include <memory>

namespace murmur::collective {
namespace {

struct RetryState {
  CollectiveGroup* group;
  OpStarter start;
  int attempts_left;
  OpCallback done;
};

bool Retryable(const Status& status) {
  return status.code() == StatusCode::kPeerLost || status.code() == StatusCode::kUnavailable;
}

void Attempt(const std::shared_ptr<RetryState>& state, Host& host) {
  if (state->group->needs_agreement()) {
    state->group->AgreeMembership(host, [state](Host& h, const Status& agreed) {
      if (!agreed.ok()) return state->done(h, agreed);
      Attempt(state, h);
    });
    return;
  }
  state->start(host, [state](Host& h, const Status& status) {
    if (status.ok() || !Retryable(status) || --state->attempts_left <= 0) {
      return state->done(h, status);
    }
    h.metrics().Count("collective.retries", 1);
    Attempt(state, h);
  });
}

}  // namespace

void RunWithRetry(CollectiveGroup& group, Host& host, OpStarter start, int max_attempts,
                  OpCallback done) {
  auto state = std::make_shared<RetryState>(
      RetryState{&group, std::move(start), max_attempts, std::move(done)});
  Attempt(state, host);
}

void AllReduceWithRetry(CollectiveGroup& group, Host& host, std::span<float> buffer,
                        ReduceOp op, int max_attempts, OpCallback done) {
  RunWithRetry(
      group, host,
      [&group, buffer, op](Host& h, OpCallback cb) { group.AllReduce(h, buffer, op, std::move(cb)); },
      max_attempts, std::move(done));
}

void AllReduceWithRetry(CollectiveGroup& group, Host& host, std::span<float> buffer,
                        ReduceOp op, Quantization quantization, int max_attempts,
                        OpCallback done) {
  RunWithRetry(
      group, host,
      [&group, buffer, op, quantization](Host& h, OpCallback cb) {
        group.AllReduce(h, buffer, op, quantization, std::move(cb));
      },
      max_attempts, std::move(done));
}

}  // namespace murmur::collective
