// Every rule declares how many inputs it needs (Aggregator::input_bound,
// MinInputs), and CheckPreconditions agrees with the declaration exactly:
// MinInputs(f) inputs pass, one fewer fails. Run configs rely on it to refuse
// a rule that can never aggregate on a topology (protocol/registry.h).
#include <gtest/gtest.h>

#include "murmur/robust/factory.h"

namespace murmur {
namespace {

std::unique_ptr<Aggregator> Make(const AggregatorConfig& config) {
  Result<std::unique_ptr<Aggregator>> rule = MakeAggregator(config);
  EXPECT_TRUE(rule.ok()) << rule.status().ToString();
  return std::move(rule).value();
}

TEST(MinInputs, CheckPreconditionsHoldsFromMinInputsOnForEveryRule) {
  for (const std::string& name : AggregatorNames()) {
    for (int f = 0; f <= 4; ++f) {
      SCOPED_TRACE(name + " f=" + std::to_string(f));
      const auto rule = Make({.rule = name, .f = f});
      const size_t min = rule->MinInputs(f);
      ASSERT_GE(min, 1u);
      EXPECT_TRUE(rule->CheckPreconditions(min, f).ok());
      EXPECT_TRUE(rule->CheckPreconditions(min + 7, f).ok());
      EXPECT_FALSE(rule->CheckPreconditions(min - 1, f).ok());
    }
  }
}

TEST(MinInputs, DeclaredBoundsOfTheClassicRules) {
  EXPECT_EQ(Make({.rule = "krum", .f = 5})->MinInputs(5), 13u);         // 2f + 3
  EXPECT_EQ(Make({.rule = "multi-krum", .f = 1})->MinInputs(1), 5u);    // 2f + 3
  EXPECT_EQ(Make({.rule = "bulyan", .f = 2})->MinInputs(2), 11u);       // 4f + 3
  EXPECT_EQ(Make({.rule = "trimmed-mean", .f = 2})->MinInputs(2), 5u);  // 2f + 1
  EXPECT_EQ(Make({.rule = "median", .f = 3})->MinInputs(3), 7u);
  EXPECT_EQ(Make({.rule = "mean", .f = 3})->MinInputs(3), 1u);
  EXPECT_EQ(Make({.rule = "krum", .f = 5})->input_bound().ToString(), "n >= 2f + 3");
  EXPECT_EQ(Make({.rule = "median", .f = 1})->input_bound().ToString(), "n > 2f");
  EXPECT_EQ(Make({.rule = "mean"})->input_bound().ToString(), "n >= 1");
  EXPECT_EQ(Make({.rule = "krum", .f = 5})->CheckPreconditions(3, 5).message(),
            "krum: n=3 f=5: needs n >= 2f + 3");
}

// A chain needs what each stage needs on the count it receives: NNM (n > 2f)
// before Krum (n >= 2f + 3) needs Krum's 5 for f = 1; bucketing pairs halve
// the count, so Krum's 5 buckets need 9 inputs.
TEST(MinInputs, ChainsCountThroughTheirStages) {
  EXPECT_EQ(Make({.rule = "krum", .f = 1, .pre = {{.name = "nnm"}}})->MinInputs(1), 5u);
  const auto bucketed =
      Make({.rule = "krum", .f = 1, .pre = {{.name = "bucketing", .options = {{"s", 2}}}}});
  EXPECT_EQ(bucketed->MinInputs(1), 9u);
  EXPECT_FALSE(bucketed->CheckPreconditions(8, 1).ok());
  EXPECT_EQ(Make({.rule = "mean", .f = 2, .pre = {{.name = "arc"}}})->MinInputs(2), 5u);
}

}  // namespace
}  // namespace murmur
