// Every example run config in examples/ is a valid run configuration: no
// unknown key, no key of another protocol, every value in range. (Grids,
// sweep_*.toml, are checked by `murmur sweep --dry-run` in sweep_test.)
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "murmur/core/config.h"
#include "murmur/experiment/run_config.h"

namespace murmur {
namespace {

TEST(ExampleConfigs, EveryExampleReadsWithoutError) {
  int checked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(MURMUR_SOURCE_DIR) + "/examples")) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() != ".toml" || path.filename().string().starts_with("sweep_")) continue;
    SCOPED_TRACE(path.string());
    Result<Config> config = Config::FromFile(path.string());
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    Result<RunConfig> run = ReadRunConfig(*config);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    ++checked;
  }
  EXPECT_GE(checked, 25);
}

}  // namespace
}  // namespace murmur
