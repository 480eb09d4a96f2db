// Fuzz target: the IDX parser that reads dataset files. Must never crash, and
// an accepted array's dims must account for exactly its data.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include <vector>

#include "fuzz_seeds.h"
#include "murmur/learn/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  murmur::Result<murmur::IdxArray> idx =
      murmur::ParseIdx(std::span<const uint8_t>(data, size));
  if (idx.ok()) {
    size_t count = 1;
    for (int64_t d : idx->dims) count *= static_cast<size_t>(d);
    if (count != idx->data.size()) std::abort();
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // Unsigned-byte IDX arrays (big-endian dims): labels [4], images [2, 2, 3].
  return {
      {0, 0, 0x08, 1, 0, 0, 0, 4, 1, 9, 0, 3},
      {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
  };
}
