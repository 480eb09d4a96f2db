#include "murmur/experiment/run_config.h"

#include "murmur/compress/codec.h"
#include "experiment/robust_config.h"

namespace murmur {
namespace {

// A codec chain under `key`: kInvalidArgument names the key and MakeCodec's
// reason.
Status CheckCodecKey(std::string_view key, const std::string& spec,
                     Status (*check)(std::string_view)) {
  if (Status s = check(spec); !s.ok()) {
    return Status::InvalidArgument("config key '", key, "' = \"", spec, "\": ", s.message());
  }
  return Status::Ok();
}

Status ReadCompressConfig(ConfigReader& r, CompressConfig& c) {
  auto is_codec = [](std::string_view spec) { return MakeCodec(spec).status(); };
  MURMUR_ASSIGN_OR_RETURN(c.codec, r.String("compress.codec", c.codec));
  MURMUR_RETURN_IF_ERROR(CheckCodecKey("compress.codec", c.codec, is_codec));
  MURMUR_ASSIGN_OR_RETURN(c.uplink, r.String("compress.uplink", c.uplink));
  MURMUR_RETURN_IF_ERROR(CheckCodecKey("compress.uplink", c.uplink, is_codec));
  MURMUR_ASSIGN_OR_RETURN(c.downlink, r.String("compress.downlink", c.downlink));
  MURMUR_RETURN_IF_ERROR(CheckCodecKey("compress.downlink", c.downlink, CheckDownlinkSpec));
  MURMUR_ASSIGN_OR_RETURN(std::string feedback,
                          r.String("compress.error_feedback", "none",
                                   {"none", "ef", "ef21", "econtrol"}));
  MURMUR_ASSIGN_OR_RETURN(c.error_feedback, ParseErrorFeedbackKind(feedback));
  MURMUR_ASSIGN_OR_RETURN(c.econtrol_eta,
                          r.Double("compress.econtrol_eta", c.econtrol_eta, 0, 1e3));
  return Status::Ok();
}

}  // namespace

Result<RunConfig> ReadRunConfig(const Config& config) {
  ConfigReader r(config);
  RunConfig c;
  MURMUR_ASSIGN_OR_RETURN(int64_t seed, r.Int("seed", static_cast<int64_t>(c.seed), 0));
  c.seed = static_cast<uint64_t>(seed);
  MURMUR_ASSIGN_OR_RETURN(c.peers, r.Int("peers", c.peers, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.threads, r.Int("threads", c.threads, 0, 1024));

  // [data]
  MURMUR_ASSIGN_OR_RETURN(std::string dataset,
                          r.String("data.dataset", "fashion-mnist",
                                   {"fashion-mnist", "synthetic", "fortunes"}));
  c.data.dataset = dataset == "synthetic" ? DatasetKind::kSynthetic
                                          : DatasetKind::kFashionMnist;
  if (dataset == "fortunes") {
    c.data.dataset = DatasetKind::kFortunes;
    c.data.path = std::string(kFortunesDir) + "/fortunes";
  }
  MURMUR_ASSIGN_OR_RETURN(c.data.path, r.String("data.path", c.data.path));
  MURMUR_ASSIGN_OR_RETURN(std::string partition,
                          r.String("data.partition", "iid",
                                   {"iid", "dirichlet", "shards"}));
  c.data.partition.kind = partition == "dirichlet" ? PartitionKind::kDirichlet
                          : partition == "shards"  ? PartitionKind::kShards
                                                   : PartitionKind::kIid;
  MURMUR_ASSIGN_OR_RETURN(c.data.partition.alpha,
                          r.Double("data.alpha", c.data.partition.alpha, 1e-6, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.data.partition.min_samples_per_peer,
                          r.Int("data.min_samples_per_peer",
                                c.data.partition.min_samples_per_peer, 0, 1'000'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.data.partition.shards_per_peer,
                          r.Int("data.shards_per_peer", c.data.partition.shards_per_peer, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.data.synthetic_train,
                          r.Int("data.synthetic_train", c.data.synthetic_train, 1, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.data.synthetic_test,
                          r.Int("data.synthetic_test", c.data.synthetic_test, 1, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.data.synthetic_noise,
                          r.Double("data.synthetic_noise", c.data.synthetic_noise, 0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(c.data.text.context, r.Int("data.context", c.data.text.context, 1, 4096));
  MURMUR_ASSIGN_OR_RETURN(c.data.text.seq_len, r.Int("data.seq_len", c.data.text.seq_len, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.data.text.test_every,
                          r.Int("data.test_every", c.data.text.test_every, 2, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.data.validation_fraction,
                          r.Double("data.validation_fraction", c.data.validation_fraction, 0, 0.9));

  // [model]
  MURMUR_ASSIGN_OR_RETURN(std::string model,
                          r.String("model.kind", "mlp", {"logreg", "mlp", "cnn", "charmlp"}));
  c.model.kind = model == "logreg"    ? ModelKind::kLogisticRegression
                 : model == "cnn"     ? ModelKind::kCnn
                 : model == "charmlp" ? ModelKind::kCharMlp
                                      : ModelKind::kMlp;
  MURMUR_ASSIGN_OR_RETURN(std::string model_init,
                          r.String("model.init", "kaiming", {"kaiming", "xavier"}));
  c.model.init = model_init == "xavier" ? InitScheme::kXavierUniform : InitScheme::kKaimingUniform;
  MURMUR_ASSIGN_OR_RETURN(c.model.hidden,
                          r.IntList("model.hidden", c.model.hidden, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.model.embedding_dim,
                          r.Int("model.embedding", c.model.embedding_dim, 1, 4096));
  MURMUR_ASSIGN_OR_RETURN(c.init_checkpoint, r.String("model.init_checkpoint", ""));
  MURMUR_ASSIGN_OR_RETURN(c.reinit_output, r.Bool("model.reinit_output", c.reinit_output));

  // [train]
  MURMUR_ASSIGN_OR_RETURN(std::string optimizer,
                          r.String("train.optimizer", "sgd", {"sgd", "adam"}));
  c.train.optimizer.kind =
      optimizer == "adam" ? OptimizerKind::kAdam : OptimizerKind::kSgd;
  MURMUR_ASSIGN_OR_RETURN(c.train.optimizer.lr, r.Double("train.lr", c.train.optimizer.lr, 0, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.train.optimizer.momentum,
                          r.Double("train.momentum", c.train.optimizer.momentum, 0, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(c.train.optimizer.weight_decay,
                          r.Double("train.weight_decay", c.train.optimizer.weight_decay, 0, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.train.optimizer.sam_rho,
                          r.Double("train.sam_rho", c.train.optimizer.sam_rho, 0, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.train.batch_size, r.Int("train.batch_size", c.train.batch_size, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(std::string init,
                          r.String("train.init", "same", {"same", "independent"}));
  c.train.same_init = init == "same";
  MURMUR_ASSIGN_OR_RETURN(c.train.save_checkpoint, r.String("train.save_checkpoint", ""));
  MURMUR_ASSIGN_OR_RETURN(std::string trainable,
                          r.String("train.trainable", "all", {"all", "output"}));
  c.train.output_layer_only = trainable == "output";
  c.protocol.exchange_output_layer = c.train.output_layer_only;

  // [protocol]
  MURMUR_ASSIGN_OR_RETURN(std::string kind,
                          r.String("protocol.kind", "dpsgd",
                                   {"dpsgd", "fedavg", "gossip", "choco", "fedprox", "fedasync",
                                    "fedbuff", "fedcompass", "modest", "epidemic", "dfedsam",
                                    "spsa"}));
  c.protocol.kind = kind == "fedavg"       ? ProtocolKind::kFedAvg
                    : kind == "gossip"     ? ProtocolKind::kGossip
                    : kind == "choco"      ? ProtocolKind::kChoco
                    : kind == "fedprox"    ? ProtocolKind::kFedProx
                    : kind == "fedasync"   ? ProtocolKind::kFedAsync
                    : kind == "fedbuff"    ? ProtocolKind::kFedBuff
                    : kind == "fedcompass" ? ProtocolKind::kFedCompass
                    : kind == "modest"     ? ProtocolKind::kModest
                    : kind == "epidemic"   ? ProtocolKind::kEpidemic
                    : kind == "dfedsam"    ? ProtocolKind::kDfedsam
                    : kind == "spsa"       ? ProtocolKind::kSpsa
                                           : ProtocolKind::kDpsgd;
  MURMUR_ASSIGN_OR_RETURN(c.protocol.rounds, r.Int("protocol.rounds", c.protocol.rounds, 0, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.local_steps,
                          r.Int("protocol.local_steps", c.protocol.local_steps, 0, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.round_timeout_s,
                          r.Double("protocol.round_timeout_s", c.protocol.round_timeout_s, 0, 1e9));
  MURMUR_ASSIGN_OR_RETURN(std::string topology,
                          r.String("protocol.topology", "ring",
                                   {"ring", "torus", "full", "regular", "erdos-renyi",
                                    "exponential", "edge-list"}));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.topology.kind, ParseTopologyKind(topology));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.topology.degree,
                          r.Int("protocol.degree", c.protocol.topology.degree, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.topology.edge_prob,
                          r.Double("protocol.edge_prob", c.protocol.topology.edge_prob, 1e-9, 1.0));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.topology.edge_list_path,
                          r.String("protocol.edge_list", c.protocol.topology.edge_list_path));
  if (c.protocol.topology.kind == TopologyKind::kEdgeList &&
      c.protocol.topology.edge_list_path.empty()) {
    return Status::InvalidArgument(
        "config key 'protocol.topology' = \"edge-list\" needs 'protocol.edge_list' "
        "set to a file of \"u v\" lines");
  }
  MURMUR_ASSIGN_OR_RETURN(c.protocol.client_fraction,
                          r.Double("protocol.client_fraction", c.protocol.client_fraction, 1e-9, 1.0));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.local_epochs,
                          r.Int("protocol.local_epochs", c.protocol.local_epochs, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.gossip_period_s,
                          r.Double("protocol.gossip_period_s", c.protocol.gossip_period_s, 1e-6, 1e9));
  // Server optimizers and asynchronous federated learning (docs/protocols/).
  ServerOptimizerConfig& server_opt = c.protocol.server_optimizer;
  MURMUR_ASSIGN_OR_RETURN(std::string server_optimizer,
                          r.String("protocol.server_optimizer", "fedavg",
                                   {"fedavg", "sgd", "adagrad", "adam", "yogi"}));
  MURMUR_ASSIGN_OR_RETURN(server_opt.kind, ParseServerOptimizerKind(server_optimizer));
  MURMUR_ASSIGN_OR_RETURN(server_opt.lr, r.Double("protocol.server_lr", server_opt.lr, 1e-9, 1e3));
  MURMUR_ASSIGN_OR_RETURN(server_opt.momentum,
                          r.Double("protocol.server_momentum", server_opt.momentum, 0, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(server_opt.beta1,
                          r.Double("protocol.server_beta1", server_opt.beta1, 0, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(server_opt.beta2,
                          r.Double("protocol.server_beta2", server_opt.beta2, 0, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(server_opt.tau, r.Double("protocol.server_tau", server_opt.tau, 1e-12, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.proximal_mu,
                          r.Double("protocol.proximal_mu", c.protocol.proximal_mu, 0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.local_time_budget_s,
                          r.Double("protocol.local_time_budget_s", c.protocol.local_time_budget_s, 0, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.async_alpha,
                          r.Double("protocol.async_alpha", c.protocol.async_alpha, 1e-9, 1.0));
  MURMUR_ASSIGN_OR_RETURN(std::string staleness,
                          r.String("protocol.staleness", "polynomial",
                                   {"constant", "polynomial", "hinge"}));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.staleness.kind, ParseStalenessKind(staleness));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.staleness.a,
                          r.Double("protocol.staleness_a", c.protocol.staleness.a, 0, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.staleness.b,
                          r.Int("protocol.staleness_b", c.protocol.staleness.b, 0, 1'000'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.buffer_size,
                          r.Int("protocol.buffer_size", c.protocol.buffer_size, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.max_concurrency,
                          r.Int("protocol.max_concurrency", c.protocol.max_concurrency, 0, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.compass_min_steps,
                          r.Int("protocol.compass_min_steps", c.protocol.compass_min_steps, 1, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.compass_lambda,
                          r.Double("protocol.compass_lambda", c.protocol.compass_lambda, 1, 1e3));
  if (c.protocol.kind == ProtocolKind::kFedCompass &&
      c.protocol.compass_min_steps > c.protocol.local_steps) {
    return Status::InvalidArgument("config key 'protocol.compass_min_steps' = ",
                                   c.protocol.compass_min_steps,
                                   " exceeds 'protocol.local_steps' = ", c.protocol.local_steps,
                                   " (FedCompass's most steps per task)");
  }
  MURMUR_ASSIGN_OR_RETURN(std::string merge,
                          r.String("protocol.merge", "average", {"average", "variance_corrected"}));
  c.protocol.merge =
      merge == "variance_corrected" ? MergeRule::kVarianceCorrected : MergeRule::kAverage;
  MURMUR_ASSIGN_OR_RETURN(std::string schedule,
                          r.String("protocol.comm_schedule", "every_round", {"every_round", "late"}));
  c.protocol.comm_schedule =
      schedule == "late" ? CommSchedule::kLate : CommSchedule::kEveryRound;
  MURMUR_ASSIGN_OR_RETURN(c.protocol.comm_budget,
                          r.Int("protocol.comm_budget", c.protocol.comm_budget, 0, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.final_merge,
                          r.Bool("protocol.final_merge", c.protocol.final_merge));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.modest_trainers,
                          r.Int("protocol.modest_trainers", c.protocol.modest_trainers, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.modest_aggregators,
                          r.Int("protocol.modest_aggregators", c.protocol.modest_aggregators, 1,
                                1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.modest_success_fraction,
                          r.Double("protocol.modest_success_fraction",
                                   c.protocol.modest_success_fraction, 1e-6, 1.0));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.modest_ping_timeout_s,
                          r.Double("protocol.modest_ping_timeout_s",
                                   c.protocol.modest_ping_timeout_s, 1e-6, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.epidemic_fanout,
                          r.Int("protocol.epidemic_fanout", c.protocol.epidemic_fanout, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.protocol.gossip_steps,
                          r.Int("protocol.gossip_steps", c.protocol.gossip_steps, 1, 1'000'000));
  if (c.protocol.kind == ProtocolKind::kDfedsam && c.train.optimizer.sam_rho == 0) {
    return Status::InvalidArgument(
        "protocol.kind = \"dfedsam\" takes sharpness-aware steps: set train.sam_rho > 0 "
        "(the paper uses values around 0.01-0.1)");
  }
  if (c.protocol.comm_schedule == CommSchedule::kLate && c.protocol.comm_budget == 0 &&
      !c.protocol.final_merge) {
    return Status::InvalidArgument(
        "protocol.comm_schedule = \"late\" with protocol.comm_budget = 0 and no "
        "protocol.final_merge never communicates: set protocol.comm_budget > 0");
  }

  MURMUR_ASSIGN_OR_RETURN(c.protocol.choco_gamma,
                          r.Double("protocol.choco_gamma", c.protocol.choco_gamma, 1e-9, 1.0));

  // [compress]
  MURMUR_RETURN_IF_ERROR(ReadCompressConfig(r, c.protocol.compress));

  // [robust] and [byzantine]
  MURMUR_RETURN_IF_ERROR(ReadRobustConfig(r, c.peers, c.protocol));

  // [spsa]
  SpsaConfig& spsa = c.protocol.spsa;
  MURMUR_ASSIGN_OR_RETURN(std::string spsa_mode,
                          r.String("spsa.mode", "broadcast", {"broadcast", "fedkseed"}));
  spsa.mode = spsa_mode == "fedkseed" ? SpsaConfig::Mode::kFedKSeed : SpsaConfig::Mode::kBroadcast;
  MURMUR_ASSIGN_OR_RETURN(spsa.eps, r.Double("spsa.eps", spsa.eps, 1e-9, 1e3));
  MURMUR_ASSIGN_OR_RETURN(spsa.lr, r.Double("spsa.lr", spsa.lr, 0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(spsa.clip, r.Double("spsa.clip", spsa.clip, 1e-9, 1e9));
  MURMUR_ASSIGN_OR_RETURN(std::string noise,
                          r.String("spsa.noise", "rademacher", {"rademacher", "gaussian"}));
  spsa.noise = noise == "gaussian" ? NoiseKind::kGaussian : NoiseKind::kRademacher;
  MURMUR_ASSIGN_OR_RETURN(spsa.seed_pool, r.Int("spsa.seed_pool", spsa.seed_pool, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(std::string sampling,
                          r.String("spsa.sampling", "uniform", {"uniform", "importance"}));
  spsa.sampling = sampling == "importance" ? SeedSampling::kImportance : SeedSampling::kUniform;
  MURMUR_ASSIGN_OR_RETURN(spsa.importance_alpha,
                          r.Double("spsa.importance_alpha", spsa.importance_alpha, 0, 100));

  // [sim]
  MURMUR_ASSIGN_OR_RETURN(double latency_ms, r.Double("sim.latency_ms", c.sim.link.latency_s * 1000, 0, 1e9));
  c.sim.link.latency_s = latency_ms / 1000;
  MURMUR_ASSIGN_OR_RETURN(c.sim.link.bandwidth_mbps,
                          r.Double("sim.bandwidth_mbps", c.sim.link.bandwidth_mbps, 1e-6, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.sim.link.loss, r.Double("sim.loss", c.sim.link.loss, 0, 1));
  MURMUR_ASSIGN_OR_RETURN(c.sim.device.gflops, r.Double("sim.gflops", c.sim.device.gflops, 1e-6, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.sim.device.speed_sigma, r.Double("sim.speed_sigma", c.sim.device.speed_sigma, 0, 3));
  MURMUR_ASSIGN_OR_RETURN(c.sim.churn.mean_online_s,
                          r.Double("sim.churn_mean_online_s", c.sim.churn.mean_online_s, 0, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.sim.churn.mean_offline_s,
                          r.Double("sim.churn_mean_offline_s", c.sim.churn.mean_offline_s, 1e-6, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.sim.max_time_s, r.Double("sim.max_time_s", c.sim.max_time_s, 0, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.sim.crash.fraction,
                          r.Double("sim.crash_fraction", c.sim.crash.fraction, 0, 1));
  MURMUR_ASSIGN_OR_RETURN(c.sim.crash.at_s, r.Double("sim.crash_at_s", c.sim.crash.at_s, 0, 1e9));

  // [eval]
  MURMUR_ASSIGN_OR_RETURN(c.eval.every, r.Int("eval.every", c.eval.every, 1, 1'000'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.eval.peers, r.Int("eval.peers", c.eval.peers, 0, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.eval.test_samples,
                          r.Int("eval.test_samples", c.eval.test_samples, 0, 1'000'000'000));

  MURMUR_RETURN_IF_ERROR(r.CheckNoUnknownKeys());
  if (c.protocol.round_timeout_s == 0 && c.protocol.kind != ProtocolKind::kGossip &&
      (c.sim.link.loss > 0 || c.sim.churn.mean_online_s > 0 || c.sim.crash.fraction > 0)) {
    return Status::InvalidArgument(
        "protocol.round_timeout_s = 0 waits forever for every message, but sim.loss or "
        "sim.churn_mean_online_s makes some messages never arrive: set "
        "protocol.round_timeout_s > 0");
  }
  c.resolved_toml = r.ResolvedToml();
  return c;
}

}  // namespace murmur
