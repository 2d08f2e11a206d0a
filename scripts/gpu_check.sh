#!/usr/bin/env bash
# The GPU check, one prepared command for a machine with a GPU: the bench's model rows on every installed
# backend, each on the device it sees, then the full study on JAX (its default path on that device), timed.
# Everything lands in one folder (at most 8 files), to be committed under docs/ with the date and the device.
# PADZERO_GPU_CHECK=encoders runs the encoder study instead (`padzero reproduce --encoders all`), timed, resuming
# from the runs in docs/encoders: its results.jsonl, summary.csv, report.md, encoders.png and log go to
# FOLDER/encoders (for docs/encoders).
#
#   bash scripts/gpu_check.sh [FOLDER]                   default: $OUT, else gpu-check/
#   PADZERO_GPU_CHECK_QUICK=1 bash scripts/gpu_check.sh  a rehearsal in a few minutes (small sizes), on any machine
#
# Runs from a source tree (src/ on PYTHONPATH, no install). The archive is read from
# $PADZERO_NEWSGROUPS_ARCHIVE, else data/20news-bydate.tar.gz (an ignored folder: copy it there first).
set -euo pipefail
cd "$(dirname "$0")/.."
folder=${1:-${OUT:-gpu-check}}
archive=${PADZERO_NEWSGROUPS_ARCHIVE:-data/20news-bydate.tar.gz}
[ -f "$archive" ] || { echo "gpu_check: no archive at $archive; set PADZERO_NEWSGROUPS_ARCHIVE" >&2; exit 2; }
mkdir -p "$folder"
export PYTHONUNBUFFERED=1 PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
quick=${PADZERO_GPU_CHECK_QUICK:-}
backends=$(python3 -c 'import importlib.util as u; print(",".join(b for b in ("jax", "tensorflow", "torch") if u.find_spec(b)))')

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
    echo "backends installed: $backends"
} > "$folder/bench.txt"

if [ "${PADZERO_GPU_CHECK:-}" = encoders ]; then
    study_size=()
    [ -n "$quick" ] && study_size=(--quick --encoders average,lstm)
    [ -z "$quick" ] && study_size=(--encoders all)
    mkdir -p "$folder/encoders"
    # The full grid resumes from the runs a CPU finished (docs/encoders: flatten and average): they are skipped,
    # not redone. Those ran on the fast path (JAX's CPU default), so --fast-path keeps the folder's settings; it
    # changes only the flatten cells, which are done, and is exact (the same function as the plain layers).
    fast_path=()
    if [ -z "$quick" ] && [ -f docs/encoders/results.jsonl ]; then
        cp docs/encoders/results.jsonl docs/encoders/config.json "$folder/encoders/"
        fast_path=(--fast-path)
    fi
    started=$(date +%s)
    status=0
    python3 -m padzero_study reproduce --data "$archive" --backend jax --out "$folder/encoders" \
        "${study_size[@]}" ${fast_path[@]+"${fast_path[@]}"} > "$folder/encoders/reproduce.log" 2>&1 || status=$?
    echo "encoder study wall time: $(( $(date +%s) - started )) s (exit code $status)" >> "$folder/encoders/reproduce.log"
    rm -f "$folder"/encoders/*.lock "$folder/encoders/learning_curves.png"  # 24 panels of curves: kept out of the 8 files
    tail -n 2 "$folder/encoders/reproduce.log"
    exit "$status"
fi

bench_size=(--steps 200 --repeats 3)
[ -n "$quick" ] && bench_size=(--quick)
python3 -m padzero_study bench --parts model --backends "$backends" --data "$archive" "${bench_size[@]}" \
    --out "$folder/bench.json" >> "$folder/bench.txt" 2>&1

study_size=()
[ -n "$quick" ] && study_size=(--quick)
started=$(date +%s)
python3 -m padzero_study reproduce --data "$archive" --backend jax --out "$folder/study" "${study_size[@]}" \
    > "$folder/study.log" 2>&1
echo "study wall time: $(( $(date +%s) - started )) s" >> "$folder/study.log"
rm -f "$folder"/study/*.lock  # the study's lock files: nothing to commit
tail -n 2 "$folder/study.log"
