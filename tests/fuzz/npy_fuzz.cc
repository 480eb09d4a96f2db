// Fuzz target: the .npy reader behind `murmur aggregate`. Must never crash;
// an accepted array's shape must account for exactly its data, and
// re-encoding it must read back bit for bit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "murmur/core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  murmur::Result<murmur::NpyArray> npy =
      murmur::ParseNpy(std::span<const uint8_t>(data, size));
  if (!npy.ok()) return 0;
  size_t count = 1;
  for (int64_t d : npy->shape) count *= static_cast<size_t>(d);
  if (count != npy->data.size()) std::abort();
  murmur::Result<murmur::NpyArray> again = murmur::ParseNpy(murmur::EncodeNpy(npy->data));
  if (!again.ok() || again->data.size() != count ||
      std::memcmp(again->data.data(), npy->data.data(), count * sizeof(float)) != 0) {
    std::abort();
  }
  return 0;
}
