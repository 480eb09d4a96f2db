// The [compress] keys and protocol.kind = "choco": defaults that change
// nothing, parsed values, and errors that name the key.
#include <gtest/gtest.h>

#include "murmur/experiment/run_config.h"
#include "murmur/protocol/choco.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/registry.h"

namespace murmur {
namespace {

Result<RunConfig> Read(std::string_view toml) {
  Result<Config> config = Config::FromString(toml, "test.toml");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return ReadRunConfig(*config);
}

TEST(RunConfigCompress, DefaultsSendEverythingUncompressed) {
  Result<RunConfig> c = Read("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->protocol.kind, "dpsgd");
  const FedAvgConfig fedavg;  // what "fedavg" reads when [compress] is empty
  EXPECT_EQ(fedavg.compress.uplink, "fp32");
  EXPECT_EQ(fedavg.compress.downlink, "fp32");
  EXPECT_EQ(fedavg.compress.error_feedback, ErrorFeedbackKind::kNone);
  EXPECT_EQ(ChocoConfig{}.codec, "fp32");
}

TEST(RunConfigCompress, ReadsChocoAndEveryCompressKey) {
  Result<RunConfig> c = Read(R"(
[protocol]
kind = "choco"
choco_gamma = 0.25
[compress]
codec = "topk:0.01|int8"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->protocol.kind, "choco");
  const auto choco = ProtocolOptionsAs<ChocoConfig>(c->protocol);
  EXPECT_EQ(choco.gamma, 0.25);
  EXPECT_EQ(choco.codec, "topk:0.01|int8");
  Result<RunConfig> f = Read(R"(
[protocol]
kind = "fedavg"
[compress]
uplink = "randk:0.1|fp16"
downlink = "int8|zstd"
error_feedback = "econtrol"
econtrol_eta = 0.2
)");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const auto fedavg = ProtocolOptionsAs<FedAvgConfig>(f->protocol);
  EXPECT_EQ(fedavg.compress.uplink, "randk:0.1|fp16");
  EXPECT_EQ(fedavg.compress.downlink, "int8|zstd");
  EXPECT_EQ(fedavg.compress.error_feedback, ErrorFeedbackKind::kEControl);
  EXPECT_EQ(fedavg.compress.econtrol_eta, 0.2);
}

// A key only other protocols read is an error naming the key and every
// protocol that reads it (exit 2 path).
TEST(RunConfigCompress, KeyOfAnotherProtocolIsAnErrorNamingTheProtocolsThatReadIt) {
  Result<RunConfig> c = Read(R"(
[protocol]
kind = "choco"
[compress]
uplink = "int8"
)");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "config key 'compress.uplink' applies to protocol.kind = \"fedavg\", not to this "
            "run's protocol.kind = \"choco\": remove it, or change protocol.kind");
  Result<RunConfig> d = Read("[protocol]\nkind = \"fedavg\"\ntopology = \"ring\"\n");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "config key 'protocol.topology' applies to protocol.kind = \"dpsgd\", \"gossip\", "
            "\"choco\", \"dfedsam\", not to this run's protocol.kind = \"fedavg\": "
            "remove it, or change protocol.kind");
  // The same key is fine for a protocol that reads it.
  Result<RunConfig> ok = Read("[protocol]\nkind = \"gossip\"\ntopology = \"ring\"\n");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
  // A key no protocol reads is still an unknown key.
  Result<RunConfig> e = Read("[protocol]\nkind = \"dpsgd\"\nmodest_trainerz = 3\n");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("unknown config key 'protocol.modest_trainerz'"),
            std::string::npos) << e.status().ToString();
}

TEST(RunConfigCompress, RejectionsNameTheKey) {
  // Each key is checked by the protocol that reads it.
  for (const auto& [toml, key] : std::vector<std::pair<const char*, const char*>>{
           {"[protocol]\nkind = \"choco\"\n[compress]\ncodec = \"topk:0\"", "compress.codec"},
           {"[protocol]\nkind = \"fedavg\"\n[compress]\nuplink = \"int9\"", "compress.uplink"},
           {"[protocol]\nkind = \"fedavg\"\n[compress]\ndownlink = \"topk:0.01|int8\"",
            "compress.downlink"},
           {"[protocol]\nkind = \"fedavg\"\n[compress]\nerror_feedback = \"ef3\"",
            "compress.error_feedback"},
           {"[protocol]\nkind = \"fedavg\"\n[compress]\necontrol_eta = -1.0",
            "compress.econtrol_eta"},
           {"[protocol]\nkind = \"choco\"\nchoco_gamma = 1.5", "protocol.choco_gamma"},
           {"[compress]\ncodecs = \"int8\"", "compress.codecs"}}) {
    Result<RunConfig> c = Read(toml);
    ASSERT_FALSE(c.ok()) << toml;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << toml;
    EXPECT_NE(c.status().message().find(key), std::string::npos) << c.status().message();
  }
}

}  // namespace
}  // namespace murmur
