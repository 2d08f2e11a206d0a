#!/usr/bin/env bash
# Runs the test suite (pytest) once per Keras backend: Keras picks its backend
# at import, so each backend needs its own pytest process. Extra arguments go
# to pytest, e.g. `bash scripts/test.sh -m "not slow"`. BACKENDS="jax torch"
# narrows the set. The last line sums the counts of every backend.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
passed_total=0
failed_total=0
skipped_total=0
log=$(mktemp)
for backend in ${BACKENDS:-jax tensorflow torch}; do
    echo "=== KERAS_BACKEND=$backend ==="
    KERAS_BACKEND=$backend python -m pytest -q "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    # 5 = no test collected (e.g. a -k filter that matches nothing): not a failure.
    if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then
        failed+=("$backend")
    fi
    summary=$(tail -n 1 "$log")
    count() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE "[0-9]+" || echo 0; }
    passed_total=$((passed_total + $(count passed)))
    failed_total=$((failed_total + $(count failed) + $(count error)))
    skipped_total=$((skipped_total + $(count skipped)))
done
rm -f "$log"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "FAILED on: ${failed[*]}"
fi
echo "total: ${passed_total} passed, ${failed_total} failed, ${skipped_total} skipped"
[ "${#failed[@]}" -eq 0 ]
