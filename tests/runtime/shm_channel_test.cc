// ShmChannel (src/runtime/shm_channel.h): the byte rings of the same-host
// data path, both ends in this process, and a hostile peer played by a
// region made by hand (a memfd with just the two seals we require, which
// its maker can still write).
#include "runtime/shm_channel.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <numeric>
#include <vector>

namespace murmur::net {
namespace {

constexpr size_t kRing = kMinShmRingBytes;  // 64 KiB

struct Pair {
  ShmChannel a;
  ShmChannel b;
};

Pair Connected(size_t ring_a = kRing, size_t ring_b = kRing) {
  Result<ShmChannel> a = ShmChannel::Create(ring_a);
  Result<ShmChannel> b = ShmChannel::Create(ring_b);
  EXPECT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->AttachPeer(UniqueFd(::dup(b->region_fd()))).ok());
  EXPECT_TRUE(b->AttachPeer(UniqueFd(::dup(a->region_fd()))).ok());
  return Pair{std::move(a).value(), std::move(b).value()};
}

// A hostile peer's region: sealed as required, mapped writable by its
// maker, attached to `a`. counters[0]: bytes it wrote; counters[8] (offset
// 64): bytes it read of a's ring.
struct HostilePeer {
  uint64_t* counters = nullptr;
};

HostilePeer AttachHostile(ShmChannel& a) {
  UniqueFd fd(::memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  EXPECT_EQ(::ftruncate(fd.get(), kShmHeaderBytes + kRing), 0);
  void* map = ::mmap(nullptr, kShmHeaderBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  EXPECT_NE(map, MAP_FAILED);
  EXPECT_EQ(::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  EXPECT_TRUE(a.AttachPeer(std::move(fd)).ok());
  return HostilePeer{static_cast<uint64_t*>(map)};
}

TEST(ShmChannel, CarriesBytesInOrderAcrossManyWrapsOfTheRing) {
  Pair p = Connected();
  // 1 MiB through a 64 KiB ring in pieces of a prime length, so writes and
  // reads straddle the wrap at every offset.
  std::vector<uint8_t> sent(size_t{1} << 20);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<uint8_t>(i * 131 + (i >> 12));
  std::vector<uint8_t> got;
  std::vector<uint8_t> buf(7919);
  size_t off = 0;
  while (got.size() < sent.size()) {
    const size_t want = std::min<size_t>(12347, sent.size() - off);
    Result<size_t> w = p.a.Write(std::span(sent).subspan(off, want));
    ASSERT_TRUE(w.ok());
    off += *w;
    Result<size_t> r = p.b.Read(buf);
    ASSERT_TRUE(r.ok());
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*r));
  }
  EXPECT_TRUE(got == sent);
  // The other way round.
  const std::vector<uint8_t> back = {9, 8, 7};
  ASSERT_EQ(*p.b.Write(back), 3u);
  std::vector<uint8_t> out(10);
  ASSERT_EQ(*p.a.Read(out), 3u);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 3), back);
}

TEST(ShmChannel, AcceptsExactlyARingOfBytesUntilThePeerReads) {
  Pair p = Connected();
  std::vector<uint8_t> bytes(kRing + 1000, 5);
  EXPECT_EQ(*p.a.Write(bytes), kRing);
  EXPECT_EQ(*p.a.Write(bytes), 0u);  // full
  std::vector<uint8_t> out(100);
  EXPECT_EQ(*p.b.Read(out), 100u);
  EXPECT_EQ(*p.a.Write(bytes), 100u);  // exactly the room freed
  EXPECT_EQ(*p.b.Read(std::span<uint8_t>()), 0u);
}

TEST(ShmChannel, NothingToReadIsZeroNotAnError) {
  Pair p = Connected();
  std::vector<uint8_t> out(16);
  Result<size_t> r = p.b.Read(out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
}

TEST(ShmChannel, RefusesAPeerWriteCounterBeyondItsRingOrBackwards) {
  Result<ShmChannel> a = ShmChannel::Create(kRing);
  ASSERT_TRUE(a.ok());
  HostilePeer b = AttachHostile(*a);
  std::vector<uint8_t> out(16);
  b.counters[0] = kRing + 1;  // more unread bytes than its ring holds
  Result<size_t> r = a->Read(out);
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("write counter"), std::string::npos);
  // Exactly a ring is legal; then one below what was read is refused.
  b.counters[0] = kRing;
  std::vector<uint8_t> all(kRing);
  ASSERT_EQ(*a->Read(all), kRing);
  b.counters[0] = kRing - 1;
  EXPECT_EQ(a->Read(out).status().code(), StatusCode::kCorrupt);
  ::munmap(b.counters, kShmHeaderBytes);
}

TEST(ShmChannel, RefusesAPeerReadCounterAheadOfWhatWeWroteOrBackwards) {
  Result<ShmChannel> a = ShmChannel::Create(kRing);
  ASSERT_TRUE(a.ok());
  HostilePeer b = AttachHostile(*a);
  const std::vector<uint8_t> ten(10, 1);
  ASSERT_EQ(*a->Write(ten), 10u);
  b.counters[8] = 11;  // "read" a byte we never wrote
  EXPECT_EQ(a->Write(ten).status().code(), StatusCode::kCorrupt);
  b.counters[8] = 10;
  ASSERT_EQ(*a->Write(ten), 10u);
  b.counters[8] = 9;  // backwards
  EXPECT_EQ(a->Write(ten).status().code(), StatusCode::kCorrupt);
  ::munmap(b.counters, kShmHeaderBytes);
}

TEST(ShmChannel, WhoeverGetsOurRegionCanMapItReadOnlyOnly) {
  Result<ShmChannel> a = ShmChannel::Create(kRing);
  ASSERT_TRUE(a.ok());
  const int fd = ::dup(a->region_fd());  // what the peer receives
  EXPECT_EQ(::mmap(nullptr, kShmHeaderBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
  const uint8_t byte = 1;
  EXPECT_LT(::pwrite(fd, &byte, 1, 0), 0);
  EXPECT_LT(::ftruncate(fd, 0), 0);
  void* ro = ::mmap(nullptr, kShmHeaderBytes, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_NE(::mprotect(ro, kShmHeaderBytes, PROT_READ | PROT_WRITE), 0);  // nor made writable
  ::munmap(ro, kShmHeaderBytes);
  ::close(fd);
}

TEST(ShmChannel, RefusesARingOfAnotherSizeThanOurs) {
  Result<ShmChannel> a = ShmChannel::Create(kRing);
  Result<ShmChannel> b = ShmChannel::Create(2 * kRing);
  ASSERT_TRUE(a.ok() && b.ok());
  for (auto [self, peer] : {std::pair{&*a, &*b}, std::pair{&*b, &*a}}) {
    Status s = self->AttachPeer(UniqueFd(::dup(peer->region_fd())));
    EXPECT_EQ(s.code(), StatusCode::kCorrupt);
    EXPECT_NE(s.message().find("the size of ours"), std::string::npos) << s.message();
  }
}

TEST(ShmChannel, RefusesARegionThatCouldShrinkUnderUs) {
  Result<ShmChannel> a = ShmChannel::Create(kRing);
  ASSERT_TRUE(a.ok());
  // A memfd without seals: its owner could truncate it (SIGBUS on our reads).
  UniqueFd unsealed(::memfd_create("test", MFD_CLOEXEC));
  ASSERT_EQ(::ftruncate(unsealed.get(), kShmHeaderBytes + kRing), 0);
  Status s = a->AttachPeer(std::move(unsealed));
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("sealed"), std::string::npos);
  // A regular file cannot carry seals at all.
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(::ftruncate(::fileno(f), kShmHeaderBytes + kRing), 0);
  EXPECT_EQ(a->AttachPeer(UniqueFd(::dup(::fileno(f)))).code(), StatusCode::kCorrupt);
  std::fclose(f);
  EXPECT_FALSE(a->attached());
}

TEST(ShmChannel, RefusesASealedRegionOfTheWrongSize) {
  Result<ShmChannel> a = ShmChannel::Create(kRing);
  ASSERT_TRUE(a.ok());
  for (size_t size : {kShmHeaderBytes, kShmHeaderBytes + kRing - 4096, kShmHeaderBytes + kRing + 4096}) {
    UniqueFd fd(::memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
    ASSERT_EQ(::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    Status s = a->AttachPeer(std::move(fd));
    EXPECT_EQ(s.code(), StatusCode::kCorrupt) << size;
    EXPECT_NE(s.message().find("bytes, expected"), std::string::npos) << s.message();
  }
}

TEST(ShmChannel, RefusesARingSizeOutOfRange) {
  EXPECT_EQ(ShmChannel::Create(kMinShmRingBytes - 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ShmChannel::Create(kMaxShmRingBytes + 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ShmChannel, WaitingFlagsReachThePeer) {
  Pair p = Connected();
  EXPECT_FALSE(p.b.PeerWaitsForData());
  EXPECT_FALSE(p.b.PeerWaitsForRoom());
  p.a.SetWaiting(/*for_data=*/true, /*for_room=*/false);
  EXPECT_TRUE(p.b.PeerWaitsForData());
  EXPECT_FALSE(p.b.PeerWaitsForRoom());
  p.a.SetWaiting(false, true);
  EXPECT_FALSE(p.b.PeerWaitsForData());
  EXPECT_TRUE(p.b.PeerWaitsForRoom());
}

}  // namespace
}  // namespace murmur::net
