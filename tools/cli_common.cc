#include "cli_common.h"

#include <cstdio>

namespace murmur::cli {

int Fail(std::string_view command, const Status& status, UsageErrors usage) {
  std::fprintf(stderr, "murmur %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               status.message().c_str());
  const StatusCode code = status.code();
  const bool users = usage == UsageErrors::kAllButUnavailable
                         ? code != StatusCode::kUnavailable
                         : code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound;
  return users ? kExitUsage : kExitFailure;
}

Result<Config> LoadConfig(const std::string& path, const std::vector<std::string>& sets) {
  Config config;
  if (!path.empty()) {
    MURMUR_ASSIGN_OR_RETURN(config, Config::FromFile(path));
  }
  for (const std::string& set : sets) MURMUR_RETURN_IF_ERROR(config.Set(set));
  return config;
}

}  // namespace murmur::cli
