#include "murmur/core/log.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace murmur {
namespace {

class CapturingSink final : public LogSink {
 public:
  void Write(LogLevel level, std::string_view message) override {
    lines.emplace_back(level, std::string(message));
  }
  std::vector<std::pair<LogLevel, std::string>> lines;
};

TEST(Log, InstalledSinkReceivesLevelAndMessage) {
  CapturingSink sink;
  ScopedLogSink scoped(&sink);
  Log(LogLevel::kWarning, "lost peer 3");
  Logf(LogLevel::kError, "[peer %u] starting after %.1fs", 2u, 1.25);
  ASSERT_EQ(sink.lines.size(), 2u);
  EXPECT_EQ(sink.lines[0].first, LogLevel::kWarning);
  EXPECT_EQ(sink.lines[0].second, "lost peer 3");
  EXPECT_EQ(sink.lines[1].first, LogLevel::kError);
  EXPECT_EQ(sink.lines[1].second, "[peer 2] starting after 1.2s");
}

TEST(Log, ScopedSinkRestoresThePreviousOne) {
  CapturingSink outer;
  CapturingSink inner;
  ScopedLogSink scoped_outer(&outer);
  {
    ScopedLogSink scoped_inner(&inner);
    Log(LogLevel::kInfo, "inner");
  }
  Log(LogLevel::kInfo, "outer");
  ASSERT_EQ(inner.lines.size(), 1u);
  EXPECT_EQ(inner.lines[0].second, "inner");
  ASSERT_EQ(outer.lines.size(), 1u);
  EXPECT_EQ(outer.lines[0].second, "outer");
}

TEST(Log, SetLogSinkReturnsThePreviousSinkAndNullptrRestoresStderr) {
  CapturingSink sink;
  EXPECT_EQ(SetLogSink(&sink), nullptr);  // the stderr default
  EXPECT_EQ(SetLogSink(nullptr), &sink);
  testing::internal::CaptureStderr();
  Log(LogLevel::kInfo, "to stderr");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "to stderr\n");
  EXPECT_TRUE(sink.lines.empty());
}

TEST(Log, FormatsLongMessagesWhole) {
  CapturingSink sink;
  ScopedLogSink scoped(&sink);
  const std::string long_text(5000, 'x');
  Logf(LogLevel::kInfo, "%s|%d", long_text.c_str(), 7);
  ASSERT_EQ(sink.lines.size(), 1u);
  EXPECT_EQ(sink.lines[0].second, long_text + "|7");
}

TEST(Log, LevelNames) {
  EXPECT_EQ(LogLevelName(LogLevel::kInfo), "info");
  EXPECT_EQ(LogLevelName(LogLevel::kWarning), "warning");
  EXPECT_EQ(LogLevelName(LogLevel::kError), "error");
}

}  // namespace
}  // namespace murmur
