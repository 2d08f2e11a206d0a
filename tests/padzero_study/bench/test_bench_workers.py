"""What a bench worker process runs (`bench.workers`, `bench.model`, `bench.bag`), here in this process at a
hundredth of the study's sizes: the passes its driver would time."""

import io
import json

import numpy as np
import pytest

from padzero_study.bench import cases, many_steps, model, workers


@pytest.fixture
def small_batches(tmp_path, monkeypatch):
    """A function `steps -> path` of the batches file a worker reads, at a hundredth of the reference sizes."""
    for key, value in {"vocab_size": 201, "maxlen": 30, "embedding_dim": 8}.items():
        monkeypatch.setitem(cases.SHAPE, key, value)

    def write(steps):
        path = tmp_path / f"batches-{steps}.npz"
        ids, labels = cases.make_batches(cases.synthetic_lengths(64), steps)
        np.savez(path, ids=ids, labels=labels)
        return str(path)

    return write


def served(settings):
    """The replies of a case's process told to run once: (ready, timed, done)."""
    replies = io.StringIO()
    workers.serve_case(settings, commands=["run\n", "done\n"], replies=replies)
    return tuple(map(json.loads, replies.getvalue().splitlines()))


def test_the_floor_case_sees_padding_only(monkeypatch, small_batches):
    batches = small_batches(2)
    seen = {}

    class Model:  # records what fit is given, instead of training
        def compile(self, **kwargs):
            pass

        def fit(self, x, y, **kwargs):
            seen["ids"] = x

    monkeypatch.setattr("padzero_study.models.variants.build_model", lambda *args, **kwargs: Model())
    for case, padding_only in ((cases.FLOOR_CASE, True), ("padzero fast path", False)):
        epoch, steps = model.keras_model_epoch({"batches": batches, "case": case})
        epoch()
        assert steps == 2 and (not seen["ids"].any()) == padding_only


@pytest.mark.per_backend
def test_the_bag_parts_measures_run_on_this_backend_and_in_native_torch(small_batches, backend):
    batches = small_batches(2)
    bag_cases = [*cases.BAG_CASES, *([cases.NATIVE_BAG] if backend == "torch" else [])]  # native: on one backend
    for case in bag_cases:
        for measure in cases.BAG_MEASURES:
            ready, timed, done = served(
                {"part": "bag", "backend": backend, "case": case, "measure": measure, "batches": batches}
            )
            assert ready["ready"] and timed["ms"] > 0 and done["peak_mb"] > 0, (case, measure)
            has_temporaries = backend == "jax" and measure == "layer" and case != cases.NATIVE_BAG
            assert ("xla_temp_mb" in ready) == has_temporaries, (case, measure)


@pytest.mark.per_backend
def test_the_scanned_case_trains_many_steps_per_dispatch_on_jax(small_batches, monkeypatch, backend):
    # The model part's JAX case of many steps per compiled call: its process builds, warms up and times a pass,
    # every execution stacked (two of SCANNED_STEPS steps each), through many_steps's train function.
    if backend != "jax":
        pytest.skip("scan_steps is JAX's; the case is planned on JAX only")
    steps = 2 * cases.SCANNED_STEPS
    scanned = []
    real_scan_steps = many_steps.scan_steps
    monkeypatch.setattr(many_steps, "scan_steps", lambda built: scanned.append(real_scan_steps(built)) or built)
    ready, timed, done = served(
        {"part": "model", "backend": "jax", "case": cases.SCANNED_CASE, "batches": small_batches(steps)}
    )
    assert ready["ready"] and timed["ms"] > 0 and done["peak_mb"] > 0
    (trained,) = scanned
    assert trained.steps_per_execution == cases.SCANNED_STEPS
    assert trained.train_function.__module__ == "padzero_study.bench.many_steps"
    assert int(trained.optimizer.iterations) == 2 * steps  # the warm-up pass and the timed one, every step trained
