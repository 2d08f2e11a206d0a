"""The study runner: train every (variant, seed) once, append results, resume after a kill.

The grid can be split over processes or machines (`shard=(K, N)`), each shard
appending to its own results file; `padzero.report` merges them.

Reads top to bottom: the config, the data, one run, the whole study.
`run(config, out_dir)` is what `padzero reproduce` calls.
"""

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import keras
import numpy as np

from padzero_study import data, diagnostics, diagnostics_report, machine, report, text
from padzero.batching import TrimmedBatches
from padzero_study.variants import FAST_PATH_VARIANTS, STUDY_VARIANTS, VARIANTS, build_model

logger = logging.getLogger("padzero")

RESULTS_FILE = "results.jsonl"
SHARD_RESULTS_FILE = "results.shard-{index}-of-{count}.jsonl"  # matches report.SHARD_RESULTS_GLOB
CONFIG_FILE = "config.json"
DIAGNOSTICS_FILE = "diagnostics.jsonl"


class StudyError(ValueError):
    """A study cannot start as asked (bad settings, a foreign results folder, ...)."""


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Everything that decides a study's numbers; written to `config.json` beside them.

    `variants` and `seeds` pick which runs to do; every other field must match
    for runs to share a results folder.
    """

    dataset: str = "20news"  # "20news" or "synthetic"
    data_path: str | None = None
    variants: tuple = STUDY_VARIANTS
    seeds: int = 3
    epochs: int = 30
    batch_size: int = 32
    maxlen: int = 1_100
    vocab_size: int = 20_000
    max_docs: int | None = None
    validation_fraction: float = 0.2
    split_seed: int = 0
    patience: int = 5
    padding: str = "pre"
    embedding_dim: int = 300
    hidden_units: int = 25
    dropout: float = 0.3
    embedding_init_scale: float | None = None  # None: Keras's RandomUniform(-0.05, 0.05)
    fast_path: bool = False  # FAST_PATH_VARIANTS train on trimmed batches (padzero.FlattenDense)
    distribute: bool = False  # keras.distribution.DataParallel over all local devices (JAX)
    backend: str = dataclasses.field(default_factory=keras.backend.backend)

    def __post_init__(self):
        for name in ("seeds", "epochs", "batch_size", "maxlen", "vocab_size", "patience", "embedding_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise StudyError(f"{name} must be a positive integer; received {name}={value!r}.")
        if self.embedding_init_scale is not None and not (
            isinstance(self.embedding_init_scale, (int, float)) and self.embedding_init_scale > 0
        ):
            raise StudyError(f"embedding_init_scale must be None or a positive number; received {self.embedding_init_scale!r}.")
        if self.max_docs is not None and (not isinstance(self.max_docs, int) or self.max_docs < 20):
            raise StudyError(f"max_docs must be None or an integer >= 20; received max_docs={self.max_docs!r}.")
        # Dataclass is frozen; dropping repeats here keeps a run from being trained twice.
        object.__setattr__(self, "variants", tuple(dict.fromkeys(self.variants)))
        unknown = [name for name in self.variants if name not in VARIANTS]
        if unknown or not self.variants:
            raise StudyError(f"Unknown variant(s) {unknown or '(none given)'}; choose from {', '.join(VARIANTS)}.")
        if self.dataset not in ("20news", "synthetic"):
            raise StudyError(f"dataset must be '20news' or 'synthetic'; received dataset={self.dataset!r}.")
        if self.distribute and self.backend != "jax":
            raise StudyError(
                f"distribute needs the jax backend (keras.distribution supports JAX only); received backend={self.backend!r}. "
                "Use --backend jax, or drop --distribute."
            )
        if self.backend != keras.backend.backend():
            raise StudyError(
                f"backend={self.backend!r} but Keras is running on {keras.backend.backend()!r}; "
                "set KERAS_BACKEND before Keras is imported (the CLI's --backend does this)."
            )

    def run_settings(self):
        """The fields that must agree between runs sharing one results folder."""
        settings = dataclasses.asdict(self)
        del settings["variants"], settings["seeds"]
        return settings

    def uses_fast_path(self, variant):
        """Whether `variant` trains on trimmed batches: the fast path was asked for and is exact for it."""
        return self.fast_path and variant in FAST_PATH_VARIANTS


# ---------------------------------------------------------------- data


def load_encoded_data(config):
    """Loads the posts named by `config` and turns them into padded id matrices."""
    if config.dataset == "synthetic":
        newsgroups = data.make_synthetic_newsgroups(num_docs=config.max_docs or 2_000, seed=config.split_seed)
    else:
        newsgroups = data.load_newsgroups(config.data_path)
    return text.encode_newsgroups(
        newsgroups,
        vocab_size=config.vocab_size,
        maxlen=config.maxlen,
        validation_fraction=config.validation_fraction,
        split_seed=config.split_seed,
        max_docs=config.max_docs,
        padding=config.padding,
    )


# ---------------------------------------------------------------- results file


def append_record(path, record):
    """Appends one JSON line with a single write() and fsync, so a kill never splits a line."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        remaining = memoryview(line)
        while remaining:  # write() may take less than asked (a full disk, a signal)
            remaining = remaining[os.write(descriptor, remaining):]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_records(path):
    """All complete records of a results file (a line cut by a kill is ignored)."""
    if not Path(path).exists():
        return []
    records = []
    for number, line in enumerate(Path(path).read_text().splitlines(keepends=True), start=1):
        if not line.endswith("\n") or not line.strip():
            continue  # the last line of a write cut by a kill: its run is redone
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise StudyError(f"{path} line {number} is not valid JSON ({error.msg}); fix or remove that line.") from None
    return records


def set_aside_interrupted_runs(results_path):
    """Moves epoch lines of unfinished runs to interrupted.jsonl; returns finished (variant, seed) pairs.

    A run killed half-way is redone from its first epoch, so its old lines
    would duplicate the new ones; they are kept, not deleted, beside the results.
    Only `results_path` is touched: other shards' files may be in use.
    """
    results_path = Path(results_path)
    if not results_path.exists():
        return set()
    records = read_records(results_path)
    finished = {(r["variant"], r["seed"]) for r in records if r["record"] == "run_end"}
    kept = [r for r in records if (r["variant"], r["seed"]) in finished]
    line_was_cut = not results_path.read_text().endswith("\n") and results_path.stat().st_size > 0
    if len(kept) == len(records) and not line_was_cut:
        return finished
    for record in records:
        if (record["variant"], record["seed"]) not in finished:
            append_record(results_path.parent / report.INTERRUPTED_FILE, record)
    temporary = results_path.with_suffix(".jsonl.tmp")
    temporary.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
    os.replace(temporary, results_path)
    logger.info("set aside %d lines of interrupted runs in %s", len(records) - len(kept), report.INTERRUPTED_FILE)
    return finished


@contextlib.contextmanager
def exclusive_results_file(results_path):
    """Holds an advisory lock on `results_path` so that a second process cannot set its runs aside as interrupted."""
    if fcntl is None:  # no flock on this platform (Windows): run unguarded
        yield
        return
    with open(results_path.with_name(results_path.name + ".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StudyError(
                f"Another padzero process is writing {results_path}; wait for it to finish, "
                "or give this one another --out (or a --shard of its own)."
            ) from None
        yield  # the lock goes with the file's closing


def drop_unfinished_diagnostics(path, finished):
    """Keeps only diagnostics lines of finished runs: an interrupted run is redone and records them anew."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line.endswith("\n") and (json.loads(line)["variant"], json.loads(line)["seed"]) in finished]
    if len(kept) != len(lines):
        temporary = path.with_suffix(".jsonl.tmp")
        temporary.write_text("".join(kept))
        os.replace(temporary, path)


def check_out_dir(config, out_dir, force):
    """Checks, writing nothing, that `out_dir` can take this study; returns True if its results must move aside."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise StudyError(f"Cannot write to --out {out_dir}: {existing} is not a writable folder. Choose another --out.")
    config_path = out_dir / CONFIG_FILE
    if not config_path.exists():
        return False
    previous = json.loads(config_path.read_text()).get("run_settings", {})
    # A setting added to StudyConfig after those results were written
    # counts as its default, so older result folders stay resumable.
    defaults = StudyConfig(backend=config.backend).run_settings()
    differences = {
        key: (previous.get(key, defaults[key]), value)
        for key, value in config.run_settings().items()
        if previous.get(key, defaults[key]) != value
    }
    if differences and not force:
        described = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in differences.items())
        raise StudyError(
            f"{out_dir} holds results of different settings ({described}); "
            "use another --out, or --force to move them to a backup folder and start over."
        )
    return bool(differences)


def move_previous_results(out_dir):
    backup = out_dir / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
    backup.mkdir()
    for path in (*report.find_results_files(out_dir), out_dir / CONFIG_FILE, out_dir / report.INTERRUPTED_FILE):
        if path.exists():
            shutil.move(path, backup / path.name)
    logger.warning("moved the previous results to %s", backup)


def write_config(config, out_dir):
    versions = {"keras": keras.__version__, "backend": keras.backend.backend()}
    for module_name in ("jax", "tensorflow", "torch", "numpy", "sklearn"):
        module = sys.modules.get(module_name)
        if module is not None:
            versions[module_name] = getattr(module, "__version__", "?")
    content = {"run_settings": config.run_settings(), "variants": list(config.variants), "seeds": config.seeds}
    content["versions"] = versions
    content["machine"] = machine.describe_machine()
    # Shards of one study may start together: replace the file whole, so none reads half of it.
    temporary = out_dir / f"{CONFIG_FILE}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, out_dir / CONFIG_FILE)


# ---------------------------------------------------------------- one run


class EpochRecorder(keras.callbacks.Callback):
    """Appends one results line per finished epoch and logs progress with the study's ETA."""

    def __init__(self, results_path, identity, progress):
        super().__init__()
        self.results_path = results_path
        self.identity = identity
        self.progress = progress
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        self.epoch_seconds.append(seconds)
        metrics = {name: float(logs[name]) for name in ("loss", "accuracy", "val_loss", "val_accuracy")}
        append_record(self.results_path, {"record": "epoch", "epoch": epoch + 1, "epoch_seconds": seconds, **metrics, **self.identity})
        self.progress.epoch_done(seconds)
        logger.info(
            "%s seed %d epoch %d: val_accuracy %.4f, val_loss %.4f (%.0f s) | study ETA %s",
            self.identity["variant"], self.identity["seed"], epoch + 1,
            metrics["val_accuracy"], metrics["val_loss"], seconds, self.progress.eta(),
        )


def training_data(config, encoded, fast_path, seed):
    """fit() arguments for the training and validation posts: whole arrays, or trimmed batches on the fast path."""
    if not fast_path:
        return {"x": encoded.x_train, "y": encoded.y_train, "validation_data": (encoded.x_val, encoded.y_val),
                "batch_size": config.batch_size, "validation_batch_size": 256}  # the same metrics in fewer, larger steps
    train = TrimmedBatches(encoded.x_train, encoded.y_train, config.batch_size, seed=seed)
    validation = TrimmedBatches(encoded.x_val, encoded.y_val, 256, shuffle=False)
    # TrimmedBatches shuffles itself, every epoch.
    return {"x": train.as_dataset(), "validation_data": validation.as_dataset(), "shuffle": False}


def diagnostics_recorder(encoded, out_dir, identity, seed):
    """A `DiagnosticsRecorder` on fixed probe posts: 256 training posts, up to 1,000 validation posts."""
    probe = np.random.default_rng(seed).choice(len(encoded.x_train), size=min(256, len(encoded.x_train)), replace=False)
    return diagnostics.DiagnosticsRecorder(
        Path(out_dir) / DIAGNOSTICS_FILE, {k: identity[k] for k in ("variant", "seed", "backend")},
        probe_ids=encoded.x_train[probe], probe_labels=encoded.y_train[probe],
        validation_ids=encoded.x_val[:1_000],
        padding_share_by_position=(encoded.x_train == 0).mean(axis=0),
        words_by_id={index: word for word, index in encoded.vocabulary.items()},
    )


def build_run_model(config, encoded, variant, seed):
    """The model of one (variant, seed) run, seeded: the same initial weights every time."""
    keras.utils.set_random_seed(seed)
    return build_model(
        variant,
        vocab_size=encoded.vocab_size,
        maxlen=config.maxlen,
        num_classes=len(encoded.label_names),
        embedding_dim=config.embedding_dim,
        hidden_units=config.hidden_units,
        dropout=config.dropout,
        fast_path=config.uses_fast_path(variant),
        embedding_init_scale=config.embedding_init_scale,
    )


def train_one_run(config, encoded, variant, seed, results_path, progress, verbose=0, diagnose=False):
    """Trains one (variant, seed) and appends its epoch lines and a final run_end line."""
    model = build_run_model(config, encoded, variant, seed)
    fast_path = config.uses_fast_path(variant)
    # Integer labels with the sparse loss: the same numbers as one-hot labels
    # with categorical cross-entropy, without a 20x larger label matrix.
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    identity = {"variant": variant, "seed": seed, "backend": config.backend, "fast_path": fast_path,
                "config": {**config.run_settings(), "num_classes": len(encoded.label_names)}}
    recorder = EpochRecorder(results_path, identity, progress)
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience)
    callbacks = [recorder, stopper]
    if diagnose:  # measures only (inference mode, no random draws): the training numbers stay the same
        callbacks.append(diagnostics_recorder(encoded, results_path.parent, identity, seed))
    started = time.perf_counter()
    history = model.fit(
        **training_data(config, encoded, fast_path, seed),
        epochs=config.epochs, callbacks=callbacks, verbose=verbose,
    )
    epochs_run = len(history.history["loss"])
    append_record(results_path, {
        "record": "run_end", "epochs_run": epochs_run, "stopped_early": epochs_run < config.epochs,
        "train_seconds": time.perf_counter() - started, **identity,
    })
    progress.run_done()


class Progress:
    """Estimates the study's time left from the epochs and runs done so far in this process."""

    def __init__(self, runs, max_epochs):
        self.runs_left = runs
        self.max_epochs = max_epochs
        self.epoch_seconds = []
        self.epochs_of_finished_runs = []
        self.epochs_in_current_run = 0

    def epoch_done(self, seconds):
        self.epoch_seconds.append(seconds)
        self.epochs_in_current_run += 1

    def run_done(self):
        self.epochs_of_finished_runs.append(self.epochs_in_current_run)
        self.epochs_in_current_run = 0
        self.runs_left -= 1

    def eta(self):
        if not self.epoch_seconds:
            return "unknown"
        # Early stopping makes run lengths unknown: assume the mean so far, or the maximum.
        runs_done = self.epochs_of_finished_runs
        typical = sum(runs_done) / len(runs_done) if runs_done else self.max_epochs
        current_left = max(typical - self.epochs_in_current_run, 0) if self.runs_left else 0
        epochs_left = current_left + max(self.runs_left - 1, 0) * typical
        seconds = int(sum(self.epoch_seconds) / len(self.epoch_seconds) * epochs_left)
        return f"~{seconds // 3600}h{seconds % 3600 // 60:02d}m"


# ---------------------------------------------------------------- the study


def distribution_scope(config):
    """Data parallel training over every local device when `config.distribute`, else nothing."""
    if not config.distribute:
        return contextlib.nullcontext()
    devices = keras.distribution.list_devices()
    logger.info("data parallel over %d devices: %s", len(devices), ", ".join(devices))
    return keras.distribution.DataParallel(devices=devices).scope()


def shard_runs(grid, shard):
    """The runs of `grid` that `shard` = (K, N) does: those at positions p with p % N == K - 1.

    Interleaved rather than in blocks, so every shard starts on the first seeds.
    """
    valid = (
        isinstance(shard, tuple) and len(shard) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
        and 1 <= shard[0] <= shard[1]
    )
    if not valid:
        raise StudyError(f"shard must be K/N with 1 <= K <= N; received shard={shard!r}.")
    index, count = shard
    if count > len(grid):
        raise StudyError(
            f"shard {index}/{count} would have no runs: the grid has only {len(grid)} "
            f"(variant, seed) runs; split it into at most {len(grid)} shards."
        )
    return grid[index - 1 :: count]


def run_study(config, out_dir, *, force=False, verbose=0, shard=None, diagnose=False):
    """Runs every (variant, seed) of `config` not yet finished in `out_dir`, then writes the report.

    Args:
        config: a `StudyConfig`.
        out_dir: folder for results.jsonl, config.json and the report; reusing
            it resumes the study (finished runs are skipped, interrupted ones redone).
        force: if `out_dir` holds results of different settings, move them to a
            backup folder inside it instead of refusing.
        verbose: Keras `fit` verbosity (0 silent, 1 progress bar, 2 a line per epoch).
        shard: `None` for the whole grid, or `(K, N)` with 1 <= K <= N to run only
            the K-th of N interleaved parts of the variant x seed grid, appending
            to `results.shard-K-of-N.jsonl`. Shards may share `out_dir` or run
            elsewhere and be copied back; a run finished in any results file of
            `out_dir` is skipped, and the report merges all of them.
        diagnose: also append `padzero.diagnostics` measures (padding
            gradient share, padding vector norm, dead ReLUs, ...) of every run
            to `out_dir/diagnostics.jsonl` and plot them.

    Returns:
        The paths written by `padzero.report.build_report` (summary_csv,
        report_markdown, learning_curves), and with `diagnose` also
        diagnostics_plot and diagnostics_table (and a "Why" section in the report).
    """
    out_dir = Path(out_dir)
    # Seed-major order: a study stopped part-way has every variant at its first seeds.
    grid = [(v, s) for s in range(config.seeds) for v in config.variants]
    # Shards are cut from the whole grid, not from what is left, so they never overlap.
    mine = grid if shard is None else shard_runs(grid, shard)
    results_name = RESULTS_FILE if shard is None else SHARD_RESULTS_FILE.format(index=shard[0], count=shard[1])
    results_path = out_dir / results_name
    # Nothing is written until the settings and the data have passed their checks.
    results_move_aside = check_out_dir(config, out_dir, force)
    previous = [] if results_move_aside else [r for path in report.find_results_files(out_dir) for r in read_records(path)]
    finished = {(r["variant"], r["seed"]) for r in previous if r["record"] == "run_end"}
    todo = [(v, s) for v, s in mine if (v, s) not in finished]
    logger.info("%d of %d runs finished, %d to do, in %s", len(mine) - len(todo), len(mine), len(todo), results_path)
    if todo:
        encoded = load_encoded_data(config)
        out_dir.mkdir(parents=True, exist_ok=True)
        with exclusive_results_file(results_path):
            if results_move_aside:
                move_previous_results(out_dir)
            set_aside_interrupted_runs(results_path)
            if diagnose:
                drop_unfinished_diagnostics(out_dir / DIAGNOSTICS_FILE, finished)
            write_config(config, out_dir)
            logger.info(
                "data: %d train / %d validation posts, vocabulary %d, maxlen %d",
                len(encoded.y_train), len(encoded.y_val), encoded.vocab_size, config.maxlen,
            )
            progress = Progress(len(todo), config.epochs)
            with distribution_scope(config):
                for number, (variant, seed) in enumerate(todo, start=1):
                    logger.info("run %d/%d: %s seed %d", number, len(todo), variant, seed)
                    train_one_run(config, encoded, variant, seed, results_path, progress, verbose, diagnose)
    # Other shards may still be running: the report holds what all results files have so far.
    return diagnostics_report.build_report_with_diagnostics(out_dir) if diagnose else report.build_report(out_dir)
