// Shared by the stateful fuzz targets that drive protocol nodes
// (protocol_node_fuzz, protocol_run_fuzz): the input as a stream of bytes
// that reads as zero once spent, and the heap in use, to check that what a
// node holds stays bounded over a sequence.
#pragma once

#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <span>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/allocator_interface.h>
#define MURMUR_FUZZ_ASAN 1
#endif
#endif

namespace murmur::fuzz {

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool done() const { return pos_ >= bytes_.size(); }
  uint8_t U8() { return pos_ < bytes_.size() ? bytes_[pos_++] : 0; }
  uint16_t U16() {
    const uint16_t low = U8();  // in this order on every compiler
    const uint16_t high = U8();
    return static_cast<uint16_t>(low | (high << 8));
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

// Bytes the allocator has handed out and not had back.
inline size_t HeapInUse() {
#ifdef MURMUR_FUZZ_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

}  // namespace murmur::fuzz
