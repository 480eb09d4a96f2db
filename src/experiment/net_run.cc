#include "murmur/experiment/net_run.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "murmur/core/snapshot.h"
#include "murmur/core/thread_pool.h"
#include "murmur/experiment/eval_collector.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/peer_data.h"
#include "murmur/experiment/peer_state.h"
#include "murmur/experiment/run_plan.h"
#include "murmur/experiment/run_setup.h"
#include "murmur/protocol/registry.h"
#include "murmur/runtime/secret_rng.h"
#include "peer_persist.h"

namespace murmur {
namespace {

// Forwards to the evaluation sink and notes when the node reported its
// model for the last round: a model holder's part of the run is then done.
// `at_round_boundary`, if set, is called after each reported model, or with
// PersistPoint::kTrainLossReport after each reported training loss (the
// node is between rounds then: its learner is not training). A peer resumed
// from its state at round `resumed_at` reports its models of that round and
// earlier again; their rows are in the metrics files already (kept up to
// the state's lengths, CutMetricsToState), so they are not evaluated again.
class PeerSink final : public MetricsSink {
 public:
  PeerSink(MetricsSink& inner, int64_t rounds, int64_t resumed_at,
           std::function<void(Round)> at_round_boundary, PersistPoint point)
      : inner_(inner), rounds_(rounds), resumed_at_(resumed_at),
        at_round_boundary_(std::move(at_round_boundary)), point_(point) {}
  void ReportModel(Round round, std::span<const float> params) override {
    if (round.value >= rounds_) final_reported_ = true;
    if (round.value > resumed_at_) inner_.ReportModel(round, params);
    if (at_round_boundary_ && point_ == PersistPoint::kModelReport) at_round_boundary_(round);
  }
  void ReportTrainLoss(Round round, double loss) override {
    inner_.ReportTrainLoss(round, loss);
    if (at_round_boundary_ && point_ == PersistPoint::kTrainLossReport) at_round_boundary_(round);
  }
  void Count(std::string_view name, int64_t delta) override { inner_.Count(name, delta); }
  bool final_reported() const { return final_reported_; }

 private:
  MetricsSink& inner_;
  const int64_t rounds_;
  const int64_t resumed_at_;
  const std::function<void(Round)> at_round_boundary_;
  const PersistPoint point_;
  bool final_reported_ = false;
};

// This process's share of the run: its data (peer_data.h), the model, its
// own learner and node. Held by pointer where the learner and node keep
// references.
struct OwnPeer {
  std::unique_ptr<PeerData> data;
  std::unique_ptr<Model> model;
  PeerLearner learner;
  std::unique_ptr<Node> node;
  ProtocolLayout layout;
  Node* persisted_node = nullptr;  // whose snapshot --persist-every writes (PersistedNode)
  PersistPoint persist_point = PersistPoint::kModelReport;
};

// Builds only this peer's node (the registry's one-peer builder), from the
// same run-wide state every process prepares. Every learner starts from
// peer 0's parameters when train.init = "same", or when all load the same
// whole checkpoint; `peer0` holds them (this peer's own learner when that is
// peer 0's, or when all start alike).
Status MakeOwnNode(const RunConfig& config, PeerId self, std::span<const float> peer0,
                   bool rejoin, Round start_round, bool persists, OwnPeer& own) {
  const bool shared_initial_model =
      config.train.same_init || (!config.init_checkpoint.empty() && !config.reinit_output);
  MURMUR_ASSIGN_OR_RETURN(ProtocolRun run,
                          PrepareProtocolRun(config.protocol, *own.model, config.peers,
                                             config.seed, shared_initial_model));
  own.layout = LayoutOf(run);
  const bool is_server = own.layout.server == self;
  MURMUR_ASSIGN_OR_RETURN(
      own.node, MakePeerNode(run, PeerContext{.id = self,
                                              .learner = is_server ? nullptr
                                                                   : own.learner.learner.get(),
                                              .initial_params = peer0,
                                              .validation = own.learner.validation.get(),
                                              .rejoin = rejoin,
                                              .start_round = start_round,
                                              .persists = persists}));
  return Status::Ok();
}

// Peer 0's initial parameters, for a peer whose own start may differ from
// them (train.init = "independent"): built from peer 0's shard and seed
// exactly as peer 0 builds them.
Result<std::vector<float>> Peer0InitialParams(const RunConfig& config, const Model& model,
                                              const Dataset& train,
                                              std::vector<int64_t> shard0,
                                              std::span<const PeerId> poisoners) {
  MURMUR_ASSIGN_OR_RETURN(PeerLearner peer0, MakePeerLearner(config, model, train,
                                                             std::move(shard0), PeerId(0),
                                                             poisoners));
  Learner* learner = peer0.learner.get();
  MURMUR_RETURN_IF_ERROR(LoadInitialModel(config, model, {&learner, 1}));
  std::span<const float> p = std::as_const(*learner).params();
  return std::vector<float>(p.begin(), p.end());
}

// `resumed`, when given, is this peer's persisted state: its learner is
// restored and its node, as its PersistMode says, starts at the state's
// round (kByRound: D-PSGD, Epidemic Learning, DFedSAM), from its restored
// snapshot (kBySnapshot: gossip, SGP, a FedAvg server) or afresh (a FedAvg
// client). `persists`: the peer writes its state
// (NetRunOptions::persist_every); kInvalidArgument when its node cannot.
Result<OwnPeer> BuildOwnPeer(const RunConfig& config, PeerId self, bool rejoin,
                             const PeerState* resumed, bool persists) {
  OwnPeer own;
  // A server trains nothing; its learner only fills the protocol's slots
  // (over peer 0's shard).
  const uint32_t shard = self.value < config.peers ? self.value : 0;
  // Peer 0's shard, read only when this peer must rebuild peer 0's start.
  const bool needs_peer0 = shard != 0 && !config.train.same_init;
  MURMUR_ASSIGN_OR_RETURN(PeerData data, LoadPeerData(config, shard, needs_peer0));
  own.data = std::make_unique<PeerData>(std::move(data));
  const Dataset& train = own.data->train;
  MURMUR_ASSIGN_OR_RETURN(own.model, MakeRunModel(config, train));
  MURMUR_ASSIGN_OR_RETURN(std::vector<PeerId> poisoners, DataPoisoners(config, train));
  std::vector<int64_t> shard0 = std::move(own.data->peer0);
  // DP-SGD's sampling and noise from keys only this process holds: every
  // peer has the run seed (docs/privacy.md, threat model).
  MURMUR_ASSIGN_OR_RETURN(
      own.learner, MakePeerLearner(config, *own.model, train, std::move(own.data->own),
                                   PeerId(shard), poisoners,
                                   DpSgdStreams{.sampling = net::SecretRng(),
                                                .noise = net::SecretRng()}));
  Learner* learner = own.learner.learner.get();
  MURMUR_RETURN_IF_ERROR(LoadInitialModel(config, *own.model, {&learner, 1}));
  Round start_round{0};
  if (resumed != nullptr) {
    if (Status s = RestoreLearner(resumed->learner, *learner); !s.ok()) {
      return Status::InvalidArgument("'", kPeerStateFileName, "' does not fit this peer's ",
                                     "learner (", s.message(), "): move it away to start this "
                                     "peer from round 0");
    }
    start_round = Round(static_cast<uint32_t>(resumed->round));
  }
  std::vector<float> peer0;
  if (needs_peer0) {
    MURMUR_ASSIGN_OR_RETURN(peer0, Peer0InitialParams(config, *own.model, train,
                                                      std::move(shard0), poisoners));
  }
  MURMUR_RETURN_IF_ERROR(MakeOwnNode(
      config, self, peer0.empty() ? std::as_const(*learner).params() : std::span<const float>(peer0),
      rejoin, start_round, persists, own));
  if (persists) {
    MURMUR_ASSIGN_OR_RETURN(PersistedNode how, PersistedNodeOf(config, self, *own.node, *learner));
    own.persisted_node = how.node;
    own.persist_point = how.point;
    Status restored = Status::Ok();
    if (resumed != nullptr && how.node != nullptr) {
      restored = RestoreNode(resumed->node, *how.node);
    } else if (resumed != nullptr && !resumed->node.empty()) {
      restored = Status::Corrupt("a node state of ", resumed->node.size(), " bytes, where "
                                 "this protocol keeps none");
    }
    if (!restored.ok()) {
      return Status::InvalidArgument("'", kPeerStateFileName, "' does not fit this peer's node (",
                                     restored.message(), "): move it away to start this peer "
                                     "from round 0");
    }
  }
  return own;
}

// When this node's part of the run is done (see RunNetPeer).
bool Done(const RunPlan& plan, PeerId self, const PeerSink& sink, const net::NetHost& host) {
  if (plan.IsHolder(self) && sink.final_reported()) return true;
  if (plan.first_report) {
    return std::any_of(plan.holders.begin(), plan.holders.end(),
                       [&](PeerId h) { return h != self && host.said_bye(h); });
  }
  if (plan.IsHolder(self)) return false;
  return std::all_of(plan.holders.begin(), plan.holders.end(),
                     [&](PeerId h) { return host.said_bye(h); });
}

Status WritePeerSummary(const std::string& dir, const RunConfig& config, const RunPlan& plan,
                        PeerId self, const net::NetHost& host, bool finished,
                        const std::map<std::string, int64_t>& counters) {
  std::optional<double> epsilon;
  // DP-SGD's part counts the steps this peer's learner took; RQM's part
  // (when it also applies, the smaller of the two bounds) the rounds: the
  // whole run's, an upper bound for a peer that stopped early.
  if (config.train.dp_sgd.enabled && plan.epsilon_of_round) {
    epsilon = plan.epsilon_of_round(config.protocol.rounds);
  }
  const net::NetStats& stats = host.stats();
  NodeSummary summary{
      .peer = self,
      .name = net::PeerName(host.public_key()),
      .role = plan.roles[self.value],
      .finished = finished,
      .first_report = plan.first_report,
      .traffic = PeerTraffic{.bytes_sent = stats.bytes_sent,
                             .bytes_received = stats.bytes_received,
                             .msgs_sent = stats.msgs_sent,
                             .msgs_received = stats.msgs_received},
      .transport = {{"wire_bytes_sent", stats.wire_bytes_sent},
                    {"wire_bytes_received", stats.wire_bytes_received},
                    {"send_dropped", stats.send_dropped},
                    {"handshakes", stats.handshakes},
                    {"peers_down", stats.peers_down},
                    {"dials", stats.dials},
                    {"max_handshake_buffer", stats.max_handshake_buffer},
                    {"cookie_replies", stats.cookie_replies},
                    {"cookies_accepted", stats.cookies_accepted},
                    {"hello_key_exchanges", stats.hello_key_exchanges},
                    {"shm_links", stats.shm_links},
                    {"shm_failures", stats.shm_failures}},
      .counters = counters,
      .epsilon = epsilon};
  return WriteNodeSummary(dir, summary);
}

// Runs this peer's node until the run is done for it (Done) or the node
// halts; a peer resumed at the run's last round (`resumed_at` >= rounds)
// does not run, unless others wait for its Bye.
NetRunResult RunOwnNode(int64_t rounds, const RunPlan& plan, PeerId self, int64_t num_nodes,
                        int64_t resumed_at, Node& node, net::NetHost& host, PeerSink& sink,
                        EvalCollector& collector) {
  NetRunResult result;
  const bool at_last_round = resumed_at >= rounds;
  // Peers that hold no model finish once every holder said Bye (Done): a
  // holder restarted at the last round (a FedAvg server) must still say it.
  const bool others_await_bye =
      plan.IsHolder(self) && plan.holders.size() < static_cast<size_t>(num_nodes);
  if (at_last_round && !others_await_bye) {
    // Its state is of the last round: its rows are in the files and it sent
    // its last messages before the save (but a FedAvg client's last update,
    // which its server stopped waiting for when it went down). It does not
    // wait --start-timeout for peers that may be gone, then run alone.
    std::fprintf(stderr, "[peer %u] its state is of the run's last round: nothing left to do\n",
                 self.value);
    result.finished = true;
  } else {
    if (at_last_round) {
      std::fprintf(stderr, "[peer %u] its state is of the run's last round: saying bye to the "
                   "peers that wait for it\n", self.value);
    }
    // A node that halted (an evicted DiLoCo peer that cannot resync) will
    // never report its last round: end the run with its reason, not wait.
    // At the last round the host stops as soon as the node starts (the
    // links are up), saying Bye; the node's start sends nothing then (a
    // FedAvg server at its last round starts no round).
    result.run = host.Run(node, [&] {
      return at_last_round || !node.Halted().ok() || Done(plan, self, sink, host);
    });
    collector.Flush();
    result.finished =
        at_last_round || (node.Halted().ok() && Done(plan, self, sink, host));
  }
  if (!node.Halted().ok()) result.run = node.Halted();
  return result;
}

}  // namespace

Status CheckNetRunConfig(const RunConfig& config) {
  for (const auto& [key, path] : {std::pair{"train.save_checkpoint", &config.train.save_checkpoint},
                                   std::pair{"train.export_model", &config.train.export_model}}) {
    if (path->empty()) continue;
    return Status::InvalidArgument(key, " is written by `murmur run` (the mean of every peer's "
                                   "model); a network peer sees only its own: drop the key");
  }
  const char* key = config.sim.budget.time_s > 0  ? "sim.budget_time_s"
                    : config.sim.budget.bytes > 0 ? "sim.budget_bytes"
                    : config.eval.target_acc      ? "eval.target_acc"
                                                  : nullptr;
  if (key != nullptr) {
    return Status::InvalidArgument(
        "config key '", key, "' applies to simulated runs only (murmur run); a network run ends "
        "by protocol.rounds: remove the key");
  }
  // Before any process loads data: `murmur launch` would otherwise see its
  // peers exit before listening (exit 1) instead of this error (exit 2).
  return CheckRobustRuleFits(config.protocol, config.peers, config.seed);
}

Result<NetRunResult> RunNetPeer(const RunConfig& config, NetRunOptions options,
                                net::NetSecurity security) {
  MURMUR_RETURN_IF_ERROR(CheckNetRunConfig(config));
  const int64_t num_nodes = config.peers + (HasServer(config.protocol) ? 1 : 0);
  if (options.index < 0 || options.index >= num_nodes) {
    return Status::InvalidArgument("--index ", options.index, " is not in 0..", num_nodes - 1,
                                   " (", config.peers, " peers",
                                   num_nodes > config.peers ? " and the server" : "", ")");
  }
  const PeerId self(static_cast<uint32_t>(options.index));
  ConfigureTorchThreads(1);
  std::optional<PeerState> resumed;
  if (options.persist_every > 0) {
    MURMUR_RETURN_IF_ERROR(CheckPersistable(config, options));
    MURMUR_ASSIGN_OR_RETURN(resumed, LoadPersisted(config, options, self));
  }
  MURMUR_ASSIGN_OR_RETURN(OwnPeer own, BuildOwnPeer(config, self, options.rejoin,
                                                    resumed ? &*resumed : nullptr,
                                                    options.persist_every > 0));
  const int64_t start_round = resumed ? resumed->round : 0;
  const int64_t resumed_at = resumed ? start_round : -1;
  if (resumed) {
    MURMUR_RETURN_IF_ERROR(CutMetricsToState(options.out_dir, *resumed));
    std::fprintf(stderr, "[peer %u] resumed at round %lld from %s/%s\n", self.value,
                 static_cast<long long>(start_round), options.out_dir.c_str(), kPeerStateFileName);
  }
  resumed.reset();
  RunPlan plan = PlanRun(config, own.layout);
  if (plan.Evaluates(self)) {
    MURMUR_RETURN_IF_ERROR(LoadPeerTestSet(config, *own.data));
  } else {
    DropPeerTestSet(*own.data);
  }
  // DP-SGD: a peer reports its own sample-level epsilon; the server trains
  // nothing and reports none (`murmur launch` takes the peers' largest).
  if (config.train.dp_sgd.enabled && self.value < config.peers) {
    plan.epsilon_of_round = SmallerEpsilon(DpSgdEpsilonOf(config, {own.learner.learner.get()}),
                                           RqmEpsilonOfRound(config, own.layout.model_dimension));
  }

  std::optional<MetricsWriter> writer;
  if (!options.out_dir.empty()) {
    MURMUR_ASSIGN_OR_RETURN(MetricsWriter opened,
                            MetricsWriter::OpenAppending(options.out_dir, config.resolved_toml));
    writer.emplace(std::move(opened));
  }
  const MetricsWriter::EarlierLife earlier = writer ? writer->earlier() : MetricsWriter::EarlierLife{};
  Status write_status;
  ThreadPool pool(1);
  net::NetHost* host_view = nullptr;
  EvalCollector collector(
      *own.model, own.data->test, config.eval, config.protocol.rounds,
      plan.Evaluates(self) ? std::vector<PeerId>{self} : std::vector<PeerId>{}, num_nodes, pool,
      [&host_view, earlier] {
        // Seconds since this node started, like the simulator's clock; the
        // traffic is this peer's own (`murmur launch` adds the peers up).
        // A restarted peer counts on from its earlier lives (time since the
        // first one started, their traffic), so its columns never go back.
        const net::NetStats& s = host_view->stats();
        const Duration since_start = host_view->now() - host_view->started_at();
        return CollectorContext{
            .now = SimTime{0} + Duration::Seconds(earlier.seconds) + since_start,
            .bytes_sent = earlier.bytes_sent + s.bytes_sent,
            .msgs_sent = earlier.msgs_sent + s.msgs_sent,
            .bytes_received = earlier.bytes_received + s.bytes_received,
            .max_peer_bytes = earlier.max_peer_bytes + s.bytes_sent + s.bytes_received};
      },
      RunObserver{.on_row = [&](const EvalRow& row) {
        if (writer && write_status.ok()) write_status = writer->Append(row);
        if (!options.quiet) {
          std::fprintf(stderr, "[peer %u] round %lld acc %.4f loss %.4f %.1fs\n", self.value,
                       static_cast<long long>(row.round), row.acc_mean, row.loss_mean,
                       row.time_s);
        }
      }});
  if (plan.epsilon_of_round) collector.SetEpsilonOfRound(plan.epsilon_of_round);
  Status persist_status;
  std::function<void(Round)> persist =
      PersistHook(config, options, self, own.learner.learner.get(), own.persisted_node,
                  writer ? &*writer : nullptr, start_round, &persist_status);
  PeerSink sink(*collector.SinkFor(self), config.protocol.rounds, resumed_at, std::move(persist),
                own.persist_point);

  options.net.self = self;
  options.net.num_slots = static_cast<uint32_t>(num_nodes);
  options.net.seed = config.seed;
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<net::NetHost> host,
                          net::NetHost::Create(options.net, std::move(security), sink));
  host_view = host.get();
  if (options.on_listening) options.on_listening(*host);

  NetRunResult result = RunOwnNode(config.protocol.rounds, plan, self, num_nodes, resumed_at,
                                   *own.node, *host, sink, collector);
  if (!options.out_dir.empty()) {
    MURMUR_RETURN_IF_ERROR(WritePeerSummary(options.out_dir, config, plan, self, *host,
                                          result.finished, collector.counters()));
  }
  MURMUR_RETURN_IF_ERROR(write_status);
  MURMUR_RETURN_IF_ERROR(persist_status);
  return result;
}

}  // namespace murmur
