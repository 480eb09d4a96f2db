// The logging seam: library code (the runtime, the thread pool, the
// simulator) writes its diagnostics through Log(), never to stderr
// directly, so an embedding program or a test can route them elsewhere.
// A message is one line without its newline; the default sink writes it to
// stderr followed by '\n', in one write. Log() and SetLogSink() are
// thread-safe; a sink must be thread-safe itself when several threads log
// (the runtime's loop and the thread pool's workers do).
#pragma once

#include <string>
#include <string_view>

namespace murmur {

enum class LogLevel { kInfo, kWarning, kError };

// "info", "warning" or "error".
std::string_view LogLevelName(LogLevel level);

// Where log lines go.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(LogLevel level, std::string_view message) = 0;
};

// Installs `sink` for every later Log() (nullptr: back to the stderr
// default) and returns the one installed before (nullptr for the
// default). `sink` must stay alive while installed and while any Log()
// that may have picked it up is still running.
LogSink* SetLogSink(LogSink* sink);

// Sends one line to the installed sink.
void Log(LogLevel level, std::string_view message);

// printf-style: formats, then Log().
void Logf(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Installs a sink for a scope (tests), restoring the previous one at its end.
class ScopedLogSink {
 public:
  explicit ScopedLogSink(LogSink* sink) : previous_(SetLogSink(sink)) {}
  ~ScopedLogSink() { SetLogSink(previous_); }
  ScopedLogSink(const ScopedLogSink&) = delete;
  ScopedLogSink& operator=(const ScopedLogSink&) = delete;

 private:
  LogSink* const previous_;
};

}  // namespace murmur
