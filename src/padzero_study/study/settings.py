"""A study's settings, checked once, before anything loads: `StudyConfig` (what decides the numbers) and `StudyRun`
(which of its runs go where).

Keras-free: the command line builds both, with the backend it chose, before it imports Keras, so a setting that
cannot work costs no Keras import and no data loading, and everything below receives them checked. (A config
built without a backend asks Keras which one it runs on.) Each rule is written here once. A message names
a setting as `<<name>>`: `str(error)` gives the setting's own name, and the command line its flag.
"""

import dataclasses
import importlib
import os
import re
from pathlib import Path

from padzero_study import reference, results, values
from padzero_study.data import newsgroups
from padzero_study.data.datasets import DATASETS
from padzero_study.files import shown
from padzero_study.models.encoders import BYTES_PER_WEIGHT, ENCODERS
from padzero_study.models.padding_variants import MAX_INIT_SCALE
from padzero_study.models.variants import VARIANTS, get_variant, study_variants
from padzero_study.runtime import machine
from padzero_study.runtime.backends import BACKENDS

# Every seed trains each variant once: 1,000 seeds are already thousands of runs, weeks of training.
MAX_SEEDS = 1_000
# 20 Newsgroups' posts: the most a dataset loads when max_docs is not given.
LARGEST_POST_COUNT = reference.TRAIN_POSTS + reference.VALIDATION_POSTS
# Memory per padded id: the int32 id, and the copy pad_sequences builds beside each matrix.
_BYTES_PER_ID = 8
# Memory per post while it is encoded, besides its ids: its text and token strings, generously.
_TEXT_BYTES_PER_POST = 32 * 1024
_NAMED = re.compile(r"<<(\w+)>>")


class StudyError(ValueError):
    """A study cannot start as asked (bad settings, a foreign results folder, ...): one line.

    Settings are named `<<name>>` in the message; `worded(names)` names them as a caller knows them.
    """

    def __init__(self, message):
        self.template = message
        super().__init__(self.worded())

    def worded(self, names=None):
        """The message with each `<<setting>>` named as `names` maps it (default: the setting's own name)."""
        return _NAMED.sub(lambda match: (names or {}).get(match.group(1), match.group(1)), self.template)


def _checked(check, name, *args, **kwargs):
    """`check(name, *args)` of `padzero_study.values`, raising a `StudyError` that names the setting `<<name>>`."""
    try:
        return check(f"<<{name}>>", *args, **kwargs)
    except ValueError as error:
        raise StudyError(str(error)) from None


def _keras_backend():
    """The backend Keras runs on (importing Keras): the default of a config built without one, as in a notebook."""
    return importlib.import_module("keras").backend.backend()


def _memory_hint(what):
    return f"{what} must fit in this machine's {machine.total_memory_bytes() / 2**30:.1f} GiB of memory"


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Everything that decides a study's numbers; written to `config.json` beside them.

    `variants` and `seeds` pick which runs to do; every other field must match
    for runs to share a results folder. Every field is checked here, before
    any data is loaded: sizes too large for this machine's memory are refused
    with the limit, and settings the chosen variants or dataset would ignore
    are refused rather than recorded as used.
    """

    dataset: str = "20news"  # a name in padzero_study.data.datasets.DATASETS
    data_path: str | None = None
    variants: tuple = dataclasses.field(default_factory=study_variants)
    seeds: int = 3
    epochs: int = reference.EPOCHS
    batch_size: int = reference.BATCH_SIZE
    maxlen: int = reference.MAXLEN
    vocab_size: int = reference.VOCAB_SIZE
    max_docs: int | None = None
    validation_fraction: float = 0.2
    split_seed: int = 0
    patience: int = reference.PATIENCE
    padding: str = "pre"
    embedding_dim: int = reference.EMBEDDING_DIM
    hidden_units: int = reference.HIDDEN_UNITS
    dropout: float = reference.DROPOUT
    embedding_init_scale: float | None = None  # None: Keras's RandomUniform(-0.05, 0.05)
    # Embedding -> Flatten -> Dense as padzero.EmbeddingFlattenDense: the same function with less work.
    # None: where it measured faster, JAX on a CPU (docs/benchmarks); on a GPU its step measured 2.7-3.5x the
    # plain layers' (many small matmuls where the plain step is one), and TensorFlow and PyTorch slower.
    fast_path: bool | None = None
    distribute: bool = False  # keras.distribution.DataParallel over all local devices (JAX)
    backend: str = dataclasses.field(default_factory=_keras_backend)

    def __post_init__(self):
        for name in ("batch_size", "vocab_size", "embedding_dim", "hidden_units"):
            _checked(values.check_positive_int, name, getattr(self, name))
        # The results reader's limit: a run of more epochs would write records the report refuses.
        for name in ("epochs", "patience"):
            _checked(values.check_positive_int, name, getattr(self, name), results.LARGEST_EPOCH)
        _checked(
            values.check_positive_int,
            "seeds",
            self.seeds,
            MAX_SEEDS,
            "every seed trains each variant once, so 1,000 seeds are already thousands of runs",
        )
        self._check_variants_and_dataset()
        self._check_numbers()
        self._check_sizes()  # after the variants and the dataset: what memory and how many posts they allow
        self._check_what_the_run_would_ignore()

    def _check_variants_and_dataset(self):
        if isinstance(self.variants, str) or not isinstance(self.variants, (tuple, list)):
            raise StudyError(f"<<variants>> must be a tuple of variant names; received {self.variants!r}.")
        # Frozen: dropping repeats here keeps a run from being trained twice.
        object.__setattr__(self, "variants", tuple(dict.fromkeys(self.variants)))
        unknown = [name for name in self.variants if get_variant(name) is None]
        if unknown or not self.variants:
            named = ", ".join(map(repr, unknown)) or "(none given)"
            raise StudyError(
                f"<<variants>>: unknown variant{'s' * (len(unknown) > 1)} {named}; choose from "
                f"{', '.join(VARIANTS)}, 'all', or encoder study cells such as 'cnn/padzero' (names are "
                "lowercase)."
            )
        if not isinstance(self.dataset, str) or self.dataset not in DATASETS:
            raise StudyError(f"<<dataset>> must be one of {', '.join(map(repr, DATASETS))}; received {self.dataset!r}.")
        if self.data_path is not None:
            if not isinstance(self.data_path, str):
                raise StudyError(f"<<data_path>> must be None or a path as a string; received {self.data_path!r}.")
            if DATASETS[self.dataset].data_folder is None:
                readers = [name for name, dataset in DATASETS.items() if dataset.data_folder is not None]
                raise StudyError(
                    f"<<data_path>>: dataset {self.dataset} reads no data files, so the path would be "
                    f"ignored; drop it, or use dataset {' or '.join(readers)} to train on it."
                )
            try:
                newsgroups.check_data_path(self.data_path)
            except newsgroups.DataError as error:
                raise StudyError(f"<<data_path>> {error}") from None

    def _check_numbers(self):
        if not (values.is_number(self.dropout) and 0 <= self.dropout < 1):
            raise StudyError(f"dropout must be a number in [0, 1); received dropout={self.dropout!r}.")
        _checked(values.check_fraction, "validation_fraction", self.validation_fraction)
        scale = self.embedding_init_scale
        if scale is not None and not (values.is_number(scale) and 0 < scale <= MAX_INIT_SCALE):
            raise StudyError(
                f"<<embedding_init_scale>> must be a number above 0 and at most {MAX_INIT_SCALE:g} "
                f"(Keras's default is 0.05); received {scale!r}."
            )
        if not (values.is_int(self.split_seed) and 0 <= self.split_seed < 2**32):
            raise StudyError(f"split_seed must be an integer in [0, 2**32); received split_seed={self.split_seed!r}.")
        _checked(values.check_padding_side, "padding", self.padding)
        if self.backend not in BACKENDS:
            raise StudyError(f"<<backend>> must be one of jax, tensorflow, torch; received {self.backend!r}.")
        if self.fast_path is True and not any(get_variant(name).flattens for name in self.variants):
            takers = [name for name, variant in VARIANTS.items() if variant.flattens]
            raise StudyError(
                f"<<fast_path>> fuses Embedding -> Flatten -> Dense, which none of <<variants>> "
                f"{','.join(self.variants)} has; drop it, or add a variant that has it "
                f"({', '.join(takers)})."
            )
        if self.fast_path is None:
            on_cpu = self.backend == "jax" and machine.training_device(self.backend)[0] == "cpu"
            object.__setattr__(self, "fast_path", on_cpu)
        for name in ("fast_path", "distribute"):
            if not isinstance(getattr(self, name), bool):
                raise StudyError(f"{name} must be True or False; received {name}={getattr(self, name)!r}.")
        if self.distribute and self.backend != "jax":
            raise StudyError(
                f"<<distribute>> needs the jax backend (keras.distribution supports JAX only); this "
                f"study is on {self.backend}. Use the jax backend, or drop <<distribute>>."
            )

    def _check_sizes(self):
        """maxlen and max_docs such that the padded id matrices (and the posts' text) fit in memory."""
        _checked(values.check_positive_int, "maxlen", self.maxlen)
        if self.max_docs is not None:
            # The dataset's own limit, here rather than where it generates posts: before any work. Too few posts
            # to fill both splits is refused when the data is encoded.
            dataset = DATASETS[self.dataset]
            _checked(
                values.check_positive_int, "max_docs", self.max_docs, dataset.max_docs, dataset.max_docs_hint or None
            )
        memory = machine.total_memory_bytes()
        if not memory:  # the platform does not say: nothing to check against
            return
        posts = min(self.max_docs or LARGEST_POST_COUNT, LARGEST_POST_COUNT)
        _checked(
            values.check_positive_int,
            "maxlen",
            self.maxlen,
            max(memory // (_BYTES_PER_ID * posts), 1),
            _memory_hint(f"the padded ids of {posts:,} posts ({_BYTES_PER_ID} bytes an id)"),
        )
        # The table (up to vocab_size + 1 rows) and, per encoder, its weights and a batch's activations (for the
        # Flatten model, the Dense kernel of maxlen x embedding_dim x hidden_units).
        sizes = {"maxlen": self.maxlen, "embedding_dim": self.embedding_dim, "hidden_units": self.hidden_units}
        table = (self.vocab_size + 1) * self.embedding_dim * BYTES_PER_WEIGHT
        encoder = max(
            (ENCODERS[get_variant(name).encoder] for name in self.variants),
            key=lambda encoder: encoder.memory_bytes(sizes, self.batch_size),
        )
        needed = table + encoder.memory_bytes(sizes, self.batch_size)
        if needed > memory:
            raise StudyError(
                f"The {encoder.name} model would need about {needed / 2**30:,.1f} GiB (an embedding table of up to "
                f"vocab_size + 1 = {self.vocab_size + 1:,} rows, the encoder's weights with Adam's state and a "
                f"batch's activations), more than this machine's {memory / 2**30:.1f} GiB of memory; lower "
                "embedding_dim, hidden_units, maxlen, vocab_size or batch_size."
            )
        if self.max_docs is not None:
            per_post = _BYTES_PER_ID * self.maxlen + _TEXT_BYTES_PER_POST
            _checked(
                values.check_positive_int,
                "max_docs",
                self.max_docs,
                max(memory // per_post, 20),
                _memory_hint(
                    f"at about {per_post:,} bytes a post (its text, tokens and {self.maxlen:,} padded ids), the posts"
                ),
            )

    def _check_what_the_run_would_ignore(self):
        """Refuses settings that the chosen dataset or variants would ignore while config.json recorded them."""
        if self.padding != "pre" and all(get_variant(name).embedding for name in self.variants):
            raise StudyError(
                f"<<padding>> {self.padding}: each encoder study cell has its own padding (pre, and the "
                "LSTM's post-padded cells too); drop it."
            )
        if self.embedding_init_scale is not None and not any(get_variant(n).keras_default_init for n in self.variants):
            takers = [name for name, variant in VARIANTS.items() if variant.keras_default_init]
            raise StudyError(
                f"<<embedding_init_scale>> widens Keras's default embedding init, which none of "
                f"<<variants>> {','.join(self.variants)} starts from (they set their own); drop it, or add "
                f"a variant that does ({', '.join(takers)})."
            )

    def run_settings(self):
        """The fields that must agree between runs sharing one results folder."""
        settings = dataclasses.asdict(self)
        del settings["variants"], settings["seeds"]
        return settings


@dataclasses.dataclass(frozen=True)
class StudyRun:
    """Which runs of a `StudyConfig` a process does, and where: checked once, like the config.

    Args:
        config: a `StudyConfig`.
        out_dir: the results folder (created if missing), outside the folder the data is read from.
        shard: None for the whole variant x seed grid, or (K, N) with 1 <= K <= N: the K-th of N interleaved parts.
        diagnose: also record the diagnostics of `padzero_study.diagnostics` (the whole grid, plain layers).
        force: move the results of other settings in `out_dir` aside instead of refusing.
    """

    config: StudyConfig
    out_dir: Path
    shard: tuple | None = None
    diagnose: bool = False
    force: bool = False

    def __post_init__(self):
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        if self.shard is not None:
            self._check_shard()
        if self.diagnose:
            self._check_diagnose()
        self._check_out_dir()

    @property
    def grid(self):
        """Every (variant, seed) of the study, seed-major: a study stopped part-way has every variant at its
        first seeds."""
        return [(variant, seed) for seed in range(self.config.seeds) for variant in self.config.variants]

    @property
    def runs(self):
        """This process's runs: the grid, or its shard's interleaved part (so every shard starts on the first
        seeds; shards are cut from the whole grid, never from what is left, so they never overlap)."""
        if self.shard is None:
            return self.grid
        index, count = self.shard
        return self.grid[index - 1 :: count]

    @property
    def results_name(self):
        if self.shard is None:
            return results.RESULTS_FILE
        return results.SHARD_RESULTS_FILE.format(index=self.shard[0], count=self.shard[1])

    def _check_shard(self):
        shard = self.shard
        if not (
            isinstance(shard, tuple)
            and len(shard) == 2
            and all(map(values.is_int, shard))
            and 1 <= shard[0] <= shard[1]
        ):
            raise StudyError(f"<<shard>> must be K/N with 1 <= K <= N, such as 2/4; received {_shard_text(shard)}.")
        grid = len(self.grid)
        if shard[1] > grid:
            runs = f"{grid} (variant, seed) run{'s' * (grid != 1)}"
            raise StudyError(
                f"<<shard>> {shard[0]}/{shard[1]} would have no runs: the grid has only {runs}; split "
                f"it into at most {grid} shard{'s' * (grid != 1)}."
            )

    def _check_diagnose(self):
        if self.shard is not None:
            raise StudyError(
                "diagnose writes one diagnostics.jsonl for the whole folder, so it cannot run as a "
                "shard; drop the shard."
            )
        if self.config.fast_path:
            raise StudyError(
                "diagnose measures the hidden layer's flattened inputs, which the fast path never "
                "builds; set fast_path=False (padzero diagnose does)."
            )
        # Encoder study cells have the hidden Dense layer diagnose measures only where they flatten.
        unmeasured = [
            name for name in self.config.variants if get_variant(name).embedding and not get_variant(name).flattens
        ]
        if unmeasured:
            raise StudyError(
                f"<<variants>> {', '.join(unmeasured)}: diagnose measures the hidden Dense layer of the "
                "padding study's models, which these encoder study cells do not have; choose variants "
                "of the padding study, or flatten/... cells."
            )

    def _check_out_dir(self):
        """Refuses an out_dir that cannot be a folder (a file, a path through a file, a name too long) or that
        lies inside the folder the data is read from: anything written there is read back as a newsgroup."""
        path = self.out_dir
        try:
            longest = os.pathconf(".", "PC_NAME_MAX")
        except (OSError, ValueError):  # a platform that does not say
            longest = 255
        too_long = [part for part in path.parts if len(os.fsencode(part)) > longest]
        if too_long:  # checked first: asking whether such a path exists fails with a bare errno
            raise StudyError(
                f"<<out_dir>>: a name in it is longer than the {longest} bytes a file name may have "
                f"({shown(too_long[0][:20])}...); choose a shorter one."
            )
        if path.exists() and not path.is_dir():
            raise StudyError(
                f"<<out_dir>> {shown(path)} is a file, not a folder; give a folder (it is created if missing)."
            )
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise StudyError(
                f"<<out_dir>> {shown(path)} goes through {shown(existing)}, which is a file, not a "
                "folder; choose another."
            )
        check_outside_data(path, self.config.dataset, self.config.data_path)


def check_outside_data(path, dataset, data_path):
    """Refuses an output `path` inside the folder `dataset` reads its posts from (`data_path`, else scikit-learn's):
    anything written there is read back as a newsgroup. An archive is a file, so a folder beside it is fine.

    Raises:
        StudyError: one line naming both paths.
    """
    reader = DATASETS[dataset].data_folder
    folder = reader(data_path) if reader is not None else None
    resolved = Path(path).resolve()  # relative, `..` and links resolved
    if folder is not None and (resolved == folder or folder in resolved.parents):
        where = "the <<data_path>> folder" if data_path is not None else "scikit-learn's download folder"
        raise StudyError(
            f"<<out_dir>> {shown(path)} is inside {where} {shown(folder)}, which is read-only input "
            "(anything written there is mistaken for a newsgroup); choose a folder outside it."
        )


def _shard_text(shard):
    return f"{shard[0]}/{shard[1]}" if isinstance(shard, tuple) and len(shard) == 2 else repr(shard)
