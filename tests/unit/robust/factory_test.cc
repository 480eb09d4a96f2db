#include "murmur/robust/factory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace murmur {
namespace {

using ::testing::HasSubstr;

TEST(MakeAggregator, BuildsEveryListedRuleUnderItsName) {
  for (const std::string& name : AggregatorNames()) {
    AggregatorConfig config{.rule = name, .f = 0, .options = {}, .pre = {}};
    auto rule = MakeAggregator(config);
    ASSERT_TRUE(rule.ok()) << name << ": " << rule.status().ToString();
    EXPECT_EQ(rule.value()->name(), name);
  }
  EXPECT_EQ(AggregatorNames().size(), 12u);
}

TEST(MakeAggregator, BuildsEveryListedPreAggregator) {
  for (const std::string& name : PreAggregatorNames()) {
    PreAggregatorConfig config{.name = name, .options = {}};
    if (name == "clip") config.options["tau"] = 1.0;
    auto pre = MakePreAggregator(config, 1);
    ASSERT_TRUE(pre.ok()) << name << ": " << pre.status().ToString();
    EXPECT_EQ(pre.value()->name(), name);
  }
}

TEST(MakeAggregator, WrapsPreAggregatorsInAChain) {
  AggregatorConfig config{.rule = "trimmed-mean",
                          .f = 2,
                          .options = {},
                          .pre = {{"clip", {{"tau", 3.0}}}, {"nnm", {}}}};
  auto rule = MakeAggregator(config);
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  EXPECT_EQ(rule.value()->name(), "clip>nnm>trimmed-mean");
  EXPECT_EQ(rule.value()->f(), 2);
}

TEST(MakeAggregator, RejectsAnUnknownRuleListingTheKnownOnes) {
  auto rule = MakeAggregator({.rule = "krumm"});
  ASSERT_FALSE(rule.ok());
  EXPECT_EQ(rule.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(rule.status().message(), HasSubstr("unknown aggregation rule 'krumm'"));
  EXPECT_THAT(rule.status().message(), HasSubstr("multi-krum"));
}

TEST(MakeAggregator, RejectsAnUnknownOptionListingTheValidOnes) {
  auto rule = MakeAggregator({.rule = "geometric-median", .f = 1, .options = {{"nuu", 1}}});
  ASSERT_FALSE(rule.ok());
  EXPECT_THAT(rule.status().message(), HasSubstr("unknown option 'nuu'"));
  EXPECT_THAT(rule.status().message(), HasSubstr("max_iterations, nu, tolerance"));
  auto median = MakeAggregator({.rule = "median", .f = 1, .options = {{"x", 1}}});
  EXPECT_THAT(median.status().message(), HasSubstr("takes no options"));
}

TEST(MakeAggregator, RejectsBadOptionValues) {
  EXPECT_THAT(MakeAggregator({.rule = "multi-krum", .f = 1, .options = {{"m", 2.5}}})
                  .status()
                  .message(),
              HasSubstr("m=2.5 must be an integer"));
  EXPECT_THAT(MakeAggregator({.rule = "centered-clipping", .f = 1, .options = {{"tau", -1}}})
                  .status()
                  .message(),
              HasSubstr("tau=-1 is outside"));
  EXPECT_THAT(MakeAggregator({.rule = "mean", .f = 0, .options = {}, .pre = {{"clip", {}}}})
                  .status()
                  .message(),
              HasSubstr("clip: option tau is required"));
  EXPECT_THAT(MakeAggregator({.rule = "median", .f = -1}).status().message(),
              HasSubstr("f=-1 must be >= 0"));
  EXPECT_THAT(MakeAggregator({.rule = "mean", .f = 0, .options = {}, .pre = {{"nmm", {}}}})
                  .status()
                  .message(),
              HasSubstr("unknown pre-aggregator 'nmm'"));
}

}  // namespace
}  // namespace murmur
