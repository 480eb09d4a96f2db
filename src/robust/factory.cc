#include "murmur/robust/factory.h"

#include <cmath>
#include <functional>
#include <set>
#include <type_traits>

#include "murmur/robust/aggregator_chain.h"
#include "murmur/robust/bucketing.h"
#include "murmur/robust/bulyan.h"
#include "murmur/robust/centered_clipping.h"
#include "murmur/robust/clipping.h"
#include "murmur/robust/coordinate_median.h"
#include "murmur/robust/external_rules.h"
#include "murmur/robust/flag_aggregator.h"
#include "murmur/robust/geometric_median.h"
#include "murmur/robust/krum.h"
#include "murmur/robust/meamed.h"
#include "murmur/robust/mean.h"
#include "murmur/robust/nearest_neighbor_averaging.h"
#include "murmur/robust/nearest_neighbor_mixing.h"
#include "murmur/robust/similarity_downweighting.h"
#include "murmur/robust/trimmed_mean.h"

namespace murmur {
namespace {

using Kind = OptionSpec::Kind;
using Values = std::map<std::string, double>;

constexpr double kHuge = 1e300;
constexpr double kMaxInt = 1 << 30;

OptionSpec Int(const char* name, double fallback, double min, double max = kMaxInt) {
  return {.name = name, .key = name, .kind = Kind::kInt, .fallback = fallback,
          .min = min, .max = max};
}
OptionSpec Real(const char* name, double fallback, double min, double max = kHuge) {
  return {.name = name, .key = name, .kind = Kind::kDouble, .fallback = fallback,
          .min = min, .max = max};
}
OptionSpec Flag(const char* name, bool fallback) {
  return {.name = name, .key = name, .kind = Kind::kBool, .fallback = fallback ? 1.0 : 0.0,
          .min = 0, .max = 1};
}

// Checks `options` against `specs` and returns every option's value, the
// spec's fallback where absent: kInvalidArgument for an unknown option
// (listing the valid ones), a value out of range or not an integer where
// one is needed, or a required option missing.
Result<Values> Resolve(const std::string& owner, const std::vector<OptionSpec>& specs,
                       const Values& options) {
  Values out;
  for (const OptionSpec& spec : specs) {
    auto it = options.find(spec.name);
    if (it == options.end()) {
      if (spec.required) {
        return Status::InvalidArgument(owner, ": option ", spec.name, " is required");
      }
      out[spec.name] = spec.fallback;
      continue;
    }
    const double v = it->second;
    if (!std::isfinite(v) || v < spec.min || v > spec.max) {
      return Status::InvalidArgument(owner, ": option ", spec.name, "=", v, " is outside [",
                                     spec.min, ", ", spec.max, "]");
    }
    if (spec.kind != Kind::kDouble && v != std::floor(v)) {
      return Status::InvalidArgument(owner, ": option ", spec.name, "=", v,
                                     " must be an integer");
    }
    out[spec.name] = v;
  }
  for (const auto& [key, value] : options) {
    if (out.count(key) == 0) {
      std::set<std::string> known;
      for (const OptionSpec& spec : specs) known.insert(spec.name);
      std::string valid;
      for (const auto& k : known) valid += (valid.empty() ? "" : ", ") + k;
      return Status::InvalidArgument(owner, ": unknown option '", key, "'",
                                     valid.empty() ? " (it takes no options)"
                                                   : "; valid options: " + valid);
    }
  }
  return out;
}

int I(const Values& v, const char* name) { return static_cast<int>(v.at(name)); }

// A named rule or pre-aggregator: the options it takes (its only list of
// them: MakeAggregator checks against it and ReadAggregatorConfig reads it)
// and how to build it from their resolved values.
template <typename T>
struct Entry {
  std::vector<OptionSpec> options;
  std::function<std::unique_ptr<T>(const Values&, int f, ThreadPool* pool)> make;
};
using RuleEntry = Entry<Aggregator>;
using PreEntry = Entry<PreAggregator>;

template <typename T>
RuleEntry NoOptions() {
  return {{}, [](const Values&, int f, ThreadPool* pool) -> std::unique_ptr<Aggregator> {
            if constexpr (std::is_constructible_v<T, int, ThreadPool*>) {
              return std::make_unique<T>(f, pool);
            } else {
              return std::make_unique<T>(pool);
            }
          }};
}

const std::map<std::string, RuleEntry>& Rules() {
  static const auto* rules = new std::map<std::string, RuleEntry>{
      {"mean", NoOptions<Mean>()},
      {"median", NoOptions<CoordinateMedian>()},
      {"trimmed-mean", NoOptions<TrimmedMean>()},
      {"meamed", NoOptions<MeaMed>()},
      {"krum", NoOptions<Krum>()},
      {"multi-krum",
       {{Int("m", 0, 0)},
        [](const Values& v, int f, ThreadPool* pool) -> std::unique_ptr<Aggregator> {
          return std::make_unique<MultiKrum>(f, I(v, "m"), pool);
        }}},
      {"geometric-median",
       {{Real("nu", GeometricMedianOptions{}.nu, 1e-300),
         Int("max_iterations", GeometricMedianOptions{}.max_iterations, 1),
         Real("tolerance", GeometricMedianOptions{}.tolerance, 0, 1)},
        [](const Values& v, int f, ThreadPool* pool) -> std::unique_ptr<Aggregator> {
          const GeometricMedianOptions opt{.nu = v.at("nu"),
                                           .max_iterations = I(v, "max_iterations"),
                                           .tolerance = v.at("tolerance")};
          return std::make_unique<GeometricMedian>(f, opt, pool);
        }}},
      {"bulyan", NoOptions<Bulyan>()},
      {"centered-clipping",
       {{Real("tau", CenteredClippingOptions{}.tau, 1e-300),
         Int("iterations", CenteredClippingOptions{}.iterations, 1)},
        [](const Values& v, int f, ThreadPool* pool) -> std::unique_ptr<Aggregator> {
          const CenteredClippingOptions opt{.tau = v.at("tau"),
                                            .iterations = I(v, "iterations")};
          return std::make_unique<CenteredClipping>(f, opt, pool);
        }}},
      {"flag",
       {{Int("subspace_dim", FlagAggregatorOptions{}.subspace_dim, 1),
         Int("max_iterations", FlagAggregatorOptions{}.max_iterations, 0),
         Real("eps", FlagAggregatorOptions{}.eps, 1e-300, 1),
         Flag("rescale_to_median_norm", FlagAggregatorOptions{}.rescale_to_median_norm)},
        [](const Values& v, int f, ThreadPool* pool) -> std::unique_ptr<Aggregator> {
          const FlagAggregatorOptions opt{
              .subspace_dim = I(v, "subspace_dim"),
              .max_iterations = I(v, "max_iterations"),
              .eps = v.at("eps"),
              .rescale_to_median_norm = v.at("rescale_to_median_norm") == 1};
          return std::make_unique<FlagAggregator>(f, opt, pool);
        }}},
      {"monna", NoOptions<NearestNeighborAveraging>()},
      {"similarity-downweighting",
       {{Flag("pardoning", false), Flag("logit", false)},
        [](const Values& v, int f, ThreadPool* pool) -> std::unique_ptr<Aggregator> {
          const SimilarityScoreOptions score{.pardoning = v.at("pardoning") == 1,
                                             .logit = v.at("logit") == 1};
          return std::make_unique<SimilarityDownweighting>(f, score, pool);
        }}},
  };
  return *rules;
}

const std::map<std::string, PreEntry>& PreAggregators() {
  static const auto* pres = new std::map<std::string, PreEntry>{
      {"clip",
       {{{.name = "tau", .key = "clip_tau", .kind = Kind::kDouble, .fallback = 0,
          .min = 1e-300, .max = kHuge, .required = true}},
        [](const Values& v, int, ThreadPool* pool) -> std::unique_ptr<PreAggregator> {
          return std::make_unique<StaticClipping>(v.at("tau"), pool);
        }}},
      {"arc",
       {{}, [](const Values&, int f, ThreadPool* pool) -> std::unique_ptr<PreAggregator> {
          return std::make_unique<AdaptiveRobustClipping>(f, pool);
        }}},
      {"nnm",
       {{}, [](const Values&, int f, ThreadPool* pool) -> std::unique_ptr<PreAggregator> {
          return std::make_unique<NearestNeighborMixing>(f, pool);
        }}},
      {"bucketing",
       {{{.name = "s", .key = "bucket_s", .kind = Kind::kInt, .fallback = 2, .min = 1,
          .max = kMaxInt}},
        [](const Values& v, int, ThreadPool* pool) -> std::unique_ptr<PreAggregator> {
          return std::make_unique<Bucketing>(I(v, "s"), pool);
        }}},
  };
  return *pres;
}

template <typename Map>
std::string JoinNames(const Map& map) {
  std::string out;
  for (const auto& [name, maker] : map) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

Result<std::unique_ptr<PreAggregator>> MakePreAggregator(const PreAggregatorConfig& config,
                                                         int f, ThreadPool* pool) {
  if (f < 0) {
    return Status::InvalidArgument(config.name, ": f=", f, " must be >= 0");
  }
  auto it = PreAggregators().find(config.name);
  if (it == PreAggregators().end()) {
    return Status::InvalidArgument("unknown pre-aggregator '", config.name,
                                   "'; known: ", JoinNames(PreAggregators()));
  }
  MURMUR_ASSIGN_OR_RETURN(Values values,
                          Resolve(config.name, it->second.options, config.options));
  return it->second.make(values, f, pool);
}

Result<std::unique_ptr<Aggregator>> MakeAggregator(const AggregatorConfig& config,
                                                   ThreadPool* pool) {
  if (config.f < 0) {
    return Status::InvalidArgument(config.rule, ": f=", config.f, " must be >= 0");
  }
  if (IsExternalRuleName(config.rule)) return MakeExternalAggregator(config, pool);
  auto it = Rules().find(config.rule);
  if (it == Rules().end()) {
    return Status::InvalidArgument("unknown aggregation rule '", config.rule,
                                   "'; known: ", JoinNames(Rules()));
  }
  MURMUR_ASSIGN_OR_RETURN(Values values,
                          Resolve(config.rule, it->second.options, config.options));
  std::unique_ptr<Aggregator> rule = it->second.make(values, config.f, pool);
  if (config.pre.empty()) return rule;
  std::vector<std::unique_ptr<PreAggregator>> stages;
  for (const auto& pre_config : config.pre) {
    MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<PreAggregator> stage,
                            MakePreAggregator(pre_config, config.f, pool));
    stages.push_back(std::move(stage));
  }
  return std::unique_ptr<Aggregator>(
      new AggregatorChain(std::move(stages), std::move(rule), config.f, pool));
}

std::vector<std::string> AggregatorNames() {
  std::vector<std::string> out;
  for (const auto& [name, maker] : Rules()) out.push_back(name);
  for (std::string& name : ExternalRuleNames()) out.push_back(std::move(name));
  return out;
}

std::vector<OptionSpec> AggregatorOptions(std::string_view rule) {
  auto it = Rules().find(std::string(rule));
  return it == Rules().end() ? std::vector<OptionSpec>{} : it->second.options;
}

std::vector<OptionSpec> PreAggregatorOptions(std::string_view name) {
  auto it = PreAggregators().find(std::string(name));
  return it == PreAggregators().end() ? std::vector<OptionSpec>{} : it->second.options;
}

std::vector<std::string> PreAggregatorNames() {
  std::vector<std::string> out;
  for (const auto& [name, maker] : PreAggregators()) out.push_back(name);
  return out;
}

}  // namespace murmur
