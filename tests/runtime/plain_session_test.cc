// Plain sessions (wire version 4): after the Auths, frames are authenticated
// but not encrypted. The payload travels as it is, and a modified, replayed
// or reordered frame still fails its tag; both ends must agree on the mode
// (docs/wire.md, "Plain sessions").
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "murmur/runtime/handshake.h"
#include "murmur/runtime/net_host.h"
#include "testing/counting_sink.h"

namespace murmur::net {
namespace {

Identity Id(uint8_t b) {
  std::array<uint8_t, 32> seed{};
  seed.fill(b);
  return Identity::FromSeed(seed);
}

Frame Parse(const std::vector<uint8_t>& wire, FramePhase phase) {
  FrameParser parser(1 << 20, phase);
  std::vector<Frame> frames;
  EXPECT_TRUE(parser.Feed(wire, frames).ok());
  EXPECT_EQ(frames.size(), 1u);
  return frames.empty() ? Frame{} : std::move(frames[0]);
}

struct Pair {
  Identity xi = Id(1), yi = Id(2);
  Allowlist allow;
  HandshakeConfig Config(const Identity& id, uint32_t slot, bool plain) const {
    return HandshakeConfig{.identity = &id,
                           .allowlist = &allow,
                           .self_record = PeerRecord::Make(id, PeerId(slot), "127.0.0.1:1", 7),
                           .num_slots = 2,
                           .plain = plain};
  }
};

struct Connected {
  Result<PeerRecord> dialer_saw = Status::Internal("not run");
  Result<PeerRecord> acceptor_saw = Status::Internal("not run");
};

Connected Connect(Handshake& a, Handshake& b) {
  Connected o;
  EXPECT_TRUE(b.OnHello(Parse(a.HelloFrame(), FramePhase::kHello)).ok());
  EXPECT_TRUE(a.OnHello(Parse(b.HelloFrame(), FramePhase::kHello)).ok());
  Frame from_a = Parse(a.AuthFrame(), FramePhase::kAuth);
  Frame from_b = Parse(b.AuthFrame(), FramePhase::kAuth);
  o.acceptor_saw = b.OnAuth(from_a);
  o.dialer_saw = a.OnAuth(from_b);
  return o;
}

TEST(PlainSession, PayloadTravelsInClearAndTamperingReplayAndReorderFail) {
  Pair p;
  const auto xc = p.Config(p.xi, 0, true), yc = p.Config(p.yi, 1, true);
  Handshake a(xc, Role::kDialer), b(yc, Role::kAcceptor);
  Connected o = Connect(a, b);
  ASSERT_TRUE(o.dialer_saw.ok()) << o.dialer_saw.status().ToString();
  ASSERT_TRUE(o.acceptor_saw.ok()) << o.acceptor_saw.status().ToString();
  SessionCipher ca = a.TakeCipher(), cb = b.TakeCipher();
  EXPECT_TRUE(ca.plain());
  EXPECT_TRUE(cb.plain());
  const std::vector<uint8_t> msg = {10, 20, 30, 40, 50, 60};
  const auto w0 = ca.Seal(FrameType::kData, msg);
  const auto w1 = ca.Seal(FrameType::kData, msg);
  ASSERT_EQ(w0.size(), kFrameHeaderSize + msg.size() + kMacSize);
  // Not encrypted: the payload bytes follow the header unchanged.
  EXPECT_TRUE(std::equal(msg.begin(), msg.end(), w0.begin() + kFrameHeaderSize));
  // Same payload, another counter: another tag.
  EXPECT_FALSE(std::equal(w0.end() - kMacSize, w0.end(), w1.end() - kMacSize));

  SessionCipher reordered = cb;  // expects frame 0, gets frame 1
  Frame f1 = Parse(w1, FramePhase::kOpen);
  EXPECT_EQ(reordered.Open(f1).code(), StatusCode::kCorrupt);
  for (size_t at : {size_t{5}, kFrameHeaderSize + 2, w0.size() - 1}) {  // type, payload, tag
    SessionCipher copy = cb;
    auto bad = w0;
    bad[at] ^= 1;
    FrameParser parser(1 << 20, FramePhase::kOpen);
    std::vector<Frame> frames;
    if (!parser.Feed(bad, frames).ok() || frames.empty()) continue;  // header refused
    EXPECT_EQ(copy.Open(frames[0]).code(), StatusCode::kCorrupt) << "byte " << at;
  }
  Frame f0 = Parse(w0, FramePhase::kOpen);
  ASSERT_TRUE(cb.Open(f0).ok());
  EXPECT_EQ(f0.payload, msg);
  SessionCipher replayed = cb;  // a failed frame ends a session: try on a copy
  Frame replay = Parse(w0, FramePhase::kOpen);
  EXPECT_EQ(replayed.Open(replay).code(), StatusCode::kCorrupt);
  Frame next = Parse(w1, FramePhase::kOpen);
  ASSERT_TRUE(cb.Open(next).ok());
  EXPECT_EQ(next.payload, msg);
  // The other direction, and an empty control frame.
  Frame back = Parse(cb.Seal(FrameType::kHeartbeat, {}), FramePhase::kOpen);
  EXPECT_TRUE(ca.Open(back).ok());
}

TEST(PlainSession, SealInPlaceMatchesSealAndEncryptsUnlessPlain) {
  for (bool plain : {false, true}) {
    SessionCipher one({1}, {2}), two({1}, {2});
    one.SetPlain(plain);
    two.SetPlain(plain);
    std::vector<uint8_t> msg(1000);
    for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<uint8_t>(i * 7);
    const auto whole = one.Seal(FrameType::kData, msg);
    std::vector<uint8_t> in_place = msg;
    std::array<uint8_t, kFrameHeaderSize> head{};
    std::array<uint8_t, kMacSize> tag{};
    two.SealInPlace(FrameType::kData, in_place, head, tag);
    std::vector<uint8_t> joined(head.begin(), head.end());
    joined.insert(joined.end(), in_place.begin(), in_place.end());
    joined.insert(joined.end(), tag.begin(), tag.end());
    EXPECT_EQ(joined, whole) << "plain " << plain;
    EXPECT_EQ(in_place == msg, plain);
  }
}

TEST(PlainSession, EncryptedAndPlainPeersRefuseEachOther) {
  Pair p;
  for (bool dialer_plain : {false, true}) {
    const auto xc = p.Config(p.xi, 0, dialer_plain), yc = p.Config(p.yi, 1, !dialer_plain);
    Handshake a(xc, Role::kDialer), b(yc, Role::kAcceptor);
    Connected o = Connect(a, b);
    ASSERT_FALSE(o.acceptor_saw.ok());
    ASSERT_FALSE(o.dialer_saw.ok());
    EXPECT_EQ(o.acceptor_saw.status().code(), StatusCode::kAborted);
    EXPECT_NE(o.acceptor_saw.status().message().find("--plain"), std::string::npos)
        << o.acceptor_saw.status().message();
    EXPECT_NE(o.dialer_saw.status().message().find(dialer_plain ? "wants encrypted" : "wants plain"),
              std::string::npos)
        << o.dialer_saw.status().message();
  }
}

class QuietNode final : public Node {
 public:
  void OnStart(Host&) override {}
  void OnMessage(Host&, PeerId, std::span<const uint8_t>) override {}
  void OnTimer(Host&, TimerId) override {}
  void OnComputeDone(Host&, uint64_t) override {}
};

// Over real sockets: a plain peer and an encrypted one never open a
// session; the acceptor counts the refusal.
TEST(PlainSession, NetHostsThatDisagreeNeverConnect) {
  NetworkKey psk{};
  psk.fill(5);
  testing::CountingSink sink0, sink1;
  NetOptions o0;
  o0.self = PeerId(0);
  o0.num_slots = 2;
  o0.backoff_min = Duration::Seconds(0.02);
  auto host0 = NetHost::Create(o0, NetSecurity{.identity = Identity::Generate(),
                                               .network_key = psk, .plain = true}, sink0);
  ASSERT_TRUE(host0.ok());
  NetOptions o1 = o0;
  o1.self = PeerId(1);
  o1.bootstrap = {(*host0)->listen_address()};
  auto host1 = NetHost::Create(o1, NetSecurity{.identity = Identity::Generate(),
                                               .network_key = psk}, sink1);
  ASSERT_TRUE(host1.ok());
  QuietNode n0, n1;
  std::thread loop0([&] { (void)(*host0)->Run(n0, nullptr); });
  std::thread loop1([&] { (void)(*host1)->Run(n1, nullptr); });
  const bool refused = sink0.WaitFor("net.rejected.not_admitted", 2);
  (*host1)->Shutdown();
  (*host0)->Shutdown();
  loop1.join();
  loop0.join();
  EXPECT_TRUE(refused);
  EXPECT_EQ((*host0)->stats().handshakes, 0u);
  EXPECT_EQ((*host1)->stats().handshakes, 0u);
}

}  // namespace
}  // namespace murmur::net
