#include "protocol/federated_setup.h"

#include "murmur/protocol/async_client.h"
#include "murmur/protocol/fedasync.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/fedbuff.h"
#include "murmur/protocol/fedcompass.h"
#include "murmur/protocol/fedprox.h"

namespace murmur {

Result<ProtocolSetup> MakeFederatedProtocol(const ProtocolConfig& config,
                                            std::span<Learner* const> learners,
                                            const Model& /*model*/, uint64_t /*seed*/) {
  const auto n = static_cast<int64_t>(learners.size());
  const PeerId server(static_cast<uint32_t>(n));
  const Duration timeout = Duration::Seconds(config.round_timeout_s);
  std::vector<PeerId> clients;
  for (int64_t i = 0; i < n; ++i) clients.push_back(PeerId(static_cast<uint32_t>(i)));
  // As FedAvg: the global model starts as peer 0's learner (its
  // initialization stream, or model.init_checkpoint).
  std::span<const float> first = learners[0]->params();
  std::vector<float> initial(first.begin(), first.end());

  ProtocolSetup setup;
  auto add_async_clients = [&](AsyncUpdateForm form) {
    const AsyncClientOptions options{.form = form, .proximal_mu = config.proximal_mu};
    for (int64_t i = 0; i < n; ++i) {
      setup.nodes.push_back(std::make_unique<AsyncClient>(*learners[i], options, server));
    }
  };
  switch (config.kind) {
    case ProtocolKind::kFedProx: {
      const FedProxOptions client{.local_epochs = config.local_epochs,
                                  .mu = config.proximal_mu,
                                  .local_time_budget =
                                      Duration::Seconds(config.local_time_budget_s)};
      for (int64_t i = 0; i < n; ++i) {
        setup.nodes.push_back(std::make_unique<FedProxClient>(*learners[i], client, server));
      }
      const FedAvgOptions options{.rounds = config.rounds,
                                  .client_fraction = config.client_fraction,
                                  .local_epochs = config.local_epochs,
                                  .round_timeout = timeout,
                                  .server_optimizer = config.server_optimizer};
      setup.nodes.push_back(
          std::make_unique<FedAvgServer>(std::move(initial), options, std::move(clients)));
      break;
    }
    case ProtocolKind::kFedAsync: {
      if (config.async_alpha <= 0 || config.async_alpha > 1) {
        return Status::InvalidArgument("protocol.async_alpha = ", config.async_alpha,
                                       " must be in (0, 1]");
      }
      add_async_clients(AsyncUpdateForm::kModel);
      const FedAsyncOptions options{.rounds = config.rounds,
                                    .local_steps = config.local_steps,
                                    .alpha = config.async_alpha,
                                    .staleness = config.staleness,
                                    .max_concurrency = config.max_concurrency,
                                    .task_timeout = timeout};
      setup.nodes.push_back(
          std::make_unique<FedAsyncServer>(std::move(initial), options, std::move(clients)));
      break;
    }
    case ProtocolKind::kFedBuff: {
      if (config.buffer_size < 1) {
        return Status::InvalidArgument("protocol.buffer_size = ", config.buffer_size,
                                       " must be at least 1");
      }
      add_async_clients(AsyncUpdateForm::kDelta);
      const FedBuffOptions options{.rounds = config.rounds,
                                   .local_steps = config.local_steps,
                                   .buffer_size = config.buffer_size,
                                   .max_concurrency = config.max_concurrency,
                                   .staleness = config.staleness,
                                   .server_optimizer = config.server_optimizer,
                                   .task_timeout = timeout};
      setup.nodes.push_back(
          std::make_unique<FedBuffServer>(std::move(initial), options, std::move(clients)));
      break;
    }
    case ProtocolKind::kFedCompass: {
      if (config.compass_min_steps < 1 || config.compass_min_steps > config.local_steps) {
        return Status::InvalidArgument("protocol.compass_min_steps = ", config.compass_min_steps,
                                       " must be in [1, protocol.local_steps = ",
                                       config.local_steps, "]");
      }
      if (config.compass_lambda < 1) {
        return Status::InvalidArgument("protocol.compass_lambda = ", config.compass_lambda,
                                       " must be at least 1");
      }
      add_async_clients(AsyncUpdateForm::kDelta);
      const FedCompassOptions options{.rounds = config.rounds,
                                      .min_steps = config.compass_min_steps,
                                      .max_steps = config.local_steps,
                                      .lambda = config.compass_lambda,
                                      .staleness = config.staleness,
                                      .server_optimizer = config.server_optimizer,
                                      .task_timeout = timeout};
      setup.nodes.push_back(
          std::make_unique<FedCompassServer>(std::move(initial), options, std::move(clients)));
      break;
    }
    default:
      return Status::InvalidArgument("not a federated protocol kind");
  }
  setup.model_holders.push_back(server);
  return setup;
}

}  // namespace murmur
