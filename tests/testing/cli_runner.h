// Running the murmur binary (and other commands) from tests: one-shot runs
// whose output and exit code come back when they end, long-running child
// processes read line by line under a deadline, and per-test temp paths.
//
// The binary is $MURMUR_BIN (ctest sets it to the build's murmur). Nothing
// here sleeps: every wait is on a pipe, a condition or a process exit, with
// a deadline where the child may hang. One test thread uses each object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace murmur::testing {

// $MURMUR_BIN, or "" when it is not set.
std::string MurmurBin();

// Where a one-shot command's stderr goes.
enum class Stderr {
  kIntoOutput,  // merged into CliOutcome::output (as `2>&1`)
  kApart,       // into CliOutcome::error, and copied to this process's
                // stderr so it shows in the test log
};

struct CliOutcome {
  int exit_code = -1;  // -1 when the command did not exit normally
  std::string output;  // stdout (and stderr with Stderr::kIntoOutput)
  std::string error;   // stderr with Stderr::kApart
};

// Runs `command` through /bin/sh (so it may quote, redirect and pipe) and
// waits for it to end.
CliOutcome RunShell(const std::string& command, Stderr stderr_to = Stderr::kApart);

// Runs `$MURMUR_BIN <args>` (args in shell syntax). A missing MURMUR_BIN
// fails the test and returns exit_code -1.
CliOutcome RunMurmur(const std::string& args, Stderr stderr_to = Stderr::kIntoOutput);

// A path in the system temp directory unique to this process and test:
// murmur_<suite>_<name>_<pid>. TempPath removes whatever is there;
// FreshTempDir also creates it as an empty directory. The caller removes it.
std::string TempPath(const std::string& name);
std::string FreshTempDir(const std::string& name);

// The whole file at `path`; "" when it cannot be read.
std::string ReadFile(const std::string& path);

// A file descriptor that becomes readable when process `pid` exits (Linux
// pidfd, close-on-exec); -1 on failure. Polling it does not reap the child.
int PidFd(pid_t pid);

// A child process (argv[0] is a path, not searched) whose stdout and stderr
// arrive on one pipe, read line by line. A thread of its own drains the pipe
// as the child writes, so a child whose output the test does not read for a
// while never blocks on a full pipe. The destructor kills (SIGKILL) and
// reaps it if it has not exited.
class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads until a line containing `text` arrives; returns it, or "" at the
  // deadline or end of output.
  std::string AwaitLine(const std::string& text, Clock::time_point deadline);

  // Appends the whole lines that have arrived so far to log(), without
  // waiting: the child's output up to this moment (a test that wants "the
  // round it is at now" must not read on for a while, or it sees rounds
  // from after the moment). False once the output has ended.
  bool ReadAvailable();

  // Waits for the process to exit, then for the end of its output (up to
  // 10 s more: a grandchild may hold the pipe); returns its exit code (-1
  // at the deadline, 128+signal when killed).
  int Wait(Clock::time_point deadline);

  // SIGKILL, then reap (within 10 s).
  void Kill9();

  // The process id (valid until the process is reaped).
  pid_t pid() const { return pid_; }

  // Every line read so far (and, after Wait, the rest of the output).
  const std::string& log() const { return log_; }

 private:
  // The reader thread: pipe -> arrived_text_, until the end of output or
  // a stop request on stop_fd_.
  void Drain();
  // Moves the first whole line of arrived_text_ into log_ (mu_ held).
  bool TakeLine(std::string* line);

  pid_t pid_ = -1;
  int pid_fd_ = -1;   // readable once the child exits
  int fd_ = -1;       // the pipe's read end; only the reader thread reads it
  int stop_fd_ = -1;  // an eventfd that stops the reader thread
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::string arrived_text_;  // guarded by mu_: read, not yet in log_
  bool output_ended_ = false;  // guarded by mu_
  std::string log_;
  bool exited_ = false;
  int code_ = -1;
};

}  // namespace murmur::testing
