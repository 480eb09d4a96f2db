#include "testing/cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
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

int PidFd(pid_t pid) {
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link its wrapper.
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  EXPECT_EQ(posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  fd_ = fds[0];
  pid_fd_ = PidFd(pid_);
  EXPECT_GE(pid_fd_, 0) << "pidfd_open failed";
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  EXPECT_GE(stop_fd_, 0) << "eventfd failed";
  reader_ = std::thread([this] { Drain(); });
}

ChildProcess::~ChildProcess() {
  if (!exited_) Kill9();
  const uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) != sizeof one) ADD_FAILURE() << "cannot stop the reader";
  reader_.join();
  for (int fd : {fd_, pid_fd_, stop_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

void ChildProcess::Drain() {
  char buf[65536];
  for (;;) {
    pollfd p[2] = {{.fd = fd_, .events = POLLIN, .revents = 0},
                   {.fd = stop_fd_, .events = POLLIN, .revents = 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents != 0) break;
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= 0) {
      output_ended_ = true;
      changed_.notify_all();
      return;
    }
    arrived_text_.append(buf, static_cast<size_t>(n));
    changed_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  output_ended_ = true;
  changed_.notify_all();
}

bool ChildProcess::TakeLine(std::string* line) {
  const size_t nl = arrived_text_.find('\n');
  if (nl == std::string::npos) return false;
  *line = arrived_text_.substr(0, nl);
  arrived_text_.erase(0, nl + 1);
  log_ += *line + "\n";
  return true;
}

std::string ChildProcess::AwaitLine(const std::string& text, Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    std::string line;
    while (TakeLine(&line)) {
      if (line.find(text) != std::string::npos) return line;
    }
    if (output_ended_) return "";
    const bool woke = changed_.wait_until(lock, deadline, [this] {
      return output_ended_ || arrived_text_.find('\n') != std::string::npos;
    });
    if (!woke) return "";
  }
}

bool ChildProcess::ReadAvailable() {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t end = arrived_text_.rfind('\n');
  if (end != std::string::npos) {
    log_ += arrived_text_.substr(0, end + 1);
    arrived_text_.erase(0, end + 1);
  }
  return !output_ended_;
}

int ChildProcess::Wait(Clock::time_point deadline) {
  while (!exited_) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return -1;
    pollfd p{.fd = pid_fd_, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return -1;
    if (ready <= 0) continue;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    exited_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_until(lock, Clock::now() + std::chrono::seconds(10),
                      [this] { return output_ended_; });
  log_ += arrived_text_;
  arrived_text_.clear();
  return code_;
}

void ChildProcess::Kill9() {
  ::kill(pid_, SIGKILL);
  Wait(Clock::now() + std::chrono::seconds(10));
}

}  // namespace murmur::testing
