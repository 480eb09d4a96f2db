#include "murmur/robust/factory.h"

#include <cmath>
#include <functional>
#include <set>

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

// Reads options by name, remembering which were asked for so leftovers
// (typos) can be reported.
class OptionReader {
 public:
  OptionReader(const std::string& owner, const std::map<std::string, double>& options)
      : owner_(owner), options_(options) {}

  Result<double> Double(const std::string& key, double fallback, double min, double max) {
    known_.insert(key);
    auto it = options_.find(key);
    if (it == options_.end()) return fallback;
    const double v = it->second;
    if (!std::isfinite(v) || v < min || v > max) {
      return Status::InvalidArgument(owner_, ": option ", key, "=", v,
                                     " is outside [", min, ", ", max, "]");
    }
    return v;
  }

  Result<int> Int(const std::string& key, int fallback, int min, int max) {
    MURMUR_ASSIGN_OR_RETURN(double v, Double(key, fallback, min, max));
    if (v != std::floor(v)) {
      return Status::InvalidArgument(owner_, ": option ", key, "=", v,
                                     " must be an integer");
    }
    return static_cast<int>(v);
  }

  Result<double> Required(const std::string& key, double min, double max) {
    if (options_.find(key) == options_.end()) {
      known_.insert(key);
      return Status::InvalidArgument(owner_, ": option ", key, " is required");
    }
    return Double(key, 0, min, max);
  }

  Status CheckNoUnknown() const {
    for (const auto& [key, value] : options_) {
      if (known_.count(key) == 0) {
        std::string valid;
        for (const auto& k : known_) valid += (valid.empty() ? "" : ", ") + k;
        return Status::InvalidArgument(owner_, ": unknown option '", key, "'",
                                       valid.empty() ? " (it takes no options)"
                                                     : "; valid options: " + valid);
      }
    }
    return Status::Ok();
  }

 private:
  const std::string owner_;
  const std::map<std::string, double>& options_;
  std::set<std::string> known_;
};

constexpr double kHuge = 1e300;
constexpr int kMaxInt = 1 << 30;

using RuleMaker = std::function<Result<std::unique_ptr<Aggregator>>(
    OptionReader&, int f, ThreadPool* pool)>;
using PreMaker = std::function<Result<std::unique_ptr<PreAggregator>>(
    OptionReader&, int f, ThreadPool* pool)>;

const std::map<std::string, RuleMaker>& Rules() {
  static const auto* rules = new std::map<std::string, RuleMaker>{
      {"mean",
       [](OptionReader&, int, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         return std::unique_ptr<Aggregator>(new Mean(pool));
       }},
      {"median",
       [](OptionReader&, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         return std::unique_ptr<Aggregator>(new CoordinateMedian(f, pool));
       }},
      {"trimmed-mean",
       [](OptionReader&, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         return std::unique_ptr<Aggregator>(new TrimmedMean(f, pool));
       }},
      {"meamed",
       [](OptionReader&, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         return std::unique_ptr<Aggregator>(new MeaMed(f, pool));
       }},
      {"krum",
       [](OptionReader&, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         return std::unique_ptr<Aggregator>(new Krum(f, pool));
       }},
      {"multi-krum",
       [](OptionReader& o, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         MURMUR_ASSIGN_OR_RETURN(int m, o.Int("m", 0, 0, kMaxInt));
         return std::unique_ptr<Aggregator>(new MultiKrum(f, m, pool));
       }},
      {"geometric-median",
       [](OptionReader& o, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         GeometricMedianOptions opt;
         MURMUR_ASSIGN_OR_RETURN(opt.nu, o.Double("nu", opt.nu, 1e-300, kHuge));
         MURMUR_ASSIGN_OR_RETURN(opt.max_iterations,
                                 o.Int("max_iterations", opt.max_iterations, 1, kMaxInt));
         MURMUR_ASSIGN_OR_RETURN(opt.tolerance, o.Double("tolerance", opt.tolerance, 0, 1));
         return std::unique_ptr<Aggregator>(new GeometricMedian(f, opt, pool));
       }},
      {"bulyan",
       [](OptionReader&, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         return std::unique_ptr<Aggregator>(new Bulyan(f, pool));
       }},
      {"centered-clipping",
       [](OptionReader& o, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         CenteredClippingOptions opt;
         MURMUR_ASSIGN_OR_RETURN(opt.tau, o.Double("tau", opt.tau, 1e-300, kHuge));
         MURMUR_ASSIGN_OR_RETURN(opt.iterations,
                                 o.Int("iterations", opt.iterations, 1, kMaxInt));
         return std::unique_ptr<Aggregator>(new CenteredClipping(f, opt, pool));
       }},
      {"flag",
       [](OptionReader& o, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         FlagAggregatorOptions opt;
         MURMUR_ASSIGN_OR_RETURN(opt.subspace_dim,
                                 o.Int("subspace_dim", opt.subspace_dim, 1, kMaxInt));
         MURMUR_ASSIGN_OR_RETURN(opt.max_iterations,
                                 o.Int("max_iterations", opt.max_iterations, 0, kMaxInt));
         MURMUR_ASSIGN_OR_RETURN(opt.eps, o.Double("eps", opt.eps, 1e-300, 1));
         MURMUR_ASSIGN_OR_RETURN(int rescale, o.Int("rescale_to_median_norm", 0, 0, 1));
         opt.rescale_to_median_norm = rescale == 1;
         return std::unique_ptr<Aggregator>(new FlagAggregator(f, opt, pool));
       }},
      {"monna",
       [](OptionReader&, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         return std::unique_ptr<Aggregator>(new NearestNeighborAveraging(f, pool));
       }},
      {"similarity-downweighting",
       [](OptionReader& o, int f, ThreadPool* pool) -> Result<std::unique_ptr<Aggregator>> {
         MURMUR_ASSIGN_OR_RETURN(int pardoning, o.Int("pardoning", 0, 0, 1));
         MURMUR_ASSIGN_OR_RETURN(int logit, o.Int("logit", 0, 0, 1));
         const SimilarityScoreOptions score{.pardoning = pardoning == 1, .logit = logit == 1};
         return std::unique_ptr<Aggregator>(new SimilarityDownweighting(f, score, pool));
       }},
  };
  return *rules;
}

const std::map<std::string, PreMaker>& PreAggregators() {
  static const auto* pres = new std::map<std::string, PreMaker>{
      {"clip",
       [](OptionReader& o, int, ThreadPool* pool) -> Result<std::unique_ptr<PreAggregator>> {
         MURMUR_ASSIGN_OR_RETURN(double tau, o.Required("tau", 1e-300, kHuge));
         return std::unique_ptr<PreAggregator>(new StaticClipping(tau, pool));
       }},
      {"arc",
       [](OptionReader&, int f, ThreadPool* pool) -> Result<std::unique_ptr<PreAggregator>> {
         return std::unique_ptr<PreAggregator>(new AdaptiveRobustClipping(f, pool));
       }},
      {"nnm",
       [](OptionReader&, int f, ThreadPool* pool) -> Result<std::unique_ptr<PreAggregator>> {
         return std::unique_ptr<PreAggregator>(new NearestNeighborMixing(f, pool));
       }},
      {"bucketing",
       [](OptionReader& o, int, ThreadPool* pool) -> Result<std::unique_ptr<PreAggregator>> {
         MURMUR_ASSIGN_OR_RETURN(int s, o.Int("s", 2, 1, kMaxInt));
         return std::unique_ptr<PreAggregator>(new Bucketing(s, pool));
       }},
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
  OptionReader reader(config.name, config.options);
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<PreAggregator> pre, it->second(reader, f, pool));
  MURMUR_RETURN_IF_ERROR(reader.CheckNoUnknown());
  return pre;
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
  OptionReader reader(config.rule, config.options);
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<Aggregator> rule,
                          it->second(reader, config.f, pool));
  MURMUR_RETURN_IF_ERROR(reader.CheckNoUnknown());
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

std::vector<std::string> PreAggregatorNames() {
  std::vector<std::string> out;
  for (const auto& [name, maker] : PreAggregators()) out.push_back(name);
  return out;
}

}  // namespace murmur
