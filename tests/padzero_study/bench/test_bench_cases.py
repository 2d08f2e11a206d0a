"""What the bench measures (`bench.cases`): the batches it draws, and the processes it plans per part and backend."""

import numpy as np
import pytest

from padzero_study.bench import cases
from padzero_study.data import synthetic


def test_synthetic_lengths_come_from_the_data_module(monkeypatch):
    # One owner for the shape of synthetic posts: synthetic.synthetic_post_lengths, cut at the bench's maxlen.
    drawn = np.array([3, 99, 5_000, cases.SHAPE["maxlen"]])
    monkeypatch.setattr(synthetic, "synthetic_post_lengths", lambda count, seed=0: drawn[:count])
    np.testing.assert_array_equal(cases.synthetic_lengths(4), [3, 99, cases.SHAPE["maxlen"], cases.SHAPE["maxlen"]])


def test_synthetic_batches_are_pre_padded_to_the_drawn_lengths():
    lengths = cases.synthetic_lengths(500)
    ids, labels = cases.make_batches(lengths, steps=2)
    assert ids.shape == (2 * cases.SHAPE["batch_size"], cases.SHAPE["maxlen"]) and labels.shape == (len(ids),)
    real = cases.lengths_of(ids)
    assert set(real) <= set(lengths)
    for row, length in zip(ids, real):  # padding first, then only real ids
        assert not row[: len(row) - length].any() and row[len(row) - length :].all()


def test_the_bag_part_measures_each_case_twice_on_every_backend_and_native_torch_once():
    plan = cases.planned_measurements(["bag"], ["jax", "torch"])
    assert {p["part"] for p in plan} == {"bag"}
    measured = [(p["backend"], p["case"], p["measure"]) for p in plan]
    assert len(measured) == len(set(measured)) == 2 * 2 * 2 + 2
    for backend in ("jax", "torch"):
        for case in cases.BAG_CASES:
            assert {m for b, c, m in measured if (b, c) == (backend, case)} == {"layer", "step"}
    assert [m for _, c, m in measured if c == cases.NATIVE_BAG] == ["layer", "step"]
    assert cases.KERAS_POOLING in cases.BAG_CASES and cases.planned_measurements(["layer"], ["jax"])[0]["case"] is None


@pytest.mark.parametrize("backends", [["jax"], ["tensorflow", "torch"], ["jax", "tensorflow", "torch"]])
def test_the_jax_only_model_cases_run_once_on_jax(backends):
    # The floor (padding only) and many steps per dispatch: each one process, on JAX, whatever else runs.
    plan = cases.planned_measurements(["model"], backends)
    for case in (cases.FLOOR_CASE, cases.SCANNED_CASE):
        assert [p["backend"] for p in plan if p["case"] == case] == (["jax"] if "jax" in backends else [])
    assert len([p for p in plan if p["case"] in cases.KERAS_MODEL_CASES]) == len(backends) * len(
        cases.KERAS_MODEL_CASES
    )


def test_the_plan_reads_the_case_tables_of_the_cases_module(monkeypatch):
    # Where a test patches a table, the plan sees it.
    monkeypatch.setattr(cases, "KERAS_MODEL_CASES", {"padzero": ("padzero", False)})
    monkeypatch.setattr(cases, "TORCH_MODEL_CASES", ())
    assert [p["case"] for p in cases.planned_measurements(["model"], ["torch"])] == ["padzero"]
