// Cookies under load (cookie.h, handshake.h): the minter's rotation and
// address binding, and the Hello / CookieReply / Hello-with-mac2 exchange
// in memory, including forged, expired and other-address cookies.
#include "murmur/runtime/cookie.h"

#include <gtest/gtest.h>

#include "murmur/runtime/admission.h"
#include "murmur/runtime/handshake.h"

namespace murmur::net {
namespace {

SimTime At(double seconds) { return SimTime{} + Duration::Seconds(seconds); }

TEST(CookieMinter, BindsTheSourceAndLivesUnderTwoRotations) {
  CookieMinter minter(Duration::Seconds(120));
  const Cookie c = minter.Make("10.0.0.1:4000", At(0));
  EXPECT_EQ(minter.Make("10.0.0.1:4000", At(119)), c);
  EXPECT_NE(minter.Make("10.0.0.1:4001", At(1)), c);  // another port
  EXPECT_NE(minter.Make("10.0.0.2:4000", At(1)), c);  // another address
  // Epoch 1: c is the previous secret's, still accepted, no longer handed out.
  const std::vector<Cookie> next = minter.Accepted("10.0.0.1:4000", At(120));
  ASSERT_EQ(next.size(), 2u);
  EXPECT_NE(next[0], c);
  EXPECT_EQ(next[1], c);
  EXPECT_EQ(minter.rotations(), 2u);
  // Epoch 2: c expired (made in epoch 0); next[0] is now the previous one.
  const std::vector<Cookie> later = minter.Accepted("10.0.0.1:4000", At(240));
  ASSERT_EQ(later.size(), 2u);
  EXPECT_EQ(later[1], next[0]);
  EXPECT_NE(later[0], c);
  EXPECT_NE(later[1], c);
  // A jump of two epochs retires both secrets at once.
  const std::vector<Cookie> much_later = minter.Accepted("10.0.0.1:4000", At(600));
  ASSERT_EQ(much_later.size(), 1u);
  EXPECT_NE(much_later[0], later[0]);
}

TEST(CookieMinter, SecretsDifferBetweenMinters) {
  CookieMinter a, b;
  EXPECT_NE(a.Make("10.0.0.1:4000", At(0)), b.Make("10.0.0.1:4000", At(0)));
}

TEST(AdmissionControl, UnderLoadAboveTheCookieThresholdOrHalfTheBurst) {
  AdmissionLimits limits;
  limits.cookie_above = 2;
  limits.handshake_burst = 8;
  limits.handshake_interval = Duration::Seconds(1);
  AdmissionControl admission(limits);
  ASSERT_EQ(admission.Admit("a", At(0)), AdmissionControl::Verdict::kAdmit);
  ASSERT_EQ(admission.Admit("b", At(0)), AdmissionControl::Verdict::kAdmit);
  EXPECT_FALSE(admission.UnderLoad("a", At(0)));  // 2 in handshake: not above 2
  ASSERT_EQ(admission.Admit("c", At(0)), AdmissionControl::Verdict::kAdmit);
  EXPECT_TRUE(admission.UnderLoad("a", At(0)));  // 3 > 2
  admission.HandshakeEnded("b", At(0));
  admission.HandshakeEnded("c", At(0));
  EXPECT_FALSE(admission.UnderLoad("a", At(0)));
  // "a" used 1 of its burst of 8 (allowance 7 s, half 3.5 s): tat 1 s
  // ahead. Two more in the same instant: 3 s ahead, not over half.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(admission.Admit("a", At(0)), AdmissionControl::Verdict::kAdmit);
    admission.HandshakeEnded("a", At(0));
  }
  EXPECT_FALSE(admission.UnderLoad("a", At(0)));
  ASSERT_EQ(admission.Admit("a", At(0)), AdmissionControl::Verdict::kAdmit);
  EXPECT_TRUE(admission.UnderLoad("a", At(0)));    // 4 s ahead
  EXPECT_FALSE(admission.UnderLoad("a", At(1)));   // 3 s ahead: refilled enough
  EXPECT_FALSE(admission.UnderLoad("never-seen", At(0.5)));
}

TEST(AdmissionControl, CookieThresholdZeroMeansAlways) {
  AdmissionLimits limits;
  limits.cookie_above = 0;
  AdmissionControl admission(limits);
  ASSERT_EQ(admission.Admit("a", At(0)), AdmissionControl::Verdict::kAdmit);
  EXPECT_TRUE(admission.UnderLoad("a", At(0)));
}

Identity Id(uint8_t b) {
  std::array<uint8_t, 32> seed{};
  seed.fill(b);
  return Identity::FromSeed(seed);
}

Frame Parse(const std::vector<uint8_t>& wire) {
  FrameParser parser(1 << 20, FramePhase::kHello);
  std::vector<Frame> frames;
  EXPECT_TRUE(parser.Feed(wire, frames).ok());
  EXPECT_EQ(frames.size(), 1u);
  return frames.empty() ? Frame{} : std::move(frames[0]);
}

// A dialer and an acceptor on one network key, the acceptor minting
// cookies for the dialer's address "10.0.0.1:4000".
class CookieExchange : public ::testing::Test {
 protected:
  CookieExchange() {
    key_.fill(9);
    dialer_config_ = Config(dialer_id_, 1);
    acceptor_config_ = Config(acceptor_id_, 0);
  }
  HandshakeConfig Config(const Identity& id, uint32_t slot) const {
    return HandshakeConfig{
        .identity = &id,
        .network_key = key_,
        .allowlist = &allowlist_,
        .self_record = PeerRecord::Make(id, PeerId(slot), "127.0.0.1:900" + std::to_string(slot), 1),
        .num_slots = 4};
  }

  NetworkKey key_{};
  Identity dialer_id_ = Id(1);
  Identity acceptor_id_ = Id(2);
  Allowlist allowlist_;
  HandshakeConfig dialer_config_;
  HandshakeConfig acceptor_config_;
  CookieMinter minter_;
  const std::string source_ = "10.0.0.1:4000";
};

TEST_F(CookieExchange, HelloWithoutCookieGetsOneAndTheRepeatedHelloPasses) {
  Handshake dialer(dialer_config_, Role::kDialer);
  Handshake acceptor(acceptor_config_, Role::kAcceptor);
  const Frame first = Parse(dialer.HelloFrame());
  ASSERT_TRUE(acceptor.CheckMac1(first).ok());
  const Cookie cookie = minter_.Make(source_, At(1));
  EXPECT_FALSE(acceptor.HasMac2(first, cookie));  // mac2 is zero without a cookie
  const std::vector<uint8_t> reply = acceptor.CookieReplyFrame(first, cookie);
  ASSERT_EQ(reply.size(), kFrameHeaderSize + kCookieReplyPayload);
  ASSERT_TRUE(dialer.OnCookieReply(Parse(reply)).ok());
  const Frame second = Parse(dialer.HelloFrame());
  EXPECT_TRUE(acceptor.CheckMac1(second).ok());
  // Checked against what the minter recomputes: the acceptor kept nothing.
  bool passes = false;
  for (const Cookie& c : minter_.Accepted(source_, At(2))) passes |= acceptor.HasMac2(second, c);
  EXPECT_TRUE(passes);
  // The same key, so the rest of the handshake is the usual one.
  ASSERT_TRUE(acceptor.OnHello(second).ok());
  ASSERT_TRUE(dialer.OnHello(Parse(acceptor.HelloFrame())).ok());
  std::vector<Frame> frames;
  FrameParser to_acceptor(1 << 20, FramePhase::kAuth), to_dialer(1 << 20, FramePhase::kAuth);
  ASSERT_TRUE(to_acceptor.Feed(dialer.AuthFrame(), frames).ok());
  ASSERT_TRUE(to_dialer.Feed(acceptor.AuthFrame(), frames).ok());
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(acceptor.OnAuth(frames[0]).ok());
  EXPECT_TRUE(dialer.OnAuth(frames[1]).ok());
}

TEST_F(CookieExchange, ForgedExpiredAndOtherAddressCookiesFailMac2) {
  Handshake dialer(dialer_config_, Role::kDialer);
  Handshake acceptor(acceptor_config_, Role::kAcceptor);
  const Frame hello = Parse(dialer.HelloFrame());
  const Cookie ours = minter_.Make(source_, At(0));
  // Forged: the dialer makes up a cookie (a reply sealed by someone
  // without the network key does not even open, below).
  Handshake forger(dialer_config_, Role::kDialer);
  Handshake other_acceptor(acceptor_config_, Role::kAcceptor);
  Cookie made_up{};
  made_up.fill(0x42);
  ASSERT_TRUE(forger.OnCookieReply(Parse(other_acceptor.CookieReplyFrame(
                                       Parse(forger.HelloFrame()), made_up)))
                  .ok());
  const Frame forged = Parse(forger.HelloFrame());
  for (const Cookie& c : minter_.Accepted(source_, At(1))) EXPECT_FALSE(acceptor.HasMac2(forged, c));
  // Another address's cookie, legitimately obtained there.
  ASSERT_TRUE(dialer.OnCookieReply(
                        Parse(acceptor.CookieReplyFrame(hello, minter_.Make("10.0.0.1:4001", At(1)))))
                  .ok());
  const Frame moved = Parse(dialer.HelloFrame());
  for (const Cookie& c : minter_.Accepted(source_, At(1))) EXPECT_FALSE(acceptor.HasMac2(moved, c));
  // Expired: a cookie from epoch 0 sent in epoch 2.
  Handshake late(dialer_config_, Role::kDialer);
  const Frame late_hello = Parse(late.HelloFrame());
  ASSERT_TRUE(late.OnCookieReply(Parse(acceptor.CookieReplyFrame(late_hello, ours))).ok());
  const Frame stale = Parse(late.HelloFrame());
  bool in_time = false;
  for (const Cookie& c : minter_.Accepted(source_, At(119))) in_time |= acceptor.HasMac2(stale, c);
  EXPECT_TRUE(in_time);
  for (const Cookie& c : minter_.Accepted(source_, At(240))) EXPECT_FALSE(acceptor.HasMac2(stale, c));
}

TEST_F(CookieExchange, ReplyOpensOnlyForItsHelloAndNetworkKey) {
  Handshake dialer(dialer_config_, Role::kDialer);
  Handshake someone_else(dialer_config_, Role::kDialer);
  Handshake acceptor(acceptor_config_, Role::kAcceptor);
  const Cookie cookie = minter_.Make(source_, At(0));
  // A reply to another Hello (another ephemeral key, so another mac1).
  const std::vector<uint8_t> theirs =
      acceptor.CookieReplyFrame(Parse(someone_else.HelloFrame()), cookie);
  EXPECT_EQ(dialer.OnCookieReply(Parse(theirs)).code(), StatusCode::kCorrupt);
  // Tampered.
  std::vector<uint8_t> tampered = acceptor.CookieReplyFrame(Parse(dialer.HelloFrame()), cookie);
  tampered.back() ^= 1;
  EXPECT_EQ(dialer.OnCookieReply(Parse(tampered)).code(), StatusCode::kCorrupt);
  // Under another network key.
  NetworkKey other{};
  other.fill(10);
  HandshakeConfig stranger_config = acceptor_config_;
  stranger_config.network_key = other;
  Handshake stranger(stranger_config, Role::kAcceptor);
  EXPECT_EQ(dialer.OnCookieReply(Parse(stranger.CookieReplyFrame(Parse(dialer.HelloFrame()), cookie)))
                .code(),
            StatusCode::kCorrupt);
  // A failed reply leaves the Hello without mac2.
  for (const Cookie& c : minter_.Accepted(source_, At(0))) {
    EXPECT_FALSE(acceptor.HasMac2(Parse(dialer.HelloFrame()), c));
  }
  EXPECT_TRUE(dialer.OnCookieReply(Parse(acceptor.CookieReplyFrame(Parse(dialer.HelloFrame()), cookie))).ok());
  EXPECT_TRUE(acceptor.HasMac2(Parse(dialer.HelloFrame()), cookie));
}

}  // namespace
}  // namespace murmur::net
