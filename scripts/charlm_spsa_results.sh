#!/usr/bin/env bash
# Runs the character-LM table of docs/protocols/spsa.md for seeds 1-3 and
# prints it (scripts/seed_table.py start-end): per seed, a 6,000-step Adam
# pretraining on the `computers` fortunes (examples/charlm_pretrain.toml),
# then from that seed's checkpoint, on `literature`: SPSA fine-tuning with 8
# and with 16 peers (examples/spsa_charlm.toml), a first-order Adam fine-tune
# of 1,000 steps for comparison, and SPSA from a random initialization.
# Every figure is the mean over the seeds ± the half width of its 95%
# Student-t interval. Runs go to OUT/<name>-s<seed>/ (default runs/charlm);
# a run that has a summary.json is not run again. Needs a build
# (scripts/build.sh); about 15 minutes of one core per seed.
set -euo pipefail
cd "$(dirname "$0")/.."
MURMUR=${MURMUR:-./build/murmur}
OUT=${OUT:-runs/charlm}
SEEDS=${SEEDS:-1 2 3}
LITERATURE=/usr/share/games/fortunes/literature
declare -A DIRS=()

# one NAME SEED ARGS...: `murmur run ARGS` into OUT/NAME-sSEED unless done;
# only a finished run goes into the table.
one() {
  local name=$1 seed=$2 dir=$OUT/$1-s$2
  shift 2
  if [[ ! -f $dir/summary.json ]] &&
     ! nice -n 10 "$MURMUR" run "$@" --seed "$seed" --threads 1 --quiet --out "$dir" > /dev/null
  then
    echo "${0##*/}: $name, seed $seed did not finish (see $dir); left out" >&2
    return
  fi
  DIRS[$name]+=${DIRS[$name]:+,}$dir
}

for seed in $SEEDS; do
  one pretrain "$seed" examples/charlm_pretrain.toml
  ckpt=$OUT/pretrain-s$seed/charlm_computers.ckpt
  one spsa8 "$seed" examples/spsa_charlm.toml --set "model.init_checkpoint=\"$ckpt\""
  one spsa16 "$seed" examples/spsa_charlm.toml --set "model.init_checkpoint=\"$ckpt\"" \
      --set peers=16 --set spsa.lr=2e-3
  one adam "$seed" examples/charlm_pretrain.toml --set "data.path=\"$LITERATURE\"" \
      --set "model.init_checkpoint=\"$ckpt\"" --set 'train.save_checkpoint=""' \
      --set protocol.rounds=10
  one spsa_random "$seed" examples/spsa_charlm.toml --set 'model.init_checkpoint=""' \
      --set protocol.rounds=200 --set eval.every=200
done

declare -a ROWS=()
row() {  # LABEL NAME: a table row over NAME's finished runs, if any
  if [[ -n ${DIRS[$2]:-} ]]; then ROWS+=("$1=${DIRS[$2]}"); fi
}
row "Adam pretraining, 1 peer, 6,000 steps on computers (random init -> pretrained)" pretrain
row "SPSA fine-tuning on literature, 8 peers, 1,000 steps" spsa8
row "SPSA fine-tuning, 16 peers, spsa.lr = 2e-3, 1,000 steps" spsa16
row "first-order Adam fine-tuning, 1 peer, 1,000 steps" adam
row "SPSA from a random initialization, 8 peers, 200 steps" spsa_random
/usr/bin/python3 scripts/seed_table.py start-end "${ROWS[@]}"
