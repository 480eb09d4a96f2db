#include "murmur/robust/external_rules.h"

#include <map>
#include <mutex>

#include "murmur/robust/aggregator_chain.h"

namespace murmur {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<const ExternalRule>> rules;
};

Registry& TheRegistry() {
  static auto* registry = new Registry;  // never destroyed: used at exit by late callers
  return *registry;
}

class ExternalAggregator final : public Aggregator {
 public:
  ExternalAggregator(std::string name, std::shared_ptr<const ExternalRule> rule, int f,
                     ThreadPool* pool)
      : Aggregator(f, pool), name_(std::move(name)), rule_(std::move(rule)) {}
  std::string name() const override { return name_; }
  bool accepts_weights() const override { return rule_->accepts_weights; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override {
    // The rule sees finite inputs only, so scan in a pass of our own.
    if (scan != nullptr && ScanInputs(in, scan)) return Status::Ok();
    return rule_->aggregate(in, out);
  }

 private:
  const std::string name_;
  const std::shared_ptr<const ExternalRule> rule_;
};

}  // namespace

bool IsExternalRuleName(std::string_view name) {
  return name.substr(0, kExternalRulePrefix.size()) == kExternalRulePrefix;
}

Status RegisterExternalRule(const std::string& name, ExternalRule rule) {
  if (!IsExternalRuleName(name) || name.size() == kExternalRulePrefix.size()) {
    return Status::InvalidArgument("external rule name '", name,
                                   "' must be \"py:\" followed by a name, e.g. py:my_rule");
  }
  if (!rule.aggregate) {
    return Status::InvalidArgument("external rule '", name, "' has no aggregate function");
  }
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mu);
  registry.rules[name] = std::make_shared<const ExternalRule>(std::move(rule));
  return Status::Ok();
}

void UnregisterExternalRule(const std::string& name) {
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mu);
  registry.rules.erase(name);
}

std::vector<std::string> ExternalRuleNames() {
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mu);
  std::vector<std::string> names;
  for (const auto& [name, rule] : registry.rules) names.push_back(name);
  return names;
}

Result<std::unique_ptr<Aggregator>> MakeExternalAggregator(const AggregatorConfig& config,
                                                           ThreadPool* pool) {
  if (config.f < 0) {
    return Status::InvalidArgument(config.rule, ": f=", config.f, " must be >= 0");
  }
  std::shared_ptr<const ExternalRule> rule;
  {
    Registry& registry = TheRegistry();
    std::lock_guard lock(registry.mu);
    auto it = registry.rules.find(config.rule);
    if (it != registry.rules.end()) rule = it->second;
  }
  if (rule == nullptr) {
    return Status::InvalidArgument(
        "unknown aggregation rule '", config.rule, "'; register it first, e.g. in Python: ",
        "murmur.register_rule(\"", config.rule.substr(kExternalRulePrefix.size()), "\", fn)");
  }
  if (!config.options.empty()) {
    return Status::InvalidArgument(config.rule, ": unknown option '", config.options.begin()->first,
                                   "'; rules registered from outside take no options");
  }
  auto aggregator = std::make_unique<ExternalAggregator>(config.rule, std::move(rule), config.f,
                                                         pool);
  if (config.pre.empty()) return std::unique_ptr<Aggregator>(std::move(aggregator));
  std::vector<std::unique_ptr<PreAggregator>> stages;
  for (const PreAggregatorConfig& pre_config : config.pre) {
    MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<PreAggregator> stage,
                            MakePreAggregator(pre_config, config.f, pool));
    stages.push_back(std::move(stage));
  }
  return std::unique_ptr<Aggregator>(
      new AggregatorChain(std::move(stages), std::move(aggregator), config.f, pool));
}

}  // namespace murmur
