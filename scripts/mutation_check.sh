#!/usr/bin/env bash
# Mutation checks: deletes the defining step of a protocol (D-PSGD's mixing,
# gossip's merge, plain or variance-corrected, gossip's variance correction,
# MoDeST's aggregation, Epidemic Learning's mixing, Bristle's neighbour
# acceptance), rebuilds the tests and runs them,
# and reports which tests fail. Every mutation must make at least one test
# fail ("killed"); the script exits 1 when one survives, 2 when a mutation no
# longer applies (the source changed: update its pattern here).
#
# Each mutation is a one-line sed substitution applied to the source file
# in place; the file is restored from a copy after the run (and on any exit,
# also Ctrl-C), then the tests are rebuilt once more from the restored
# sources. Never commit while it runs.
#
# Usage: scripts/mutation_check.sh [NAME...]   (default: all mutations)
#   BUILD_DIR   the configured build tree (default: build)
#   JOBS        parallel build jobs (default: 2)
# Takes about 1-2 minutes per mutation on a quiet 2-core machine (an
# incremental rebuild of one file and three test binaries, then the unit tests
# and the relevant scenarios); 17 min 43 s for all eight under a load of 10-15.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-2}"
TARGETS=(protocol_test robust_test scenario_test)

# name | file | sed substitution (one line) | scenario_test filter
MUTATIONS=(
  "dpsgd-no-mixing|src/protocol/dpsgd.cc|s/^    ApplyMix(x, mix);$/    (void)x;  \/\/ MUTATION: no mixing/|Protocols.*:Dpsgd.*:Choco.*"
  "gossip-no-variance-correction|src/protocol/model_merge.cc|s/^  if (rule != MergeRule::kVarianceCorrected) return;$/  return;  \/\/ MUTATION: no correction/|Gossip.*"
  "gossip-no-average-merge|src/protocol/gossip.cc|s/^    for (size_t i = 0; i < x.size(); ++i) x\[i\] = 0.5f \* (x\[i\] + model\[i\]);$/    (void)model;  \/\/ MUTATION: no mixing/|Protocols.*:Gossip.*"
  "gossip-no-variance-corrected-merge|src/protocol/gossip.cc|s/^    MergeModels(options_.merge, models, options_.tensors, x);$/    (void)models;  \/\/ MUTATION: no mixing/|Gossip.*"
  "modest-no-aggregation|src/protocol/modest.cc|s/^  for (size_t i = 0; i < params.size(); ++i) aggregation.sum\[i\] += params\[i\];$/  for (size_t i = 0; i < params.size(); ++i) aggregation.sum[i] = params[i] * static_cast<double>(aggregation.from.size());  \/\/ MUTATION: the last model, not the mean/|Modest.*"
  "modest-trainers-ignore-the-round-model|src/protocol/modest.cc|s/^  if (model.data() != x.data()) std::copy(model.begin(), model.end(), x.begin());$/  (void)model;  \/\/ MUTATION: train the own model/|Modest.*"
  "epidemic-no-mixing|src/protocol/epidemic.cc|s/^  if (!arrived.empty()) {$/  if (false) {  \/\/ MUTATION: no mixing/|EpidemicLearning.*"
  "bristle-rejects-every-neighbour|src/protocol/bristle_combiner.cc|s/^    if (!HasNonFinite(v)) finite.push_back(v);$/    if (!HasNonFinite(v) \&\& false) finite.push_back(v);  \/\/ MUTATION: reject all/|BristleScenario.*"
)

BACKUP_DIR="$(mktemp -d)"
ACTIVE_FILE=""
restore() {
  if [[ -n "$ACTIVE_FILE" ]]; then
    cp "$BACKUP_DIR/original" "$ACTIVE_FILE"
    ACTIVE_FILE=""
  fi
}
cleanup() {
  restore
  rm -rf "$BACKUP_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() {
  cmake --build "$BUILD_DIR" -j "$JOBS" --target "${TARGETS[@]}" >"$BACKUP_DIR/build.log" 2>&1 || {
    tail -30 "$BACKUP_DIR/build.log" >&2
    return 1
  }
}

# Prints the names of the failing tests of one binary run.
failures() {
  grep -E '^\[  FAILED  \] [A-Za-z0-9_]+\.[A-Za-z0-9_/]+' "$1" | grep -v ' listed below' |
    awk '{print $4}' | sort -u || true
}

wanted=("$@")
survived=0
for entry in "${MUTATIONS[@]}"; do
  IFS='|' read -r name file expr filter <<<"$entry"
  if ((${#wanted[@]} > 0)) && [[ ! " ${wanted[*]} " == *" $name "* ]]; then continue; fi
  cp "$file" "$BACKUP_DIR/original"
  ACTIVE_FILE="$file"
  sed -i "$expr" "$file"
  if cmp -s "$file" "$BACKUP_DIR/original"; then
    restore
    echo "mutation $name: pattern not found in $file; update scripts/mutation_check.sh" >&2
    exit 2
  fi
  echo "== $name ($file)"
  build
  : >"$BACKUP_DIR/failed"
  for binary in protocol_test robust_test; do
    "$BUILD_DIR/$binary" >"$BACKUP_DIR/$binary.log" 2>&1 || true
    failures "$BACKUP_DIR/$binary.log" | sed "s/^/   $binary: /" >>"$BACKUP_DIR/failed"
  done
  "$BUILD_DIR/scenario_test" --gtest_filter="$filter" >"$BACKUP_DIR/scenario.log" 2>&1 || true
  failures "$BACKUP_DIR/scenario.log" | sed "s/^/   scenario_test: /" >>"$BACKUP_DIR/failed"
  restore
  if [[ -s "$BACKUP_DIR/failed" ]]; then
    echo "   killed by:"
    cat "$BACKUP_DIR/failed"
  else
    echo "   SURVIVED: no test failed"
    survived=1
  fi
done

echo "== rebuilding the unmutated tests"
build
exit "$survived"
