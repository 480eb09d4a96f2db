// FedAsync (Xie, Koyejo, Gupta, 2019, "Asynchronous Federated
// Optimization"). Every client trains from the newest global model it was
// sent; the server mixes each arriving client model x_new into the global
// model at once,
//   x = (1 - alpha_t) x + alpha_t x_new,  alpha_t = alpha * s(t - tau),
// where t - tau is the update's staleness in server versions and s the
// configured staleness function (staleness.h), and sends the client the new
// model. Clients may add the paper's proximal term rho/2 ||w - x_tau||^2
// (AsyncClientOptions::proximal_mu). Each mixed update is one round.
//
// Tolerates stragglers and heterogeneous speeds (no one waits for anyone;
// stale updates count less), lost messages and crashed clients (a task
// unanswered for `task_timeout` goes to another idle client). Not
// Byzantine robust: one client's model enters the global model with weight
// alpha unchecked.
#pragma once

#include "murmur/protocol/async_server_core.h"
#include "murmur/protocol/staleness.h"
#include <cstdint>

namespace murmur {

struct FedAsyncOptions {
  int64_t rounds = 0;          // server updates
  int64_t local_steps = 0;     // per task
  double alpha = 0.6;          // mixing weight, in (0, 1]
  StalenessConfig staleness;
  int64_t max_concurrency = 0;  // clients training at once; 0: all
  Duration task_timeout;        // 0: wait forever
};

class FedAsyncServer final : public Node {
 public:
  // REQUIRES: clients sorted and non-empty.
  FedAsyncServer(std::vector<float> initial_model, const FedAsyncOptions& options,
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

 private:
  void FillSlots(Host& host);

  const FedAsyncOptions options_;
  AsyncServerCore core_;
};

// protocol.kind = "fedasync": its keys (docs/config.md), read by its spec
// (federated_specs.cc).
struct FedAsyncConfig {
  double proximal_mu = 0;       // protocol.proximal_mu: clients' proximal term
  double alpha = 0.6;           // protocol.async_alpha
  StalenessConfig staleness;    // protocol.staleness, staleness_a, staleness_b
  int64_t max_concurrency = 0;  // 0 = all clients
};

}  // namespace murmur
