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
  AdmissionControl admission(
      {.max_unauthenticated = 10, .max_unauthenticated_per_address = 3, .handshake_burst = 100});
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
  AdmissionControl admission(
      {.handshake_burst = 16, .handshake_interval = Duration::Seconds(0.05)});
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

TEST(AdmissionControl, VerdictNamesAreCounterSuffixes) {
  EXPECT_EQ(AdmissionControl::VerdictName(Verdict::kTooManyFromAddress), "too_many_from_address");
  EXPECT_EQ(AdmissionControl::VerdictName(Verdict::kRateLimited), "handshake_rate");
}

}  // namespace
}  // namespace murmur::net
