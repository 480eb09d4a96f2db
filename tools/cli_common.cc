#include "cli_common.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "murmur/core/suggest.h"

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

int ExitForParseError(CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
  const std::string first = argc > 1 ? argv[1] : "";
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  const bool unknown_command = !first.empty() && first[0] != '-' &&
                               std::find(names.begin(), names.end(), first) == names.end();
  if (unknown_command && error.get_exit_code() != 0) {
    std::string list;
    for (const std::string& name : names) list += (list.empty() ? "" : ", ") + name;
    std::fprintf(stderr, "murmur: unknown command '%s'%s (commands: %s; murmur --help)\n",
                 first.c_str(), DidYouMean(first, names).c_str(), list.c_str());
    return kExitUsage;
  }
  const int code = app.exit(error);
  return code == 0 ? 0 : kExitUsage;
}

Status CreateOutputDir(const std::string& dir, std::string_view option) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::InvalidArgument(option, " '", dir, "': cannot create the directory: ",
                                   ec.message(), "; pick another path");
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::InvalidArgument(option, " '", dir, "' is a file, not a directory; pick "
                                   "another path");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::InvalidArgument(option, " '", dir, "': the directory is not writable: ",
                                   std::strerror(errno), "; pick another path");
  }
  return Status::Ok();
}

Status CheckOutputFile(const std::string& path, std::string_view option) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(option, " '", path, "' is a directory; name a file");
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::InvalidArgument(option, " '", path, "': directory '", dir,
                                   "' does not exist (or is a file); create it first");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::InvalidArgument(option, " '", path, "': directory '", dir,
                                   "' is not writable: ", std::strerror(errno));
  }
  return Status::Ok();
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
