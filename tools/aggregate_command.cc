#include "aggregate_command.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli_common.h"
#include "murmur/core/npy.h"
#include "murmur/core/rng.h"
#include "murmur/core/thread_pool.h"

namespace murmur::cli {
namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

int Fail(const Status& status) {
  return cli::Fail("aggregate", status, UsageErrors::kAllButUnavailable);
}

}  // namespace

Result<PreAggregatorConfig> ParseStageSpec(std::string_view spec) {
  std::vector<std::string_view> parts = Split(spec, ':');
  PreAggregatorConfig config{.name = std::string(parts[0])};
  if (config.name.empty()) {
    return Status::InvalidArgument("'", spec, "' has no name; write e.g. clip:tau=5");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status::InvalidArgument("'", spec, "': option '", parts[i],
                                     "' must look like key=value");
    }
    const std::string key(parts[i].substr(0, eq));
    std::optional<double> value = ParseNumber(parts[i].substr(eq + 1));
    if (!value) {
      return Status::InvalidArgument("'", spec, "': option ", key, "='", parts[i].substr(eq + 1),
                                     "' is not a finite number");
    }
    if (!config.options.emplace(key, *value).second) {
      return Status::InvalidArgument("'", spec, "': option ", key, " is given twice");
    }
  }
  return config;
}

Result<AggregatorConfig> ParseAggregatorConfig(std::string_view rule, int f,
                                               std::string_view pre) {
  MURMUR_ASSIGN_OR_RETURN(PreAggregatorConfig rule_spec, ParseStageSpec(rule));
  AggregatorConfig config{.rule = rule_spec.name, .f = f, .options = rule_spec.options};
  if (!pre.empty()) {
    for (std::string_view stage : Split(pre, ',')) {
      MURMUR_ASSIGN_OR_RETURN(PreAggregatorConfig p, ParseStageSpec(stage));
      config.pre.push_back(std::move(p));
    }
  }
  return config;
}

Result<std::vector<double>> ParseNumberList(std::string_view list, std::string_view what) {
  std::vector<double> values;
  for (std::string_view item : Split(list, ',')) {
    std::optional<double> v = ParseNumber(item);
    if (!v) {
      return Status::InvalidArgument(what, " entry '", item, "' is not a finite number");
    }
    values.push_back(*v);
  }
  return values;
}

CLI::App* AddAggregateCommand(CLI::App& app, AggregateOptions& options) {
  CLI::App* aggregate = app.add_subcommand(
      "aggregate",
      "Aggregate vectors stored as .npy files with a robust rule (Krum, median,\n"
      "trimmed mean, ...), optionally after pre-aggregators (clipping, NNM, ...).\n"
      "Example: murmur aggregate --rule trimmed-mean --f 1 g0.npy g1.npy g2.npy");
  aggregate->footer(
      "Each input is one float32 .npy file (numpy.save(path, v.astype('<f4')); any\n"
      "shape, read flattened in C order). The result goes to --out as a 1-D float32\n"
      ".npy, or to stdout, one value per line. A rule or pre-aggregator takes options\n"
      "as name:key=value[:key=value].\n"
      "Rules: " + JoinNames(AggregatorNames()) + ".\n"
      "Pre-aggregators (--pre, applied in order): " + JoinNames(PreAggregatorNames()) + ".\n"
      "Options (defaults): multi-krum m=0 (n-f); geometric-median nu=1e-6\n"
      "max_iterations=1000 tolerance=1e-8; centered-clipping tau=1 iterations=1;\n"
      "flag subspace_dim=1 max_iterations=10 eps=1e-7 rescale_to_median_norm=0;\n"
      "similarity-downweighting pardoning=0 logit=0 (1: FoolsGold's score);\n"
      "clip tau (required); bucketing s=2. monna needs --reference; centered-clipping\n"
      "clips around --reference when given; mean and geometric-median take --weights.\n"
      "Examples:\n"
      "  murmur aggregate --rule median g0.npy g1.npy g2.npy\n"
      "  murmur aggregate --rule multi-krum:m=3 --f 1 --pre clip:tau=10,nnm g*.npy --out agg.npy");
  aggregate->add_option("inputs", options.inputs, "Input vectors, one .npy file each")
      ->required();
  aggregate->add_option("--rule", options.rule, "Rule and its options, e.g. krum, multi-krum:m=3")
      ->required()
      ->type_name("RULE[:K=V]...");
  aggregate->add_option("--f", options.f, "Byzantine inputs to tolerate (default 0)")
      ->check(CLI::Range(0, 1 << 30));
  aggregate->add_option("--pre", options.pre,
                        "Pre-aggregators before the rule, comma-separated, e.g. clip:tau=5,nnm")
      ->type_name("STAGE[:K=V]...,...");
  aggregate->add_option("--weights", options.weights,
                        "One weight per input, comma-separated (mean, geometric-median)")
      ->type_name("W,W,...");
  aggregate->add_option("--reference", options.reference,
                        "The aggregating peer's own vector (.npy), for monna and "
                        "centered-clipping")
      ->type_name("FILE");
  aggregate->add_option("--seed", options.seed, "Seed for bucketing's random buckets (default 1)");
  aggregate->add_option("--threads", options.threads, "Threads for the rule's kernels (default 1)")
      ->check(CLI::Range(1, 1024));
  aggregate->add_option("--out", options.out,
                        "Write the aggregate to this .npy file (default: print to stdout)")
      ->type_name("FILE");
  return aggregate;
}

int AggregateCommand(const AggregateOptions& options) {
  Result<AggregatorConfig> config = ParseAggregatorConfig(options.rule, options.f, options.pre);
  if (!config.ok()) return Fail(config.status());
  std::unique_ptr<ThreadPool> pool;
  if (options.threads > 1) pool = std::make_unique<ThreadPool>(options.threads);
  Result<std::unique_ptr<Aggregator>> rule = MakeAggregator(*config, pool.get());
  if (!rule.ok()) return Fail(rule.status());
  if (!options.out.empty()) {
    if (Status s = CheckOutputFile(options.out, "--out"); !s.ok()) return Fail(s);
  }

  std::vector<std::vector<float>> vectors;
  for (const std::string& path : options.inputs) {
    Result<NpyArray> array = ReadNpyFile(path);
    if (!array.ok()) return Fail(array.status());
    if (array->data.empty()) {
      return Fail(Status::InvalidArgument("'", path, "' holds no values"));
    }
    if (!vectors.empty() && array->data.size() != vectors[0].size()) {
      return Fail(Status::InvalidArgument("'", path, "' has ", array->data.size(),
                                          " values but '", options.inputs[0], "' has ",
                                          vectors[0].size(), "; all inputs must have the same size"));
    }
    vectors.push_back(std::move(array->data));
  }
  std::vector<float> reference;
  if (!options.reference.empty()) {
    Result<NpyArray> array = ReadNpyFile(options.reference);
    if (!array.ok()) return Fail(array.status());
    reference = std::move(array->data);
  }
  std::vector<double> weights;
  if (!options.weights.empty()) {
    Result<std::vector<double>> parsed = ParseNumberList(options.weights, "--weights");
    if (!parsed.ok()) return Fail(parsed.status());
    if (parsed->size() != vectors.size()) {
      return Fail(Status::InvalidArgument("--weights has ", parsed->size(), " entries for ",
                                          vectors.size(), " inputs"));
    }
    weights = std::move(parsed).value();
  }

  std::vector<std::span<const float>> views(vectors.begin(), vectors.end());
  Rng rng(options.seed, PeerId(0), RngPurpose::kProtocol);
  std::vector<float> out(vectors[0].size());
  Status status = (*rule)->Aggregate(
      AggregationInput{.vectors = views, .weights = weights, .reference = reference, .rng = &rng},
      out);
  if (!status.ok()) return Fail(status);

  if (options.out.empty()) {
    for (float v : out) std::printf("%.9g\n", static_cast<double>(v));
    return 0;
  }
  if (Status s = WriteNpyFile(options.out, out); !s.ok()) return Fail(s);
  std::printf("%s of %zu inputs (%zu values each) written to %s\n", (*rule)->name().c_str(),
              vectors.size(), out.size(), options.out.c_str());
  return 0;
}

}  // namespace murmur::cli
