"""The study runner on the synthetic set: results, resume after a kill, refusals."""

import contextlib
import copy
import dataclasses
import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from tiny_study import TINY

from padzero_study import results
from padzero_study.data import synthetic
from padzero_study.files import FileError
from padzero_study.reports import folder_report
from padzero_study.study import runner as study

pytestmark = pytest.mark.per_backend

# The runner's own work (results, resuming, shards, refusals) is the same on either path, and the plain
# layers compile far faster on JAX; the fast path's study is tested against the plain one's below.
TINY_FLAGS = [
    "--dataset",
    "synthetic",
    "--seeds",
    "2",
    "--epochs",
    "3",
    "--maxlen",
    "60",
    "--vocab-size",
    "300",
    "--max-docs",
    "300",
    "--plain",
]


def run_and_report(config, out_dir, **options):
    """What `padzero reproduce` does: the runs (`run_study` trains and records only), then the folder's report."""
    study.run_study(config, out_dir, **options)
    return folder_report.write_report(out_dir)


def records_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_keys(records):
    return Counter((r["record"], r["variant"], r["seed"], r.get("epoch")) for r in records)


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("study")
    config = study.StudyConfig(variants=("padzero", "baseline"), **TINY)
    written = run_and_report(config, out_dir)
    return config, out_dir, written


def test_study_writes_one_line_per_epoch_and_run(finished_study):
    config, out_dir, written = finished_study
    records = records_of(out_dir / "results.jsonl")
    ends = [r for r in records if r["record"] == "run_end"]
    assert sorted((r["variant"], r["seed"]) for r in ends) == [
        ("baseline", 0),
        ("baseline", 1),
        ("padzero", 0),
        ("padzero", 1),
    ]
    for end in ends:
        epochs = [
            r["epoch"]
            for r in records
            if r["record"] == "epoch" and (r["variant"], r["seed"]) == (end["variant"], end["seed"])
        ]
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
    run_and_report(config, out_dir)
    assert (out_dir / "results.jsonl").read_bytes() == before


def test_more_seeds_extends_the_same_folder(finished_study, tmp_path):
    config, out_dir, _ = finished_study
    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    run_and_report(dataclasses.replace(config, variants=("padzero",), seeds=3), copy)
    keys = run_keys(records_of(copy / "results.jsonl"))
    assert keys[("run_end", "padzero", 2, None)] == 1
    assert max(keys.values()) == 1


@pytest.mark.usefixtures("one_backend_suffices")
def test_interrupted_run_lines_are_set_aside_and_redone(tmp_path):
    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1})
    run_and_report(config, tmp_path)
    results = tmp_path / "results.jsonl"
    finished = results.read_text()
    # Simulate a kill during seed 1: one epoch line written, then a line cut mid-write.
    partial = {
        "record": "epoch",
        "variant": "padzero",
        "seed": 1,
        "epoch": 1,
        "val_accuracy": 0.5,
        "backend": config.backend,
    }
    results.write_text(finished + json.dumps(partial) + "\n" + '{"record": "epo')
    run_and_report(study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 2}), tmp_path)
    after = results.read_text()
    assert after.startswith(finished)
    assert max(run_keys(records_of(results)).values()) == 1
    assert json.loads((tmp_path / "interrupted.jsonl").read_text().splitlines()[0])["seed"] == 1


@pytest.mark.usefixtures("one_backend_suffices")  # what survives a kill is the results files' business
def test_kill_mid_study_then_resume_loses_nothing(tmp_path):
    """A real SIGKILL in a subprocess, then the same command again."""
    command = [
        sys.executable,
        "-m",
        "padzero_study",
        "reproduce",
        *TINY_FLAGS,
        "--variants",
        "padzero,baseline",
        "--out",
        str(tmp_path),
    ]
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


@pytest.mark.usefixtures("one_backend_suffices")
def test_shards_cover_the_grid_once_and_the_report_merges_them(tmp_path):
    import csv

    config = study.StudyConfig(variants=("padzero", "baseline"), **TINY)
    grid = [(v, s) for s in range(config.seeds) for v in config.variants]
    for index in (1, 2):
        run_and_report(config, tmp_path, shard=(index, 2))
    files = {index: tmp_path / f"results.shard-{index}-of-2.jsonl" for index in (1, 2)}
    assert not (tmp_path / "results.jsonl").exists()
    finished = {
        index: [(r["variant"], r["seed"]) for r in records_of(path) if r["record"] == "run_end"]
        for index, path in files.items()
    }
    # Shard K of N takes the runs at grid positions p with p % N == K - 1.
    assert finished[1] == grid[0::2] and finished[2] == grid[1::2]
    assert sorted(finished[1] + finished[2]) == sorted(grid)
    all_records = records_of(files[1]) + records_of(files[2])
    assert max(run_keys(all_records).values()) == 1

    before = {index: path.read_bytes() for index, path in files.items()}
    (tmp_path / "summary.csv").unlink()
    run_and_report(config, tmp_path)  # unsharded: every run is finished in some shard's file
    assert {index: path.read_bytes() for index, path in files.items()} == before
    assert not (tmp_path / "results.jsonl").exists()
    with open(tmp_path / "summary.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted((row["variant"], row["seeds"]) for row in rows) == [("baseline", "2"), ("padzero", "2")]


@pytest.mark.parametrize("shard", [(3, 2), (0, 2), (1, 0), (-1, 2), (1,), "1/2", (1.0, 2), (1, 5)])
def test_bad_shard_is_rejected_before_anything_is_written(shard, tmp_path):
    config = study.StudyConfig(variants=("padzero", "baseline"), **TINY)
    match = "would have no runs" if shard == (1, 5) else r"shard must be K/N with 1 <= K <= N, such as 2/4; received "
    with pytest.raises(study.StudyError, match=match):
        run_and_report(config, tmp_path / "out", shard=shard)
    assert not (tmp_path / "out").exists()


@pytest.mark.usefixtures("one_backend_suffices")
def test_different_settings_are_refused_then_moved_aside_with_force(finished_study, tmp_path):
    _, out_dir, _ = finished_study
    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    before = (copy / "results.jsonl").read_bytes()
    other = study.StudyConfig(variants=("padzero",), **{**TINY, "maxlen": 61})
    with pytest.raises(study.StudyError, match=r"different settings \(maxlen: 60 -> 61\).*--force"):
        run_and_report(other, copy)
    assert (copy / "results.jsonl").read_bytes() == before
    run_and_report(dataclasses.replace(other, seeds=1), copy, force=True)
    backups = list(copy.glob("previous-*/results.jsonl"))
    assert len(backups) == 1 and backups[0].read_bytes() == before


def test_unwritable_out_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(study.StudyError, match="goes through .*a-file, which is a file, not a folder"):
        run_and_report(study.StudyConfig(variants=("padzero",), **TINY), blocker / "sub")


@pytest.mark.slow
def test_small_study_on_the_real_archive(newsgroups_archive, tmp_path):
    config = study.StudyConfig(
        data_path=str(newsgroups_archive),
        variants=("padzero", "baseline"),
        seeds=1,
        epochs=1,
        max_docs=600,
        maxlen=200,
        vocab_size=2_000,
        embedding_dim=16,
        fast_path=False,  # the data is the subject
    )
    run_and_report(config, tmp_path)
    records = records_of(tmp_path / "results.jsonl")
    ends = [r for r in records if r["record"] == "run_end"]
    assert sorted(r["variant"] for r in ends) == ["baseline", "padzero"]
    assert all(r["config"]["num_classes"] == 20 for r in ends)
    assert "20news" in (tmp_path / "report.md").read_text()


def test_force_with_bad_data_leaves_previous_results_in_place(finished_study, tmp_path):
    from padzero_study.data.newsgroups import DataError

    _, out_dir, _ = finished_study
    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    before = sorted(path.name for path in copy.iterdir())
    config = study.StudyConfig(
        dataset="20news", data_path=str(damaged_archive(tmp_path)), variants=("padzero",), seeds=1
    )
    with pytest.raises(DataError):
        run_and_report(config, copy, force=True)
    assert sorted(path.name for path in copy.iterdir()) == before


def damaged_archive(folder):
    """A `20news-bydate.tar.gz` in `folder` that exists but is no archive: refused when the data loads, which is
    after the settings and the folder have passed their checks."""
    path = folder / "20news-bydate.tar.gz"
    path.write_bytes(b"not a gzip stream")
    return path


def test_corrupt_results_line_is_named(tmp_path):
    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1})
    (tmp_path / "results.jsonl").write_text('{"record": "epoch"}\nnot json\n')
    end = {"record": "run_end", "variant": "padzero", "seed": 0, "backend": config.backend, "epochs_run": 1}
    (tmp_path / "results.jsonl").write_text(json.dumps(end) + "\nnot json\n")
    with pytest.raises(FileError, match=r"results.jsonl line 2 is not valid JSON"):
        run_and_report(config, tmp_path)


def test_fast_path_study_matches_the_plain_one(finished_study, tmp_path, backend):
    # The same batches, weights and function on both paths, so the same numbers.
    if backend == "tensorflow":  # the layer equals the plain layers on every backend (test_embedding_flatten_dense)
        pytest.skip("the study's fast path is checked end to end on jax, where it is the default, and torch")
    config, out_dir, _ = finished_study
    assert not config.fast_path  # TINY: the plain layers
    # One variant, one seed: the fast path's own exactness is test_variants' and test_embedding_flatten_dense's.
    study.run_study(dataclasses.replace(config, fast_path=True, variants=("padzero",), seeds=1), tmp_path)
    fast, plain = (
        {
            (r["variant"], r["seed"], r["epoch"]): r
            for r in records_of(folder / "results.jsonl")
            if r["record"] == "epoch"
        }
        for folder in (tmp_path, out_dir)
    )
    plain = {key: record for key, record in plain.items() if key[:2] == ("padzero", 0)}
    assert fast.keys() == plain.keys() and not (tmp_path / "report.md").exists()  # the runner writes no report
    for key in fast:
        assert fast[key]["fast_path"] is True and plain[key]["fast_path"] is False
        for metric in ("loss", "val_loss", "val_accuracy"):
            assert fast[key][metric] == pytest.approx(plain[key][metric], rel=1e-3, abs=1e-4), (key, metric)


def test_the_same_data_by_another_path_resumes_the_folder(finished_study):
    config, out_dir, _ = finished_study
    moved = copy.copy(config)  # past the settings' checks: no such archive, and a synthetic study reads none
    object.__setattr__(moved, "data_path", "/elsewhere/20news-bydate.tar.gz")
    assert study.check_out_dir(moved, results.StudyFolder(out_dir), force=False) is False


def test_fast_path_results_do_not_mix_with_plain_ones(finished_study, tmp_path):
    config, out_dir, _ = finished_study
    other = not config.fast_path
    with pytest.raises(study.StudyError, match=f"fast_path: {str(config.fast_path).lower()} -> {str(other).lower()}"):
        run_and_report(study.StudyConfig(variants=config.variants, **{**TINY, "fast_path": other}), out_dir)


def test_a_second_process_on_the_same_results_file_is_refused(finished_study, tmp_path):
    pytest.importorskip("fcntl")
    config, out_dir, _ = finished_study
    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    path = copy / "results.jsonl"
    # A half-done run that belongs to the process holding the lock: it must not be set aside.
    in_progress = dict(records_of(path)[0], seed=config.seeds)
    before = path.read_text() + json.dumps(in_progress) + "\n"
    path.write_text(before)
    listing = sorted(p.name for p in copy.iterdir())
    with results.study_lock(copy):
        bigger = study.StudyConfig(variants=config.variants, **{**TINY, "seeds": config.seeds + 1})
        with pytest.raises(study.StudyError, match=r"^Another padzero process is writing \S*results.jsonl; [^\n]*$"):
            run_and_report(bigger, copy)
    assert path.read_text() == before
    assert not (copy / "interrupted.jsonl").exists()
    assert sorted(p.name for p in copy.iterdir()) == listing  # and no lock file is left behind


def test_shards_side_by_side_in_one_folder_but_not_overlapping_runs(tmp_path):
    pytest.importorskip("fcntl")
    config = study.StudyConfig(variants=("padzero", "baseline"), **{**TINY, "seeds": 1})
    with results.study_lock(tmp_path, "results.shard-1-of-2.jsonl"):
        run_and_report(config, tmp_path, shard=(2, 2))  # the other shard of the same split runs
        for overlapping in (None, (1, 1)):  # the whole grid, or another split, would redo shard 1's runs
            with pytest.raises(study.StudyError, match="results.shard-1-of-2.jsonl .*overlap"):
                run_and_report(config, tmp_path, shard=overlapping)
    assert [p.name for p in tmp_path.glob("*.lock")] == []


@pytest.mark.slow
def test_two_processes_racing_on_one_folder_keep_it_whole(tmp_path):
    """Two real `padzero reproduce` on one --out: the second is refused at once, the first finishes alone."""
    # 10,000 posts: the first holds its lock for longer than the second takes to start (Keras and TensorFlow's
    # imports), on every backend; with 300 it could finish first.
    command = [
        sys.executable,
        "-m",
        "padzero_study",
        "reproduce",
        *TINY_FLAGS,
        "--max-docs",
        "10000",
        "--variants",
        "padzero",
        "--out",
        str(tmp_path),
    ]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None and not (tmp_path / "results.jsonl.lock").exists():
        time.sleep(0.01)
    assert first.poll() is None, "the first study ended before it took its lock; make it longer"
    started = time.time()
    second = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert second.returncode == 2 and first.poll() is None, second.stderr[-2000:]
    message = second.stderr.strip().splitlines()[-1]
    assert message.startswith("padzero: error: Another padzero process is writing") and "results.jsonl" in message
    assert time.time() - started < 60  # refused at once, not after training
    assert first.wait(timeout=600) == 0, first.stderr.read()[-2000:]
    final = records_of(tmp_path / "results.jsonl")
    assert max(run_keys(final).values()) == 1
    assert len([r for r in final if r["record"] == "run_end"]) == 2
    assert not list(tmp_path.glob("*.lock")) and not (tmp_path / "interrupted.jsonl").exists()
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0 and records_of(tmp_path / "results.jsonl") == final


def test_what_is_done_is_read_under_the_lock(finished_study, tmp_path, monkeypatch):
    """Another process finishes every run while this one waits for the lock: this one must see them all."""
    config, out_dir, _ = finished_study
    finished_lines = (out_dir / "results.jsonl").read_text()
    (tmp_path / "config.json").write_text((out_dir / "config.json").read_text())
    real_lock = results.study_lock

    @contextlib.contextmanager
    def lock_won_after_the_other_finished(*args, **kwargs):
        (tmp_path / "results.jsonl").write_text(finished_lines)  # what the other process wrote meanwhile
        with real_lock(*args, **kwargs):
            yield

    monkeypatch.setattr(results, "study_lock", lock_won_after_the_other_finished)
    run_and_report(config, tmp_path)
    assert (tmp_path / "results.jsonl").read_text() == finished_lines  # nothing trained twice


def test_force_moves_every_file_of_the_previous_study_aside(finished_study, tmp_path):
    _, out_dir, _ = finished_study
    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    extra = {
        "results.shard-1-of-2.jsonl": "",
        "interrupted.jsonl": "",
        "diagnostics.jsonl": "",
        "diagnostics.png": "png",
        "diagnostics.md": "table",
    }
    for name, content in extra.items():
        (copy / name).write_text(content)
    before = {path.name: path.read_bytes() for path in copy.iterdir()}
    run_and_report(study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1, "maxlen": 61}), copy, force=True)
    (backup,) = copy.glob("previous-*")
    assert {path.name: path.read_bytes() for path in backup.iterdir()} == before
    assert not (copy / "diagnostics.jsonl").exists() and not (copy / "interrupted.jsonl").exists()
    assert not list(copy.glob("results.shard-*"))
    assert [r["config"]["maxlen"] for r in records_of(copy / "results.jsonl")] == [61] * 3


@pytest.mark.parametrize("content", ["[]", "garbage", "null", '{"run_settings": 3}'])
@pytest.mark.usefixtures("one_backend_suffices")
def test_a_config_json_that_is_not_one_is_named_and_force_moves_it_aside(tmp_path, content):
    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1})
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(FileError, match=r"config.json is not .*--force") as error:
        run_and_report(config, tmp_path)
    assert "\n" not in str(error.value) and sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
    run_and_report(config, tmp_path, force=True)
    (backup,) = tmp_path.glob("previous-*")
    assert (backup / "config.json").read_text() == content
    assert results.read_config(tmp_path / "config.json")["run_settings"] == config.run_settings()


@pytest.mark.parametrize("line", ["{}", "[]", "null", '{"record": "run_end", "variant": "padzero", "seed": "0"}'])
def test_a_results_line_of_the_wrong_shape_stops_the_study_naming_it(tmp_path, line):
    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1})
    (tmp_path / "results.jsonl").write_text(line + "\n")
    with pytest.raises(FileError, match=r"results.jsonl line 1") as error:
        run_and_report(config, tmp_path)
    assert "\n" not in str(error.value)
    assert (tmp_path / "results.jsonl").read_text() == line + "\n" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.usefixtures("one_backend_suffices")
def test_a_diagnose_run_killed_mid_line_still_reports(tmp_path):
    from padzero_study.reports import diagnostics_report

    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1, "epochs": 1})
    run_and_report(config, tmp_path, diagnose=True)
    with open(tmp_path / "diagnostics.jsonl", "a") as file:
        file.write('{"variant": "padzero", "seed": 1, "ep')  # a write cut short
    written = diagnostics_report.build_report_with_diagnostics(tmp_path)
    assert "## Why" in written["report_markdown"].read_text()


@pytest.mark.usefixtures("one_backend_suffices")
def test_the_dataset_comes_from_its_registry(tmp_path, monkeypatch):
    from padzero_study.data import datasets

    loaded = []

    def load_tiny(config):
        loaded.append(config.max_docs)
        return synthetic.make_synthetic_newsgroups(num_docs=config.max_docs, num_classes=4, seed=1)

    monkeypatch.setitem(datasets.DATASETS, "tiny", datasets.Dataset("tiny", "four classes", 4, load_tiny))
    config = study.StudyConfig(**{**TINY, "dataset": "tiny", "seeds": 1, "epochs": 1}, variants=("padzero",))
    run_and_report(config, tmp_path)
    assert loaded == [200]
    (end,) = [r for r in records_of(tmp_path / "results.jsonl") if r["record"] == "run_end"]
    assert (
        end["config"]["num_classes"] == 4
        and "chance = validation accuracy below 0.5" in (tmp_path / "report.md").read_text()
    )


def test_the_actual_vocabulary_and_posts_are_recorded_and_reported(finished_study):
    config, out_dir, _ = finished_study
    encoded = study.load_encoded_data(config)
    ends = [r for r in records_of(out_dir / "results.jsonl") if r["record"] == "run_end"]
    assert {r["config"]["vocabulary"] for r in ends} == {encoded.vocab_size} and encoded.vocab_size != config.vocab_size
    assert {r["config"]["train_posts"] for r in ends} == {len(encoded.y_train)}
    assert json.loads((out_dir / "config.json").read_text())["data"]["vocabulary"] == encoded.vocab_size
    markdown = (out_dir / "report.md").read_text()
    assert f"vocabulary: {encoded.vocab_size} ids (the {config.vocab_size} most frequent words at most" in markdown


def test_a_refused_study_leaves_no_empty_folder(tmp_path):
    from padzero_study.data.newsgroups import DataError

    config = study.StudyConfig(
        dataset="20news", data_path=str(damaged_archive(tmp_path)), variants=("padzero",), seeds=1
    )
    with pytest.raises(DataError):
        run_and_report(config, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_refused_study_leaves_none_of_the_folders_it_created(tmp_path):
    # The missing parents of --out once stayed behind (an empty runs/); a folder that was there stays.
    from padzero_study.data.newsgroups import DataError

    (tmp_path / "kept").mkdir()
    archive = damaged_archive(tmp_path / "kept")
    config = study.StudyConfig(dataset="20news", data_path=str(archive), variants=("padzero",), seeds=1)
    for out_dir in (tmp_path / "runs" / "deeper" / "new", tmp_path / "kept" / "new"):
        with pytest.raises(DataError):
            run_and_report(config, out_dir)
    assert sorted(tmp_path.rglob("*")) == [tmp_path / "kept", archive]


@pytest.fixture
def changeable_data(monkeypatch):
    """A registered dataset 'changeable' whose posts change when the test sets `posts["seed"]`."""
    from padzero_study.data import datasets

    posts = {"seed": 1}

    def load(config):
        return synthetic.make_synthetic_newsgroups(num_docs=config.max_docs, num_classes=4, seed=posts["seed"])

    monkeypatch.setitem(
        datasets.DATASETS, "changeable", datasets.Dataset("changeable", "posts a test changes", 4, load)
    )
    config = study.StudyConfig(**{**TINY, "dataset": "changeable", "seeds": 1, "epochs": 1}, variants=("padzero",))
    return config, posts


@pytest.mark.usefixtures("one_backend_suffices")
def test_a_rerun_on_other_data_is_refused_then_started_over_with_force(changeable_data, tmp_path):
    # The same settings on other posts (the data was edited, or another copy given) once merged into one report.
    config, posts = changeable_data
    run_and_report(config, tmp_path)
    fingerprint = json.loads((tmp_path / "config.json").read_text())["data"]["fingerprint"]
    (end,) = [r for r in records_of(tmp_path / "results.jsonl") if r["record"] == "run_end"]
    assert end["config"]["fingerprint"] == fingerprint and fingerprint.startswith("sha256:")
    before = (tmp_path / "results.jsonl").read_bytes()
    posts["seed"] = 2
    more = dataclasses.replace(config, seeds=2)
    with pytest.raises(study.StudyError, match=r"holds finished runs trained on other data \(fingerprint: ") as error:
        run_and_report(more, tmp_path)
    assert "\n" not in str(error.value) and "rerun on the data they were trained on" in str(error.value)
    assert "or --force to move them to a backup folder and start over" in str(error.value)
    assert (tmp_path / "results.jsonl").read_bytes() == before
    run_and_report(more, tmp_path, force=True)
    (backup,) = tmp_path.glob("previous-*")
    assert (backup / "results.jsonl").read_bytes() == before
    ends = [r for r in records_of(tmp_path / "results.jsonl") if r["record"] == "run_end"]
    assert sorted(r["seed"] for r in ends) == [0, 1] and {r["config"]["fingerprint"] for r in ends} != {fingerprint}


def test_the_same_data_gives_the_same_fingerprint(changeable_data):
    config, posts = changeable_data
    first, again = (study.data_facts(study.load_encoded_data(config)) for _ in range(2))
    posts["seed"] = 2
    other = study.data_facts(study.load_encoded_data(config))
    assert first == again and other["fingerprint"] != first["fingerprint"]


def copy_without_fingerprints(out_dir, copy):
    """`out_dir` copied to `copy` as a study from before fingerprints wrote it; returns the fingerprint taken out."""
    shutil.copytree(out_dir, copy)
    saved = json.loads((copy / "config.json").read_text())
    fingerprint = saved["data"].pop("fingerprint")
    (copy / "config.json").write_text(json.dumps(saved))
    lines = records_of(copy / "results.jsonl")
    for record in lines:
        del record["config"]["fingerprint"]
    (copy / "results.jsonl").write_text("".join(json.dumps(record) + "\n" for record in lines))
    return fingerprint


def test_a_folder_from_before_fingerprints_resumes_and_records_one(finished_study, tmp_path):
    config, out_dir, _ = finished_study
    fingerprint = copy_without_fingerprints(out_dir, tmp_path / "copy")
    run_and_report(dataclasses.replace(config, variants=("padzero",), seeds=3), tmp_path / "copy")
    assert json.loads((tmp_path / "copy" / "config.json").read_text())["data"]["fingerprint"] == fingerprint
    assert [r["seed"] for r in records_of(tmp_path / "copy" / "results.jsonl") if r["record"] == "run_end"][-1] == 2


def test_a_folder_from_before_fingerprints_still_compares_the_facts_it_has(finished_study, tmp_path, monkeypatch):
    config, out_dir, _ = finished_study
    copy_without_fingerprints(out_dir, tmp_path / "copy")
    real_facts = study.data_facts
    monkeypatch.setattr(study, "data_facts", lambda encoded: {**real_facts(encoded), "num_classes": 21})
    with pytest.raises(study.StudyError, match=r"other data \(num_classes: 20 -> 21\)"):
        run_and_report(dataclasses.replace(config, seeds=3), tmp_path / "copy")


def test_diagnose_cannot_run_as_a_shard(tmp_path):
    with pytest.raises(study.StudyError, match="cannot run as a shard"):
        run_and_report(study.StudyConfig(variants=("padzero",), **TINY), tmp_path, shard=(1, 2), diagnose=True)


def test_a_linked_results_file_is_refused_before_training_and_not_written_through(finished_study, tmp_path):
    _, out_dir, _ = finished_study
    copy, outside = tmp_path / "copy", tmp_path / "outside.jsonl"
    shutil.copytree(out_dir, copy)
    (copy / "results.jsonl").rename(outside)
    (copy / "results.jsonl").symlink_to(outside)
    before = outside.read_bytes()
    config = study.StudyConfig(variants=("padzero", "baseline"), **TINY)
    with pytest.raises(FileError, match=r"results\.jsonl is a symbolic link") as error:
        run_and_report(config, copy)
    assert "\n" not in str(error.value) and outside.read_bytes() == before


def test_a_linked_config_is_refused_without_reading_it(finished_study, tmp_path):
    _, out_dir, _ = finished_study
    copy, secret = tmp_path / "copy", tmp_path / "secret.txt"
    shutil.copytree(out_dir, copy)
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (copy / "config.json").unlink()
    (copy / "config.json").symlink_to(secret)
    with pytest.raises(FileError, match=r"config\.json is a symbolic link") as error:
        run_and_report(study.StudyConfig(variants=("padzero", "baseline"), **TINY), copy)
    assert "root:" not in str(error.value)


def test_one_class_data_is_refused_before_any_run(tmp_path, monkeypatch, caplog):
    import numpy as np

    from padzero_study.data import datasets
    from padzero_study.data import newsgroups as data

    def load_one_class(config):
        posts = synthetic.make_synthetic_newsgroups(num_docs=40, num_classes=2, seed=1)
        return data.Newsgroups(posts.texts, np.zeros(len(posts.texts), dtype=np.int64), ["only.group"], posts.source)

    monkeypatch.setitem(datasets.DATASETS, "one", datasets.Dataset("one", "one class", 2, load_one_class))
    config = study.StudyConfig(**{**TINY, "dataset": "one", "seeds": 1, "epochs": 1}, variants=("padzero",))
    with pytest.raises(study.StudyError, match="has 1 class; a classifier needs at least 2") as error:
        run_and_report(config, tmp_path / "out")
    assert "\n" not in str(error.value) and not (tmp_path / "out").exists()


@pytest.mark.usefixtures("one_backend_suffices")
def test_more_posts_asked_than_the_data_has_is_logged(tmp_path, monkeypatch, caplog):
    from padzero_study.data import datasets

    def load_few(config):
        return synthetic.make_synthetic_newsgroups(num_docs=60, num_classes=3, seed=1)

    monkeypatch.setitem(datasets.DATASETS, "few", datasets.Dataset("few", "three classes", 3, load_few))
    config = study.StudyConfig(
        **{**TINY, "dataset": "few", "seeds": 1, "epochs": 1, "max_docs": 300}, variants=("padzero",)
    )
    with caplog.at_level("WARNING", logger="padzero"):
        run_and_report(config, tmp_path)
    assert "max_docs 300 asks for more posts than the data has: using all 60" in caplog.text


def test_finished_runs_of_other_settings_are_refused_even_if_config_json_was_edited(finished_study, tmp_path):
    _, out_dir, _ = finished_study
    copy = tmp_path / "copy"
    shutil.copytree(out_dir, copy)
    config_path = copy / "config.json"
    edited = json.loads(config_path.read_text())
    edited["run_settings"]["maxlen"] = 61
    config_path.write_text(json.dumps(edited))
    before = (copy / "results.jsonl").read_bytes()
    other = study.StudyConfig(variants=("padzero", "baseline"), **{**TINY, "maxlen": 61})
    with pytest.raises(study.StudyError, match=r"different settings \(maxlen: 60 -> 61\)") as error:
        run_and_report(other, copy)
    assert "\n" not in str(error.value) and (copy / "results.jsonl").read_bytes() == before


def test_a_folder_of_report_files_only_is_not_overwritten(tmp_path):
    (tmp_path / "summary.csv").write_text("user csv\n")
    (tmp_path / "learning_curves.png").write_text("x")
    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1, "epochs": 1})
    with pytest.raises(
        study.StudyError, match="holds learning_curves.png, summary.csv|holds summary.csv, learning_curves.png.*--force"
    ) as error:
        run_and_report(config, tmp_path)
    assert "\n" not in str(error.value) and (tmp_path / "summary.csv").read_text() == "user csv\n"
    run_and_report(config, tmp_path, force=True)
    (backup,) = tmp_path.glob("previous-*")
    assert (backup / "summary.csv").read_text() == "user csv\n" and (backup / "learning_curves.png").read_text() == "x"


def test_force_moves_a_foreign_results_file_aside(tmp_path):
    (tmp_path / "results.jsonl").write_text('{"foo": 1}\n')
    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1, "epochs": 1})
    with pytest.raises(FileError, match=r"results\.jsonl line 1.*another --out, or --force") as error:
        run_and_report(config, tmp_path)
    assert "\n" not in str(error.value)
    run_and_report(config, tmp_path, force=True)
    (backup,) = tmp_path.glob("previous-*")
    assert (backup / "results.jsonl").read_text() == '{"foo": 1}\n'
    assert {r["variant"] for r in records_of(tmp_path / "results.jsonl")} == {"padzero"}


@pytest.mark.usefixtures("one_backend_suffices")
def test_diagnose_over_finished_runs_without_diagnostics_says_so(tmp_path):
    config = study.StudyConfig(variants=("padzero",), **{**TINY, "seeds": 1, "epochs": 1})
    run_and_report(config, tmp_path, diagnose=True)
    (tmp_path / "diagnostics.jsonl").unlink()
    with pytest.raises(
        study.StudyError,
        match=r"has 1 finished run with no lines in diagnostics\.jsonl "
        r"\(padzero seed 0\); use --force",
    ) as error:
        run_and_report(config, tmp_path, diagnose=True)
    assert "\n" not in str(error.value)


def test_config_names_the_device_the_runs_trained_on(finished_study):
    from padzero_study.runtime import machine

    config, out_dir, _ = finished_study
    saved = json.loads((out_dir / "config.json").read_text())
    assert saved["device"] == machine.training_device(config.backend)[1]


@pytest.mark.usefixtures("one_backend_suffices")
def test_an_encoder_cell_trains_on_its_own_padding(tmp_path, monkeypatch):
    # The post-padded LSTM cells are the trap they measure only if their posts really are post-padded.
    seen = {}
    monkeypatch.setattr(
        study,
        "train_one_run",
        lambda config, encoded, variant, *args, **kwargs: seen.setdefault(variant, (encoded.x_train, encoded.x_val)),
    )
    config = study.StudyConfig(variants=("lstm/padzero", "lstm/padzero/post"), **{**TINY, "seeds": 1})
    study.run_study(config, tmp_path)
    for variant, real_column in (("lstm/padzero", -1), ("lstm/padzero/post", 0)):
        for ids in seen[variant]:
            assert (ids[:, real_column] != 0).all() and (ids == 0).any(), variant
    pre, post = seen["lstm/padzero"][0], seen["lstm/padzero/post"][0]
    assert [row[row != 0].tolist() for row in pre] == [row[row != 0].tolist() for row in post]
