// The asynchronous federated protocol specs (registry.h): "fedasync"
// (fedasync.h), "fedbuff" (fedbuff.h) and "fedcompass" (fedcompass.h), whose
// clients are AsyncClients (async_client.h). Clients are PeerId(0..n-1), the
// server is PeerId(n), the only model holder.
#include "murmur/protocol/async_client.h"
#include "murmur/protocol/fedasync.h"
#include "murmur/protocol/fedbuff.h"
#include "murmur/protocol/fedcompass.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

bool AlwaysServer(const ProtocolConfig&) { return true; }

std::vector<float> InitialModel(const PeerContext& peer) {
  // As FedAvg: the global model starts as peer 0's learner.
  return std::vector<float>(peer.initial_params.begin(), peer.initial_params.end());
}

std::unique_ptr<Node> MakeAsyncClient(const ProtocolRun& run, const PeerContext& peer,
                                      AsyncUpdateForm form, double proximal_mu) {
  return std::make_unique<AsyncClient>(
      *peer.learner, AsyncClientOptions{.form = form, .proximal_mu = proximal_mu}, ServerOf(run));
}

Result<std::any> ReadFedAsync(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  FedAsyncConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.proximal_mu, r.Double("protocol.proximal_mu", c.proximal_mu, 0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(c.alpha, r.Double("protocol.async_alpha", c.alpha, 1e-9, 1.0));
  MURMUR_ASSIGN_OR_RETURN(c.staleness, ReadStalenessConfig(r));
  MURMUR_ASSIGN_OR_RETURN(c.max_concurrency,
                          r.Int("protocol.max_concurrency", c.max_concurrency, 0, 1'000'000));
  return std::any(c);
}

Result<std::unique_ptr<Node>> MakeFedAsyncNode(const ProtocolRun& run, const PeerContext& peer) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<FedAsyncConfig>(config);
  if (c.alpha <= 0 || c.alpha > 1) {
    return Status::InvalidArgument("protocol.async_alpha = ", c.alpha, " must be in (0, 1]");
  }
  if (peer.id != ServerOf(run)) {
    return MakeAsyncClient(run, peer, AsyncUpdateForm::kModel, c.proximal_mu);
  }
  const FedAsyncOptions options{.rounds = config.rounds,
                                .local_steps = config.local_steps,
                                .alpha = c.alpha,
                                .staleness = c.staleness,
                                .max_concurrency = c.max_concurrency,
                                .task_timeout = Duration::Seconds(config.round_timeout_s)};
  return std::unique_ptr<Node>(
      std::make_unique<FedAsyncServer>(InitialModel(peer), options, ClientsOf(run)));
}

Result<std::any> ReadFedBuff(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  FedBuffConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.proximal_mu, r.Double("protocol.proximal_mu", c.proximal_mu, 0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(c.buffer_size,
                          r.Int("protocol.buffer_size", c.buffer_size, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.max_concurrency,
                          r.Int("protocol.max_concurrency", c.max_concurrency, 0, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.staleness, ReadStalenessConfig(r));
  MURMUR_ASSIGN_OR_RETURN(c.server_optimizer, ReadServerOptimizerConfig(r));
  return std::any(c);
}

Result<std::unique_ptr<Node>> MakeFedBuffNode(const ProtocolRun& run, const PeerContext& peer) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<FedBuffConfig>(config);
  if (c.buffer_size < 1) {
    return Status::InvalidArgument("protocol.buffer_size = ", c.buffer_size,
                                   " must be at least 1");
  }
  if (peer.id != ServerOf(run)) {
    return MakeAsyncClient(run, peer, AsyncUpdateForm::kDelta, c.proximal_mu);
  }
  const FedBuffOptions options{.rounds = config.rounds,
                               .local_steps = config.local_steps,
                               .buffer_size = c.buffer_size,
                               .max_concurrency = c.max_concurrency,
                               .staleness = c.staleness,
                               .server_optimizer = c.server_optimizer,
                               .task_timeout = Duration::Seconds(config.round_timeout_s)};
  return std::unique_ptr<Node>(
      std::make_unique<FedBuffServer>(InitialModel(peer), options, ClientsOf(run)));
}

Result<std::any> ReadFedCompass(ConfigReader& r, const ProtocolConfig& shared) {
  FedCompassConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.proximal_mu, r.Double("protocol.proximal_mu", c.proximal_mu, 0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(c.min_steps,
                          r.Int("protocol.compass_min_steps", c.min_steps, 1, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.lambda, r.Double("protocol.compass_lambda", c.lambda, 1, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.staleness, ReadStalenessConfig(r));
  MURMUR_ASSIGN_OR_RETURN(c.server_optimizer, ReadServerOptimizerConfig(r));
  if (c.min_steps > shared.local_steps) {
    return Status::InvalidArgument("config key 'protocol.compass_min_steps' = ", c.min_steps,
                                   " exceeds 'protocol.local_steps' = ", shared.local_steps,
                                   " (FedCompass's most steps per task)");
  }
  return std::any(c);
}

Result<std::unique_ptr<Node>> MakeFedCompassNode(const ProtocolRun& run, const PeerContext& peer) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<FedCompassConfig>(config);
  if (c.min_steps < 1 || c.min_steps > config.local_steps) {
    return Status::InvalidArgument("protocol.compass_min_steps = ", c.min_steps,
                                   " must be in [1, protocol.local_steps = ", config.local_steps,
                                   "]");
  }
  if (c.lambda < 1) {
    return Status::InvalidArgument("protocol.compass_lambda = ", c.lambda, " must be at least 1");
  }
  if (peer.id != ServerOf(run)) {
    return MakeAsyncClient(run, peer, AsyncUpdateForm::kDelta, c.proximal_mu);
  }
  const FedCompassOptions options{.rounds = config.rounds,
                                  .min_steps = c.min_steps,
                                  .max_steps = config.local_steps,
                                  .lambda = c.lambda,
                                  .staleness = c.staleness,
                                  .server_optimizer = c.server_optimizer,
                                  .task_timeout = Duration::Seconds(config.round_timeout_s)};
  return std::unique_ptr<Node>(
      std::make_unique<FedCompassServer>(InitialModel(peer), options, ClientsOf(run)));
}

}  // namespace

extern const ProtocolSpec kFedAsyncSpec;
const ProtocolSpec kFedAsyncSpec{
    .name = "fedasync",
    .default_options = [] { return std::any(FedAsyncConfig{}); },
    .read_options = ReadFedAsync,
    .has_server = AlwaysServer,
    .make_node = MakeFedAsyncNode,
};

extern const ProtocolSpec kFedBuffSpec;
const ProtocolSpec kFedBuffSpec{
    .name = "fedbuff",
    .default_options = [] { return std::any(FedBuffConfig{}); },
    .read_options = ReadFedBuff,
    .has_server = AlwaysServer,
    .make_node = MakeFedBuffNode,
};

extern const ProtocolSpec kFedCompassSpec;
const ProtocolSpec kFedCompassSpec{
    .name = "fedcompass",
    .default_options = [] { return std::any(FedCompassConfig{}); },
    .read_options = ReadFedCompass,
    .has_server = AlwaysServer,
    .make_node = MakeFedCompassNode,
};

}  // namespace murmur
