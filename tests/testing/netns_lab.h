// Linux network namespaces for process tests: "machines" with their own
// network stacks, joined by veth links to one bridge, with shaped links.
//
// NetnsLab::Create makes N namespaces (mnl<pid>-<i>), each with one veth
// pair: one end (mnl<pid>p<i>, address 10.A.B.(i+1)/24) inside the
// namespace, the other (mnl<pid>h<i>) on a bridge (mnl<pid>br) in this
// process's namespace, which holds no address: the lab is an L2 island that
// other tests' labs and the machine's own network never see. A bandwidth
// limit is a token-bucket filter (`tc qdisc ... tbf`) on both ends of each
// veth, so every namespace's uplink and downlink are shaped; a delay uses
// `netem` where the kernel has it (NetemAvailable). The destructor removes
// everything it made, and kills processes still inside its namespaces;
// Create first removes what labs of processes that no longer exist left
// behind (a test killed mid-run). Needs root and Debian's iproute2
// (`ip`, `tc`); NetnsUnavailableReason says why not when it cannot.
//
// Every name carries this process's id, so concurrent test runs never
// collide. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace murmur::testing {

// "" when this process can create network namespaces (root, `ip` found,
// `ip netns add` works); otherwise the reason, for a GTEST_SKIP message.
std::string NetnsUnavailableReason();

// Whether `tc qdisc add ... netem` works (checked once, in a throwaway
// namespace). Many minimal kernels lack sch_netem.
bool NetemAvailable();

class NetnsLab {
 public:
  struct Options {
    int nodes = 2;
    double rate_mbit = 0;  // tbf on both ends of every veth; 0: unshaped
    double delay_ms = 0;   // one-way netem delay on each namespace's uplink; needs netem
    // Addresses SUBNET(first_host + i)/24, e.g. "10.42.0." and 10 for a
    // recipe's fixed addresses; "" picks 10.A.B. from this process's id.
    std::string subnet;
    int first_host = 1;
  };

  // The lab, or null with *error set (what failed, with the command's
  // output). Nothing is left behind on failure.
  static std::unique_ptr<NetnsLab> Create(const Options& options, std::string* error);
  ~NetnsLab();
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  int nodes() const { return options_.nodes; }
  const std::string& ns(int i) const { return namespaces_[static_cast<size_t>(i)]; }
  // Node i's address, "10.A.B.(i+1)" (or as Options say).
  std::string ip(int i) const;
  // argv run inside node i's namespace (`ip netns exec NS argv...`; ip
  // execs the command, so the child's pid is the command's).
  std::vector<std::string> Wrap(int i, const std::vector<std::string>& argv) const;

  // A tbf qdisc's counters (`tc -s qdisc show`): bytes it sent and how often
  // a packet found the bucket empty (overlimits) or was dropped.
  struct LinkStats {
    uint64_t sent_bytes = 0;
    uint64_t overlimits = 0;
    uint64_t dropped = 0;
  };
  LinkStats Uplink(int i) const;    // leaving node i
  LinkStats Downlink(int i) const;  // arriving at node i

 private:
  explicit NetnsLab(const Options& options);
  bool Build(std::string* error);
  void TearDown();

  Options options_;
  std::string prefix_;  // mnl<pid>
  std::string subnet_;  // "10.A.B."
  std::vector<std::string> namespaces_;
  bool bridge_made_ = false;
};

}  // namespace murmur::testing
