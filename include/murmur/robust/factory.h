// Builds rules and pre-aggregator chains by name, for configs and the CLI.
//
// Rules (AggregatorConfig::rule) and their options (AggregatorConfig::options):
//   mean                      (accepts weights)
//   median
//   trimmed-mean
//   meamed
//   krum
//   multi-krum                m = number averaged (0 = n - f; default 0)
//   geometric-median          nu = 1e-6, max_iterations = 1000,
//                             tolerance = 1e-8 (accepts weights)
//   bulyan
//   centered-clipping         tau = 1, iterations = 1 (reference = center)
//   flag                      subspace_dim = 1, max_iterations = 10,
//                             eps = 1e-7, rescale_to_median_norm = 0 (or 1)
//   monna                     (reference = own vector, required)
//   similarity-downweighting  pardoning = 0, logit = 0 (1: FoolsGold's)
// Pre-aggregators (PreAggregatorConfig::name) and their options:
//   clip                      tau (required)
//   arc
//   nnm
//   bucketing                 s = 2 (needs AggregationInput::rng)
// Every rule and pre-aggregator gets AggregatorConfig::f.
// Rules named "py:NAME" are registered from outside (robust/external_rules.h).
// The entries in factory.cc are the only list of these options:
// MakeAggregator checks against them, AggregatorOptions lists them and
// ReadAggregatorConfig reads them from a run config's [robust] table.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/core/status.h"
#include "murmur/core/thread_pool.h"
#include "murmur/robust/aggregator.h"

namespace murmur {

struct PreAggregatorConfig {
  std::string name;
  std::map<std::string, double> options;
};

struct AggregatorConfig {
  std::string rule = "mean";
  int f = 0;                               // Byzantine inputs to tolerate
  std::map<std::string, double> options;   // the rule's options, by name
  std::vector<PreAggregatorConfig> pre;    // applied in order before the rule
};

// Returns the rule (wrapped in an AggregatorChain when `pre` is non-empty).
// kInvalidArgument naming the bad value for an unknown rule or
// pre-aggregator (listing the known ones), an unknown option (listing the
// valid ones), an option out of range or not an integer where one is
// needed, or f < 0. `pool`, when given, must outlive the result.
Result<std::unique_ptr<Aggregator>> MakeAggregator(const AggregatorConfig& config,
                                                   ThreadPool* pool = nullptr);
Result<std::unique_ptr<PreAggregator>> MakePreAggregator(
    const PreAggregatorConfig& config, int f, ThreadPool* pool = nullptr);

// The names MakeAggregator and MakePreAggregator accept.
std::vector<std::string> AggregatorNames();
std::vector<std::string> PreAggregatorNames();

// One option a rule or pre-aggregator takes.
struct OptionSpec {
  enum class Kind { kInt, kDouble, kBool };
  std::string name;  // its key in AggregatorConfig::options
  // Its key in a config table: "TABLE.key", or the full key when it has a
  // dot. Rules use the name ("robust.max_iterations"); pre-aggregators prefix
  // it ("robust.clip_tau", "robust.bucket_s").
  std::string key;
  // kBool options are 0 or 1 in AggregatorConfig::options and true/false in
  // a config; kInt ones must be integers.
  Kind kind = Kind::kDouble;
  double fallback = 0;  // the value when absent (unless required)
  double min = 0;       // valid range, inclusive
  double max = 0;
  bool required = false;
};

// The options of a rule or pre-aggregator, in the order the factory lists
// them; empty for one that takes none, an unknown name or an external rule.
std::vector<OptionSpec> AggregatorOptions(std::string_view rule);
std::vector<OptionSpec> PreAggregatorOptions(std::string_view name);

// A rule selected by the same key but built elsewhere (a protocol's own, such
// as D-PSGD's SybilWall), with its options.
struct RuleSpec {
  std::string name;
  std::vector<OptionSpec> options;
};

// Reads TABLE.rule (AggregatorNames() or an `extra_rules` name), TABLE.f,
// TABLE.pre (PreAggregatorNames()) and every option key into `config`
// (TABLE is `table`, "robust" in a run config; docs/config.md lists the
// keys). config.options gets exactly the options of the chosen rule that
// the config sets, explicit zeros included; each pre-aggregator gets its
// own the same way. Option keys of rules not chosen (and of pre-aggregators
// not listed) are read, type-checked and ignored, so one sweep can set them
// for every cell. kInvalidArgument naming the key: a wrong type, a value out
// of the option's range, a required option missing, an unknown rule or
// pre-aggregator. Values are checked again by MakeAggregator; unknown keys
// are left to ConfigReader::CheckNoUnknownKeys.
Status ReadAggregatorConfig(ConfigReader& r, std::string_view table,
                            const std::vector<RuleSpec>& extra_rules, AggregatorConfig& config);

}  // namespace murmur
