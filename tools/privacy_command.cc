#include "privacy_command.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <string>

#include "cli_common.h"
#include "murmur/privacy/accountant.h"
#include "murmur/privacy/rqm_accountant.h"

namespace murmur::cli {
namespace {

int Usage(const std::string& message) {
  std::fprintf(stderr, "murmur privacy epsilon: %s\n", message.c_str());
  return kExitUsage;
}

// Empty when the options of --mechanism rqm are usable; otherwise what to
// change.
std::string CheckRqmOptions(const PrivacyOptions& o) {
  if (o.sigma >= 0 || o.target_epsilon >= 0 || o.q >= 0) {
    return "--mechanism rqm takes no --sigma, --target-epsilon or --q: its noise is the "
           "quantizer's own (--levels, --keep-probability, --clip, --rqm-delta)";
  }
  if (o.dimension < 1) {
    return "--mechanism rqm needs --dimension D >= 1: the coordinates of one release "
           "(the model's parameter count)";
  }
  if (o.levels < 3 || o.levels > (int64_t{1} << 16)) return "--levels must lie in [3, 65536]";
  const RqmConfig config{.clip = o.clip, .delta = o.rqm_delta,
                         .levels = static_cast<uint32_t>(o.levels),
                         .keep_probability = o.keep_probability};
  if (Status s = Validate(config); !s.ok()) {
    return s.message() + " (--clip, --rqm-delta, --levels, --keep-probability)";
  }
  if (o.steps < 1) return "--steps must be an integer >= 1 (releases, e.g. rounds)";
  if (!(o.delta > 0 && o.delta < 1)) {
    return "--delta must lie in (0, 1); use less than 1 / the number of clients, e.g. 1e-5";
  }
  if (o.conversion != "balle2020" && o.conversion != "classic") {
    return "--conversion must be balle2020 or classic";
  }
  return "";
}

int RqmEpsilon(const PrivacyOptions& o, privacy::RdpConversion conversion) {
  const RqmConfig config{.clip = o.clip, .delta = o.rqm_delta,
                         .levels = static_cast<uint32_t>(o.levels),
                         .keep_probability = o.keep_probability};
  privacy::PrivacyAccountant accountant;
  if (Status s = accountant.ComposeRqm(config, o.dimension, o.steps); !s.ok()) {
    return Usage(s.message());
  }
  Result<privacy::EpsilonAndOrder> eps = accountant.Epsilon(o.delta, conversion);
  if (!eps.ok()) return Usage(eps.status().message());
  std::printf("epsilon %.6g\norder %g\n", eps->epsilon, eps->order);
  std::printf("rdp_per_coordinate %.6g\n", privacy::RqmCoordinateRdp(config, eps->order));
  std::printf("# RQM: levels=%lld keep_probability=%g clip=%g rqm_delta=%g dimension=%lld "
              "steps=%lld delta=%g, exact RDP, %s conversion\n",
              static_cast<long long>(o.levels), o.keep_probability, o.clip, o.rqm_delta,
              static_cast<long long>(o.dimension), static_cast<long long>(o.steps), o.delta,
              o.conversion.c_str());
  return 0;
}

// Empty when the options are usable; otherwise what to change.
std::string CheckOptions(const PrivacyOptions& o) {
  if (o.mechanism != "gaussian" && o.mechanism != "rqm") {
    return "--mechanism must be gaussian or rqm";
  }
  if (o.mechanism == "rqm") return CheckRqmOptions(o);
  const bool has_sigma = o.sigma >= 0;
  const bool has_target = o.target_epsilon >= 0;
  if (has_sigma == has_target) {
    return "give exactly one of --sigma S (to compute epsilon) or "
           "--target-epsilon E (to solve for sigma)";
  }
  if (has_sigma && !std::isfinite(o.sigma)) {
    return "--sigma must be a finite noise multiplier >= 0 (noise stddev / clip norm)";
  }
  if (has_target && !(o.target_epsilon > 0 && std::isfinite(o.target_epsilon))) {
    return "--target-epsilon must be a finite number > 0, e.g. 1, 3 or 8";
  }
  if (!(o.q > 0 && o.q <= 1)) {
    return "--q must lie in (0, 1]: the fraction of records sampled per step, "
           "e.g. batch size / dataset size, or clients per round / clients";
  }
  if (o.steps < 1) return "--steps must be an integer >= 1 (training steps or rounds)";
  if (!(o.delta > 0 && o.delta < 1)) {
    return "--delta must lie in (0, 1); use less than 1 / dataset size, e.g. 1e-5";
  }
  if (o.conversion != "balle2020" && o.conversion != "classic") {
    return "--conversion must be balle2020 or classic";
  }
  return "";
}

}  // namespace

CLI::App* AddPrivacyCommand(CLI::App& app, PrivacyOptions& options) {
  CLI::App* privacy = app.add_subcommand(
      "privacy", "Differential privacy tools: the RDP accountants of the Poisson-subsampled\n"
                 "Gaussian mechanism and of RQM (randomized quantization)");
  privacy->require_subcommand(1);
  CLI::App* epsilon = privacy->add_subcommand(
      "epsilon",
      "Print epsilon for (--sigma, --q, --steps, --delta), or with "
      "--target-epsilon the smallest sigma that reaches it; with --mechanism rqm, for "
      "(--levels, --keep-probability, --clip, --rqm-delta, --dimension, --steps, --delta)");
  epsilon->add_option("--sigma", options.sigma, "Noise multiplier (noise stddev / clip norm)");
  epsilon->add_option("--target-epsilon", options.target_epsilon,
                      "Solve for the noise multiplier that reaches this epsilon");
  epsilon->add_option("--q", options.q, "Sampling rate per step, in (0, 1]");
  epsilon->add_option("--steps", options.steps, "Number of steps (or rounds)");
  epsilon->add_option("--delta", options.delta, "Target delta")->capture_default_str();
  epsilon->add_option("--conversion", options.conversion,
                      "RDP to (epsilon, delta): balle2020 (tighter) or classic")
      ->capture_default_str();
  epsilon->add_option("--mechanism", options.mechanism,
                      "gaussian (the subsampled Gaussian) or rqm (randomized quantization)")
      ->capture_default_str();
  epsilon->add_option("--dimension", options.dimension,
                      "rqm: coordinates of one release (the model's parameter count)");
  epsilon->add_option("--levels", options.levels, "rqm: quantization levels m")
      ->capture_default_str();
  epsilon->add_option("--keep-probability", options.keep_probability,
                      "rqm: probability of keeping each interior level")
      ->capture_default_str();
  epsilon->add_option("--clip", options.clip, "rqm: inputs are clamped to [-clip, clip]")
      ->capture_default_str();
  epsilon->add_option("--rqm-delta", options.rqm_delta,
                      "rqm: the levels span [-rqm-delta, rqm-delta] (privacy.rqm_delta)")
      ->capture_default_str();
  return privacy;
}

int PrivacyCommand(const PrivacyOptions& options) {
  if (std::string problem = CheckOptions(options); !problem.empty()) {
    return Usage(problem);
  }
  const privacy::RdpConversion conversion = options.conversion == "classic"
                                                ? privacy::RdpConversion::kClassic
                                                : privacy::RdpConversion::kBalle2020;
  if (options.mechanism == "rqm") return RqmEpsilon(options, conversion);
  double sigma = options.sigma;
  if (options.target_epsilon >= 0) {
    Result<double> solved = privacy::SolveSigma(options.target_epsilon, options.q,
                                                options.steps, options.delta, conversion);
    if (!solved.ok()) {
      std::fprintf(stderr, "murmur privacy epsilon: %s; allow a larger epsilon or "
                   "fewer steps\n", solved.status().message().c_str());
      return kExitUsage;
    }
    sigma = *solved;
    std::printf("sigma %.6g\n", sigma);
  }
  privacy::PrivacyAccountant accountant;
  if (Status s = accountant.ComposeSubsampledGaussian(options.q, sigma, options.steps);
      !s.ok()) {
    return Usage(s.message());
  }
  Result<privacy::EpsilonAndOrder> eps = accountant.Epsilon(options.delta, conversion);
  if (!eps.ok()) return Usage(eps.status().message());
  std::printf("epsilon %.6g\norder %g\n", eps->epsilon, eps->order);
  std::printf("# Poisson-subsampled Gaussian: q=%g sigma=%.6g steps=%lld delta=%g, "
              "RDP accountant, %s conversion\n",
              options.q, sigma, static_cast<long long>(options.steps), options.delta,
              options.conversion.c_str());
  return 0;
}

}  // namespace murmur::cli
