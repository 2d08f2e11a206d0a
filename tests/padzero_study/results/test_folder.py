"""Tests for `padzero_study.results.folder`: one command reads each file of its study folder once."""

import json
from collections import Counter
from pathlib import Path

import pytest
from cli_runs import run_cli

from padzero_study.results import folder as folder_module
from padzero_study.results import jsonlines

# Each command reads the same files on every backend; torch trains these tiny studies fastest.
pytestmark = [pytest.mark.per_backend, pytest.mark.usefixtures("one_backend_suffices")]

TINY = [
    "--dataset",
    "synthetic",
    "--max-docs",
    "120",
    "--maxlen",
    "16",
    "--vocab-size",
    "40",
    "--epochs",
    "1",
    "--variants",
    "padzero",
]


@pytest.fixture
def reads(monkeypatch):
    """Counts, by file name, every read of a study folder's file: a results, diagnostics or interrupted file (through
    `jsonlines`) or config.json (through the folder)."""
    counted = Counter()
    for module in (jsonlines, folder_module):
        real = module.read_own_file

        def counting(path, real=real, **kwargs):
            counted[Path(path).name] += 1
            return real(path, **kwargs)

        monkeypatch.setattr(module, "read_own_file", counting)
    return counted


def test_a_study_folder_is_read_once_per_command(tmp_path, capsys, reads):
    out = tmp_path / "study"
    # A first run reads nothing: it wrote every line it has.
    assert run_cli(["reproduce", *TINY, "--seeds", "1", "--out", str(out)], capsys)[0] == 0
    assert reads == Counter()
    # An interrupted run's lines and a cut line: resuming reads each file once, sets the lines aside and reports.
    with open(out / "results.jsonl", "a") as file:
        file.write(
            json.dumps(
                {"record": "epoch", "variant": "padzero", "seed": 1, "backend": "jax", "epoch": 1, "val_accuracy": 0.1}
            )
            + "\n"
            + '{"record": "ep'
        )
    assert run_cli(["reproduce", *TINY, "--seeds", "2", "--out", str(out)], capsys)[0] == 0
    assert reads == Counter({"results.jsonl": 1, "config.json": 1}), reads
    reads.clear()
    assert run_cli(["report", str(out)], capsys)[0] == 0
    assert reads == Counter({"results.jsonl": 1, "interrupted.jsonl": 1}), reads


def test_a_diagnose_folder_is_read_once_per_command(tmp_path, capsys, reads):
    out = tmp_path / "diagnose"
    assert run_cli(["diagnose", *TINY, "--seeds", "1", "--out", str(out)], capsys)[0] == 0
    assert reads == Counter()
    assert run_cli(["diagnose", *TINY, "--seeds", "2", "--out", str(out)], capsys)[0] == 0
    assert reads == Counter({"results.jsonl": 1, "diagnostics.jsonl": 1, "config.json": 1}), reads
    reads.clear()
    assert run_cli(["report", str(out)], capsys)[0] == 0
    assert reads == Counter({"results.jsonl": 1, "diagnostics.jsonl": 1}), reads


def test_a_file_another_process_changed_is_read_again(tmp_path, reads):
    # A shard beside this one appends to its own file: the report at the end holds its runs too.
    path = tmp_path / "results.shard-2-of-2.jsonl"
    line = {"record": "run_end", "variant": "padzero", "seed": 1, "backend": "jax", "epochs_run": 1}
    path.write_text(json.dumps(line) + "\n")
    folder = folder_module.StudyFolder(tmp_path)
    assert len(folder.records) == 1 and len(folder.records) == 1
    assert reads == Counter({path.name: 1})
    with open(path, "a") as file:
        file.write(json.dumps({**line, "seed": 3}) + "\n")
    assert len(folder.records) == 2 and reads == Counter({path.name: 2})
