// Turns the models that nodes report (MetricsSink::ReportModel) into
// evaluation rows: when every evaluated peer has reported round r (r a
// multiple of `every`, or the last round), their snapshots are evaluated on
// the test set in parallel and one EvalRow is emitted with accuracy
// statistics, the consensus distance and the traffic so far.
//
// It also decides when a run is over (RunEnd): after the last round's row,
// at the first row whose mean accuracy reaches `target_acc`, or, once the
// driver reports a crossed budget (EndAfterRoundInProgress), after the row
// of the round then in progress.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/core/snapshot.h"
#include "murmur/core/thread_pool.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/model.h"

namespace murmur {

struct EvalConfig {
  int64_t every = 10;        // evaluate every this many rounds (and the last)
  int64_t peers = 0;         // evaluate a seeded sample of this many; 0: all
  int64_t test_samples = 0;  // first N test samples; 0: the whole test set
  // eval.target_acc: the run ends at the first row whose acc_mean is at
  // least this (that row is its last); absent: no target.
  std::optional<double> target_acc;
};

// Why a run ended, as summary.json's "ended_by" names it (RunEndName).
enum class RunEnd {
  kIncomplete,  // not (yet) ended normally: cut short, stalled or stopped
  kRounds,      // the last configured round's row is out
  kTargetAcc,   // a row reached eval.target_acc
  kTimeBudget,  // virtual time reached sim.budget_time_s
  kByteBudget,  // the bytes sent reached sim.budget_bytes
};

// "incomplete", "rounds", "target_acc", "time_budget", "byte_budget".
std::string_view RunEndName(RunEnd end);

// The first evaluation row whose acc_mean reached eval.target_acc.
struct TargetReached {
  int64_t round = 0;
  double time_s = 0;
  uint64_t bytes_sent = 0;
};

// One evaluation point. Counters are cumulative.
struct EvalRow {
  int64_t round = 0;
  double time_s = 0;          // virtual time the last model was reported
  double acc_mean = 0;
  double acc_min = 0;
  double acc_max = 0;
  double loss_mean = 0;       // test cross-entropy
  double train_loss = 0;      // mean training loss reported for this round
  double consensus_dist = 0;  // mean L2 distance of models to their average
  uint64_t bytes_sent = 0;
  uint64_t msgs_sent = 0;
  int64_t peers_evaluated = 0;
  uint64_t bytes_received = 0;  // delivered to a peer (lost ones excluded)
  uint64_t max_peer_bytes = 0;  // the busiest peer's bytes sent + received
  // Runs with a server (FedAvg and the other federated protocols): bytes
  // sent to it (uplink, lost ones included) and by it (downlink); they add
  // up to bytes_sent. Absent otherwise.
  std::optional<uint64_t> bytes_up;
  std::optional<uint64_t> bytes_down;
  // Codec frame bytes after each stage of the chain (protocol counters named
  // "bytes_stage_*", "bytes_up_stage_*", "bytes_down_stage_*"; see
  // protocol/codec_stages.h), by counter name. Empty for uncoded runs.
  std::map<std::string, uint64_t> stage_bytes;
  // Runs with [privacy]: the (epsilon, privacy.delta) spent by this round
  // (privacy/client_dp.h RunEpsilon); +infinity without noise. Absent
  // otherwise.
  std::optional<double> epsilon;
};

// Who hears about a run's progress. Either callback may be empty.
struct RunObserver {
  // Every evaluation row, as soon as it is emitted.
  std::function<void(const EvalRow&)> on_row;
  // The highest round any evaluated peer has finished, when it grows.
  std::function<void(int64_t round)> on_round;
  // Polled between simulator events (from the thread running the
  // simulation); once it returns true the run ends early, keeping the rows
  // emitted so far (e.g. murmur.run on Ctrl-C). Keep it cheap: an atomic load.
  std::function<bool()> stop;
};

// What the collector asks of whoever runs the nodes, at a report.
struct CollectorContext {
  SimTime now;
  uint64_t bytes_sent = 0;
  uint64_t msgs_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t max_peer_bytes = 0;
  std::optional<uint64_t> bytes_up;
  std::optional<uint64_t> bytes_down;
};

// Not thread-safe; call from the event loop. `model`, `test` and `pool` must
// outlive it.
class EvalCollector {
 public:
  EvalCollector(const Model& model, const Dataset& test,
                const EvalConfig& config, int64_t total_rounds,
                std::vector<PeerId> evaluated, int64_t num_peers,
                ThreadPool& pool, std::function<CollectorContext()> context,
                RunObserver observer);
  ~EvalCollector();

  // Emits a round's row at the first evaluated model reported for it (for
  // protocols where any of several peers holds the round's model).
  void EmitOnFirstReport() { reports_per_row_ = 1; }
  // Rows then carry epsilon = epsilon_of_round(row.round).
  void SetEpsilonOfRound(std::function<double(int64_t round)> epsilon_of_round) {
    epsilon_of_round_ = std::move(epsilon_of_round);
  }
  // The sink to hand peer `peer`'s host.
  MetricsSink* SinkFor(PeerId peer);
  // Makes the round in progress the run's last: the first round no
  // evaluated peer had reported when this is called (or the last configured
  // round, if that comes first) gets a row, and the run ends with it. Call
  // once a budget is crossed; later calls change nothing.
  void EndAfterRoundInProgress(RunEnd why);
  // Emits rows for rounds some evaluated peers never reported (a run cut
  // short by its time limit), with the peers that did. Once the run has
  // ended (finished()), drops rounds beyond its last row instead.
  void Flush();
  // True once the run's last row is out (RunEnd says which).
  bool finished() const { return finished_; }
  RunEnd ended_by() const { return ended_by_; }
  // Set when a row reached eval.target_acc.
  const std::optional<TargetReached>& target_reached() const { return target_reached_; }
  const std::vector<EvalRow>& rows() const { return rows_; }
  // Protocol counters (MetricsSink::Count), by name.
  const std::map<std::string, int64_t>& counters() const { return counters_; }

  // Snapshots (core/snapshot.h, eval_collector_snapshot.cc): the rows so
  // far, the models reported for rounds not yet evaluated, the training
  // losses, the counters and how the run ends. Restore reads into a
  // collector built with the same arguments; kCorrupt for bytes that do not
  // fit. Restored rows are not passed to the observer again.
  void Save(SnapshotWriter& out) const;
  Status Restore(SnapshotReader& in);

 private:
  class PeerSink;
  struct Pending {
    std::map<uint32_t, std::vector<float>> models;  // by peer
    SimTime last_report;
  };
  struct LossSum {
    double sum = 0;
    int64_t count = 0;
  };
  void OnModel(PeerId peer, Round round, std::span<const float> params);
  void OnTrainLoss(Round round, double loss);
  bool IsEvalRound(int64_t round) const;
  void Emit(int64_t round, Pending& pending);
  void EndWith(const EvalRow& row);

  const Model& model_;
  const Dataset& test_;
  const EvalConfig config_;
  const int64_t total_rounds_;
  std::vector<bool> is_evaluated_;
  size_t num_evaluated_;
  size_t reports_per_row_;
  ThreadPool& pool_;
  std::function<CollectorContext()> context_;
  RunObserver observer_;
  int64_t max_round_ = -1;
  std::vector<std::unique_ptr<PeerSink>> sinks_;
  std::map<std::string, int64_t> counters_;
  std::map<int64_t, Pending> pending_;
  // Training losses of every round not yet emitted (any round may become
  // the last one's, EndAfterRoundInProgress).
  std::map<int64_t, LossSum> losses_;
  std::vector<EvalRow> rows_;
  bool finished_ = false;
  RunEnd ended_by_ = RunEnd::kIncomplete;
  // The row that ends the run early (a crossed budget), and why.
  std::optional<int64_t> final_round_;
  RunEnd final_reason_ = RunEnd::kIncomplete;
  std::optional<TargetReached> target_reached_;
  std::function<double(int64_t)> epsilon_of_round_;
};

// A seeded sample of `count` of `candidates` (all when count <= 0 or
// count >= candidates.size()), sorted.
std::vector<PeerId> SampleEvaluatedPeers(const std::vector<PeerId>& candidates,
                                         int64_t count, uint64_t seed);

}  // namespace murmur
