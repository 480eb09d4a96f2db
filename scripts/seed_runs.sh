# Sourced by the table scripts that run every row for several seeds
# (protocol_figures.sh, spsa_results.sh). Expects MURMUR, OUT, SEEDS and an
# array ROWS; ONLY=REGEX skips the rows whose name does not match.
#
# run NAME LABEL ARGS...: `murmur run ARGS` once per seed into
# $OUT/NAME-s<seed>/ (a run that has a summary.json is not run again), then
# appends "LABEL=dir1,dir2,..." to ROWS for scripts/seed_table.py.
run() {
  local name=$1 label=$2 dirs=""
  shift 2
  if [[ -n ${ONLY:-} && ! $name =~ $ONLY ]]; then return; fi
  for seed in $SEEDS; do
    local dir=$OUT/$name-s$seed
    if [[ ! -f $dir/summary.json ]] &&
       ! nice -n 10 "$MURMUR" run "$@" --seed "$seed" --threads 1 --quiet --out "$dir" > /dev/null
    then
      echo "${0##*/}: $name, seed $seed did not finish (see $dir/summary.json)" >&2
    fi
    dirs+=${dirs:+,}$dir
  done
  ROWS+=("$label=$dirs")
}
