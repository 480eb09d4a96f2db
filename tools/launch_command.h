// `murmur launch N CONFIG`: one run of N peers as N local `murmur peer`
// processes on 127.0.0.1 (plus the server for FedAvg), with a generated
// network key and allowlist, one progress view, and the peers' metrics
// merged into one metrics.jsonl/csv of the simulator's schema.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace murmur::cli {

struct LaunchOptions {
  int64_t peers = 0;
  std::string config_path;
  std::vector<std::string> sets;
  std::string out_dir = "runs/launch";
  double timeout_s = 0;  // 0: no limit
  bool quiet = false;
  bool plain = false;  // `murmur peer --plain` for every peer
  // `murmur peer --persist-every N` for every peer (state in its peer-I/),
  // and a peer killed by SIGKILL is started again with the same command
  // (at most kMaxPeerRestarts times), resuming from its state. 0: neither.
  int64_t persist_every = 0;
  int64_t streams = 1;  // `murmur peer --streams` for every peer
  bool tcp = false;     // `murmur peer --tcp` for every peer
};

// How often `murmur launch --persist-every` restarts one peer.
inline constexpr int kMaxPeerRestarts = 3;

CLI::App* AddLaunchCommand(CLI::App& app, LaunchOptions& options);
// 0 when every peer finished, 2 for bad arguments, 1 otherwise.
int LaunchCommand(const LaunchOptions& options, const std::string& self_exe);

}  // namespace murmur::cli
