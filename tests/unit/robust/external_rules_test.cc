#include "murmur/robust/external_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace murmur {
namespace {

using ::testing::HasSubstr;

// The first coordinate of every input the rule saw, per call.
struct Calls {
  std::vector<std::vector<float>> firsts;
  std::vector<size_t> weights;
  std::vector<int> fs;
};

// out = max over inputs, coordinate-wise; records what it was given.
ExternalRule MaxRule(Calls* calls, bool accepts_weights = false) {
  return ExternalRule{
      .aggregate =
          [calls](const CheckedInput& in, std::span<float> out) {
            std::vector<float>& firsts = calls->firsts.emplace_back();
            for (const auto& v : in.vectors) firsts.push_back(v[0]);
            calls->weights.push_back(in.weights.size());
            calls->fs.push_back(in.f);
            for (size_t j = 0; j < out.size(); ++j) {
              out[j] = in.vectors[0][j];
              for (const auto& v : in.vectors) out[j] = std::max(out[j], v[j]);
            }
            return Status::Ok();
          },
      .accepts_weights = accepts_weights};
}

class ExternalRules : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& name : ExternalRuleNames()) UnregisterExternalRule(name);
  }
};

TEST_F(ExternalRules, RegisteredRuleIsMadeByNameAndAggregates) {
  Calls calls;
  ASSERT_TRUE(RegisterExternalRule("py:max", MaxRule(&calls)).ok());
  EXPECT_TRUE(IsExternalRuleName("py:max"));
  EXPECT_FALSE(IsExternalRuleName("max"));
  EXPECT_THAT(AggregatorNames(), ::testing::Contains("py:max"));
  auto rule = MakeAggregator(AggregatorConfig{.rule = "py:max", .f = 1});
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  EXPECT_EQ((*rule)->name(), "py:max");
  EXPECT_EQ((*rule)->f(), 1);
  const std::vector<float> a{1, 5}, b{3, 2}, c{2, 4};
  const std::vector<std::span<const float>> inputs{a, b, c};
  std::vector<float> out(2);
  ASSERT_TRUE((*rule)->Aggregate(inputs, out).ok());
  EXPECT_EQ(out, (std::vector<float>{3, 5}));
  ASSERT_EQ(calls.firsts.size(), 1u);
  EXPECT_EQ(calls.fs[0], 1);
}

TEST_F(ExternalRules, NonFiniteInputsAreDroppedBeforeTheRuleSeesThem) {
  Calls calls;
  ASSERT_TRUE(RegisterExternalRule("py:max", MaxRule(&calls)).ok());
  auto rule = MakeAggregator(AggregatorConfig{.rule = "py:max", .f = 1});
  ASSERT_TRUE(rule.ok());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> a{1, 5}, bad{nan, 100}, c{2, 4};
  const std::vector<std::span<const float>> inputs{a, bad, c};
  std::vector<float> out(2);
  ASSERT_TRUE((*rule)->Aggregate(inputs, out).ok());
  EXPECT_EQ(out, (std::vector<float>{2, 5}));
  ASSERT_EQ(calls.firsts.size(), 1u);
  EXPECT_EQ(calls.firsts[0], (std::vector<float>{1, 2}));
  EXPECT_EQ(calls.fs[0], 0);  // f' = f - dropped
}

TEST_F(ExternalRules, WeightsReachOnlyRulesThatAcceptThem) {
  Calls without, with;
  ASSERT_TRUE(RegisterExternalRule("py:plain", MaxRule(&without)).ok());
  ASSERT_TRUE(RegisterExternalRule("py:weighted", MaxRule(&with, true)).ok());
  const std::vector<float> a{1}, b{2};
  const std::vector<std::span<const float>> inputs{a, b};
  const std::vector<double> weights{0.25, 0.75};
  std::vector<float> out(1);
  auto weighted = MakeAggregator(AggregatorConfig{.rule = "py:weighted"});
  ASSERT_TRUE(weighted.ok());
  EXPECT_TRUE((*weighted)->accepts_weights());
  ASSERT_TRUE((*weighted)->Aggregate({.vectors = inputs, .weights = weights}, out).ok());
  EXPECT_EQ(with.weights, (std::vector<size_t>{2}));
  auto plain = MakeAggregator(AggregatorConfig{.rule = "py:plain"});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->accepts_weights());
  EXPECT_FALSE((*plain)->Aggregate({.vectors = inputs, .weights = weights}, out).ok());
}

TEST_F(ExternalRules, PreAggregatorsRunBeforeTheRule) {
  Calls calls;
  ASSERT_TRUE(RegisterExternalRule("py:max", MaxRule(&calls)).ok());
  auto rule = MakeAggregator(AggregatorConfig{
      .rule = "py:max", .pre = {PreAggregatorConfig{.name = "clip", .options = {{"tau", 1.0}}}}});
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  EXPECT_EQ((*rule)->name(), "clip>py:max");
  const std::vector<float> a{0, 4}, b{0.5f, 0};
  const std::vector<std::span<const float>> inputs{a, b};
  std::vector<float> out(2);
  ASSERT_TRUE((*rule)->Aggregate(inputs, out).ok());
  EXPECT_EQ(out, (std::vector<float>{0.5f, 1}));  // a clipped to norm 1 first
}

TEST_F(ExternalRules, RuleErrorsAreTheAggregatesErrors) {
  ASSERT_TRUE(RegisterExternalRule(
                  "py:fails", ExternalRule{.aggregate = [](const CheckedInput&, std::span<float>) {
                                             return Status::Aborted("py:fails raised ValueError");
                                           }})
                  .ok());
  auto rule = MakeAggregator(AggregatorConfig{.rule = "py:fails"});
  ASSERT_TRUE(rule.ok());
  const std::vector<float> a{1};
  const std::vector<std::span<const float>> inputs{a};
  std::vector<float> out(1);
  const Status status = (*rule)->Aggregate(inputs, out);
  EXPECT_EQ(status.code(), StatusCode::kAborted);
  EXPECT_THAT(status.message(), HasSubstr("ValueError"));
}

TEST_F(ExternalRules, MadeAggregatorOutlivesUnregistering) {
  Calls calls;
  ASSERT_TRUE(RegisterExternalRule("py:max", MaxRule(&calls)).ok());
  auto rule = MakeAggregator(AggregatorConfig{.rule = "py:max"});
  ASSERT_TRUE(rule.ok());
  UnregisterExternalRule("py:max");
  EXPECT_TRUE(ExternalRuleNames().empty());
  const std::vector<float> a{1};
  const std::vector<std::span<const float>> inputs{a};
  std::vector<float> out(1);
  EXPECT_TRUE((*rule)->Aggregate(inputs, out).ok());
  EXPECT_FALSE(MakeAggregator(AggregatorConfig{.rule = "py:max"}).ok());
}

TEST_F(ExternalRules, RejectsBadNamesUnknownRulesAndOptions) {
  Calls calls;
  EXPECT_EQ(RegisterExternalRule("max", MaxRule(&calls)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RegisterExternalRule("py:", MaxRule(&calls)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RegisterExternalRule("py:none", ExternalRule{}).code(),
            StatusCode::kInvalidArgument);
  auto unknown = MakeAggregator(AggregatorConfig{.rule = "py:nobody"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("murmur.register_rule(\"nobody\", fn)"));
  ASSERT_TRUE(RegisterExternalRule("py:max", MaxRule(&calls)).ok());
  auto with_option = MakeAggregator(AggregatorConfig{.rule = "py:max", .options = {{"m", 2}}});
  ASSERT_FALSE(with_option.ok());
  EXPECT_THAT(with_option.status().message(), HasSubstr("unknown option 'm'"));
  EXPECT_FALSE(MakeAggregator(AggregatorConfig{.rule = "py:max", .f = -1}).ok());
}

}  // namespace
}  // namespace murmur
