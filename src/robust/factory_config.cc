// ReadAggregatorConfig: a run config's [robust] table through the factory's
// own option lists (factory.cc).
#include <cstdint>
#include <set>

#include "murmur/robust/factory.h"

namespace murmur {
namespace {

using Kind = OptionSpec::Kind;

std::string KeyOf(std::string_view table, const OptionSpec& spec) {
  if (spec.key.find('.') != std::string::npos) return spec.key;
  return std::string(table) + "." + spec.key;
}

// Reads `spec` at `key` (the spec's fallback when absent), within the spec's
// range when `in_range`, else checking the type only.
Result<double> ReadOption(ConfigReader& r, const std::string& key, const OptionSpec& spec,
                          bool in_range) {
  switch (spec.kind) {
    case Kind::kBool: {
      MURMUR_ASSIGN_OR_RETURN(bool value, r.Bool(key, spec.fallback != 0));
      return value ? 1.0 : 0.0;
    }
    case Kind::kInt: {
      MURMUR_ASSIGN_OR_RETURN(
          int64_t value, r.Int(key, static_cast<int64_t>(spec.fallback),
                               in_range ? static_cast<int64_t>(spec.min) : INT64_MIN,
                               in_range ? static_cast<int64_t>(spec.max) : INT64_MAX));
      return static_cast<double>(value);
    }
    case Kind::kDouble:
      break;
  }
  return r.Double(key, spec.fallback, in_range ? spec.min : -1e300, in_range ? spec.max : 1e300);
}

// The options `owner` takes into `options`: those the config sets, explicit
// zeros included. An absent one is read with its fallback (so the resolved
// config shows it) but left out of `options`; a required one must be set.
Status ReadOwnOptions(ConfigReader& r, std::string_view table, const std::string& owner,
                      const std::vector<OptionSpec>& specs, std::set<std::string>& read,
                      std::map<std::string, double>& options) {
  options.clear();
  for (const OptionSpec& spec : specs) {
    const std::string key = KeyOf(table, spec);
    read.insert(key);
    if (!r.Has(key)) {
      if (spec.required) {
        return Status::InvalidArgument(key, " is required by ", owner);
      }
      MURMUR_RETURN_IF_ERROR(ReadOption(r, key, spec, /*in_range=*/true).status());
      continue;
    }
    MURMUR_ASSIGN_OR_RETURN(options[spec.name], ReadOption(r, key, spec, /*in_range=*/true));
  }
  return Status::Ok();
}

}  // namespace

Status ReadAggregatorConfig(ConfigReader& r, std::string_view table,
                            const std::vector<RuleSpec>& extra_rules, AggregatorConfig& config) {
  const std::string t(table);
  std::vector<std::string> rules = AggregatorNames();
  std::vector<std::vector<OptionSpec>> all_options;
  for (const std::string& name : rules) all_options.push_back(AggregatorOptions(name));
  for (const std::string& name : PreAggregatorNames()) {
    all_options.push_back(PreAggregatorOptions(name));
  }
  std::vector<OptionSpec> chosen;
  for (const RuleSpec& extra : extra_rules) {
    rules.push_back(extra.name);
    all_options.push_back(extra.options);
  }
  MURMUR_ASSIGN_OR_RETURN(config.rule, r.String(t + ".rule", config.rule, rules));
  MURMUR_ASSIGN_OR_RETURN(int64_t f, r.Int(t + ".f", config.f, 0, 1'000'000));
  config.f = static_cast<int>(f);
  MURMUR_ASSIGN_OR_RETURN(std::vector<std::string> pre,
                          r.StringList(t + ".pre", {}, PreAggregatorNames()));
  chosen = AggregatorOptions(config.rule);
  for (const RuleSpec& extra : extra_rules) {
    if (extra.name == config.rule) chosen = extra.options;
  }
  std::set<std::string> read;
  MURMUR_RETURN_IF_ERROR(ReadOwnOptions(r, t, config.rule, chosen, read, config.options));
  config.pre.clear();
  for (const std::string& name : pre) {
    PreAggregatorConfig& stage = config.pre.emplace_back(PreAggregatorConfig{.name = name});
    MURMUR_RETURN_IF_ERROR(ReadOwnOptions(r, t, "pre-aggregator " + name,
                                          PreAggregatorOptions(name), read, stage.options));
  }
  // Every other rule's and pre-aggregator's keys: accepted when set, checked
  // for type, ignored.
  for (const std::vector<OptionSpec>& specs : all_options) {
    for (const OptionSpec& spec : specs) {
      const std::string key = KeyOf(t, spec);
      if (!read.insert(key).second || !r.Has(key)) continue;
      MURMUR_RETURN_IF_ERROR(ReadOption(r, key, spec, /*in_range=*/false).status());
    }
  }
  return Status::Ok();
}

}  // namespace murmur
