"""Shared fixtures. The backend is chosen by KERAS_BACKEND before keras is imported."""

import importlib.util
import os
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
# The 20 Newsgroups archive beside the repository (see ../shared/data/README.md).
NEWSGROUPS_ARCHIVE = Path(
    os.environ.get("PADZERO_NEWSGROUPS_ARCHIVE", REPOSITORY_ROOT.parent / "shared" / "data" / "20news-bydate.tar.gz")
)


@pytest.fixture(scope="session")
def newsgroups_archive():
    """Path to the real 20news-bydate.tar.gz; skips the test when it is absent."""
    if not NEWSGROUPS_ARCHIVE.is_file():
        pytest.skip(f"20 Newsgroups archive not found at {NEWSGROUPS_ARCHIVE}")
    return NEWSGROUPS_ARCHIVE


@pytest.fixture(scope="session")
def backend():
    import keras

    return keras.backend.backend()


@pytest.fixture
def one_backend_suffices(backend):
    """Skips a `per_backend` test except on torch, for a test whose subject is the same on every backend (results
    files, folders, settings) but that trains a model: torch starts and trains such tiny models fastest. Where
    torch is not installed, the test runs on every backend."""
    if backend != "torch" and importlib.util.find_spec("torch") is not None:
        pytest.skip("backend-independent: runs on torch")


def _table_gradient(layer, ids, upstream):
    """d sum(layer(ids) * upstream) / d layer.embeddings, as a NumPy array, on any backend."""
    from keras import ops

    from padzero.gradients import value_and_gradients

    _, (gradient,) = value_and_gradients(
        layer, lambda outputs: ops.sum(ops.multiply(outputs, upstream)), ids, variables=[layer._embeddings]
    )
    return gradient


@pytest.fixture
def table_gradient():
    """A function (layer, ids, upstream) -> gradient of sum(outputs * upstream) w.r.t. the table."""
    return _table_gradient


@pytest.fixture
def loss_and_gradients():
    """A function (model, ids, labels) -> (mean cross-entropy, gradients of every trainable variable)."""
    from padzero_study.diagnostics.recorder import loss_and_gradients

    return loss_and_gradients


@pytest.fixture
def assert_same_loss_and_gradients(loss_and_gradients):
    """A function (model, reference, ids, labels) asserting that `model` gives `reference`'s loss and the
    gradient of each of its weights, in order."""
    import numpy as np

    def check(model, reference, ids, labels):
        loss, gradients = loss_and_gradients(model, ids, labels)
        reference_loss, reference_gradients = loss_and_gradients(reference, ids, labels)
        np.testing.assert_allclose(loss, reference_loss, rtol=1e-5)
        names = [variable.path for variable in reference.trainable_variables]
        for name, gradient, reference_gradient in zip(names, gradients, reference_gradients, strict=True):
            np.testing.assert_allclose(gradient, reference_gradient, rtol=1e-4, atol=1e-7, err_msg=name)

    return check
