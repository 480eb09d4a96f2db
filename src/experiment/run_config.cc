#include "murmur/experiment/run_config.h"

#include <filesystem>

#include "murmur/protocol/registry.h"
#include "experiment/privacy_config.h"
#include "experiment/robust_config.h"

namespace murmur {
namespace {

// [data]: the dataset, its path and partition.
Status ReadDataSection(ConfigReader& r, RunConfig& c) {
  MURMUR_ASSIGN_OR_RETURN(
      std::string dataset,
      r.String("data.dataset", "fashion-mnist",
               {"fashion-mnist", "synthetic", "fortunes", "npz", "leaf", "cifar10"}));
  c.data.dataset = dataset == "synthetic" ? DatasetKind::kSynthetic
                                          : DatasetKind::kFashionMnist;
  if (dataset == "fortunes") {
    c.data.dataset = DatasetKind::kFortunes;
    c.data.path = std::string(kFortunesDir) + "/fortunes";
  }
  // Bring-your-own data: no default location, data.path is required.
  const bool needs_path = dataset == "npz" || dataset == "leaf" || dataset == "cifar10";
  if (needs_path) {
    c.data.dataset = dataset == "npz"    ? DatasetKind::kNpz
                     : dataset == "leaf" ? DatasetKind::kLeaf
                                         : DatasetKind::kCifar10;
    c.data.path.clear();
  }
  MURMUR_ASSIGN_OR_RETURN(c.data.path, r.String("data.path", c.data.path));
  if (needs_path && c.data.path.empty()) {
    return Status::InvalidArgument(
        "data.path: data.dataset = \"", dataset, "\" needs data.path: ",
        dataset == "npz"    ? "the .npz file"
        : dataset == "leaf" ? "the directory holding LEAF's train/ and test/ JSON folders"
                            : "the cifar-10-batches-bin directory",
        " (docs/config.md, \"Datasets\")");
  }
  MURMUR_ASSIGN_OR_RETURN(std::string partition,
                          r.String("data.partition", "iid",
                                   {"iid", "dirichlet", "shards", "natural"}));
  c.data.partition.kind = partition == "dirichlet" ? PartitionKind::kDirichlet
                          : partition == "shards"  ? PartitionKind::kShards
                          : partition == "natural" ? PartitionKind::kNatural
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
  return Status::Ok();
}

// model.kind = "transformer": its keys, read only for it (so they are unknown
// keys for the other models), and the text windows it reads.
Status ReadTransformer(ConfigReader& r, RunConfig& c) {
  TransformerConfig& t = c.model.transformer;
  MURMUR_ASSIGN_OR_RETURN(t.layers, r.Int("model.layers", t.layers, 1, 1024));
  MURMUR_ASSIGN_OR_RETURN(t.width, r.Int("model.width", t.width, 1, 65536));
  MURMUR_ASSIGN_OR_RETURN(t.heads, r.Int("model.heads", t.heads, 1, 1024));
  MURMUR_ASSIGN_OR_RETURN(t.context, r.Int("model.context", t.context, 1, 4096));
  MURMUR_ASSIGN_OR_RETURN(t.ffn_mult, r.Int("model.ffn_mult", t.ffn_mult, 1, 64));
  MURMUR_ASSIGN_OR_RETURN(std::string positions,
                          r.String("model.positions", "learned", {"learned", "sinusoidal"}));
  t.positions = positions == "sinusoidal" ? TransformerConfig::Positions::kSinusoidal
                                          : TransformerConfig::Positions::kLearned;
  MURMUR_ASSIGN_OR_RETURN(bool tie, r.Bool("model.tie_embeddings", true));
  t.embeddings = tie ? TransformerConfig::Embeddings::kTied : TransformerConfig::Embeddings::kSeparate;
  if (t.width % t.heads != 0) {
    return Status::InvalidArgument("model.width = ", t.width, " is not divisible by model.heads = ",
                                   t.heads, ": each head attends over width / heads dimensions; "
                                   "choose heads that divide the width");
  }
  if (c.data.dataset != DatasetKind::kFortunes && c.data.dataset != DatasetKind::kLeaf) {
    return Status::InvalidArgument(
        "model.kind = \"transformer\" is a character language model: it needs a text dataset, "
        "data.dataset = \"fortunes\" (or \"leaf\" with LEAF Shakespeare)");
  }
  if (r.Has("data.context") || r.Has("data.seq_len")) {
    return Status::InvalidArgument(
        "data.context and data.seq_len are the char MLP's; a transformer reads windows of "
        "model.context + 1 characters: remove them and set model.context");
  }
  c.data.text.context = t.context;
  c.data.text.samples = TextSamples::kWindows;
  return Status::Ok();
}

// model.depth, model.width, model.groups: read only for model.kind =
// "resnet", so they are unknown keys (an error) for any other model.
Status ReadResNetKeys(ConfigReader& r, ResNetOptions& o) {
  MURMUR_ASSIGN_OR_RETURN(o.depth, r.Int("model.depth", o.depth, 1, 10'000));
  if (o.depth < 8 || (o.depth - 2) % 6 != 0) {
    return Status::InvalidArgument(
        "model.depth = ", o.depth,
        " is not 6n + 2 with n >= 1: the CIFAR ResNet is a first conv, 3 stages of n blocks of 2 convs and "
        "an output layer; use 8, 14, 20, 32, 44, 56 or 110");
  }
  MURMUR_ASSIGN_OR_RETURN(o.width, r.Double("model.width", o.width, 1.0 / 32, 64));
  MURMUR_ASSIGN_OR_RETURN(o.groups, r.Int("model.groups", o.groups, 1, 4096));
  return Status::Ok();
}

// [model]: the architecture, its initialization and an initial checkpoint.
Status ReadModelSection(ConfigReader& r, RunConfig& c) {
  MURMUR_ASSIGN_OR_RETURN(std::string model,
                          r.String("model.kind", "mlp",
                                   {"logreg", "mlp", "cnn", "charmlp", "torchscript",
                                    "transformer", "resnet"}));
  c.model.kind = model == "logreg"        ? ModelKind::kLogisticRegression
                 : model == "cnn"         ? ModelKind::kCnn
                 : model == "charmlp"     ? ModelKind::kCharMlp
                 : model == "torchscript" ? ModelKind::kTorchScript
                 : model == "transformer" ? ModelKind::kTransformer
                 : model == "resnet"      ? ModelKind::kResNet
                                          : ModelKind::kMlp;
  if (c.model.kind == ModelKind::kTransformer) MURMUR_RETURN_IF_ERROR(ReadTransformer(r, c));
  if (c.model.kind == ModelKind::kResNet) MURMUR_RETURN_IF_ERROR(ReadResNetKeys(r, c.model.resnet));
  MURMUR_ASSIGN_OR_RETURN(c.model.path, r.String("model.path", ""));
  MURMUR_ASSIGN_OR_RETURN(std::string model_init,
                          r.String("model.init", "kaiming", {"kaiming", "xavier"}));
  c.model.init = model_init == "xavier" ? InitScheme::kXavierUniform : InitScheme::kKaimingUniform;
  MURMUR_ASSIGN_OR_RETURN(c.model.hidden,
                          r.IntList("model.hidden", c.model.hidden, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.model.embedding_dim,
                          r.Int("model.embedding", c.model.embedding_dim, 1, 4096));
  MURMUR_ASSIGN_OR_RETURN(c.init_checkpoint, r.String("model.init_checkpoint", ""));
  MURMUR_ASSIGN_OR_RETURN(c.reinit_output, r.Bool("model.reinit_output", c.reinit_output));
  return Status::Ok();
}

// [train]: the local optimizer, batches and what trains.
Status ReadTrainSection(ConfigReader& r, RunConfig& c) {
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
  MURMUR_ASSIGN_OR_RETURN(std::string device,
                          r.String("train.device", "cpu", {"cpu", "cuda", "auto"}));
  MURMUR_ASSIGN_OR_RETURN(c.model.device, ResolveComputeDevice(device));
  MURMUR_ASSIGN_OR_RETURN(std::string init,
                          r.String("train.init", "same", {"same", "independent"}));
  c.train.same_init = init == "same";
  MURMUR_ASSIGN_OR_RETURN(c.train.save_checkpoint, r.String("train.save_checkpoint", ""));
  MURMUR_ASSIGN_OR_RETURN(c.train.overwrite_checkpoint,
                          r.Bool("train.overwrite_checkpoint", c.train.overwrite_checkpoint));
  MURMUR_ASSIGN_OR_RETURN(c.train.export_model, r.String("train.export_model", ""));
  if (c.train.overwrite_checkpoint && c.train.save_checkpoint.empty() &&
      c.train.export_model.empty()) {
    return Status::InvalidArgument(
        "train.overwrite_checkpoint = true without train.save_checkpoint or train.export_model "
        "writes nothing: set one of them or drop the key");
  }
  if (!c.train.export_model.empty() && c.model.kind != ModelKind::kTorchScript) {
    return Status::InvalidArgument(
        "train.export_model writes a TorchScript file and needs model.kind = \"torchscript\"; "
        "for built-in models use train.save_checkpoint");
  }
  MURMUR_ASSIGN_OR_RETURN(std::string trainable,
                          r.String("train.trainable", "all", {"all", "output"}));
  c.train.output_layer_only = trainable == "output";
  c.protocol.exchange_output_layer = c.train.output_layer_only;
  return Status::Ok();
}

// [sim]: links, device speeds, churn and crashes.
Status ReadSimSection(ConfigReader& r, RunConfig& c) {
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
  // Budgets are read only when set, so runs without them resolve as before.
  if (r.Has("sim.budget_time_s")) {
    MURMUR_ASSIGN_OR_RETURN(c.sim.budget.time_s, r.Double("sim.budget_time_s", 0, 1e-9, 1e9));
  }
  if (r.Has("sim.snapshot_every_s")) {
    MURMUR_ASSIGN_OR_RETURN(c.snapshot_every_s, r.Double("sim.snapshot_every_s", 0, 1e-6, 1e9));
  }
  if (r.Has("sim.budget_bytes")) {
    MURMUR_ASSIGN_OR_RETURN(int64_t bytes, r.Int("sim.budget_bytes", 0, 1));
    c.sim.budget.bytes = static_cast<uint64_t>(bytes);
  }
  return Status::Ok();
}

// [eval]: how often and on how many peers and samples.
Status ReadEvalSection(ConfigReader& r, RunConfig& c) {
  MURMUR_ASSIGN_OR_RETURN(c.eval.every, r.Int("eval.every", c.eval.every, 1, 1'000'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.eval.peers, r.Int("eval.peers", c.eval.peers, 0, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.eval.test_samples,
                          r.Int("eval.test_samples", c.eval.test_samples, 0, 1'000'000'000));
  if (r.Has("eval.target_acc")) {
    MURMUR_ASSIGN_OR_RETURN(c.eval.target_acc, r.Double("eval.target_acc", 0, 0, 1));
  }
  return Status::Ok();
}

}  // namespace

void ResolveRunPaths(RunConfig& config, const std::string& out_dir) {
  for (std::string* path : {&config.train.save_checkpoint, &config.train.export_model}) {
    if (!out_dir.empty() && !path->empty() && std::filesystem::path(*path).is_relative()) {
      *path = (std::filesystem::path(out_dir) / *path).string();
    }
  }
}

Result<RunConfig> ReadRunConfig(const Config& config) {
  ConfigReader r(config);
  RunConfig c;
  MURMUR_ASSIGN_OR_RETURN(int64_t seed, r.Int("seed", static_cast<int64_t>(c.seed), 0));
  c.seed = static_cast<uint64_t>(seed);
  MURMUR_ASSIGN_OR_RETURN(c.peers, r.Int("peers", c.peers, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.threads, r.Int("threads", c.threads, 0, 1024));

  MURMUR_RETURN_IF_ERROR(ReadDataSection(r, c));

  MURMUR_RETURN_IF_ERROR(ReadModelSection(r, c));

  MURMUR_RETURN_IF_ERROR(ReadTrainSection(r, c));

  // [protocol], and the sections a protocol owns ([compress], [spsa]): its
  // spec reads its own keys (protocol/registry.h).
  MURMUR_RETURN_IF_ERROR(ReadProtocolConfig(r, c.protocol));

  // [robust] and [byzantine]
  MURMUR_RETURN_IF_ERROR(ReadRobustConfig(r, c.peers, c.protocol));
  MURMUR_RETURN_IF_ERROR(ReadPrivacyConfig(r, c.protocol));  // [privacy]
  MURMUR_RETURN_IF_ERROR(ReadDpSgdConfig(r, c.protocol, c.train));

  MURMUR_RETURN_IF_ERROR(ReadSimSection(r, c));

  MURMUR_RETURN_IF_ERROR(ReadEvalSection(r, c));

  MURMUR_RETURN_IF_ERROR(CheckNoForeignProtocolKeys(r, config, c.protocol));
  MURMUR_RETURN_IF_ERROR(r.CheckNoUnknownKeys());
  MURMUR_ASSIGN_OR_RETURN(const ProtocolSpec* spec, FindProtocolSpec(c.protocol.kind));
  if (c.protocol.round_timeout_s == 0 && spec->waits_for_rounds &&
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
