// Configs and command lines that cannot do what they say are refused before
// anything runs, with exit code 2 and one line naming the key, the value or
// the path (issue 17, "silent no-ops"; issue 18, "every user error exits 2").
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "testing/cli_runner.h"

namespace {

using ::testing::HasSubstr;
using Outcome = murmur::testing::CliOutcome;
using murmur::testing::FreshTempDir;
using murmur::testing::RunMurmur;
using murmur::testing::RunShell;

const char* kTiny =
    "run --quiet --set data.dataset=synthetic --set data.synthetic_train=400 "
    "--set data.synthetic_test=100 --set peers=4 --set protocol.rounds=2 "
    "--set model.hidden=[8]";

std::string TinyRun(const std::string& sets) { return std::string(kTiny) + " " + sets; }

TEST(ConfigValidation, KeyOfAnotherProtocolExitsTwoNamingTheKeyAndItsProtocols) {
  const Outcome o =
      RunMurmur(TinyRun("--set protocol.kind=fedavg --set protocol.topology=torus"));
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_EQ(o.output,
            "murmur run: config key 'protocol.topology' applies to protocol.kind = \"dpsgd\", "
            "\"gossip\", \"choco\", \"dfedsam\", not to this run's protocol.kind = \"fedavg\": "
            "remove it, or change protocol.kind\n");
}

TEST(ConfigValidation, MisspeltKeySuggestsTheKnownOne) {
  const Outcome o = RunMurmur(TinyRun("--set protocol.topolgy=ring"));
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_THAT(o.output, HasSubstr("murmur run: unknown config key 'protocol.topolgy'; did you "
                                  "mean 'protocol.topology'?"));
  const Outcome section = RunMurmur(TinyRun("--set trian.lr=0.1"));
  EXPECT_EQ(section.exit_code, 2) << section.output;
  EXPECT_THAT(section.output, HasSubstr("unknown config key 'trian.lr'; did you mean 'train.lr'?"));
  // Nothing close: no suggestion.
  const Outcome far = RunMurmur(TinyRun("--set protocol.zzzzzzzz=1"));
  EXPECT_EQ(far.exit_code, 2) << far.output;
  EXPECT_THAT(far.output, ::testing::Not(HasSubstr("did you mean")));
}

TEST(ConfigValidation, MisspeltSubcommandSuggestsTheKnownOne) {
  const Outcome o = RunMurmur("rnu examples/quickstart.toml");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_EQ(o.output,
            "murmur: unknown command 'rnu'; did you mean 'run'? (commands: run, report, sweep, "
            "aggregate, peer, launch, privacy, keygen, id, bench; murmur --help)\n");
  const Outcome far = RunMurmur("frobnicate");
  EXPECT_EQ(far.exit_code, 2) << far.output;
  EXPECT_THAT(far.output, HasSubstr("murmur: unknown command 'frobnicate' (commands: run, "));
}

// Both binaries print the version CMake's project(VERSION) sets, the same
// one the Python package reports (tests/python/test_package.py).
TEST(ConfigValidation, VersionOfBothBinaries) {
  const Outcome front = RunMurmur("--version");
  EXPECT_EQ(front.exit_code, 0) << front.output;
  EXPECT_TRUE(std::regex_match(front.output, std::regex("murmur [0-9]+\\.[0-9]+\\.[0-9]+\n")))
      << front.output;
  const std::string train =
      (std::filesystem::path(murmur::testing::MurmurBin()).parent_path() / "murmur-train")
          .string();
  const Outcome full = RunShell(train + " --version");
  EXPECT_EQ(full.exit_code, 0) << full.error;
  EXPECT_EQ(full.output, front.output);
}

TEST(ConfigValidation, OutputPathUnderAFileExitsTwoNamingIt) {
  const std::string dir = FreshTempDir("out");
  const std::string file = dir + "/a_file";
  std::ofstream(file) << "x";
  const Outcome run = RunMurmur(TinyRun("--out " + file + "/run"));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("murmur run: --out '" + file + "/run': cannot create the "
                                    "directory: "));
  const Outcome onto_file = RunMurmur(TinyRun("--out " + file));
  EXPECT_EQ(onto_file.exit_code, 2) << onto_file.output;
  EXPECT_THAT(onto_file.output, HasSubstr("--out '" + file + "'"));
  std::ofstream(dir + "/run.toml") << "[data]\ndataset = \"synthetic\"\n";
  const Outcome launch = RunMurmur("launch 2 " + dir + "/run.toml --quiet --out " + file + "/net");
  EXPECT_EQ(launch.exit_code, 2) << launch.output;
  EXPECT_THAT(launch.output, HasSubstr("murmur launch: --out '" + file + "/net'"));
  const Outcome aggregate = RunMurmur("aggregate --rule mean " + dir + "/g.npy --out " + file +
                                      "/agg.npy");
  EXPECT_EQ(aggregate.exit_code, 2) << aggregate.output;
  EXPECT_THAT(aggregate.output, HasSubstr("murmur aggregate: --out '" + file + "/agg.npy': "
                                          "directory '" + file + "' does not exist"));
  std::filesystem::remove_all(dir);
}

// Rules whose precondition on their number of inputs n can never hold in the
// run are refused before it starts, naming the rule, f, the smallest n and
// where it comes from (the run would otherwise exit 0 with every
// aggregation failed).
TEST(ConfigValidation, RobustRuleThatCannotHoldOnTheTopologyExitsTwo) {
  const Outcome ring = RunMurmur(TinyRun("--set robust.rule=krum --set robust.f=1"));
  EXPECT_EQ(ring.exit_code, 2) << ring.output;
  EXPECT_EQ(ring.output,
            "murmur run: robust.rule = \"krum\" with robust.f = 1 needs at least 5 inputs per "
            "aggregation (krum: n=3 f=1: needs n >= 2f + 3), but on protocol.topology = "
            "\"ring\" over 4 peers, peer 0 aggregates 3 models, its own and 2 from neighbours: "
            "lower robust.f, or use a denser protocol.topology\n");
  const Outcome fedavg =
      RunMurmur(TinyRun("--set protocol.kind=fedavg --set robust.rule=bulyan --set robust.f=1"));
  EXPECT_EQ(fedavg.exit_code, 2) << fedavg.output;
  EXPECT_EQ(fedavg.output,
            "murmur run: robust.rule = \"bulyan\" with robust.f = 1 needs at least 7 inputs per "
            "aggregation (bulyan: n=4 f=1: needs n >= 4f + 3), but with "
            "protocol.client_fraction = 1 of 4 clients the server aggregates at most 4 updates "
            "a round: lower robust.f, or use more peers or a larger protocol.client_fraction\n");
  const Outcome gossip =
      RunMurmur(TinyRun("--set protocol.kind=gossip --set protocol.topology=full "
                    "--set robust.rule=median --set robust.f=1 --set robust.gossip_window=1"));
  EXPECT_EQ(gossip.exit_code, 2) << gossip.output;
  EXPECT_THAT(gossip.output,
              HasSubstr("(median: n=2 f=1: needs n > 2f), but on protocol.topology = \"full\" "
                        "over 4 peers, peer 0 aggregates 2 models, its own and 1 from "
                        "neighbours (robust.gossip_window = 1; it has 3): lower robust.f, or "
                        "use a larger robust.gossip_window\n"));
  // The same rule where it holds: a full graph of 4 gives every peer 4 inputs.
  const Outcome fits =
      RunMurmur(TinyRun("--set protocol.topology=full --set robust.rule=median "
                        "--set robust.f=1"));
  EXPECT_EQ(fits.exit_code, 0) << fits.output;
}

// diloco.evicted_notices (the Evicted notices a DiLoCo-family member needs
// before it resyncs) must lie in [1, peers - 1]: outside, the run is refused
// with exit 2 naming the key and why; inside, it runs.
TEST(ConfigValidation, EvictedNoticesOutsideOneToPeersMinusOneExitsTwoNamingTheKey) {
  for (const char* kind : {"diloco", "streaming_diloco", "co2"}) {
    SCOPED_TRACE(kind);
    const std::string set =
        std::string("--set protocol.kind=") + kind + " --set protocol.local_steps=2";
    const Outcome many = RunMurmur(TinyRun(set + " --set diloco.evicted_notices=4"));
    EXPECT_EQ(many.exit_code, 2) << many.output;
    EXPECT_THAT(many.output,
                HasSubstr("murmur run: diloco.evicted_notices = 4 exceeds peers - 1 = 3: a member "
                          "hears Evicted notices only from the other peers"));
    const Outcome zero = RunMurmur(TinyRun(set + " --set diloco.evicted_notices=0"));
    EXPECT_EQ(zero.exit_code, 2) << zero.output;
    EXPECT_THAT(zero.output,
                HasSubstr("config key 'diloco.evicted_notices' = 0 is out of range [1, "));
  }
  const Outcome fits = RunMurmur(
      TinyRun("--set protocol.kind=diloco --set protocol.local_steps=2 "
              "--set diloco.evicted_notices=3"));
  EXPECT_EQ(fits.exit_code, 0) << fits.output;
}

// train.save_checkpoint: a relative path goes under --out, an existing file
// is never replaced unless train.overwrite_checkpoint says so (refused before
// the run), and a network run, which cannot write it, refuses the key.
TEST(ConfigValidation, CheckpointsGoUnderOutAndAreNeverSilentlyReplaced) {
  const std::string dir = FreshTempDir("ckpt");
  const std::string save =
      TinyRun("--set peers=1 --set train.save_checkpoint=body.ckpt --out " + dir + "/pre");
  const Outcome first = RunMurmur(save);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string ckpt = dir + "/pre/body.ckpt";
  ASSERT_TRUE(std::filesystem::exists(ckpt));
  EXPECT_FALSE(std::filesystem::exists("body.ckpt"));  // not in the working directory
  const auto written = std::filesystem::last_write_time(ckpt);

  const Outcome again = RunMurmur(save);
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_EQ(again.output, "murmur run: train.save_checkpoint: '" + ckpt +
                              "' already exists and a run never replaces a checkpoint: remove "
                              "it, pick another path (a relative one goes under --out), or set "
                              "train.overwrite_checkpoint = true\n");
  EXPECT_EQ(std::filesystem::last_write_time(ckpt), written);

  const Outcome replace = RunMurmur(save + " --set train.overwrite_checkpoint=true");
  EXPECT_EQ(replace.exit_code, 0) << replace.output;

  // Loading is explicit (model.init_checkpoint) and names the file it reads.
  const Outcome load = RunMurmur(TinyRun("--set peers=2 --set model.init_checkpoint=" + ckpt));
  EXPECT_EQ(load.exit_code, 0) << load.output;

  const Outcome lone = RunMurmur(TinyRun("--set train.overwrite_checkpoint=true"));
  EXPECT_EQ(lone.exit_code, 2) << lone.output;
  EXPECT_THAT(lone.output, HasSubstr("train.overwrite_checkpoint = true without "
                                     "train.save_checkpoint"));

  std::ofstream(dir + "/run.toml") << "[data]\ndataset = \"synthetic\"\n";
  const Outcome launch = RunMurmur("launch 2 " + dir + "/run.toml --quiet "
                                   "--set train.save_checkpoint=x.ckpt --out " + dir + "/net");
  EXPECT_EQ(launch.exit_code, 2) << launch.output;
  EXPECT_THAT(launch.output, HasSubstr("murmur launch: train.save_checkpoint is written by "
                                       "`murmur run`"));
  std::filesystem::remove_all(dir);
}

// A sweep axis that changes no run (another rule's option, values that read
// as equal) or that the base config's protocol does not read is refused,
// --dry-run included, naming the axis or the key.
TEST(ConfigValidation, SweepAxisThatChangesNothingExitsTwo) {
  const std::string dir = FreshTempDir("sweep");
  std::ofstream(dir + "/base.toml") << "peers = 4\n[data]\ndataset = \"synthetic\"\n"
                                       "[protocol]\nrounds = 2\n";
  const auto grid = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << "base = \"base.toml\"\n" << text;
    return RunMurmur("sweep " + dir + "/" + name + " --dry-run --out " + dir + "/out");
  };
  const Outcome tau = grid("tau.toml", "[grid]\n\"protocol.topology\" = [\"ring\", \"full\"]\n"
                                       "\"robust.tau\" = [0.5, 2.0]\n");
  EXPECT_EQ(tau.exit_code, 2) << tau.output;
  EXPECT_THAT(tau.output,
              HasSubstr("murmur sweep: grid axis 'robust.tau' changes nothing: its values [0.5, "
                        "2.0] give the same resolved run config in every cell"));
  const Outcome equal = grid("lr.toml", "[grid]\n\"train.lr\" = [1, 1.0]\n");
  EXPECT_EQ(equal.exit_code, 2) << equal.output;
  EXPECT_THAT(equal.output, HasSubstr("grid axis 'train.lr' changes nothing"));
  const Outcome foreign = grid("fedavg.toml", "[set]\n\"protocol.kind\" = \"fedavg\"\n[grid]\n"
                                              "\"protocol.topology\" = [\"ring\", \"full\"]\n");
  EXPECT_EQ(foreign.exit_code, 2) << foreign.output;
  EXPECT_THAT(foreign.output, HasSubstr("config key 'protocol.topology' applies to "
                                        "protocol.kind = \"dpsgd\""));
  // The option of the rule the cells use does change them.
  const Outcome used = grid("cc.toml", "[set]\n\"robust.rule\" = \"centered-clipping\"\n"
                                       "[grid]\n\"robust.tau\" = [0.5, 2.0]\n");
  EXPECT_EQ(used.exit_code, 0) << used.output;
  std::filesystem::remove_all(dir);
}

}  // namespace
