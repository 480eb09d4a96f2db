// AdmissionControl with a hand-driven clock: exact verdicts for the
// per-address and total limits, the token bucket, and address forgetting.
#include "murmur/runtime/admission.h"

#include <gtest/gtest.h>

#include <string>

namespace murmur::net {
namespace {

using Verdict = AdmissionControl::Verdict;

SimTime At(double seconds) { return SimTime{0} + Duration::Seconds(seconds); }

TEST(AdmissionControl, OneAddressCannotTakeEveryHandshakeSlot) {
  AdmissionControl admission({.max_unauthenticated = 10,
                              .max_unauthenticated_per_address = 3,
                              .handshake_burst = 100,
                              .ban_after_refusals = 0});  // the limits alone
  for (int i = 0; i < 3; ++i) EXPECT_EQ(admission.Admit("10.0.0.9", At(0)), Verdict::kAdmit);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(admission.Admit("10.0.0.9", At(0)), Verdict::kTooManyFromAddress);
  }
  EXPECT_EQ(admission.in_handshake("10.0.0.9"), 3u);
  // The legitimate peers on other addresses still get in.
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(admission.Admit("10.0.1." + std::to_string(i), At(0)), Verdict::kAdmit);
  }
  EXPECT_EQ(admission.in_handshake(), 10u);
  EXPECT_EQ(admission.Admit("10.0.2.1", At(0)), Verdict::kTooManyHandshakes);
  admission.HandshakeEnded("10.0.0.9", At(0));
  EXPECT_EQ(admission.in_handshake("10.0.0.9"), 2u);
  EXPECT_EQ(admission.Admit("10.0.2.1", At(0)), Verdict::kAdmit);
}

TEST(AdmissionControl, BucketAdmitsTheBurstThenOnePerInterval) {
  AdmissionControl admission({.max_unauthenticated_per_address = 100,
                              .handshake_burst = 4,
                              .handshake_interval = Duration::Seconds(1)});
  const std::string a = "127.0.0.2";
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(admission.Admit(a, At(0)), Verdict::kAdmit) << i;
    admission.HandshakeEnded(a, At(0));
  }
  EXPECT_EQ(admission.Admit(a, At(0)), Verdict::kRateLimited);
  EXPECT_EQ(admission.Admit(a, At(0.999)), Verdict::kRateLimited);
  EXPECT_EQ(admission.Admit(a, At(1.0)), Verdict::kAdmit);
  EXPECT_EQ(admission.Admit(a, At(1.5)), Verdict::kRateLimited);
  EXPECT_EQ(admission.Admit(a, At(2.0)), Verdict::kAdmit);
  // Quiet for the burst's length refills it whole: 4 more, not 5.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(admission.Admit(a, At(10)), Verdict::kAdmit) << i;
  EXPECT_EQ(admission.Admit(a, At(10)), Verdict::kRateLimited);
  // Other addresses have their own buckets.
  EXPECT_EQ(admission.Admit("127.0.0.1", At(10)), Verdict::kAdmit);
}

TEST(AdmissionControl, ReconnectLoopGetsBoundedHandshakes) {
  // 1,000 connects in one second from one address, each closed at once:
  // burst + one per interval get a handshake.
  AdmissionControl admission({.handshake_burst = 16,
                              .handshake_interval = Duration::Seconds(0.05),
                              .ban_after_refusals = 0});  // the bucket alone
  int admitted = 0;
  for (int i = 0; i < 1000; ++i) {
    const SimTime now = At(i / 1000.0);
    if (admission.Admit("127.0.0.2", now) == Verdict::kAdmit) {
      ++admitted;
      admission.HandshakeEnded("127.0.0.2", now);
    }
  }
  // t in [0, 0.999]: 16 at once, then one at each 0.05 s step from 0.05
  // to 0.95 (19 more): the bucket's arrival time stays ahead of now.
  EXPECT_EQ(admitted, 16 + 19);
}

TEST(AdmissionControl, IdleAddressesAreForgottenAndTheMapIsBounded) {
  AdmissionControl admission({.max_unauthenticated = 1000,
                              .handshake_burst = 2,
                              .handshake_interval = Duration::Seconds(1),
                              .max_tracked_addresses = 3});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(admission.Admit("10.0.0." + std::to_string(i), At(0)), Verdict::kAdmit);
  }
  EXPECT_EQ(admission.Admit("10.0.0.3", At(0)), Verdict::kTooManyAddresses);
  admission.HandshakeEnded("10.0.0.0", At(0));
  // Its bucket is not full yet (one token spent until t = 1).
  EXPECT_EQ(admission.tracked_addresses(), 3u);
  EXPECT_EQ(admission.Admit("10.0.0.3", At(0.5)), Verdict::kTooManyAddresses);
  EXPECT_EQ(admission.Admit("10.0.0.3", At(1.0)), Verdict::kAdmit);
  EXPECT_EQ(admission.tracked_addresses(), 3u);
  // A handshake ending on a refilled bucket forgets the address at once.
  admission.HandshakeEnded("10.0.0.1", At(5));
  EXPECT_EQ(admission.tracked_addresses(), 2u);
  EXPECT_EQ(admission.in_handshake(), 2u);
}

TEST(AdmissionControl, AnAddressRefusedTooOftenIsBannedUntilTheBanEnds) {
  AdmissionControl admission({.max_unauthenticated_per_address = 1,
                              .handshake_burst = 100,
                              .ban_after_refusals = 10,
                              .ban_window = Duration::Seconds(1),
                              .ban_duration = Duration::Seconds(5)});
  const std::string a = "127.0.0.2";
  EXPECT_EQ(admission.Admit(a, At(0)), Verdict::kAdmit);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(admission.Admit(a, At(0.5)), Verdict::kTooManyFromAddress);
  EXPECT_FALSE(admission.TakeBansChanged());
  EXPECT_TRUE(admission.banned().empty());
  // The 10th refusal within the window bans it: refused outright from now.
  EXPECT_EQ(admission.Admit(a, At(0.5)), Verdict::kTooManyFromAddress);
  EXPECT_TRUE(admission.TakeBansChanged());
  EXPECT_FALSE(admission.TakeBansChanged());
  ASSERT_EQ(admission.banned().size(), 1u);
  EXPECT_EQ(admission.banned().at(a), At(5.5));
  EXPECT_EQ(admission.Admit(a, At(0.6)), Verdict::kBanned);
  // Even once its handshake slot is free.
  admission.HandshakeEnded(a, At(1));
  EXPECT_EQ(admission.Admit(a, At(1)), Verdict::kBanned);
  // Others are not affected.
  EXPECT_EQ(admission.Admit("127.0.0.1", At(1)), Verdict::kAdmit);
  EXPECT_FALSE(admission.ExpireBans(At(5.499)));
  EXPECT_FALSE(admission.TakeBansChanged());
  EXPECT_EQ(admission.Admit(a, At(5.499)), Verdict::kBanned);
  EXPECT_TRUE(admission.ExpireBans(At(5.5)));
  EXPECT_TRUE(admission.TakeBansChanged());
  EXPECT_TRUE(admission.banned().empty());
  // Released: a legitimate peer behind that address gets in again.
  EXPECT_EQ(admission.Admit(a, At(5.5)), Verdict::kAdmit);
}

TEST(AdmissionControl, ABanEndsAtItsTimeEvenWithoutExpireBans) {
  AdmissionControl admission({.max_unauthenticated_per_address = 1,
                              .ban_after_refusals = 2,
                              .ban_duration = Duration::Seconds(5)});
  const std::string a = "10.0.0.9";
  EXPECT_EQ(admission.Admit(a, At(0)), Verdict::kAdmit);
  admission.Admit(a, At(0));
  admission.Admit(a, At(0));
  ASSERT_TRUE(admission.TakeBansChanged());
  admission.HandshakeEnded(a, At(0));
  EXPECT_EQ(admission.Admit(a, At(4.9)), Verdict::kBanned);
  EXPECT_EQ(admission.Admit(a, At(5)), Verdict::kAdmit);
  EXPECT_TRUE(admission.TakeBansChanged()) << "lifting a ban must rebuild the kernel filter";
}

TEST(AdmissionControl, RefusalsSpreadOverWindowsNeverBan) {
  // A peer that is refused now and then (9 a second, under the 10 that
  // ban) over a long time is never banned.
  AdmissionControl admission({.max_unauthenticated_per_address = 1,
                              .handshake_burst = 100,
                              .ban_after_refusals = 10,
                              .ban_window = Duration::Seconds(1)});
  const std::string a = "10.0.0.9";
  EXPECT_EQ(admission.Admit(a, At(0)), Verdict::kAdmit);
  for (int second = 0; second < 100; ++second) {
    for (int i = 0; i < 9; ++i) {
      EXPECT_EQ(admission.Admit(a, At(second * 1.001 + i * 0.1)), Verdict::kTooManyFromAddress);
    }
  }
  EXPECT_TRUE(admission.banned().empty());
  EXPECT_FALSE(admission.TakeBansChanged());
}

TEST(AdmissionControl, RateLimitRefusalsBanToo) {
  AdmissionControl admission({.max_unauthenticated_per_address = 100,
                              .handshake_burst = 2,
                              .handshake_interval = Duration::Seconds(10),
                              .ban_after_refusals = 5});
  const std::string a = "10.0.0.9";
  int refused = 0;
  while (admission.banned().empty() && refused < 100) {
    if (admission.Admit(a, At(0)) == Verdict::kRateLimited) ++refused;
  }
  EXPECT_EQ(refused, 5);
}

TEST(AdmissionControl, TheBanListIsBoundedAndBansCanBeOff) {
  AdmissionControl bounded({.max_unauthenticated_per_address = 1,
                            .ban_after_refusals = 3,
                            .max_banned = 2});
  for (int host = 0; host < 3; ++host) {
    const std::string a = "10.0.0." + std::to_string(host);
    for (int i = 0; i < 10; ++i) bounded.Admit(a, At(0));
  }
  EXPECT_EQ(bounded.banned().size(), 2u);
  EXPECT_TRUE(bounded.banned().contains("10.0.0.0"));
  EXPECT_TRUE(bounded.banned().contains("10.0.0.1"));
  // The third is refused by its limits, one connection at a time, as before.
  EXPECT_EQ(bounded.Admit("10.0.0.2", At(0)), Verdict::kTooManyFromAddress);

  AdmissionControl off({.max_unauthenticated_per_address = 1, .ban_after_refusals = 0});
  for (int i = 0; i < 10000; ++i) off.Admit("10.0.0.9", At(0));
  EXPECT_TRUE(off.banned().empty());
  EXPECT_EQ(off.Admit("10.0.0.9", At(0)), Verdict::kTooManyFromAddress);
}

TEST(AdmissionControl, AnAddressWithAnAuthenticatedPeerIsNeverBanned) {
  // One host's peers all dial from 127.0.0.1: their refused startup dials
  // must not lock the others out once one of them is in.
  AdmissionControl admission({.max_unauthenticated_per_address = 1,
                              .handshake_burst = 100,
                              .ban_after_refusals = 3});
  const std::string a = "127.0.0.1";
  EXPECT_EQ(admission.Admit(a, At(0)), Verdict::kAdmit);
  admission.HandshakeEnded(a, At(0));
  admission.PeerAuthenticated(a);
  admission.PeerAuthenticated(a);
  EXPECT_EQ(admission.Admit(a, At(0)), Verdict::kAdmit);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(admission.Admit(a, At(0)), Verdict::kTooManyFromAddress);
  EXPECT_TRUE(admission.banned().empty());
  admission.PeerClosed(a);
  for (int i = 0; i < 100; ++i) admission.Admit(a, At(0));
  EXPECT_TRUE(admission.banned().empty()) << "one peer connection is still open";
  // Its last peer connection closed: refusals count toward a ban again.
  admission.PeerClosed(a);
  for (int i = 0; i < 3; ++i) admission.Admit(a, At(0));
  EXPECT_TRUE(admission.banned().contains(a));
}

TEST(AdmissionControl, VerdictNamesAreCounterSuffixes) {
  EXPECT_EQ(AdmissionControl::VerdictName(Verdict::kTooManyFromAddress), "too_many_from_address");
  EXPECT_EQ(AdmissionControl::VerdictName(Verdict::kRateLimited), "handshake_rate");
  EXPECT_EQ(AdmissionControl::VerdictName(Verdict::kBanned), "banned");
}

}  // namespace
}  // namespace murmur::net
