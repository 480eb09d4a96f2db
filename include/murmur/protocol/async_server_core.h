// The bookkeeping the asynchronous federated servers (FedAsync, FedBuff,
// FedCompass) share: the global model and its version, which client is
// working on which task since when, task timeouts, and the validation of
// incoming updates. Not a Node; each server owns one.
//
// Fault semantics: a task not answered within `task_timeout` (0: never) is
// given up: its client counts as idle again and a later answer to it is
// ignored as late. A client declared down gives its task up at once and
// gets none until it is up again (ClientDown). Updates from unknown or idle
// clients, or claiming a version newer than the server's, are reported as
// bad peers.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/protocol/async_message.h"

namespace murmur {

class AsyncServerCore {
 public:
  // `name` prefixes the counters ("fedbuff.late_updates"). REQUIRES: clients
  // non-empty and sorted.
  AsyncServerCore(std::vector<float> initial_model, std::vector<PeerId> clients,
                  Duration task_timeout, std::string name);

  // Sends `client` the current model with `steps` local steps to run.
  // REQUIRES: the client is idle.
  void Dispatch(Host& host, PeerId client, uint64_t steps);

  // Decodes an update from `from` and, when it answers `from`'s outstanding
  // task, marks `from` idle and returns it. Otherwise reports it (bad peer
  // or late) and returns nullopt.
  std::optional<AsyncMessage> Accept(Host& host, PeerId from, std::span<const uint8_t> bytes);

  // When `timer` is the timeout of a still outstanding task, marks its
  // client idle, counts it and returns the client.
  std::optional<PeerId> ExpireTask(Host& host, TimerId timer);

  // A client the failure detector declared down (Node::OnPeerDown, the
  // runtime's; the simulator declares none): its outstanding task is given
  // up now rather than at its timeout ("<name>.tasks_of_clients_down"),
  // and RandomIdleClient skips it until it is up again (ClientUp, or an
  // update of it arrives). Returns whether a task was given up.
  bool ClientDown(Host& host, PeerId client);
  void ClientUp(PeerId client) { down_.erase(client); }
  bool IsDown(PeerId client) const { return down_.count(client) > 0; }

  // Bumps the version and reports the global model as that round.
  void Publish(Host& host);

  // Server versions between `update`'s start and now.
  int64_t Staleness(const AsyncMessage& update) const { return version_ - update.version; }
  // Seconds from dispatching `client`'s last task to its update's arrival
  // minus its reported compute time: the client's network overhead.
  double LastOverheadSeconds(PeerId client) const;

  // Keeps min(max_concurrency (0: all), clients) clients busy with tasks
  // of `steps` local steps, each picked at random among the idle clients
  // that are not down (RandomIdleClient), while version() < rounds.
  void FillSlots(Host& host, int64_t max_concurrency, uint64_t steps, int64_t rounds);

  // A uniformly random idle client that is not down, or nullopt when there
  // is none.
  std::optional<PeerId> RandomIdleClient(Host& host) const;

  std::vector<float>& global() { return global_; }
  std::span<const float> global() const { return global_; }
  int64_t version() const { return version_; }
  int64_t busy() const { return static_cast<int64_t>(busy_.size()); }
  bool IsBusy(PeerId client) const { return busy_.count(client) > 0; }
  const std::vector<PeerId>& clients() const { return clients_; }
  const std::string& name() const { return name_; }

 private:
  struct Outstanding {
    uint32_t version = 0;
    SimTime dispatched;
    TimerId timer;
  };

  std::vector<float> global_;
  const std::vector<PeerId> clients_;
  const Duration task_timeout_;
  const std::string name_;
  int64_t version_ = 0;
  std::map<PeerId, Outstanding> busy_;
  std::map<PeerId, double> overhead_s_;
  std::set<PeerId> down_;
};

}  // namespace murmur
