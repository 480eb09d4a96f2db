// Fuzz target: the .npy reader behind `murmur aggregate` and .npz datasets. Must never crash;
// an accepted array's shape must account for exactly its data, and
// re-encoding it must read back bit for bit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include <string>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The typed view (.npz members): its data must lie inside the input and
  // hold exactly count values.
  murmur::Result<murmur::NpyView> view = murmur::ParseNpyView(std::span<const uint8_t>(data, size));
  if (view.ok()) {
    size_t n = 1;
    for (int64_t d : view->shape) n *= static_cast<size_t>(d);
    if (n != view->count || view->data.size() != n * view->item_size ||
        view->data.data() + view->data.size() != data + size) {
      std::abort();
    }
  }
  murmur::Result<murmur::NpyArray> npy =
      murmur::ParseNpy(std::span<const uint8_t>(data, size));
  if (!npy.ok()) return 0;
  size_t count = 1;
  for (int64_t d : npy->shape) count *= static_cast<size_t>(d);
  if (count != npy->data.size()) std::abort();
  murmur::Result<murmur::NpyArray> again = murmur::ParseNpy(murmur::EncodeNpy(npy->data));
  if (!again.ok() || again->data.size() != count ||
      (count > 0 &&
       std::memcmp(again->data.data(), npy->data.data(), count * sizeof(float)) != 0)) {
    std::abort();
  }
  return 0;
}

namespace {

// A .npy file of `version` (1, 2 or 3) with a hand-written header.
murmur::fuzz::Seed Npy(uint8_t version, const std::string& dict, size_t floats) {
  std::string header = dict;
  const size_t fixed = version == 1 ? 10 : 12;
  while ((fixed + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  murmur::fuzz::Seed npy = {0x93, 'N', 'U', 'M', 'P', 'Y', version, 0};
  for (size_t i = 0; i < (version == 1 ? 2u : 4u); ++i) {
    npy.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  }
  npy.insert(npy.end(), header.begin(), header.end());
  for (size_t i = 0; i < floats; ++i) npy.insert(npy.end(), {0, 0, 0x80, 0x3f});  // 1.0f
  return npy;
}

}  // namespace

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  return {
      murmur::EncodeNpy(std::vector<float>{1.f, 2.f}),
      murmur::EncodeNpy(std::vector<float>{}),
      Npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 6),
      Npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1),
      Npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2,), }", 2),
      Npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", 1),
      Npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 4),
  };
}
