"""The model part: one timed pass of the reference model's training steps, in Keras or in native PyTorch.

Runs in a worker process (Keras imported there). `native_torch_pass` and `wait_for_cuda` serve the bag part too.
"""

import math

import numpy as np

from padzero_study.bench.cases import FLOOR_CASE, KERAS_MODEL_CASES, SCANNED_CASE, SCANNED_STEPS, SHAPE


def compiled_reference_model(variant, fast_path, optimizer=None, steps_per_execution=1):
    """The reference model at `SHAPE`, seeded as every bench case is, compiled with `optimizer` (default Adam)."""
    import keras

    from padzero_study.models.variants import build_model
    from padzero_study.runtime.seeding import set_random_seed

    set_random_seed(0)
    model = build_model(
        variant,
        vocab_size=SHAPE["vocab_size"],
        maxlen=SHAPE["maxlen"],
        embedding_dim=SHAPE["embedding_dim"],
        fast_path=fast_path,
    )
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(),
        loss="sparse_categorical_crossentropy",
        steps_per_execution=steps_per_execution,
    )
    return model


def keras_model_epoch(settings):
    """A function running one pass of a Keras model's training steps over the batches; their count.

    `FLOOR_CASE` is the fast path on batches of padding only; `SCANNED_CASE`
    the "padzero" case with `SCANNED_STEPS` steps per compiled call
    (`many_steps.scan_steps`, JAX only).
    """
    ids, labels = np.load(settings["batches"]).values()
    case = settings["case"]
    if case == FLOOR_CASE:
        ids = np.zeros_like(ids)
    base_case = {FLOOR_CASE: "padzero fast path", SCANNED_CASE: "padzero"}.get(case, case)
    variant, fast_path = KERAS_MODEL_CASES[base_case]
    if case == SCANNED_CASE:
        from padzero_study.bench.many_steps import scan_steps

        model = scan_steps(compiled_reference_model(variant, fast_path, steps_per_execution=SCANNED_STEPS))
    else:
        model = compiled_reference_model(variant, fast_path)
    batch = SHAPE["batch_size"]
    return lambda: model.fit(ids, labels, batch_size=batch, epochs=1, verbose=0, shuffle=False), math.ceil(
        len(ids) / batch
    )


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
        (
            torch.as_tensor(ids[i : i + batch], dtype=torch.int64, device=device),
            torch.as_tensor(labels[i : i + batch], dtype=torch.int64, device=device),
        )
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
