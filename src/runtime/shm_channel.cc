#include "runtime/shm_channel.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include "murmur/core/check.h"

namespace murmur::net {

namespace {

constexpr size_t kReadCounterOffset = 64;
constexpr size_t kWantsDataOffset = 128;
constexpr size_t kWantsRoomOffset = 192;
constexpr int kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW;

// Copies `n` bytes between the stream position `pos` of a ring and `flat`.
void CopyOut(const uint8_t* ring, size_t ring_bytes, uint64_t pos, uint8_t* flat, size_t n) {
  const size_t at = pos % ring_bytes;
  const size_t first = std::min(n, ring_bytes - at);
  std::memcpy(flat, ring + at, first);
  std::memcpy(flat + first, ring, n - first);
}

void CopyIn(uint8_t* ring, size_t ring_bytes, uint64_t pos, const uint8_t* flat, size_t n) {
  const size_t at = pos % ring_bytes;
  const size_t first = std::min(n, ring_bytes - at);
  std::memcpy(ring + at, flat, first);
  std::memcpy(ring, flat + first, n - first);
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<ShmChannel> ShmChannel::Create(size_t ring_bytes) {
  if (ring_bytes < kMinShmRingBytes || ring_bytes > kMaxShmRingBytes) {
    return Status::InvalidArgument("shared-memory ring of ", ring_bytes, " bytes, expected ",
                                   kMinShmRingBytes, "..", kMaxShmRingBytes);
  }
  UniqueFd fd(::memfd_create("murmur-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return Status::Unavailable("memfd_create: ", std::strerror(errno));
  const size_t size = kShmHeaderBytes + ring_bytes;
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return Status::Unavailable("sizing the shared-memory ring: ", std::strerror(errno));
  }
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) return Status::Unavailable("mmap: ", std::strerror(errno));
  ShmChannel channel(std::move(fd), static_cast<uint8_t*>(map), ring_bytes);
  // After our own writable mapping: F_SEAL_FUTURE_WRITE lets nobody who
  // gets the descriptor (the peer) write to the region.
  if (::fcntl(channel.fd_.get(), F_ADD_SEALS,
              kRequiredSeals | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0) {
    return Status::Unavailable("sealing the shared-memory ring: ", std::strerror(errno));
  }
  return channel;
}

ShmChannel::ShmChannel(UniqueFd fd, uint8_t* region, size_t ring_bytes)
    : fd_(std::move(fd)), region_(region), ring_bytes_(ring_bytes) {
  // A fresh memfd reads as zeros; the counters live in it.
  new (region_) std::atomic<uint64_t>(0);
  new (region_ + kReadCounterOffset) std::atomic<uint64_t>(0);
  new (region_ + kWantsDataOffset) std::atomic<uint32_t>(0);
  new (region_ + kWantsRoomOffset) std::atomic<uint32_t>(0);
}

ShmChannel::ShmChannel(ShmChannel&& other) noexcept
    : fd_(std::move(other.fd_)),
      region_(std::exchange(other.region_, nullptr)),
      ring_bytes_(other.ring_bytes_),
      peer_(std::exchange(other.peer_, nullptr)),
      peer_ring_bytes_(other.peer_ring_bytes_),
      written_(other.written_),
      read_(other.read_),
      peer_freed_(other.peer_freed_) {}

ShmChannel::~ShmChannel() {
  if (region_ != nullptr) ::munmap(region_, kShmHeaderBytes + ring_bytes_);
  if (peer_ != nullptr) {
    ::munmap(const_cast<uint8_t*>(peer_), kShmHeaderBytes + peer_ring_bytes_);
  }
}

Status ShmChannel::AttachPeer(UniqueFd peer_region) {
  MURMUR_CHECK(peer_ == nullptr);
  const int seals = ::fcntl(peer_region.get(), F_GET_SEALS);
  if (seals < 0 || (seals & kRequiredSeals) != kRequiredSeals) {
    return Status::Corrupt("the peer's shared-memory region is not a memfd sealed against "
                           "shrinking and growing");
  }
  // Plain shared memory only: a hugetlbfs memfd can be sealed too, but a
  // hole punched into it could fail our page faults (SIGBUS).
  struct statfs fs{};
  if (::fstatfs(peer_region.get(), &fs) != 0 || fs.f_type != TMPFS_MAGIC) {
    return Status::Corrupt("the peer's shared-memory region is not on tmpfs");
  }
  struct stat st{};
  if (::fstat(peer_region.get(), &st) != 0) {
    return Status::Corrupt("fstat of the peer's region: ", std::strerror(errno));
  }
  // A ring of our own size: the memory a connection can make us touch is
  // what our options say, and peers of different settings fail here, on
  // whichever end checks first, before the acceptor counts the link.
  const size_t size = static_cast<size_t>(st.st_size);
  if (size != kShmHeaderBytes + ring_bytes_) {
    return Status::Corrupt("the peer's shared-memory region has ", size, " bytes, expected ",
                           kShmHeaderBytes + ring_bytes_, " (a ring the size of ours)");
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, peer_region.get(), 0);
  if (map == MAP_FAILED) return Status::Unavailable("mmap of the peer's region: ", std::strerror(errno));
  peer_ = static_cast<const uint8_t*>(map);
  peer_ring_bytes_ = size - kShmHeaderBytes;
  return Status::Ok();
}

std::atomic<uint64_t>& ShmChannel::own_written() const {
  return *std::launder(reinterpret_cast<std::atomic<uint64_t>*>(region_));
}
std::atomic<uint64_t>& ShmChannel::own_read() const {
  return *std::launder(reinterpret_cast<std::atomic<uint64_t>*>(region_ + kReadCounterOffset));
}
const std::atomic<uint64_t>& ShmChannel::peer_written() const {
  return *std::launder(reinterpret_cast<const std::atomic<uint64_t>*>(peer_));
}
const std::atomic<uint64_t>& ShmChannel::peer_read() const {
  return *std::launder(
      reinterpret_cast<const std::atomic<uint64_t>*>(peer_ + kReadCounterOffset));
}

std::atomic<uint32_t>& ShmChannel::Flag(uint8_t* region, size_t offset) const {
  return *std::launder(reinterpret_cast<std::atomic<uint32_t>*>(region + offset));
}

void ShmChannel::SetWaiting(bool for_data, bool for_room) {
  Flag(region_, kWantsDataOffset).store(for_data ? 1 : 0, std::memory_order_relaxed);
  Flag(region_, kWantsRoomOffset).store(for_room ? 1 : 0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

bool ShmChannel::PeerWaitsForData() const {
  MURMUR_CHECK(attached());
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Read-only mapping: a relaxed load never writes.
  return Flag(const_cast<uint8_t*>(peer_), kWantsDataOffset).load(std::memory_order_relaxed) != 0;
}

bool ShmChannel::PeerWaitsForRoom() const {
  MURMUR_CHECK(attached());
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return Flag(const_cast<uint8_t*>(peer_), kWantsRoomOffset).load(std::memory_order_relaxed) != 0;
}

Result<size_t> ShmChannel::Write(std::span<const uint8_t> bytes) {
  MURMUR_CHECK(attached());
  const uint64_t freed = peer_read().load(std::memory_order_acquire);
  if (freed < peer_freed_ || freed > written_) {
    return Status::Corrupt("the peer's read counter of our ring moved from ", peer_freed_,
                           " to ", freed, " (we wrote ", written_, ")");
  }
  peer_freed_ = freed;
  const size_t room = ring_bytes_ - static_cast<size_t>(written_ - freed);
  const size_t n = std::min(room, bytes.size());
  if (n == 0) return size_t{0};
  CopyIn(region_ + kShmHeaderBytes, ring_bytes_, written_, bytes.data(), n);
  written_ += n;
  own_written().store(written_, std::memory_order_release);
  return n;
}

Result<size_t> ShmChannel::Read(std::span<uint8_t> out) {
  MURMUR_CHECK(attached());
  const uint64_t published = peer_written().load(std::memory_order_acquire);
  if (published < read_ || published - read_ > peer_ring_bytes_) {
    return Status::Corrupt("the peer's write counter moved from ", read_, " to ", published,
                           " (its ring holds ", peer_ring_bytes_, " bytes)");
  }
  const size_t n = std::min(out.size(), static_cast<size_t>(published - read_));
  if (n == 0) return size_t{0};
  CopyOut(peer_ + kShmHeaderBytes, peer_ring_bytes_, read_, out.data(), n);
  read_ += n;
  own_read().store(read_, std::memory_order_release);
  return n;
}

}  // namespace murmur::net
