#include "report_figure.h"

#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

namespace murmur::cli {
namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

std::string ReportPlotScript() {
  if (const char* env = std::getenv("MURMUR_REPORT_PLOT"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::filesystem::path> candidates;
  if (!ec) {
    const std::filesystem::path dir = exe.parent_path();
    candidates.push_back(dir / "python/murmur/report_plot.py");
    candidates.push_back(dir / "../lib/python3/dist-packages/murmur/report_plot.py");
    candidates.push_back(dir / "../../lib/python3/dist-packages/murmur/report_plot.py");
  }
#ifdef MURMUR_SOURCE_DIR
  candidates.push_back(std::filesystem::path(MURMUR_SOURCE_DIR) / "python/murmur/report_plot.py");
#endif
  for (const auto& c : candidates) {
    if (std::filesystem::is_regular_file(c, ec)) return c.lexically_normal().string();
  }
  return "";
}

Status WriteFigure(const std::vector<std::pair<std::string, std::string>>& outputs,
                   const nlohmann::json& data) {
  const std::string script = ReportPlotScript();
  if (script.empty()) {
    return Status::NotFound("cannot find report_plot.py of the murmur Python package (build it, ",
                            "or set MURMUR_REPORT_PLOT to python/murmur/report_plot.py)");
  }
  std::string command = ShellQuote(Env("MURMUR_PYTHON", "/usr/bin/python3")) + " " + ShellQuote(script);
  for (const auto& [path, format] : outputs) command += " " + ShellQuote(path) + " " + ShellQuote(format);
  std::fflush(nullptr);
  FILE* pipe = popen(command.c_str(), "w");
  if (pipe == nullptr) return Status::Unavailable("cannot start '", command, "'");
  const std::string text = data.dump();
  // A script that exits before reading (no python3) must not kill us.
  void (*previous)(int) = std::signal(SIGPIPE, SIG_IGN);
  const size_t written = std::fwrite(text.data(), 1, text.size(), pipe);
  const int status = pclose(pipe);
  std::signal(SIGPIPE, previous);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  if (code == 2 || code == 127) {
    return Status::NotFound("'", command, "' refused (exit ", code, "; see its message above)");
  }
  if (code != 0 || written != text.size()) {
    return Status::Unavailable("'", command, "' failed (exit ", code, ")");
  }
  return Status::Ok();
}

}  // namespace murmur::cli
