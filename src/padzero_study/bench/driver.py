"""The driver: checks the choices, runs every planned measurement in a worker process, and gathers the rows.

The layer part first (one process per backend), then the model part's and
the bag part's kept-alive cases, one part's processes at a time; then each
row's ratio to its reference.
"""

import logging
import math
import os
import platform
import tempfile

import numpy as np

from padzero_study.bench.cases import (
    BAG_MEASURES,
    KERAS_POOLING,
    NATIVE_BAG,
    PARTS,
    SHAPE,
    TRAIN_POSTS,
    BenchError,
    has_native_torch,
    make_batches,
    planned_measurements,
    synthetic_lengths,
)
from padzero_study.bench.workers import run_in_turn, run_measurement
from padzero_study.runtime import machine
from padzero_study.runtime.backends import BACKENDS, not_installed

logger = logging.getLogger(__name__)


def check_choices(parts, backends):
    """Refuses unknown or no parts or backends, and a backend not installed (one line naming its extra)."""
    unknown_parts = [p for p in parts if p not in PARTS]
    if unknown_parts or not parts:
        raise BenchError(f"Unknown bench part(s) {unknown_parts or '(none given)'}; choose from {', '.join(PARTS)}.")
    unknown_backends = [b for b in backends if b not in BACKENDS]
    if unknown_backends or not backends:
        raise BenchError(f"Unknown backend(s) {unknown_backends or '(none given)'}; choose from {', '.join(BACKENDS)}.")
    missing = [message for message in map(not_installed, backends) if message]
    if missing:
        raise BenchError(missing[0])


def left_out(parts):
    """One line on the rows the installed packages leave out, and how to add them; None when nothing is."""
    if {"model", "bag"} & set(parts) and not has_native_torch():
        return (
            "bench: the native PyTorch rows (the anchor of the model and bag parts) are left out: PyTorch is not "
            "installed; add them with: pip install 'padzero[torch]'"
        )
    return None


def bag_rows(measurements):
    """One row per bag case and backend from the rows of its two measures: `layer_ms`, `step_ms`, each measure's
    `..._peak_mb`, and on JAX the layer's `xla_temp_mb`."""
    rows = {}
    for measured in measurements:
        row = rows.setdefault(
            (measured["backend"], measured["case"]),
            {
                "part": "bag",
                "backend": measured["backend"],
                "case": measured["case"],
                "device": measured["device"],
                "xla_temp_mb": None,
            },
        )
        row[f"{measured['measure']}_ms"] = measured["ms"]
        row[f"{measured['measure']}_peak_mb"] = measured["peak_mb"]
        row["xla_temp_mb"] = measured.get("xla_temp_mb", row["xla_temp_mb"])
    return list(rows.values())


def with_ratios(rows):
    """Adds each row's time over its reference's, below 1 when faster.

    `ratio` and `ratio_to`: layer rows to keras.layers.Embedding on the same
    backend, model rows to the jax baseline. Bag rows, per measure
    (`layer_ratio`, `step_ratio`), to Keras's masked pooling on the same
    backend (`ratio_to` names it), and (`layer_torch_ratio`,
    `step_torch_ratio`) to native PyTorch's `nn.EmbeddingBag`. None where
    the reference was not measured.
    """

    def reference(row):
        if row["part"] == "layer":
            return ("layer", row["backend"], "keras.layers.Embedding")
        return ("model", "jax", "keras baseline")

    by_key = {(r["part"], r["backend"], r["case"]): r for r in rows}
    for row in rows:
        if row["part"] == "bag":
            pooling = by_key.get(("bag", row["backend"], KERAS_POOLING)) if row["case"] != NATIVE_BAG else None
            native = by_key.get(("bag", "torch", NATIVE_BAG))
            for measure in BAG_MEASURES:
                row[f"{measure}_ratio"] = row[f"{measure}_ms"] / pooling[f"{measure}_ms"] if pooling else None
                row[f"{measure}_torch_ratio"] = row[f"{measure}_ms"] / native[f"{measure}_ms"] if native else None
            row["ratio_to"] = f"{row['backend']} {KERAS_POOLING}" if pooling else None
            continue
        base = by_key.get(reference(row))
        row["ratio"] = row["ms"] / base["ms"] if base else None
        row["ratio_to"] = " ".join(reference(row)[1:]) if base else None
    return rows


def run_bench(parts=PARTS, backends=BACKENDS, *, quick=False, lengths=None, steps=None, repeats=None):
    """Times every chosen part on every chosen backend, each case in a process of its own.

    Args:
        parts: names from `PARTS`: "layer" (forward + backward of the
            embedding layers), "model" (training steps of the reference
            model: `KERAS_MODEL_CASES` per backend, `FLOOR_CASE` and
            `SCANNED_CASE` on JAX and native PyTorch once, all kept alive and
            timed in turn, round after round) and "bag" (`BAG_CASES` per
            backend and `NATIVE_BAG` once, each measured twice,
            `BAG_MEASURES`: forward + backward of the layer and training
            steps of the average model, all kept alive and timed in turn,
            round after round).
        backends: names from `BACKENDS`.
        quick: fewer steps and repeats (noisier medians).
        lengths: real post lengths to draw batches from (e.g. from the
            encoded 20 Newsgroups); `None` draws from `synthetic_lengths`.
        steps: positive int or None, training steps per timed epoch-slice,
            and batches per timed pass of the bag part (default 100, 20 quick).
        repeats: positive int or None, timed repeats per measurement (default
            5, 3 quick; layer calls, which are short, use 10 times as many and
            at least 50).

    Returns:
        dict with `settings`, `machine` and `rows` (part, backend, case, ms,
        ratio, ratio_to, peak_mb, device); model `ms` is per step,
        `epoch_seconds` scales it to the study's 472-step epoch. A bag row
        has both measures' times per step and peaks instead of `ms` and
        `peak_mb` (see `bag_rows` and `with_ratios`), and `epoch_seconds`
        from its step.

    Raises:
        BenchError: for an unknown part or backend, or one not installed.
        ValueError: for `steps` or `repeats` that are not positive integers.
    """
    from padzero.validation import check_positive_int

    parts, backends = list(dict.fromkeys(parts)), list(dict.fromkeys(backends))
    check_choices(parts, backends)
    steps = (20 if quick else 100) if steps is None else check_positive_int("steps", steps)
    repeats = (3 if quick else 5) if repeats is None else check_positive_int("repeats", repeats)
    lengths = synthetic_lengths(20_000) if lengths is None else np.asarray(lengths)
    ids, labels = make_batches(lengths, steps)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        batches_path = os.path.join(folder, "batches.npz")
        np.savez(batches_path, ids=ids, labels=labels)
        plan = planned_measurements(parts, backends)
        shared = {"batches": batches_path, "shape": SHAPE}
        for settings in (p for p in plan if p["part"] == "layer"):
            settings = {**settings, **shared, "repeats": max(50, repeats * 10)}
            logger.info("bench: layer %s", settings["backend"])
            rows += [{"part": "layer", "backend": settings["backend"], **row} for row in run_measurement(settings)]
        for part in ("model", "bag"):  # one part's processes at a time: their memory is not held together
            kept_alive = [p for p in plan if p["part"] == part]
            if kept_alive:
                measured = run_in_turn(kept_alive, {**shared, "repeats": repeats})
                rows += bag_rows(measured) if part == "bag" else measured
    steps_per_epoch = math.ceil(TRAIN_POSTS / SHAPE["batch_size"])
    for row in rows:
        if row["part"] != "layer":
            row["epoch_seconds"] = row["ms" if row["part"] == "model" else "step_ms"] * steps_per_epoch / 1e3
    return {
        "settings": {
            "parts": parts,
            "backends": backends,
            "steps": steps,
            "repeats": repeats,
            "mean_length": float(lengths.mean()),
            "padding_share": float(1 - (ids != 0).mean()),
            **SHAPE,
        },
        "machine": machine.describe_machine(),
        "python": platform.python_version(),
        "rows": with_ratios(rows),
    }
