"""The dataset registry: each dataset loads what its record says, and adding one touches one place."""

import subprocess
import sys
import types

import numpy as np
import pytest

from padzero_study.data import newsgroups as data
from padzero_study.data import synthetic
from padzero_study.data.datasets import DATASETS, SYNTHETIC_DEFAULT_DOCS, Dataset, register_dataset
from padzero_study.data.newsgroups import DataError


def study_config(**fields):
    """The fields of a StudyConfig a dataset's loader reads (StudyConfig itself needs Keras)."""
    return types.SimpleNamespace(**{"data_path": None, "max_docs": None, "split_seed": 0, **fields})


def test_importing_the_registry_imports_neither_keras_nor_scikit_learn():
    # `padzero reproduce --help` lists the datasets; it must stay quick and work without them.
    code = (
        "import sys, padzero_study.data.datasets; "
        "loaded = sorted(m for m in ('keras', 'sklearn') if m in sys.modules); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


def test_the_two_datasets_in_order_with_one_line_descriptions():
    assert list(DATASETS) == ["20news", "synthetic"]
    for dataset in DATASETS.values():
        assert dataset.description and "\n" not in dataset.description
        assert dataset.num_classes == 20


def test_synthetic_loads_max_docs_posts_seeded_by_the_split_seed():
    newsgroups = DATASETS["synthetic"].load(study_config(max_docs=40, split_seed=3))
    expected = synthetic.make_synthetic_newsgroups(num_docs=40, seed=3)
    assert newsgroups.texts == expected.texts
    np.testing.assert_array_equal(newsgroups.labels, expected.labels)
    assert len(newsgroups.label_names) == DATASETS["synthetic"].num_classes
    other_seed = DATASETS["synthetic"].load(study_config(max_docs=40, split_seed=4))
    assert other_seed.texts != expected.texts


def test_synthetic_without_max_docs_has_the_default_size(monkeypatch):
    calls = []
    monkeypatch.setattr(synthetic, "make_synthetic_newsgroups", lambda **arguments: calls.append(arguments))
    DATASETS["synthetic"].load(study_config(split_seed=5))
    assert calls == [{"num_docs": SYNTHETIC_DEFAULT_DOCS, "seed": 5}]


def test_20news_loads_from_the_config_data_path(tmp_path):
    for subset, group, name, text in [
        ("20news-bydate-train", "sci.space", "1", "orbit"),
        ("20news-bydate-test", "rec.autos", "2", "engine"),
    ]:
        (tmp_path / subset / group).mkdir(parents=True)
        (tmp_path / subset / group / name).write_text(text, encoding="latin-1")
    # Read from the config's path, and verified: two posts are not 20 Newsgroups.
    with pytest.raises(DataError, match=f"extracted folder {tmp_path} is not a sound copy of 20 Newsgroups"):
        DATASETS["20news"].load(study_config(data_path=str(tmp_path)))


@pytest.fixture
def registered_dataset():
    """A three-post dataset, registered for one test; the registry is restored after it."""
    saved = dict(DATASETS)

    def three_posts(config):
        return data.Newsgroups(["a b", "c d", "e f"], [0, 1, 0], ["even", "odd"], source="three posts")

    yield register_dataset(Dataset("three_posts", "three made-up posts", 2, three_posts))
    DATASETS.clear()
    DATASETS.update(saved)


def test_a_registered_dataset_loads_by_its_name(registered_dataset):
    assert list(DATASETS)[-1] == "three_posts"
    assert DATASETS["three_posts"].load(study_config()).texts == ["a b", "c d", "e f"]


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="'synthetic' is already registered"):
        register_dataset(Dataset("synthetic", "again", 2, lambda config: None))
    assert DATASETS["synthetic"].description != "again"


def test_a_registered_dataset_is_a_cli_choice(registered_dataset, capsys):
    from padzero_study import cli

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["reproduce", "--help"])
    help_text = capsys.readouterr().out
    assert "three_posts" in help_text and "three made-up posts" in help_text
