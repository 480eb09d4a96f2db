#include "murmur/core/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <vector>

namespace murmur {
namespace {

std::atomic<LogSink*> installed{nullptr};

void WriteToStderr(std::string_view message) {
  // One fwrite per line: stdio locks the stream, so lines from several
  // threads do not interleave.
  std::string line(message);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

LogSink* SetLogSink(LogSink* sink) { return installed.exchange(sink); }

void Log(LogLevel level, std::string_view message) {
  LogSink* sink = installed.load();
  if (sink == nullptr) {
    WriteToStderr(message);
  } else {
    sink->Write(level, message);
  }
}

void Logf(LogLevel level, const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string message;
  if (n > 0) {
    std::vector<char> buffer(static_cast<size_t>(n) + 1);
    std::vsnprintf(buffer.data(), buffer.size(), format, again);
    message.assign(buffer.data(), static_cast<size_t>(n));
  }
  va_end(again);
  Log(level, message);
}

}  // namespace murmur
