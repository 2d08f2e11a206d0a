"""`padzero bench`: choices and the output path are checked before any measurement; results are written whole.

Only the last tests need Keras (the step count's validator) or spawn measurements.
"""

import importlib
import importlib.util
import io
import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from padzero_study import bench

from padzero_study.data import newsgroups as data
from padzero_study.runtime.backends import BACKENDS
from cli_runs import assert_one_line_error, run_cli

FAKE_RESULTS = {
    "settings": {"parts": ["layer"], "backends": ["jax"], "steps": 2, "repeats": 1,
                 "mean_length": 99.0, "padding_share": 0.9, **bench.SHAPE},
    "machine": "2 x test CPU", "python": "3.11",
    "rows": [{"part": "layer", "backend": "jax", "case": "keras.layers.Embedding", "ms": 1.0, "peak_mb": 100.0,
              "ratio": 1.0, "ratio_to": "jax keras.layers.Embedding"}],
}


@pytest.fixture
def measurements(monkeypatch):
    """Stands in for `run_bench`: records its calls and returns FAKE_RESULTS without measuring."""
    calls = []

    def fake_run_bench(parts, backends, **kwargs):
        calls.append((parts, backends, kwargs))
        return FAKE_RESULTS

    monkeypatch.setattr(bench, "run_bench", fake_run_bench)
    return calls


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


def test_without_torch_the_model_part_runs_without_its_anchor_and_says_so(monkeypatch, capsys, caplog, tmp_path,
                                                                         measurements):
    # After the README's JAX-only quick start, `padzero bench --quick` once failed: its anchor needs torch.
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    assert [p for p in bench.planned_measurements(["model", "bag"], ["jax"]) if p["backend"] == "torch"] == []
    with caplog.at_level(logging.INFO, logger="padzero_study"):
        code, _, err = run_cli(["bench", "--quick", "--backends", "jax", "--out", str(tmp_path / "b.json")], capsys)
    assert code == 0, err
    assert "native PyTorch rows (the anchor of the model and bag parts) are left out" in caplog.text
    assert "pip install 'padzero[torch]'" in caplog.text


def test_backend_not_installed_names_the_extra(monkeypatch, capsys, tmp_path, measurements):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    code, _, err = run_cli(["bench", "--backends", "torch", "--parts", "layer", "--out", str(tmp_path / "b.json")], capsys)
    assert_one_line_error(code, err, "pip install 'padzero[torch]'")
    assert measurements == []


@pytest.mark.parametrize(
    "out, fragment",
    [
        ("{tmp}", "is a folder; give the results a file name, such as"),
        ("{tmp}/missing/bench.json", "folder {tmp}/missing does not exist"),
        ("", "--out: expected a value, received ''"),
    ],
)
def test_output_path_is_checked_before_measuring(out, fragment, capsys, tmp_path, measurements):
    # The whole bench once ran for minutes, then failed to write to a folder, losing every result.
    code, _, err = run_cli(["bench", "--parts", "layer", "--backends", "jax", "--out", out.format(tmp=tmp_path)], capsys)
    assert_one_line_error(code, err, fragment.format(tmp=tmp_path))
    assert measurements == []


@pytest.mark.parametrize("through_link", [False, True])
def test_output_that_is_not_a_regular_file_is_refused_and_kept(through_link, capsys, tmp_path, measurements):
    # Writing replaced /dev/full, a device, with a JSON file. A fifo stands in for it.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out = fifo
    if through_link:
        out = tmp_path / "link.json"
        out.symlink_to(fifo)
    code, _, err = run_cli(["bench", "--parts", "layer", "--backends", "jax", "--out", str(out)], capsys)
    assert_one_line_error(code, err, f"--out {out} is not a regular file")
    assert measurements == []
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.path.islink(out) == through_link


def test_output_that_became_a_fifo_during_the_measurements_is_not_replaced(tmp_path):
    out = tmp_path / "bench.json"
    os.mkfifo(out)
    with pytest.raises(bench.BenchError, match="is not a regular file"):
        bench.write_results(FAKE_RESULTS, out)
    assert stat.S_ISFIFO(os.lstat(out).st_mode) and [path.name for path in tmp_path.iterdir()] == ["bench.json"]


def test_output_link_to_a_regular_file_is_accepted(capsys, tmp_path, measurements):
    target = tmp_path / "target.json"
    target.write_text("{}")
    out = tmp_path / "link.json"
    out.symlink_to(target)
    code, _, err = run_cli(["bench", "--parts", "layer", "--backends", "jax", "--out", str(out)], capsys)
    assert code == 0, err
    assert json.loads(out.read_text()) == FAKE_RESULTS


def test_data_that_is_a_fifo_is_refused_before_measuring(capsys, tmp_path, measurements):
    # Reading a fifo blocked forever.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, _, err = run_cli(["bench", "--parts", "layer", "--backends", "jax", "--data", str(fifo),
                            "--out", str(tmp_path / "bench.json")], capsys)
    assert_one_line_error(code, err, f"--data {fifo} is not a regular file or folder")
    assert measurements == []


def test_named_backends_get_no_note_on_keras_config(tmp_path):
    # `--backends torch` once began with a note on which backend Keras's config file names: beside the point.
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    environment["KERAS_HOME"] = str(tmp_path)  # no config file: the note would say KERAS_BACKEND is not set
    argv = ["bench", "--parts", "layer", "--backends", "jax", "--steps", "0", "--out", str(tmp_path / "b.json")]
    result = subprocess.run([sys.executable, "-m", "padzero_study", *argv], capture_output=True, text=True,
                            env=environment, timeout=300)
    assert_one_line_error(result.returncode, result.stderr, "steps")
    assert "KERAS_BACKEND is not set" not in result.stderr


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a folder nobody can write, such as /proc")
def test_unwritable_output_folder_is_checked_before_measuring(capsys, measurements):
    code, _, err = run_cli(["bench", "--parts", "layer", "--backends", "jax", "--out", "/proc/bench.json"], capsys)
    assert_one_line_error(code, err, "Cannot write the results to /proc/bench.json")
    assert measurements == []


def test_results_are_written_and_tabled(capsys, tmp_path, measurements):
    out = tmp_path / "bench.json"
    code, stdout, err = run_cli(["bench", "--parts", "layer,model", "--backends", "jax", "--steps", "3", "--out",
                                 str(out)], capsys)
    assert code == 0, err
    assert json.loads(out.read_text()) == FAKE_RESULTS
    assert measurements == [(["layer", "model"], ["jax"], {"quick": False, "lengths": None, "steps": 3, "repeats": None})]
    assert bench.format_table(FAKE_RESULTS) in stdout and f"results: {out}" in stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bench.json"]  # no temporary file left


def test_backends_default_to_the_installed_ones(capsys, tmp_path, measurements):
    # Every backend by default once made a one-backend install refuse a plain `padzero bench`.
    code, _, err = run_cli(["bench", "--parts", "layer", "--out", str(tmp_path / "bench.json")], capsys)
    assert code == 0, err
    assert measurements[0][1] == [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def test_a_failed_write_keeps_the_previous_results(tmp_path):
    out = tmp_path / "bench.json"
    out.write_text('{"previous": true}')
    with pytest.raises(TypeError):
        bench.write_results({"rows": [object()]}, out)  # not JSON: fails half-way through the dump
    assert out.read_text() == '{"previous": true}'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bench.json"]


def test_written_results_get_the_usual_file_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        bench.write_results(FAKE_RESULTS, tmp_path / "bench.json")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "bench.json").stat().st_mode) == 0o644


def test_synthetic_lengths_come_from_the_data_module(monkeypatch):
    # One owner for the shape of synthetic posts: data.synthetic_post_lengths, cut at the bench's maxlen.
    drawn = np.array([3, 99, 5_000, bench.SHAPE["maxlen"]])
    monkeypatch.setattr(data, "synthetic_post_lengths", lambda count, seed=0: drawn[:count])
    np.testing.assert_array_equal(bench.synthetic_lengths(4), [3, 99, bench.SHAPE["maxlen"], bench.SHAPE["maxlen"]])


def test_synthetic_batches_are_pre_padded_to_the_drawn_lengths():
    lengths = bench.synthetic_lengths(500)
    ids, labels = bench.make_batches(lengths, steps=2)
    assert ids.shape == (2 * bench.SHAPE["batch_size"], bench.SHAPE["maxlen"]) and labels.shape == (len(ids),)
    real = bench.lengths_of(ids)
    assert set(real) <= set(lengths)
    for row, length in zip(ids, real):  # padding first, then only real ids
        assert not row[: len(row) - length].any() and row[len(row) - length :].all()


def test_the_bag_part_measures_each_case_twice_on_every_backend_and_native_torch_once():
    plan = bench.planned_measurements(["bag"], ["jax", "torch"])
    assert {p["part"] for p in plan} == {"bag"}
    measured = [(p["backend"], p["case"], p["measure"]) for p in plan]
    assert len(measured) == len(set(measured)) == 2 * 2 * 2 + 2
    for backend in ("jax", "torch"):
        for case in bench.BAG_CASES:
            assert {m for b, c, m in measured if (b, c) == (backend, case)} == {"layer", "step"}
    assert [m for _, c, m in measured if c == bench.NATIVE_BAG] == ["layer", "step"]
    assert bench.KERAS_POOLING in bench.BAG_CASES and bench.planned_measurements(["layer"], ["jax"])[0]["case"] is None


def bag_measurements(times):
    """What `run_in_turn` returns for the bag part: one row per (backend, case, measure), from {(b, c): (layer, step)}."""
    return [{"part": "bag", "backend": backend, "case": case, "measure": measure, "ms": ms, "peak_mb": 100.0 + ms,
             "device": "2 x test CPU", **({"xla_temp_mb": 1.5} if (backend, measure) == ("jax", "layer") else {})}
            for (backend, case), pair in times.items() for measure, ms in zip(bench.BAG_MEASURES, pair)]


BAG, POOLING, NATIVE = "padzero.EmbeddingBag(mean)", bench.KERAS_POOLING, bench.NATIVE_BAG


def test_bag_rows_hold_both_measures_and_their_ratios_to_pooling_and_to_native_torch():
    times = {("jax", BAG): (1.0, 4.0), ("jax", POOLING): (2.0, 8.0), ("tensorflow", BAG): (3.0, 6.0),
             ("tensorflow", POOLING): (1.5, 2.0), ("torch", NATIVE): (0.5, 16.0)}
    rows = {(r["backend"], r["case"]): r for r in bench.with_ratios(bench.bag_rows(bag_measurements(times)))}
    assert list(rows) == list(times)
    bag = rows[("jax", BAG)]
    assert (bag["layer_ms"], bag["step_ms"], bag["layer_peak_mb"], bag["step_peak_mb"]) == (1.0, 4.0, 101.0, 104.0)
    assert bag["xla_temp_mb"] == 1.5 and rows[("tensorflow", BAG)]["xla_temp_mb"] is None
    assert (bag["layer_ratio"], bag["step_ratio"]) == (0.5, 0.5) and bag["ratio_to"] == f"jax {POOLING}"
    assert (bag["layer_torch_ratio"], bag["step_torch_ratio"]) == (2.0, 0.25)
    assert (rows[("tensorflow", BAG)]["layer_ratio"], rows[("tensorflow", BAG)]["step_ratio"]) == (2.0, 3.0)
    assert rows[("jax", POOLING)]["layer_ratio"] == 1.0
    native = rows[("torch", NATIVE)]
    assert native["layer_ratio"] is None and native["ratio_to"] is None and native["step_torch_ratio"] == 1.0


def test_without_pooling_or_native_torch_the_bag_ratios_are_left_empty():
    rows = bench.with_ratios(bench.bag_rows(bag_measurements({("jax", BAG): (1.0, 4.0)})))
    assert [rows[0][key] for key in ("layer_ratio", "step_ratio", "layer_torch_ratio", "step_torch_ratio",
                                     "ratio_to")] == [None] * 5


def test_the_bag_part_has_a_table_of_its_own():
    times = {("jax", BAG): (1.0, 4.0), ("jax", POOLING): (2.0, 8.0), ("torch", NATIVE): (0.5, 16.0)}
    rows = bench.with_ratios(bench.bag_rows(bag_measurements(times)))
    for row in rows:
        row["epoch_seconds"] = row["step_ms"] * 472 / 1e3
    results = {**FAKE_RESULTS, "rows": [*FAKE_RESULTS["rows"], *rows]}
    table = bench.format_table(results).splitlines()
    assert table[4].startswith("| layer | jax |")  # the layer and model parts' table first
    bag_lines = [line for line in table if line.startswith(("| jax |", "| torch |"))]
    assert bag_lines == [
        f"| jax | CPU | {BAG} | 1.00 ms | 0.50x | 2.00x | 4.00 ms (2 s/epoch) | 0.50x | 0.25x | 101 / 104 MB | 1.5 MB |",
        (f"| jax | CPU | {POOLING} | 2.00 ms | 1.00x | 4.00x | 8.00 ms (4 s/epoch) | 1.00x | 0.50x | 102 / 108 MB "
         "| 1.5 MB |"),
        f"| torch | CPU | {NATIVE} | 0.50 ms | - | 1.00x | 16.00 ms (8 s/epoch) | - | 1.00x | 100 / 116 MB | - |",
    ]
    only_bag = bench.format_table({**results, "rows": rows})
    assert "| part |" not in only_bag and only_bag.count("| jax |") == 2


# ---------------------------------------------------------------- with Keras


@pytest.mark.parametrize("backends", [["jax"], ["tensorflow", "torch"], ["jax", "tensorflow", "torch"]])
def test_the_floor_case_runs_once_on_jax_and_sees_padding_only(backends, tmp_path, monkeypatch):
    plan = bench.planned_measurements(["model"], backends)
    floors = [p["backend"] for p in plan if p["case"] == bench.FLOOR_CASE]
    assert floors == (["jax"] if "jax" in backends else [])

    batches = tmp_path / "batches.npz"
    ids, labels = bench.make_batches(bench.synthetic_lengths(64), 2)
    np.savez(batches, ids=ids, labels=labels)
    seen = {}

    class Model:  # records what fit is given, instead of training
        def compile(self, **kwargs):
            pass

        def fit(self, x, y, **kwargs):
            seen["ids"] = x

    monkeypatch.setattr("padzero_study.models.variants.build_model", lambda *args, **kwargs: Model())
    for case, padding_only in ((bench.FLOOR_CASE, True), ("padzero fast path", False)):
        epoch, steps = bench.keras_model_epoch({"batches": str(batches), "case": case})
        epoch()
        assert steps == 2 and (not seen["ids"].any()) == padding_only


@pytest.mark.per_backend
def test_the_bag_parts_measures_run_on_this_backend_and_in_native_torch(tmp_path, monkeypatch, backend):
    # Each bag case's process, in this one: the passes its driver would time, at a hundredth of the study's sizes.
    for key, value in {"vocab_size": 201, "maxlen": 30, "embedding_dim": 8}.items():
        monkeypatch.setitem(bench.SHAPE, key, value)
    batches = tmp_path / "batches.npz"
    ids, labels = bench.make_batches(bench.synthetic_lengths(64), 2)
    np.savez(batches, ids=ids, labels=labels)
    cases = [*bench.BAG_CASES, *([bench.NATIVE_BAG] if backend == "torch" else [])]  # native: on one backend
    for case in cases:
        for measure in bench.BAG_MEASURES:
            replies = io.StringIO()
            settings = {"part": "bag", "backend": backend, "case": case, "measure": measure, "batches": str(batches)}
            bench.serve_case(settings, commands=["run\n", "done\n"], replies=replies)
            ready, timed, done = map(json.loads, replies.getvalue().splitlines())
            assert ready["ready"] and timed["ms"] > 0 and done["peak_mb"] > 0, (case, measure)
            has_temporaries = backend == "jax" and measure == "layer" and case != bench.NATIVE_BAG
            assert ("xla_temp_mb" in ready) == has_temporaries, (case, measure)


@pytest.mark.per_backend
@pytest.mark.parametrize("flag, name, parts", [("--steps", "steps", "model"), ("--repeats", "repeats", "layer")])
def test_steps_and_repeats_are_checked_by_the_validator(flag, name, parts, capsys, tmp_path):
    code, _, err = run_cli(["bench", "--parts", parts, "--backends", "jax", flag, "0",
                            "--out", str(tmp_path / "bench.json")], capsys)
    assert_one_line_error(code, err, f"{name} must be a positive integer; received {name}=0")
    assert not (tmp_path / "bench.json").exists()


@pytest.mark.per_backend
@pytest.mark.slow
def test_bench_runs_and_writes_ratios(capsys, tmp_path, monkeypatch):
    # Two steps, one repeat, a tenth of the reference sizes (handed to every worker): checks the plumbing (fresh
    # processes, JSON, table), not the speed. The plumbing is the same for every backend: the Keras cases run on
    # torch, which runs them eagerly (on JAX each case's process compiles its model first: a minute in all).
    if "torch" not in sys.modules and bench.not_installed("torch"):
        pytest.skip("the model part's anchor needs torch")
    backend = "torch"
    for key, value in {"vocab_size": 2_001, "maxlen": 110, "embedding_dim": 30}.items():
        monkeypatch.setitem(bench.SHAPE, key, value)
    # One process per case: one Keras case and the anchor are the plumbing; the other cases differ by their model.
    monkeypatch.setattr(bench, "KERAS_MODEL_CASES", {"padzero fast path": bench.KERAS_MODEL_CASES["padzero fast path"]})
    monkeypatch.setattr(bench, "TORCH_MODEL_CASES", ("native torch",))
    # The bag part's plumbing is one case's two measures (its processes are the model part's; the ratios are tested above).
    monkeypatch.setattr(bench, "BAG_CASES", ("padzero.EmbeddingBag(mean)",))
    plan = bench.planned_measurements
    monkeypatch.setattr(bench, "planned_measurements",
                        lambda parts, backends: [p for p in plan(parts, backends) if p["case"] != bench.NATIVE_BAG])
    out = tmp_path / "bench.json"
    code, stdout, err = run_cli(
        ["bench", "--parts", "layer,model,bag", "--backends", backend, "--steps", "2", "--repeats", "1", "--out",
         str(out)],
        capsys,
    )
    assert code == 0, err
    rows = json.loads(out.read_text())["rows"]
    cases = {(r["part"], r["case"]) for r in rows}
    assert ("model", "padzero fast path") in cases and ("model", "native torch") in cases
    assert ("layer", "padzero.Embedding") in cases
    assert ("bag", "padzero.EmbeddingBag(mean)") in cases
    assert all(r["ms"] > 0 and r["peak_mb"] > 0 for r in rows if r["part"] != "bag")
    bag = [r for r in rows if r["part"] == "bag"]
    assert len(bag) == 1 and bag[0]["layer_ms"] > 0 and bag[0]["step_ms"] > 0 and bag[0]["step_peak_mb"] > 0
    # Every row names the device it ran on: here, with no GPU, the machine itself, and the table says CPU.
    from padzero_study.runtime import machine

    devices = {r["device"] for r in rows}
    assert devices == {json.loads(out.read_text())["machine"]} or machine.training_device(backend)[0] != "cpu"
    layer_base = [r for r in rows if r["case"] == "keras.layers.Embedding"][0]
    assert layer_base["ratio"] == 1.0
    assert "| model |" in stdout
    assert json.loads(out.read_text())["settings"]["maxlen"] == 110


def test_the_table_names_each_rows_device():
    gpu_row = {**FAKE_RESULTS["rows"][0], "device": "NVIDIA H200"}
    cpu_row = {**FAKE_RESULTS["rows"][0], "device": FAKE_RESULTS["machine"], "case": "padzero.Embedding"}
    table = bench.format_table({**FAKE_RESULTS, "rows": [gpu_row, cpu_row]})
    assert "| layer | jax | NVIDIA H200 | keras.layers.Embedding |" in table
    assert "| layer | jax | CPU | padzero.Embedding |" in table
