"""Which XLA operations a Keras JAX training step of the fast path spends its wall time in.

Trains the padzero model on the fast path (`EmbeddingFlattenDense`, Keras's
Adam, batch 32 x 1,100, post lengths drawn like the real data) under
`jax.profiler.trace`, once on those batches and once on batches of padding
only (no token to compute), and prints each kind of XLA operation's share of
the step's wall time. Operations that run at the same time share that time
equally, so the shares add up to the time XLA was busy. Memory freed by a step
is kept for the next, as `padzero bench` and `padzero reproduce` run.

    KERAS_BACKEND=jax python benchmarks/step_profile.py [--steps 30] [--top 12]

What the kinds are: `multiply_add_fusion` and `divide_subtract_fusion` are
Adam's update (the moments, then the weights); `ynn_fusion` and `dot_general`
the matmuls; `select_bitcast_fusion` the embedding gathers (padding zeroed);
`wrapped_broadcast` buffers filled with zeros; `wrapped_scatter` the
embedding gradient's scatter-add.
"""

import argparse
import collections
import glob
import gzip
import json
import os
import re
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

from padzero_study.runtime.allocator import reuse_freed_memory  # noqa: E402

reuse_freed_memory()  # before Keras starts XLA's threads

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from padzero_study.bench import SHAPE, compiled_reference_model, make_batches, synthetic_lengths  # noqa: E402
from padzero_study.runtime.machine import describe_machine  # noqa: E402

# XLA's own operations in a trace (not the runtime's bookkeeping events).
OPERATION = re.compile(r"fusion|^wrapped_|^copy|^dot|^sort|^gather|^scatter|^custom")


def operation_kind(name):
    return re.sub(r"[.\d]+(\.clone)*$", "", name)  # "ynn_fusion.12" -> "ynn_fusion"


def wall_time_by_kind(trace_folder):
    """{kind: microseconds} of wall time, each moment split among the operations running then."""
    (path,) = glob.glob(os.path.join(trace_folder, "**", "*.trace.json.gz"), recursive=True)
    with gzip.open(path) as file:
        trace = json.load(file)
    events = [
        e
        for e in trace["traceEvents"]
        if e.get("ph") == "X" and "dur" in e and OPERATION.search(e["name"]) and not e["name"].startswith("end:")
    ]
    edges = sorted(
        [(e["ts"], 1, i) for i, e in enumerate(events)] + [(e["ts"] + e["dur"], -1, i) for i, e in enumerate(events)]
    )
    running, last, wall = set(), None, collections.Counter()
    for moment, change, index in edges:
        if running:
            for other in running:
                wall[operation_kind(events[other]["name"])] += (moment - last) / len(running)
        last = moment
        (running.add if change == 1 else running.discard)(index)
    return wall


def profile(ids, labels, steps):
    """(ms per step untraced, {kind: ms per step}) for the fast path's Keras training steps on these batches."""
    model = compiled_reference_model("padzero", fast_path=True)

    def epoch():
        model.fit(ids, labels, batch_size=SHAPE["batch_size"], epochs=1, verbose=0, shuffle=False)

    epoch()  # compiles
    started = time.perf_counter()
    epoch()
    step_ms = (time.perf_counter() - started) / steps * 1e3
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder):
            epoch()
        wall = wall_time_by_kind(folder)
    return step_ms, {kind: us / steps / 1e3 for kind, us in wall.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps per pass (default: 30)")
    parser.add_argument("--top", type=int, default=12, help="operation kinds shown (default: 12)")
    args = parser.parse_args()
    ids, labels = make_batches(synthetic_lengths(20_000), args.steps)
    results = {
        "real lengths": profile(ids, labels, args.steps),
        "padding only": profile(np.zeros_like(ids), labels, args.steps),
    }
    print(
        f"machine: {describe_machine()}; keras {keras.__version__}, jax {jax.__version__}; batch "
        f"{SHAPE['batch_size']} x {SHAPE['maxlen']}; {args.steps} steps per pass"
    )
    print("| XLA operation kind | " + " | ".join(f"{name} (ms per step)" for name in results) + " |")
    print("|---|" + "---:|" * len(results))
    total = collections.Counter()
    for _, wall in results.values():
        total.update(wall)
    for kind, _ in total.most_common(args.top):
        print(f"| {kind} | " + " | ".join(f"{wall.get(kind, 0.0):.2f}" for _, wall in results.values()) + " |")
    print("| all XLA operations | " + " | ".join(f"{sum(wall.values()):.2f}" for _, wall in results.values()) + " |")
    print("| the step, untraced | " + " | ".join(f"{step_ms:.2f}" for step_ms, _ in results.values()) + " |")


if __name__ == "__main__":
    main()
