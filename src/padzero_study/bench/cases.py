"""What the bench measures: its parts and cases, the reference sizes, the batches, and the plan of processes.

Imports neither Keras nor a backend: the driver plans and checks before any is chosen.
"""

import importlib.util

import numpy as np

from padzero_study import reference
from padzero_study.data import synthetic

PARTS = ("layer", "model", "bag")
LAYER_CASES = ("keras.layers.Embedding", "padzero.Embedding", "mask x multiply")
# Each Keras case: (variant, fast path). "padzero" is the plain path with padzero.Embedding.
KERAS_MODEL_CASES = {
    "keras baseline": ("baseline", False),
    "keras baseline, fast path": ("baseline", True),
    "padzero": ("padzero", False),
    "padzero fast path": ("padzero", True),
}
# The fast path's step on batches of padding only: no token to compute, so what it takes (the dense Adam
# update, the gradient buffers, Keras's own work) bounds every step that skips padding. Run on JAX, the
# backend where the study uses the fast path.
FLOOR_CASE = "padzero fast path, padding only"
# The "padzero" case's steps, SCANNED_STEPS of them in one compiled call (`many_steps.scan_steps`): one dispatch
# from the host per SCANNED_STEPS steps instead of one per step, what a GPU waits on between small steps. JAX
# only. A pass whose step count is not a multiple of SCANNED_STEPS runs its last, shorter execution one step at
# a time (`--steps` 100 and 20, the defaults, are multiples).
SCANNED_STEPS = 10
SCANNED_CASE = f"padzero, {SCANNED_STEPS} steps per dispatch"
TORCH_MODEL_CASES = ("native torch", "native torch, fused Adam")
# The bag part: the average model's layer, ids -> the mean of the real ids' vectors, on every backend; its
# anchor, PyTorch's own, once. Each case is measured twice, each measure in a process of its own.
BAG_CASES = ("padzero.EmbeddingBag(mean)", "Embedding(mask_zero) -> GlobalAveragePooling1D")
KERAS_POOLING = BAG_CASES[1]
NATIVE_BAG = "native torch nn.EmbeddingBag(mean, padding_idx=0), fused Adam"
BAG_MEASURES = ("layer", "step")
# The reference model's sizes. The driver hands them to every worker process with its settings.
# The reference model's sizes; the table has a row for the padding id besides the words kept.
SHAPE = {
    "vocab_size": reference.VOCAB_SIZE + 1,
    "maxlen": reference.MAXLEN,
    "embedding_dim": reference.EMBEDDING_DIM,
    "batch_size": reference.BATCH_SIZE,
}
TRAIN_POSTS = 15_076  # the study's training split: one epoch is ceil(15,076 / 32) = 472 steps


class BenchError(ValueError):
    """A benchmark cannot run as asked (unknown part or backend, a backend not installed, an unusable --out)."""


# ---------------------------------------------------------------- the batches


def synthetic_lengths(count, seed=0):
    """Post lengths shaped like 20 Newsgroups' (`synthetic.synthetic_post_lengths`), cut at the reference maxlen."""
    return np.minimum(synthetic.synthetic_post_lengths(count, seed=seed), SHAPE["maxlen"])


def make_batches(lengths, steps, seed=0):
    """`steps` pre-padded id batches of the reference shape whose post lengths are drawn from `lengths`."""
    rng = np.random.default_rng(seed)
    batch_size, maxlen = SHAPE["batch_size"], SHAPE["maxlen"]
    ids = np.zeros((steps * batch_size, maxlen), "int32")
    for row, length in enumerate(rng.choice(lengths, size=len(ids))):
        ids[row, maxlen - length :] = rng.integers(1, SHAPE["vocab_size"], size=length)
    labels = rng.integers(0, 20, size=len(ids)).astype("int32")
    return ids, labels


def lengths_of(ids):
    """Real tokens per pre-padded row."""
    return (ids != 0).sum(axis=1)


# ---------------------------------------------------------------- the plan


def has_native_torch():
    return importlib.util.find_spec("torch") is not None


def planned_measurements(parts, backends):
    """(part, backend, case, and for the bag part measure) of every process to run; the torch anchors run once,
    not per backend, and the JAX-only model cases once."""
    plan = []
    if "layer" in parts:
        plan += [{"part": "layer", "backend": backend, "case": None} for backend in backends]
    if "model" in parts:
        plan += [{"part": "model", "backend": b, "case": c} for b in backends for c in KERAS_MODEL_CASES]
        plan += [
            {"part": "model", "backend": "jax", "case": c} for c in (FLOOR_CASE, SCANNED_CASE) if "jax" in backends
        ]
        plan += [{"part": "model", "backend": "torch", "case": c} for c in TORCH_MODEL_CASES if has_native_torch()]
    if "bag" in parts:
        plan += [
            {"part": "bag", "backend": b, "case": c, "measure": m}
            for b in backends
            for c in BAG_CASES
            for m in BAG_MEASURES
        ]
        plan += [
            {"part": "bag", "backend": "torch", "case": NATIVE_BAG, "measure": m}
            for m in BAG_MEASURES
            if has_native_torch()
        ]
    return plan
