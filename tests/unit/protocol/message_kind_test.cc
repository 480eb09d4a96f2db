#include "murmur/protocol/message_kind.h"

#include <gtest/gtest.h>

#include <set>

#include "murmur/protocol/async_message.h"
#include "murmur/protocol/coded_message.h"
#include "murmur/protocol/model_message.h"
#include "murmur/protocol/modest_message.h"
#include "murmur/protocol/spsa_message.h"
#include "murmur/protocol/sybilwall_message.h"

namespace murmur {
namespace {

static_assert(!MessageKindsAreDistinct(std::array{MessageKind::kAsyncTask,
                                                  MessageKind::kAsyncTask}));
static_assert(MessageKindOf(0x31) == MessageKind::kSybilWallRecord);
static_assert(!MessageKindOf(0).has_value());

TEST(MessageKind, EveryCodecKindIsListedOnce) {
  std::set<uint8_t> listed;
  for (MessageKind kind : kAllMessageKinds) listed.insert(static_cast<uint8_t>(kind));
  EXPECT_EQ(listed.size(), kAllMessageKinds.size());
  const uint8_t codec_kinds[] = {
      static_cast<uint8_t>(ModelMessageKind::kDpsgdParams),
      static_cast<uint8_t>(ModelMessageKind::kFedAvgUpdate),
      static_cast<uint8_t>(CodedMessageKind::kChocoDelta),
      static_cast<uint8_t>(CodedMessageKind::kGossipSnapshot),
      static_cast<uint8_t>(AsyncMessageKind::kTask),
      static_cast<uint8_t>(AsyncMessageKind::kUpdate),
      static_cast<uint8_t>(SpsaMessageKind::kSpsaUpdate),
      static_cast<uint8_t>(SpsaMessageKind::kKSeedUpdate),
      kSybilWallRecordKind,
      static_cast<uint8_t>(ModestMessageType::kPing),
      static_cast<uint8_t>(ModestMessageType::kProgress)};
  for (uint8_t byte : codec_kinds) EXPECT_TRUE(listed.count(byte)) << +byte;
}

TEST(MessageKind, HeaderRoundTripsAndRejectsOtherKinds) {
  ByteWriter out;
  WriteMessageHeader({MessageKind::kGossipDelta, Round(0x01020304)}, out);
  const std::vector<uint8_t> bytes = std::move(out).Take();
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x15, 0x04, 0x03, 0x02, 0x01}));
  EXPECT_EQ(PeekMessageKind(bytes), MessageKind::kGossipDelta);
  ByteReader in(bytes);
  Result<MessageHeader> header =
      ReadMessageHeader(in, {MessageKind::kGossipModel, MessageKind::kGossipDelta}, "test");
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->kind, MessageKind::kGossipDelta);
  EXPECT_EQ(header->round, Round(0x01020304));
  ByteReader again(bytes);
  EXPECT_EQ(ReadMessageHeader(again, {MessageKind::kGossipModel}, "test").status().code(),
            StatusCode::kCorrupt);
  ByteReader truncated(std::span<const uint8_t>(bytes).first(3));
  EXPECT_EQ(ReadMessageHeader(truncated, {MessageKind::kGossipDelta}, "test").status().code(),
            StatusCode::kCorrupt);
  EXPECT_FALSE(PeekMessageKind({}).has_value());
}

}  // namespace
}  // namespace murmur
