"""`padzero bench`: the layer, the reference model and the average model's bag timed side by side, in one run.

Every case runs in a process of its own (Keras picks its backend at import,
and a process's peak memory is then its own), on the same batches. The
layer part times its three layers interleaved in one process per backend. The
model part keeps one process per case alive and runs their timed repeats in
turn, round after round, so that drift in the machine's speed hits every case
alike. The bag part does the same for `padzero.EmbeddingBag`, Keras's masked
pooling and PyTorch's `nn.EmbeddingBag`, each case twice (the layer's forward
+ backward, the average model's training step), in a process of its own. Times
are medians of repeats after a warm-up that compiles every shape the timed
repeats will see. Reads top to bottom: the batches, the layer part, the model
part, the bag part, the driver that runs them all and writes the tables.

    python -m padzero_study.bench '<json of one measurement>'   (what the driver runs)
"""

import importlib.util
import json
import logging
import math
import os
import platform
import resource
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from padzero_study.data import newsgroups as data

from padzero_study.runtime import machine
from padzero_study.runtime.backends import BACKENDS, not_installed
from padzero_study.files import shown

logger = logging.getLogger("padzero")

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
TORCH_MODEL_CASES = ("native torch", "native torch, fused Adam")
# The bag part: the average model's layer, ids -> the mean of the real ids' vectors, on every backend; its
# anchor, PyTorch's own, once. Each case is measured twice, each measure in a process of its own.
BAG_CASES = ("padzero.EmbeddingBag(mean)", "Embedding(mask_zero) -> GlobalAveragePooling1D")
KERAS_POOLING = BAG_CASES[1]
NATIVE_BAG = "native torch nn.EmbeddingBag(mean, padding_idx=0), fused Adam"
BAG_MEASURES = ("layer", "step")
# The reference model's sizes. The driver hands them to every worker process with its settings.
SHAPE = {"vocab_size": 20_001, "maxlen": 1_100, "embedding_dim": 300, "batch_size": 32}
TRAIN_POSTS = 15_076  # the study's training split: one epoch is ceil(15,076 / 32) = 472 steps


class BenchError(ValueError):
    """A benchmark cannot run as asked (unknown part or backend, a backend not installed)."""


# ---------------------------------------------------------------- the batches


def synthetic_lengths(count, seed=0):
    """Post lengths shaped like 20 Newsgroups' (`data.synthetic_post_lengths`), cut at the reference maxlen."""
    return np.minimum(data.synthetic_post_lengths(count, seed=seed), SHAPE["maxlen"])


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


# ---------------------------------------------------------------- one measurement (in its own process)


def peak_memory_megabytes():
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec; ru_maxrss would
    carry over the peak of the parent that spawned it (the driver, which may hold the data)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, bytes on macOS
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def measure_layer(settings):
    """Forward + backward of each layer case at the reference shapes, interleaved; ms per call."""
    import keras
    from keras import ops

    import padzero

    ids, _ = np.load(settings["batches"]).values()
    ids = ops.convert_to_tensor(ids[: SHAPE["batch_size"]])
    upstream = ops.convert_to_tensor(
        np.random.default_rng(0).standard_normal((*ids.shape, SHAPE["embedding_dim"])).astype("float32")
    )
    functions = {}
    for case in LAYER_CASES:
        layer_class = padzero.Embedding if case == "padzero.Embedding" else keras.layers.Embedding
        layer = layer_class(SHAPE["vocab_size"], SHAPE["embedding_dim"])
        layer.build(ids.shape)
        functions[case] = layer_gradient_function(layer, multiply_by_mask=case == "mask x multiply")
    for function in functions.values():
        for _ in range(3):
            function(ids, upstream)
    times = {case: [] for case in functions}
    for _ in range(settings["repeats"]):
        for case, function in functions.items():  # round-robin: drift hits every case alike
            start = time.perf_counter()
            function(ids, upstream)
            times[case].append(time.perf_counter() - start)
    memory = peak_memory_megabytes()
    device = machine.training_device(settings["backend"])[1]
    return [{"case": case, "ms": statistics.median(values) * 1e3, "peak_mb": memory, "device": device}
            for case, values in times.items()]


def _outputs(call, ids, multiply_by_mask):
    from keras import ops

    outputs = call(ids)
    if multiply_by_mask:  # the reference workaround, outside the layer
        outputs = outputs * ops.expand_dims(ops.cast(ops.not_equal(ids, 0), outputs.dtype), -1)
    return outputs


def jax_table_gradient(layer, multiply_by_mask=False):
    """`(table value, ids, upstream) -> d sum(outputs * upstream) / d table` of a layer with one weight, jitted (JAX)."""
    import jax

    def loss(table_value, ids, upstream):
        def call(batch_ids):
            return layer.stateless_call([table_value], [], batch_ids)[0]

        return (_outputs(call, ids, multiply_by_mask) * upstream).sum()

    return jax.jit(jax.grad(loss))


def layer_gradient_function(layer, multiply_by_mask, jit_compile=True):
    """ids, upstream -> d sum(outputs * upstream) / d table, compiled as Keras compiles on each backend.

    `layer` (a layer or a model) holds one weight, the table. On TensorFlow the
    function is a `tf.function`, with XLA if `jit_compile`; JAX always jits.
    """
    import keras

    table = layer.trainable_variables[0]
    backend = keras.backend.backend()
    if backend == "jax":
        step = jax_table_gradient(layer, multiply_by_mask)
        return lambda ids, upstream: step(table.value, ids, upstream).block_until_ready()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=jit_compile)
        def step(ids, upstream):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(_outputs(layer, ids, multiply_by_mask) * upstream)
            return tf.convert_to_tensor(tape.gradient(loss, table.value))

        return lambda ids, upstream: step(ids, upstream).numpy()

    def eager_step(ids, upstream):
        table.value.grad = None
        (_outputs(layer, ids, multiply_by_mask) * upstream).sum().backward()
        return table.value.grad

    return eager_step


def xla_temporaries_megabytes(layer, ids, upstream):
    """The temporaries XLA gives `layer`'s compiled forward + backward on JAX: whether it holds `(batch, length, dim)`."""
    compiled = jax_table_gradient(layer).lower(layer.trainable_variables[0].value, ids, upstream).compile()
    return compiled.memory_analysis().temp_size_in_bytes / 2**20


def compiled_reference_model(variant, fast_path, optimizer=None):
    """The reference model at `SHAPE`, seeded as every bench case is, compiled with `optimizer` (default Adam)."""
    import keras

    from padzero_study.runtime.seeding import set_random_seed
    from padzero_study.models.variants import build_model

    set_random_seed(0)
    model = build_model(variant, vocab_size=SHAPE["vocab_size"], maxlen=SHAPE["maxlen"],
                        embedding_dim=SHAPE["embedding_dim"], fast_path=fast_path)
    model.compile(optimizer=optimizer or keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
    return model


def keras_model_epoch(settings):
    """A function running one pass of a Keras model's training steps over the batches; their count."""
    ids, labels = np.load(settings["batches"]).values()
    floor = settings["case"] == FLOOR_CASE
    variant, fast_path = KERAS_MODEL_CASES["padzero fast path" if floor else settings["case"]]
    if floor:
        ids = np.zeros_like(ids)
    model = compiled_reference_model(variant, fast_path)
    batch = SHAPE["batch_size"]
    return lambda: model.fit(ids, labels, batch_size=batch, epochs=1, verbose=0, shuffle=False), math.ceil(len(ids) / batch)


def torch_model_epoch(settings):
    """The same steps in native PyTorch (`nn.Embedding(padding_idx=0)`); their count."""
    from padzero_study.models.torch_reference import ReferenceModel, make_training_step

    def build_step(device):
        model = ReferenceModel(SHAPE["vocab_size"], SHAPE["maxlen"], embedding_dim=SHAPE["embedding_dim"]).to(device)
        return make_training_step(model, fused=settings["case"] == "native torch, fused Adam")

    return native_torch_pass(settings, build_step)


def native_torch_pass(settings, build_step):
    """A function running `step(ids, labels)` over the batches in native PyTorch; their count.

    `build_step(device)` builds the case on `device`, the one Keras's torch
    backend would train on (CUDA where there is one), and returns its step.
    """
    import torch

    ids, labels = np.load(settings["batches"]).values()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    step = build_step(device)
    batch = SHAPE["batch_size"]
    batches = [
        (torch.as_tensor(ids[i : i + batch], dtype=torch.int64, device=device),
         torch.as_tensor(labels[i : i + batch], dtype=torch.int64, device=device))
        for i in range(0, len(ids), batch)
    ]

    def epoch():
        for batch_ids, batch_labels in batches:
            step(batch_ids, batch_labels)
        wait_for_cuda()

    return epoch, len(batches)


def wait_for_cuda():
    """Waits for PyTorch's CUDA work, which runs asynchronously: a timed pass ends when its last kernel does."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


# ---------------------------------------------------------------- the bag part (one process per case and measure)


def bag_model(case):
    """ids -> the average of their embeddings: `case`, a Keras model at `SHAPE`, seeded as every bench case is."""
    import keras

    import padzero

    keras.utils.set_random_seed(0)
    ids = keras.Input((SHAPE["maxlen"],), dtype="int32")
    if case == KERAS_POOLING:
        embedded = keras.layers.Embedding(SHAPE["vocab_size"], SHAPE["embedding_dim"], mask_zero=True)(ids)
        return keras.Model(ids, keras.layers.GlobalAveragePooling1D()(embedded))
    return keras.Model(ids, padzero.EmbeddingBag(SHAPE["vocab_size"], SHAPE["embedding_dim"], mode="mean")(ids))


def bag_upstream():
    """The gradient the layer measure sends back through each bag, `(batch, embedding_dim)`."""
    return np.random.default_rng(0).standard_normal((SHAPE["batch_size"], SHAPE["embedding_dim"])).astype("float32")


def keras_bag_pass(settings):
    """A function running one pass of a Keras bag case's measure over the batches; their count; facts for its row.

    "layer": the table's gradient of `sum(outputs * upstream)`, compiled as
    `fit` would compile the model (on JAX the facts hold XLA's temporaries);
    "step": `fit` of ids -> the case -> Dense(20, softmax) with Adam and
    sparse categorical crossentropy, the average model.
    """
    import keras

    ids, labels = np.load(settings["batches"]).values()
    bag = bag_model(settings["case"])
    batch = SHAPE["batch_size"]
    steps = math.ceil(len(ids) / batch)
    if settings["measure"] == "step":
        model = keras.Model(bag.input, keras.layers.Dense(20, activation="softmax")(bag.output))
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
        return lambda: model.fit(ids, labels, batch_size=batch, epochs=1, verbose=0, shuffle=False), steps, {}
    bag.compile()  # resolves `jit_compile` as for `fit`: no XLA for a layer that refuses it, or on a CPU-only TensorFlow
    gradient = layer_gradient_function(bag, multiply_by_mask=False, jit_compile=bag.jit_compile)
    batches = [keras.ops.convert_to_tensor(ids[start : start + batch]) for start in range(0, len(ids), batch)]
    upstream = keras.ops.convert_to_tensor(bag_upstream())
    facts = {}
    if keras.backend.backend() == "jax":
        facts["xla_temp_mb"] = xla_temporaries_megabytes(bag, batches[0], upstream)

    def layer_pass():
        for batch_ids in batches:
            gradient(batch_ids, upstream)
        if keras.backend.backend() == "torch":
            wait_for_cuda()

    return layer_pass, steps, facts


def torch_bag_pass(settings):
    """The same in native PyTorch: `torch_reference.AverageModel`'s `nn.EmbeddingBag`, and its step with fused Adam."""
    import torch

    from padzero_study.models.torch_reference import AverageModel, make_training_step

    def build_step(device):
        model = AverageModel(SHAPE["vocab_size"], embedding_dim=SHAPE["embedding_dim"]).to(device)
        if settings["measure"] == "step":
            return make_training_step(model, fused=True)
        upstream = torch.as_tensor(bag_upstream(), device=device)

        def layer_step(batch_ids, _):
            model.bag.weight.grad = None
            (model.bag(batch_ids) * upstream).sum().backward()

        return layer_step

    return (*native_torch_pass(settings, build_step), {})


# ---------------------------------------------------------------- a kept-alive case's process (model and bag parts)


def timed_pass(settings):
    """The function running one timed pass of a model or bag case, its step count, and facts for its row."""
    if settings["part"] == "bag":
        return (torch_bag_pass if settings["case"] == NATIVE_BAG else keras_bag_pass)(settings)
    epoch, steps = (torch_model_epoch if settings["case"] in TORCH_MODEL_CASES else keras_model_epoch)(settings)
    return epoch, steps, {}


def serve_case(settings, commands=sys.stdin, replies=sys.stdout):
    """A model or bag case's process: builds and warms up, then times one pass per "run" line until "done".

    Replies one JSON line per command: `{"ready": true, "device": ...}` (and
    the case's facts) once warmed up, `{"ms": ...}` (per step) after each
    run, `{"peak_mb": ...}` at the end.
    """
    run, steps, facts = timed_pass(settings)
    run()  # compiles every shape the timed passes meet

    def reply(message):
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    native = settings["case"] in (*TORCH_MODEL_CASES, NATIVE_BAG)
    reply({"ready": True, "device": machine.training_device("torch" if native else settings["backend"])[1], **facts})
    for command in commands:
        if command.strip() == "run":
            started = time.perf_counter()
            run()
            reply({"ms": (time.perf_counter() - started) / steps * 1e3})
        else:
            reply({"peak_mb": peak_memory_megabytes()})
            return


def measure(settings):
    if settings["part"] == "layer":
        return measure_layer(settings)
    serve_case(settings)
    return None


# ---------------------------------------------------------------- the driver


def check_choices(parts, backends):
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
        return ("bench: the native PyTorch rows (the anchor of the model and bag parts) are left out: PyTorch is not "
                "installed; add them with: pip install 'padzero[torch]'")
    return None


def has_native_torch():
    return importlib.util.find_spec("torch") is not None


def planned_measurements(parts, backends):
    """(part, backend, case, and for the bag part measure) of every process to run; the torch anchors run once,
    not per backend."""
    plan = []
    if "layer" in parts:
        plan += [{"part": "layer", "backend": backend, "case": None} for backend in backends]
    if "model" in parts:
        plan += [{"part": "model", "backend": b, "case": c} for b in backends for c in KERAS_MODEL_CASES]
        plan += [{"part": "model", "backend": "jax", "case": FLOOR_CASE}] if "jax" in backends else []
        plan += [{"part": "model", "backend": "torch", "case": c} for c in TORCH_MODEL_CASES if has_native_torch()]
    if "bag" in parts:
        plan += [{"part": "bag", "backend": b, "case": c, "measure": m}
                 for b in backends for c in BAG_CASES for m in BAG_MEASURES]
        plan += [{"part": "bag", "backend": "torch", "case": NATIVE_BAG, "measure": m}
                 for m in BAG_MEASURES if has_native_torch()]
    return plan


def _command(settings):
    return [sys.executable, "-m", "padzero_study.bench", json.dumps(settings)]


def _environment(settings):
    return {**os.environ, "KERAS_BACKEND": settings["backend"]}


def _name(settings):
    return "/".join(str(settings[key]) for key in ("part", "backend", "case", "measure") if key in settings)


def _failure(settings, stderr):
    last_lines = " | ".join(stderr.strip().splitlines()[-3:])
    return BenchError(f"measurement {_name(settings)} failed: {last_lines}")


def run_measurement(settings):
    """Runs one layer measurement in a fresh process; its rows."""
    completed = subprocess.run(_command(settings), env=_environment(settings), capture_output=True, text=True,
                               check=False)
    if completed.returncode != 0:
        raise _failure(settings, completed.stderr)
    return json.loads(completed.stdout.strip().splitlines()[-1])


class CaseWorker:
    """One model or bag case's process, kept alive between its timed passes (see `serve_case`)."""

    def __init__(self, settings):
        self.settings = settings
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(_command(settings), env=_environment(settings), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.errors, text=True)

    def ask(self, command):
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.errors.seek(0)
            raise _failure(self.settings, self.errors.read())
        return json.loads(line)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.errors.close()


def run_in_turn(plan, settings):
    """Starts every case of `plan` (model or bag cases), then runs their timed passes in turn, `repeats` rounds.

    Returns:
        One row per case: its entry in `plan` with `ms` (the median per
        step), `peak_mb`, `device` and the facts the case replied with.
    """
    workers = []
    try:
        for number, case in enumerate(plan, start=1):
            logger.info("bench: warming up %d/%d: %s", number, len(plan), _name(case))
            worker = CaseWorker({**settings, **case})
            workers.append(worker)
            ready = worker.ask(None)  # built and compiled; then it waits for its turn
            worker.facts = {key: value for key, value in ready.items() if key != "ready"}
        times = [[] for _ in workers]
        for round_number in range(1, settings["repeats"] + 1):
            logger.info("bench: round %d/%d of %d cases", round_number, settings["repeats"], len(workers))
            for worker, case_times in zip(workers, times):
                case_times.append(worker.ask("run")["ms"])
        return [{**case, "ms": statistics.median(case_times), "peak_mb": worker.ask("done")["peak_mb"], **worker.facts}
                for case, worker, case_times in zip(plan, workers, times)]
    finally:
        for worker in workers:
            worker.close()


def bag_rows(measurements):
    """One row per bag case and backend from the rows of its two measures: `layer_ms`, `step_ms`, each measure's
    `..._peak_mb`, and on JAX the layer's `xla_temp_mb`."""
    rows = {}
    for measured in measurements:
        row = rows.setdefault((measured["backend"], measured["case"]), {
            "part": "bag", "backend": measured["backend"], "case": measured["case"], "device": measured["device"],
            "xla_temp_mb": None})
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
            model: `KERAS_MODEL_CASES` per backend, `FLOOR_CASE` on JAX and native PyTorch once,
            all kept alive and timed in turn, round after round) and "bag"
            (`BAG_CASES` per backend and `NATIVE_BAG` once, each measured
            twice, `BAG_MEASURES`: forward + backward of the layer and
            training steps of the average model, all kept alive and timed in
            turn, round after round).
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
        "settings": {"parts": parts, "backends": backends, "steps": steps, "repeats": repeats,
                     "mean_length": float(lengths.mean()), "padding_share": float(1 - (ids != 0).mean()), **SHAPE},
        "machine": machine.describe_machine(),
        "python": platform.python_version(),
        "rows": with_ratios(rows),
    }


def refuse_non_regular_file(path):
    """Refuses a `path` that exists (through a link, if it is one) and is not a regular file.

    Writing replaces the file at `path`: a device, fifo or socket would be
    replaced by a JSON file (or, opened, block or swallow the results).

    Raises:
        BenchError: one line, naming the path and what it is.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:  # a new file, or a link to nothing yet: written as a new regular file
        return
    except OSError as error:
        raise BenchError(f"Cannot write the results to {shown(path)} ({error.strerror or error}); choose another "
                         "path.") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, fifo or socket)"
        raise BenchError(f"--out {shown(path)} is {kind}; the results would replace it; give a new or regular file "
                         "name, such as bench.json.")


def check_output_file(path):
    """Refuses, before any measurement, a results path that cannot be written.

    Args:
        path: str or path-like, where `write_results` will write the JSON.

    Raises:
        BenchError: one line, when `path` is a folder or another file that
            is not a regular one (a device, a fifo, a socket: the results
            would replace it), its folder does not exist, or the folder is
            not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise BenchError(f"--out {shown(path)} is a folder; give the results a file name, such as "
                         f"{shown(path / 'bench.json')}.")
    refuse_non_regular_file(path)
    folder = path.parent
    if not folder.is_dir():
        raise BenchError(f"Cannot write the results to {shown(path)}: folder {shown(folder)} does not exist; create it or choose "
                         "another path.")
    try:  # the only sure test of writability is writing: permissions, read-only mounts, ACLs
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".check"):
            pass
    except OSError as error:
        raise BenchError(f"Cannot write the results to {shown(path)}: {error.strerror or error}; choose another path.") from None


def write_results(results, path):
    """Writes `results` as JSON to `path` atomically: a reader or a crash sees the old file or the new one, whole.

    Args:
        results: the dict `run_bench` returns.
        path: str or path-like.
    """
    path = Path(path)
    refuse_non_regular_file(path)  # again: it may have changed during the measurements
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)  # mkstemp makes the file private; give it the mode open() would have
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def format_table(results):
    """The results as Markdown tables (the layer and model parts', then the bag part's), the settings above them."""
    settings = results["settings"]
    lines = [
        (f"machine: {results['machine']}; batch {settings['batch_size']} x {settings['maxlen']}, "
         f"padding share {settings['padding_share']:.3f}; medians of {settings['repeats']} repeats"
         f" ({settings['steps']} training steps each for the model and bag parts)"),
    ]
    rows = [row for row in results["rows"] if row["part"] != "bag"]
    if rows:
        lines += [
            "",
            "| part | backend | device | case | time | ratio | to | speed vs native torch, fused Adam | peak memory |",
            "|---|---|---|---|---:|---:|---|---:|---:|",
        ]
    fused_torch = {r["case"]: r["ms"] for r in rows if r["part"] == "model"}.get("native torch, fused Adam")
    for row in rows:
        time_text = f"{row['ms']:.1f} ms" + ("/step" if row["part"] == "model" else "/call")
        if row["part"] == "model":
            time_text += f" ({row['epoch_seconds']:.0f} s/epoch)"
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] else "-"
        # How many times faster than native PyTorch with fused Adam (above 1: faster), for training steps.
        versus_torch = f"{fused_torch / row['ms']:.2f}x" if row["part"] == "model" and fused_torch else "-"
        lines.append(f"| {row['part']} | {row['backend']} | {_device(row, results)} | {row['case']} | {time_text} | "
                     f"{ratio} | {row['ratio_to'] or '-'} | {versus_torch} | {row['peak_mb']:.0f} MB |")
    bag = [row for row in results["rows"] if row["part"] == "bag"]
    if bag:
        lines += ["", *bag_table(bag, results)]
    return "\n".join(lines)


def bag_table(rows, results):
    """The bag part's lines: a row per case and backend, each measure's time and its ratios, the memory."""
    def ratio(value):
        return "-" if value is None else f"{value:.2f}x"

    lines = [
        ("The average model's bag (ids -> the mean of the real ids' vectors), per step of "
         f"{results['settings']['batch_size']} posts: the layer's forward + backward, the average model's training "
         "step (-> Dense(20, softmax), Adam); each time over Keras's masked pooling's on the same backend (/ pooling) "
         "and native PyTorch's (/ torch), below 1 when faster; XLA's temporaries of the layer on JAX."),
        "",
        ("| backend | device | case | layer | / pooling | / torch | step | / pooling | / torch | peak memory, layer / step "
         "| XLA temporaries |"),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        temporaries = "-" if row["xla_temp_mb"] is None else f"{row['xla_temp_mb']:.1f} MB"
        lines.append(
            f"| {row['backend']} | {_device(row, results)} | {row['case']} | {row['layer_ms']:.2f} ms | "
            f"{ratio(row['layer_ratio'])} | {ratio(row['layer_torch_ratio'])} | {row['step_ms']:.2f} ms "
            f"({row['epoch_seconds']:.0f} s/epoch) | {ratio(row['step_ratio'])} | {ratio(row['step_torch_ratio'])} | "
            f"{row['layer_peak_mb']:.0f} / {row['step_peak_mb']:.0f} MB | {temporaries} |"
        )
    return lines


def _device(row, results):
    return "CPU" if row.get("device") == results["machine"] else row.get("device", "-")  # the machine line names it

