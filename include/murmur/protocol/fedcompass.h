// FedCompass (Li, Chaturvedi, Ryu, Kim, Lim, Bhattacharya, Huerta, 2023,
// "FedCompass: Efficient Cross-Silo Federated Learning on Heterogeneous
// Client Devices using a Computing Power Aware Scheduler"). The server
// learns each client's speed (seconds per local step, from the steps and
// compute time the client reports, plus its network overhead) and gives
// each client its own number of local steps Q in [min_steps, max_steps] so
// that clients arrive together in groups:
//  * First tasks: every client runs max_steps; speeds are unknown, so each
//    first update is applied alone.
//  * Assigning a client: among the open groups it can reach with Q in
//    [min_steps, max_steps] steps, it joins the one giving the most steps
//    (Q = floor((T_group - now - overhead) / seconds_per_step)); if none,
//    it opens a new group expected at now + overhead + max_steps * speed,
//    whose latest arrival time is lambda times as far away.
//  * A group is aggregated when all its members arrived, or at its latest
//    arrival time with whoever arrived: the global model moves to
//    x + sum_i p_i s(staleness_i) delta_i through the server optimizer,
//    where p_i = n_i / N is the client's share of all clients' samples (as
//    in the authors' APPFL implementation; N is extrapolated from the
//    clients heard from until all have reported), so a small group moves
//    the model only by its share. Each arrived member is assigned again. A member arriving
//    after its group closed is applied alone (staleness-weighted) and
//    assigned again.
// Each aggregation is one round. Tolerates heterogeneous and changing
// speeds (speeds are re-measured on every update), stragglers (groups close
// at their latest time), lost messages and crashed clients (task_timeout).
// Not Byzantine robust; a client lying about its speed only changes its own
// step count.
#pragma once

#include <map>

#include "murmur/protocol/async_server_core.h"
#include "murmur/protocol/server_optimizer.h"
#include "murmur/protocol/staleness.h"
#include <cstdint>

namespace murmur {

struct FedCompassOptions {
  int64_t rounds = 0;      // aggregations
  int64_t min_steps = 0;   // Q_min >= 1
  int64_t max_steps = 0;   // Q_max >= Q_min
  double lambda = 1.2;     // latest arrival / expected arrival distance, >= 1
  StalenessConfig staleness;
  ServerOptimizerConfig server_optimizer;
  Duration task_timeout;   // 0: wait forever
};

class FedCompassServer final : public Node {
 public:
  // How well arrival groups held together, over the groups closed so far.
  struct GroupStats {
    int64_t closed = 0;     // groups aggregated (with at least one arrival)
    int64_t complete = 0;   // ... in which every member arrived in time
    int64_t arrivals = 0;   // updates aggregated in groups
    // Largest (last - first arrival) / (expected - created) over groups with
    // two or more arrivals.
    double max_spread = 0;
  };

  // REQUIRES: clients sorted and non-empty, 1 <= min_steps <= max_steps,
  // lambda >= 1.
  FedCompassServer(std::vector<float> initial_model, const FedCompassOptions& options,
                   std::vector<PeerId> clients);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  // A client down gives its task up at once (AsyncServerCore::ClientDown)
  // and leaves its group, which then closes if every other member arrived;
  // it gets no task until it is up again.
  void OnPeerDown(Host& host, PeerId peer) override;
  void OnPeerUp(Host& host, PeerId peer) override;
  void OnComputeDone(Host& host, uint64_t tag) override {}

  std::span<const float> global_model() const { return core_.global(); }
  int64_t completed_rounds() const { return core_.version(); }
  // The steps of `client`'s latest task (0 before any).
  int64_t assigned_steps(PeerId client) const;
  const GroupStats& group_stats() const { return stats_; }

 private:
  struct Arrival {
    PeerId client;
    AsyncMessage update;
    SimTime at;
  };
  struct Group {
    SimTime created;
    SimTime expected;
    SimTime latest;
    TimerId timer;
    std::vector<PeerId> members;
    std::vector<Arrival> arrived;
  };

  void Assign(Host& host, PeerId client);
  void Aggregate(Host& host, std::vector<Arrival> arrivals);
  void CloseGroup(Host& host, int64_t group_id);
  void Reassign(Host& host, PeerId client);
  // Takes a client whose task was given up out of its group (closing the
  // group if every other member arrived).
  void LeaveGroup(Host& host, PeerId client);

  const FedCompassOptions options_;
  AsyncServerCore core_;
  ServerOptimizer server_optimizer_;
  std::map<PeerId, double> seconds_per_step_;
  std::map<PeerId, int64_t> group_of_;  // open group a busy client belongs to
  std::map<PeerId, int64_t> steps_;
  std::map<PeerId, double> samples_;    // reported sample counts
  std::map<int64_t, Group> groups_;     // open groups by id
  int64_t next_group_ = 0;
  std::vector<float> target_;
  GroupStats stats_;
};

// protocol.kind = "fedcompass": its keys (docs/config.md), read by its spec
// (federated_specs.cc). The most steps per task is protocol.local_steps.
struct FedCompassConfig {
  int64_t min_steps = 2;  // protocol.compass_min_steps: Q_min
  double lambda = 1.2;    // protocol.compass_lambda: latest arrival factor
  StalenessConfig staleness;
  ServerOptimizerConfig server_optimizer;
  double proximal_mu = 0;  // protocol.proximal_mu: clients' proximal term
};

}  // namespace murmur
