#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aggregate_command.h"

namespace murmur::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ParseStageSpec, ReadsNameAndOptions) {
  Result<PreAggregatorConfig> spec = ParseStageSpec("geometric-median:nu=1e-5:max_iterations=50");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "geometric-median");
  EXPECT_THAT(spec->options, ElementsAre(Pair("max_iterations", 50.0), Pair("nu", 1e-5)));
  Result<PreAggregatorConfig> bare = ParseStageSpec("krum");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->options.empty());
}

TEST(ParseStageSpec, RejectsMalformedSpecsNamingThePart) {
  EXPECT_THAT(ParseStageSpec("").status().message(), HasSubstr("has no name"));
  EXPECT_THAT(ParseStageSpec(":m=2").status().message(), HasSubstr("has no name"));
  EXPECT_THAT(ParseStageSpec("multi-krum:m").status().message(), HasSubstr("'m' must look like"));
  EXPECT_THAT(ParseStageSpec("multi-krum:=2").status().message(), HasSubstr("must look like"));
  EXPECT_THAT(ParseStageSpec("clip:tau=big").status().message(),
              HasSubstr("tau='big' is not a finite number"));
  EXPECT_THAT(ParseStageSpec("clip:tau=inf").status().message(), HasSubstr("finite"));
  EXPECT_THAT(ParseStageSpec("clip:tau=1:tau=2").status().message(), HasSubstr("twice"));
}

TEST(ParseAggregatorConfig, BuildsRuleAndPreAggregatorChain) {
  Result<AggregatorConfig> config = ParseAggregatorConfig("multi-krum:m=3", 2, "clip:tau=5,nnm");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->rule, "multi-krum");
  EXPECT_EQ(config->f, 2);
  EXPECT_THAT(config->options, ElementsAre(Pair("m", 3.0)));
  ASSERT_EQ(config->pre.size(), 2u);
  EXPECT_EQ(config->pre[0].name, "clip");
  EXPECT_THAT(config->pre[0].options, ElementsAre(Pair("tau", 5.0)));
  EXPECT_EQ(config->pre[1].name, "nnm");
  // The factory accepts what the parser built.
  EXPECT_TRUE(MakeAggregator(*config).ok());
  EXPECT_THAT(ParseAggregatorConfig("mean", 0, "clip:tau=5,").status().message(),
              HasSubstr("has no name"));
}

TEST(ParseNumberList, ReadsCommaSeparatedNumbers) {
  Result<std::vector<double>> w = ParseNumberList("1,3,0.5", "--weights");
  ASSERT_TRUE(w.ok());
  EXPECT_THAT(*w, ElementsAre(1.0, 3.0, 0.5));
  EXPECT_THAT(ParseNumberList("1,,2", "--weights").status().message(),
              HasSubstr("--weights entry '' is not a finite number"));
  EXPECT_THAT(ParseNumberList("1,x", "--weights").status().message(), HasSubstr("'x'"));
}

}  // namespace
}  // namespace murmur::cli
