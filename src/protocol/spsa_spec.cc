// The "spsa" protocol spec (registry.h): one-byte SPSA broadcasts (spsa.h)
// or FedKSeed (fedkseed.h), chosen by spsa.mode.
#include <algorithm>

#include "murmur/protocol/fedkseed.h"
#include "murmur/protocol/spsa.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

Result<std::any> ReadSpsa(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  SpsaConfig c;
  MURMUR_ASSIGN_OR_RETURN(std::string mode,
                          r.String("spsa.mode", "broadcast", {"broadcast", "fedkseed"}));
  c.mode = mode == "fedkseed" ? SpsaConfig::Mode::kFedKSeed : SpsaConfig::Mode::kBroadcast;
  MURMUR_ASSIGN_OR_RETURN(c.eps, r.Double("spsa.eps", c.eps, 1e-9, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.lr, r.Double("spsa.lr", c.lr, 0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(c.clip, r.Double("spsa.clip", c.clip, 1e-9, 1e9));
  MURMUR_ASSIGN_OR_RETURN(std::string noise,
                          r.String("spsa.noise", "rademacher", {"rademacher", "gaussian"}));
  c.noise = noise == "gaussian" ? NoiseKind::kGaussian : NoiseKind::kRademacher;
  MURMUR_ASSIGN_OR_RETURN(c.seed_pool, r.Int("spsa.seed_pool", c.seed_pool, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(std::string sampling,
                          r.String("spsa.sampling", "uniform", {"uniform", "importance"}));
  c.sampling = sampling == "importance" ? SeedSampling::kImportance : SeedSampling::kUniform;
  MURMUR_ASSIGN_OR_RETURN(c.importance_alpha,
                          r.Double("spsa.importance_alpha", c.importance_alpha, 0, 100));
  MURMUR_ASSIGN_OR_RETURN(c.client_fraction,
                          r.Double("protocol.client_fraction", c.client_fraction, 1e-9, 1.0));
  return std::any(c);
}

bool SpsaHasServer(const ProtocolConfig& config) {
  return ProtocolOptionsAs<SpsaConfig>(config).mode == SpsaConfig::Mode::kFedKSeed;
}

Status PrepareSpsa(ProtocolRun& run) {
  if (run.num_peers >= (int64_t{1} << 31)) return Status::InvalidArgument("spsa: too many peers");
  if (run.config->rounds >= (int64_t{1} << 24)) {
    return Status::InvalidArgument("protocol.rounds = ", run.config->rounds,
                                   ": spsa keys perturbations by step, at most 2^24 - 1 steps");
  }
  return Status::Ok();
}

// Shared-randomness protocols replicate one model: every learner starts
// from peer 0's parameters whatever train.init says.
Result<std::unique_ptr<Node>> MakeSpsaNode(const ProtocolRun& run, const PeerContext& peer) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<SpsaConfig>(config);
  const Duration timeout = Duration::Seconds(config.round_timeout_s);
  if (peer.learner != nullptr && peer.learner->params().data() != peer.initial_params.data()) {
    std::copy(peer.initial_params.begin(), peer.initial_params.end(),
              peer.learner->params().begin());
  }
  if (c.mode == SpsaConfig::Mode::kBroadcast) {
    const SpsaOptions options{.rounds = config.rounds,
                              .num_peers = run.num_peers,
                              .seed = run.seed,
                              .eps = static_cast<float>(c.eps),
                              .lr = c.lr,
                              .clip = c.clip,
                              .noise = c.noise,
                              .round_timeout = timeout};
    return std::unique_ptr<Node>(std::make_unique<SpsaNode>(*peer.learner, options));
  }
  const FedKSeedOptions options{.rounds = config.rounds,
                                .seed = run.seed,
                                .pool = static_cast<uint32_t>(c.seed_pool),
                                .local_steps = std::max<int64_t>(config.local_steps, 1),
                                .client_fraction = c.client_fraction,
                                .eps = static_cast<float>(c.eps),
                                .lr = c.lr,
                                .noise = c.noise,
                                .sampling = c.sampling,
                                .importance_alpha = c.importance_alpha,
                                .round_timeout = timeout};
  if (peer.id != ServerOf(run)) {
    return std::unique_ptr<Node>(
        std::make_unique<FedKSeedClient>(*peer.learner, options, ServerOf(run)));
  }
  return std::unique_ptr<Node>(std::make_unique<FedKSeedServer>(
      std::vector<float>(peer.initial_params.begin(), peer.initial_params.end()), options,
      ClientsOf(run)));
}

}  // namespace

extern const ProtocolSpec kSpsaSpec;
const ProtocolSpec kSpsaSpec{
    .name = "spsa",
    .default_options = [] { return std::any(SpsaConfig{}); },
    .read_options = ReadSpsa,
    .has_server = SpsaHasServer,
    .prepare = PrepareSpsa,
    .make_node = MakeSpsaNode,
};

}  // namespace murmur
