// The byte format of a run's snapshot (`murmur run` with sim.snapshot_every_s,
// resumed by `murmur run --resume`): SnapshotWriter appends little-endian
// fields to a buffer, SnapshotReader reads them back with a bounds check on
// every field. A reader never trusts a length: a count is refused when the
// bytes left cannot hold that many elements, so a corrupt or truncated file
// gives kCorrupt naming the field, never a crash or a huge allocation. The
// first error sticks: later reads return zeros and status() keeps it.
//
// Nodes, the simulator, learners and the evaluation collector write their
// state with Section(tag) markers between parts, so a reader that drifts
// (a snapshot of another build or protocol) stops at the next marker.
// Random streams are saved as their position (Rng::position) and restored
// by skipping forward on a stream built afresh from the same seed.
// Not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/core/rng.h"
#include "murmur/core/status.h"

namespace murmur {

class SnapshotWriter {
 public:
  void U8(uint8_t v) { bytes_.push_back(v); }
  void Bool(bool v) { U8(v ? 1 : 0); }
  void U32(uint32_t v);
  void U64(uint64_t v);
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F64(double v);
  // A u64 count, then the elements.
  void Bytes(std::span<const uint8_t> v);
  void Floats(std::span<const float> v);
  void Doubles(std::span<const double> v);
  void I64s(std::span<const int64_t> v);
  void String(std::string_view v);
  // A u64 count, then each id as u32 (SnapshotReader::Peers).
  template <typename PeerRange>
  void Peers(const PeerRange& peers) {
    U64(peers.size());
    for (PeerId p : peers) U32(p.value);
  }
  void Random(const Rng& rng) { U64(rng.position()); }
  // A marker the reader checks (SnapshotReader::Section).
  void Section(uint32_t tag) { U32(tag); }

  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t> Take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

class SnapshotReader {
 public:
  // `bytes` must outlive the reader.
  explicit SnapshotReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint8_t U8(const char* field);
  bool Bool(const char* field);
  uint32_t U32(const char* field);
  uint64_t U64(const char* field);
  int64_t I64(const char* field) { return static_cast<int64_t>(U64(field)); }
  double F64(const char* field);
  std::vector<uint8_t> Bytes(const char* field);
  std::vector<float> Floats(const char* field);
  // Reads a float array into `out`, whose size it must match.
  void FloatsInto(const char* field, std::span<float> out);
  std::vector<double> Doubles(const char* field);
  std::vector<int64_t> I64s(const char* field);
  std::string String(const char* field);
  // Peer ids as SnapshotWriter::Peers wrote them, in that order.
  std::vector<PeerId> Peers(const char* field);
  // A count of elements at least `min_element_bytes` each that the bytes
  // left can hold; 0 and an error otherwise.
  uint64_t Count(const char* field, size_t min_element_bytes);
  // A count that must also be at most `max`.
  uint64_t CountAtMost(const char* field, uint64_t max, size_t min_element_bytes);
  // Moves `rng` (a stream built afresh, at its start) to the saved
  // position; an error when that lies behind it.
  void Random(const char* field, Rng& rng);
  // Checks the marker SnapshotWriter::Section wrote.
  void Section(uint32_t tag, const char* name);
  // Records an error found by the caller (a value out of range).
  void Fail(Status status);

  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  bool Need(size_t n, const char* field);
  template <typename T>
  T Scalar(const char* field);  // a little-endian T; 0 once an error is recorded
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  Status status_;
};

}  // namespace murmur
