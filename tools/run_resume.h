// `murmur run`'s snapshots and `--resume DIR` (experiment/run_snapshot.h):
// the config hash a snapshot is checked against, and reopening an
// interrupted run's directory.
#pragma once

#include <cstdint>
#include <string>

#include "murmur/core/status.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/run_snapshot.h"

namespace murmur::cli {

// FNV-1a 64 of the resolved TOML without the keys that do not change a
// run's results: `threads` and `sim.snapshot_every_s`. kInvalidArgument if
// it does not parse.
Result<uint64_t> RunConfigHash(const std::string& resolved_toml);

// An interrupted run to continue: its snapshot, checked against
// `config_hash`, and its metrics files cut back to the snapshot's lengths.
struct ResumedRun {
  LoadedSnapshot snapshot;
  MetricsWriter writer;
};
Result<ResumedRun> OpenResumedRun(const std::string& dir, uint64_t config_hash);

}  // namespace murmur::cli
