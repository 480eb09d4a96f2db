// Compressed FedAvg: the uplink's error-feedback sequencing and the nodes'
// coded messages, by hand.
#include "murmur/protocol/fedavg_compression.h"

#include <gtest/gtest.h>

#include "testing/fake_host.h"
#include "testing/frozen_learner.h"
#include "murmur/protocol/coded_message.h"
#include "murmur/protocol/fedavg.h"

namespace murmur::testing {
namespace {

std::vector<float> Ramp(size_t n, float scale) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = scale * static_cast<float>((i * 7) % 13) - 3.f;
  return x;
}

TEST(ErrorFeedbackKind, ParsesEveryNameAndRejectsOthers) {
  EXPECT_EQ(ParseErrorFeedbackKind("none").value(), ErrorFeedbackKind::kNone);
  EXPECT_EQ(ParseErrorFeedbackKind("ef").value(), ErrorFeedbackKind::kEf);
  EXPECT_EQ(ParseErrorFeedbackKind("ef21").value(), ErrorFeedbackKind::kEf21);
  EXPECT_EQ(ParseErrorFeedbackKind("econtrol").value(), ErrorFeedbackKind::kEControl);
  EXPECT_EQ(ParseErrorFeedbackKind("EF").status().code(), StatusCode::kInvalidArgument);
}

TEST(CheckDownlinkSpec, AcceptsValueCodecsAndRefusesSparsifiers) {
  EXPECT_TRUE(CheckDownlinkSpec("int8").ok());
  EXPECT_TRUE(CheckDownlinkSpec("fp16|zstd").ok());
  EXPECT_TRUE(CheckDownlinkSpec(" int4:block=64").ok());
  for (const char* spec : {"topk:0.01", "randk:0.1|int8", "powersgd:2", "fedzip:0.01"}) {
    const Status s = CheckDownlinkSpec(spec);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(s.message().find("downlink"), std::string::npos) << s.message();
  }
  EXPECT_EQ(CheckDownlinkSpec("int9").code(), StatusCode::kInvalidArgument);
}

// EF21: the server's decoded update is the client's estimate, bit for bit,
// frame after frame.
TEST(UplinkCodec, Ef21ServerEstimateTracksTheClient) {
  auto codec = MakeCodec("topk:0.2").value();
  const size_t d = 50;
  UplinkEncoder client(*codec, d, ErrorFeedbackKind::kEf21, 0.f);
  UplinkDecoder server(*codec, d, ErrorFeedbackKind::kEf21);
  Ef21Encoder mirror(*codec, d);  // what the client's estimate must be
  std::vector<float> update(d);
  for (uint32_t step = 1; step <= 6; ++step) {
    const std::vector<float> x = Ramp(d, static_cast<float>(step));
    ByteWriter frame;
    ASSERT_EQ(client.Encode(x, {.step = step}, frame).value(), step);
    ByteWriter mirrored;
    ASSERT_TRUE(mirror.Encode(x, {.step = step}, mirrored).ok());
    ASSERT_EQ(server.Receive(frame.bytes(), step, {.step = step}, update).value(), true);
    EXPECT_EQ(update, std::vector<float>(mirror.estimate().begin(), mirror.estimate().end()));
    EXPECT_EQ(server.applied(), step);
    client.OnServerAck(server.applied());  // in step: no reset
  }
}

// A lost frame: the server refuses the next one (out of sequence), its ack
// makes the client restart at sequence 1, and both ends agree again.
TEST(UplinkCodec, LostFrameResetsBothEndsOfEf21) {
  auto codec = MakeCodec("topk:0.2").value();
  const size_t d = 50;
  UplinkEncoder client(*codec, d, ErrorFeedbackKind::kEf21, 0.f);
  UplinkDecoder server(*codec, d, ErrorFeedbackKind::kEf21);
  std::vector<float> update(d);
  ByteWriter f1, f2, f3;
  ASSERT_EQ(client.Encode(Ramp(d, 1), {}, f1).value(), 1u);
  ASSERT_TRUE(server.Receive(f1.bytes(), 1, {}, update).value());
  ASSERT_EQ(client.Encode(Ramp(d, 2), {}, f2).value(), 2u);  // lost
  ASSERT_EQ(client.Encode(Ramp(d, 3), {}, f3).value(), 3u);
  EXPECT_FALSE(server.Receive(f3.bytes(), 3, {}, update).value());
  EXPECT_EQ(server.applied(), 1u);
  client.OnServerAck(server.applied());
  ByteWriter f4;
  ASSERT_EQ(client.Encode(Ramp(d, 4), {}, f4).value(), 1u);
  ASSERT_TRUE(server.Receive(f4.bytes(), 1, {}, update).value());
  // From zero, EF21's first frame is C(x): what a plain top-k decodes.
  std::vector<float> plain(d);
  ByteWriter direct;
  ASSERT_TRUE(codec->Encode(Ramp(d, 4), {}, direct).ok());
  ASSERT_TRUE(codec->Decode(direct.bytes(), {}, plain).ok());
  EXPECT_EQ(update, plain);
}

TEST(UplinkCodec, CorruptFrameLeavesTheServerStateAlone) {
  auto codec = MakeCodec("int8").value();
  UplinkDecoder server(*codec, 8, ErrorFeedbackKind::kEControl);
  std::vector<float> update(8);
  const std::vector<uint8_t> garbage = {4, 8, 1, 2};
  EXPECT_EQ(server.Receive(garbage, 1, {}, update).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(server.Receive(garbage, 0, {}, update).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(server.applied(), 0u);
}

FedAvgOptions CodedOptions(const char* uplink, const char* downlink) {
  FedAvgOptions o{.rounds = 2, .client_fraction = 1.0, .local_epochs = 1,
                  .round_timeout = Duration::Seconds(10)};
  o.compression.uplink = MakeCodec(uplink).value();
  o.compression.downlink = MakeCodec(downlink).value();
  o.compression.seed = 1;
  return o;
}

std::vector<uint8_t> CodedUpdate(uint32_t round, uint64_t weight, uint32_t sequence,
                                 const std::vector<float>& update) {
  ByteWriter out;
  WriteCodedMessageHeader({.kind = CodedMessageKind::kFedAvgCodedUpdate,
                           .round = Round(round),
                           .weight = weight,
                           .sequence = sequence},
                          out);
  EXPECT_TRUE(MakeCodec("fp32").value()->Encode(update, {}, out).ok());
  return std::move(out).Take();
}

// The server adds the weighted mean of the decoded updates to its exact
// global model.
TEST(FedAvgServer, CodedUpdatesMoveTheGlobalModelByTheirWeightedMean) {
  FedAvgServer server({1.f, -1.f}, CodedOptions("fp32", "int8"), {PeerId(0), PeerId(1)});
  FakeHost host(PeerId(2));
  server.OnStart(host);
  ASSERT_EQ(host.sent.size(), 2u);
  Result<CodedMessage> global =
      ReadCodedMessage(host.sent[0].bytes, CodedMessageKind::kFedAvgCodedGlobal);
  ASSERT_TRUE(global.ok());
  EXPECT_EQ(global->header.round, Round(1));
  EXPECT_EQ(global->header.sequence, 0u);  // nothing applied from this client yet
  server.OnMessage(host, PeerId(0), CodedUpdate(1, 1, 1, {4.f, 0.f}));
  server.OnMessage(host, PeerId(1), CodedUpdate(1, 3, 1, {0.f, 8.f}));
  ASSERT_EQ(server.completed_rounds(), 1);
  // 1 + (1*4 + 3*0)/4 = 2, -1 + (1*0 + 3*8)/4 = 5.
  EXPECT_EQ(std::vector<float>(server.global_model().begin(), server.global_model().end()),
            (std::vector<float>{2.f, 5.f}));
  // Round 2's messages acknowledge one frame per client.
  ASSERT_EQ(host.sent.size(), 4u);
  EXPECT_EQ(ReadCodedMessage(host.sent[3].bytes, CodedMessageKind::kFedAvgCodedGlobal)
                ->header.sequence,
            1u);
  // An uncompressed reply is garbage to a compressing server.
  server.OnMessage(host, PeerId(0), std::vector<uint8_t>{4, 2, 0, 0, 0});
  EXPECT_EQ(host.bad_peers, std::vector<PeerId>{PeerId(0)});
}

// The client trains from the decoded global model and sends its change;
// with lr 0 the change is exactly zero.
TEST(FedAvgClient, TrainsFromTheDecodedGlobalAndSendsItsChange) {
  FrozenLearner l;
  l.Fill(9.f);
  const FedAvgOptions options = CodedOptions("int8", "int8");
  FedAvgClient client(*l.learner, options, PeerId(5));
  FakeHost host(PeerId(0));
  ByteWriter global;
  WriteCodedMessageHeader({.kind = CodedMessageKind::kFedAvgCodedGlobal, .round = Round(1)},
                          global);
  ASSERT_TRUE(options.compression.downlink
                  ->Encode(l.Constant(0.5f), {.seed = 1, .sender = PeerId(5), .step = 1}, global)
                  .ok());
  client.OnMessage(host, PeerId(5), global.bytes());
  std::vector<float> expected(l.Constant(0).size());
  ASSERT_TRUE(options.compression.downlink
                  ->Decode(std::span(global.bytes()).subspan(kCodedMessageHeaderBytes),
                           {.seed = 1, .sender = PeerId(5), .step = 1}, expected)
                  .ok());
  EXPECT_EQ(std::vector<float>(l.learner->params().begin(), l.learner->params().end()),
            expected);
  EXPECT_NEAR(expected[0], 0.5f, 0.01f);
  host.FinishCompute(client);
  ASSERT_EQ(host.sent.size(), 1u);
  Result<CodedMessage> update =
      ReadCodedMessage(host.sent[0].bytes, CodedMessageKind::kFedAvgCodedUpdate);
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->header.round, Round(1));
  EXPECT_EQ(update->header.weight, 64u);
  EXPECT_EQ(update->header.sequence, 1u);
  std::vector<float> decoded(l.Constant(0).size(), 1.f);
  ASSERT_TRUE(options.compression.uplink
                  ->Decode(update->payload, {.seed = 1, .sender = PeerId(0), .step = 1}, decoded)
                  .ok());
  EXPECT_EQ(decoded, l.Constant(0.f));
  // A compressed message from the server that does not decode is refused.
  client.OnMessage(host, PeerId(5), std::vector<uint8_t>{19, 1, 0});
  EXPECT_EQ(host.bad_peers, std::vector<PeerId>{PeerId(5)});
}

TEST(CodedMessage, RejectsTruncationWrongKindsAndResyncPayloads) {
  ByteWriter ok;
  WriteCodedMessageHeader({.kind = CodedMessageKind::kChocoSnapshot, .round = Round(3),
                           .weight = 7, .sequence = 9},
                          ok);
  ok.WriteU8(42);
  const std::vector<uint8_t> bytes = ok.bytes();
  Result<CodedMessage> m = ReadCodedMessage(bytes, CodedMessageKind::kChocoDelta);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->header.kind, CodedMessageKind::kChocoSnapshot);
  EXPECT_EQ(m->header.round, Round(3));
  EXPECT_EQ(m->header.weight, 7u);
  EXPECT_EQ(m->header.sequence, 9u);
  EXPECT_EQ(m->payload.size(), 1u);
  for (size_t n = 0; n < kCodedMessageHeaderBytes; ++n) {
    EXPECT_FALSE(ReadCodedMessage(std::span(bytes).first(n), CodedMessageKind::kChocoDelta).ok())
        << n;
  }
  EXPECT_FALSE(ReadCodedMessage(bytes, CodedMessageKind::kFedAvgCodedUpdate).ok());
  ByteWriter request;
  WriteCodedMessageHeader({.kind = CodedMessageKind::kChocoResyncRequest}, request);
  request.WriteU8(0);
  EXPECT_EQ(ReadCodedMessage(request.bytes(), CodedMessageKind::kChocoDelta).status().code(),
            StatusCode::kCorrupt);
}

}  // namespace
}  // namespace murmur::testing
