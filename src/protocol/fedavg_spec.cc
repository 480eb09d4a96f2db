// The "fedavg" and "fedprox" protocol specs (registry.h): FedAvg's server
// and clients (fedavg.h), its Byzantine clients (byzantine_fedavg.h), and
// FedProx as FedAvg clients with FedAvgOptions::fedprox set (fedprox.h).
#include <algorithm>
#include <cmath>

#include "murmur/compress/codec.h"
#include "murmur/protocol/byzantine_fedavg.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/fedavg_secagg.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

struct FedAvgRunState {
  FedAvgOptions options;
  std::shared_ptr<FedAvgCoalition> coalition;  // the Byzantine clients' shared view
  // FedAvg's server combines with the run's rule; FedProx's averages.
  bool robust_server = true;
  // Set: privacy.secure_aggregation is on (fedavg_secagg.h).
  std::optional<SecAggFedAvgOptions> secagg;
};

Status ReadCompress(ConfigReader& r, CompressConfig& c) {
  MURMUR_ASSIGN_OR_RETURN(c.uplink, ReadCodecKey(r, "compress.uplink"));
  MURMUR_ASSIGN_OR_RETURN(c.downlink, r.String("compress.downlink", c.downlink));
  if (Status s = CheckDownlinkSpec(c.downlink); !s.ok()) {
    return Status::InvalidArgument("config key 'compress.downlink' = \"", c.downlink,
                                   "\": ", s.message());
  }
  MURMUR_ASSIGN_OR_RETURN(std::string feedback,
                          r.String("compress.error_feedback", "none",
                                   {"none", "ef", "ef21", "econtrol"}));
  MURMUR_ASSIGN_OR_RETURN(c.error_feedback, ParseErrorFeedbackKind(feedback));
  MURMUR_ASSIGN_OR_RETURN(c.econtrol_eta,
                          r.Double("compress.econtrol_eta", c.econtrol_eta, 0, 1e3));
  return Status::Ok();
}

Status ReadCommon(ConfigReader& r, FedAvgConfig& c) {
  MURMUR_ASSIGN_OR_RETURN(c.client_fraction,
                          r.Double("protocol.client_fraction", c.client_fraction, 1e-9, 1.0));
  MURMUR_ASSIGN_OR_RETURN(c.local_epochs,
                          r.Int("protocol.local_epochs", c.local_epochs, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.server_optimizer, ReadServerOptimizerConfig(r));
  return Status::Ok();
}

Result<std::any> ReadFedAvg(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  FedAvgConfig c;
  MURMUR_RETURN_IF_ERROR(ReadCommon(r, c));
  MURMUR_RETURN_IF_ERROR(ReadCompress(r, c.compress));
  return std::any(c);
}

Result<std::any> ReadFedProx(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  FedAvgConfig c;
  MURMUR_RETURN_IF_ERROR(ReadCommon(r, c));
  MURMUR_ASSIGN_OR_RETURN(c.proximal_mu, r.Double("protocol.proximal_mu", c.proximal_mu, 0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(c.local_time_budget_s, r.Double("protocol.local_time_budget_s",
                                                          c.local_time_budget_s, 0, 1e9));
  return std::any(c);
}

// Uncompressed (disabled) unless a direction has a codec other than fp32 or
// error feedback is on, so default runs keep their exact bytes and results.
Result<FedAvgCompression> MakeFedAvgCompression(const CompressConfig& c, uint64_t seed) {
  FedAvgCompression out;
  if (c.uplink == "fp32" && c.downlink == "fp32" &&
      c.error_feedback == ErrorFeedbackKind::kNone) {
    return out;
  }
  MURMUR_RETURN_IF_ERROR(CheckDownlinkSpec(c.downlink));
  MURMUR_ASSIGN_OR_RETURN(out.uplink, MakeCodec(c.uplink));
  MURMUR_ASSIGN_OR_RETURN(out.downlink, MakeCodec(c.downlink));
  out.uplink_stages = std::make_shared<const CodecStages>(*out.uplink, "bytes_up_stage_");
  out.downlink_stages = std::make_shared<const CodecStages>(*out.downlink, "bytes_down_stage_");
  out.error_feedback = c.error_feedback;
  out.econtrol_eta = static_cast<float>(c.econtrol_eta);
  out.seed = seed;
  return out;
}

// m = max(floor(C K), 1) clients per round, as FedAvgServer::StartRound.
int64_t ClientsPerRound(double client_fraction, int64_t clients) {
  return std::clamp<int64_t>(
      static_cast<int64_t>(std::floor(client_fraction * static_cast<double>(clients))), 1,
      clients);
}

// The accountant's q: a client's chance to be among a round's m of K.
double FedAvgSamplingRate(const ProtocolConfig& config, int64_t clients) {
  const auto c = ProtocolOptionsAs<FedAvgConfig>(config);
  return static_cast<double>(ClientsPerRound(c.client_fraction, clients)) /
         static_cast<double>(clients);
}

Result<FedAvgOptions> ServerOptions(const ProtocolConfig& config, const FedAvgConfig& c,
                                    int64_t clients) {
  FedAvgOptions options{.rounds = config.rounds,
                        .client_fraction = c.client_fraction,
                        .local_epochs = c.local_epochs,
                        .round_timeout = Duration::Seconds(config.round_timeout_s),
                        .server_optimizer = c.server_optimizer};
  options.dp = config.privacy;
  options.update_noise_multiplier = options.dp.noise_multiplier;
  if (options.dp.adaptive_clip && options.dp.noise_multiplier > 0) {
    Result<double> z = privacy::AdaptiveClippingNoiseMultiplier(
        options.dp.noise_multiplier, options.dp.adaptive.count_noise_stddev);
    if (!z.ok()) {
      return Status::InvalidArgument("privacy.count_noise_stddev: ", z.status().message());
    }
    options.update_noise_multiplier = *z;
  }
  if (options.dp.mode == privacy::DpMode::kLocal) {
    // Distributed noise: each of the m clients adds 1/sqrt(m) of the
    // stddev, on its update and (adaptive clipping) on its clip bit.
    const double root_m = std::sqrt(static_cast<double>(ClientsPerRound(c.client_fraction, clients)));
    options.client_noise_stddev = options.update_noise_multiplier * options.dp.clip / root_m;
    if (options.dp.adaptive_clip) {
      options.client_bit_noise_stddev = options.dp.adaptive.count_noise_stddev / root_m;
    }
  }
  return options;
}

// privacy.secure_aggregation: every round of m clients must be a valid
// SecAgg round (at least 2 clients, a fixed point whose m-fold sum cannot
// wrap), and the updates travel uncompressed.
Status PrepareSecureAggregation(const ProtocolRun& run, FedAvgRunState& state) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<FedAvgConfig>(config);
  const CompressConfig& z = c.compress;
  if (z.uplink != "fp32" || z.downlink != "fp32" || z.error_feedback != ErrorFeedbackKind::kNone) {
    return Status::InvalidArgument(
        "privacy.secure_aggregation masks uncompressed FedAvg updates: drop the [compress] "
        "uplink, downlink and error_feedback settings, or set it to \"none\"");
  }
  // Adaptive clipping masks each client's centred clip bit (+-1/2 plus its
  // share of the count noise) as one more fixed-point coordinate.
  if (config.privacy.adaptive_clip && config.secure_aggregation.fixed_point.max_abs < 1) {
    return Status::InvalidArgument(
        "privacy.adaptive_clip with privacy.secure_aggregation needs privacy.secagg_max_abs >= 1 "
        "(each client's clip bit is +-1/2 plus noise), not ",
        config.secure_aggregation.fixed_point.max_abs);
  }
  if (config.secure_aggregation.encoding == privacy::SecAggEncoding::kRqm &&
      config.privacy.adaptive_clip) {
    return Status::InvalidArgument(
        "privacy.secagg_encoding = \"rqm\" masks RQM level indices, with no room for "
        "privacy.adaptive_clip's clip bit: drop one of them");
  }
  const int64_t m = ClientsPerRound(c.client_fraction, run.num_peers);
  if (m < 2) {
    return Status::InvalidArgument(
        "privacy.secure_aggregation needs at least 2 clients a round; protocol.client_fraction = ",
        c.client_fraction, " of ", run.num_peers, " peers selects ", m,
        ": raise protocol.client_fraction or add peers");
  }
  Result<privacy::SecAggConfig> round = privacy::MakeRoundConfig(
      config.secure_aggregation, static_cast<uint32_t>(m),
      static_cast<uint32_t>(run.model->num_params()), 0);
  if (!round.ok()) {
    return Status::InvalidArgument("privacy.secure_aggregation with ", m, " clients a round: ",
                                   round.status().message(),
                                   " (privacy.secagg_max_abs, privacy.secagg_fractional_bits, "
                                   "privacy.rqm_*)");
  }
  state.secagg = SecAggFedAvgOptions{.fedavg = state.options,
                                     .secagg = config.secure_aggregation,
                                     .seed = run.seed,
                                     .system_entropy = config.secagg_system_entropy};
  return Status::Ok();
}

Status PrepareFedAvg(ProtocolRun& run) {
  const auto c = ProtocolOptionsAs<FedAvgConfig>(*run.config);
  const CompressConfig& z = c.compress;
  if (!run.byzantine.empty() && (z.uplink != "fp32" || z.downlink != "fp32" ||
                                 z.error_feedback != ErrorFeedbackKind::kNone)) {
    return Status::InvalidArgument(
        "Byzantine FedAvg clients send uncompressed updates: drop the [compress] uplink, "
        "downlink and error_feedback settings, or the [byzantine] peers");
  }
  if (run.config->privacy.enabled() &&
      (z.uplink != "fp32" || z.downlink != "fp32" || z.error_feedback != ErrorFeedbackKind::kNone)) {
    return Status::InvalidArgument(
        "[privacy] clips and noises uncompressed FedAvg updates: drop the [compress] uplink, "
        "downlink and error_feedback settings, or set privacy.mode = \"none\"");
  }
  if (!run.byzantine.empty() && run.config->privacy.adaptive_clip &&
      run.config->privacy.mode == privacy::DpMode::kLocal) {
    return Status::InvalidArgument(
        "Byzantine FedAvg clients send plain updates, without the clip bit that "
        "privacy.adaptive_clip in privacy.mode = \"local\" needs: drop one of them");
  }
  auto state = std::make_shared<FedAvgRunState>();
  MURMUR_ASSIGN_OR_RETURN(state->options, ServerOptions(*run.config, c, run.num_peers));
  MURMUR_ASSIGN_OR_RETURN(state->options.compression, MakeFedAvgCompression(z, run.seed));
  state->coalition = std::make_shared<FedAvgCoalition>(run.attack);
  if (run.config->secure_aggregation.enabled()) {
    MURMUR_RETURN_IF_ERROR(PrepareSecureAggregation(run, *state));
  }
  run.state = std::shared_ptr<const FedAvgRunState>(std::move(state));
  return Status::Ok();
}

Status PrepareFedProx(ProtocolRun& run) {
  const auto c = ProtocolOptionsAs<FedAvgConfig>(*run.config);
  auto state = std::make_shared<FedAvgRunState>();
  MURMUR_ASSIGN_OR_RETURN(state->options, ServerOptions(*run.config, c, run.num_peers));
  state->options.fedprox =
      FedProxOptions{.mu = c.proximal_mu,
                     .local_time_budget = Duration::Seconds(c.local_time_budget_s)};
  state->robust_server = false;
  run.state = std::shared_ptr<const FedAvgRunState>(std::move(state));
  return Status::Ok();
}

Result<std::unique_ptr<Node>> MakeFedAvgNode(const ProtocolRun& run, const PeerContext& peer) {
  const auto& state = *std::any_cast<const std::shared_ptr<const FedAvgRunState>&>(run.state);
  const PeerId server = ServerOf(run);
  if (state.secagg) {
    if (peer.id == server) {
      return std::unique_ptr<Node>(std::make_unique<SecAggFedAvgServer>(
          std::vector<float>(peer.initial_params.begin(), peer.initial_params.end()),
          *state.secagg, ClientsOf(run)));
    }
    return std::unique_ptr<Node>(
        std::make_unique<SecAggFedAvgClient>(*peer.learner, *state.secagg, server));
  }
  if (peer.id == server) {
    // The global model starts as peer 0's learner (its initialization
    // stream, or model.init_checkpoint), so a one-client run equals local
    // training.
    FedAvgOptions options = state.options;
    options.fedprox.reset();
    return std::unique_ptr<Node>(std::make_unique<FedAvgServer>(
        std::vector<float>(peer.initial_params.begin(), peer.initial_params.end()), options,
        ClientsOf(run), state.robust_server ? run.combiner : nullptr));
  }
  if (Contains(run.byzantine, peer.id)) {
    return std::unique_ptr<Node>(std::make_unique<ByzantineFedAvgClient>(
        *peer.learner, state.options, server, run.attack, state.coalition));
  }
  return std::unique_ptr<Node>(std::make_unique<FedAvgClient>(*peer.learner, state.options, server));
}

bool AlwaysServer(const ProtocolConfig&) { return true; }

// The FedAvg server aggregates the updates of the m = max(floor(C K), 1)
// clients it selects per round (FedAvgServer::StartRound), fewer when some
// do not reply.
Result<AggregationSize> FedAvgAggregationSize(const ProtocolRun& run) {
  const auto c = ProtocolOptionsAs<FedAvgConfig>(*run.config);
  const int64_t k = run.num_peers;
  const int64_t m = std::clamp<int64_t>(
      static_cast<int64_t>(std::floor(c.client_fraction * static_cast<double>(k))), 1, k);
  return AggregationSize{
      .inputs = m,
      .where = Status::Concat("with protocol.client_fraction = ", c.client_fraction, " of ", k,
                              " clients the server aggregates at most ", m, " updates a round"),
      .remedy = "more peers or a larger protocol.client_fraction"};
}

// FedAvg's state its snapshots cannot hold, refused before `murmur launch`
// starts any peer (each peer's node refuses the rest: persist_mode).
Status FedAvgPersistable(const ProtocolConfig& config) {
  const CompressConfig compress = ProtocolOptionsAs<FedAvgConfig>(config).compress;
  const char* what = config.secure_aggregation.enabled() ? "secure aggregation"
                     : config.privacy.enabled()          ? "[privacy] noise"
                     : compress.uplink != "fp32" || compress.downlink != "fp32"
                         ? "compress.uplink or downlink"
                         : nullptr;
  if (what == nullptr) return Status::Ok();
  return Status::InvalidArgument("protocol.kind = \"fedavg\" with ", what,
                                 " keeps state its peers cannot save; drop the flag or ", what);
}

}  // namespace

extern const ProtocolSpec kFedAvgSpec;
const ProtocolSpec kFedAvgSpec{
    .name = "fedavg",
    .default_options = [] { return std::any(FedAvgConfig{}); },
    .read_options = ReadFedAvg,
    .has_server = AlwaysServer,
    .robust = RobustSupport::kRules,
    .dp_sampling_rate = FedAvgSamplingRate,
    .secure_aggregation = true,
    .prepare = PrepareFedAvg,
    .make_node = MakeFedAvgNode,
    .aggregation_size = FedAvgAggregationSize,
    // The server by snapshot, a client by its learner (FedAvgServer and
    // FedAvgClient::persist_mode).
    .persistable = FedAvgPersistable,
};

extern const ProtocolSpec kFedProxSpec;
const ProtocolSpec kFedProxSpec{
    .name = "fedprox",
    .default_options = [] { return std::any(FedAvgConfig{}); },
    .read_options = ReadFedProx,
    .has_server = AlwaysServer,
    .dp_sampling_rate = FedAvgSamplingRate,
    .prepare = PrepareFedProx,
    .make_node = MakeFedAvgNode,
};

}  // namespace murmur
