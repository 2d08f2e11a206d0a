"""Shared fixtures. The backend is chosen by KERAS_BACKEND before keras is imported."""

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


def _table_gradient(layer, ids, upstream):
    """d sum(layer(ids) * upstream) / d layer.embeddings, as a NumPy array, on any backend."""
    import keras
    import numpy as np

    variable = layer._embeddings
    backend_name = keras.backend.backend()
    if backend_name == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]
        position = [v is variable for v in layer.trainable_variables].index(True)

        def loss(table):
            values = trainable[:position] + [table] + trainable[position + 1 :]
            outputs, _ = layer.stateless_call(values, non_trainable, ids)
            return (outputs * upstream).sum()

        return np.asarray(jax.grad(loss)(variable.value))
    if backend_name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(variable.value)
            loss = tf.reduce_sum(layer(ids) * upstream)
        return tf.convert_to_tensor(tape.gradient(loss, variable.value)).numpy()
    if backend_name == "torch":
        import torch

        parameter = variable.value
        parameter.grad = None
        was_trainable = parameter.requires_grad
        parameter.requires_grad_(True)
        (layer(ids) * torch.as_tensor(upstream)).sum().backward()
        gradient = parameter.grad.detach().cpu().numpy().copy()
        parameter.grad = None
        parameter.requires_grad_(was_trainable)
        return gradient
    raise ValueError(f"unknown backend {backend_name}")


@pytest.fixture
def table_gradient():
    """A function (layer, ids, upstream) -> gradient of sum(outputs * upstream) w.r.t. the table."""
    return _table_gradient


@pytest.fixture
def loss_and_gradients():
    """A function (model, ids, labels) -> (mean cross-entropy, gradients of every trainable variable)."""
    from padzero_study.diagnostics import loss_and_gradients

    return loss_and_gradients
