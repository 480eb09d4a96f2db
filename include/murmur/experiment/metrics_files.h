// A run's result files, written by MetricsWriter and read back by
// ReadMetricsCsv (for `murmur report`). An output directory holds:
//   config.toml    the fully resolved configuration
//   metrics.jsonl  one JSON object per evaluation row
//   metrics.csv    the same rows as CSV
// and, once the run is over (WritePeerTraffic, WriteRunSummary):
//   peers.csv      per node: peer,role,bytes_sent,bytes_received,msgs_sent,
//                  msgs_received (whole serialized messages, headers included)
//   summary.json   the last row's accuracy and traffic, accuracy per MB sent,
//                  virtual time and the protocol counters
// Rows are appended and flushed as they come, so a run that is cut short
// keeps what it measured. Only virtual-time quantities are written, so the
// same seed gives byte-identical files.
#pragma once

#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/experiment/eval_collector.h"
#include "murmur/sim/simulator.h"

namespace murmur {

class MetricsWriter {
 public:
  // Creates `dir` (and parents) and the three files. kUnavailable when the
  // directory or files cannot be created.
  static Result<MetricsWriter> Open(const std::string& dir,
                                    const std::string& resolved_toml);
  // Like Open, but keeps the rows already in `dir`'s metrics files and
  // appends after them: a `murmur peer` restarted with the same --out (after
  // a crash or kill -9) continues its files instead of erasing what its
  // earlier life measured. A row the earlier life left half written is cut
  // off first. Rows of a round reported again follow the earlier ones
  // (readers keep the first, MergePeerRows); earlier() says where the
  // earlier life's counters ended, for the caller to count on from.
  // kInvalidArgument, with nothing in `dir` changed, when `dir` holds
  // another run (its config.toml differs from `resolved_toml`) or
  // metrics.csv has another header or cannot be read.
  static Result<MetricsWriter> OpenAppending(const std::string& dir,
                                             const std::string& resolved_toml);
  // Reopens the files of an interrupted run in `dir` to continue it
  // (`murmur run --resume`): CutTo the lengths at the snapshot, then
  // appends from there. kUnavailable when they cannot be opened.
  static Result<MetricsWriter> Reopen(const std::string& dir, uint64_t jsonl_bytes,
                                      uint64_t csv_bytes);
  // Cuts metrics.jsonl and metrics.csv in `dir` back to `jsonl_bytes` and
  // `csv_bytes`, the lengths `recorded_in` (a snapshot or state file) holds.
  // Both are checked before either is cut: kInvalidArgument, with nothing
  // changed, when a file is shorter than recorded (a missing one is 0
  // bytes) or the recorded length does not end a row.
  static Status CutTo(const std::string& dir, uint64_t jsonl_bytes, uint64_t csv_bytes,
                      const std::string& recorded_in);
  Status Append(const EvalRow& row);

  // OpenAppending's view of the earlier lives: their last row's traffic
  // totals, and the wall-clock seconds from the first life's start (kept in
  // run_start.txt) to this open. Zero for a fresh directory and for Open.
  struct EarlierLife {
    double seconds = 0;
    uint64_t bytes_sent = 0;
    uint64_t msgs_sent = 0;
    uint64_t bytes_received = 0;
    uint64_t max_peer_bytes = 0;
  };
  const EarlierLife& earlier() const { return earlier_; }
  // The lengths of metrics.jsonl and metrics.csv written so far.
  std::pair<uint64_t, uint64_t> lengths() { return {jsonl_bytes_, csv_bytes_}; }

  // One row as the JSON line written to metrics.jsonl (without newline).
  static std::string ToJson(const EvalRow& row);

 private:
  std::ofstream jsonl_;
  std::ofstream csv_;
  uint64_t jsonl_bytes_ = 0;
  uint64_t csv_bytes_ = 0;
  EarlierLife earlier_;
  std::string dir_;
};

// Mean accuracy per megabyte (1e6 bytes) sent; 0 when nothing was sent.
double AccuracyPerMb(const EvalRow& row);

// Writes `dir`/peers.csv, one line per node in id order.
// REQUIRES: roles.size() == traffic.size(). kUnavailable when it cannot.
Status WritePeerTraffic(const std::string& dir, const std::vector<std::string>& roles,
                        const std::vector<PeerTraffic>& traffic);

// What summary.json holds besides the last row.
struct RunTotals {
  double virtual_time_s = 0;
  int64_t rounds = 0;         // configured
  // The run ended normally (RunCompleted): by its rounds, eval.target_acc or
  // a budget, with every evaluated peer in the last row.
  bool finished = false;
  RunEnd ended_by = RunEnd::kIncomplete;
  std::optional<double> target_acc;            // eval.target_acc, if set
  std::optional<TargetReached> target_reached;
  std::map<std::string, int64_t> counters;
};

// Writes `dir`/summary.json: round, acc_mean, acc_min, acc_max, loss_mean,
// bytes_sent, bytes_received, max_peer_bytes, msgs_sent, mb_sent,
// acc_per_mb, the row's bytes_up/bytes_down and stage columns when present,
// virtual_time_s, rounds, finished, ended_by (RunEndName; null unless
// finished), target_acc, round_to_target, time_to_target_s, bytes_to_target
// (null when there is no target or it was not reached), counters. Only
// virtual-time quantities, so it is byte-identical for the same seed.
// kUnavailable when it cannot.
Status WriteRunSummary(const std::string& dir, const EvalRow& last, const RunTotals& totals);

// Whether `dir`/summary.json (WriteRunSummary) says the run finished: false
// when it is missing or unreadable. A run ended by a budget or its target
// has finished although its last row is not the last round's.
bool SummarySaysFinished(const std::string& dir);

// What one process of a network run (`murmur peer`) writes as its
// summary.json at exit, and what `murmur launch` reads back to build the
// run's peers.csv and summary.json.
struct NodeSummary {
  PeerId peer;
  std::string name;            // the peer's public-key name
  std::string role = "unknown";  // as in peers.csv
  bool finished = false;       // it finished its part of the run
  bool first_report = false;   // the run's rows come from a round's first report
  PeerTraffic traffic;         // whole messages, as in peers.csv
  // Transport counters (wire bytes, handshakes, ...), in the order written.
  std::vector<std::pair<std::string, uint64_t>> transport;
  std::map<std::string, int64_t> counters;  // protocol and runtime counters
  // DP-SGD peers: their own sample-level epsilon at the end (+infinity
  // without noise); absent otherwise.
  std::optional<double> epsilon;
};

// Writes `dir`/summary.json: peer, name, role, finished, first_report,
// bytes_sent, bytes_received, msgs_sent, msgs_received, the transport
// counters and counters. kUnavailable when it cannot.
Status WriteNodeSummary(const std::string& dir, const NodeSummary& summary);

// Reads what WriteNodeSummary wrote. A missing or unreadable file (its
// process was killed) gives the defaults: role "unknown", zero traffic,
// finished false.
NodeSummary ReadNodeSummary(const std::string& dir);

// Reads the rows of a metrics.csv written by MetricsWriter. kNotFound if the
// file is missing; kCorrupt naming the line for a wrong header, a wrong
// number of fields or a field that is not a number.
Result<std::vector<EvalRow>> ReadMetricsCsv(const std::string& path);

}  // namespace murmur
