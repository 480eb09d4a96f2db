#include "experiment/privacy_config.h"

namespace murmur {
namespace {

// privacy.rqm_*, read only under privacy.secagg_encoding = "rqm": a
// resolved config (what `murmur peer` reads) then holds them only under
// RQM, and one present otherwise, even at its default value, is a mistake
// named by its key.
Status ReadRqmConfig(ConfigReader& r, privacy::SecureAggregationConfig& c) {
  constexpr const char* kKeys[] = {"privacy.rqm_clip", "privacy.rqm_delta",
                                   "privacy.rqm_levels", "privacy.rqm_keep_probability"};
  if (c.encoding != privacy::SecAggEncoding::kRqm) {
    for (const char* key : kKeys) {
      if (r.Has(key)) {
        return Status::InvalidArgument(key, " configures RQM under secure aggregation: set "
                                       "privacy.secagg_encoding = \"rqm\", or drop the key");
      }
    }
    return Status::Ok();
  }
  if (!c.enabled()) {
    return Status::InvalidArgument("privacy.secagg_encoding = \"rqm\" encodes secure "
                                   "aggregation's input: set privacy.secure_aggregation to "
                                   "\"secagg\" or \"secagg+\"");
  }
  privacy::RqmConfig& q = c.rqm;
  MURMUR_ASSIGN_OR_RETURN(q.clip, r.Double(kKeys[0], q.clip, 1e-12, 1e12));
  MURMUR_ASSIGN_OR_RETURN(q.delta, r.Double(kKeys[1], q.delta, 1e-12, 1e12));
  MURMUR_ASSIGN_OR_RETURN(const int64_t levels, r.Int(kKeys[2], q.levels, 3, int64_t{1} << 16));
  q.levels = static_cast<uint32_t>(levels);
  MURMUR_ASSIGN_OR_RETURN(q.keep_probability,
                          r.Double(kKeys[3], q.keep_probability, 1e-9, 1.0));
  if (Status s = privacy::Validate(q); !s.ok()) {
    return Status::InvalidArgument("privacy.rqm_*: ", s.message());
  }
  return Status::Ok();
}

Status ReadSecureAggregationConfig(ConfigReader& r, ProtocolConfig& protocol) {
  privacy::SecureAggregationConfig& c = protocol.secure_aggregation;
  MURMUR_ASSIGN_OR_RETURN(std::string mode, r.String("privacy.secure_aggregation", "none",
                                                     {"none", "secagg", "secagg+"}));
  MURMUR_ASSIGN_OR_RETURN(c.mode, privacy::ParseSecureAggregationMode(mode));
  MURMUR_ASSIGN_OR_RETURN(c.threshold,
                          r.Double("privacy.secagg_threshold", c.threshold, 1e-9, 1.0));
  MURMUR_ASSIGN_OR_RETURN(const int64_t bits, r.Int("privacy.secagg_fractional_bits",
                                                    c.fixed_point.fractional_bits, 0, 30));
  c.fixed_point.fractional_bits = static_cast<int>(bits);
  MURMUR_ASSIGN_OR_RETURN(c.fixed_point.max_abs,
                          r.Double("privacy.secagg_max_abs", c.fixed_point.max_abs, 1e-9, 1e9));
  MURMUR_ASSIGN_OR_RETURN(std::string encoding, r.String("privacy.secagg_encoding", "fixed_point",
                                                         {"fixed_point", "rqm"}));
  MURMUR_ASSIGN_OR_RETURN(c.encoding, privacy::ParseSecAggEncoding(encoding));
  MURMUR_RETURN_IF_ERROR(ReadRqmConfig(r, c));
  MURMUR_ASSIGN_OR_RETURN(std::string entropy, r.String("privacy.secagg_entropy", "system",
                                                        {"system", "seeded"}));
  protocol.secagg_system_entropy = entropy == "system";
  return Status::Ok();
}

}  // namespace

Status ReadPrivacyConfig(ConfigReader& r, ProtocolConfig& protocol) {
  privacy::DpConfig& c = protocol.privacy;
  MURMUR_ASSIGN_OR_RETURN(std::string mode,
                          r.String("privacy.mode", "none", {"none", "central", "local"}));
  MURMUR_ASSIGN_OR_RETURN(c.mode, privacy::ParseDpMode(mode));
  MURMUR_ASSIGN_OR_RETURN(c.clip, r.Double("privacy.clip", c.clip, 1e-12, 1e12));
  MURMUR_ASSIGN_OR_RETURN(c.noise_multiplier,
                          r.Double("privacy.noise_multiplier", c.noise_multiplier, 0, 1e6));
  MURMUR_ASSIGN_OR_RETURN(c.delta, r.Double("privacy.delta", c.delta, 1e-300, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(c.adaptive_clip, r.Bool("privacy.adaptive_clip", c.adaptive_clip));
  privacy::AdaptiveClippingConfig& a = c.adaptive;
  MURMUR_ASSIGN_OR_RETURN(a.target_quantile,
                          r.Double("privacy.target_quantile", a.target_quantile, 1e-6, 1 - 1e-6));
  MURMUR_ASSIGN_OR_RETURN(a.learning_rate, r.Double("privacy.clip_lr", a.learning_rate, 1e-9, 1e3));
  MURMUR_ASSIGN_OR_RETURN(a.count_noise_stddev, r.Double("privacy.count_noise_stddev",
                                                         a.count_noise_stddev, 0, 1e9));
  return ReadSecureAggregationConfig(r, protocol);
}

Status ReadDpSgdConfig(ConfigReader& r, const ProtocolConfig& protocol, TrainConfig& train) {
  DpSgdConfig& c = train.dp_sgd;
  MURMUR_ASSIGN_OR_RETURN(c.enabled, r.Bool("privacy.dp_sgd", c.enabled));
  MURMUR_ASSIGN_OR_RETURN(c.clip, r.Double("privacy.dp_sgd_clip", c.clip, 1e-12, 1e12));
  MURMUR_ASSIGN_OR_RETURN(c.noise_multiplier, r.Double("privacy.dp_sgd_noise_multiplier",
                                                       c.noise_multiplier, 0, 1e6));
  if (r.Has("privacy.target_epsilon")) {
    MURMUR_ASSIGN_OR_RETURN(c.target_epsilon, r.Double("privacy.target_epsilon", 1, 1e-6, 1e6));
  }
  MURMUR_ASSIGN_OR_RETURN(c.steps, r.Int("privacy.dp_sgd_steps", c.steps, 0, int64_t{1} << 40));
  // A resolved config (what `murmur peer` reads) spells out every default,
  // so only values that differ from them count as set.
  const DpSgdConfig defaults;
  if (!c.enabled) {
    const std::pair<const char*, bool> keys[] = {
        {"privacy.dp_sgd_clip", c.clip != defaults.clip},
        {"privacy.dp_sgd_noise_multiplier", c.noise_multiplier != defaults.noise_multiplier},
        {"privacy.target_epsilon", c.target_epsilon.has_value()},
        {"privacy.dp_sgd_steps", c.steps != defaults.steps}};
    for (const auto& [key, set] : keys) {
      if (set) {
        return Status::InvalidArgument(key, " configures DP-SGD: set privacy.dp_sgd = true, or "
                                       "drop the key");
      }
    }
    return Status::Ok();
  }
  if (c.noise_multiplier != defaults.noise_multiplier && c.target_epsilon) {
    return Status::InvalidArgument("privacy.dp_sgd_noise_multiplier and privacy.target_epsilon "
                                   "both set the noise: keep one");
  }
  if (protocol.privacy.enabled()) {
    return Status::InvalidArgument(
        "privacy.dp_sgd = true (sample-level DP) with privacy.mode = \"",
        privacy::DpModeName(protocol.privacy.mode),
        "\" (client-level DP): the run reports one epsilon; use one of the two");
  }
  if (train.optimizer.sam_rho > 0) {
    return Status::InvalidArgument("privacy.dp_sgd = true with train.sam_rho > 0: SAM's second "
                                   "gradient is not clipped; set train.sam_rho = 0");
  }
  return Status::Ok();
}

}  // namespace murmur
