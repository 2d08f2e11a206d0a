#!/usr/bin/env bash
# The test command. Tests that do not depend on the Keras backend run once;
# tests marked `per_backend` run once per backend, each in its own pytest
# process (Keras picks its backend at import). The runs go side by side, at
# most JOBS at a time (default 2), and their output streams as it comes, each
# line prefixed with its run's name: a line per test file as the file finishes,
# then each run's failures and summary. The totals at the end are read from
# each run's JUnit XML report, so pytest's own output options (-q, -v, ...)
# cannot change them.
#
#   bash scripts/test.sh                    everything, on jax, tensorflow and torch
#   BACKENDS="jax" bash scripts/test.sh     one backend
#   bash scripts/test.sh -m "not slow"      extra arguments go to every pytest run
#   TEST_REPORTS=dir bash scripts/test.sh   keeps each run's JUnit XML (per-test times) in dir
#
# First ruff checks the code's lint and format (pyproject.toml's [tool.ruff]): a finding fails the command
# before any test runs.
set -uo pipefail
cd "$(dirname "$0")/.."
read -r -a backends <<< "${BACKENDS:-jax tensorflow torch}"
jobs=${JOBS:-2}
reports=$(mktemp -d)
trap 'if [ -n "${TEST_REPORTS:-}" ]; then mkdir -p "$TEST_REPORTS" && cp "$reports"/*.xml "$TEST_REPORTS"/; fi; rm -rf "$reports"' EXIT
started=$(date +%s)
python -m ruff check --quiet . && python -m ruff format --check --quiet . || {
    echo "ruff: fix the findings above (python -m ruff check --fix . && python -m ruff format .)"; exit 1; }
# One JAX compilation cache for every run of this command (conftest.py explains it; fresh each time): the
# backend-independent run compiles on JAX too, and many of its programs are the JAX run's.
export JAX_COMPILATION_CACHE_DIR="$reports/jax-compilation-cache" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0

# A -m given by the caller narrows each run's own selection.
user_mark=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        -m) user_mark="$2"; shift 2 ;;
        -m*) user_mark="${1#-m}"; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
select_runs() {  # $1 = this run's own mark expression
    if [ -n "$user_mark" ]; then echo "($1) and ($user_mark)"; else echo "$1"; fi
}

run() {  # $1 = run name, $2 = backend, $3 = mark expression, then the paths to collect (default: all)
    local name=$1 backend=$2 mark=$3 run_started=$SECONDS
    shift 3
    echo "[$name] started (KERAS_BACKEND=$backend, -m \"$(select_runs "$mark")\"${1:+, $*})"
    # Line-buffered prefixing, so the two runs' lines interleave whole as they come.
    KERAS_BACKEND=$backend python -m pytest -m "$(select_runs "$mark")" --junitxml="$reports/$name.xml" \
        ${args[@]+"${args[@]}"} "$@" 2>&1 | sed -u "s/^/[$name] /"
    local status=${PIPESTATUS[0]}
    echo "$status" > "$reports/$name.status"
    echo "[$name] finished in $(( SECONDS - run_started )) s (pytest exit code $status)"
}

# JAX compiles every model it trains, so its run is the longest by far: it goes as two runs, the library's
# tests and the study's. The order keeps two lanes about even: jax-study and tensorflow start; once follows
# tensorflow, jax-library follows jax-study, torch follows once (2 vCPU AMD EPYC, CI of 2026-12-07: jax-study
# 251 s then jax-library 184 s; tensorflow 190 s, once 152 s, torch 114 s; 456 s in all, with CI's quick start
# running beside it at the lowest priority).
LIBRARY_TESTS=(tests/padzero src/padzero tests/test_layout.py tests/test_readme.py)
STUDY_TESTS=(tests/padzero_study src/padzero_study)
has_jax=""
for backend in "${backends[@]}"; do [ "$backend" = jax ] && has_jax=1; done
names=(${has_jax:+jax-study})
for backend in "${backends[@]}"; do
    if [ "$backend" = tensorflow ]; then names+=(tensorflow); fi
done
names+=(once ${has_jax:+jax-library})
for backend in "${backends[@]}"; do
    case "$backend" in jax|tensorflow) ;; *) names+=("$backend") ;; esac
done
for name in "${names[@]}"; do
    case "$name" in
        once) run once "${backends[0]}" "not per_backend or slow" & ;;
        jax-library) run jax-library jax "per_backend and not slow" "${LIBRARY_TESTS[@]}" & ;;
        jax-study) run jax-study jax "per_backend and not slow" "${STUDY_TESTS[@]}" & ;;
        *) run "$name" "$name" "per_backend and not slow" & ;;
    esac
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
done
wait

echo "=== totals ('once': the backend-independent tests and the slow ones, on KERAS_BACKEND=${backends[0]}) ==="
failed=()
for name in "${names[@]}"; do
    status=$(cat "$reports/$name.status" 2>/dev/null || echo 1)
    # 5 = no test selected (e.g. a -k filter that matches nothing): not a failure.
    if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then failed+=("$name"); fi
done
python - "$reports" "${names[@]}" <<'PYTHON'
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

folder, names = Path(sys.argv[1]), sys.argv[2:]
totals = {"passed": 0, "failed": 0, "skipped": 0}
for name in names:
    report = folder / f"{name}.xml"
    if not report.exists():
        print(f"{name}: no report (pytest did not finish)")
        totals["failed"] += 1
        continue
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for suite in ElementTree.parse(report).getroot().iter("testsuite"):
        tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        counts["passed"] += tests - skipped - failed
        counts["failed"] += failed
        counts["skipped"] += skipped
    print(f"{name}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    for key in totals:
        totals[key] += counts[key]
print(f"total: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
PYTHON
echo "test command done in $(( $(date +%s) - started )) s"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
