#include "peer_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "murmur/core/config.h"
#include "murmur/core/thread_pool.h"
#include "murmur/runtime/net_host.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/run_config.h"
#include "murmur/experiment/run_setup.h"

namespace murmur::cli {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

int Fail(const Status& status) {
  std::fprintf(stderr, "murmur peer: %s\n", status.message().c_str());
  const bool usage = status.code() == StatusCode::kInvalidArgument ||
                     status.code() == StatusCode::kNotFound;
  return usage ? kExitUsage : kExitFailure;
}

// Forwards to the evaluation sink and notes when the node reported its
// model for the last round: a model holder's part of the run is then done.
class PeerSink final : public MetricsSink {
 public:
  PeerSink(MetricsSink& inner, int64_t rounds) : inner_(inner), rounds_(rounds) {}
  void ReportModel(Round round, std::span<const float> params) override {
    if (round.value >= rounds_) final_reported_ = true;
    inner_.ReportModel(round, params);
  }
  void ReportTrainLoss(Round round, double loss) override { inner_.ReportTrainLoss(round, loss); }
  void Count(std::string_view name, int64_t delta) override { inner_.Count(name, delta); }
  bool final_reported() const { return final_reported_; }

 private:
  MetricsSink& inner_;
  const int64_t rounds_;
  bool final_reported_ = false;
};

Result<RunConfig> LoadRunConfig(const std::string& path, const std::vector<std::string>& sets) {
  Config config;
  if (!path.empty()) {
    MURMUR_ASSIGN_OR_RETURN(config, Config::FromFile(path));
  }
  for (const std::string& set : sets) MURMUR_RETURN_IF_ERROR(config.Set(set));
  return ReadRunConfig(config);
}

int RunPeer(const PeerOptions& options) {
  Result<RunConfig> loaded = LoadRunConfig(options.config_path, options.sets);
  if (!loaded.ok()) return Fail(loaded.status());
  const RunConfig& config = *loaded;
  const bool has_server = HasServer(config.protocol);
  const int64_t num_nodes = config.peers + (has_server ? 1 : 0);
  if (options.index < 0 || options.index >= num_nodes) {
    return Fail(Status::InvalidArgument("--index ", options.index, " is not in 0..",
                                        num_nodes - 1, " (", config.peers, " peers",
                                        has_server ? " and the server" : "", ")"));
  }
  const PeerId self(static_cast<uint32_t>(options.index));

  net::NetSecurity security{.identity = net::Identity::Generate()};
  {
    Result<net::Identity> identity = net::Identity::LoadOrCreate(options.key_path);
    if (!identity.ok()) return Fail(identity.status());
    security.identity = std::move(identity).value();
  }
  if (!options.network_key_path.empty()) {
    Result<net::NetworkKey> key = net::LoadNetworkKey(options.network_key_path);
    if (!key.ok()) return Fail(key.status());
    security.network_key = *key;
  } else {
    std::fprintf(stderr, "murmur peer: warning: no --network-key; any host that can reach %s "
                 "and knows the protocol can join\n", options.listen.c_str());
  }
  if (!options.allow_path.empty()) {
    Result<net::Allowlist> allow = net::Allowlist::Load(options.allow_path);
    if (!allow.ok()) return Fail(allow.status());
    security.allowlist = std::move(allow).value();
  }

  ConfigureTorchThreads(1);
  Result<TrainTestSplit> data = LoadRunData(config);
  if (!data.ok()) return Fail(data.status());
  Result<Partition> partition = PartitionDataset(data->train.labels, data->train.num_classes,
                                                 config.peers, config.data.partition,
                                                 config.seed);
  if (!partition.ok()) return Fail(partition.status());
  Result<std::unique_ptr<Model>> model = MakeRunModel(config, data->train);
  if (!model.ok()) return Fail(model.status());
  // The FedAvg server trains nothing; its learner only fills MakeProtocol's
  // slots (over peer 0's shard).
  const size_t shard = options.index < config.peers ? static_cast<size_t>(options.index) : 0;
  Result<std::vector<PeerId>> poisoners = DataPoisoners(config, data->train);
  if (!poisoners.ok()) return Fail(poisoners.status());
  Result<PeerLearner> learner =
      MakePeerLearner(config, **model, data->train, std::move((*partition)[shard]),
                      PeerId(shard), *poisoners);
  if (!learner.ok()) return Fail(learner.status());
  // MakeProtocol builds every peer's node; this process keeps only its own.
  // The others are destroyed before they ever run, so they may all point at
  // this peer's learner.
  std::vector<Learner*> learners(static_cast<size_t>(config.peers), learner->learner.get());
  if (Status s = LoadInitialModel(config, **model, {learners.data(), 1}); !s.ok()) return Fail(s);
  // Likewise every peer's validation split is this peer's own.
  std::vector<const Dataset*> validation(static_cast<size_t>(config.peers),
                                         learner->validation.get());
  Result<ProtocolSetup> setup =
      MakeProtocol(config.protocol, learners, **model, config.seed,
                   learner->validation != nullptr ? std::span<const Dataset* const>(validation)
                                                  : std::span<const Dataset* const>());
  if (!setup.ok()) return Fail(setup.status());
  std::unique_ptr<Node> node = std::move(setup->nodes[self.value]);
  setup->nodes.clear();
  const std::vector<PeerId> holders = setup->model_holders;
  const bool first_report = setup->round_model == RoundModel::kFirstReport;
  const std::vector<PeerId> evaluated =
      SampleEvaluatedPeers(holders, config.eval.peers, config.seed);
  const bool is_holder = std::find(holders.begin(), holders.end(), self) != holders.end();
  // The same names as the simulator's peers.csv.
  const bool is_byzantine =
      std::find(setup->byzantine.begin(), setup->byzantine.end(), self) != setup->byzantine.end();
  const std::string role = setup->server && *setup->server == self ? "server"
                           : is_byzantine                           ? "byzantine"
                           : setup->server                          ? "client"
                                                                    : "peer";
  const bool evaluates = std::find(evaluated.begin(), evaluated.end(), self) != evaluated.end();

  std::optional<MetricsWriter> writer;
  if (!options.out_dir.empty()) {
    Result<MetricsWriter> opened = MetricsWriter::Open(options.out_dir, config.resolved_toml);
    if (!opened.ok()) return Fail(opened.status());
    writer.emplace(std::move(opened).value());
  }
  Status write_status;
  ThreadPool pool(1);
  net::NetHost* host_view = nullptr;
  EvalCollector collector(
      **model, data->test, config.eval, config.protocol.rounds,
      evaluates ? std::vector<PeerId>{self} : std::vector<PeerId>{}, num_nodes, pool,
      [&host_view] {
        // Seconds since this node started, like the simulator's clock.
        return CollectorContext{.now = SimTime{0} + (host_view->now() - host_view->started_at()),
                                .bytes_sent = host_view->stats().bytes_sent,
                                .msgs_sent = host_view->stats().msgs_sent};
      },
      RunObserver{.on_row = [&](const EvalRow& row) {
        if (writer && write_status.ok()) write_status = writer->Append(row);
        if (!options.quiet) {
          std::fprintf(stderr, "[peer %u] round %lld acc %.4f loss %.4f %.1fs\n", self.value,
                       static_cast<long long>(row.round), row.acc_mean, row.loss_mean,
                       row.time_s);
        }
      }});
  PeerSink sink(*collector.SinkFor(self), config.protocol.rounds);

  net::NetOptions net_options;
  net_options.self = self;
  net_options.num_slots = static_cast<uint32_t>(num_nodes);
  net_options.listen = options.listen;
  net_options.advertise = options.advertise;
  net_options.bootstrap = options.bootstrap;
  net_options.seed = config.seed;
  net_options.start_timeout = Duration::Seconds(options.start_timeout_s);
  net_options.peer_timeout = Duration::Seconds(options.peer_timeout_s);
  net_options.heartbeat_interval = Duration::Seconds(std::min(0.5, options.peer_timeout_s / 4));
  net_options.handle_signals = true;
  Result<std::unique_ptr<net::NetHost>> created =
      net::NetHost::Create(net_options, std::move(security), sink);
  if (!created.ok()) return Fail(created.status());
  net::NetHost& host = **created;
  host_view = &host;
  std::printf("murmur peer %u %s listening on %s\n", self.value,
              net::PeerName(host.public_key()).c_str(), host.listen_address().c_str());
  std::fflush(stdout);

  // A model holder is done once it reported its last round's model; any
  // other peer (a federated client) once every holder has said bye. In a
  // first-report protocol (MoDeST) only the last round's aggregators report
  // it, so every other peer is done once one of them has finished and said
  // bye.
  auto done = [&] {
    if (is_holder && sink.final_reported()) return true;
    if (first_report) {
      return std::any_of(holders.begin(), holders.end(),
                         [&](PeerId h) { return h != self && host.said_bye(h); });
    }
    if (is_holder) return false;
    return std::all_of(holders.begin(), holders.end(),
                       [&](PeerId h) { return host.said_bye(h); });
  };
  const Status run = host.Run(*node, done);
  collector.Flush();
  const net::NetStats& stats = host.stats();
  if (!options.out_dir.empty()) {
    nlohmann::ordered_json j;
    j["peer"] = self.value;
    j["name"] = net::PeerName(host.public_key());
    j["role"] = role;
    j["finished"] = done();
    j["bytes_sent"] = stats.bytes_sent;
    j["msgs_sent"] = stats.msgs_sent;
    j["msgs_received"] = stats.msgs_received;
    j["bytes_received"] = stats.bytes_received;
    j["wire_bytes_sent"] = stats.wire_bytes_sent;
    j["wire_bytes_received"] = stats.wire_bytes_received;
    j["send_dropped"] = stats.send_dropped;
    j["handshakes"] = stats.handshakes;
    j["peers_down"] = stats.peers_down;
    j["dials"] = stats.dials;
    j["max_handshake_buffer"] = stats.max_handshake_buffer;
    j["counters"] = collector.counters();
    std::ofstream(options.out_dir + "/summary.json") << j.dump(2) << "\n";
  }
  if (!write_status.ok()) return Fail(write_status);
  const bool finished = done();
  std::printf("murmur peer %u %s\n", self.value,
              finished ? "finished" : ("stopped: " + run.ToString()).c_str());
  std::fflush(stdout);
  return finished ? 0 : kExitFailure;
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
  return peer;
}

int PeerCommand(const PeerOptions& options) { return RunPeer(options); }

}  // namespace murmur::cli
