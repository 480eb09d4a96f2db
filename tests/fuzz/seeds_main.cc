// `<target>_seeds DIR` writes the target's FuzzSeeds() into DIR (created
// when missing) as seed-000, seed-001, ...: the seed corpus its libFuzzer
// binary starts from (CMakeLists.txt, -DMURMUR_FUZZ=ON). Rewriting the same
// files each time keeps a corpus directory that libFuzzer grew untouched.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "fuzz_seeds.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR   (writes this target's seed corpus into DIR)\n",
                 argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "cannot create '%s': %s\n", argv[1], ec.message().c_str());
    return 1;
  }
  const std::vector<murmur::fuzz::Seed> seeds = murmur::fuzz::FuzzSeeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "seed-%03zu", i);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seeds[i].data()),
              static_cast<std::streamsize>(seeds[i].size()));
    if (!out) {
      std::fprintf(stderr, "cannot write '%s'\n", (dir / name).c_str());
      return 1;
    }
  }
  std::printf("%zu seeds in %s\n", seeds.size(), argv[1]);
  return 0;
}
