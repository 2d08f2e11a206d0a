"""The study's datasets: one `Dataset` record each, in `DATASETS`.

Adding a dataset is one `register_dataset(Dataset(...))`: `--dataset` choices,
`--help` and the study runner read the registry. Importing this module imports
neither Keras nor scikit-learn (the CLI's `--help` reads it).
"""

import dataclasses
from typing import Callable, Optional

from padzero_study import reference
from padzero_study.data import newsgroups as data  # NumPy only: it imports scikit-learn when it loads
from padzero_study.data import synthetic
from padzero_study.registry import register

# The synthetic stand-in's size when `max_docs` is not given.
SYNTHETIC_DEFAULT_DOCS = 2_000
# The sizes of the original experiment, for a study of real posts; a dataset takes them unless it says otherwise.
_REFERENCE_SIZES = {"maxlen": reference.MAXLEN, "vocab_size": reference.VOCAB_SIZE}
STUDY_RUN_DEFAULTS = {
    "full": {"seeds": 3, "epochs": reference.EPOCHS, "max_docs": None, **_REFERENCE_SIZES},
    "quick": {"seeds": 1, "epochs": 2, "max_docs": 5_000, **_REFERENCE_SIZES},
    "diagnose": {"seeds": 2, "epochs": 5, "max_docs": None, **_REFERENCE_SIZES},
}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One dataset a study can train on.

    Args:
        name: str, the value of `--dataset` and of `StudyConfig.dataset`.
        description: str, one line for `--help`.
        num_classes: int, how many labels its posts carry.
        load: callable `(config) -> padzero_study.data.newsgroups.Newsgroups`, given a
            `StudyConfig`; it may read `config.data_path`, `config.max_docs`
            and `config.split_seed`.
        run_defaults: dict from a kind of run (`"full"`, `"quick"`,
            `"diagnose"`) to the sizes it takes when no flag sets them:
            `seeds`, `epochs`, `max_docs` (`None` = every post), `maxlen`,
            `vocab_size`. Default: the original experiment's sizes
            (`STUDY_RUN_DEFAULTS`).
        data_folder: callable `(data_path or None) -> pathlib.Path or None`,
            the resolved folder whose files `load` reads (None for a file),
            which no study may write into; or `None` (the default) for a
            dataset that reads no files: it takes no `--data`.
        max_docs: int or `None` (the default: no limit but the data's own),
            the most posts it can give; `StudyConfig` refuses a larger
            `max_docs` before any work, with `max_docs_hint` as the reason.
        max_docs_hint: str, why `max_docs` is the limit.
    """

    name: str
    description: str
    num_classes: int
    load: Callable
    run_defaults: dict = dataclasses.field(default_factory=lambda: STUDY_RUN_DEFAULTS)
    data_folder: Optional[Callable] = None
    max_docs: Optional[int] = None
    max_docs_hint: str = ""


DATASETS = {}


def register_dataset(dataset):
    """Adds a `Dataset` to `DATASETS`, after the ones there; a name already taken is a `ValueError`."""
    return register(DATASETS, dataset, "dataset")


def _load_20news(config):
    return data.load_newsgroups(config.data_path)


def _load_synthetic(config):
    return synthetic.make_synthetic_newsgroups(
        num_docs=config.max_docs or SYNTHETIC_DEFAULT_DOCS, seed=config.split_seed
    )


register_dataset(
    Dataset(
        "20news",
        "the 20 Newsgroups 'bydate' posts (all 18,846): --data PATH, scikit-learn's data home, or its download",
        len(data.NEWSGROUPS),
        _load_20news,
        data_folder=data.data_folder,
    )
)
# A smoke test of the whole pipeline, small whatever the kind of run; too small and short for the
# padding effect to show. Its full size is one flag away (--max-docs, --maxlen, ...).
_SMOKE_TEST_SIZES = {"seeds": 1, "epochs": 3, "max_docs": 600, "maxlen": 200, "vocab_size": 2_000}
register_dataset(
    Dataset(
        "synthetic",
        "a generated stand-in with the same padding-heavy lengths; small by default, a smoke test that needs no download",
        20,
        _load_synthetic,
        run_defaults={"full": _SMOKE_TEST_SIZES, "quick": _SMOKE_TEST_SIZES, "diagnose": _SMOKE_TEST_SIZES},
        max_docs=synthetic.SYNTHETIC_MAX_DOCS,
        max_docs_hint=synthetic.SYNTHETIC_MAX_DOCS_HINT,
    )
)
