// The client of the asynchronous federated protocols (FedAsync, FedBuff,
// FedCompass): on each task from the server it loads the task's global model,
// runs the task's number of local SGD steps with a fresh optimizer (and,
// with proximal_mu > 0, FedAsync's / FedProx's proximal term
// mu/2 ||w - w_task||^2), and replies with its trained model or its change,
// its sample count, the steps it ran and the virtual seconds they took
// (host.now() around the compute task). A task that arrives while training
// replaces any earlier waiting one and starts when training ends.
#pragma once

#include <cstdint>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/async_message.h"

namespace murmur {

// What an update carries.
enum class AsyncUpdateForm {
  kModel,  // the trained model (FedAsync mixes models)
  kDelta,  // trained - start (FedBuff, FedCompass sum changes)
};

struct AsyncClientOptions {
  AsyncUpdateForm form = AsyncUpdateForm::kDelta;
  double proximal_mu = 0;
};

// `learner` must outlive the node.
class AsyncClient final : public Node {
 public:
  AsyncClient(Learner& learner, const AsyncClientOptions& options, PeerId server);

  void OnStart(Host& host) override {}
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override {}
  void OnComputeDone(Host& host, uint64_t tag) override;

 private:
  void Train(Host& host, AsyncMessage task);

  Learner& learner_;
  const AsyncClientOptions options_;
  const PeerId server_;
  bool training_ = false;
  double last_loss_ = 0;
  uint32_t version_ = 0;   // of the task in training
  uint64_t steps_ = 0;     // of the task in training
  SimTime started_;
  std::vector<float> start_;  // the task's model (kDelta or proximal term)
  bool has_pending_ = false;
  AsyncMessage pending_;
};

}  // namespace murmur
