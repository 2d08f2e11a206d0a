"""The study runner on the synthetic set: results, resume after a kill, refusals."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from padzero_study import runner as study

TINY = dict(
    dataset="synthetic", seeds=2, epochs=2, maxlen=60, vocab_size=300, max_docs=200,
    embedding_dim=8, hidden_units=5,
)
TINY_FLAGS = [
    "--dataset", "synthetic", "--seeds", "2", "--epochs", "3", "--maxlen", "60",
    "--vocab-size", "300", "--max-docs", "300",
]


def records_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_keys(records):
    return Counter((r["record"], r["variant"], r["seed"], r.get("epoch")) for r in records)


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("study")
    config = study.StudyConfig(variants=("padzero", "baseline"), **TINY)
    written = study.run_study(config, out_dir)
    return config, out_dir, written


def test_study_writes_one_line_per_epoch_and_run(finished_study):
    config, out_dir, written = finished_study
    records = records_of(out_dir / "results.jsonl")
    ends = [r for r in records if r["record"] == "run_end"]
    assert sorted((r["variant"], r["seed"]) for r in ends) == [("baseline", 0), ("baseline", 1), ("padzero", 0), ("padzero", 1)]
    for end in ends:
        epochs = [r["epoch"] for r in records if r["record"] == "epoch" and (r["variant"], r["seed"]) == (end["variant"], end["seed"])]
        assert epochs == list(range(1, end["epochs_run"] + 1))
    epoch = next(r for r in records if r["record"] == "epoch")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds", "backend", "config"):
        assert key in epoch
    assert epoch["config"]["maxlen"] == 60 and epoch["backend"] == config.backend
    saved = json.loads((out_dir / "config.json").read_text())
    assert saved["run_settings"] == config.run_settings() and "keras" in saved["versions"]
    for name in ("summary.csv", "report.md", "learning_curves.png"):
        assert (out_dir / name).stat().st_size > 0


def test_rerun_resumes_without_duplicating(finished_study):
    config, out_dir, _ = finished_study
    before = (out_dir / "results.jsonl").read_bytes()
    study.run_study(config, out_dir)
    assert (out_dir / "results.jsonl").read_bytes() == before


def test_more_seeds_extends_the_same_folder(finished_study, tmp_path):
    config, out_dir, _ = finished_study
    import dataclasses
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    study.run_study(dataclasses.replace(config, variants=("padzero",), seeds=3), copy)
    keys = run_keys(records_of(copy / "results.jsonl"))
    assert keys[("run_end", "padzero", 2, None)] == 1
    assert max(keys.values()) == 1


def test_interrupted_run_lines_are_set_aside_and_redone(tmp_path):
    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1})
    study.run_study(config, tmp_path)
    results = tmp_path / "results.jsonl"
    finished = results.read_text()
    # Simulate a kill during seed 1: one epoch line written, then a line cut mid-write.
    partial = {"record": "epoch", "variant": "padzero", "seed": 1, "epoch": 1, "val_accuracy": 0.5}
    results.write_text(finished + json.dumps(partial) + "\n" + '{"record": "epo')
    study.run_study(study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 2}), tmp_path)
    after = results.read_text()
    assert after.startswith(finished)
    assert max(run_keys(records_of(results)).values()) == 1
    assert json.loads((tmp_path / "interrupted.jsonl").read_text().splitlines()[0])["seed"] == 1


def test_kill_mid_study_then_resume_loses_nothing(tmp_path):
    """A real SIGKILL in a subprocess, then the same command again."""
    command = [sys.executable, "-m", "padzero", "reproduce", *TINY_FLAGS, "--variants", "padzero,baseline", "--out", str(tmp_path)]
    results = tmp_path / "results.jsonl"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        lines = results.read_text().splitlines(keepends=True) if results.exists() else []
        written = [json.loads(line) for line in lines if line.endswith("\n")]
        # Kill once a run has finished and the next one is half-way.
        if any(r["record"] == "run_end" for r in written) and written[-1]["record"] == "epoch":
            break
        time.sleep(0.02)
    assert process.poll() is None, "the study finished before it could be killed; make it longer"
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = [json.loads(line) for line in results.read_text().splitlines(keepends=True) if line.endswith("\n")]
    finished_before = {(r["variant"], r["seed"]) for r in kept if r["record"] == "run_end"}
    assert finished_before

    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    final = records_of(results)
    assert max(run_keys(final).values()) == 1
    for record in kept:  # every line of a run finished before the kill survives unchanged
        if (record["variant"], record["seed"]) in finished_before:
            assert record in final
    assert {(r["variant"], r["seed"]) for r in final if r["record"] == "run_end"} == {
        (v, s) for v in ("padzero", "baseline") for s in (0, 1)
    }


def test_shards_cover_the_grid_once_and_the_report_merges_them(tmp_path):
    import csv

    config = study.StudyConfig(variants=("padzero", "baseline"), **TINY)
    grid = [(v, s) for s in range(config.seeds) for v in config.variants]
    for index in (1, 2):
        study.run_study(config, tmp_path, shard=(index, 2))
    files = {index: tmp_path / f"results.shard-{index}-of-2.jsonl" for index in (1, 2)}
    assert not (tmp_path / "results.jsonl").exists()
    finished = {index: [(r["variant"], r["seed"]) for r in records_of(path) if r["record"] == "run_end"]
                for index, path in files.items()}
    # Shard K of N takes the runs at grid positions p with p % N == K - 1.
    assert finished[1] == grid[0::2] and finished[2] == grid[1::2]
    assert sorted(finished[1] + finished[2]) == sorted(grid)
    all_records = records_of(files[1]) + records_of(files[2])
    assert max(run_keys(all_records).values()) == 1

    before = {index: path.read_bytes() for index, path in files.items()}
    (tmp_path / "summary.csv").unlink()
    study.run_study(config, tmp_path)  # unsharded: every run is finished in some shard's file
    assert {index: path.read_bytes() for index, path in files.items()} == before
    assert not (tmp_path / "results.jsonl").exists()
    with open(tmp_path / "summary.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted((row["variant"], row["seeds"]) for row in rows) == [("baseline", "2"), ("padzero", "2")]


@pytest.mark.parametrize("shard", [(3, 2), (0, 2), (1, 0), (-1, 2), (1,), "1/2", (1.0, 2), (1, 5)])
def test_bad_shard_is_rejected_before_anything_is_written(shard, tmp_path):
    config = study.StudyConfig(variants=("padzero", "baseline"), **TINY)
    match = "would have no runs" if shard == (1, 5) else r"shard must be K/N with 1 <= K <= N; received shard="
    with pytest.raises(study.StudyError, match=match):
        study.run_study(config, tmp_path / "out", shard=shard)
    assert not (tmp_path / "out").exists()


def test_different_settings_are_refused_then_moved_aside_with_force(finished_study, tmp_path):
    import dataclasses
    import shutil

    _, out_dir, _ = finished_study
    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    before = (copy / "results.jsonl").read_bytes()
    other = study.StudyConfig(variants=("padzero",), **{**TINY, "maxlen": 61})
    with pytest.raises(study.StudyError, match=r"different settings \(maxlen: 60 -> 61\).*--force"):
        study.run_study(other, copy)
    assert (copy / "results.jsonl").read_bytes() == before
    study.run_study(dataclasses.replace(other, seeds=1), copy, force=True)
    backups = list(copy.glob("previous-*/results.jsonl"))
    assert len(backups) == 1 and backups[0].read_bytes() == before


def test_unwritable_out_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(study.StudyError, match="Cannot write to --out"):
        study.run_study(study.StudyConfig(variants=("padzero",), **TINY), blocker / "sub")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"seeds": -1}, "seeds must be a positive integer"),
        ({"maxlen": 0}, "maxlen must be a positive integer"),
        ({"vocab_size": 0}, "vocab_size must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"variants": ("padzero", "bogus")}, "Unknown variant"),
        ({"dataset": "imdb"}, "dataset must be"),
        ({"backend": "nonexistent"}, "set KERAS_BACKEND"),
    ],
)
def test_bad_settings_are_rejected(changes, message):
    with pytest.raises(study.StudyError, match=message):
        study.StudyConfig(**{**TINY, **changes})


@pytest.mark.slow
def test_small_study_on_the_real_archive(newsgroups_archive, tmp_path):
    config = study.StudyConfig(
        data_path=str(newsgroups_archive), variants=("padzero", "baseline"), seeds=1, epochs=1,
        max_docs=600, maxlen=200, vocab_size=2_000, embedding_dim=16,
    )
    study.run_study(config, tmp_path)
    records = records_of(tmp_path / "results.jsonl")
    ends = [r for r in records if r["record"] == "run_end"]
    assert sorted(r["variant"] for r in ends) == ["baseline", "padzero"]
    assert all(r["config"]["num_classes"] == 20 for r in ends)
    assert "20news" in (tmp_path / "report.md").read_text()


def test_progress_eta_uses_the_run_lengths_seen_so_far():
    progress = study.Progress(runs=4, max_epochs=30)
    assert progress.eta() == "unknown"
    progress.epoch_done(10.0)  # no finished run yet: assume 30 epochs a run
    assert progress.eta() == f"~0h{(29 + 3 * 30) * 10 // 60:02d}m"
    for _ in range(2):
        progress.epoch_done(10.0)
    progress.run_done()  # a 3-epoch run: now 3 epochs a run are expected
    progress.epoch_done(10.0)
    assert progress.eta() == f"~0h{(2 + 2 * 3) * 10 // 60:02d}m"


def test_force_with_bad_data_leaves_previous_results_in_place(finished_study, tmp_path):
    import shutil

    from padzero_study.data import DataError

    _, out_dir, _ = finished_study
    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    before = sorted(path.name for path in copy.iterdir())
    config = study.StudyConfig(dataset="20news", data_path=str(tmp_path / "missing.tar.gz"), variants=("padzero",), seeds=1)
    with pytest.raises(DataError):
        study.run_study(config, copy, force=True)
    assert sorted(path.name for path in copy.iterdir()) == before


def test_repeated_variants_run_once():
    config = study.StudyConfig(variants=("padzero", "baseline", "padzero"), **TINY)
    assert config.variants == ("padzero", "baseline")


def test_corrupt_results_line_is_named(tmp_path):
    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1})
    (tmp_path / "results.jsonl").write_text('{"record": "epoch"}\nnot json\n')
    with pytest.raises(study.StudyError, match=r"results.jsonl line 2 is not valid JSON"):
        study.run_study(config, tmp_path)


def test_fast_path_study_trims_the_variants_it_can(tmp_path):
    config = study.StudyConfig(variants=("padzero", "baseline"), fast_path=True, **{**TINY, "seeds": 1})
    study.run_study(config, tmp_path)
    ends = {r["variant"]: r for r in records_of(tmp_path / "results.jsonl") if r["record"] == "run_end"}
    assert ends["padzero"]["fast_path"] is True
    assert ends["baseline"]["fast_path"] is False  # its padding vector is not zero: the plain model
    epochs = [r for r in records_of(tmp_path / "results.jsonl") if r["record"] == "epoch"]
    assert all(0 <= r["val_accuracy"] <= 1 for r in epochs)


def test_fast_path_results_do_not_mix_with_plain_ones(finished_study, tmp_path):
    config, out_dir, _ = finished_study
    with pytest.raises(study.StudyError, match="fast_path: False -> True"):
        study.run_study(study.StudyConfig(variants=config.variants, fast_path=True, **TINY), out_dir)


def test_distribute_needs_jax(backend):
    if backend == "jax":
        pytest.skip("the refusal is for the other backends")
    with pytest.raises(study.StudyError, match="distribute needs the jax backend"):
        study.StudyConfig(distribute=True, **TINY)


def test_a_second_process_on_the_same_results_file_is_refused(finished_study, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    config, out_dir, _ = finished_study
    results = out_dir / "results.jsonl"
    # A half-done run that belongs to the process holding the lock: it must not be set aside.
    in_progress = dict(records_of(results)[0], seed=config.seeds)
    before = results.read_text() + json.dumps(in_progress) + "\n"
    results.write_text(before)
    with open(out_dir / "results.jsonl.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        bigger = study.StudyConfig(variants=config.variants, **{**TINY, "seeds": config.seeds + 1})
        with pytest.raises(study.StudyError, match="Another padzero process is writing"):
            study.run_study(bigger, out_dir)
    assert results.read_text() == before
    assert not (out_dir / "interrupted.jsonl").exists()
    # Put the folder back as the other tests of this module expect it.
    results.write_text(before.replace(json.dumps(in_progress) + "\n", ""))
