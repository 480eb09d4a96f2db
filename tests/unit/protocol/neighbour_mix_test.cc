#include "murmur/protocol/neighbour_mix.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "murmur/core/rng.h"

namespace murmur {
namespace {

// ApplyMix's one blocked pass gives the bytes of the plain definition (x
// scaled, then one pass per arrived model in order), for sizes that end
// inside a block, on a block boundary and below one block.
TEST(ApplyMix, MatchesModelByModelPassesBitForBit) {
  for (const uint64_t seed : {1u, 2u, 3u}) {
    for (const size_t size : {size_t{1}, size_t{511}, size_t{1024}, size_t{7850}}) {
      Rng rng(seed, PeerId(0), RngPurpose::kTest);
      std::vector<std::vector<float>> models(6, std::vector<float>(size));
      for (auto& m : models) {
        for (float& v : m) v = static_cast<float>(rng.Normal());
      }
      std::vector<float> x(size);
      for (float& v : x) v = static_cast<float>(rng.Normal());
      NeighbourMix mix;
      mix.self_weight = 1.0 / 7 + 0.013 * static_cast<double>(seed);
      for (const auto& m : models) {
        mix.weights.push_back(rng.Uniform() / 6);
        mix.models.emplace_back(m);
      }
      std::vector<float> want = x;
      for (float& v : want) v *= static_cast<float>(mix.self_weight);
      for (size_t k = 0; k < models.size(); ++k) {
        const auto w = static_cast<float>(mix.weights[k]);
        for (size_t i = 0; i < size; ++i) want[i] += w * models[k][i];
      }
      ApplyMix(x, mix);
      ASSERT_EQ(std::memcmp(x.data(), want.data(), size * sizeof(float)), 0)
          << "seed " << seed << ", size " << size;
    }
  }
}

}  // namespace
}  // namespace murmur
