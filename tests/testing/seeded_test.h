// Prints the seed of a seeded test when it fails, with the command that
// reruns exactly that test (STYLE.md: "the seed printed on failure").
//
//   TEST(Suite, Name) {
//     MURMUR_SEED_TRACE(seed);   // every failure below names the seed
//     ...
//   }
//
// A SeedTrace is a gtest scoped trace: each assertion that fails while it is
// alive prints "seed=N (rerun: BIN --gtest_filter=Suite.Name)", and the seed
// is recorded as the test's "seed" property (in --gtest_output=xml/json).
// scenario.h's Harness holds one, so every harness-built scenario names its
// seed. Lives on one thread, in one scope (gtest's ScopedTrace rules): not
// copyable, not movable.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

namespace murmur::testing {

// "seed=N (rerun: BIN --gtest_filter=Suite.Name)" for the running test; the
// filter is left out outside a test.
inline std::string SeedMessage(uint64_t seed) {
  std::error_code ec;
  std::string bin = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) bin = "<test binary>";
  std::string message = "seed=" + std::to_string(seed) + " (rerun: " + bin;
  if (const ::testing::TestInfo* test =
          ::testing::UnitTest::GetInstance()->current_test_info()) {
    message += std::string(" --gtest_filter=") + test->test_suite_name() + "." + test->name();
  }
  return message + ")";
}

class SeedTrace {
 public:
  explicit SeedTrace(uint64_t seed, const char* file = __builtin_FILE(),
                     int line = __builtin_LINE())
      : trace_(file, line, SeedMessage(seed)) {
    if (::testing::UnitTest::GetInstance()->current_test_info() != nullptr) {
      ::testing::Test::RecordProperty("seed", std::to_string(seed));
    }
  }
  SeedTrace(const SeedTrace&) = delete;
  SeedTrace& operator=(const SeedTrace&) = delete;

 private:
  ::testing::ScopedTrace trace_;
};

}  // namespace murmur::testing

#define MURMUR_SEED_TRACE_CONCAT_(a, b) a##b
#define MURMUR_SEED_TRACE_NAME_(line) MURMUR_SEED_TRACE_CONCAT_(murmur_seed_trace_, line)
// Names `seed` in every failure until the end of the enclosing scope.
#define MURMUR_SEED_TRACE(seed) \
  const ::murmur::testing::SeedTrace MURMUR_SEED_TRACE_NAME_(__LINE__)((seed), __FILE__, __LINE__)
