// Without libFuzzer (the default g++ build), each fuzz target is linked with
// this driver and run as a test: it feeds the target a fixed, seeded stream
// of inputs built from the target's own seeds (FuzzSeeds(), fuzz_seeds.h)
// by random truncation, bit flips, byte overwrites and appended noise, plus
// pure noise. No coverage guidance: a cheap regression check. With clang and
// -DMURMUR_FUZZ=ON the same targets build as real libFuzzer binaries, which
// scripts/test.sh also runs.
//
// The stream is fixed (seeded): each seed's mutations come from a stream
// of their own (and the pure noise from one more), so a failure replays
// whatever time the seeds before it were given. It is also bounded in wall
// time (MURMUR_FUZZ_SECONDS, default 10) so that a slow or sanitized build
// keeps the test suite fast: each seed gets an equal share of that time
// (and the noise one more share), so a slow target (protocol_run_fuzz: tens
// of milliseconds an input) still mutates every seed, not only its first
// ones; a seed whose share runs out stops after a prefix of its stream, and
// the summary says how many did. A crash follows a "seed N" line on stderr;
// MURMUR_FUZZ_SEED=N runs only that seed's stream, with the whole time.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/core/rng.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// True once `share` of the time budget is spent (checked every 16 inputs).
bool OutOfTime(int64_t runs, double share) {
  static const auto start = std::chrono::steady_clock::now();
  static const double budget_s = [] {
    const char* env = std::getenv("MURMUR_FUZZ_SECONDS");
    const double v = env != nullptr ? std::atof(env) : 0;
    return v > 0 ? v : 10.0;
  }();
  if (runs % 16 != 0) return false;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
         share * budget_s;
}

}  // namespace

int main() {
  const std::vector<murmur::fuzz::Seed> seeds = murmur::fuzz::FuzzSeeds();
  int64_t runs = 0;
  int cut_short = 0;  // seeds (and the noise) whose time share ran out
  // About 100k mutations in all, however many seeds a target has.
  const size_t per_seed = std::max<size_t>(2000, 100000 / std::max<size_t>(1, seeds.size()));
  // MURMUR_FUZZ_SEED=N replays only seed N's stream, with the whole time.
  const char* only_env = std::getenv("MURMUR_FUZZ_SEED");
  const long only = only_env != nullptr ? std::atol(only_env) : -1;
  for (size_t s = 0; s < seeds.size(); ++s) {
    if (only >= 0 && static_cast<size_t>(only) != s) continue;
    const std::vector<uint8_t>& seed = seeds[s];
    const double share = only >= 0 ? 1.0
                                    : static_cast<double>(s + 1) /
                                          static_cast<double>(seeds.size() + 1);
    murmur::Rng rng(2026, murmur::PeerId(static_cast<uint32_t>(s)), murmur::RngPurpose::kTest);
    std::fprintf(stderr, "seed %zu\n", s);
    LLVMFuzzerTestOneInput(seed.data(), seed.size());
    for (size_t i = 0; i < per_seed; ++i) {
      if (OutOfTime(runs, share)) {
        ++cut_short;
        break;
      }
      std::vector<uint8_t> input = seed;
      const int mutations = 1 + static_cast<int>(rng.UniformInt(4));
      for (int k = 0; k < mutations; ++k) {
        switch (rng.UniformInt(4)) {
          case 0:  // truncate
            input.resize(rng.UniformInt(input.size() + 1));
            break;
          case 1:  // flip a bit
            if (!input.empty()) input[rng.UniformInt(input.size())] ^= 1u << rng.UniformInt(8);
            break;
          case 2:  // overwrite a byte with an extreme value
            if (!input.empty()) input[rng.UniformInt(input.size())] = rng.UniformInt(2) ? 0xff : 0;
            break;
          case 3:  // append noise
            for (uint64_t n = rng.UniformInt(16); n > 0; --n) input.push_back(rng.NextU32());
            break;
        }
      }
      LLVMFuzzerTestOneInput(input.data(), input.size());
      ++runs;
    }
  }
  murmur::Rng rng(2026, murmur::PeerId(static_cast<uint32_t>(seeds.size())),
                  murmur::RngPurpose::kTest);
  for (int i = 0; i < (only >= 0 ? 0 : 20000); ++i) {
    if (OutOfTime(runs, 1.0)) {
      ++cut_short;
      break;
    }
    std::vector<uint8_t> noise(rng.UniformInt(128));
    for (auto& b : noise) b = static_cast<uint8_t>(rng.NextU32());
    LLVMFuzzerTestOneInput(noise.data(), noise.size());
    ++runs;
  }
  if (cut_short > 0) {
    std::printf("%lld inputs, no crash (%d of %zu streams cut short by their share of "
                "MURMUR_FUZZ_SECONDS)\n",
                static_cast<long long>(runs), cut_short, seeds.size() + 1);
  } else {
    std::printf("%lld inputs, no crash\n", static_cast<long long>(runs));
  }
  return 0;
}
