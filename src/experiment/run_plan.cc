#include "murmur/experiment/run_plan.h"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include "murmur/compress/rqm_codec.h"
#include "murmur/privacy/accountant.h"
#include "murmur/privacy/secure_aggregation.h"
#include "murmur/protocol/choco.h"
#include "murmur/protocol/registry.h"

namespace murmur {

bool RunPlan::IsHolder(PeerId peer) const {
  return std::find(holders.begin(), holders.end(), peer) != holders.end();
}

bool RunPlan::Evaluates(PeerId peer) const {
  return std::binary_search(evaluated.begin(), evaluated.end(), peer);
}

RunPlan PlanRun(const EvalConfig& eval, uint64_t seed, const ProtocolLayout& facts) {
  RunPlan plan;
  plan.num_nodes = facts.num_nodes;
  plan.server = facts.server;
  plan.holders = facts.model_holders;
  plan.roles.assign(static_cast<size_t>(facts.num_nodes), facts.server ? "client" : "peer");
  for (PeerId b : facts.byzantine) plan.roles[b.value] = "byzantine";
  if (facts.server) plan.roles[facts.server->value] = "server";
  plan.first_report = facts.round_model == RoundModel::kFirstReport;
  plan.evaluated = SampleEvaluatedPeers(facts.model_holders,
                                        plan.first_report ? 0 : eval.peers, seed);
  plan.peers_per_row = plan.first_report ? 1 : static_cast<int64_t>(plan.evaluated.size());
  return plan;
}

namespace {

std::function<double(int64_t)> GaussianEpsilonOfRound(const RunConfig& config) {
  const privacy::DpConfig& dp = config.protocol.privacy;
  if (!dp.enabled()) return {};
  Result<const ProtocolSpec*> spec = FindProtocolSpec(config.protocol.kind);
  if (!spec.ok() || (*spec)->dp_sampling_rate == nullptr) return {};
  const double q = (*spec)->dp_sampling_rate(config.protocol, config.peers);
  auto memo = std::make_shared<std::map<int64_t, double>>();
  return [dp, q, memo](int64_t round) {
    auto [it, inserted] = memo->try_emplace(round, 0.0);
    if (inserted) {
      it->second = privacy::RunEpsilon(dp, q, std::max<int64_t>(round, 0))
                       .value_or(std::numeric_limits<double>::infinity());
    }
    return it->second;
  };
}

// The RQM a peer releases once a round, if any: a FedAvg client's update
// under secure aggregation with privacy.secagg_encoding = "rqm", or a CHOCO
// peer's x - x_hat with compress.codec = "rqm:..." (CHOCO encodes one frame
// a round and sends the same bytes to every neighbour, choco.cc).
std::optional<RqmConfig> RqmReleasedEachRound(const RunConfig& config) {
  const privacy::SecureAggregationConfig& s = config.protocol.secure_aggregation;
  if (s.enabled() && s.encoding == privacy::SecAggEncoding::kRqm) return s.rqm;
  if (config.protocol.kind != "choco") return std::nullopt;
  Result<std::unique_ptr<Codec>> codec =
      MakeCodec(ProtocolOptionsAs<ChocoConfig>(config.protocol).codec);
  if (!codec.ok()) return std::nullopt;
  const auto* rqm = dynamic_cast<const RqmCodec*>(codec->get());
  if (rqm == nullptr) return std::nullopt;
  return rqm->config();
}

}  // namespace

bool ReportsRqmEpsilon(const RunConfig& config) {
  return RqmReleasedEachRound(config).has_value();
}

std::function<double(int64_t)> RqmEpsilonOfRound(const RunConfig& config,
                                                 int64_t model_dimension) {
  const std::optional<RqmConfig> released = RqmReleasedEachRound(config);
  if (!released) return {};
  MURMUR_CHECK(model_dimension >= 1);
  const privacy::RqmConfig& rqm = *released;
  const double delta = config.protocol.privacy.delta;
  // One release's RDP curve, computed once; a round adds one release.
  privacy::PrivacyAccountant one_release;
  MURMUR_CHECK(one_release.ComposeRqm(rqm, model_dimension, 1).ok());
  auto memo = std::make_shared<std::map<int64_t, double>>();
  return [one_release, delta, memo](int64_t round) {
    auto [it, inserted] = memo->try_emplace(round, 0.0);
    if (inserted && round > 0) {
      std::vector<double> rdp(one_release.rdp().begin(), one_release.rdp().end());
      for (double& r : rdp) r *= static_cast<double>(round);
      Result<privacy::EpsilonAndOrder> eps =
          privacy::RdpToEpsilon(one_release.orders(), rdp, delta);
      it->second = eps.ok() ? eps->epsilon : std::numeric_limits<double>::infinity();
    }
    return it->second;
  };
}

std::function<double(int64_t)> SmallerEpsilon(std::function<double(int64_t)> a,
                                              std::function<double(int64_t)> b) {
  if (!a) return b;
  if (!b) return a;
  return [a = std::move(a), b = std::move(b)](int64_t round) {
    return std::min(a(round), b(round));
  };
}

std::function<double(int64_t)> EpsilonOfRound(const RunConfig& config, int64_t model_dimension) {
  return SmallerEpsilon(GaussianEpsilonOfRound(config),
                        RqmEpsilonOfRound(config, model_dimension));
}

std::function<double(int64_t)> DpSgdEpsilonOf(const RunConfig& config,
                                              std::vector<const Learner*> learners) {
  if (!config.train.dp_sgd.enabled) return {};
  const double delta = config.protocol.privacy.delta;
  // Keyed by (q, sigma, steps): peers with equal shards share one entry.
  auto memo = std::make_shared<std::map<std::tuple<double, double, int64_t>, double>>();
  return [learners = std::move(learners), delta, memo](int64_t) {
    double worst = 0;
    for (const Learner* l : learners) {
      const double q = l->dp_sgd_sampling_rate();
      const double sigma = l->dp_sgd_options().noise_multiplier;
      const int64_t steps = l->dp_sgd_steps();
      auto [it, inserted] = memo->try_emplace({q, sigma, steps}, 0.0);
      if (inserted && steps > 0) {
        privacy::PrivacyAccountant accountant;
        const bool ok = accountant.ComposeSubsampledGaussian(q, sigma, steps).ok();
        Result<privacy::EpsilonAndOrder> eps = accountant.Epsilon(delta);
        it->second = ok && eps.ok() ? eps->epsilon : std::numeric_limits<double>::infinity();
      }
      worst = std::max(worst, it->second);
    }
    return worst;
  };
}

}  // namespace murmur
