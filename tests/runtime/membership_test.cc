// Membership without sockets: trust on first use, record freshness, the
// allowlist, the dial and redial policy with its backoff, duplicate
// resolution and the failure detector's verdicts, on hand-made records.
#include "murmur/runtime/membership.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace murmur::net {
namespace {

Identity Id(uint8_t b) {
  std::array<uint8_t, 32> seed{};
  seed.fill(b);
  return Identity::FromSeed(seed);
}

PeerRecord Record(const Identity& id, uint32_t slot, uint64_t issued_ms,
                  const std::string& address = "127.0.0.1:7000") {
  return PeerRecord::Make(id, PeerId(slot), address, issued_ms);
}

constexpr uint64_t kNow = 10'000;  // our Unix clock, ms

constexpr Duration kMin = Duration::Nanos(100'000'000);  // 0.1 s
constexpr Duration kMax = Duration::Nanos(500'000'000);  // 0.5 s

MembershipOptions Options(uint32_t self, uint32_t num_slots = 4) {
  return MembershipOptions{
      .self = PeerId(self), .num_slots = num_slots, .backoff_min = kMin, .backoff_max = kMax};
}

class MembershipTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto().ok()); }
  const Identity a_ = Id(1);
  const Identity b_ = Id(2);
  Allowlist open_;  // empty: admits every key
};

TEST(Backoff, DoublesToItsCapAndResetsToItsMinimum) {
  Backoff backoff(kMin, kMax);
  EXPECT_EQ(backoff.Next().ns, 100'000'000);
  EXPECT_EQ(backoff.Next().ns, 200'000'000);
  EXPECT_EQ(backoff.Next().ns, 400'000'000);
  EXPECT_EQ(backoff.Next().ns, 500'000'000);  // 800 ms capped
  EXPECT_EQ(backoff.Next().ns, 500'000'000);
  EXPECT_EQ(backoff.peek().ns, 500'000'000);
  backoff.Reset();
  EXPECT_EQ(backoff.Next().ns, 100'000'000);
}

TEST(FailureDetector, SuspectsOnlyAfterMoreThanItsTimeouts) {
  const FailureDetector detector{.peer_timeout = Duration::Nanos(5'000),
                                 .handshake_timeout = Duration::Nanos(2'000)};
  EXPECT_FALSE(detector.Silent(SimTime{1'000}, SimTime{6'000}));  // exactly the timeout
  EXPECT_TRUE(detector.Silent(SimTime{1'000}, SimTime{6'001}));
  EXPECT_FALSE(detector.HandshakeOverdue(SimTime{1'000}, SimTime{3'000}));
  EXPECT_TRUE(detector.HandshakeOverdue(SimTime{1'000}, SimTime{3'001}));
}

TEST_F(MembershipTest, TrustOnFirstUsePinsTheFirstKeyOfASlot) {
  Membership m(Options(0), open_);
  EXPECT_TRUE(m.CheckSlotKey(Record(b_, 2, 1000)).ok());  // a free slot
  EXPECT_EQ(m.Learn(Record(a_, 2, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_TRUE(m.CheckSlotKey(Record(a_, 2, 2000)).ok());  // the same key again

  // Another key's claim, even newer, is refused, naming both keys.
  const Status s = m.CheckSlotKey(Record(b_, 2, 5000));
  EXPECT_EQ(s.code(), StatusCode::kAborted);
  EXPECT_EQ(s.message(), "slot 2 belongs to " + PeerName(a_.public_key()) + "; refusing " +
                             PeerName(b_.public_key()) + "'s claim to it");
  const Membership::Learned learned =
      m.Learn(Record(b_, 2, 5000, "10.0.0.9:1"), RecordSource::kGossip, kNow);
  EXPECT_EQ(learned.verdict, Membership::Verdict::kSlotTaken);
  EXPECT_EQ(learned.why.message(), s.message());
  EXPECT_EQ(m.record(PeerId(2))->key, a_.public_key());
  EXPECT_EQ(m.record(PeerId(2))->issued_ms, 1000u);

  // Slots out of range are the handshake's to refuse.
  EXPECT_TRUE(m.CheckSlotKey(Record(b_, 9, 1000)).ok());
}

TEST_F(MembershipTest, ANewerRecordReplacesAnOlderOneAndNoOtherDoes) {
  Membership m(Options(0), open_);
  EXPECT_EQ(m.Learn(Record(a_, 1, 1000, "10.0.0.1:1"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_EQ(m.Learn(Record(a_, 1, 1000, "10.0.0.1:2"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kStale);
  EXPECT_EQ(m.Learn(Record(a_, 1, 999, "10.0.0.1:3"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kStale);
  EXPECT_EQ(m.record(PeerId(1))->address, "10.0.0.1:1");
  EXPECT_EQ(m.Learn(Record(a_, 1, 1001, "10.0.0.1:4"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_EQ(m.record(PeerId(1))->address, "10.0.0.1:4");
  EXPECT_EQ(m.record(PeerId(1))->issued_ms, 1001u);
}

TEST_F(MembershipTest, IgnoresOurOwnSlotAndSlotsOutOfRange) {
  Membership m(Options(1), open_);
  EXPECT_EQ(m.Learn(Record(a_, 1, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kIgnored);
  EXPECT_EQ(m.Learn(Record(a_, 4, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kIgnored);
  EXPECT_FALSE(m.record(PeerId(1)).has_value());
}

TEST_F(MembershipTest, AllowlistRefusesAKeyForAnySlotButItsOwn) {
  Allowlist allow;
  allow.Add(a_.public_key(), PeerId(1));
  Membership m(Options(0), allow);
  EXPECT_EQ(m.Learn(Record(b_, 1, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kNotAdmitted);
  EXPECT_EQ(m.Learn(Record(a_, 2, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kNotAdmitted);
  EXPECT_FALSE(m.record(PeerId(2)).has_value());
  EXPECT_EQ(m.Learn(Record(a_, 1, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
}

TEST_F(MembershipTest, TheLowerSlotDialsAPeerWithARecordOnce) {
  Membership m(Options(1), open_);
  EXPECT_FALSE(m.IsDialer(PeerId(0)));
  EXPECT_TRUE(m.IsDialer(PeerId(2)));
  EXPECT_FALSE(m.ShouldDial(PeerId(2)));  // no address yet
  ASSERT_EQ(m.Learn(Record(a_, 2, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  ASSERT_EQ(m.Learn(Record(b_, 0, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_TRUE(m.ShouldDial(PeerId(2)));
  EXPECT_FALSE(m.ShouldDial(PeerId(0)));  // slot 0 dials us

  m.DialStarted(PeerId(2));
  EXPECT_FALSE(m.ShouldDial(PeerId(2)));  // never two dials of one pair
  m.DialEnded(PeerId(2));
  EXPECT_TRUE(m.ShouldDial(PeerId(2)));
  m.Connected(PeerId(2));
  EXPECT_FALSE(m.ShouldDial(PeerId(2)));
  EXPECT_TRUE(m.connected(PeerId(2)));
  m.Disconnected(PeerId(2));
  EXPECT_TRUE(m.ShouldDial(PeerId(2)));
}

TEST_F(MembershipTest, RedialsWaitADoublingBackoffOneAtATime) {
  Membership m(Options(1), open_);
  EXPECT_FALSE(m.ScheduleRedial(PeerId(0)).has_value());  // not ours to dial
  EXPECT_EQ(m.ScheduleRedial(PeerId(2))->ns, 100'000'000);
  EXPECT_FALSE(m.ScheduleRedial(PeerId(2)).has_value());  // one is scheduled
  ASSERT_EQ(m.Learn(Record(a_, 2, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_FALSE(m.ShouldDial(PeerId(2)));  // until it is due
  m.RedialDue(PeerId(2));
  EXPECT_TRUE(m.ShouldDial(PeerId(2)));
  EXPECT_EQ(m.ScheduleRedial(PeerId(2))->ns, 200'000'000);
  m.RedialDue(PeerId(2));
  EXPECT_EQ(m.ScheduleRedial(PeerId(2))->ns, 400'000'000);
  m.RedialDue(PeerId(2));
  EXPECT_EQ(m.ScheduleRedial(PeerId(2))->ns, 500'000'000);
  m.RedialDue(PeerId(2));
  EXPECT_EQ(m.ScheduleRedial(PeerId(2))->ns, 500'000'000);
}

TEST_F(MembershipTest, ConnectingResetsTheBackoffAndTellsARejoin) {
  Membership m(Options(0), open_);
  m.ScheduleRedial(PeerId(3));
  m.RedialDue(PeerId(3));
  m.ScheduleRedial(PeerId(3));
  EXPECT_EQ(m.backoff(PeerId(3)).ns, 400'000'000);
  m.Connected(PeerId(3));
  EXPECT_FALSE(m.Joined(PeerId(3)));  // the first time
  EXPECT_EQ(m.backoff(PeerId(3)).ns, 100'000'000);
  m.Disconnected(PeerId(3));
  m.Connected(PeerId(3));
  EXPECT_TRUE(m.Joined(PeerId(3)));
}

TEST_F(MembershipTest, AMovedPeerIsRetriedFromTheMinimumBackoff) {
  Membership m(Options(0), open_);
  ASSERT_EQ(m.Learn(Record(a_, 1, 1000, "10.0.0.1:1"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  m.ScheduleRedial(PeerId(1));
  EXPECT_EQ(m.backoff(PeerId(1)).ns, 200'000'000);
  ASSERT_EQ(m.Learn(Record(a_, 1, 1001, "10.0.0.1:1"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_EQ(m.backoff(PeerId(1)).ns, 200'000'000);  // same address
  ASSERT_EQ(m.Learn(Record(a_, 1, 1002, "10.0.0.1:2"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_EQ(m.backoff(PeerId(1)).ns, 100'000'000);
}

// A restarted peer (issue 18): its new record cancels the wait for the
// redial scheduled while it was down, so it is dialed at once, not after
// up to backoff_max.
TEST_F(MembershipTest, ARestartedPeerIsDialedWithoutWaitingForTheScheduledRedial) {
  Membership m(Options(0), open_);
  ASSERT_EQ(m.Learn(Record(a_, 1, 1000, "10.0.0.1:1"), RecordSource::kHandshake, kNow).verdict,
            Membership::Verdict::kAccepted);
  m.Connected(PeerId(1));
  m.Disconnected(PeerId(1));
  ASSERT_TRUE(m.ScheduleRedial(PeerId(1)).has_value());
  EXPECT_FALSE(m.ShouldDial(PeerId(1)));
  // The same address, issued later, same incarnation: not known to be a
  // restart; the redial stands.
  ASSERT_EQ(m.Learn(Record(a_, 1, 1500, "10.0.0.1:1"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_FALSE(m.ShouldDial(PeerId(1)));
  // A fresh port: dial now, from the minimum backoff.
  ASSERT_EQ(m.Learn(Record(a_, 1, 2000, "10.0.0.1:2"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_TRUE(m.ShouldDial(PeerId(1)));
  EXPECT_EQ(m.backoff(PeerId(1)).ns, 100'000'000);
  // A later incarnation at the same address, while a redial waits: the same.
  m.DialStarted(PeerId(1));
  m.DialEnded(PeerId(1));
  ASSERT_TRUE(m.ScheduleRedial(PeerId(1)).has_value());
  EXPECT_FALSE(m.ShouldDial(PeerId(1)));
  ASSERT_EQ(m.Learn(PeerRecord::Make(a_, PeerId(1), "10.0.0.1:2", 2100, 1),
                    RecordSource::kGossip, kNow)
                .verdict,
            Membership::Verdict::kAccepted);
  EXPECT_TRUE(m.ShouldDial(PeerId(1)));
}

TEST_F(MembershipTest, ByeStopsDialsUntilANewerRecordOfTheDisconnectedPeer) {
  Membership m(Options(0), open_);
  ASSERT_EQ(m.Learn(Record(a_, 1, 1000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  m.Connected(PeerId(1));
  m.Joined(PeerId(1));
  m.SaidBye(PeerId(1));
  // A record while still connected does not clear the Bye.
  ASSERT_EQ(m.Learn(Record(a_, 1, 1001), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_TRUE(m.said_bye(PeerId(1)));
  m.Disconnected(PeerId(1));
  EXPECT_FALSE(m.ShouldDial(PeerId(1)));
  EXPECT_FALSE(m.ScheduleRedial(PeerId(1)).has_value());
  EXPECT_EQ(m.Learn(Record(a_, 1, 1001), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kStale);
  EXPECT_TRUE(m.said_bye(PeerId(1)));
  // It restarted: a newer record makes it dialable again.
  ASSERT_EQ(m.Learn(Record(a_, 1, 1002), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_FALSE(m.said_bye(PeerId(1)));
  EXPECT_TRUE(m.ShouldDial(PeerId(1)));
}

TEST_F(MembershipTest, BothEndsKeepTheConnectionTheLowerSlotDialed) {
  using Keep = Membership::Keep;
  Membership low(Options(1), open_);   // slot 1 facing slot 3
  Membership high(Options(3), open_);  // slot 3 facing slot 1
  // Slot 1 dialed the incoming connection, slot 3 the existing one.
  EXPECT_EQ(low.ResolveDuplicate(PeerId(3), Role::kAcceptor, Role::kDialer), Keep::kIncoming);
  EXPECT_EQ(high.ResolveDuplicate(PeerId(1), Role::kDialer, Role::kAcceptor), Keep::kIncoming);
  // Slot 1 dialed the existing one, slot 3 the incoming one.
  EXPECT_EQ(low.ResolveDuplicate(PeerId(3), Role::kDialer, Role::kAcceptor), Keep::kExisting);
  EXPECT_EQ(high.ResolveDuplicate(PeerId(1), Role::kAcceptor, Role::kDialer), Keep::kExisting);
  // Two of the same kind: the incoming one, at both ends.
  EXPECT_EQ(low.ResolveDuplicate(PeerId(3), Role::kDialer, Role::kDialer), Keep::kIncoming);
  EXPECT_EQ(high.ResolveDuplicate(PeerId(1), Role::kAcceptor, Role::kAcceptor), Keep::kIncoming);
}

TEST_F(MembershipTest, AllConnectedNeedsEverySlotButOurs) {
  Membership m(Options(1, 3), open_);
  EXPECT_FALSE(m.AllConnected());
  m.Connected(PeerId(0));
  EXPECT_FALSE(m.AllConnected());
  m.Connected(PeerId(2));
  EXPECT_TRUE(m.AllConnected());
  m.Disconnected(PeerId(0));
  EXPECT_FALSE(m.AllConnected());
  EXPECT_TRUE(Membership(Options(0, 1), open_).AllConnected());  // alone
}

TEST_F(MembershipTest, KnownRecordsEncodeOursFirstThenBySlot) {
  Membership m(Options(0), open_);
  const PeerRecord self = Record(Id(9), 0, 500, "127.0.0.1:1");
  ASSERT_EQ(m.Learn(Record(b_, 3, 1003, "127.0.0.1:3"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  ASSERT_EQ(m.Learn(Record(a_, 1, 1001, "127.0.0.1:2"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  const std::vector<uint8_t> bytes = m.EncodeKnown(self);
  ByteReader in(bytes);
  ASSERT_EQ(*in.ReadU32(), 3u);
  Result<PeerRecord> first = PeerRecord::Decode(in);
  Result<PeerRecord> second = PeerRecord::Decode(in);
  Result<PeerRecord> third = PeerRecord::Decode(in);
  ASSERT_TRUE(first.ok() && second.ok() && third.ok());
  EXPECT_TRUE(in.ExpectEnd().ok());
  EXPECT_EQ(first->slot, PeerId(0));
  EXPECT_EQ(first->issued_ms, 500u);
  EXPECT_EQ(second->slot, PeerId(1));
  EXPECT_EQ(second->key, a_.public_key());
  EXPECT_EQ(third->slot, PeerId(3));
  EXPECT_EQ(third->address, "127.0.0.1:3");
}

}  // namespace
}  // namespace murmur::net

namespace murmur::net {
namespace {

PeerRecord Incarnation(const Identity& id, uint32_t slot, uint64_t incarnation, uint64_t issued_ms,
                       const std::string& address) {
  return PeerRecord::Make(id, PeerId(slot), address, issued_ms, incarnation);
}

TEST_F(MembershipTest, RecordDatedBeyondTheSkewBoundIsRefused) {
  MembershipOptions options = Options(0);
  options.max_clock_skew = Duration::Seconds(60);
  Membership m(options, open_);
  // 60 s ahead is within the bound; 60.001 s is not, from any source.
  EXPECT_EQ(
      m.Learn(Record(a_, 1, kNow + 60'001, "10.0.0.6:6"), RecordSource::kHandshake, kNow).verdict,
      Membership::Verdict::kFuture);
  EXPECT_EQ(m.Learn(Record(a_, 1, kNow + 60'001), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kFuture);
  EXPECT_FALSE(m.record(PeerId(1)).has_value());
  EXPECT_EQ(m.Learn(Record(a_, 1, kNow + 60'000), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
}

TEST_F(MembershipTest, HandshakeRecordReplacesANewerDatedGossipedDecoy) {
  Membership m(Options(0), open_);
  // A relayed record of the key dated 50 s ahead, at a dead address.
  ASSERT_EQ(
      m.Learn(Record(a_, 1, kNow + 50'000, "10.6.6.6:1"), RecordSource::kGossip, kNow).verdict,
      Membership::Verdict::kAccepted);
  // The peer itself, in a live handshake, with an older date: it wins.
  m.Connected(PeerId(1));
  EXPECT_EQ(m.Learn(Record(a_, 1, kNow, "10.0.0.1:7000"), RecordSource::kHandshake, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_EQ(m.record(PeerId(1))->address, "10.0.0.1:7000");
  // The decoy relayed again does not win back the slot.
  EXPECT_EQ(
      m.Learn(Record(a_, 1, kNow + 50'000, "10.6.6.6:1"), RecordSource::kGossip, kNow).verdict,
      Membership::Verdict::kStale);
  EXPECT_EQ(m.record(PeerId(1))->address, "10.0.0.1:7000");
  // The same handshake record again changes nothing (and is not relayed).
  EXPECT_EQ(m.Learn(Record(a_, 1, kNow, "10.0.0.1:7000"), RecordSource::kHandshake, kNow).verdict,
            Membership::Verdict::kStale);
  // A peer with an incarnation counter is never displaced by a copy of
  // the same incarnation, connected or not.
  ASSERT_EQ(m.Learn(Incarnation(a_, 1, 5, kNow, "10.0.0.1:7000"), RecordSource::kHandshake, kNow)
                .verdict,
            Membership::Verdict::kAccepted);
  m.Disconnected(PeerId(1));
  EXPECT_EQ(m.Learn(Incarnation(a_, 1, 5, kNow + 50'000, "10.6.6.6:1"), RecordSource::kGossip,
                    kNow)
                .verdict,
            Membership::Verdict::kStale);
  EXPECT_EQ(m.record(PeerId(1))->address, "10.0.0.1:7000");
}

TEST_F(MembershipTest, WithoutCountersALaterRecordAfterADisconnectIsARestart) {
  Membership m(Options(0), open_);
  m.Connected(PeerId(1));
  ASSERT_EQ(m.Learn(Record(a_, 1, 1000, "10.0.0.1:1"), RecordSource::kHandshake, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_EQ(m.Learn(Record(a_, 1, 2000, "10.0.0.1:2"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kStale);  // still connected: the live session wins
  m.Disconnected(PeerId(1));
  EXPECT_EQ(m.Learn(Record(a_, 1, 2000, "10.0.0.1:2"), RecordSource::kGossip, kNow).verdict,
            Membership::Verdict::kAccepted);
  EXPECT_EQ(m.record(PeerId(1))->address, "10.0.0.1:2");
}

TEST_F(MembershipTest, IncarnationOrdersRecordsAcrossAClockThatWentBack) {
  Membership m(Options(0), open_);
  ASSERT_EQ(
      m.Learn(Incarnation(a_, 1, 3, 9'000, "10.0.0.1:1"), RecordSource::kHandshake, kNow).verdict,
      Membership::Verdict::kAccepted);
  // Restarted (incarnation 4) with a clock 5 s behind, at a new address,
  // and relayed to us: it replaces even the handshake's record.
  EXPECT_EQ(
      m.Learn(Incarnation(a_, 1, 4, 4'000, "10.0.0.1:2"), RecordSource::kGossip, kNow).verdict,
      Membership::Verdict::kAccepted);
  EXPECT_EQ(m.record(PeerId(1))->address, "10.0.0.1:2");
  // The previous incarnation, however late its date, does not come back.
  EXPECT_EQ(
      m.Learn(Incarnation(a_, 1, 3, 9'999, "10.0.0.1:1"), RecordSource::kGossip, kNow).verdict,
      Membership::Verdict::kStale);
  EXPECT_EQ(m.record(PeerId(1))->incarnation, 4u);
}

TEST(IncarnationCounter, IsPersistedAtomicallyAndReloaded) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("murmur_incarnation_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "peer.key.incarnation").string();
  EXPECT_EQ(*BumpIncarnation(path), 1u);  // absent: starts at 1
  EXPECT_EQ(*BumpIncarnation(path), 2u);  // a restart reloads and bumps
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "2");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  { std::ofstream(path) << "12x\n"; }
  EXPECT_EQ(BumpIncarnation(path).status().code(), StatusCode::kInvalidArgument);
  { std::ofstream(path) << "18446744073709551615\n"; }
  EXPECT_EQ(BumpIncarnation(path).status().code(), StatusCode::kInvalidArgument);
  { std::ofstream(path) << "41\n"; }
  EXPECT_EQ(*BumpIncarnation(path), 42u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace murmur::net
