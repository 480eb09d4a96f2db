#include "sweep_slurm.h"

#include <cctype>
#include <sstream>

namespace murmur::cli {

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=+,:") == std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

namespace {

// A one-line comment: no newline may end it early.
std::string CommentSafe(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

// Slurm reads #SBATCH lines itself, without a shell: keep the name plain.
std::string JobName(std::string s) {
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  }
  return s.empty() ? "murmur-sweep" : s;
}

// Runs one `murmur run` as `murmur sweep` does: stdin from /dev/null,
// stdout and stderr into DIR/log.txt, then "exit N" and "wall_s X" into
// DIR/sweep_run.txt, which the sweep reads to tell a finished run.
constexpr const char* kRunOne = R"sh(run_one() {
  local dir=$1
  shift
  mkdir -p "$dir"
  rm -f "$dir/sweep_run.txt"
  local start rc=0
  start=$(date +%s.%N)
  "$MURMUR" "$@" < /dev/null > "$dir/log.txt" 2>&1 || rc=$?
  printf 'exit %d\nwall_s %s\n' "$rc" \
    "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')" \
    > "$dir/sweep_run.txt"
  echo "murmur sweep task $SLURM_ARRAY_TASK_ID: $dir exit $rc"
  return "$rc"
}
)sh";

}  // namespace

std::string SlurmArrayScript(const SlurmScriptSpec& spec) {
  const size_t tasks = spec.cells.size();
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Written by `murmur sweep --slurm` for " << CommentSafe(spec.grid_path) << ":\n"
    << "# " << tasks << " array task(s), one per grid cell; task k runs cell k's runs (one per\n"
    << "# seed) one after another. Submit with `sbatch THIS_FILE` from a machine whose\n"
    << "# file system the compute nodes share; add the #SBATCH lines your cluster needs\n"
    << "# (--partition, --time, --mem). Rerun a few cells with `sbatch --array=3,5 THIS_FILE`.\n"
    << "# When every task is done, `murmur sweep " << CommentSafe(spec.grid_path) << " --out "
    << CommentSafe(spec.out_dir) << "`\n"
    << "# finds the runs complete and writes results.csv, results.md and heatmap.svg.\n"
    << "#SBATCH --job-name=" << JobName(spec.job_name) << "\n"
    << "#SBATCH --array=0-" << (tasks == 0 ? 0 : tasks - 1) << "\n"
    << "#SBATCH --ntasks=1\n"
    << "#SBATCH --cpus-per-task=" << spec.cpus_per_task << "\n"
    << "#SBATCH --output=" << spec.log_dir << "/slurm-%A_%a.out\n"
    << "set -uo pipefail\n"
    << "MURMUR=" << ShellQuote(spec.murmur) << "\n"
    << "cd " << ShellQuote(spec.workdir) << " || exit 1\n"
    << kRunOne << "failed=0\n"
    << "case \"${SLURM_ARRAY_TASK_ID:?not set: submit this script with sbatch (an array job)}\" "
       "in\n";
  for (size_t k = 0; k < tasks; ++k) {
    const SlurmCell& cell = spec.cells[k];
    s << "  " << k << ")  # " << CommentSafe(cell.name) << "\n";
    for (const SlurmRun& run : cell.runs) {
      s << "    run_one " << ShellQuote(run.dir);
      for (const std::string& a : run.args) s << " " << ShellQuote(a);
      s << " || failed=$((failed + 1))\n";
    }
    s << "    ;;\n";
  }
  s << "  *)\n"
    << "    echo \"murmur sweep: no cell $SLURM_ARRAY_TASK_ID (this grid has cells 0-"
    << (tasks == 0 ? 0 : tasks - 1) << ")\" >&2\n"
    << "    exit 2\n"
    << "    ;;\n"
    << "esac\n"
    << "[ \"$failed\" -eq 0 ] || { echo \"murmur sweep: $failed run(s) of this cell failed; "
       "see their log.txt\" >&2; exit 1; }\n";
  return s.str();
}

}  // namespace murmur::cli
