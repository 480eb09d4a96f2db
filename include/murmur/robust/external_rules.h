// Aggregation rules provided from outside murmur's C++ code -- a Python
// callable registered with murmur.register_rule (docs/python.md) -- used by
// name wherever a rule name is accepted: robust.rule = "py:my_rule" in a run
// config, MakeAggregator, ModelCombiner. Their names start with "py:".
//
// The registry is process-wide and thread-safe. A made Aggregator holds its
// own reference to the rule, so re-registering or unregistering a name does
// not affect aggregators (and runs) already built with it.
//
// Determinism is the provider's business: murmur calls the rule wherever it
// would call a built-in one, with the same inputs, so a rule that is a pure
// function of its arguments keeps a seeded run reproducible. The non-finite
// policy of robust/aggregator.h applies before the rule is called: it only
// ever sees finite inputs of equal size.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/core/thread_pool.h"
#include "murmur/robust/aggregator.h"
#include "murmur/robust/factory.h"

namespace murmur {

inline constexpr std::string_view kExternalRulePrefix = "py:";

struct ExternalRule {
  // Writes the aggregate of in.vectors (n >= 1 finite inputs, each of
  // out.size() elements; in.weights empty unless accepts_weights) to `out`.
  // An error Status makes Aggregate fail with it (protocols then count a
  // failed aggregation). Must be safe to call from several threads at once
  // (a Python rule serialises its calls on the GIL).
  std::function<Status(const CheckedInput& in, std::span<float> out)> aggregate;
  // Whether the rule takes per-input weights (as mean does); when false,
  // callers drop them.
  bool accepts_weights = false;
};

// True when `name` starts with kExternalRulePrefix.
bool IsExternalRuleName(std::string_view name);

// Registers `rule` as `name`, replacing a rule of that name. kInvalidArgument
// when `name` does not start with "py:", has nothing after it, or the rule
// has no aggregate function.
Status RegisterExternalRule(const std::string& name, ExternalRule rule);
// Removes `name`; no-op when it is not registered.
void UnregisterExternalRule(const std::string& name);
// Registered names, sorted.
std::vector<std::string> ExternalRuleNames();

// The registered rule config.rule, wrapped in an AggregatorChain when
// config.pre is non-empty (MakeAggregator calls this for "py:" names).
// kInvalidArgument for an unregistered name (saying how to register one),
// any entry in config.options (external rules take none), or f < 0.
Result<std::unique_ptr<Aggregator>> MakeExternalAggregator(const AggregatorConfig& config,
                                                           ThreadPool* pool);

}  // namespace murmur
