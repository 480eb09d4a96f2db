// Fuzz target: the checkpoint decoder (learn/checkpoint.h) on file bytes.
// With an odd first byte the input is the raw file; with an even one the
// rest is wrapped in a valid header and CRC, so the parameter checks behind
// the CRC get exercised too. Must never crash; an accepted file must
// re-encode to the same bytes (version 2; a version 1 file re-encodes as
// version 2).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/learn/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> file;
  if (data[0] % 2 == 1) {
    file.assign(data + 1, data + size);
  } else {
    // Re-encode the body's whole floats, then corrupt the count field with
    // byte 1 when present: a valid CRC over a lying header.
    const size_t floats = (size - 1) / 4;
    std::vector<float> params(floats);
    if (floats > 0) std::memcpy(params.data(), data + 1, floats * 4);
    file = murmur::EncodeCheckpoint(params, "");
    if (size > 1 && data[1] % 3 == 0) file[16] ^= 1;
  }
  for (int64_t expected : {int64_t{0}, int64_t{1}, int64_t{4}, static_cast<int64_t>(size / 4)}) {
    murmur::Result<std::vector<float>> p = murmur::DecodeCheckpoint(file, "", expected);
    if (!p.ok() || file[8] != murmur::kCheckpointVersion) continue;
    const std::vector<uint8_t> again = murmur::EncodeCheckpoint(*p, "");
    if (again != file) std::abort();
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  std::vector<Seed> seeds;
  // Raw files (odd byte 0): real checkpoints of 0, 1 and 4 parameters.
  for (size_t n : {size_t{0}, size_t{1}, size_t{4}}) {
    Seed s = {1};
    const std::vector<uint8_t> file = murmur::EncodeCheckpoint(std::vector<float>(n, 1.5f), "");
    s.insert(s.end(), file.begin(), file.end());
    seeds.push_back(s);
  }
  // Wrapped (even byte 0): 4 parameters, then with a lying count field.
  seeds.push_back({0, 1, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40});
  seeds.push_back({0, 3, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40});
  return seeds;
}
