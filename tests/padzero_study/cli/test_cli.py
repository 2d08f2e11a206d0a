"""The `padzero` command: bad input is one line on stderr and exit code 2, nothing written over.

The tests without a marker need no Keras backend: they fail before the backend
is chosen (argument errors), or run commands that never import Keras (`--help`,
`report`). The `per_backend` ones build a `StudyConfig` or train.
"""

import gzip
import io
import json
import logging
import os
import re
import subprocess
import sys
import tarfile
from importlib.metadata import version as installed_version

import pytest
from cli_runs import assert_one_line_error, run_cli

from padzero_study import cli
from padzero_study.cli.commands import import_quietly
from padzero_study.cli.help import SIZE_FLAGS, run_defaults
from padzero_study.data.datasets import DATASETS
from padzero_study.models.variants import VARIANTS
from padzero_study.runtime.backends import installed_backends


def environment_without_keras_backend(**extra):
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    return {**environment, **extra}


def imported_modules(argv, **environment):
    """The top-level modules `python -m padzero_study ARGV` imports (from -X importtime), and the process."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "padzero_study", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment_without_keras_backend(**environment),
    )
    modules = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return modules, result


def write_tiny_results(folder):
    """A results folder as the runner writes it: two variants, one seed, two epochs each."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"dataset": "synthetic", "num_classes": 20, "epochs": 2, "batch_size": 32, "maxlen": 30, "vocab_size": 100}
    lines = []
    for variant, accuracies in (("baseline", [0.05, 0.06]), ("padzero", [0.40, 0.60])):
        identity = {"variant": variant, "seed": 0, "backend": "jax", "config": config}
        lines += [
            {
                "record": "epoch",
                **identity,
                "epoch": epoch,
                "loss": 3.0,
                "accuracy": 0.5,
                "val_loss": 3.0,
                "val_accuracy": accuracy,
                "epoch_seconds": 1.0,
            }
            for epoch, accuracy in enumerate(accuracies, 1)
        ]
        lines.append({"record": "run_end", **identity, "epochs_run": 2, "stopped_early": False, "train_seconds": 2.0})
    (folder / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


# ---------------------------------------------------------------- without Keras


def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"padzero {installed_version('padzero')}"


@pytest.mark.parametrize("command", [[], ["reproduce"], ["diagnose"], ["report"], ["bench"]])
def test_help_promises_no_durations(command, capsys):
    code, out, _ = run_cli([*command, "--help"], capsys)
    assert code == 0 and "usage: padzero" in out
    durations = re.findall(r"\b(?:seconds?|minutes?|hours?|secs?|mins?)\b|\d+ ?(?:s|min|h)\b", out)
    assert not durations, durations


def test_help_lists_every_registered_variant_and_dataset(capsys):
    _, reproduce_help, _ = run_cli(["reproduce", "--help"], capsys)
    _, diagnose_help, _ = run_cli(["diagnose", "--help"], capsys)
    for text in (reproduce_help, diagnose_help):
        flat = " ".join(text.split())  # argparse and the lists wrap long lines
        for name, variant in VARIANTS.items():
            assert f"{name} {' '.join(variant.description.split())}" in flat
        for name, dataset in DATASETS.items():
            assert f"{name} {' '.join(dataset.description.split())}" in flat
    dataset_choices = re.search(r"--dataset \{([^}]*)\}", reproduce_help).group(1).split(",")
    assert dataset_choices == list(DATASETS)


def test_a_registered_variant_and_dataset_appear_in_help(monkeypatch, capsys):
    from padzero_study.data.datasets import Dataset
    from padzero_study.models.variants import Variant

    monkeypatch.setitem(DATASETS, "tiny_posts", Dataset("tiny_posts", "a dataset registered by a test", 2, None))
    monkeypatch.setitem(
        VARIANTS, "tiny_variant", Variant("tiny_variant", "a variant registered by a test", None, in_study=False)
    )
    _, text, _ = run_cli(["diagnose", "--help"], capsys)
    flat = " ".join(text.split())
    assert "tiny_posts a dataset registered by a test" in flat and "{20news,synthetic,tiny_posts}" in flat
    assert "tiny_variant a variant registered by a test" in flat.split("ablations")[1]


def test_help_and_report_do_not_import_keras(tmp_path):
    # --help once took seconds and printed TensorFlow's start-up log: Keras was imported for nothing.
    write_tiny_results(tmp_path / "run")
    for argv in (["--help"], ["reproduce", "--help"], ["bench", "--help"], ["report", str(tmp_path / "run")]):
        modules, result = imported_modules(argv)
        assert result.returncode == 0, result.stderr[-2000:]
        assert not modules & {"keras", "tensorflow", "jax", "torch"}, (
            argv,
            modules & {"keras", "tensorflow", "jax", "torch"},
        )
    assert (tmp_path / "run" / "report.md").exists()


def test_report_ignores_a_bogus_keras_backend(tmp_path):
    write_tiny_results(tmp_path / "run")
    _, result = imported_modules(["report", str(tmp_path / "run")], KERAS_BACKEND="bogus")
    assert result.returncode == 0, result.stderr[-2000:]


# --plain: these test the command, which passes the path on like any setting; the plain layers compile far
# faster on JAX (the fast path: test_fast_path_flags_choose_the_path_and_exclude_each_other, test_runner).
SYNTHETIC = [
    "reproduce",
    "--dataset",
    "synthetic",
    "--max-docs",
    "100",
    "--maxlen",
    "30",
    "--vocab-size",
    "100",
    "--plain",
]


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--epochs", "abc"], "--epochs: expected an integer, received 'abc'"),
        (["--seeds", "1.5"], "--seeds: expected an integer, received '1.5'"),
        (["--maxlen", ""], "--maxlen: expected an integer, received ''"),
        (["--vocab-size", "many"], "--vocab-size: expected an integer"),
        (["--batch-size", "x"], "--batch-size: expected an integer"),
        (["--max-docs", "1e3"], "--max-docs: expected an integer"),
        (["--backend", "theano"], "invalid choice: 'theano'"),
        (["--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["--shard", "3/2"], "--shard must be K/N with 1 <= K <= N, such as 2/4; received 3/2."),
        (["--shard", "0/2"], "--shard must be K/N with 1 <= K <= N, such as 2/4; received 0/2."),
        (["--shard", "1/0"], "--shard must be K/N with 1 <= K <= N, such as 2/4; received 1/0."),
        (["--shard", "x"], "--shard: expected K/N, such as 2/4; received 'x'"),
        (["--init-scale", "abc"], "--init-scale: expected a number, received 'abc'"),
        # An empty value once meant 'the default' silently.
        (["--variants", ""], "--variants: expected a value, received ''"),
        (["--variants", " , "], "--variants: expected comma-separated variant names, received ' , '"),
        (["--data", ""], "--data: expected a value, received ''"),
        (["--out", ""], "--out: expected a value, received ''"),
        (["--out", "  "], "--out: expected a value, received '  '"),
    ],
)
def test_bad_arguments(extra, fragment, capsys, tmp_path):
    code, _, err = run_cli([*SYNTHETIC, "--out", str(tmp_path / "out"), *extra], capsys)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "out").exists()


def test_empty_out_of_diagnose_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["diagnose", "--dataset", "synthetic", "--out", ""], capsys)
    assert_one_line_error(code, err, "--out: expected a value, received ''")
    assert not (tmp_path / "runs").exists()


def test_report_rebuilds_from_results_alone(capsys, tmp_path):
    run = write_tiny_results(tmp_path / "run")
    code, out_text, err = run_cli(["report", str(run)], capsys)
    assert code == 0, err
    assert out_text.strip() == f"report: {run / 'report.md'}"
    assert (run / "summary.csv").read_text().count("\n") == 3  # header + two variants
    assert (run / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "padzero" in (run / "report.md").read_text()


def test_report_of_a_folder_without_results(capsys, tmp_path):
    code, _, err = run_cli(["report", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "results.jsonl")


@pytest.mark.parametrize("argv", [["report", ""], ["report", "{tmp}", "--results", ""]])
def test_report_refuses_empty_paths(argv, capsys, tmp_path):
    code, _, err = run_cli([part.format(tmp=tmp_path) for part in argv], capsys)
    assert_one_line_error(code, err, "expected a value, received ''")


def test_bogus_keras_backend_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_BACKEND", "bogus")
    code, _, err = run_cli([*SYNTHETIC, "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, "KERAS_BACKEND='bogus' is not a backend padzero runs on", tmp_path / "out")


@pytest.mark.parametrize("value", ["jax ", "JAX"])
def test_keras_backend_spelled_otherwise_is_shown_quoted_with_the_rule(value, capsys, monkeypatch, tmp_path):
    # 'jax ' once read "KERAS_BACKEND=jax is not a backend", contradicting itself.
    monkeypatch.setenv("KERAS_BACKEND", value)
    code, _, err = run_cli([*SYNTHETIC, "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(
        code,
        err,
        f"KERAS_BACKEND={value!r} is not a backend padzero runs on (backends are lowercase, without spaces)",
        tmp_path / "out",
    )


@pytest.mark.parametrize("content", ["[]", '"jax"', None])
def test_keras_config_file_keras_cannot_read_is_one_line(content, capsys, monkeypatch, tmp_path):
    # Keras fails on these at import with a traceback ('list' object has no attribute 'get') or a bare errno.
    home = tmp_path / "kh"
    home.mkdir()
    if content is None:
        (home / "keras.json").mkdir()
    else:
        (home / "keras.json").write_text(content)
    monkeypatch.setenv("KERAS_HOME", str(home))
    code, _, err = run_cli([*SYNTHETIC, "--backend", "jax", "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, f"Keras's config file {home / 'keras.json'} ", tmp_path / "out")
    assert "Errno" not in err


def fifo_in(folder):
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    return fifo


def extracted_data_in(folder):
    """A folder of the extracted archive's layout, with one post."""
    (folder / "data" / "20news-bydate-train" / "sci.space").mkdir(parents=True)
    (folder / "data" / "20news-bydate-train" / "sci.space" / "1").write_text("Subject: orbit")
    return folder / "data"


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--dataset", "20news", "--data", "{fifo}"], "--data {fifo} is not a regular file or folder"),
        (["--dataset", "20news", "--data", "{tmp}/nope.tar.gz"], "--data {tmp}/nope.tar.gz does not exist"),
        (
            ["--dataset", "20news", "--data", "{tmp}/nope\nline2.tar.gz"],
            "--data '{tmp}/nope\\nline2.tar.gz' does not exist",
        ),
        (["--variants", "padzero,PADZERO"], "--variants: unknown variant 'PADZERO'; choose from baseline,"),
        (["--distribute", "--backend", "torch"], "--distribute needs the jax backend"),
        (["--out", "{tmp}/" + "a" * 300], "--out: a name in it is longer than"),
        (["--out", "{tmp}/afile"], "--out {tmp}/afile is a file, not a folder"),
        (["--out", "{tmp}/afile/out"], "--out {tmp}/afile/out goes through {tmp}/afile, which is a file"),
        # The data is read-only input: this --out once became a 21st newsgroup, in that run and every later one.
        (
            ["--dataset", "20news", "--data", "{tmp}/data", "--out", "{tmp}/data/20news-bydate-train/zz.out"],
            "--out {tmp}/data/20news-bydate-train/zz.out is inside the --data folder {tmp}/data, which is read-only",
        ),
        # Flags the run would ignore while config.json recorded them.
        (
            ["--data", "{tmp}/data"],
            "--data: dataset synthetic reads no data files, so the path would be ignored; "
            "drop it, or use dataset 20news to train on it.",
        ),
        (["--encoders", "cnn,nope"], "argument --encoders: unknown encoder 'nope'; choose from flatten, average, cnn,"),
        (["--encoders", "cnn", "--variants", "baseline"], "argument --variants: not allowed with argument --encoders"),
        (["--encoders", "lstm", "--padding", "post"], "--padding post: each encoder study cell has its own padding"),
        (
            ["--variants", "uniform,uniform_nonneg", "--init-scale", "0.5"],
            "--init-scale widens Keras's default embedding init, which none of --variants uniform,uniform_nonneg starts",
        ),
    ],
)
def test_flags_that_cannot_work_are_refused_before_keras_is_imported(extra, fragment, tmp_path):
    # These were checked after Keras (and TensorFlow's log lines) came in; --data only after "1 to do".
    if "torch" in extra and "torch" not in installed_backends():
        pytest.skip("torch is not installed")
    (tmp_path / "afile").write_text("")
    extracted_data_in(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    fifo = fifo_in(tmp_path)
    argv = [part.format(tmp=tmp_path, fifo=fifo) for part in [*SYNTHETIC, "--out", "{tmp}/out", *extra]]
    modules, result = imported_modules(argv)
    assert_one_line_error(result.returncode, result.stderr, fragment.format(tmp=tmp_path, fifo=fifo), tmp_path / "out")
    assert "keras" not in modules and result.stderr.count("\n") == 1 + sum(
        line.startswith("import time:") for line in result.stderr.splitlines()
    )
    assert sorted(tmp_path.rglob("*")) == sorted([*before, fifo])  # nothing written


@pytest.mark.parametrize("command", ["reproduce", "diagnose"])
@pytest.mark.parametrize(
    "out",
    [
        "data/20news-bydate-test/zz.out",
        "data",
        "link/zz.out",
        "elsewhere/../data/zz.out",
        "{tmp}/data/20news-bydate-train/sci.space/zz.out",
    ],
)
def test_out_inside_the_data_is_refused_however_it_is_written(command, out, capsys, monkeypatch, tmp_path):
    # Relative, through a link or '..': the paths are resolved before they are compared.
    data = extracted_data_in(tmp_path)
    (tmp_path / "link").symlink_to(data, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    code, _, err = run_cli(
        [command, "--dataset", "20news", "--data", "data", "--out", out.format(tmp=tmp_path)], capsys
    )
    assert_one_line_error(
        code,
        err,
        f"--out {out.format(tmp=tmp_path)} is inside the --data folder {data}, which is "
        "read-only input (anything written there is mistaken for a newsgroup); choose a folder "
        "outside it.",
    )
    assert sorted(tmp_path.rglob("*")) == before


def test_the_default_out_inside_the_data_is_refused(capsys, monkeypatch, tmp_path):
    data = extracted_data_in(tmp_path)
    monkeypatch.chdir(data)
    backend = sorted(installed_backends())[0]
    code, _, err = run_cli(["reproduce", "--data", ".", "--quick", "--backend", backend], capsys)
    assert_one_line_error(
        code,
        err,
        f"the default --out {os.path.join('runs', f'20news-quick-{backend}')} is inside the --data folder {data}",
    )
    assert not (data / "runs").exists()


def test_out_inside_scikit_learn_download_folder_is_refused(capsys, monkeypatch, tmp_path):
    # scikit-learn extracts its download there, reads every folder as a newsgroup, then deletes the folder.
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    out = tmp_path / "sk" / "20news_home" / "run"
    code, _, err = run_cli(["reproduce", "--out", str(out)], capsys)
    assert_one_line_error(code, err, f"--out {out} is inside scikit-learn's download folder {out.parent}")


def test_bench_out_inside_the_data_is_refused(capsys, tmp_path):
    data = extracted_data_in(tmp_path)
    out = data / "20news-bydate-train" / "bench.json"
    code, _, err = run_cli(["bench", "--parts", "layer", "--data", str(data), "--out", str(out)], capsys)
    assert_one_line_error(code, err, f"--out {out} is inside the --data folder {data}")
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            ["reproduce", "--dataset", "synthetic", "--variants", "masked_average", "--fast-path"],
            "--fast-path fuses Embedding -> Flatten -> Dense, which none of --variants masked_average has; drop it",
        ),
        (["diagnose", "--dataset", "synthetic", "--data", "{tmp}"], "--data: dataset synthetic reads no data files"),
        (
            ["bench", "--parts", "layer", "--steps", "3"],
            "--steps counts the training steps of the model and bag parts, "
            "which --parts layer leaves out; drop --steps, or add model or bag "
            "to --parts.",
        ),
    ],
)
def test_flags_the_command_would_ignore_are_refused(argv, fragment, capsys, tmp_path):
    code, _, err = run_cli([*(part.format(tmp=tmp_path) for part in argv), "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "out").exists()


def test_only_the_study_own_lines_are_logged_at_info(tmp_path):
    # jax logs "Unable to initialize backend 'tpu'" at INFO: the command once printed every library's INFO lines.
    script = (
        "import logging, sys\n"
        "from padzero_study import cli\n"
        "def command(args):\n"
        "    logging.getLogger('jax._src.xla_bridge').info('Unable to initialize backend tpu')\n"
        "    logging.getLogger('padzero').info('a runner line')\n"
        "    logging.getLogger('padzero_study.results').info('a results line')\n"
        "    logging.getLogger('somebody.else').warning('a warning')\n"
        "cli.COMMANDS['report'] = command\n"
        "sys.exit(cli.main(['report', '.']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [line.split(" ", 1)[1] for line in result.stderr.splitlines()] == [
        "a runner line",
        "a results line",
        "a warning",
    ]


def test_tensorflow_info_lines_at_import_are_held_back_and_the_rest_kept(tmp_path, monkeypatch, capfd):
    # TensorFlow writes these to the stderr descriptor as it loads, before TF_CPP_MIN_LOG_LEVEL applies.
    (tmp_path / "noisy_module.py").write_text(
        "import os, sys\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "os.write(2, b'I0000 00:00:1795813948.5 3409 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "os.write(2, b'W0000 00:00:1795813948.6 3409 some.cc:1] a real warning\\n')\n"
        "print('a Python warning', file=sys.stderr)\n"
        "VALUE = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_quietly("noisy_module").VALUE == 1
    # (sorted: under pytest, Python's stderr is captured apart from the descriptor, so the order may differ)
    assert sorted(capfd.readouterr().err.splitlines()) == [
        "W0000 00:00:1795813948.6 3409 some.cc:1] a real warning",
        "a Python warning",
    ]


def test_tensorflow_info_lines_are_kept_out_of_a_one_line_error(tmp_path):
    if "tensorflow" not in installed_backends():
        pytest.skip("tensorflow is not installed")
    _, result = imported_modules([*SYNTHETIC, "--epochs", "0", "--backend", "tensorflow", "--out", str(tmp_path / "o")])
    assert_one_line_error(result.returncode, result.stderr, "epochs")
    assert not [
        line
        for line in result.stderr.splitlines()
        if not line.startswith(("import time:", "padzero: error")) and line.strip()
    ], result.stderr


def test_diagnose_points_at_its_own_help(capsys):
    code, _, err = run_cli(["diagnose", "--shard", "1/2"], capsys)
    assert_one_line_error(code, err, "unrecognized arguments: --shard 1/2 (see 'padzero diagnose --help')")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            ["report", "{tmp}/afile"],
            "DIR {tmp}/afile is a file, not a folder; give the folder 'padzero reproduce' wrote",
        ),
        (
            ["report", "{tmp}/nope"],
            "DIR {tmp}/nope does not exist; give the folder 'padzero reproduce' wrote (its --out)",
        ),
        # A fifo given as results blocked forever (and /dev/zero grew memory).
        (["report", "{tmp}", "--results", "{tmp}/fifo"], "--results {tmp}/fifo is not a regular file"),
    ],
)
def test_report_refuses_paths_that_are_not_what_it_reads(argv, fragment, capsys, tmp_path):
    (tmp_path / "afile").write_text("")
    fifo_in(tmp_path)
    code, _, err = run_cli([part.format(tmp=tmp_path) for part in argv], capsys)
    assert_one_line_error(code, err, fragment.format(tmp=tmp_path))
    assert "Errno" not in err


def test_an_os_error_no_check_caught_names_the_file_and_the_flag(capsys, monkeypatch, tmp_path):
    # Once a bare "[Errno 30] Read-only file system" with no flag, and a newline in the path shown as a space.
    summary = str(tmp_path / "ro\nfolder" / "summary.csv")

    def fail(args):
        raise OSError(30, "Read-only file system", summary)

    monkeypatch.setitem(cli.COMMANDS, "report", fail)
    code, _, err = run_cli(["report", str(tmp_path)], capsys)
    assert_one_line_error(code, err, f"{summary!r} cannot be written (Read-only file system)")
    assert err.rstrip().endswith("(check DIR)")
    assert "Errno" not in err


def test_backend_not_installed_names_the_extra(tmp_path):
    # A fresh process that sees no torch, so that Keras is not imported yet and the choice is the CLI's.
    script = (
        "import importlib.util, sys\n"
        "find_spec = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'torch' else find_spec(name, *a)\n"
        "from padzero_study.cli import main\n"
        f"sys.exit(main({[*SYNTHETIC, '--backend', 'torch', '--out', str(tmp_path / 'out')]!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment_without_keras_backend(),
    )
    assert_one_line_error(result.returncode, result.stderr, "pip install 'padzero[torch]'", tmp_path / "out")


# ---------------------------------------------------------------- with Keras (a StudyConfig, or training)


@pytest.mark.per_backend
def test_missing_archive_is_refused_before_training(capsys, tmp_path):
    code, _, err = run_cli(["reproduce", "--data", str(tmp_path / "nope.tar.gz"), "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "nope.tar.gz", tmp_path / "o")


@pytest.mark.per_backend
@pytest.mark.parametrize(
    "extra, name",
    [
        (["--epochs", "0"], "--epochs"),
        (["--seeds", "-2"], "--seeds"),
        (["--maxlen", "0"], "--maxlen"),
        (["--vocab-size", "0"], "--vocab-size"),
        (["--batch-size", "0"], "--batch-size"),
        (["--max-docs", "0"], "--max-docs"),
    ],
)
def test_sizes_are_checked_by_the_study_config(extra, name, capsys, tmp_path):
    # Zero once fell back to the default (`value or default`); the study's settings refuse it, naming the flag.
    code, _, err = run_cli([*SYNTHETIC, "--out", str(tmp_path / "out"), *extra], capsys)
    assert_one_line_error(code, err, f"{name} must be a positive integer", tmp_path / "out")
    assert f"received {name}={extra[1]}" in err


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "1e300", "1.5"])
def test_init_scale_is_a_positive_number_of_at_most_one(value, capsys, tmp_path):
    # 1e300 was accepted and trained to a val_loss of nan.
    code, _, err = run_cli([*SYNTHETIC, "--init-scale", value, "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(
        code,
        err,
        f"--init-scale must be a number above 0 and at most 1 (Keras's default is 0.05); received {float(value)!r}.",
    )
    assert not (tmp_path / "out").exists()


def test_diagnose_refuses_encoder_cells_without_the_hidden_layer(capsys, tmp_path):
    code, _, err = run_cli(
        [
            "diagnose",
            "--dataset",
            "synthetic",
            "--variants",
            "baseline,cnn/keras,flatten/keras",
            "--out",
            str(tmp_path / "out"),
        ],
        capsys,
    )
    assert_one_line_error(code, err, "--variants cnn/keras: diagnose measures the hidden Dense layer", tmp_path / "out")


def test_unknown_variant(capsys, tmp_path):
    code, _, err = run_cli([*SYNTHETIC, "--variants", "padzero,nope", "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, "--variants: unknown variant 'nope'; choose from", tmp_path / "out")


def captured_config(monkeypatch, capsys, argv):
    """The StudyConfig and folder that `padzero ARGV` would run, without running it."""
    from padzero_study.reports import folder_report
    from padzero_study.study import runner

    calls = []
    monkeypatch.setattr(
        runner, "run", lambda study, **kwargs: calls.append((study.config, study.out_dir)) or study.out_dir
    )
    monkeypatch.setattr(folder_report, "write_report", lambda out_dir: {"report_markdown": "report.md"})
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    (call,) = calls
    return call


@pytest.mark.per_backend
@pytest.mark.parametrize(
    "command, kind", [(["reproduce"], "full"), (["reproduce", "--quick"], "quick"), (["diagnose"], "diagnose")]
)
def test_synthetic_dataset_has_small_defaults(command, kind, monkeypatch, capsys):
    config, out_dir = captured_config(monkeypatch, capsys, [*command, "--dataset", "synthetic"])
    # A smoke test: far smaller than the study (1,100 ids x 20,000 words x 3 seeds x 30 epochs).
    assert config.seeds == 1 and config.epochs <= 3
    assert config.max_docs <= 1_000 and config.maxlen <= 200 and config.vocab_size <= 2_000
    sizes = {key: getattr(config, key) for key in SIZE_FLAGS}
    assert sizes == run_defaults("synthetic", kind)
    assert str(out_dir).startswith(os.path.join("runs", ""))


@pytest.mark.per_backend
def test_flags_override_the_dataset_defaults(monkeypatch, capsys):
    config, _ = captured_config(
        monkeypatch,
        capsys,
        [
            "reproduce",
            "--dataset",
            "synthetic",
            "--maxlen",
            "1100",
            "--vocab-size",
            "20000",
            "--max-docs",
            "2000",
            "--seeds",
            "3",
            "--epochs",
            "30",
            "--out",
            "somewhere",
        ],
    )
    assert (config.maxlen, config.vocab_size, config.max_docs, config.seeds, config.epochs) == (
        1100,
        20000,
        2000,
        3,
        30,
    )


@pytest.mark.per_backend
def test_fast_path_flags_choose_the_path_and_exclude_each_other(monkeypatch, capsys):
    import keras

    synthetic = ["reproduce", "--dataset", "synthetic"]
    default, _ = captured_config(monkeypatch, capsys, synthetic)
    assert default.fast_path is (keras.backend.backend() == "jax")  # where it measured faster
    assert captured_config(monkeypatch, capsys, [*synthetic, "--fast-path"])[0].fast_path is True
    assert captured_config(monkeypatch, capsys, [*synthetic, "--plain"])[0].fast_path is False
    code, _, err = run_cli([*synthetic, "--fast-path", "--plain"], capsys)
    assert code == 2 and "not allowed with argument --fast-path" in err
    code, _, err = run_cli(["diagnose", "--dataset", "synthetic", "--fast-path"], capsys)
    assert code == 2 and "unrecognized arguments: --fast-path" in err


@pytest.mark.per_backend
def test_20news_quick_stays_a_small_real_run(monkeypatch, capsys):
    quick, _ = captured_config(monkeypatch, capsys, ["reproduce", "--quick"])
    full, _ = captured_config(monkeypatch, capsys, ["reproduce"])
    assert quick.dataset == full.dataset == "20news"
    assert quick.maxlen == full.maxlen == 1_100 and quick.vocab_size == full.vocab_size == 20_000
    assert quick.max_docs < 18_846 and full.max_docs is None
    assert quick.seeds < full.seeds and quick.epochs < full.epochs


@pytest.mark.per_backend
def test_keras_already_imported_with_another_backend_is_one_line(capsys, tmp_path, backend):
    other = "torch" if backend != "torch" else "jax"
    code, _, err = run_cli([*SYNTHETIC, "--backend", other, "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, f"already imported in this process with the {backend} backend", tmp_path / "out")


@pytest.mark.per_backend
def test_corrupt_archive(capsys, tmp_path):
    archive = tmp_path / "20news-bydate.tar.gz"
    archive.write_bytes(gzip.compress(b"not a tar file at all" * 50)[:200])
    code, _, err = run_cli(["reproduce", "--data", str(archive), "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, str(archive), tmp_path / "o")


@pytest.mark.per_backend
def test_archive_without_newsgroups(capsys, tmp_path):
    archive = tmp_path / "other.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = b"hello"
        info = tarfile.TarInfo("somewhere/readme.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    code, _, err = run_cli(["reproduce", "--data", str(archive), "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, str(archive), tmp_path / "o")


@pytest.mark.per_backend
def test_folder_without_newsgroups(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["reproduce", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "empty", tmp_path / "o")


@pytest.mark.per_backend
def test_no_data_anywhere_points_to_data_and_synthetic(monkeypatch, capsys, tmp_path):
    import sklearn.datasets

    def unavailable(**kwargs):
        raise OSError("no network here")

    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", unavailable)
    code, _, err = run_cli(["reproduce", "--quick", "--out", str(tmp_path / "o")], capsys)
    assert_one_line_error(code, err, "--data PATH", tmp_path / "o")
    assert "--dataset synthetic" in err


@pytest.mark.per_backend
def test_a_run_refused_for_missing_data_says_so_in_flags_and_leaves_no_folder(monkeypatch, capsys, tmp_path):
    # It once ended "(download=True)", a keyword of the library, and left an empty runs/ behind.
    import sklearn.datasets

    def unavailable(**kwargs):
        raise OSError("no network here")

    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", unavailable)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["reproduce", "--quick"], capsys)
    assert_one_line_error(code, err, "or allow network access so that scikit-learn can download it;")
    assert "download=" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.per_backend
def test_out_beside_an_archive_or_above_the_data_is_fine(monkeypatch, capsys, tmp_path):
    # An archive is a file: the folder it is in is not read. Nor is anything above the extracted folder.
    archive = tmp_path / "20news-bydate.tar.gz"
    archive.write_bytes(b"")
    data = extracted_data_in(tmp_path)
    for argv in (
        ["--data", str(archive), "--out", str(tmp_path / "runs")],
        ["--data", str(data), "--out", str(tmp_path)],
    ):
        _, out_dir = captured_config(monkeypatch, capsys, ["reproduce", *argv])
        assert str(out_dir) == argv[-1]


@pytest.mark.per_backend
def test_a_normal_run_prints_only_its_own_lines(tmp_path, backend):
    # Once: jax's "Unable to initialize backend 'tpu'", TensorFlow's start-up lines on the jax and torch backends
    # (Keras imports it to seed it), one cut results line said three times, "0 of 1 runs finished", and Keras's
    # warning that Flatten destroys the mask of the plain mask_zero model (what that variant exists to show).
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text('{"record": "epo')  # a write cut short
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "padzero_study",
            *SYNTHETIC,
            "--variants",
            "mask_zero",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--plain",
            "--backend",
            backend,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment_without_keras_backend(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ours = re.compile(
        r"\d\d:\d\d:\d\d (Skipped the incomplete last line of |0 of 1 run finished, 1 to do, in |data: "
        r"|1 run to do; |run 1/1: mask_zero seed 0|mask_zero seed 0 epoch 1: )"
    )
    lines = result.stderr.splitlines()
    assert [line for line in lines if not ours.match(line)] == []
    assert sum("Skipped the incomplete last line" in line for line in lines) == 1
    assert result.stdout == f"report: {out / 'report.md'}\n"


@pytest.mark.per_backend
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs a folder nobody can write in, such as /proc")
def test_unwritable_out(capsys, tmp_path):
    # Was a bare "[Errno 2] No such file or directory: '/proc/foo'".
    code, _, err = run_cli([*SYNTHETIC, "--out", "/proc/padzero-out"], capsys)
    lines = [line for line in err.splitlines() if "padzero: error" in line]
    assert code == 2 and len(lines) == 1 and "Errno" not in err, err
    assert "/proc/padzero-out" in lines[0] and "--out" in lines[0]


@pytest.mark.per_backend
def test_distribute_on_a_backend_without_keras_distribution(capsys, tmp_path, backend):
    if backend == "jax":
        pytest.skip("jax can distribute")
    code, _, err = run_cli([*SYNTHETIC, "--distribute", "--out", str(tmp_path / "out")], capsys)
    assert_one_line_error(code, err, "distribute needs the jax backend", tmp_path / "out")


@pytest.mark.per_backend
@pytest.mark.usefixtures("one_backend_suffices")
def test_foreign_out_dir_is_refused_and_kept(capsys, tmp_path):
    out = tmp_path / "out"
    tiny = [*SYNTHETIC, "--variants", "padzero", "--seeds", "1", "--out", str(out)]
    code, _, err = run_cli([*tiny, "--epochs", "1"], capsys)
    assert code == 0, err
    before = (out / "results.jsonl").read_bytes()
    code, _, err = run_cli([*tiny, "--epochs", "2"], capsys)
    assert_one_line_error(code, err, "different settings (epochs: 1 -> 2)")
    assert (out / "results.jsonl").read_bytes() == before


@pytest.mark.per_backend
@pytest.mark.usefixtures("one_backend_suffices")
def test_report_rebuilds_a_trained_study(capsys, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli([*SYNTHETIC, "--variants", "padzero,baseline", "--epochs", "1", "--out", str(out)], capsys)
    assert code == 0, err
    written = {name: (out / name).read_bytes() for name in ("summary.csv", "report.md")}
    for name in ("summary.csv", "report.md", "learning_curves.png", "config.json"):
        (out / name).unlink()
    code, _, err = run_cli(["report", str(out)], capsys)
    assert code == 0, err
    assert (out / "summary.csv").read_bytes() == written["summary.csv"]
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.per_backend
@pytest.mark.slow
def test_backend_flag_chooses_keras_backend_in_a_new_process(tmp_path, backend):
    other = "torch" if backend != "torch" else "jax"
    from padzero_study.runtime.backends import not_installed

    if not_installed(other):
        pytest.skip(f"{other} is not installed")
    command = [
        sys.executable,
        "-m",
        "padzero_study",
        *SYNTHETIC,
        "--variants",
        "padzero",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--backend",
        other,
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "KERAS_BACKEND": backend}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "config.json").read_text())["run_settings"]["backend"] == other


@pytest.mark.per_backend
def test_quick_encoder_study_on_a_cpu_trains_the_encoders_that_take_seconds(monkeypatch, capsys, caplog):
    # `--encoders all --quick` once projected about 2 hours on a 2-core CPU: the Transformer's epoch alone took 11 min.
    with caplog.at_level(logging.INFO, logger="padzero_study"):
        config, _ = captured_config(
            monkeypatch,
            capsys,
            ["reproduce", "--dataset", "synthetic", "--encoders", "all", "--quick", "--out", "somewhere"],
        )
    assert {variant.split("/")[0] for variant in config.variants} == {"flatten", "average"}
    assert "--quick on a CPU leaves out cnn, lstm, transformer" in caplog.text
    # Named, they are trained: the user asked for them.
    config, _ = captured_config(
        monkeypatch,
        capsys,
        ["reproduce", "--dataset", "synthetic", "--encoders", "flatten,transformer", "--quick", "--out", "somewhere"],
    )
    assert {variant.split("/")[0] for variant in config.variants} == {"flatten", "transformer"}


@pytest.mark.per_backend
@pytest.mark.usefixtures("one_backend_suffices")
@pytest.mark.parametrize("max_docs", ["300000", "10000000"])
def test_max_docs_has_one_limit_checked_before_any_work(max_docs, capsys, tmp_path):
    # 10,000,000 once said "at most 735,456" (memory), and 300,000 then started the study and failed with 200,000.
    code, _, err = run_cli(
        ["reproduce", "--dataset", "synthetic", "--max-docs", max_docs, "--out", str(tmp_path / "out")], capsys
    )
    assert_one_line_error(
        code,
        err,
        f"--max-docs must be a positive integer of at most 200,000; received "
        f"--max-docs={max_docs}; a synthetic post takes about 7 KB",
        tmp_path / "out",
    )
    assert "runs finished" not in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "command, said", [("report", "rerun the same command to write the report"), ("bench", "nothing was written")]
)
def test_an_interrupt_says_what_it_leaves_for_each_command(command, said, monkeypatch, capsys, tmp_path):
    # A Ctrl-C during the report or the bench once said "finished runs are kept", which neither has.
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, command, interrupted)
    argv = [command, str(tmp_path)] if command == "report" else [command, "--out", str(tmp_path / "b.json")]
    code, _, err = run_cli(argv, capsys)
    assert code == 130 and err == f"padzero: interrupted; {cli.INTERRUPTED[command]}\n" and said in err
