// What every `murmur` subcommand shares: exit codes, reporting a failure,
// and loading a config file with --set overrides.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/core/status.h"
#include "murmur/experiment/run_config.h"

namespace murmur::cli {

constexpr int kExitFailure = 1;  // the command ran and failed
constexpr int kExitUsage = 2;    // bad arguments, config or input files

// Which failures are the user's to fix (exit kExitUsage).
enum class UsageErrors {
  kBadConfigOrMissing,  // kInvalidArgument and kNotFound
  kAllButUnavailable,   // every code except kUnavailable
};

// Prints "murmur COMMAND: MESSAGE" on stderr; returns kExitUsage or
// kExitFailure by `usage`.
int Fail(std::string_view command, const Status& status,
         UsageErrors usage = UsageErrors::kBadConfigOrMissing);

// Reports a command-line parse error of `app` (the top-level command) and
// returns the exit code: 0 for --help and --version, else kExitUsage. An
// unknown subcommand (argv[1]) is named with the closest known one ("did you
// mean") and the list of subcommands.
int ExitForParseError(CLI::App& app, const CLI::ParseError& error, int argc, char** argv);

// Creates the output directory `dir` (and its parents) given by `option`
// (e.g. "--out") and checks that it is writable. kInvalidArgument naming
// the option, the path and why (a parent is a file, permission denied, a
// read-only file system), so the command exits kExitUsage before any work.
Status CreateOutputDir(const std::string& dir, std::string_view option = "--out");

// Checks that the file `path` given by `option` can be written: its
// directory exists and is writable and `path` is not a directory.
// kInvalidArgument naming the option and the path.
Status CheckOutputFile(const std::string& path, std::string_view option);

// The config at `path` (an empty Config when `path` is empty) with each
// KEY=VALUE of `sets` applied in order. kNotFound / kInvalidArgument from
// the file or a bad override.
Result<Config> LoadConfig(const std::string& path, const std::vector<std::string>& sets);

// LoadConfig, then ReadRunConfig.
Result<RunConfig> LoadRunConfig(const std::string& path, const std::vector<std::string>& sets);

}  // namespace murmur::cli
