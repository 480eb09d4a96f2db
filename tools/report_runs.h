// What `murmur report` knows about finished runs: each run directory's
// metrics and recorded config, the runs grouped by "differs only in its
// seed", each group's curves aggregated over its seeds (mean, 95% interval,
// min and max per evaluated round; seed_stats.h), and accuracy at equal
// bytes or equal virtual time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/experiment/eval_collector.h"
#include "seed_stats.h"

namespace murmur::cli {

// One run directory written by `murmur run --out`.
struct RunRecord {
  std::string dir;
  std::string name;  // dir relative to the common parent of all runs (RelativeRunNames)
  uint64_t seed = 0;
  bool has_config = false;  // config.toml was there
  // The recorded config.toml without `seed` and `threads` (which do not
  // change results), re-serialized so that key order does not matter. Runs
  // with equal keys differ only in their seed. Without config.toml: the dir.
  std::string group_key;
  std::vector<EvalRow> rows;
  // Optional summary.json figures (absent keys are absent here), e.g.
  // time_to_target_s, bytes_to_target, round_to_target, virtual_time_s.
  std::map<std::string, double> summary;
  std::string ended_by;  // summary.json's "ended_by" when present
  // summary.json has "time_to_target_s" (the run had eval.target_acc), null
  // or not: null means the target was not reached.
  bool has_target = false;
};

// Reads DIR/metrics.csv (required), DIR/config.toml and DIR/summary.json
// (optional). kNotFound / kCorrupt naming the file when metrics.csv is
// missing or malformed, kCorrupt when config.toml or summary.json is there
// but does not parse.
Result<RunRecord> LoadRun(const std::string& dir);

// Sets each run's name to its dir relative to the deepest folder holding
// every run ("runs/a/s1 runs/b/s1" -> "a/s1", "b/s1"); a single run keeps its
// last path component.
void RelativeRunNames(std::vector<RunRecord>& runs);

// Runs that differ only in their seed, in the order their first run came.
struct RunGroup {
  std::string label;          // the runs' names with the seed replaced by '*'
  std::vector<size_t> runs;   // indexes into the runs given to GroupBySeed
};

// Groups by group_key. A group's label is its runs' common name once each
// run's seed, written as a number in its name, is replaced by '*'
// ("dpsgd-s1", "dpsgd-s2" -> "dpsgd-s*"); a one-run group keeps the run's
// name; names that do not agree give "FIRST (+N seeds)".
std::vector<RunGroup> GroupBySeed(const std::vector<RunRecord>& runs);

// The x axes a run can be read against.
enum class Axis { kRound, kTime, kMb };

// x of a row on `axis`: round, virtual seconds, or MB (1e6 bytes) sent.
double AxisValue(const EvalRow& row, Axis axis);

// The metrics a report can show, by metrics.csv column name (acc_mean,
// acc_min, acc_max, loss_mean, train_loss, consensus_dist, mb_sent,
// mb_received, max_peer_mb, msgs_sent, peers_evaluated).
const std::vector<std::string>& MetricNames();
// REQUIRES: name is one of MetricNames().
double MetricValue(const EvalRow& row, const std::string& name);

// Mean test accuracy of the last evaluation at or before `x` on `axis`; NaN
// when the first evaluation is already past `x`. A run that ended before `x`
// gives its final accuracy (it spent less than the budget).
double AccuracyAt(const std::vector<EvalRow>& rows, Axis axis, double x);

// One group's curve of one metric over its seeds, per evaluated round that
// every seed of the group reached.
struct GroupCurve {
  std::vector<int64_t> round;
  std::vector<double> time_s;   // mean over seeds
  std::vector<double> mb;       // mean over seeds
  std::map<std::string, std::vector<SeedStats>> stats;  // by metric name
  std::map<std::string, std::vector<double>> min;       // over seeds
  std::map<std::string, std::vector<double>> max;
};

// Aggregates every metric of MetricNames() for `group`.
GroupCurve AggregateGroup(const std::vector<RunRecord>& runs, const RunGroup& group);

// Final figures of one group, over its seeds.
struct GroupSummary {
  SeedStats final_acc;
  SeedStats final_acc_min;
  SeedStats mb_sent;
  SeedStats virtual_s;
  std::vector<SeedStats> at_mb;    // one per ReportPoints::mb
  std::vector<SeedStats> at_time;  // one per ReportPoints::time_s
  // Mean over the seeds that reached the target (summary.json's
  // time_to_target_s); n = how many did. n = 0 when none recorded it.
  SeedStats time_to_target;
  SeedStats mb_to_target;
  size_t target_runs = 0;  // runs with a target (RunRecord::has_target)
};

struct ReportPoints {
  std::vector<double> mb;
  std::vector<double> time_s;
};

// Runs without rows are left out of every figure. A NaN AccuracyAt (the run
// had no evaluation by then) leaves that run out of that column.
GroupSummary SummarizeGroup(const std::vector<RunRecord>& runs, const RunGroup& group,
                            const ReportPoints& points);

}  // namespace murmur::cli
