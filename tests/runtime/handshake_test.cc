// The handshake and sealed session, in memory: what gets in, what is
// refused, and that sealed frames resist tampering and replay.
#include "murmur/runtime/handshake.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace murmur::net {
namespace {

Identity Id(uint8_t b) {
  std::array<uint8_t, 32> seed{};
  seed.fill(b);
  return Identity::FromSeed(seed);
}

// One frame, parsed in the connection phase its type belongs to.
Frame Parse(const std::vector<uint8_t>& wire) {
  const FrameType type = static_cast<FrameType>(wire.at(5));
  const bool first = type == FrameType::kHello || type == FrameType::kCookieReply;
  FrameParser parser(1 << 20, first                      ? FramePhase::kHello
                              : type == FrameType::kAuth ? FramePhase::kAuth
                                                         : FramePhase::kOpen);
  std::vector<Frame> frames;
  EXPECT_TRUE(parser.Feed(wire, frames).ok());
  EXPECT_EQ(frames.size(), 1u);
  return frames.empty() ? Frame{} : std::move(frames[0]);
}

struct Side {
  Identity identity;
  Allowlist allowlist;
  std::optional<NetworkKey> network_key;
  uint32_t slot;
  HandshakeConfig Config() const {
    return HandshakeConfig{.identity = &identity,
                           .network_key = network_key,
                           .allowlist = &allowlist,
                           .self_record = PeerRecord::Make(identity, PeerId(slot),
                                                           "127.0.0.1:" + std::to_string(9000 + slot),
                                                           1000 + slot),
                           .num_slots = 4};
  }
};

struct Outcome {
  Result<PeerRecord> dialer_saw = Status::Internal("not run");
  Result<PeerRecord> acceptor_saw = Status::Internal("not run");
};

// Runs both sides to completion; `a` dials `b`.
Outcome Connect(Handshake& a, Handshake& b) {
  Outcome o;
  EXPECT_TRUE(b.OnHello(Parse(a.HelloFrame())).ok());
  EXPECT_TRUE(a.OnHello(Parse(b.HelloFrame())).ok());
  Frame from_a = Parse(a.AuthFrame());
  Frame from_b = Parse(b.AuthFrame());
  o.acceptor_saw = b.OnAuth(from_a);
  o.dialer_saw = a.OnAuth(from_b);
  return o;
}

TEST(Handshake, PeersLearnEachOthersSignedRecords) {
  Side x{.identity = Id(1), .slot = 0};
  Side y{.identity = Id(2), .slot = 3};
  const auto xc = x.Config();
  const auto yc = y.Config();
  Handshake a(xc, Role::kDialer), b(yc, Role::kAcceptor);
  Outcome o = Connect(a, b);
  ASSERT_TRUE(o.dialer_saw.ok()) << o.dialer_saw.status().ToString();
  ASSERT_TRUE(o.acceptor_saw.ok()) << o.acceptor_saw.status().ToString();
  EXPECT_EQ(o.dialer_saw->slot, PeerId(3));
  EXPECT_EQ(o.dialer_saw->key, y.identity.public_key());
  EXPECT_EQ(o.dialer_saw->address, "127.0.0.1:9003");
  EXPECT_EQ(o.acceptor_saw->slot, PeerId(0));

  // The session: sealed both ways, then replay and tampering fail.
  SessionCipher ca = a.TakeCipher(), cb = b.TakeCipher();
  const std::vector<uint8_t> msg = {1, 2, 3, 4, 5};
  const auto wire = ca.Seal(FrameType::kData, msg);
  EXPECT_EQ(wire.size(), kFrameHeaderSize + msg.size() + kMacSize);
  Frame f = Parse(wire);
  ASSERT_TRUE(cb.Open(f).ok());
  EXPECT_EQ(f.payload, msg);
  Frame replay = Parse(wire);
  EXPECT_EQ(cb.Open(replay).code(), StatusCode::kCorrupt);  // counter moved on
  SessionCipher cb2 = cb;  // a copy still expecting frame 1
  auto next = ca.Seal(FrameType::kData, msg);
  next[kFrameHeaderSize] ^= 1;
  Frame tampered = Parse(next);
  EXPECT_EQ(cb2.Open(tampered).code(), StatusCode::kCorrupt);
  // The reverse direction has its own key and counter.
  Frame back = Parse(cb.Seal(FrameType::kHeartbeat, {}));
  EXPECT_TRUE(ca.Open(back).ok());
}

// Several streams per link (docs/runtime.md): each stream is its own
// session, so frames (and nonces) of one never open under another's keys.
TEST(Handshake, StreamsOfOneLinkAreSeparateSessionsThatAgreeOnTheCount) {
  Side x{.identity = Id(1), .slot = 0};
  Side y{.identity = Id(2), .slot = 3};
  std::vector<SessionCipher> dialer_ends, acceptor_ends;
  for (uint8_t stream : {uint8_t{1}, uint8_t{2}}) {
    HandshakeConfig xc = x.Config(), yc = y.Config();
    xc.streams = yc.streams = 3;
    xc.stream = stream;
    Handshake a(xc, Role::kDialer), b(yc, Role::kAcceptor);
    Outcome o = Connect(a, b);
    ASSERT_TRUE(o.dialer_saw.ok()) << o.dialer_saw.status().ToString();
    ASSERT_TRUE(o.acceptor_saw.ok()) << o.acceptor_saw.status().ToString();
    EXPECT_EQ(b.peer_stream(), stream);
    EXPECT_EQ(a.peer_stream(), 0);
    dialer_ends.push_back(a.TakeCipher());
    acceptor_ends.push_back(b.TakeCipher());
  }
  // Both streams' first frames use counter 1 (after the Auth), under
  // different keys: the bytes differ and neither opens on the other.
  const std::vector<uint8_t> msg = {9, 8, 7};
  const auto on1 = dialer_ends[0].Seal(FrameType::kData, msg);
  const auto on2 = dialer_ends[1].Seal(FrameType::kData, msg);
  EXPECT_NE(on1, on2);
  Frame crossed = Parse(on1);
  SessionCipher probe = acceptor_ends[1];  // a failed Open ends a session
  EXPECT_EQ(probe.Open(crossed).code(), StatusCode::kCorrupt);
  Frame right = Parse(on2);
  EXPECT_TRUE(acceptor_ends[1].Open(right).ok());

  HandshakeConfig xc = x.Config(), yc = y.Config();
  xc.streams = 2;
  yc.streams = 3;
  Handshake a(xc, Role::kDialer), b(yc, Role::kAcceptor);
  Outcome o = Connect(a, b);
  EXPECT_EQ(o.acceptor_saw.status().code(), StatusCode::kAborted);
  EXPECT_NE(o.acceptor_saw.status().message().find("--streams"), std::string::npos);
  EXPECT_EQ(o.dialer_saw.status().code(), StatusCode::kAborted);
}

// A further stream names its link's stream-0 session (wire version 6):
// both ends of a session compute the same id, another session another one,
// and the acceptor reads the id the dialer's signed Auth names.
TEST(Handshake, BothEndsAgreeOnTheSessionIdAndAFurtherStreamNamesItsLinks) {
  Side x{.identity = Id(1), .slot = 0};
  Side y{.identity = Id(2), .slot = 3};
  HandshakeConfig xc = x.Config(), yc = y.Config();
  xc.streams = yc.streams = 2;
  std::vector<SessionId> ids;
  for (int session = 0; session < 2; ++session) {
    Handshake a(xc, Role::kDialer), b(yc, Role::kAcceptor);
    Outcome o = Connect(a, b);
    ASSERT_TRUE(o.acceptor_saw.ok() && o.dialer_saw.ok());
    EXPECT_EQ(a.session_id(), b.session_id());
    EXPECT_EQ(b.peer_link_session(), SessionId{});  // stream 0 names none
    ids.push_back(a.session_id());
  }
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[0], SessionId{});

  HandshakeConfig stream1 = xc;
  stream1.stream = 1;
  stream1.link_session = ids[1];
  Handshake a(stream1, Role::kDialer), b(yc, Role::kAcceptor);
  Outcome o = Connect(a, b);
  ASSERT_TRUE(o.acceptor_saw.ok()) << o.acceptor_saw.status().ToString();
  EXPECT_EQ(b.peer_stream(), 1);
  EXPECT_EQ(b.peer_link_session(), ids[1]);
  EXPECT_NE(a.session_id(), ids[1]);  // a session of its own
}

TEST(Handshake, HelloUnderAnotherNetworkKeyFailsMac1BeforeAnyKeyExchange) {
  NetworkKey k1{}, k2{};
  k1.fill(7);
  k2.fill(8);
  Side x{.identity = Id(1), .network_key = k1, .slot = 0};
  Side y{.identity = Id(2), .network_key = k2, .slot = 1};
  const auto xc = x.Config();
  const auto yc = y.Config();
  Handshake a(xc, Role::kDialer), b(yc, Role::kAcceptor);
  const Status refused = b.OnHello(Parse(a.HelloFrame()));
  EXPECT_EQ(refused.code(), StatusCode::kAborted);
  EXPECT_NE(refused.message().find("mac1"), std::string::npos) << refused.message();
  // A stranger without any key is refused by a keyed network too, and a
  // keyed dialer by an open acceptor.
  Side z{.identity = Id(3), .slot = 2};
  const auto zc = z.Config();
  Handshake c(zc, Role::kDialer), d(xc, Role::kAcceptor);
  EXPECT_EQ(d.OnHello(Parse(c.HelloFrame())).code(), StatusCode::kAborted);
  Handshake e(xc, Role::kDialer), f(zc, Role::kAcceptor);
  EXPECT_EQ(f.OnHello(Parse(e.HelloFrame())).code(), StatusCode::kAborted);
}

TEST(Handshake, TamperedHelloKeyFailsMac1) {
  Side x{.identity = Id(1), .slot = 0};
  Side y{.identity = Id(2), .slot = 1};
  const auto xc = x.Config();
  const auto yc = y.Config();
  Handshake a(xc, Role::kDialer), b(yc, Role::kAcceptor);
  std::vector<uint8_t> hello = a.HelloFrame();
  ASSERT_EQ(hello.size(), kFrameHeaderSize + 64);
  hello[kFrameHeaderSize] ^= 1;
  EXPECT_EQ(b.OnHello(Parse(hello)).code(), StatusCode::kAborted);
}

TEST(Handshake, SameNetworkKeyIsAdmitted) {
  NetworkKey k{};
  k.fill(7);
  Side x{.identity = Id(1), .network_key = k, .slot = 0};
  Side y{.identity = Id(2), .network_key = k, .slot = 1};
  const auto xc = x.Config();
  const auto yc = y.Config();
  Handshake a(xc, Role::kDialer), b(yc, Role::kAcceptor);
  Outcome o = Connect(a, b);
  EXPECT_TRUE(o.acceptor_saw.ok()) << o.acceptor_saw.status().ToString();
  EXPECT_TRUE(o.dialer_saw.ok());
}

TEST(Handshake, AllowlistRefusesUnknownKeysAndWrongSlots) {
  Side x{.identity = Id(1), .slot = 0};
  x.allowlist.Add(Id(2).public_key(), PeerId(1));
  const auto xc = x.Config();
  {
    Side stranger{.identity = Id(9), .slot = 1};
    const auto sc = stranger.Config();
    Handshake a(sc, Role::kDialer), b(xc, Role::kAcceptor);
    Outcome o = Connect(a, b);
    EXPECT_EQ(o.acceptor_saw.status().code(), StatusCode::kAborted);
    EXPECT_NE(o.acceptor_saw.status().message().find("not in the allowlist"), std::string::npos);
  }
  {
    Side impostor{.identity = Id(2), .slot = 2};  // allowed key, wrong slot
    const auto ic = impostor.Config();
    Handshake a(ic, Role::kDialer), b(xc, Role::kAcceptor);
    EXPECT_NE(Connect(a, b).acceptor_saw.status().message().find("binds it to slot 1"),
              std::string::npos);
  }
  {
    Side friendly{.identity = Id(2), .slot = 1};
    const auto fc = friendly.Config();
    Handshake a(fc, Role::kDialer), b(xc, Role::kAcceptor);
    EXPECT_TRUE(Connect(a, b).acceptor_saw.ok());
  }
}

TEST(Handshake, RefusesOwnSlotAndOutOfRangeSlots) {
  Side x{.identity = Id(1), .slot = 0};
  Side twin{.identity = Id(2), .slot = 0};
  Side far{.identity = Id(3), .slot = 7};  // num_slots is 4
  const auto xc = x.Config();
  const auto tc = twin.Config();
  const auto fc = far.Config();
  Handshake a(tc, Role::kDialer), b(xc, Role::kAcceptor);
  EXPECT_NE(Connect(a, b).acceptor_saw.status().message().find("our own slot"), std::string::npos);
  Handshake c(fc, Role::kDialer), d(xc, Role::kAcceptor);
  EXPECT_NE(Connect(c, d).acceptor_saw.status().message().find("slots 0..3"), std::string::npos);
}

TEST(Handshake, AuthFromAnotherSessionIsRejected) {
  // A recorded Auth cannot be replayed into a new session: the signature
  // covers this session's ephemeral keys (and the MAC fails first).
  Side x{.identity = Id(1), .slot = 0};
  Side y{.identity = Id(2), .slot = 1};
  const auto xc = x.Config();
  const auto yc = y.Config();
  Handshake a1(yc, Role::kDialer), b1(xc, Role::kAcceptor);
  ASSERT_TRUE(b1.OnHello(Parse(a1.HelloFrame())).ok());
  ASSERT_TRUE(a1.OnHello(Parse(b1.HelloFrame())).ok());
  const auto recorded = a1.AuthFrame();
  Handshake b2(xc, Role::kAcceptor);
  Handshake a2(yc, Role::kDialer);
  ASSERT_TRUE(b2.OnHello(Parse(a2.HelloFrame())).ok());
  Frame f = Parse(recorded);
  EXPECT_FALSE(b2.OnAuth(f).ok());
}

TEST(PeerRecord, ForgedRecordFailsItsSignature) {
  PeerRecord r = PeerRecord::Make(Id(1), PeerId(2), "10.0.0.1:5000", 42);
  ByteWriter w;
  r.Encode(w);
  ByteReader ok_reader(w.bytes());
  Result<PeerRecord> back = PeerRecord::Decode(ok_reader);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->address, "10.0.0.1:5000");
  EXPECT_EQ(back->issued_ms, 42u);
  auto bytes = w.bytes();
  bytes[32] = 3;  // slot 2 -> 3
  ByteReader bad_reader(bytes);
  EXPECT_NE(PeerRecord::Decode(bad_reader).status().message().find("bad signature"),
            std::string::npos);
}

TEST(Identity, KeyFileIsCreatedPrivateAndReloads) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("murmur_key_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "sub" / "key").string();
  Result<Identity> first = Identity::LoadOrCreate(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<Identity> again = Identity::LoadOrCreate(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key(), first->public_key());
  ::chmod(path.c_str(), 0644);
  Result<Identity> exposed = Identity::LoadOrCreate(path);
  EXPECT_EQ(exposed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(exposed.status().message().find("chmod 600"), std::string::npos);
  ::chmod(path.c_str(), 0600);
  std::ofstream(path, std::ios::trunc) << "nothex\n";
  EXPECT_EQ(Identity::LoadOrCreate(path).status().code(), StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

TEST(Allowlist, ParsesAndRejectsMalformedLines) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("murmur_allow_test_" + std::to_string(::getpid()));
  Allowlist list;
  list.Add(Id(1).public_key(), PeerId(0));
  list.Add(Id(2).public_key(), PeerId(5));
  std::ofstream(path) << list.ToText();
  Result<Allowlist> back = Allowlist::Load(path.string());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Admit(Id(2).public_key(), PeerId(5)).ok());
  EXPECT_FALSE(back->Admit(Id(3).public_key(), PeerId(1)).ok());
  std::ofstream(path) << ToHex(Id(1).public_key()) << " 0\n" << ToHex(Id(2).public_key()) << " 0\n";
  EXPECT_NE(Allowlist::Load(path.string()).status().message().find("slot 0 given twice"),
            std::string::npos);
  std::ofstream(path) << "abc 1\n";
  EXPECT_EQ(Allowlist::Load(path.string()).status().code(), StatusCode::kInvalidArgument);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace murmur::net
