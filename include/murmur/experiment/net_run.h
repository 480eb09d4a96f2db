// Runs one peer of a run as its own process over the real network
// (runtime/NetHost), with the same RunConfig as the simulator's driver
// (sim_run): the peer builds only its own learner, from the same
// seed-derived partition, initialization and batch stream as the
// simulator's peer of that index, and takes its role, the model holders and
// whether it is evaluated from the same RunPlan.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "murmur/core/status.h"
#include "murmur/experiment/run_config.h"
#include "murmur/runtime/net_host.h"

namespace murmur {

struct NetRunOptions {
  int64_t index = 0;  // this process's node: 0..peers-1, the server is `peers`
  // The host's options; RunNetPeer sets self, num_slots and seed.
  net::NetOptions net;
  // Where to write config.toml, metrics.jsonl/csv (the rows of the models
  // this peer evaluates), peers.csv and summary.json (WriteNodeSummary);
  // empty: nothing is written.
  std::string out_dir;
  bool quiet = false;  // no per-round lines on stderr
  // This process restarts a slot of a run in progress (PeerContext::rejoin).
  bool rejoin = false;
  // `murmur peer --persist-every N` (docs/runtime.md, "Persisting and
  // resuming peers"): N > 0 writes this peer's state to
  // out_dir/peer_state.bin (peer_state.h) whenever it reports its model for
  // a round that is a multiple of N (and for the last round), and resumes
  // from that file at start when it is there. Only for protocols whose
  // nodes persist (ProtocolSpec::persistable, Node::persist_mode: "dpsgd",
  // "epidemic", "dfedsam", "sgp", "gossip", "fedavg"); needs out_dir.
  int64_t persist_every = 0;
  // The run's identity in the state file: RunConfigHash of its resolved
  // config (a state file of another run is refused).
  uint64_t config_hash = 0;
  // Called once the host listens, before the node starts (`murmur peer`
  // prints the line `murmur launch` waits for).
  std::function<void(const net::NetHost&)> on_listening;
};

struct NetRunResult {
  bool finished = false;  // this node finished its part of the run
  Status run;             // how NetHost::Run ended
};

// kInvalidArgument naming the key when `config` sets what only a simulated
// run can honour: sim.budget_time_s and sim.budget_bytes (a budget over all
// peers' traffic needs the global view only the simulator has),
// eval.target_acc (a row reaching it would end the run in one process
// while the others go on) and train.save_checkpoint (the mean of every
// peer's model), and a [robust] rule whose precondition cannot hold
// (CheckRobustRuleFits). RunNetPeer checks it; `murmur launch` checks it
// before starting peers.
Status CheckNetRunConfig(const RunConfig& config);

// kInvalidArgument naming the protocol when `config`'s peers cannot persist
// their state (NetRunOptions::persist_every): a protocol whose spec has no
// ProtocolSpec::persistable, an option that spec refuses (FedAvg's
// compression, secure aggregation, [privacy]), or a DP-SGD learner.
// RunNetPeer checks it with
// persist_every; `murmur launch --persist-every` before starting peers.
// Some peers of an accepted run may still be refused once built (a
// Byzantine peer, a state no snapshot holds).
Status CheckPersistableRun(const RunConfig& config);

// Builds this peer's node and runs it until its part of the run is done: a
// model holder once it reported its last round's model; in a first-report
// protocol (MoDeST), any other peer once some other holder has finished and
// said bye; otherwise (a federated client) once every holder has said bye.
// kInvalidArgument for an index outside the run's nodes, a config that
// cannot be built or one CheckNetRunConfig refuses, kNotFound for a missing dataset, kUnavailable when the
// host or the files cannot be set up. With persist_every: kInvalidArgument
// for a protocol or peer whose state cannot be persisted, and for a state
// file of another run or slot, a corrupt or truncated one, or one that does
// not fit this peer's learner; kUnavailable when a state cannot be written
// (the run goes on; the error is returned at its end).
Result<NetRunResult> RunNetPeer(const RunConfig& config, NetRunOptions options,
                                net::NetSecurity security);

}  // namespace murmur
