#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace murmur::cli {
namespace {

constexpr const char* kParentPidVariable = "MURMUR_PARENT_PID";

// This process's environment, with MURMUR_PARENT_PID set to its pid when
// `die_with_parent`, and removed otherwise.
std::vector<std::string> ChildEnvironment(bool die_with_parent) {
  const std::string prefix = std::string(kParentPidVariable) + "=";
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0) env.emplace_back(*e);
  }
  if (die_with_parent) env.push_back(prefix + std::to_string(::getpid()));
  return env;
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

void DieWithParentIfAsked() {
  const char* value = std::getenv(kParentPidVariable);
  if (value == nullptr) return;
  const long parent = std::strtol(value, nullptr, 10);
  ::unsetenv(kParentPidVariable);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // The parent may have died before the request was armed.
  if (parent > 0 && ::getppid() != static_cast<pid_t>(parent)) std::_Exit(128 + SIGTERM);
}

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
  std::vector<char*> args = CStrings(options.argv);
  const std::vector<std::string> env = ChildEnvironment(options.die_with_parent);
  std::vector<char*> envp = CStrings(env);
  SpawnedChild child;
  const int rc = posix_spawn(&child.pid, options.program.c_str(), &actions, nullptr, args.data(),
                             envp.data());
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
