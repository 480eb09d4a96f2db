// A deterministic network of CollectiveGroups over FakeHosts for tests:
// messages wait in per-link FIFO queues and are delivered one at a time in
// a seeded random order across links (so every interleaving the links
// allow is reachable by some seed); a peer can be crashed before the k-th
// delivery, after which it handles nothing, its messages already sent are
// still delivered (crash-stop over TCP), and each survivor is told
// OnPeerDown after the last of them (optional: timeouts alone otherwise).
// Timers fire only when the network is quiescent: every clock then moves
// forward by one timeout and every pending timer fires.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "murmur/collective/collective_group.h"
#include "murmur/collective/state_sync.h"
#include "testing/fake_host.h"

namespace murmur::collective::test {

class GroupNet {
 public:
  // Founders 0..n-1.
  GroupNet(int n, CollectiveOptions options, uint64_t seed);

  // Adds peer `id` as a joiner (a new peer or a restart of a crashed one).
  void AddJoiner(PeerId id, std::vector<PeerId> contacts, uint64_t incarnation);
  // Restarts peer `id` as a founder of `members` (epoch 0, incarnation 0):
  // a crashed peer started again with its original command line.
  void RestartAsFounder(PeerId id, std::vector<PeerId> members);

  CollectiveGroup& group(PeerId p) { return *peers_.at(p.value).group; }
  testing::FakeHost& host(PeerId p) { return *peers_.at(p.value).host; }
  bool alive(PeerId p) const { return peers_.at(p.value).alive; }
  std::vector<PeerId> Alive() const;

  // Crashes `peer` just before delivery number `index` (0-based, counted
  // over the whole run). Deliver OnPeerDown notices when `notify_down`.
  void CrashBefore(PeerId peer, uint64_t index, bool notify_down);
  // Crashes `peer` now.
  void Crash(PeerId peer, bool notify_down);

  // Delivers until no message is in flight, then fires timers, repeatedly,
  // until `done()` holds or `max_timer_rounds` timer rounds passed.
  // Returns whether done() held.
  bool Run(const std::function<bool()>& done, int max_timer_rounds = 20);
  // Delivers until no message is in flight (no timers).
  void Drain();

  // Routes `peer`'s state-sync messages, timers and peer-down notices to
  // `sync` too. `sync` must outlive the network's use of it.
  void AttachSync(PeerId peer, StateSync* sync) { peers_.at(peer.value).sync = sync; }

  uint64_t delivered() const { return delivered_; }
  // Messages sent and not yet delivered (or dropped) for which `pred`
  // holds, over all links.
  size_t CountInFlight(const std::function<bool(std::span<const uint8_t>)>& pred);
  // Called after every delivery (tests watch invariants of the in-flight set).
  std::function<void()> after_delivery;
  int64_t Counter(PeerId p, const std::string& name) {
    return host(p).counters[name];
  }

 private:
  struct Peer {
    std::unique_ptr<testing::FakeHost> host;
    std::unique_ptr<CollectiveGroup> group;
    bool alive = true;
    StateSync* sync = nullptr;
  };
  struct InFlight {
    std::vector<uint8_t> bytes;
    bool down_notice = false;
  };
  void Collect();
  bool DeliverOne();
  void FireTimers();

  CollectiveOptions options_;
  std::map<uint32_t, Peer> peers_;
  std::map<std::pair<uint32_t, uint32_t>, std::deque<InFlight>> links_;
  std::mt19937_64 rng_;
  uint64_t delivered_ = 0;
  std::optional<std::pair<PeerId, uint64_t>> crash_at_;
  bool crash_notify_ = true;
};

// Options the collective tests share: chunks of `chunk_floats` floats, a
// 1 s operation timeout.
inline CollectiveOptions Options(size_t chunk_floats = 2) {
  CollectiveOptions o;
  o.chunk_floats = chunk_floats;
  o.timeout = Duration::Seconds(1);
  return o;
}

// What an operation's callback reported; Record fails the test when the
// callback runs twice.
struct Outcome {
  bool called = false;
  Status status;
};

inline OpCallback Record(Outcome& out) {
  return [&out](Host&, const Status& s) {
    EXPECT_FALSE(out.called) << "callback called twice";
    out.called = true;
    out.status = s;
  };
}

// Peer `peer`'s distinct input of `len` floats (exact in float32 for the
// sizes the tests use), and the sum of `peers`' inputs: what a sum
// all-reduce over them must give, bit for bit.
inline std::vector<float> Input(int peer, size_t len) {
  std::vector<float> v(len);
  for (size_t j = 0; j < len; ++j) v[j] = static_cast<float>(peer * 1000 + j * 3 + 1);
  return v;
}

inline std::vector<float> SumOf(const std::vector<PeerId>& peers, size_t len) {
  std::vector<float> sum(len, 0);
  for (PeerId p : peers) {
    const std::vector<float> in = Input(static_cast<int>(p.value), len);
    for (size_t j = 0; j < len; ++j) sum[j] += in[j];
  }
  return sum;
}

}  // namespace murmur::collective::test
