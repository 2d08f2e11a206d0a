"""The installed `padzero` command, run as a user runs it: KERAS_BACKEND unset, whatever single backend is installed.

CI runs these in a virtualenv that holds one backend only (where Keras's own
default, TensorFlow, is missing); anywhere else they run on the backend the
command picks. Each runs the command in a fresh process, on tiny inputs.
They import neither Keras nor the package under test.
"""

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version as installed_version
from importlib.util import find_spec
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

BACKENDS = ("jax", "tensorflow", "torch")
INSTALLED = [backend for backend in BACKENDS if find_spec(backend) is not None]


def padzero_command():
    """The console script beside this Python (the virtualenv's), else the one on PATH."""
    beside = Path(sys.executable).parent / ("padzero.exe" if os.name == "nt" else "padzero")
    found = str(beside) if beside.exists() else shutil.which("padzero")
    if found is None:
        pytest.fail("the padzero command is not installed (pip install -e '.[study]')")
    return found


def run_padzero(*argv, timeout=300, **environment):
    """`padzero ARGV` in a new process whose environment has no KERAS_BACKEND (plus `environment`)."""
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    return subprocess.run(
        [padzero_command(), *argv], capture_output=True, text=True, timeout=timeout, env={**env, **environment}
    )


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def test_help():
    result = run_padzero("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: padzero" in result.stdout and "reproduce" in result.stdout
    assert result.stderr == ""  # no backend's start-up log: --help imports none


def test_version():
    result = run_padzero("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"padzero {installed_version('padzero')}"


def test_report_of_a_results_folder(tmp_path):
    config = {"dataset": "synthetic", "num_classes": 20, "epochs": 2, "batch_size": 32, "maxlen": 30, "vocab_size": 100}
    records = []
    for variant, accuracies in (("baseline", [0.05, 0.05]), ("padzero", [0.30, 0.55])):
        identity = {"variant": variant, "seed": 0, "backend": "jax", "config": config}
        records += [
            {
                "record": "epoch",
                **identity,
                "epoch": epoch,
                "val_accuracy": accuracy,
                "val_loss": 2.9,
                "epoch_seconds": 0.5,
            }
            for epoch, accuracy in enumerate(accuracies, start=1)
        ]
        records.append({"record": "run_end", **identity, "epochs_run": 2, "train_seconds": 1.0})
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    result = run_padzero("report", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"report: {tmp_path / 'report.md'}"
    summary = (tmp_path / "summary.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in summary[1:]] == ["baseline", "padzero"]


def test_reproduce_a_tiny_synthetic_study(tmp_path):
    # A first run: no Keras config file yet (KERAS_HOME is where Keras looks for it, and writes it).
    out = tmp_path / "run"
    result = run_padzero(
        "reproduce",
        "--dataset",
        "synthetic",
        "--variants",
        "padzero",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--max-docs",
        "60",
        "--maxlen",
        "20",
        "--vocab-size",
        "50",
        "--out",
        str(out),
        KERAS_HOME=str(tmp_path / "keras-home"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    backend = json.loads((out / "config.json").read_text())["run_settings"]["backend"]
    assert backend in INSTALLED
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["record"], r["variant"], r["seed"]) for r in records] == [
        ("epoch", "padzero", 0),
        ("run_end", "padzero", 0),
    ]
    assert (out / "report.md").is_file()
    # Nothing named a backend, so the command picked one. With several installed, one line says which: the one
    # that ran. The only one installed is no choice: nothing is said (a note naming tensorflow once came with
    # every command of a jax-only install).
    notes = [line for line in result.stderr.splitlines() if line.startswith("padzero: ")]
    if len(INSTALLED) == 1:
        assert notes == []
    else:
        assert len(notes) == 1 and notes[0].startswith(f"padzero: KERAS_BACKEND is not set; using {backend} "), notes


@pytest.mark.parametrize(
    "command", [["reproduce", "--dataset", "synthetic"], ["diagnose"], ["bench", "--parts", "layer"]]
)
def test_bogus_backend_is_one_line(command, tmp_path):
    result = run_padzero(*command, "--out", str(tmp_path / "out"), KERAS_BACKEND="bogus")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "padzero: error: KERAS_BACKEND='bogus' is not a backend padzero runs on; set KERAS_BACKEND to one of "
        "jax, tensorflow, torch."
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(len(INSTALLED) == len(BACKENDS), reason="every backend is installed")
def test_backend_not_installed_names_the_extra(tmp_path):
    missing = next(backend for backend in BACKENDS if backend not in INSTALLED)
    result = run_padzero("reproduce", "--dataset", "synthetic", "--backend", missing, "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"padzero: error: --backend {missing}: backend {missing!r} is not installed; "
        f"install it with: pip install 'padzero[{missing}]'"
    ]
