// ProcessGroup's insides (process_group.h), private to src/group/.
// The Impl is the Node that NetHost runs on the background thread. A public
// call queues a request and blocks on a future; the loop learns of queued
// requests through a compute task that waits on the queue's condition
// variable (Host::RunCompute: its completion is posted to the loop), so
// NetHost needs no cross-thread entry point and nothing polls.
// process_group.cc: threads, queue, node plumbing; group_calls.cc: the
// calls as continuations on the loop thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "murmur/collective/collective_group.h"
#include "murmur/collective/state_sync.h"
#include "murmur/group/process_group.h"
#include "murmur/runtime/net_host.h"

namespace murmur::group {

using collective::CollectiveGroup;
using collective::StateDigest;
using collective::StateSync;

class ProcessGroup::Impl final : public Node, public MetricsSink {
 public:
  using Finish = std::function<void(Status)>;
  // Runs on the loop thread; calls `finish` exactly once.
  using Request = std::function<void(Host&, Finish)>;

  explicit Impl(const GroupOptions& options) : options_(options) {}
  ~Impl() override;

  Status Start(collective::CollectiveOptions co, net::NetOptions no, net::NetSecurity security);
  void Stop();
  // Queues `request` and waits for it; kAborted when the loop ended.
  Status Call(Request request);

  // Node.
  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  void OnPeerDown(Host& host, PeerId peer) override;
  // MetricsSink: counters only.
  void ReportModel(Round, std::span<const float>) override {}
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view, int64_t) override {}

  // group_calls.cc, loop thread.
  void Agree(Host& host, std::function<void(Host&, Status)> then);
  void AllReduce(Host& host, std::span<float> data, collective::ReduceOp op, Finish finish);
  void BroadcastFromRoot(Host& host, std::span<float> state, PeerId root, Finish finish);
  // Gathers (digest, holds) of every member and brings this peer to the
  // majority's state, pulling it into `state` when it differs. `holds`:
  // this peer's state counts (a restarted peer's does not).
  struct SyncResult {
    bool agreed_before = false;  // this peer held the majority digest
    bool all_equal = false;      // every holding member had the same digest
    bool pulled = false;
  };
  void SyncToMajority(Host& host, std::span<float> state, bool holds,
                      std::function<void(Host&, Status, SyncResult)> then);
  void OuterStep(Host& host, std::span<float> local, OuterOptions options,
                 OuterStepReport* report, Finish finish);
  void NoteMembership(const std::vector<PeerId>& members, uint32_t epoch);

  const GroupOptions options_;
  std::string listen_address_;
  std::unique_ptr<net::NetHost> host_;
  std::unique_ptr<CollectiveGroup> group_;
  std::unique_ptr<StateSync> sync_;

  // Shared between the caller's thread and the loop.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Request, std::shared_ptr<std::promise<Status>>>> queue_;
  bool stopping_ = false;
  bool loop_done_ = false;
  Membership membership_;
  std::vector<MembershipEvent> events_;
  std::mutex call_mu_;  // one call at a time
  std::thread thread_;

  // Loop thread only (and the caller's, between calls, for DilocoInit).
  std::vector<float> shared_;  // global parameters | outer momentum | step count
  bool has_state_ = false;
  bool started_ = false;
  bool called_ = false;            // a call has run (its epoch below)
  uint32_t last_call_epoch_ = 0;
  std::vector<float> scratch_;
  std::vector<float> digest_mine_;
  std::vector<float> served_copy_;  // BroadcastState's, served while it runs
  float barrier_ = 0;
  std::vector<float> gathered_;
  std::vector<PeerId> gathered_members_;
};

}  // namespace murmur::group
