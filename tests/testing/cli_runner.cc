#include "testing/cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

extern char** environ;

namespace murmur::testing {

std::string MurmurBin() {
  const char* bin = std::getenv("MURMUR_BIN");
  return bin ? bin : "";
}

CliOutcome RunShell(const std::string& command, Stderr stderr_to) {
  CliOutcome outcome;
  std::string error_path;
  std::string full = command;
  if (stderr_to == Stderr::kIntoOutput) {
    full += " 2>&1";
  } else {
    error_path = TempPath("stderr");
    // Braces, so a redirect inside `command` still applies to its own part.
    full = "{ " + command + "\n} 2>" + error_path;
  }
  FILE* pipe = popen(full.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << "popen failed: " << command;
  if (pipe == nullptr) return outcome;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) outcome.output.append(buffer, n);
  const int status = pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (!error_path.empty()) {
    outcome.error = ReadFile(error_path);
    std::filesystem::remove(error_path);
    std::cerr << outcome.error;
  }
  return outcome;
}

CliOutcome RunMurmur(const std::string& args, Stderr stderr_to) {
  const std::string bin = MurmurBin();
  EXPECT_FALSE(bin.empty()) << "MURMUR_BIN must point at the murmur binary";
  if (bin.empty()) return {};
  return RunShell(bin + " " + args, stderr_to);
}

std::string TempPath(const std::string& name) {
  std::string suite = "none";
  if (const ::testing::TestInfo* test =
          ::testing::UnitTest::GetInstance()->current_test_info()) {
    suite = test->test_suite_name();
  }
  const auto path = std::filesystem::temp_directory_path() /
                    ("murmur_" + suite + "_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(path);
  return path.string();
}

std::string FreshTempDir(const std::string& name) {
  const std::string dir = TempPath(name);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  EXPECT_EQ(posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  fd_ = fds[0];
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    ::kill(pid_, SIGKILL);
    Wait(Clock::now() + std::chrono::seconds(10));
  }
  if (fd_ >= 0) ::close(fd_);
}

std::string ChildProcess::AwaitLine(const std::string& text, Clock::time_point deadline) {
  for (;;) {
    size_t nl;
    while ((nl = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      log_ += line + "\n";
      if (line.find(text) != std::string::npos) return line;
    }
    if (!ReadSome(deadline)) return "";
  }
}

bool ChildProcess::ReadAvailable() {
  while (fd_ >= 0) {
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 0) <= 0) break;
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) {
      ::close(fd_);
      fd_ = -1;
      break;
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
  const size_t end = buffer_.rfind('\n');
  if (end != std::string::npos) {
    log_ += buffer_.substr(0, end + 1);
    buffer_.erase(0, end + 1);
  }
  return fd_ >= 0;
}

int ChildProcess::Wait(Clock::time_point deadline) {
  while (fd_ >= 0 && ReadSome(deadline)) {
  }
  while (!exited_) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, fd_ >= 0 ? WNOHANG : 0);
    if (r == pid_) {
      exited_ = true;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else if (Clock::now() > deadline) {
      return -1;
    }
  }
  log_ += buffer_;
  buffer_.clear();
  return code_;
}

void ChildProcess::Kill9() {
  ::kill(pid_, SIGKILL);
  Wait(Clock::now() + std::chrono::seconds(10));
}

bool ChildProcess::ReadSome(Clock::time_point deadline) {
  if (fd_ < 0) return false;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
  if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
  char buf[4096];
  const ssize_t n = ::read(fd_, buf, sizeof buf);
  if (n <= 0) {
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  buffer_.append(buf, static_cast<size_t>(n));
  return true;
}

}  // namespace murmur::testing
