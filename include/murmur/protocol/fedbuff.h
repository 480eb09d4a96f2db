// FedBuff (Nguyen, Malik, Zhan, Yousefpour, Rabbat, Malek, Huba, 2022,
// "Federated Learning with Buffered Asynchronous Aggregation"). At most
// `max_concurrency` clients train at once, each from the newest global
// model it was sent, and return their change delta_i = trained - start.
// The server adds s(staleness_i) * delta_i to a buffer (s: staleness.h,
// 1/sqrt(1 + staleness) by default) and only when K = `buffer_size` updates
// are buffered moves the global model to x + buffer / K through the server
// optimizer (server_optimizer.h; the paper's x - eta_g * mean is kSgd with
// lr eta_g). Each finished client is replaced by a random idle one. Each
// buffer application is one round.
//
// Tolerates stragglers and heterogeneous speeds (nobody waits for a slow
// client), lost messages and crashed clients (task_timeout), and is the
// asynchronous protocol that allows secure aggregation over the buffer. Not
// Byzantine robust.
#pragma once

#include "murmur/protocol/async_server_core.h"
#include "murmur/protocol/server_optimizer.h"
#include "murmur/protocol/staleness.h"
#include <cstdint>

namespace murmur {

struct FedBuffOptions {
  int64_t rounds = 0;            // buffer applications
  int64_t local_steps = 0;       // per task
  int64_t buffer_size = 10;      // K
  int64_t max_concurrency = 0;   // 0: all clients
  StalenessConfig staleness;
  ServerOptimizerConfig server_optimizer;
  Duration task_timeout;         // 0: wait forever
};

class FedBuffServer final : public Node {
 public:
  // REQUIRES: clients sorted and non-empty, buffer_size >= 1.
  FedBuffServer(std::vector<float> initial_model, const FedBuffOptions& options,
                std::vector<PeerId> clients);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  // A client down gives its slot up at once (AsyncServerCore::ClientDown);
  // back up, it may be picked again.
  void OnPeerDown(Host& host, PeerId peer) override;
  void OnPeerUp(Host& host, PeerId peer) override;
  void OnComputeDone(Host& host, uint64_t tag) override {}

  std::span<const float> global_model() const { return core_.global(); }
  int64_t completed_rounds() const { return core_.version(); }
  int64_t buffered() const { return buffered_; }

 private:
  void FillSlots(Host& host);

  const FedBuffOptions options_;
  AsyncServerCore core_;
  ServerOptimizer server_optimizer_;
  std::vector<double> buffer_;
  int64_t buffered_ = 0;
  std::vector<float> target_;
};

// protocol.kind = "fedbuff": its keys (docs/config.md), read by its spec
// (federated_specs.cc).
struct FedBuffConfig {
  int64_t buffer_size = 10;     // protocol.buffer_size: K
  int64_t max_concurrency = 0;  // 0 = all clients
  StalenessConfig staleness;
  ServerOptimizerConfig server_optimizer;
  double proximal_mu = 0;  // protocol.proximal_mu: clients' proximal term
};

}  // namespace murmur
