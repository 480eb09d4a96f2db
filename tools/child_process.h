// Starting `murmur` child processes (launch's peers, sweep's runs) with
// posix_spawn, and reading their exit status.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur::cli {

struct SpawnOptions {
  std::string program;            // the executable's path
  std::vector<std::string> argv;  // argv[0] included
  // The log file: the child's stderr; also its stdout unless piped.
  std::string log_path;
  enum class Log { kAppend, kTruncate } log_mode = Log::kAppend;
  enum class Stdout { kPipe, kLog } stdout_to = Stdout::kPipe;
  bool stdin_from_null = false;
  // The child dies with this process, even when this process is killed with
  // SIGKILL: Spawn passes its pid in MURMUR_PARENT_PID, and the child's
  // DieWithParentIfAsked arms PR_SET_PDEATHSIG.
  bool die_with_parent = true;
};

struct SpawnedChild {
  pid_t pid = -1;
  int stdout_fd = -1;  // read end of the stdout pipe; -1 when not piped
};

// Starts the child. kUnavailable naming the program when it cannot.
Result<SpawnedChild> Spawn(const SpawnOptions& options);

// In a child started by Spawn with die_with_parent: asks the kernel for
// SIGTERM when the parent exits (PR_SET_PDEATHSIG), and exits at once if the
// parent is already gone. Call first thing in main. Does nothing when
// MURMUR_PARENT_PID is not set; clears it so grandchildren do not inherit it.
void DieWithParentIfAsked();

// A waitpid status as an exit code: the exit status, or 128 + the signal.
int ExitCodeOf(int wait_status);

}  // namespace murmur::cli
