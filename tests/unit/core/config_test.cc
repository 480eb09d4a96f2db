#include "murmur/core/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace murmur {
namespace {

Config Parse(std::string_view text) {
  Result<Config> c = Config::FromString(text, "test.toml");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c.value() : Config();
}

TEST(ConfigReader, ReadsValuesAndFallsBackToDefaults) {
  Config c = Parse("peers = 8\n[train]\nlr = 0.1\nopt = \"adam\"\n");
  ConfigReader r(c);
  EXPECT_EQ(r.Int("peers", 16).value(), 8);
  EXPECT_DOUBLE_EQ(r.Double("train.lr", 0.05).value(), 0.1);
  EXPECT_EQ(r.String("train.opt", "sgd", {"sgd", "adam"}).value(), "adam");
  EXPECT_EQ(r.Int("train.batch", 32).value(), 32);
  EXPECT_TRUE(r.CheckNoUnknownKeys().ok());
}

TEST(ConfigReader, IntegerIsAcceptedWhereANumberIsExpected) {
  Config c = Parse("[train]\nlr = 1\n");
  ConfigReader r(c);
  EXPECT_DOUBLE_EQ(r.Double("train.lr", 0.05).value(), 1.0);
}

TEST(ConfigReader, WrongTypeNamesKeyAndValue) {
  Config c = Parse("[train]\nlr = \"fast\"\n");
  ConfigReader r(c);
  Result<double> lr = r.Double("train.lr", 0.05);
  ASSERT_FALSE(lr.ok());
  EXPECT_EQ(lr.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(lr.status().message().find("train.lr"), std::string::npos);
  EXPECT_NE(lr.status().message().find("fast"), std::string::npos);
}

TEST(ConfigReader, OutOfRangeNamesKeyAndValue) {
  Config c = Parse("peers = -3\n");
  ConfigReader r(c);
  Result<int64_t> peers = r.Int("peers", 16, 1);
  ASSERT_FALSE(peers.ok());
  EXPECT_NE(peers.status().message().find("peers"), std::string::npos);
  EXPECT_NE(peers.status().message().find("-3"), std::string::npos);
}

TEST(ConfigReader, RejectsChoiceOutsideTheList) {
  Config c = Parse("[protocol]\nkind = \"paxos\"\n");
  ConfigReader r(c);
  Result<std::string> kind = r.String("protocol.kind", "dpsgd", {"dpsgd", "fedavg"});
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.status().message().find("paxos"), std::string::npos);
  EXPECT_NE(kind.status().message().find("fedavg"), std::string::npos);
}

TEST(ConfigReader, UnknownKeyIsAnErrorNamingIt) {
  Config c = Parse("[train]\nlr = 0.1\nlearning_rate = 0.2\n");
  ConfigReader r(c);
  ASSERT_TRUE(r.Double("train.lr", 0.05).ok());
  Status s = r.CheckNoUnknownKeys();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("train.learning_rate"), std::string::npos);
  EXPECT_NE(s.message().find("train.lr"), std::string::npos);  // suggests known keys
}

TEST(Config, SetOverridesAndCreatesKeys) {
  Config c = Parse("[train]\nlr = 0.1\n");
  ASSERT_TRUE(c.Set("train.lr=0.5").ok());
  ASSERT_TRUE(c.Set("protocol.topology=torus").ok());  // bare word -> string
  ASSERT_TRUE(c.Set("model.hidden=[64, 32]").ok());
  ASSERT_TRUE(c.Set("peers = 4").ok());
  ConfigReader r(c);
  EXPECT_DOUBLE_EQ(r.Double("train.lr", 0).value(), 0.5);
  EXPECT_EQ(r.String("protocol.topology", "ring").value(), "torus");
  EXPECT_EQ(r.IntList("model.hidden", {}).value(), (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(r.Int("peers", 1).value(), 4);
}

TEST(Config, SetWithoutEqualsIsAnError) {
  Config c;
  EXPECT_EQ(c.Set("train.lr").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Set("=3").code(), StatusCode::kInvalidArgument);
}

TEST(Config, SetThroughAValueIsAnError) {
  Config c = Parse("peers = 4\n");
  EXPECT_EQ(c.Set("peers.x=1").code(), StatusCode::kInvalidArgument);
}

TEST(Config, BadTomlReportsLine) {
  Result<Config> c = Config::FromString("a = 1\nb = = 2\n", "bad.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bad.toml:2"), std::string::npos)
      << c.status().message();
}

TEST(Config, MissingFileIsNotFound) {
  EXPECT_EQ(Config::FromFile("/nonexistent/x.toml").status().code(), StatusCode::kNotFound);
}

TEST(Config, EndlessDeviceIsRefusedAtTheSizeLimit) {
  Result<Config> config = Config::FromFile("/dev/zero");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("larger than 16 MiB"), std::string::npos)
      << config.status().message();
}

TEST(Config, IsReadFromAFifo) {
  // A FIFO has no size: the bounded loop reads it to its end.
  const std::string path =
      (std::filesystem::temp_directory_path() / ("murmur_config_fifo_" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove(path);
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  std::thread writer([&] { std::ofstream(path) << "[protocol]\nrounds = 7\n"; });
  Result<Config> config = Config::FromFile(path);
  writer.join();
  std::filesystem::remove(path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ConfigReader reader(*config);
  EXPECT_EQ(reader.Int("protocol.rounds", 1).value(), 7);
}

TEST(Config, FileOneByteOverTheLimitIsRefusedAndOneAtItIsRead) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "murmur_config_size_test.toml").string();
  {
    std::ofstream out(path, std::ios::binary);
    // A TOML comment line of exactly kMaxFileBytes bytes.
    out << '#' << std::string(Config::kMaxFileBytes - 2, 'x') << '\n';
  }
  EXPECT_TRUE(Config::FromFile(path).ok());
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << ' ';
  }
  Result<Config> over = Config::FromFile(path);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kInvalidArgument);
  std::filesystem::remove(path);
}

TEST(ConfigReader, ResolvedTomlContainsDefaultsAndParsesBack) {
  Config c = Parse("peers = 8\n");
  ConfigReader r(c);
  ASSERT_TRUE(r.Int("peers", 16).ok());
  ASSERT_TRUE(r.Double("train.lr", 0.05).ok());
  ASSERT_TRUE(r.String("protocol.kind", "dpsgd").ok());
  Config back = Parse(r.ResolvedToml());
  ConfigReader r2(back);
  EXPECT_EQ(r2.Int("peers", 0).value(), 8);
  EXPECT_DOUBLE_EQ(r2.Double("train.lr", 0).value(), 0.05);
  EXPECT_EQ(r2.String("protocol.kind", "").value(), "dpsgd");
}

}  // namespace
}  // namespace murmur
