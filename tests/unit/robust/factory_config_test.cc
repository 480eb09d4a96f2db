// ReadAggregatorConfig: the [robust] table read through the factory's own
// option lists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "murmur/core/config.h"
#include "murmur/robust/factory.h"
#include "murmur/robust/flag_aggregator.h"
#include "murmur/robust/similarity_downweighting.h"

namespace murmur {
namespace {

using ::testing::HasSubstr;
using Options = std::map<std::string, double>;

Result<AggregatorConfig> Read(const std::string& toml, const std::vector<RuleSpec>& extra = {}) {
  Config config = Config::FromString(toml, "test.toml").value();
  ConfigReader r(config);
  AggregatorConfig out;
  MURMUR_RETURN_IF_ERROR(ReadAggregatorConfig(r, "robust", extra, out));
  MURMUR_RETURN_IF_ERROR(r.CheckNoUnknownKeys());
  return out;
}

// A valid value other than the option's default, as TOML and as the number
// AggregatorConfig::options should hold.
std::pair<std::string, double> OtherValue(const OptionSpec& spec) {
  switch (spec.kind) {
    case OptionSpec::Kind::kBool:
      return spec.fallback == 0 ? std::pair{"true", 1.0} : std::pair{"false", 0.0};
    case OptionSpec::Kind::kInt: {
      const double v = spec.fallback + 1 <= spec.max ? spec.fallback + 1 : spec.fallback - 1;
      return {std::to_string(static_cast<int64_t>(v)), v};
    }
    case OptionSpec::Kind::kDouble:
      break;
  }
  const double v = spec.fallback > 0 && spec.fallback * 2 <= spec.max ? spec.fallback * 2 : 1.5;
  char text[64];
  std::snprintf(text, sizeof(text), "%.17g", v);
  return {text, v};
}

TEST(ReadAggregatorConfig, EveryRuleOptionIsSettableFromToml) {
  int checked = 0;
  for (const std::string& rule : AggregatorNames()) {
    for (const OptionSpec& spec : AggregatorOptions(rule)) {
      const auto [text, value] = OtherValue(spec);
      ASSERT_NE(value, spec.fallback) << rule << "." << spec.name;
      const std::string toml =
          "[robust]\nrule = \"" + rule + "\"\n" + spec.key + " = " + text + "\n";
      Result<AggregatorConfig> c = Read(toml);
      ASSERT_TRUE(c.ok()) << toml << c.status().ToString();
      EXPECT_EQ(c->options, (Options{{spec.name, value}})) << toml;
      EXPECT_TRUE(MakeAggregator(*c).ok()) << toml;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12);  // m, 3 geometric-median, 2 centered-clipping, 4 flag, 2 FoolsGold
}

TEST(ReadAggregatorConfig, EveryPreAggregatorOptionIsSettableFromToml) {
  int checked = 0;
  for (const std::string& name : PreAggregatorNames()) {
    for (const OptionSpec& spec : PreAggregatorOptions(name)) {
      const auto [text, value] = OtherValue(spec);
      const std::string toml =
          "[robust]\npre = [\"" + name + "\"]\n" + spec.key + " = " + text + "\n";
      Result<AggregatorConfig> c = Read(toml);
      ASSERT_TRUE(c.ok()) << toml << c.status().ToString();
      ASSERT_EQ(c->pre.size(), 1u);
      EXPECT_EQ(c->pre[0].options, (Options{{spec.name, value}})) << toml;
      EXPECT_TRUE(MakeAggregator(*c).ok()) << toml;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);  // clip_tau, bucket_s
}

TEST(ReadAggregatorConfig, FlagMaxIterationsZeroReachesTheRule) {
  const AggregatorConfig c = Read("[robust]\nrule = \"flag\"\nmax_iterations = 0\n").value();
  EXPECT_EQ(c.options, (Options{{"max_iterations", 0}}));
  std::unique_ptr<Aggregator> rule = MakeAggregator(c).value();
  const auto* flag = dynamic_cast<const FlagAggregator*>(rule.get());
  ASSERT_NE(flag, nullptr);
  EXPECT_EQ(flag->options().max_iterations, 0);
  // Absent, the rule's own default.
  rule = MakeAggregator(Read("[robust]\nrule = \"flag\"\n").value()).value();
  EXPECT_EQ(dynamic_cast<const FlagAggregator*>(rule.get())->options().max_iterations, 10);
}

TEST(ReadAggregatorConfig, PardoningAndLogitReachSimilarityDownweighting) {
  const AggregatorConfig c = Read(
      "[robust]\nrule = \"similarity-downweighting\"\npardoning = true\nlogit = true\n").value();
  EXPECT_EQ(c.options, (Options{{"pardoning", 1}, {"logit", 1}}));
  std::unique_ptr<Aggregator> rule = MakeAggregator(c).value();
  const auto* sd = dynamic_cast<const SimilarityDownweighting*>(rule.get());
  ASSERT_NE(sd, nullptr);
  EXPECT_TRUE(sd->score_options().pardoning);
  EXPECT_TRUE(sd->score_options().logit);
}

TEST(ReadAggregatorConfig, AnExplicitZeroOutsideTheRangeIsAnError) {
  Status s = Read("[robust]\nrule = \"centered-clipping\"\ntau = 0\n").status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("robust.tau"));
  EXPECT_THAT(Read("[robust]\nrule = \"geometric-median\"\nmax_iterations = 0\n")
                  .status()
                  .message(),
              HasSubstr("robust.max_iterations"));
  // Multi-Krum's m = 0 (n - f) is kept as an explicit option.
  EXPECT_EQ(Read("[robust]\nrule = \"multi-krum\"\nm = 0\n")->options, (Options{{"m", 0}}));
}

TEST(ReadAggregatorConfig, OtherRulesOptionsAreTypeCheckedAndIgnored) {
  const AggregatorConfig c =
      Read("[robust]\nrule = \"median\"\ntau = 0\nmax_iterations = 0\nclip_tau = 3\n").value();
  EXPECT_EQ(c.rule, "median");
  EXPECT_TRUE(c.options.empty());
  EXPECT_TRUE(c.pre.empty());
  EXPECT_THAT(Read("[robust]\nrule = \"median\"\ntau = \"big\"\n").status().message(),
              HasSubstr("robust.tau"));
}

TEST(ReadAggregatorConfig, UnknownKeysAndBadNamesNameTheKey) {
  EXPECT_THAT(Read("[robust]\nrule = \"flag\"\nmax_iteration = 3\n").status().message(),
              HasSubstr("robust.max_iteration"));
  EXPECT_THAT(Read("[robust]\nrule = \"krumm\"\n").status().message(), HasSubstr("robust.rule"));
  EXPECT_THAT(Read("[robust]\npre = [\"clip\"]\n").status().message(),
              HasSubstr("robust.clip_tau is required by pre-aggregator clip"));
}

TEST(ReadAggregatorConfig, ExtraRulesReadTheirOwnKeys) {
  const std::vector<RuleSpec> extra = {
      {"mine",
       {{.name = "w", .key = "mine.w", .kind = OptionSpec::Kind::kDouble, .fallback = 1,
         .min = 0, .max = 10}}}};
  EXPECT_EQ(Read("[robust]\nrule = \"mine\"\n[mine]\nw = 0\n", extra)->options,
            (Options{{"w", 0}}));
  EXPECT_TRUE(Read("[robust]\nrule = \"mean\"\n[mine]\nw = 0\n", extra)->options.empty());
  EXPECT_THAT(Read("[robust]\nrule = \"mine\"\n[mine]\nw = 11\n", extra).status().message(),
              HasSubstr("mine.w"));
}

}  // namespace
}  // namespace murmur
