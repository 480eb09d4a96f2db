#include "peer_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "cli_common.h"
#include "murmur/experiment/net_run.h"
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/net_host.h"
#include "run_resume.h"

namespace murmur::cli {
namespace {

int Fail(const Status& status) { return cli::Fail("peer", status); }

// The peer's identity and the run's admission material, from the files the
// flags name.
Result<net::NetSecurity> LoadSecurity(const PeerOptions& options) {
  if (options.network_key_path.empty() && options.allow_path.empty() && !options.insecure) {
    return Status::InvalidArgument(
        "no --network-key and no --allow: any host that can reach ", options.listen,
        " could take a slot and receive the models. Make the keys with `murmur keygen DIR` "
        "and pass --network-key DIR/net.key (docs/runtime.md, \"Three machines\"), or pass "
        "--insecure on a network you trust");
  }
  MURMUR_ASSIGN_OR_RETURN(net::Identity identity, net::Identity::LoadOrCreate(options.key_path));
  net::NetSecurity security{.identity = std::move(identity), .plain = options.plain};
  if (!options.network_key_path.empty()) {
    MURMUR_ASSIGN_OR_RETURN(security.network_key, net::LoadNetworkKey(options.network_key_path));
  } else {
    std::fprintf(stderr, "murmur peer: warning: no --network-key; any host that can reach %s "
                 "and knows the protocol can join\n", options.listen.c_str());
  }
  if (!options.allow_path.empty()) {
    MURMUR_ASSIGN_OR_RETURN(security.allowlist, net::Allowlist::Load(options.allow_path));
  }
  return security;
}

int RunPeer(const PeerOptions& options) {
  Result<net::NetSecurity> security = LoadSecurity(options);
  if (!security.ok()) return Fail(security.status());
  Result<RunConfig> config = LoadRunConfig(options.config_path, options.sets);
  if (!config.ok()) return Fail(config.status());
  if (!options.out_dir.empty()) {
    if (Status s = CreateOutputDir(options.out_dir); !s.ok()) return Fail(s);
  }
  NetRunOptions run{.index = options.index, .out_dir = options.out_dir, .quiet = options.quiet,
                    .rejoin = options.rejoin,
                    .persist_every = options.persist_every};
  if (options.persist_every > 0) {
    Result<uint64_t> hash = RunConfigHash(config->resolved_toml);
    if (!hash.ok()) return Fail(hash.status());
    run.config_hash = *hash;
  }
  run.net.listen = options.listen;
  run.net.advertise = options.advertise;
  run.net.bootstrap = options.bootstrap;
  run.net.start_timeout = Duration::Seconds(options.start_timeout_s);
  run.net.peer_timeout = Duration::Seconds(options.peer_timeout_s);
  run.net.heartbeat_interval = Duration::Seconds(std::min(0.5, options.peer_timeout_s / 4));
  run.net.streams = static_cast<uint8_t>(options.streams);
  if (options.tcp) run.net.shm_ring_bytes = 0;
  run.net.handle_signals = true;
  // Orders this peer's address records across restarts (docs/runtime.md,
  // "Membership records").
  run.net.incarnation_file = options.key_path + ".incarnation";
  run.on_listening = [&](const net::NetHost& host) {
    // `murmur launch` waits for this line.
    std::printf("murmur peer %lld %s listening on %s\n", static_cast<long long>(options.index),
                net::PeerName(host.public_key()).c_str(), host.listen_address().c_str());
    std::fflush(stdout);
  };
  Result<NetRunResult> result = RunNetPeer(*config, std::move(run), std::move(security).value());
  if (!result.ok()) return Fail(result.status());
  std::printf("murmur peer %lld %s\n", static_cast<long long>(options.index),
              result->finished ? "finished" : ("stopped: " + result->run.ToString()).c_str());
  std::fflush(stdout);
  return result->finished ? 0 : kExitFailure;
}

}  // namespace

CLI::App* AddPeerCommand(CLI::App& app, PeerOptions& options) {
  CLI::App* peer = app.add_subcommand(
      "peer",
      "Run one peer of a run over the network (see docs/runtime.md).\n"
      "Every peer of a run gets the same CONFIG and its own --index; the FedAvg\n"
      "server is index `peers`. `murmur launch` starts a whole run on this machine.");
  peer->add_option("config", options.config_path, "TOML config file, as for `murmur run`")
      ->required();
  peer->add_option("--set", options.sets, "Override a config key (repeatable)")
      ->type_name("KEY=VALUE");
  peer->add_option("--listen", options.listen, "Address to listen on (port 0: any free port)")
      ->type_name("HOST:PORT");
  peer->add_option("--advertise", options.advertise,
                   "Address other peers should dial (default: the bound --listen address)")
      ->type_name("HOST:PORT");
  peer->add_option("--bootstrap", options.bootstrap,
                   "Addresses of peers already running (one is enough)")
      ->delimiter(',')
      ->type_name("ADDR,...");
  peer->add_option("--key", options.key_path,
                   "Ed25519 key file; created (mode 0600) if absent")
      ->type_name("FILE");
  peer->add_option("--network-key", options.network_key_path,
                   "Shared network key file (64 hex digits); peers without it cannot join")
      ->type_name("FILE");
  peer->add_option("--allow", options.allow_path,
                   "Allowlist file of 'PUBKEY_HEX SLOT' lines")
      ->type_name("FILE");
  peer->add_option("--index", options.index, "This peer's slot: 0..peers-1 (FedAvg server: peers)")
      ->check(CLI::NonNegativeNumber);
  peer->add_option("--out", options.out_dir,
                   "Write config.toml, metrics.jsonl/csv and summary.json into DIR")
      ->type_name("DIR");
  peer->add_option("--start-timeout", options.start_timeout_s,
                   "Seconds to wait for the full mesh before starting anyway")
      ->check(CLI::Range(0.0, 1e6));
  peer->add_option("--peer-timeout", options.peer_timeout_s,
                   "Seconds of silence before a peer is declared down")
      ->check(CLI::Range(0.01, 1e6));
  peer->add_flag("--quiet", options.quiet, "No per-round lines on stderr");
  peer->add_flag("--rejoin", options.rejoin,
                 "This process restarts a peer of a run in progress: join the running peers "
                 "and pull their state instead of starting over (diloco; other protocols "
                 "catch up without it)");
  peer->add_option("--persist-every", options.persist_every,
                   "Every N rounds write this peer's state to --out DIR/peer_state.bin, and "
                   "resume from it when restarted with the same command (dpsgd, epidemic, dfedsam, "
                   "gossip, fedavg)")
      ->check(CLI::PositiveNumber)
      ->type_name("N");
  peer->add_flag("--plain", options.plain,
                 "Authenticate data frames but do not encrypt them (private clusters; "
                 "every peer of the run needs it)");
  peer->add_option("--streams", options.streams,
                   "TCP streams per link: 1 carries everything; K > 1: one for control "
                   "frames, K-1 taking turns with the messages (every peer of the run needs "
                   "the same; docs/runtime.md)")
      ->check(CLI::Range(int64_t{1}, int64_t{net::kMaxStreams}));
  peer->add_flag("--tcp", options.tcp,
                 "Keep every connection on TCP: by default a peer on this host (both "
                 "addresses loopback) gets this session's frames through shared memory "
                 "instead (docs/runtime.md, \"Peers on the same host\")");
  peer->add_flag("--insecure", options.insecure,
                 "Allow running with neither --network-key nor --allow (a trusted network only)");
  return peer;
}

int PeerCommand(const PeerOptions& options) { return RunPeer(options); }

}  // namespace murmur::cli
