// `murmur peer`: runs one peer of a run as its own process over the real
// network (runtime/NetHost), with the same RunConfig as `murmur run`. The
// peer builds only its own learner, from the same seed-derived partition,
// initialization and batch stream as the simulator's peer of that index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace murmur::cli {

struct PeerOptions {
  std::string config_path;
  std::vector<std::string> sets;
  std::string listen = "127.0.0.1:0";
  std::string advertise;
  std::vector<std::string> bootstrap;
  std::string key_path = "murmur.key";
  std::string network_key_path;  // empty: open network
  std::string allow_path;        // empty: any key may take any slot
  int64_t index = 0;
  std::string out_dir;
  double start_timeout_s = 60;
  double peer_timeout_s = 5;
  bool quiet = false;
  bool rejoin = false;  // --rejoin: restart a peer of a run in progress
  // Run with neither a network key nor an allowlist: anyone who can reach
  // the listen address may take a slot and receive models.
  bool insecure = false;
  // Data frames authenticated but not encrypted (every peer must agree).
  bool plain = false;
  // TCP streams per link (NetOptions::streams; every peer must agree).
  int64_t streams = 1;
  bool tcp = false;  // no shared memory with peers on this host
  // --persist-every N: write the peer's state to --out every N rounds and
  // resume from it on start (D-PSGD, gossip, FedAvg; 0: off).
  int64_t persist_every = 0;
};

CLI::App* AddPeerCommand(CLI::App& app, PeerOptions& options);
// 0 when this peer finished its part of the run, 2 for bad arguments or
// config, 1 otherwise (e.g. interrupted).
int PeerCommand(const PeerOptions& options);

}  // namespace murmur::cli
