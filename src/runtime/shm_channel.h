// The same-host data path of a connection (docs/runtime.md, "Peers on the
// same host"): two byte rings in shared memory, one per direction, that
// carry the connection's frames instead of the TCP socket once both ends
// agreed (connection.h). Each end owns one region, a memfd it alone writes
// (sealed with F_SEAL_FUTURE_WRITE after its own mapping, so whoever gets
// the descriptor can map it read-only only):
//
//   [0, 8)      bytes this end has written into its ring (monotonic)
//   [64, 72)    bytes this end has read of the peer's ring (monotonic)
//   [128, 132)  nonzero: this end waits for the peer's bytes
//   [192, 196)  nonzero: this end waits for room in its own ring
//   [4096, ..)  the ring: byte i of the stream at 4096 + i % ring_bytes
//
// The peer is not trusted: its counters are checked on every read (never
// backwards, never more than a ring ahead: kCorrupt otherwise), bytes are
// copied out of its ring before anything parses them, and its region must
// carry F_SEAL_SHRINK and F_SEAL_GROW (so it cannot truncate the mapping
// under us, which would raise SIGBUS), lie on tmpfs (not hugetlbfs) and
// hold a ring of the size of ours. Memory: ring_bytes + 4 KiB per end, and
// a mapping of at most as much of the peer's. Not thread-safe; the two ends
// are two processes (or two objects in a test), synchronised by the
// counters' acquire / release.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "murmur/core/status.h"

namespace murmur::net {

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

inline constexpr size_t kShmHeaderBytes = 4096;
inline constexpr size_t kMinShmRingBytes = size_t{64} << 10;
inline constexpr size_t kMaxShmRingBytes = size_t{64} << 20;

class ShmChannel {
 public:
  // Creates this end's region with a ring of `ring_bytes` (kMinShmRingBytes
  // .. kMaxShmRingBytes), sealed against shrinking and growing.
  // kUnavailable when the kernel refuses (no memfd, no memory).
  static Result<ShmChannel> Create(size_t ring_bytes);

  ShmChannel(ShmChannel&& other) noexcept;
  ShmChannel& operator=(ShmChannel&&) = delete;
  ShmChannel(const ShmChannel&) = delete;
  ShmChannel& operator=(const ShmChannel&) = delete;
  ~ShmChannel();

  // This end's region, to hand to the peer (SCM_RIGHTS).
  int region_fd() const { return fd_.get(); }
  // Maps the peer's region read-only. kCorrupt when it is not a sealed
  // memfd (both seals) on tmpfs, or its size is not a header plus a ring
  // of our own size.
  // REQUIRES: not attached yet.
  [[nodiscard]] Status AttachPeer(UniqueFd peer_region);
  bool attached() const { return peer_ != nullptr; }

  // Copies as much of `bytes` as the ring has room for and publishes it;
  // returns the count (0 when full). kCorrupt when the peer's read counter
  // is out of range. REQUIRES: attached().
  Result<size_t> Write(std::span<const uint8_t> bytes);
  // Copies up to out.size() bytes the peer published and frees their room;
  // returns the count (0 when none). kCorrupt when the peer's write counter
  // is out of range. REQUIRES: attached().
  Result<size_t> Read(std::span<uint8_t> out);

  // Says whether this end is about to sleep waiting for data / room, so
  // the peer rings the doorbell only then. A store and a full fence: read
  // or write again after it before sleeping (the peer publishes, fences,
  // then looks at these: one of the two sees the other).
  void SetWaiting(bool for_data, bool for_room);
  // Whether the peer said so (after a full fence). REQUIRES: attached().
  bool PeerWaitsForData() const;
  bool PeerWaitsForRoom() const;

 private:
  ShmChannel(UniqueFd fd, uint8_t* region, size_t ring_bytes);

  std::atomic<uint64_t>& own_written() const;
  std::atomic<uint64_t>& own_read() const;
  const std::atomic<uint64_t>& peer_written() const;
  const std::atomic<uint64_t>& peer_read() const;
  std::atomic<uint32_t>& Flag(uint8_t* region, size_t offset) const;

  UniqueFd fd_;
  uint8_t* region_ = nullptr;  // ours, read-write
  size_t ring_bytes_ = 0;
  const uint8_t* peer_ = nullptr;  // the peer's, read-only
  size_t peer_ring_bytes_ = 0;
  uint64_t written_ = 0;     // what we published
  uint64_t read_ = 0;        // what we consumed of the peer's ring
  uint64_t peer_freed_ = 0;  // the peer's read counter, last seen
};

}  // namespace murmur::net
