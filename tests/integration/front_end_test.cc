// The light `murmur` front end (tools/front_main.cc) against the full CLI it
// execs (murmur-train): same help, same behaviour, no LibTorch of its own.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "testing/cli_runner.h"

namespace {

using murmur::testing::CliOutcome;
using murmur::testing::MurmurBin;
using murmur::testing::RunMurmur;
using murmur::testing::RunShell;

std::string TrainBin() {
  return (std::filesystem::path(MurmurBin()).parent_path() / "murmur-train").string();
}

// The help text without its "Usage: <argv[0]> ..." line, which names the binary.
std::string WithoutUsageLine(const std::string& help) {
  const size_t usage = help.find("Usage: ");
  if (usage == std::string::npos) return help;
  const size_t end = help.find('\n', usage);
  return help.substr(0, usage) + help.substr(end == std::string::npos ? help.size() : end);
}

TEST(FrontEnd, HelpListsEverySubcommandOfTheFullCli) {
  const CliOutcome light = RunMurmur("--help");
  ASSERT_EQ(light.exit_code, 0) << light.output;
  const CliOutcome full = RunShell(TrainBin() + " --help 2>&1");
  ASSERT_EQ(full.exit_code, 0) << full.output;
  // A subcommand added to main.cc must be added to front_main.cc's table too.
  EXPECT_EQ(WithoutUsageLine(light.output), WithoutUsageLine(full.output));
}

TEST(FrontEnd, LinksNoLibTorch) {
  const CliOutcome deps = RunShell("ldd " + MurmurBin());
  ASSERT_EQ(deps.exit_code, 0) << deps.error;
  EXPECT_EQ(deps.output.find("libtorch"), std::string::npos) << deps.output;
  EXPECT_EQ(deps.output.find("libc10"), std::string::npos) << deps.output;
  const CliOutcome train = RunShell("ldd " + TrainBin());
  EXPECT_NE(train.output.find("libtorch"), std::string::npos) << "murmur-train should be the "
                                                                 "full CLI";
}

TEST(FrontEnd, ForwardsOtherSubcommandsWithTheirExitCodes) {
  // No subcommand: the full CLI's usage error (exit 2).
  const CliOutcome none = RunMurmur("");
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_NE(none.output.find("subcommand"), std::string::npos) << none.output;
  const CliOutcome unknown = RunMurmur("no-such-command");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  const CliOutcome bad_config = RunMurmur("run --set protocol.rounds=-1");
  EXPECT_EQ(bad_config.exit_code, 2) << bad_config.output;
  EXPECT_NE(bad_config.output.find("murmur run: "), std::string::npos) << bad_config.output;
  const CliOutcome privacy =
      RunMurmur("privacy epsilon --sigma 1 --q 0.01 --steps 100 --delta 1e-5");
  EXPECT_EQ(privacy.exit_code, 0) << privacy.output;
}

TEST(FrontEnd, SaysWhereTheFullCliShouldBeWhenItIsMissing) {
  const CliOutcome o = RunShell("MURMUR_TRAIN_BIN=/nonexistent/murmur-train " + MurmurBin() +
                                " run 2>&1");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.output.find("cannot start /nonexistent/murmur-train"), std::string::npos)
      << o.output;
}

}  // namespace
