#include "child_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace murmur::cli {

Result<SpawnedChild> Spawn(const SpawnOptions& options) {
  const bool piped = options.stdout_to == SpawnOptions::Stdout::kPipe;
  int pipe_fds[2] = {-1, -1};
  if (piped && ::pipe(pipe_fds) != 0) return Status::Unavailable("pipe: ", std::strerror(errno));
  const int log_flags = O_WRONLY | O_CREAT |
                        (options.log_mode == SpawnOptions::Log::kAppend ? O_APPEND : O_TRUNC);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.stdin_from_null) {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (piped) {
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, options.log_path.c_str(), log_flags,
                                     0644);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, options.log_path.c_str(), log_flags,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }
  std::vector<char*> args;
  for (const std::string& a : options.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  SpawnedChild child;
  const int rc = posix_spawn(&child.pid, options.program.c_str(), &actions, nullptr, args.data(),
                             environ);
  posix_spawn_file_actions_destroy(&actions);
  if (piped) ::close(pipe_fds[1]);
  if (rc != 0) {
    if (piped) ::close(pipe_fds[0]);
    return Status::Unavailable("cannot start ", options.program, ": ", std::strerror(rc));
  }
  child.stdout_fd = piped ? pipe_fds[0] : -1;
  return child;
}

int ExitCodeOf(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

}  // namespace murmur::cli
