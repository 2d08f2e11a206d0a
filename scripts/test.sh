#!/usr/bin/env bash
# Runs the test suite once per Keras backend (Keras picks its backend at import,
# so each backend needs its own pytest process). Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -m "not slow"`. BACKENDS="jax torch" narrows the set.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
for backend in ${BACKENDS:-jax tensorflow torch}; do
    echo "=== KERAS_BACKEND=$backend ==="
    KERAS_BACKEND=$backend python -m pytest -q "$@"
    status=$?
    # 5 = no test collected (e.g. a -k filter that matches nothing): not a failure.
    if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then
        failed+=("$backend")
    fi
done
if [ "${#failed[@]}" -ne 0 ]; then
    echo "FAILED on: ${failed[*]}"
    exit 1
fi
echo "all backends passed"
