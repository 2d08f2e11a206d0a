#!/usr/bin/env bash
# The diagnose ablations, one `padzero diagnose` run each (2 seeds x 5 epochs,
# on the real data, jax). Each run resumes where it stopped, so rerunning this
# script after a kill only trains what is missing.
#   usage: bash scripts/diagnose_ablations.sh [ABLATION ...]   (default: all)
set -euo pipefail
data=${DATA:?set DATA to the path of 20news-bydate.tar.gz}
out=docs/diagnose-ablations

declare -A flags=(
  [init-scale-0.005]="--variants baseline --init-scale 0.005"
  [maxlen-300]="--variants baseline --maxlen 300"
  [maxlen-600]="--variants baseline --maxlen 600"
  [post]="--variants baseline --padding post"
  [uniform]="--variants uniform,uniform_unmasked,uniform_nonneg_unmasked --epochs 3"
)
order=(init-scale-0.005 maxlen-300 maxlen-600 post uniform)

for name in "${@:-${order[@]}}"; do
  echo "== $name: padzero diagnose ${flags[$name]}"
  # shellcheck disable=SC2086  # the flags are meant to split
  padzero diagnose --data "$data" --backend jax ${flags[$name]} --out "$out/$name"
done

python scripts/compare_diagnostics.py "$out" docs/diagnose "$out"/*/
