// The [robust] and [byzantine] tables of a run config.
#include <gtest/gtest.h>

#include "murmur/experiment/run_config.h"

namespace murmur {
namespace {

Result<RunConfig> Read(const std::string& toml) {
  Config config = Config::FromString(toml, "test.toml").value();
  return ReadRunConfig(config);
}

TEST(RobustConfig, DefaultsKeepThePlainAverageAndNoAttackers) {
  const RunConfig c = Read("").value();
  EXPECT_EQ(c.protocol.robust.rule, "mean");
  EXPECT_EQ(c.protocol.robust.f, 0);
  EXPECT_TRUE(c.protocol.robust.pre.empty());
  EXPECT_TRUE(c.protocol.robust.options.empty());
  EXPECT_EQ(c.protocol.byzantine.attack, AttackKind::kNone);
  EXPECT_NE(c.resolved_toml.find("[robust]"), std::string::npos);
}

TEST(RobustConfig, ReadsRuleChainAndOnlyTheRulesOwnOptions) {
  const RunConfig c = Read(R"(
[robust]
rule = "centered-clipping"
f = 2
pre = ["clip", "nnm"]
tau = 0.5
iterations = 3
m = 7
clip_tau = 2.5
[byzantine]
fraction = 0.25
attack = "alie"
)").value();
  const AggregatorConfig& r = c.protocol.robust;
  EXPECT_EQ(r.rule, "centered-clipping");
  EXPECT_EQ(r.f, 2);
  EXPECT_EQ(r.options, (std::map<std::string, double>{{"tau", 0.5}, {"iterations", 3}}));
  ASSERT_EQ(r.pre.size(), 2u);
  EXPECT_EQ(r.pre[0].name, "clip");
  EXPECT_EQ(r.pre[0].options.at("tau"), 2.5);
  EXPECT_EQ(r.pre[1].name, "nnm");
  EXPECT_EQ(c.protocol.byzantine.attack, AttackKind::kAlie);
  EXPECT_EQ(ByzantineCount(c.protocol.byzantine, c.peers).value(), 4);  // 16 peers
}

TEST(RobustConfig, AnExplicitZeroAndFoolsGoldsOptionsReachTheRuleConfig) {
  EXPECT_EQ(Read("[robust]\nrule = \"flag\"\nmax_iterations = 0\n")->protocol.robust.options,
            (std::map<std::string, double>{{"max_iterations", 0}}));
  EXPECT_EQ(Read("[robust]\nrule = \"similarity-downweighting\"\npardoning = true\n")
                ->protocol.robust.options,
            (std::map<std::string, double>{{"pardoning", 1}}));
  EXPECT_EQ(Read("[robust]\nrule = \"sybilwall\"\n[sybilwall]\nlogit = false\n")
                ->protocol.robust.options,
            (std::map<std::string, double>{{"logit", 0}}));
  EXPECT_EQ(Read("[robust]\nrule = \"bristle\"\nexplore = 0\n")->protocol.robust.options,
            (std::map<std::string, double>{{"explore", 0}}));
}

TEST(RobustConfig, BadValuesNameTheKey) {
  auto error = [](const std::string& toml) { return Read(toml).status().message(); };
  EXPECT_NE(error("[robust]\nrule = \"avg\"\n").find("robust.rule"), std::string::npos);
  EXPECT_NE(error("[robust]\nmax_iteration = 3\n").find("robust.max_iteration"),
            std::string::npos);
  EXPECT_NE(error("[robust]\npre = [\"clip\"]\n").find("clip_tau"), std::string::npos);
  EXPECT_NE(error("[robust]\npre = \"nnm\"\n").find("array of strings"), std::string::npos);
  EXPECT_NE(error("[robust]\npre = [\"nmm\"]\n").find("robust.pre"), std::string::npos);
  EXPECT_NE(error("[byzantine]\nattack = \"alie\"\n").find("byzantine.count"),
            std::string::npos);
  EXPECT_NE(error("[byzantine]\nattack = \"ipm\"\ncount = 2\nfraction = 0.1\n").find("only one"),
            std::string::npos);
  EXPECT_NE(error("peers = 4\n[byzantine]\nattack = \"ipm\"\ncount = 4\n").find("no honest"),
            std::string::npos);
  EXPECT_NE(error("[byzantine]\nattack = \"ipm\"\ncount = 2\ntypo = 1\n").find("byzantine.typo"),
            std::string::npos);
}

}  // namespace
}  // namespace murmur
