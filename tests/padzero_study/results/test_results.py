"""padzero_study.results: the one reader and writer of a study's files, their checks, and the folder lock."""

import json
import logging
import os
import subprocess
import sys

import pytest

from padzero_study import files, results
from padzero_study.files import FileError
from padzero_study.results import jsonlines


def epoch_record(**changes):
    record = {
        "record": "epoch",
        "variant": "padzero",
        "seed": 0,
        "backend": "jax",
        "epoch": 1,
        "val_accuracy": 0.5,
        "loss": 2.0,
        "epoch_seconds": 1.5,
        "config": {"dataset": "20news", "num_classes": 20, "epochs": 30},
    }
    return {**record, **changes}


def end_record(**changes):
    return {**{"record": "run_end", "variant": "padzero", "seed": 0, "backend": "jax", "epochs_run": 1}, **changes}


def write_lines(path, lines):
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


def assert_one_line_naming(error, path, line):
    message = str(error.value)
    assert "\n" not in message and f"{path} line {line}" in message, message


# ---------------------------------------------------------------- the one reader


def test_append_then_read_round_trips_including_nan(tmp_path):
    path = tmp_path / "results.jsonl"
    results.append_record(path, epoch_record(val_loss=float("nan")))
    results.append_record(path, end_record())
    assert path.read_bytes().count(b"\n") == 2 and path.read_bytes().endswith(b"\n")
    first, second = results.read_lines(path)
    assert first["val_loss"] != first["val_loss"] and second == end_record()


def test_a_cut_last_line_is_skipped_and_said_truthfully(tmp_path, caplog):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(end_record()) + "\n" + '{"record": "ep')
    with caplog.at_level(logging.WARNING, logger="padzero_study.results"):
        assert results.read_lines(path) == [end_record()]
    assert "incomplete last line" in caplog.text and "stopped or the disk was full" in caplog.text
    assert "by a kill" not in caplog.text  # a full disk cuts a write short too
    # A last line that parses but lacks its newline was cut as well: the newline is the end of a write.
    path.write_text(json.dumps(end_record()) + "\n" + json.dumps(end_record(seed=1)))
    assert results.read_lines(path) == [end_record()]


def test_a_cut_last_line_is_said_once_however_often_it_is_read(tmp_path, caplog):
    # A study asks for its records several times (the folder check, under the lock, setting runs aside): one cut
    # line was said two or three times in one run, when each asked read the file again.
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(end_record()) + "\n" + '{"record": "ep')
    folder = results.StudyFolder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="padzero_study.results"):
        for _ in range(3):
            assert folder.records == [end_record()]
        said_once = caplog.text.count("incomplete last line")
        path.write_text(json.dumps(end_record()) + "\n" + json.dumps(end_record(seed=1)) + "\n" + '{"rec')
        assert len(folder.records) == 2  # changed by someone else: read again, and its cut line said too
    assert said_once == 1 and caplog.text.count("incomplete last line") == 2


def test_setting_one_line_aside_says_one_line(tmp_path, caplog):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(epoch_record()) + "\n")
    with caplog.at_level(logging.INFO, logger="padzero_study.results"):
        assert results.StudyFolder(tmp_path).set_aside_interrupted_runs(path.name) == 1
    assert f"set aside 1 line of interrupted runs in {results.INTERRUPTED_FILE}" in caplog.text  # once "1 lines"


@pytest.mark.parametrize(
    "line, complaint",
    [
        (b"not json", "is not valid JSON"),
        (b"{}", None),  # an object: read_lines takes it, load_results refuses it
        (b"[]", "is not a JSON object but a list"),
        (b"null", "is not a JSON object but null"),
        (b'"text"', "is not a JSON object but a string"),
        (b"1", "is not a JSON object but a number"),
        (b'{"record": "epoch", "variant": "caf\xe9"}', "is not UTF-8 text"),
        (b"1" * 5_000, "is not valid JSON"),  # an integer beyond Python's digit limit
        (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON"),  # nesting beyond the parser's depth
    ],
)
def test_a_bad_complete_line_is_an_error_naming_file_and_line(tmp_path, line, complaint):
    path = write_lines(tmp_path / "results.jsonl", [json.dumps(end_record()).encode(), line])
    if complaint is None:
        assert results.read_lines(path)[1] == {}
        return
    with pytest.raises(FileError, match=complaint) as error:
        results.read_lines(path)
    assert_one_line_naming(error, path, 2)


# ---------------------------------------------------------------- field checks


@pytest.mark.parametrize(
    "line",
    [
        "{}",
        '{"record": "bogus"}',
        json.dumps({"variant": "padzero"}),
        json.dumps(epoch_record(seed="0")),
        json.dumps(epoch_record(seed=True)),
        json.dumps(epoch_record(seed=1.0)),
        json.dumps(epoch_record(seed=-1)),
        json.dumps(epoch_record(seed=10**30)),
        json.dumps(epoch_record(variant=["padzero"])),
        json.dumps(epoch_record(variant="")),
        json.dumps(epoch_record(variant={"name": "padzero"})),
        json.dumps(epoch_record(backend=None)),
        json.dumps(epoch_record(epoch=0)),
        json.dumps(epoch_record(epoch="1")),
        json.dumps(epoch_record(epoch=2.5)),
        json.dumps(epoch_record(val_accuracy="0.5")),
        json.dumps(epoch_record(val_accuracy=1.5)),
        json.dumps(epoch_record(val_accuracy=float("inf"))),
        json.dumps(epoch_record(val_accuracy=True)),
        json.dumps(epoch_record(val_accuracy=[0.5])),
        json.dumps(epoch_record(loss=float("-inf"))),
        json.dumps(epoch_record(epoch_seconds=-1)),
        json.dumps(epoch_record(epoch_seconds=float("nan"))),
        json.dumps(epoch_record(config=[])),
        json.dumps(epoch_record(config={"num_classes": "20"})),
        json.dumps(epoch_record(config={"num_classes": 1})),
        json.dumps(epoch_record(config={"max_docs": 0})),
        json.dumps(epoch_record(config={"dataset": {"name": "20news"}})),
        json.dumps(end_record(epochs_run=None)),
        json.dumps(end_record(epochs_run=10**100)),
        json.dumps(end_record(train_seconds="5")),
        json.dumps(end_record(fast_path="yes")),
    ],
)
def test_records_of_the_wrong_shape_are_refused_naming_file_and_line(tmp_path, line):
    path = write_lines(tmp_path / "results.jsonl", [json.dumps(end_record(seed=5)), line])
    with pytest.raises(FileError, match="Fix or delete that line|fix or delete that line") as error:
        results.load_results(path)
    assert_one_line_naming(error, path, 2)


def test_a_diverged_run_is_read_not_refused(tmp_path):
    path = write_lines(
        tmp_path / "results.jsonl", [json.dumps(epoch_record(val_accuracy=float("nan"), loss=float("nan")))]
    )
    (record,) = results.load_results(path)
    assert record["val_accuracy"] != record["val_accuracy"]


def test_duplicates_across_files_are_refused_naming_both(tmp_path):
    first = write_lines(tmp_path / "a.jsonl", [json.dumps(epoch_record()), json.dumps(end_record())])
    second = write_lines(tmp_path / "b.jsonl", [json.dumps(epoch_record())])
    with pytest.raises(FileError, match="1 duplicated") as error:
        results.load_results([first, second])
    assert "a.jsonl line 1" in str(error.value) and "b.jsonl line 1" in str(error.value)
    assert len(results.load_results([first, second], check_duplicates=False)) == 3


def test_a_missing_or_folder_path_is_named(tmp_path):
    with pytest.raises(FileError, match="does not exist"):
        results.load_results(tmp_path / "nothing.jsonl")
    with pytest.raises(FileError, match="is a folder"):
        results.load_results(tmp_path)


def test_results_files_and_finished_runs(tmp_path):
    write_lines(tmp_path / "results.shard-2-of-2.jsonl", [json.dumps(end_record(seed=1))])
    write_lines(tmp_path / "results.shard-1-of-2.jsonl", [json.dumps(epoch_record(seed=2)), json.dumps(end_record())])
    (tmp_path / "results.shard-3-of-3.jsonl").mkdir()  # not a file
    write_lines(tmp_path / "results.jsonl", [])
    (tmp_path / "results.jsonl.tmp").write_text("")
    files = results.results_files(tmp_path)
    assert [path.name for path in files] == [
        "results.jsonl",
        "results.shard-1-of-2.jsonl",
        "results.shard-2-of-2.jsonl",
    ]
    assert results.finished_runs(results.load_results(files)) == {("padzero", 0), ("padzero", 1)}


def test_interrupted_runs_are_moved_aside_and_a_cut_line_dropped(tmp_path):
    path = tmp_path / "results.jsonl"
    finished = [epoch_record(), end_record()]
    unfinished = epoch_record(seed=1)
    path.write_text("".join(json.dumps(r) + "\n" for r in [*finished, unfinished]) + '{"record": "ep')
    folder = results.StudyFolder(tmp_path)
    assert folder.set_aside_interrupted_runs(path.name) == 1
    assert results.read_lines(path) == finished and path.read_text().endswith("\n")
    assert results.read_lines(tmp_path / results.INTERRUPTED_FILE) == [unfinished]
    before = path.read_bytes()
    assert results.StudyFolder(tmp_path).set_aside_interrupted_runs(path.name) == 0 and path.read_bytes() == before
    assert folder.set_aside_attempts() == {("padzero", "jax", 1): [1]}
    assert results.StudyFolder(tmp_path).set_aside_attempts() == {("padzero", "jax", 1): [1]}


def test_a_garbage_line_in_interrupted_jsonl_is_named(tmp_path):
    path = write_lines(tmp_path / results.INTERRUPTED_FILE, [json.dumps(epoch_record()), "garbage"])
    with pytest.raises(FileError) as error:
        results.StudyFolder(tmp_path).set_aside_attempts()
    assert_one_line_naming(error, path, 2)


# ---------------------------------------------------------------- diagnostics and config


def diagnostics_record(**changes):
    record = {
        "variant": "padzero",
        "seed": 0,
        "epoch": 0,
        "step": 0,
        "padding_gradient_share": None,
        "table_gradient_norm": 1.0,
        "padding_norm": 0.0,
        "word_norm_mean": 0.5,
        "padding_nearest_words": [],
        "dead_unit_fraction": 0.0,
        "pre_activation_mean": 0.1,
        "pre_activation_std": 1.0,
    }
    return {**record, **changes}


@pytest.mark.parametrize(
    "line",
    [
        "garbage",
        "[]",
        json.dumps(diagnostics_record(seed="0")),
        json.dumps(diagnostics_record(step="1")),
        json.dumps(diagnostics_record(padding_norm=None)),
        json.dumps(diagnostics_record(dead_unit_fraction=2)),
        json.dumps(diagnostics_record(padding_nearest_words=[["word"]])),
        json.dumps(diagnostics_record(kernel_norms=[1, 2])),
        json.dumps({"variant": "padzero"}),
    ],
)
def test_diagnostics_lines_are_checked_naming_file_and_line(tmp_path, line):
    path = write_lines(tmp_path / "diagnostics.jsonl", [json.dumps(diagnostics_record()), line])
    with pytest.raises(FileError) as error:
        results.load_diagnostics(path)
    assert_one_line_naming(error, path, 2)


def test_unfinished_diagnostics_and_a_cut_line_are_dropped(tmp_path):
    path = tmp_path / "diagnostics.jsonl"
    kept, dropped = diagnostics_record(), diagnostics_record(seed=1)
    path.write_text(json.dumps(kept) + "\n" + json.dumps(dropped) + "\n" + '{"variant": "pa')
    results.StudyFolder(tmp_path).drop_unfinished_diagnostics({("padzero", 0)})
    assert results.load_diagnostics(path) == [kept] and path.read_text().endswith("\n")


@pytest.mark.parametrize("content", [b"", b"garbage", b"[]", b"null", b'{"run_settings": []}', b"{}", b"\xff\xfe{}"])
def test_a_config_that_is_not_one_is_named_with_the_way_out(tmp_path, content):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(FileError, match="--force") as error:
        results.read_config(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_reading_results_needs_no_keras():
    code = (
        "import sys; import padzero_study.reports.study_report, padzero_study.results, padzero_study.reports.diagnostics_report; "
        "print(sorted(m for m in ('keras', 'numpy', 'sklearn', 'matplotlib') if m in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert (
        "keras" not in completed.stdout and "sklearn" not in completed.stdout and "matplotlib" not in completed.stdout
    )


# ---------------------------------------------------------------- the lock


def test_the_lock_refuses_a_second_holder_and_leaves_no_file(tmp_path):
    pytest.importorskip("fcntl")
    with results.study_lock(tmp_path):
        assert (tmp_path / "results.jsonl.lock").exists()
        with pytest.raises(FileError, match="^Another padzero process is writing .*results.jsonl;"):
            with results.study_lock(tmp_path):
                pass
        assert results.is_locked(tmp_path, "results.jsonl")
        with results.study_lock(tmp_path, "results.shard-1-of-2.jsonl"):  # another file: its own lock
            pass
    assert list(tmp_path.iterdir()) == []
    assert not results.is_locked(tmp_path, "results.jsonl") and list(tmp_path.iterdir()) == []


def test_a_stale_lock_file_is_taken_over_and_removed(tmp_path):
    pytest.importorskip("fcntl")
    (tmp_path / "results.jsonl.lock").write_text("")  # left by a process killed while it held the lock
    with results.study_lock(tmp_path):
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_lock_taken_on_a_file_deleted_meanwhile_is_retaken_on_the_new_one(tmp_path, monkeypatch):
    """The race the inode check closes: this process opens the lock file, its holder deletes it and
    unlocks, this process locks the deleted file. It must notice, and lock the file the path names."""
    fcntl = pytest.importorskip("fcntl")
    lock_path = tmp_path / "results.jsonl.lock"
    real_flock, calls = fcntl.flock, []

    def flock_after_the_holder_left(descriptor, operation):
        calls.append(descriptor)
        if len(calls) == 1:
            lock_path.unlink()  # the holder releases between this process's open and its flock
        return real_flock(descriptor, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_the_holder_left)
    with results.study_lock(tmp_path):
        assert len(calls) == 2 and lock_path.exists()
        with pytest.raises(FileError, match="Another padzero process"):  # a third process is kept out
            with results.study_lock(tmp_path):
                pass
    assert not lock_path.exists()


def test_the_lock_is_released_when_the_body_fails(tmp_path):
    pytest.importorskip("fcntl")
    with pytest.raises(RuntimeError):
        with results.study_lock(tmp_path):
            raise RuntimeError("training failed")
    assert list(tmp_path.iterdir()) == []
    with results.study_lock(tmp_path):
        assert os.path.exists(tmp_path / "results.jsonl.lock")


def test_links_out_of_the_folder_are_not_followed(tmp_path):
    pytest.importorskip("fcntl")
    outside, folder = tmp_path / "outside", tmp_path / "study"
    outside.mkdir()
    folder.mkdir()
    write_lines(outside / "results.jsonl", [json.dumps(end_record())])
    (folder / "results.shard-1-of-2.jsonl").symlink_to(outside / "results.jsonl")
    # Listed, so that it is refused by name rather than merged or silently left out.
    with pytest.raises(FileError, match=r"results\.shard-1-of-2\.jsonl is a symbolic link"):
        results.load_results(results.results_files(folder))
    (folder / "results.jsonl.lock").symlink_to(outside / "planted.lock")
    with pytest.raises(FileError, match="Cannot open the lock file: .*is a symbolic link"):
        with results.study_lock(folder):
            pass
    assert not (outside / "planted.lock").exists()


# ---------------------------------------------------------------- links, special files, BOM, duplicate keys


@pytest.mark.parametrize(
    "name", ["results.jsonl", "results.shard-1-of-2.jsonl", "interrupted.jsonl", "diagnostics.jsonl", "config.json"]
)
def test_a_linked_file_of_the_folder_is_refused_unread(tmp_path, name):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / name).symlink_to(secret)
    readers = {
        "config.json": results.read_config,
        "diagnostics.jsonl": results.load_diagnostics,
        "interrupted.jsonl": lambda path: results.StudyFolder(path.parent).set_aside_attempts(),
    }
    read = readers.get(name, lambda path: results.load_results(results.results_files(path.parent)))
    with pytest.raises(FileError, match=f"{name} is a symbolic link") as error:
        read(folder / name)
    assert "\n" not in str(error.value) and "root:" not in str(error.value)


def test_writers_never_write_through_a_link(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("kept\n")
    folder = tmp_path / "study"
    folder.mkdir()
    for name in ("results.jsonl", "report.md"):
        (folder / name).symlink_to(outside)
    with pytest.raises(FileError, match=r"results\.jsonl is a symbolic link"):
        results.append_record(folder / "results.jsonl", end_record())
    with pytest.raises(FileError, match=r"results\.jsonl is a symbolic link"):
        jsonlines.rewrite_records(folder / "results.jsonl", [end_record()])
    with pytest.raises(FileError, match=r"report\.md is a symbolic link"):
        files.write_own_file(folder / "report.md", "report")
    # A dangling link must not create its target either.
    (folder / "summary.csv").symlink_to(tmp_path / "created.csv")
    with pytest.raises(FileError, match=r"summary\.csv is a symbolic link"):
        files.write_own_file(folder / "summary.csv", "a,b\n")
    assert outside.read_text() == "kept\n" and not (tmp_path / "created.csv").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["report.md", "results.jsonl", "summary.csv"]  # no temp left


def test_a_file_the_user_names_may_be_a_link_but_not_a_fifo(tmp_path):
    real = write_lines(tmp_path / "real.jsonl", [json.dumps(end_record())])
    (tmp_path / "link.jsonl").symlink_to(real)
    assert results.load_results(tmp_path / "link.jsonl", follow_links=True) == [end_record()]
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)  # opening it would block forever
    for follow_links in (True, False):
        with pytest.raises(FileError, match=r"fifo\.jsonl is not a regular file"):
            results.load_results(fifo, follow_links=follow_links)
    with pytest.raises(FileError, match=r"/dev/zero is not a regular file"):
        results.load_results("/dev/zero", follow_links=True)


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(end_record()).encode() + b"\n")
    assert results.load_results(path) == [end_record()]
    config = tmp_path / "config.json"
    config.write_bytes(b"\xef\xbb\xbf" + b'{"run_settings": {"maxlen": 50}}')
    assert results.read_config(config)["run_settings"] == {"maxlen": 50}


def test_a_key_given_twice_is_refused_naming_file_and_line(tmp_path):
    path = write_lines(
        tmp_path / "results.jsonl",
        [
            json.dumps(end_record()),
            '{"record": "epoch", "variant": "padzero", "seed": 0, "backend": "jax", "epoch": 1, '
            '"val_accuracy": 0.0, "val_accuracy": 0.9}',
        ],
    )
    with pytest.raises(FileError, match='has the key "val_accuracy" twice') as error:
        results.load_results(path)
    assert_one_line_naming(error, path, 2)
    config = tmp_path / "config.json"
    config.write_text('{"run_settings": {}, "run_settings": {"maxlen": 1}}')
    with pytest.raises(FileError, match=r'config\.json has the key "run_settings" twice'):
        results.read_config(config)


def test_values_are_quoted_as_json_writes_them(tmp_path):
    path = write_lines(tmp_path / "results.jsonl", [json.dumps(end_record(seed=True))])
    with pytest.raises(FileError, match="seed must be .*; received true"):
        results.load_results(path)
    path = write_lines(tmp_path / "results.jsonl", [json.dumps(end_record(config={"max_docs": "x"}))])
    with pytest.raises(FileError, match='config.max_docs must be null or a positive integer; received "x"'):
        results.load_results(path)


def test_os_errors_become_one_line_messages_naming_the_file(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "results.jsonl"

    def disk_full(descriptor, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(jsonlines.os, "write", disk_full)
    with pytest.raises(
        FileError,
        match=f"no space left on device while writing {path}; finished results are kept; free space and rerun",
    ) as error:
        results.append_record(path, end_record())
    assert "\n" not in str(error.value)
    monkeypatch.undo()
    (tmp_path / "summary.csv").mkdir()
    with pytest.raises(FileError, match=r"summary\.csv is a folder where a file is expected"):
        files.write_own_file(tmp_path / "summary.csv", "a,b\n")
    read_only = files.describe_os_error(path, OSError(errno.EROFS, "Read-only file system"), writing=True)
    assert read_only.startswith(f"{path} cannot be written (Read-only file system)") and "make it writable" in read_only


def test_the_reader_and_the_settings_check_share_the_epoch_limit(tmp_path):
    path = write_lines(tmp_path / "results.jsonl", [json.dumps(end_record(epochs_run=results.LARGEST_EPOCH))])
    assert results.load_results(path)[0]["epochs_run"] == results.LARGEST_EPOCH
    path = write_lines(tmp_path / "results.jsonl", [json.dumps(end_record(epochs_run=results.LARGEST_EPOCH + 1))])
    with pytest.raises(FileError, match="epochs_run must be an integer in \\[1, 1,000,000\\]"):
        results.load_results(path)
