// Fuzz target: the IDX parser that reads dataset files. Must never crash, and
// an accepted array's dims must account for exactly its data.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

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
