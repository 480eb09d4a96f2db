// `murmur keygen` and `murmur id` as a user runs them: the files, their
// modes, the printed public key, and refusals.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "testing/cli_runner.h"

namespace {

using murmur::testing::CliOutcome;
using murmur::testing::FreshTempDir;
using murmur::testing::ReadFile;
using murmur::testing::RunMurmur;
using murmur::testing::Stderr;

unsigned Mode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

bool IsHexKey(const std::string& line) {
  return line.size() == 64 && line.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(MurmurKeygen, WritesPrivateKeyFilesAndPrintsThePublicKeyThatIdPrints) {
  const std::string dir = FreshTempDir("keys");
  const CliOutcome made = RunMurmur("keygen " + dir + "/a", Stderr::kApart);
  ASSERT_EQ(made.exit_code, 0) << made.error;
  ASSERT_EQ(made.output.size(), 65u) << made.output;  // 64 hex digits and a newline
  const std::string public_key = made.output.substr(0, 64);
  EXPECT_TRUE(IsHexKey(public_key)) << public_key;
  EXPECT_EQ(Mode(dir + "/a/peer.key"), 0600u);
  EXPECT_EQ(Mode(dir + "/a/net.key"), 0600u);
  EXPECT_EQ(ReadFile(dir + "/a/net.key").size(), 65u);
  // The key file's public half, as `murmur id` prints it.
  const CliOutcome id = RunMurmur("id " + dir + "/a/peer.key", Stderr::kApart);
  ASSERT_EQ(id.exit_code, 0) << id.error;
  EXPECT_EQ(id.output, public_key + "\n");
  // A second machine's key pair: another key, no network key.
  const CliOutcome second = RunMurmur("keygen --no-network-key " + dir + "/b", Stderr::kApart);
  ASSERT_EQ(second.exit_code, 0) << second.error;
  EXPECT_NE(second.output, made.output);
  EXPECT_FALSE(std::filesystem::exists(dir + "/b/net.key"));
  std::filesystem::remove_all(dir);
}

TEST(MurmurKeygen, RefusesToOverwriteAKeyAndExitsTwo) {
  const std::string dir = FreshTempDir("overwrite");
  ASSERT_EQ(RunMurmur("keygen " + dir, Stderr::kApart).exit_code, 0);
  const std::string before = ReadFile(dir + "/peer.key");
  const CliOutcome again = RunMurmur("keygen " + dir, Stderr::kApart);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.error.find("refusing to overwrite"), std::string::npos) << again.error;
  EXPECT_EQ(ReadFile(dir + "/peer.key"), before);
  std::filesystem::remove_all(dir);
}

TEST(MurmurId, RefusesAGroupReadableOrMalformedKeyFile) {
  const std::string dir = FreshTempDir("id");
  ASSERT_EQ(RunMurmur("keygen " + dir, Stderr::kApart).exit_code, 0);
  ::chmod((dir + "/peer.key").c_str(), 0644);
  const CliOutcome open = RunMurmur("id " + dir + "/peer.key", Stderr::kApart);
  EXPECT_EQ(open.exit_code, 2);
  EXPECT_NE(open.error.find("chmod 600"), std::string::npos) << open.error;
  EXPECT_EQ(open.output, "");
  const CliOutcome missing = RunMurmur("id " + dir + "/nothing.key", Stderr::kApart);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir + "/nothing.key"));
  std::filesystem::remove_all(dir);
}

}  // namespace

namespace {

TEST(MurmurPeer, RefusesAnOpenNetworkUnlessInsecureAndSaysHowToMakeKeys) {
  const std::string dir = FreshTempDir("open");
  const CliOutcome open = RunMurmur("peer --key " + dir + "/k --index 0 " + dir + "/none.toml",
                                    Stderr::kApart);
  EXPECT_EQ(open.exit_code, 2) << open.error;
  EXPECT_NE(open.error.find("no --network-key and no --allow"), std::string::npos) << open.error;
  EXPECT_NE(open.error.find("murmur keygen DIR"), std::string::npos) << open.error;
  EXPECT_NE(open.error.find("--insecure"), std::string::npos) << open.error;
  // With --insecure the refusal is gone: what fails now is the missing config.
  const CliOutcome insecure = RunMurmur(
      "peer --insecure --key " + dir + "/k --index 0 " + dir + "/none.toml", Stderr::kApart);
  EXPECT_EQ(insecure.exit_code, 2) << insecure.error;
  EXPECT_EQ(insecure.error.find("no --network-key and no --allow"), std::string::npos)
      << insecure.error;
  EXPECT_NE(insecure.error.find("cannot be opened"), std::string::npos) << insecure.error;
}

}  // namespace
