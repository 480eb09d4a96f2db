#include "testing/netns_lab.h"

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "testing/cli_runner.h"

namespace murmur::testing {
namespace {

// The first of the usual places Debian's iproute2 puts `name`; "" if none.
std::string Tool(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    const std::string path = dir + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

struct Outcome {
  bool ok = false;
  std::string output;
};

// Runs a command line of safe words (names and numbers only, no quoting
// needed), stderr merged into the output.
Outcome Sh(const std::string& command) {
  const CliOutcome r = RunShell(command, Stderr::kIntoOutput);
  return {r.exit_code == 0, r.output};
}

// The pid in a lab name "mnl<pid>...", or 0 when `name` is not one.
pid_t LabOwner(const std::string& name) {
  if (name.rfind("mnl", 0) != 0) return 0;
  size_t end = 3;
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  if (end == 3 || end - 3 > 9) return 0;
  return static_cast<pid_t>(std::atol(name.substr(3, end - 3).c_str()));
}

bool OwnerIsGone(const std::string& name) {
  const pid_t pid = LabOwner(name);
  return pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Removes the namespaces and links of labs whose process no longer runs.
void RemoveStaleLabs(const std::string& ip) {
  std::istringstream namespaces(Sh(ip + " netns list").output);
  std::string line;
  while (std::getline(namespaces, line)) {
    const std::string name = line.substr(0, line.find(' '));
    if (OwnerIsGone(name)) Sh(ip + " netns del " + name);
  }
  std::istringstream links(Sh(ip + " -o link show").output);
  while (std::getline(links, line)) {
    // "7: mnl123h0@if6: <...": the name sits between ": " and '@' or ':'.
    const size_t start = line.find(": ");
    if (start == std::string::npos) continue;
    const size_t end = line.find_first_of("@:", start + 2);
    const std::string name = line.substr(start + 2, end - start - 2);
    if (OwnerIsGone(name)) Sh(ip + " link del " + name);
  }
}

uint64_t NumberAfter(const std::string& text, const std::string& key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + key.size(), nullptr, 10);
}

NetnsLab::LinkStats ParseStats(const std::string& tc_output) {
  // " Sent 2091886 bytes 1391 pkt (dropped 1034, overlimits 2345 requeues 0)"
  return {.sent_bytes = NumberAfter(tc_output, "Sent "),
          .overlimits = NumberAfter(tc_output, "overlimits "),
          .dropped = NumberAfter(tc_output, "dropped ")};
}

std::string Tbf(double rate_mbit) {
  // A 32 KiB bucket (a few full-size packets at these rates) and up to
  // 200 ms of queue before tbf drops: TCP sees a slow link, not a lossy one.
  std::ostringstream s;
  s << " tbf rate " << static_cast<int64_t>(rate_mbit * 1000) << "kbit burst 32kb latency 200ms";
  return s.str();
}

}  // namespace

std::string NetnsUnavailableReason() {
  if (::geteuid() != 0) return "network namespaces need root (this test runs as uid " +
                                std::to_string(::geteuid()) + ")";
  const std::string ip = Tool("ip"), tc = Tool("tc");
  if (ip.empty() || tc.empty()) {
    return "`ip` or `tc` not found: install Debian's iproute2 (scripts/install_deps.sh)";
  }
  // Everything a lab does, once, on throwaway names: a namespace, a bridge,
  // a veth pair across them and a tbf qdisc (a container may allow some).
  const std::string p = "mnl" + std::to_string(::getpid());
  const std::string steps[] = {
      ip + " netns add " + p + "-probe",
      ip + " link add " + p + "pb type bridge",
      ip + " link add " + p + "pv type veth peer name " + p + "pw",
      ip + " link set " + p + "pv netns " + p + "-probe",
      ip + " link set " + p + "pw master " + p + "pb up",
      tc + " qdisc add dev " + p + "pw root" + Tbf(8),
  };
  std::string why;
  for (const std::string& step : steps) {
    if (const Outcome o = Sh(step); !o.ok) {
      why = "`" + step + "` failed here (a container without CAP_NET_ADMIN/CAP_SYS_ADMIN?): " +
            o.output;
      break;
    }
  }
  Sh(ip + " netns del " + p + "-probe");
  Sh(ip + " link del " + p + "pw");
  Sh(ip + " link del " + p + "pb");
  return why;
}

bool NetemAvailable() {
  static const bool available = [] {
    if (!NetnsUnavailableReason().empty()) return false;
    const std::string ip = Tool("ip"), tc = Tool("tc");
    const std::string probe = "mnl" + std::to_string(::getpid()) + "-netem";
    if (!Sh(ip + " netns add " + probe).ok) return false;
    const bool ok =
        Sh(ip + " netns exec " + probe + " " + tc + " qdisc add dev lo root netem delay 1ms").ok;
    Sh(ip + " netns del " + probe);
    return ok;
  }();
  return available;
}

NetnsLab::NetnsLab(const Options& options) : options_(options) {
  const pid_t pid = ::getpid();
  prefix_ = "mnl" + std::to_string(pid);
  subnet_ = options.subnet.empty() ? "10." + std::to_string(64 + (pid / 256) % 128) + "." +
                                         std::to_string(pid % 256) + "."
                                   : options.subnet;
}

std::unique_ptr<NetnsLab> NetnsLab::Create(const Options& options, std::string* error) {
  if (std::string why = NetnsUnavailableReason(); !why.empty()) {
    *error = why;
    return nullptr;
  }
  if (options.nodes < 1 || options.first_host < 1 || options.first_host + options.nodes > 255) {
    *error = "a lab's host numbers must lie in 1..254";
    return nullptr;
  }
  if (options.delay_ms > 0 && !NetemAvailable()) {
    *error = "this kernel has no netem qdisc, so no delay";
    return nullptr;
  }
  RemoveStaleLabs(Tool("ip"));
  std::unique_ptr<NetnsLab> lab(new NetnsLab(options));
  if (!lab->Build(error)) return nullptr;  // the destructor removed what was made
  return lab;
}

bool NetnsLab::Build(std::string* error) {
  const std::string ip = Tool("ip"), tc = Tool("tc");
  auto run = [&](const std::string& command) {
    const Outcome o = Sh(command);
    if (!o.ok) *error = "`" + command + "` failed: " + o.output;
    return o.ok;
  };
  const std::string bridge = prefix_ + "br";
  if (!run(ip + " link add " + bridge + " type bridge")) return false;
  bridge_made_ = true;
  if (!run(ip + " link set " + bridge + " up")) return false;
  for (int i = 0; i < options_.nodes; ++i) {
    const std::string ns = prefix_ + "-" + std::to_string(i);
    const std::string host = prefix_ + "h" + std::to_string(i);
    const std::string inside = prefix_ + "p" + std::to_string(i);
    if (!run(ip + " netns add " + ns)) return false;
    namespaces_.push_back(ns);
    const std::string in_ns = ip + " -n " + ns + " ";
    if (!run(ip + " link add " + inside + " type veth peer name " + host) ||
        !run(ip + " link set " + inside + " netns " + ns) ||
        !run(ip + " link set " + host + " master " + bridge + " up") ||
        !run(in_ns + "addr add " + this->ip(i) + "/24 dev " + inside) ||
        !run(in_ns + "link set " + inside + " up") || !run(in_ns + "link set lo up")) {
      return false;
    }
    const std::string tc_ns = ip + " netns exec " + ns + " " + tc;
    if (options_.delay_ms > 0) {
      std::ostringstream netem;
      netem << " qdisc add dev " << inside << " root netem delay "
            << static_cast<int64_t>(options_.delay_ms * 1000) << "us";
      if (options_.rate_mbit > 0) {
        netem << " rate " << static_cast<int64_t>(options_.rate_mbit * 1000) << "kbit";
      }
      if (!run(tc_ns + netem.str())) return false;
    } else if (options_.rate_mbit > 0 &&
               !run(tc_ns + " qdisc add dev " + inside + " root" + Tbf(options_.rate_mbit))) {
      return false;
    }
    if (options_.rate_mbit > 0 &&
        !run(tc + " qdisc add dev " + host + " root" + Tbf(options_.rate_mbit))) {
      return false;
    }
  }
  return true;
}

NetnsLab::~NetnsLab() { TearDown(); }

void NetnsLab::TearDown() {
  const std::string ip = Tool("ip");
  for (size_t i = 0; i < namespaces_.size(); ++i) {
    // Processes this test started inside the namespace and left running.
    std::istringstream pids(Sh(ip + " netns pids " + namespaces_[i]).output);
    for (long pid; pids >> pid;) {
      if (pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
    Sh(ip + " netns del " + namespaces_[i]);
    // Deleting the namespace destroys the pair, but not always before we
    // return; delete our end too (an error when it is already gone).
    Sh(ip + " link del " + prefix_ + "h" + std::to_string(i));
  }
  namespaces_.clear();
  if (bridge_made_) Sh(ip + " link del " + prefix_ + "br");
  bridge_made_ = false;
}

std::string NetnsLab::ip(int i) const {
  return subnet_ + std::to_string(options_.first_host + i);
}

std::vector<std::string> NetnsLab::Wrap(int i, const std::vector<std::string>& argv) const {
  std::vector<std::string> wrapped = {Tool("ip"), "netns", "exec", ns(i)};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

NetnsLab::LinkStats NetnsLab::Uplink(int i) const {
  return ParseStats(Sh(Tool("ip") + " netns exec " + ns(i) + " " + Tool("tc") +
                       " -s qdisc show dev " + prefix_ + "p" + std::to_string(i))
                        .output);
}

NetnsLab::LinkStats NetnsLab::Downlink(int i) const {
  return ParseStats(
      Sh(Tool("tc") + " -s qdisc show dev " + prefix_ + "h" + std::to_string(i)).output);
}

}  // namespace murmur::testing
