"""The `padzero` command: bad input is one line on stderr and exit code 2, nothing written over."""

import gzip
import io
import subprocess
import sys
import tarfile

import pytest

from padzero_study import cli


def run_cli(argv, capsys):
    """Runs `padzero ARGV` in-process; returns (exit code, stdout, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as exit:  # argparse's own exits (usage errors, --help, --version)
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, fragment, out_dir=None):
    assert code == 2
    if out_dir is not None:
        assert not (out_dir / "config.json").exists() and not (out_dir / "results.jsonl").exists()
    lines = [line for line in err.splitlines() if line.strip() and "padzero: error" in line]
    assert len(lines) == 1, err
    assert fragment in lines[0], err
    assert "Traceback" not in err


def test_version(capsys):
    import padzero

    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and padzero.__version__ in out


SYNTHETIC = ["reproduce", "--dataset", "synthetic", "--max-docs", "100", "--maxlen", "30", "--vocab-size", "100"]


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--epochs", "0"], "--epochs: expected a positive integer, received '0'"),
        (["--seeds", "-2"], "--seeds: expected a positive integer"),
        (["--maxlen", "0"], "--maxlen: expected a positive integer"),
        (["--vocab-size", "abc"], "--vocab-size: expected a positive integer"),
        (["--batch-size", "0"], "--batch-size: expected a positive integer"),
        (["--variants", "padzero,nope"], "Unknown variant(s) ['nope']"),
        (["--backend", "theano"], "invalid choice: 'theano'"),
        (["--shard", "3/2"], "--shard: expected K/N with 1 <= K <= N, such as 2/4; received '3/2'"),
        (["--shard", "0/2"], "--shard: expected K/N with 1 <= K <= N, such as 2/4; received '0/2'"),
        (["--shard", "1/0"], "--shard: expected K/N with 1 <= K <= N, such as 2/4; received '1/0'"),
        (["--shard", "x"], "--shard: expected K/N with 1 <= K <= N, such as 2/4; received 'x'"),
    ],
)
def test_bad_arguments(extra, fragment, capsys, tmp_path):
    code, _, err = run_cli([*SYNTHETIC, "--out", str(tmp_path / "out"), *extra], capsys)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_missing_archive(capsys, tmp_path):
    code, _, err = run_cli(["reproduce", "--data", str(tmp_path / "nope.tar.gz"), "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "nope.tar.gz", tmp_path / "o")


def test_corrupt_archive(capsys, tmp_path):
    archive = tmp_path / "20news-bydate.tar.gz"
    archive.write_bytes(gzip.compress(b"not a tar file at all" * 50)[:200])
    code, _, err = run_cli(["reproduce", "--data", str(archive), "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, str(archive), tmp_path / "o")


def test_archive_without_newsgroups(capsys, tmp_path):
    archive = tmp_path / "other.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = b"hello"
        info = tarfile.TarInfo("somewhere/readme.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    code, _, err = run_cli(["reproduce", "--data", str(archive), "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, str(archive), tmp_path / "o")


def test_folder_without_newsgroups(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["reproduce", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "empty", tmp_path / "o")


def test_foreign_out_dir_is_refused_and_kept(capsys, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli([*SYNTHETIC, "--variants", "padzero", "--seeds", "1", "--epochs", "1", "--out", str(out)], capsys)
    assert code == 0, err
    before = (out / "results.jsonl").read_bytes()
    code, _, err = run_cli([*SYNTHETIC, "--variants", "padzero", "--seeds", "1", "--epochs", "2", "--out", str(out)], capsys)
    assert_one_line_error(code, err, "different settings (epochs: 1 -> 2)")
    assert (out / "results.jsonl").read_bytes() == before


def test_unwritable_out(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    code, _, err = run_cli([*SYNTHETIC, "--out", str(tmp_path / "file" / "out")], capsys)
    assert_one_line_error(code, err, "Cannot write to --out")


def test_report_rebuilds_from_results_alone(capsys, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli([*SYNTHETIC, "--variants", "padzero,baseline", "--seeds", "1", "--epochs", "1", "--out", str(out)], capsys)
    assert code == 0, err
    for name in ("summary.csv", "report.md", "learning_curves.png", "config.json"):
        (out / name).unlink()
    code, out_text, err = run_cli(["report", str(out)], capsys)
    assert code == 0, err
    assert (out / "summary.csv").read_text().count("\n") == 3  # header + two variants
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "padzero" in (out / "report.md").read_text()


def test_report_of_a_folder_without_results(capsys, tmp_path):
    code, _, err = run_cli(["report", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "results.jsonl")


def test_backend_not_installed_names_the_extra(monkeypatch, capsys, tmp_path):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    code, _, err = run_cli([*SYNTHETIC, "--backend", "torch", "--out", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "pip install 'padzero[torch]'")


def test_installed_console_script_runs():
    import shutil
    from pathlib import Path

    script = shutil.which("padzero") or str(Path(sys.executable).parent / "padzero")
    result = subprocess.run([script, "reproduce", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--quick" in result.stdout and "default" in result.stdout


def test_no_data_anywhere_points_to_data_and_synthetic(monkeypatch, capsys, tmp_path):
    import sklearn.datasets

    def unavailable(**kwargs):
        raise OSError("no network here")

    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", unavailable)
    code, _, err = run_cli(["reproduce", "--quick", "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "--data PATH", tmp_path / "o")
    assert "--dataset synthetic" in err


def test_backend_flag_switches_keras_backend(tmp_path, backend):
    import json
    import os

    other = "torch" if backend != "torch" else "jax"
    command = [sys.executable, "-m", "padzero", *SYNTHETIC, "--variants", "padzero", "--seeds", "1",
               "--epochs", "1", "--backend", other, "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KERAS_BACKEND": backend})
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "config.json").read_text())["run_settings"]["backend"] == other


def test_distribute_on_a_backend_without_keras_distribution(capsys, tmp_path, backend):
    if backend == "jax":
        pytest.skip("jax can distribute")
    code, _, err = run_cli([*SYNTHETIC, "--distribute", "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, "distribute needs the jax backend", tmp_path / "out")


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--parts", "layer,gpu"], "Unknown bench part(s) ['gpu']"),
        (["--backends", "jax,mxnet"], "Unknown backend(s) ['mxnet']"),
        (["--parts", ","], "Unknown bench part(s) (none given)"),
        (["--steps", "0"], "--steps: expected a positive integer"),
    ],
)
def test_bench_bad_arguments(extra, fragment, capsys, tmp_path):
    code, _, err = run_cli(["bench", *extra, "--out", str(tmp_path / "bench.json")], capsys)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "bench.json").exists()


def test_bench_backend_not_installed_names_the_extra(monkeypatch, capsys, tmp_path):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    code, _, err = run_cli(["bench", "--backends", "torch", "--parts", "layer", "--out", str(tmp_path / "b.json")], capsys)
    assert_one_line_error(code, err, "pip install 'padzero[torch]'")


def test_bench_runs_and_writes_ratios(capsys, tmp_path, backend):
    # Two steps, one repeat: checks the plumbing (fresh processes, JSON, table), not the speed.
    out = tmp_path / "bench.json"
    code, stdout, err = run_cli(
        ["bench", "--parts", "layer,model", "--backends", backend, "--steps", "2", "--repeats", "1", "--out", str(out)], capsys
    )
    assert code == 0, err
    import json

    rows = json.loads(out.read_text())["rows"]
    cases = {(r["part"], r["case"]) for r in rows}
    assert ("model", "padzero fast path") in cases and ("model", "native torch") in cases
    assert ("layer", "padzero.Embedding") in cases
    assert all(r["ms"] > 0 and r["peak_mb"] > 0 for r in rows)
    layer_base = [r for r in rows if r["case"] == "keras.layers.Embedding"][0]
    assert layer_base["ratio"] == 1.0
    assert "| model |" in stdout


@pytest.mark.parametrize("value", ["0", "-1", "abc", "inf"])
def test_bad_init_scale(value, capsys, tmp_path):
    code, _, err = run_cli([*SYNTHETIC, "--init-scale", value, "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, f"--init-scale: expected a positive number, received '{value}'", tmp_path / "out")
