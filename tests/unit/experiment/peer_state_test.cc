#include "murmur/experiment/peer_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "murmur/experiment/run_snapshot.h"

namespace murmur {
namespace {

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("murmur_peer_state_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

PeerState Sample() {
  PeerState s{.config_hash = 0x1234'5678'9abc'def0ULL, .peer = PeerId(3), .round = 40,
              .jsonl_bytes = 1234, .csv_bytes = 567};
  for (int i = 0; i < 1000; ++i) s.learner.push_back(static_cast<uint8_t>(i * 7 + 1));
  for (int i = 0; i < 100; ++i) s.node.push_back(static_cast<uint8_t>(i * 3 + 2));
  return s;
}

TEST(PeerState, RoundTripsThroughTheFile) {
  const std::string dir = TempDir("roundtrip");
  const PeerState s = Sample();
  ASSERT_TRUE(WritePeerStateFile(dir, s).ok());
  EXPECT_FALSE(std::filesystem::exists(dir + "/peer_state.bin.tmp"));
  EXPECT_EQ(std::filesystem::file_size(dir + "/peer_state.bin"),
            8 + 4 + 8 + 4 + 8 + 8 + 8 + (8 + 1000) + (8 + 100) + 8);
  Result<std::optional<PeerState>> read = ReadPeerStateFile(dir, s.config_hash, PeerId(3));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->config_hash, s.config_hash);
  EXPECT_EQ((*read)->peer, PeerId(3));
  EXPECT_EQ((*read)->round, 40);
  EXPECT_EQ((*read)->jsonl_bytes, 1234u);
  EXPECT_EQ((*read)->csv_bytes, 567u);
  EXPECT_EQ((*read)->learner, s.learner);
  EXPECT_EQ((*read)->node, s.node);
  // A later state replaces it whole.
  PeerState later = s;
  later.round = 50;
  later.learner.resize(10, 9);
  later.node.clear();
  ASSERT_TRUE(WritePeerStateFile(dir, later).ok());
  read = ReadPeerStateFile(dir, s.config_hash, PeerId(3));
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->round, 50);
  EXPECT_EQ((*read)->learner, later.learner);
  EXPECT_TRUE((*read)->node.empty());
  std::filesystem::remove_all(dir);
}

TEST(PeerState, NoFileIsNoState) {
  const std::string dir = TempDir("absent");
  Result<std::optional<PeerState>> read = ReadPeerStateFile(dir, 1, PeerId(0));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_FALSE(read->has_value());
  std::filesystem::remove_all(dir);
}

TEST(PeerState, RefusesEveryTruncation) {
  const std::vector<uint8_t> bytes = EncodePeerState(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<PeerState> parsed =
        ParsePeerState(std::span<const uint8_t>(bytes).first(n), Sample().config_hash, PeerId(3));
    ASSERT_FALSE(parsed.ok()) << n << " bytes";
    EXPECT_EQ(parsed.status().code(), StatusCode::kCorrupt) << n << " bytes";
  }
  std::vector<uint8_t> padded = bytes;
  padded.push_back(0);
  EXPECT_EQ(ParsePeerState(padded, Sample().config_hash, PeerId(3)).status().code(),
            StatusCode::kCorrupt);
}

TEST(PeerState, RefusesEveryFlippedByte) {
  const std::vector<uint8_t> bytes = EncodePeerState(Sample());
  ASSERT_TRUE(ParsePeerState(bytes, Sample().config_hash, PeerId(3)).ok());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> flipped = bytes;
    flipped[i] ^= 0x10;
    Result<PeerState> parsed = ParsePeerState(flipped, Sample().config_hash, PeerId(3));
    EXPECT_EQ(parsed.status().code(), StatusCode::kCorrupt) << "byte " << i;
  }
}

TEST(PeerState, RefusesABodyLengthPastTheFile) {
  for (const size_t at : {size_t{8 + 4 + 8 + 4 + 8 + 8 + 8},                   // the learner's
                          size_t{8 + 4 + 8 + 4 + 8 + 8 + 8 + 8 + 1000}}) {  // the node's
    std::vector<uint8_t> bytes = EncodePeerState(Sample());
    // The length claims 2^62 bytes; the checksum is made to fit, so only
    // the length check can refuse it.
    for (int k = 0; k < 8; ++k) bytes[at + k] = k == 7 ? 0x40 : 0;
    const uint64_t checksum = Fnv1a64(std::span<const uint8_t>(bytes).first(bytes.size() - 8));
    std::memcpy(bytes.data() + bytes.size() - 8, &checksum, 8);
    Result<PeerState> parsed = ParsePeerState(bytes, Sample().config_hash, PeerId(3));
    EXPECT_EQ(parsed.status().code(), StatusCode::kCorrupt) << at;
    EXPECT_NE(parsed.status().message().find("truncated"), std::string::npos)
        << parsed.status().message();
  }
}

TEST(PeerState, RefusesAnotherRunsAndAnotherSlotsState) {
  const std::string dir = TempDir("other");
  const PeerState s = Sample();
  ASSERT_TRUE(WritePeerStateFile(dir, s).ok());
  Result<std::optional<PeerState>> other_run = ReadPeerStateFile(dir, s.config_hash + 1, PeerId(3));
  EXPECT_EQ(other_run.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other_run.status().message().find("another run"), std::string::npos)
      << other_run.status().message();
  EXPECT_NE(other_run.status().message().find(dir + "/peer_state.bin"), std::string::npos)
      << other_run.status().message();
  Result<std::optional<PeerState>> other_slot = ReadPeerStateFile(dir, s.config_hash, PeerId(2));
  EXPECT_EQ(other_slot.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other_slot.status().message().find("peer 3's, not peer 2's"), std::string::npos)
      << other_slot.status().message();
  std::filesystem::remove_all(dir);
}

TEST(PeerState, RefusesAFileThatIsNotAState) {
  const std::string dir = TempDir("garbage");
  std::ofstream(dir + "/peer_state.bin") << "seed = 1\n";
  EXPECT_EQ(ReadPeerStateFile(dir, 1, PeerId(0)).status().code(), StatusCode::kCorrupt);
  std::filesystem::remove(dir + "/peer_state.bin");
  std::filesystem::create_directory(dir + "/peer_state.bin");
  EXPECT_EQ(ReadPeerStateFile(dir, 1, PeerId(0)).status().code(), StatusCode::kCorrupt);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace murmur
