// The test harness's ChildProcess: a child's output is drained while the
// test does something else, so a chatty child never blocks on a full pipe,
// and every byte it wrote ends up in log().
#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "testing/cli_runner.h"

namespace murmur::testing {
namespace {

using Clock = ChildProcess::Clock;

// True when `pid` exits within `timeout`, without reaping it.
bool ExitsWithin(pid_t pid, std::chrono::milliseconds timeout) {
  const int fd = PidFd(pid);
  if (fd < 0) return false;
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  const bool exited = ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
  ::close(fd);
  return exited;
}

TEST(ChildProcess, AChildWhoseOutputNobodyReadsStillRunsToItsEnd) {
  // 1 MiB is 16 pipe buffers: without a reader, the child blocks at 64 KiB.
  ChildProcess child({"/bin/sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' x; echo; echo done"});
  ASSERT_TRUE(ExitsWithin(child.pid(), std::chrono::seconds(30)));
  EXPECT_EQ(child.Wait(Clock::now() + std::chrono::seconds(10)), 0);
  EXPECT_EQ(child.log().size(), 1048576u + 1 + 5);
  EXPECT_EQ(child.log().substr(child.log().size() - 6), "\ndone\n");
}

TEST(ChildProcess, AwaitLineFindsALineAndReadAvailableTakesOnlyWholeLines) {
  ChildProcess child({"/bin/sh", "-c", "echo one; echo two; printf three; exec sleep 1000"});
  EXPECT_EQ(child.AwaitLine("two", Clock::now() + std::chrono::seconds(10)), "two");
  EXPECT_EQ(child.log(), "one\ntwo\n");
  // "three" has no newline yet: it is not a line, so it stays out of log().
  EXPECT_TRUE(child.ReadAvailable());
  EXPECT_EQ(child.log(), "one\ntwo\n");
  EXPECT_EQ(child.AwaitLine("never", Clock::now() + std::chrono::milliseconds(200)), "");
  child.Kill9();
  EXPECT_EQ(child.log(), "one\ntwo\nthree");
}

TEST(ChildProcess, WaitReportsTheExitCodeOrTheSignal) {
  ChildProcess exits({"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(exits.Wait(Clock::now() + std::chrono::seconds(10)), 3);
  ChildProcess hangs({"/bin/sh", "-c", "exec sleep 1000"});
  EXPECT_EQ(hangs.Wait(Clock::now() + std::chrono::milliseconds(100)), -1);
  hangs.Kill9();
  EXPECT_EQ(hangs.Wait(Clock::now()), 128 + 9);
}

}  // namespace
}  // namespace murmur::testing
