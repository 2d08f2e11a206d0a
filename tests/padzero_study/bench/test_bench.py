"""`padzero bench` on the command line: choices are checked before any measurement; the results are written and tabled.

The package's public face (`padzero_study.bench`) and its driver (`bench.driver`). The output path's checks are
test_bench_output.py's; the plan, the worker processes and the tables have files of their own. Only the last tests
need Keras (the step count's validator) or spawn measurements.
"""

import importlib
import importlib.util
import json
import logging
import os
import subprocess
import sys

import pytest
from cli_runs import assert_one_line_error, run_cli

from padzero_study import bench
from padzero_study.bench import cases, driver
from padzero_study.runtime.backends import BACKENDS, not_installed


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--parts", "layer,gpu"], "Unknown bench part(s) ['gpu']"),
        (["--backends", "jax,mxnet"], "Unknown backend(s) ['mxnet']"),
        (["--parts", ","], "Unknown bench part(s) (none given)"),
        (["--backends", " , "], "Unknown backend(s) (none given)"),
        (["--parts", ""], "--parts: expected a value, received ''"),
        (["--backends", ""], "--backends: expected a value, received ''"),
        (["--data", ""], "--data: expected a value, received ''"),
        (["--steps", "many"], "--steps: expected an integer, received 'many'"),
        (["--repeats", "2.5"], "--repeats: expected an integer, received '2.5'"),
    ],
)
def test_bad_arguments(extra, fragment, capsys, tmp_path, measurements):
    code, _, err = run_cli(["bench", *extra, "--out", str(tmp_path / "bench.json")], capsys)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "bench.json").exists() and measurements == []


def test_without_torch_the_model_part_runs_without_its_anchor_and_says_so(
    monkeypatch, capsys, caplog, tmp_path, measurements
):
    # After the README's JAX-only quick start, `padzero bench --quick` once failed: its anchor needs torch.
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a)
    )
    assert [p for p in cases.planned_measurements(["model", "bag"], ["jax"]) if p["backend"] == "torch"] == []
    with caplog.at_level(logging.INFO, logger="padzero_study"):
        code, _, err = run_cli(["bench", "--quick", "--backends", "jax", "--out", str(tmp_path / "b.json")], capsys)
    assert code == 0, err
    assert "native PyTorch rows (the anchor of the model and bag parts) are left out" in caplog.text
    assert "pip install 'padzero[torch]'" in caplog.text


def test_backend_not_installed_names_the_extra(monkeypatch, capsys, tmp_path, measurements):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a)
    )
    code, _, err = run_cli(
        ["bench", "--backends", "torch", "--parts", "layer", "--out", str(tmp_path / "b.json")], capsys
    )
    assert_one_line_error(code, err, "pip install 'padzero[torch]'")
    assert measurements == []


def test_named_backends_get_no_note_on_keras_config(tmp_path):
    # `--backends torch` once began with a note on which backend Keras's config file names: beside the point.
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    environment["KERAS_HOME"] = str(tmp_path)  # no config file: the note would say KERAS_BACKEND is not set
    argv = ["bench", "--parts", "layer", "--backends", "jax", "--steps", "0", "--out", str(tmp_path / "b.json")]
    result = subprocess.run(
        [sys.executable, "-m", "padzero_study", *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert_one_line_error(result.returncode, result.stderr, "steps")
    assert "KERAS_BACKEND is not set" not in result.stderr


def test_results_are_written_and_tabled(capsys, tmp_path, measurements, fake_results):
    out = tmp_path / "bench.json"
    code, stdout, err = run_cli(
        ["bench", "--parts", "layer,model", "--backends", "jax", "--steps", "3", "--out", str(out)], capsys
    )
    assert code == 0, err
    assert json.loads(out.read_text()) == fake_results
    assert measurements == [
        (["layer", "model"], ["jax"], {"quick": False, "lengths": None, "steps": 3, "repeats": None})
    ]
    assert bench.format_table(fake_results) in stdout and f"results: {out}" in stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bench.json"]  # no temporary file left


def test_backends_default_to_the_installed_ones(capsys, tmp_path, measurements):
    # Every backend by default once made a one-backend install refuse a plain `padzero bench`.
    code, _, err = run_cli(["bench", "--parts", "layer", "--out", str(tmp_path / "bench.json")], capsys)
    assert code == 0, err
    assert measurements[0][1] == [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


# ---------------------------------------------------------------- with Keras


@pytest.mark.per_backend
@pytest.mark.parametrize("flag, name, parts", [("--steps", "steps", "model"), ("--repeats", "repeats", "layer")])
def test_steps_and_repeats_are_checked_by_the_validator(flag, name, parts, capsys, tmp_path):
    code, _, err = run_cli(
        ["bench", "--parts", parts, "--backends", "jax", flag, "0", "--out", str(tmp_path / "bench.json")], capsys
    )
    assert_one_line_error(code, err, f"{name} must be a positive integer; received {name}=0")
    assert not (tmp_path / "bench.json").exists()


@pytest.mark.per_backend
@pytest.mark.slow
def test_bench_runs_and_writes_ratios(capsys, tmp_path, monkeypatch):
    # Two steps, one repeat, a tenth of the reference sizes (handed to every worker): checks the plumbing (fresh
    # processes, JSON, table), not the speed. The plumbing is the same for every backend: the Keras cases run on
    # torch, which runs them eagerly (on JAX each case's process compiles its model first: a minute in all).
    if "torch" not in sys.modules and not_installed("torch"):
        pytest.skip("the model part's anchor needs torch")
    backend = "torch"
    for key, value in {"vocab_size": 2_001, "maxlen": 110, "embedding_dim": 30}.items():
        monkeypatch.setitem(cases.SHAPE, key, value)
    # One process per case: one Keras case and the anchor are the plumbing; the other cases differ by their model.
    # The case tables are patched where the plan reads them, the plan where the driver reads it.
    monkeypatch.setattr(cases, "KERAS_MODEL_CASES", {"padzero fast path": cases.KERAS_MODEL_CASES["padzero fast path"]})
    monkeypatch.setattr(cases, "TORCH_MODEL_CASES", ("native torch",))
    # The bag part's plumbing is one case's two measures (its processes are the model part's; the ratios are tested
    # in test_bench_tables.py).
    monkeypatch.setattr(cases, "BAG_CASES", ("padzero.EmbeddingBag(mean)",))
    plan = cases.planned_measurements
    monkeypatch.setattr(
        driver,
        "planned_measurements",
        lambda parts, backends: [p for p in plan(parts, backends) if p["case"] != cases.NATIVE_BAG],
    )
    out = tmp_path / "bench.json"
    code, stdout, err = run_cli(
        [
            "bench",
            "--parts",
            "layer,model,bag",
            "--backends",
            backend,
            "--steps",
            "2",
            "--repeats",
            "1",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0, err
    rows = json.loads(out.read_text())["rows"]
    measured = {(r["part"], r["case"]) for r in rows}
    assert ("model", "padzero fast path") in measured and ("model", "native torch") in measured
    assert ("model", "keras baseline") not in measured  # the patched tables took effect
    assert ("layer", "padzero.Embedding") in measured
    assert ("bag", "padzero.EmbeddingBag(mean)") in measured
    assert all(r["ms"] > 0 and r["peak_mb"] > 0 for r in rows if r["part"] != "bag")
    bag = [r for r in rows if r["part"] == "bag"]
    assert len(bag) == 1 and bag[0]["layer_ms"] > 0 and bag[0]["step_ms"] > 0 and bag[0]["step_peak_mb"] > 0
    # Every row names the device it ran on: here, with no GPU, the machine itself, and the table says CPU.
    from padzero_study.runtime import machine

    devices = {r["device"] for r in rows}
    assert devices == {json.loads(out.read_text())["machine"]} or machine.training_device(backend)[0] != "cpu"
    layer_base = next(r for r in rows if r["case"] == "keras.layers.Embedding")
    assert layer_base["ratio"] == 1.0
    assert "| model |" in stdout
    assert json.loads(out.read_text())["settings"]["maxlen"] == 110
