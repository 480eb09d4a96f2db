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
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

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

}  // namespace murmur
