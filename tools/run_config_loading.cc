// LoadRunConfig (cli_common.h), apart from the rest of cli_common.cc: it
// needs murmur_experiment (and so LibTorch), which the light `murmur` front
// end (front_main.cc) must not link.
#include "cli_common.h"

namespace murmur::cli {

Result<RunConfig> LoadRunConfig(const std::string& path, const std::vector<std::string>& sets) {
  MURMUR_ASSIGN_OR_RETURN(Config config, LoadConfig(path, sets));
  return ReadRunConfig(config);
}

}  // namespace murmur::cli
