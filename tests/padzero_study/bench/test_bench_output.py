"""`padzero bench --out` (`bench.output`): checked before any measurement; the results written whole, never through
a link or over a file that is not a regular one (`padzero_study.files` does both)."""

import json
import os
import stat
from pathlib import Path

import pytest
from cli_runs import assert_one_line_error, run_cli

from padzero_study import bench


@pytest.mark.parametrize(
    "out, fragment",
    [
        ("{tmp}", "is a folder; give the results a file name, such as"),
        ("{tmp}/missing/bench.json", "folder {tmp}/missing does not exist"),
        ("{tmp}/file/bench.json", "folder {tmp}/file is a file, not a folder"),
        ("", "--out: expected a value, received ''"),
    ],
)
def test_output_path_is_checked_before_measuring(out, fragment, capsys, tmp_path, measurements):
    # The whole bench once ran for minutes, then failed to write to a folder, losing every result.
    (tmp_path / "file").write_text("")
    code, _, err = run_cli(
        ["bench", "--parts", "layer", "--backends", "jax", "--out", out.format(tmp=tmp_path)], capsys
    )
    assert_one_line_error(code, err, fragment.format(tmp=tmp_path))
    assert measurements == []


def test_output_that_is_not_a_regular_file_is_refused_and_kept(capsys, tmp_path, measurements):
    # Writing replaced /dev/full, a device, with a JSON file. A fifo stands in for it.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, _, err = run_cli(["bench", "--parts", "layer", "--backends", "jax", "--out", str(fifo)], capsys)
    assert_one_line_error(
        code, err, f"--out {fifo} is not a regular file (a device, fifo or socket); give a regular file."
    )
    assert measurements == []
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("target", ["fifo", "regular file", "nothing"])
def test_output_that_is_a_link_is_refused_and_kept(target, capsys, tmp_path, measurements):
    # The study never writes through a link, whatever it leads to: a fifo, a file elsewhere, or nothing yet.
    pointed = tmp_path / "target"
    if target == "fifo":
        os.mkfifo(pointed)
    elif target == "regular file":
        pointed.write_text("{}")
    out = tmp_path / "link.json"
    out.symlink_to(pointed)
    code, _, err = run_cli(["bench", "--parts", "layer", "--backends", "jax", "--out", str(out)], capsys)
    assert_one_line_error(code, err, f"--out {out} is a symbolic link;")
    assert "replace it by the file itself, or move it away" in err
    assert measurements == []
    assert os.path.islink(out) and os.readlink(out) == str(pointed)
    assert target != "regular file" or pointed.read_text() == "{}"


def test_output_that_became_a_fifo_during_the_measurements_is_not_replaced(tmp_path, fake_results):
    out = tmp_path / "bench.json"
    os.mkfifo(out)
    with pytest.raises(bench.BenchError, match="is not a regular file"):
        bench.write_results(fake_results, out)
    assert stat.S_ISFIFO(os.lstat(out).st_mode) and [path.name for path in tmp_path.iterdir()] == ["bench.json"]


def test_output_that_became_a_link_during_the_measurements_is_not_written_through(tmp_path, fake_results):
    target = tmp_path / "elsewhere.json"
    target.write_text('{"theirs": true}')
    out = tmp_path / "bench.json"
    out.symlink_to(target)
    with pytest.raises(bench.BenchError, match=f"--out {out} is a symbolic link"):
        bench.write_results(fake_results, out)
    assert os.path.islink(out) and target.read_text() == '{"theirs": true}'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bench.json", "elsewhere.json"]


def test_data_that_is_a_fifo_is_refused_before_measuring(capsys, tmp_path, measurements):
    # Reading a fifo blocked forever.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, _, err = run_cli(
        ["bench", "--parts", "layer", "--backends", "jax", "--data", str(fifo), "--out", str(tmp_path / "bench.json")],
        capsys,
    )
    assert_one_line_error(code, err, f"--data {fifo} is not a regular file or folder")
    assert measurements == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a folder nobody can write, such as /proc")
def test_unwritable_output_folder_is_checked_before_measuring(capsys, measurements):
    code, _, err = run_cli(["bench", "--parts", "layer", "--backends", "jax", "--out", "/proc/bench.json"], capsys)
    assert_one_line_error(code, err, "--out: Cannot write /proc/bench.json")
    assert measurements == []


def test_an_output_path_with_a_newline_is_quoted_in_the_one_line_message(tmp_path):
    fifo = tmp_path / "a\nb"
    os.mkfifo(fifo)
    with pytest.raises(bench.BenchError) as refused:
        bench.check_output_file(fifo)
    assert "\n" not in str(refused.value) and str(refused.value).startswith(f"--out {str(fifo)!r} is not a regular")


def test_a_failed_write_keeps_the_previous_results(tmp_path):
    out = tmp_path / "bench.json"
    out.write_text('{"previous": true}')
    with pytest.raises(TypeError):
        bench.write_results({"rows": [object()]}, out)  # not JSON: fails half-way through the dump
    assert out.read_text() == '{"previous": true}'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bench.json"]


def test_written_results_get_the_usual_file_mode(tmp_path, fake_results):
    umask = os.umask(0o022)
    try:
        bench.write_results(fake_results, tmp_path / "bench.json")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "bench.json").stat().st_mode) == 0o644
    assert json.loads((tmp_path / "bench.json").read_text()) == fake_results
