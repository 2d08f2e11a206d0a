"""The study runner: train every (variant, seed) once, append results, resume after a kill.

The grid can be split over processes or machines (`shard=(K, N)`), each shard
appending to its own results file; `padzero_study.reports.study_report` merges them. The
results files themselves (names, writing, reading, the lock) belong to
`padzero_study.results`.

Reads top to bottom: the config, the data, the results folder, one run,
progress, the whole study. `run_study(config, out_dir)` is what
`padzero reproduce` calls.
"""

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from padzero.validation import check_positive_int
from padzero_study import files
from padzero_study.files import FileError
from padzero_study import results
from padzero_study.diagnostics import recorder as diagnostics
from padzero_study.study import interrupts
from padzero_study.runtime import machine
from padzero_study.data import text
from padzero_study.study import progress as progress_module
from padzero_study.counts import count_of
from padzero_study.data.datasets import DATASETS
from padzero_study.models.encoders import BYTES_PER_WEIGHT, ENCODERS
from padzero_study.files import missing_folders, remove_empty_folders
from padzero_study.results import CONFIG_FILE, DIAGNOSTICS_FILE, RESULTS_FILE, SHARD_RESULTS_FILE
from padzero_study.runtime.seeding import set_random_seed
from padzero_study.models.variants import MAX_INIT_SCALE, VARIANTS, build_model, get_variant, study_variants

logger = logging.getLogger("padzero")

# Every seed trains each variant once: 1,000 seeds are already thousands of runs, weeks of training.
MAX_SEEDS = 1_000
# 20 Newsgroups' posts: the most a dataset loads when max_docs is not given.
LARGEST_POST_COUNT = 18_846
# Memory per padded id: the int32 id, and the copy pad_sequences builds beside each matrix.
_BYTES_PER_ID = 8
# Memory per post while it is encoded, besides its ids: its text and token strings, generously.
_TEXT_BYTES_PER_POST = 32 * 1024


class StudyError(ValueError):
    """A study cannot start as asked (bad settings, a foreign results folder, ...)."""


def _positive_int(name, value, maximum=None, hint=None):
    """`padzero.validation.check_positive_int`, raising `StudyError`."""
    try:
        return check_positive_int(name, value, maximum=maximum, **({"hint": hint} if hint else {}))
    except ValueError as error:
        raise StudyError(str(error)) from None


def _memory_hint(what):
    memory = machine.total_memory_bytes()
    return f"{what} must fit in this machine's {memory / 2**30:.1f} GiB of memory"


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Everything that decides a study's numbers; written to `config.json` beside them.

    `variants` and `seeds` pick which runs to do; every other field must match
    for runs to share a results folder. Every field is checked here, before
    any data is loaded: sizes too large for this machine's memory are refused
    with the limit.
    """

    dataset: str = "20news"  # a name in padzero_study.data.datasets.DATASETS
    data_path: str | None = None
    variants: tuple = dataclasses.field(default_factory=study_variants)
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
    # Embedding -> Flatten -> Dense as padzero.EmbeddingFlattenDense: the same function with less work.
    # None: where it measured faster, JAX on a CPU (docs/benchmarks); on a GPU its step measured 2.7-3.5x the
    # plain layers' (many small matmuls where the plain step is one), and TensorFlow and PyTorch slower.
    fast_path: bool | None = None
    distribute: bool = False  # keras.distribution.DataParallel over all local devices (JAX)
    backend: str = dataclasses.field(default_factory=keras.backend.backend)

    def __post_init__(self):
        for name in ("batch_size", "vocab_size", "embedding_dim", "hidden_units"):
            _positive_int(name, getattr(self, name))
        # The results reader's limit: a run of more epochs would write records the report refuses.
        for name in ("epochs", "patience"):
            _positive_int(name, getattr(self, name), results.LARGEST_EPOCH)
        _positive_int("seeds", self.seeds, MAX_SEEDS, "every seed trains each variant once, so 1,000 seeds "
                      "are already thousands of runs")
        self._check_numbers()
        if isinstance(self.variants, str) or not isinstance(self.variants, (tuple, list)):
            raise StudyError(f"variants must be a tuple of variant names; received variants={self.variants!r}.")
        # Dataclass is frozen; dropping repeats here keeps a run from being trained twice.
        object.__setattr__(self, "variants", tuple(dict.fromkeys(self.variants)))
        unknown = [name for name in self.variants if get_variant(name) is None]
        if unknown or not self.variants:
            named = ", ".join(map(repr, unknown)) or "(none given)"
            raise StudyError(f"Unknown variant{'s' * (len(unknown) > 1)} {named}; choose from {', '.join(VARIANTS)}, "
                             "or encoder study cells such as 'cnn/padzero' (names are lowercase).")
        if not isinstance(self.dataset, str) or self.dataset not in DATASETS:
            raise StudyError(f"dataset must be one of {', '.join(map(repr, DATASETS))}; received dataset={self.dataset!r}.")
        self._check_sizes()  # after the variants and the dataset: what memory and how many posts they allow
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

    def _check_sizes(self):
        """maxlen and max_docs such that the padded id matrices (and the posts' text) fit in memory."""
        _positive_int("maxlen", self.maxlen)
        if self.max_docs is not None:
            # The dataset's own limit, here rather than where it generates posts: before any work. Too few posts
            # to fill both splits is refused when the data is encoded.
            dataset = DATASETS[self.dataset]
            _positive_int("max_docs", self.max_docs, dataset.max_docs, dataset.max_docs_hint or None)
        memory = machine.total_memory_bytes()
        if not memory:  # the platform does not say: nothing to check against
            return
        posts = min(self.max_docs or LARGEST_POST_COUNT, LARGEST_POST_COUNT)
        _positive_int("maxlen", self.maxlen, max(memory // (_BYTES_PER_ID * posts), 1),
                      _memory_hint(f"the padded ids of {posts:,} posts ({_BYTES_PER_ID} bytes an id)"))
        # The table (up to vocab_size + 1 rows) and, per encoder, its weights and a batch's activations (for the
        # Flatten model, the Dense kernel of maxlen x embedding_dim x hidden_units).
        sizes = {"maxlen": self.maxlen, "embedding_dim": self.embedding_dim, "hidden_units": self.hidden_units}
        table = (self.vocab_size + 1) * self.embedding_dim * BYTES_PER_WEIGHT
        encoder = max((ENCODERS[get_variant(name).encoder] for name in self.variants),
                      key=lambda encoder: encoder.memory_bytes(sizes, self.batch_size))
        needed = table + encoder.memory_bytes(sizes, self.batch_size)
        if needed > memory:
            raise StudyError(
                f"The {encoder.name} model would need about {needed / 2**30:,.1f} GiB (an embedding table of up to "
                f"vocab_size + 1 = {self.vocab_size + 1:,} rows, the encoder's weights with Adam's state and a "
                f"batch's activations), more than this machine's {memory / 2**30:.1f} GiB of memory; lower "
                "embedding_dim, hidden_units, maxlen, vocab_size or batch_size.")
        if self.max_docs is not None:
            per_post = _BYTES_PER_ID * self.maxlen + _TEXT_BYTES_PER_POST
            _positive_int("max_docs", self.max_docs, max(memory // per_post, 20),
                          _memory_hint(f"at about {per_post:,} bytes a post (its text, tokens and "
                                       f"{self.maxlen:,} padded ids), the posts"))

    def _check_numbers(self):
        def is_number(value):
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        if not (is_number(self.dropout) and 0 <= self.dropout < 1):
            raise StudyError(f"dropout must be a number in [0, 1); received dropout={self.dropout!r}.")
        if not (is_number(self.validation_fraction) and 0 < self.validation_fraction < 1):
            raise StudyError("validation_fraction must be a number strictly between 0 and 1; "
                             f"received validation_fraction={self.validation_fraction!r}.")
        scale = self.embedding_init_scale
        if scale is not None and not (is_number(scale) and 0 < scale <= MAX_INIT_SCALE):
            raise StudyError(f"embedding_init_scale must be a number above 0 and at most {MAX_INIT_SCALE:g} (Keras's "
                             f"default is 0.05), or None; received embedding_init_scale={scale!r}.")
        if not (isinstance(self.split_seed, int) and not isinstance(self.split_seed, bool) and 0 <= self.split_seed < 2**32):
            raise StudyError(f"split_seed must be an integer in [0, 2**32); received split_seed={self.split_seed!r}.")
        if self.padding not in ("pre", "post"):
            raise StudyError(f"padding must be 'pre' or 'post'; received padding={self.padding!r}.")
        if self.fast_path is None:
            on_cpu = self.backend == "jax" and machine.training_device(self.backend)[0] == "cpu"
            object.__setattr__(self, "fast_path", on_cpu)
        for name in ("fast_path", "distribute"):
            if not isinstance(getattr(self, name), bool):
                raise StudyError(f"{name} must be True or False; received {name}={getattr(self, name)!r}.")
        if self.data_path is not None and not isinstance(self.data_path, str):
            raise StudyError(f"data_path must be None or a path as a string; received data_path={self.data_path!r}.")

    def run_settings(self):
        """The fields that must agree between runs sharing one results folder."""
        settings = dataclasses.asdict(self)
        del settings["variants"], settings["seeds"]
        return settings


# ---------------------------------------------------------------- data


def load_encoded_data(config):
    """Loads the posts of `config.dataset` (its registry entry) and turns them into padded id matrices."""
    newsgroups = DATASETS[config.dataset].load(config)
    return text.encode_newsgroups(
        newsgroups,
        vocab_size=config.vocab_size,
        maxlen=config.maxlen,
        validation_fraction=config.validation_fraction,
        split_seed=config.split_seed,
        max_docs=config.max_docs,
        padding=config.padding,
    )


def check_encoded_data(config, encoded):
    """Refuses, before any run starts, data a study cannot use; logs when max_docs asked for more posts than there are."""
    classes = len(encoded.label_names)
    if not 2 <= classes <= results.LARGEST_CLASS_COUNT:
        raise StudyError(f"The {config.dataset} data{f' at {config.data_path}' if config.data_path else ''} has "
                         f"{count_of(classes, 'class', 'classes')}; a classifier needs at least 2 (and at most "
                         f"{results.LARGEST_CLASS_COUNT:,}). Give data with more newsgroups.")
    posts = len(encoded.y_train) + len(encoded.y_val)
    if config.max_docs is not None and config.max_docs > posts:
        logger.warning("max_docs %d asks for more posts than the data has: using all %d", config.max_docs, posts)


def data_facts(encoded):
    """What the data turned out to be, recorded beside the settings: classes, vocabulary (padding id included),
    posts, and the fingerprint of it all (`data_fingerprint`)."""
    return {"num_classes": len(encoded.label_names), "vocabulary": encoded.vocab_size,
            "train_posts": len(encoded.y_train), "validation_posts": len(encoded.y_val),
            "fingerprint": data_fingerprint(encoded)}


def data_fingerprint(encoded):
    """'sha256:<hex>' of what the models see: both splits' padded ids and labels, the vocabulary, the label names.

    The same settings on the same posts give the same fingerprint; a post, a label or a newsgroup changed gives
    another. Hashing the encoded ids rather than the texts ties it to what was trained on (a post that
    `max_docs` leaves out changes nothing), in one pass over arrays already in memory.
    """
    digest = hashlib.sha256()
    words_by_id = sorted(encoded.vocabulary, key=encoded.vocabulary.get)
    arrays = [(encoded.x_train, "<i4"), (encoded.y_train, "<i8"), (encoded.x_val, "<i4"), (encoded.y_val, "<i8")]
    header = {"label_names": list(encoded.label_names), "words": words_by_id,
              "shapes": [list(array.shape) for array, _ in arrays]}
    digest.update(json.dumps(header).encode())
    for array, dtype in arrays:  # fixed byte order and width: the same on every machine
        digest.update(np.ascontiguousarray(array, dtype=dtype))
    return f"sha256:{digest.hexdigest()}"


def check_same_data(out_dir, records, facts, force):
    """Whether the finished runs of `out_dir` were trained on other data than `facts` describe.

    Compared with each finished run's record and `config.json`: a fact recorded on both sides that differs
    (a folder from before fingerprints were recorded compares the facts it has). Results of other data must
    not be mixed into one report; with `force` they are to be moved aside.

    Returns:
        True when they differ and `force` is given.

    Raises:
        StudyError: when they differ without `force` (one line).
    """
    if not any(record["record"] == "run_end" for record in records):
        return False  # nothing finished: nothing to mix with
    recorded = [record["config"] for record in records if record["record"] == "run_end" and record.get("config")]
    if os.path.lexists(out_dir / CONFIG_FILE):
        written = results.read_config(out_dir / CONFIG_FILE).get("data")
        recorded += [written] if isinstance(written, dict) else []
    differences = {}
    for old in recorded:
        for key, value in facts.items():
            if key in old and old[key] != value:
                differences.setdefault(key, (old[key], value))
    if not differences or force:
        return bool(differences)
    described = ", ".join(f"{key}: {results.as_json_text(old, 24)} -> {results.as_json_text(new, 24)}"
                          for key, (old, new) in differences.items())
    raise StudyError(f"{out_dir} holds finished runs trained on other data ({described}); rerun on the data they "
                     "were trained on, or use another --out, or --force to move them to a backup folder and start over.")


# ---------------------------------------------------------------- the results folder


def check_out_dir(config, out_dir, force):
    """Checks, writing nothing, that `out_dir` can take this study; returns True if its files must move aside.

    Refused without `force` (with it, moved aside): a `config.json` or
    results file that is not one the runner wrote (naming it); settings that
    differ from those of `config.json` or of the finished runs' own records
    (a hand-edited `config.json` does not let other runs count as done); and
    report files with no study beside them (someone's own files).
    """
    existing = out_dir
    try:
        while not os.path.lexists(existing) and existing != existing.parent:
            existing = existing.parent
        usable = existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    except OSError as error:  # a name too long, a path through a file, ...
        raise StudyError(f"Cannot use --out {out_dir} ({error.strerror}); choose another --out.") from None
    if not usable:
        raise StudyError(f"Cannot write to --out {out_dir}: {existing} is not a writable folder. Choose another --out.")
    config_path = out_dir / CONFIG_FILE
    study_files = [*results.results_files(out_dir), *(out_dir / name for name in (
        CONFIG_FILE, results.INTERRUPTED_FILE, DIAGNOSTICS_FILE) if os.path.lexists(out_dir / name))]
    if not study_files:
        # Report files with no study beside them are someone's own files: not ours to overwrite.
        foreign = [name for name in results.REPORT_FILES if os.path.lexists(out_dir / name)]
        if foreign and not force:
            raise StudyError(f"{out_dir} holds {', '.join(foreign)} but no study results or config; use another "
                             "--out, or --force to move them to a backup folder.")
        return bool(foreign)
    how = "use another --out, or --force to move them to a backup folder and start over"
    try:
        previous = results.read_config(config_path)["run_settings"] if os.path.lexists(config_path) else None
        records = results.load_results(results.results_files(out_dir))
    except FileError as error:
        if force:
            return True
        if "--force" in str(error):
            raise
        raise results.ResultsError(f"{str(error).rstrip('.')}. Or {how}.") from None
    # A setting added to StudyConfig after those results were written
    # counts as its default, so older result folders stay resumable.
    defaults = StudyConfig(backend=config.backend).run_settings()
    wanted = config.run_settings()
    # The finished runs' own records count as much as config.json: a hand-edited config must not merge them.
    recorded = [previous] if previous is not None else []
    recorded += [record["config"] for record in records if record["record"] == "run_end" and record.get("config")]
    differences = {}
    for settings in recorded:
        for key, value in wanted.items():
            if key == "data_path":
                continue  # the same archive may be reached by another path; what the data was is recorded
            old = settings.get(key, defaults[key])
            if old != value:
                differences.setdefault(key, (old, value))
    if differences and not force:
        described = ", ".join(f"{k}: {results.as_json_text(old, 40)} -> {results.as_json_text(new, 40)}" for k, (old, new) in differences.items())
        raise StudyError(f"{out_dir} holds results of different settings ({described}); {how}.")
    return bool(differences)


def _files_to_move_aside(out_dir):
    """Everything a study wrote in `out_dir`: results, shards, set-aside and diagnostics lines, config, report."""
    names = (results.INTERRUPTED_FILE, DIAGNOSTICS_FILE, CONFIG_FILE, *results.REPORT_FILES)
    # Links are moved as links (never followed); a folder of that name is not one of ours.
    return [*results.results_files(out_dir),
            *(out_dir / name for name in names if os.path.islink(out_dir / name) or (out_dir / name).is_file())]


def move_previous_results(out_dir):
    """Moves every file of the previous study in `out_dir` into `out_dir/previous-<time>/`; returns that folder."""
    backup = out_dir / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        for suffix in range(1, 1000):  # two --force runs in one second must not share a backup
            try:
                backup.mkdir()
                break
            except FileExistsError:
                backup = out_dir / f"previous-{time.strftime('%Y%m%d-%H%M%S')}-{suffix}"
        for path in _files_to_move_aside(out_dir):
            shutil.move(path, backup / path.name)  # a link is moved as a link, never followed
    except OSError as error:
        raise StudyError(files.describe_os_error(getattr(error, "filename", None) or backup, error, writing=True)
                         ) from None
    logger.warning("moved the previous results to %s", backup)
    return backup


def _results_files_in_use(out_dir, results_name):
    """The other results files of `out_dir` whose runs may overlap this one's, and that a process is writing now.

    Shards of one N never overlap; the whole grid overlaps every shard, and
    shards of different N overlap each other.
    """
    def count_of(name):
        return None if name == RESULTS_FILE else name.rsplit("-of-", 1)[1].split(".", 1)[0]

    in_use = []
    for lock in sorted([out_dir / f"{RESULTS_FILE}.lock", *out_dir.glob(f"{results.SHARD_RESULTS_GLOB}.lock")]):
        name = lock.name[: -len(".lock")]
        if not lock.exists():
            continue
        overlapping = None in (count_of(name), count_of(results_name)) or count_of(name) != count_of(results_name)
        if name != results_name and overlapping and results.is_locked(out_dir, name):
            in_use.append(name)
    return in_use


def write_config(config, out_dir, facts):
    """Writes `config.json`: the settings, the data's facts, the software versions, the machine and the device
    the runs train on."""
    versions = {"keras": keras.__version__, "backend": keras.backend.backend()}
    for module_name in ("jax", "tensorflow", "torch", "numpy", "sklearn"):
        module = sys.modules.get(module_name)
        if module is not None:
            versions[module_name] = getattr(module, "__version__", "?")
    content = {"run_settings": config.run_settings(), "variants": list(config.variants), "seeds": config.seeds,
               "data": facts, "versions": versions, "machine": machine.describe_machine(),
               "device": machine.training_device(config.backend)[1]}
    # Shards of one study may start together: replace the file whole, so none reads half of it.
    files.write_own_file(out_dir / CONFIG_FILE, json.dumps(content, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------- one run


class EpochRecorder(keras.callbacks.Callback):
    """Appends one results line per finished epoch and logs it with the study's ETA."""

    def __init__(self, results_path, identity, progress):
        super().__init__()
        self.results_path = results_path
        self.identity = identity
        self.progress = progress

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        metrics = {name: float(logs[name]) for name in ("loss", "accuracy", "val_loss", "val_accuracy")}
        results.append_record(self.results_path, {"record": "epoch", "epoch": epoch + 1, "epoch_seconds": seconds,
                                                  **metrics, **self.identity})
        self.progress.epoch_done(seconds)
        logger.info(
            "%s seed %d epoch %d: val_accuracy %.4f, val_loss %.4f (%.0f s) | study ETA %s",
            self.identity["variant"], self.identity["seed"], epoch + 1,
            metrics["val_accuracy"], metrics["val_loss"], seconds, self.progress.eta(),
        )


def training_data(config, encoded):
    """fit() arguments for the training and validation posts: the same on both paths, so the same batches."""
    return {"x": encoded.x_train, "y": encoded.y_train, "validation_data": (encoded.x_val, encoded.y_val),
            "batch_size": config.batch_size, "validation_batch_size": 256}  # the same metrics in fewer, larger steps


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
    set_random_seed(seed)
    return build_model(
        variant,
        vocab_size=encoded.vocab_size,
        maxlen=config.maxlen,
        num_classes=len(encoded.label_names),
        embedding_dim=config.embedding_dim,
        hidden_units=config.hidden_units,
        dropout=config.dropout,
        fast_path=config.fast_path,
        embedding_init_scale=config.embedding_init_scale,
    )


@contextlib.contextmanager
def keras_mask_warning_held_back():
    """Keras's warning that Flatten destroys a mask is what the mask_zero variant exists to show (its description
    and the report say so): in a run's log it would only repeat that, once per run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*destroy the mask information", category=UserWarning)
        yield


def train_one_run(config, encoded, variant, seed, results_path, progress, verbose=0, diagnose=False, facts=None):
    """Trains one (variant, seed) and appends its epoch lines and a final run_end line.

    `verbose` draws a progress bar within each epoch when stderr is a
    terminal; otherwise, and with `verbose=0`, a line is logged every 30 s.
    `facts` are `data_facts(encoded)`, recorded in every line (computed when not given).
    """
    with keras_mask_warning_held_back():
        model = build_run_model(config, encoded, variant, seed)
    # Integer labels with the sparse loss: the same numbers as one-hot labels
    # with categorical cross-entropy, without a 20x larger label matrix.
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    identity = {"variant": variant, "seed": seed, "backend": config.backend, "fast_path": config.fast_path,
                "padding": get_variant(variant).padding or config.padding,
                "config": {**config.run_settings(), **(facts or data_facts(encoded))}}
    steps = progress_module.StepProgress(f"{variant} seed {seed}", progress,
                                         stream=sys.stderr if verbose else progress_module.NotATerminal())
    # StepProgress first: it clears its bar before the recorder logs the epoch.
    callbacks = [steps, EpochRecorder(results_path, identity, progress),
                 keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience)]
    if diagnose:  # measures only (inference mode, no random draws): the training numbers stay the same
        callbacks.append(diagnostics_recorder(encoded, results_path.parent, identity, seed))
    started = time.perf_counter()
    with keras_mask_warning_held_back(), interrupts.sigint_noted() as interrupted:
        history = model.fit(
            **training_data(config, encoded),
            epochs=config.epochs, callbacks=[*callbacks, interrupts.InterruptAtBatchEnd(interrupted)], verbose=0,
        )
    epochs_run = len(history.history["loss"])
    results.append_record(results_path, {
        "record": "run_end", "epochs_run": epochs_run, "stopped_early": epochs_run < config.epochs,
        "train_seconds": time.perf_counter() - started, **identity,
    })
    progress.run_done()


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
            f"shard {index}/{count} would have no runs: the grid has only {count_of(len(grid), '(variant, seed) run')}; "
            f"split it into at most {count_of(len(grid), 'shard')}."
        )
    return grid[index - 1 :: count]


def run_study(config, out_dir, *, force=False, verbose=0, shard=None, diagnose=False):
    """Runs every (variant, seed) of `config` not yet finished in `out_dir`, appending their results.

    A process holds its results file's lock (`padzero_study.results.study_lock`)
    from before it reads which runs are done until its last run ends: a second
    process on the same file is refused at once.

    Args:
        config: a `StudyConfig`.
        out_dir: folder for results.jsonl, config.json and the report; reusing
            it resumes the study (finished runs are skipped, interrupted ones redone).
        force: if `out_dir` holds results of different settings (or a
            config.json that is not one), move every file of that study to a
            backup folder inside it instead of refusing.
        verbose: 1 draws a progress bar within each epoch when stderr is a
            terminal; 0 (or not a terminal) logs a progress line every 30 s.
        shard: `None` for the whole grid, or `(K, N)` with 1 <= K <= N to run only
            the K-th of N interleaved parts of the variant x seed grid, appending
            to `results.shard-K-of-N.jsonl`. Shards may share `out_dir` or run
            elsewhere and be copied back; a run finished in any results file of
            `out_dir` is skipped, and the report merges all of them.
        diagnose: also append `padzero_study.diagnostics.recorder` measures (padding
            gradient share, padding vector norm, dead ReLUs, ...) of every run
            to `out_dir/diagnostics.jsonl` and plot them. Needs
            `config.fast_path=False`: the measures read the plain layers.

    Returns:
        `out_dir` as a `Path`. The runner trains and records only: the report
        of the folder is `padzero_study.reports.folder_report.write_report(out_dir)`'s
        to write (`padzero reproduce` and `diagnose` call it).

    Raises:
        StudyError: before anything is written, for bad settings, a folder of
            other settings, or a results file another process is writing.
    """
    out_dir = Path(out_dir)
    # Seed-major order: a study stopped part-way has every variant at its first seeds.
    grid = [(v, s) for s in range(config.seeds) for v in config.variants]
    # Shards are cut from the whole grid, not from what is left, so they never overlap.
    mine = grid if shard is None else shard_runs(grid, shard)
    if diagnose and shard is not None:
        raise StudyError("diagnose writes one diagnostics.jsonl for the whole folder, so it cannot run as a shard; "
                         "drop the shard.")
    if diagnose and config.fast_path:
        raise StudyError("diagnose measures the hidden layer's flattened inputs, which the fast path never builds; "
                         "set fast_path=False (padzero diagnose does).")
    results_name = RESULTS_FILE if shard is None else SHARD_RESULTS_FILE.format(index=shard[0], count=shard[1])
    results_path = out_dir / results_name
    # Nothing is written until the settings, the folder and the data have passed their checks.
    move_aside = check_out_dir(config, out_dir, force)
    created = missing_folders(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a name too long, a file in the way, a read-only place
        raise StudyError(f"Cannot create --out {out_dir} ({error.strerror}); choose another --out.") from None
    try:
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(results.study_lock(out_dir, results_name))
            except FileError as error:
                raise StudyError(str(error)) from None
            # Under the lock: no process can finish or start a run of this file while we decide what is left.
            others = _results_files_in_use(out_dir, results_name)
            if others:
                raise StudyError(f"Another padzero process is writing {', '.join(others)} in {out_dir}, whose runs "
                                 "overlap these; wait for it to finish, or give this one another --out.")
            previous = [] if move_aside else results.load_results(results.results_files(out_dir))
            finished = results.finished_runs(previous)
            todo = [(v, s) for v, s in mine if (v, s) not in finished]
            if diagnose and not move_aside:
                _check_diagnostics_of_finished_runs(out_dir, [run for run in mine if run in finished])
            logger.info("%d of %s finished, %d to do, in %s", len(mine) - len(todo), count_of(len(mine), "run"),
                        len(todo), results_path)
            if todo:
                # Data first: its errors leave the folder as it was.
                if move_aside:
                    _refuse_to_move_files_in_use(out_dir, results_path)
                encoded = load_encoded_data(config)
                check_encoded_data(config, encoded)
                facts = data_facts(encoded)
                if not move_aside and check_same_data(out_dir, previous, facts, force):
                    _refuse_to_move_files_in_use(out_dir, results_path)
                    move_aside, previous, finished, todo = True, [], set(), mine
                _train(config, encoded, facts, out_dir, results_path, todo, previous, move_aside, verbose, diagnose,
                       finished)
    except BaseException:
        remove_empty_folders(created)  # a study refused before it began leaves no empty folder behind
        raise
    return out_dir


def _check_diagnostics_of_finished_runs(out_dir, finished):
    """Refuses a diagnose study whose finished runs have no diagnostics lines: its report would lack them."""
    lacking = [run for run in results.missing_diagnostics(out_dir) if run in finished]
    if lacking:
        runs = ", ".join(f"{variant} seed {seed}" for variant, seed in lacking[:5]) + (", ..." if len(lacking) > 5 else "")
        raise StudyError(f"{out_dir} has {count_of(len(lacking), 'finished run')} with no lines in {DIAGNOSTICS_FILE} "
                         f"({runs}); use --force to move the results aside and redo them with diagnostics, or another "
                         "--out.")


def _refuse_to_move_files_in_use(out_dir, results_path):
    in_use = [path.name for path in results.results_files(out_dir)
              if path != results_path and results.is_locked(out_dir, path.name)]
    if in_use:
        raise StudyError(f"--force would move {', '.join(in_use)} from under the process writing it; "
                         "wait for it to finish.")


def _train(config, encoded, facts, out_dir, results_path, todo, previous, move_aside, verbose, diagnose, finished):
    """The part of `run_study` that writes, once the data has passed its checks: the folder, then the runs."""
    if move_aside:
        move_previous_results(out_dir)
    results.set_aside_interrupted_runs(results_path)
    if diagnose:
        results.drop_unfinished_diagnostics(out_dir / DIAGNOSTICS_FILE, finished)
    write_config(config, out_dir, facts)
    logger.info(
        "data: %d train / %d validation posts, vocabulary %d, maxlen %d",
        len(encoded.y_train), len(encoded.y_val), encoded.vocab_size, config.maxlen,
    )
    run_epochs, epoch_seconds, variant_seconds = progress_module.known_progress(config, out_dir, previous)
    # Each variant's epochs timed on their own: an encoder study's LSTM epoch is many of its average's.
    progress = progress_module.StudyProgress(len(todo), config.epochs, config.patience, run_epochs, epoch_seconds,
                                            run_variants=[variant for variant, _ in todo],
                                            known_variant_seconds=variant_seconds)
    logger.info("%s to do; study ETA %s", count_of(len(todo), "run"), progress.eta())
    by_padding = {config.padding: encoded}  # an encoder study cell may train with the other padding
    with distribution_scope(config):
        for number, (variant, seed) in enumerate(todo, start=1):
            logger.info("run %d/%d: %s seed %d", number, len(todo), variant, seed)
            padding = get_variant(variant).padding or config.padding
            if padding not in by_padding:
                by_padding[padding] = text.repadded(encoded, padding)
            train_one_run(config, by_padding[padding], variant, seed, results_path, progress, verbose, diagnose, facts)
