// LoadRunConfig (cli_common.h), apart from the rest of cli_common.cc: it
// needs murmur_experiment (and so LibTorch), which the light `murmur` front
// end (front_main.cc) must not link.
#include "cli_common.h"

#include <cstdio>

namespace murmur::cli {

Result<RunConfig> LoadRunConfig(const std::string& path, const std::vector<std::string>& sets) {
  MURMUR_ASSIGN_OR_RETURN(Config config, LoadConfig(path, sets));
  MURMUR_ASSIGN_OR_RETURN(RunConfig run, ReadRunConfig(config));
  for (const std::string& warning : run.warnings) std::fprintf(stderr, "murmur: %s\n", warning.c_str());
  return run;
}

}  // namespace murmur::cli
