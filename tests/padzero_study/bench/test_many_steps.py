"""Many steps per dispatch (JAX): the weights of one step at a time, on the plain layers and the fast path."""

import keras
import numpy as np
import pytest

from padzero_study.bench.many_steps import scan_steps
from padzero_study.models.variants import build_model

pytestmark = pytest.mark.per_backend

SIZES = {"vocab_size": 50, "maxlen": 12, "num_classes": 4, "embedding_dim": 6, "hidden_units": 5}


def posts(count=38, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.zeros((count, SIZES["maxlen"]), "int32")
    for row, length in enumerate(rng.integers(1, SIZES["maxlen"] + 1, size=count)):
        ids[row, -length:] = rng.integers(1, SIZES["vocab_size"], size=length)
    return ids, rng.integers(0, SIZES["num_classes"], size=count).astype("int32")


class BatchEnds(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(batch)


def trained(variant, fast_path, steps_per_execution, scanned):
    keras.utils.set_random_seed(3)
    model = build_model(variant, fast_path=fast_path, **SIZES)  # Dropout 0.3: the seeds must step alike too
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    if scanned:
        scan_steps(model)
    ids, labels = posts()
    batch_ends = BatchEnds()
    # 38 posts in batches of 4: executions of 4, 4 and 2 steps, the last batch of 2 posts.
    history = model.fit(
        ids,
        labels,
        batch_size=4,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[batch_ends],
        validation_data=posts(8, seed=1),
    )
    return model, history.history, batch_ends.seen


# The plain layers: scan_steps is for a GPU, where the study trains them (the fast path measured slower there).
@pytest.mark.parametrize("variant, fast_path", [("padzero", False)])
def test_scanned_steps_train_to_the_weights_of_one_step_at_a_time(backend, variant, fast_path):
    if backend != "jax":
        pytest.skip("scan_steps is JAX's")
    one_at_a_time, history, _ = trained(variant, fast_path, 1, scanned=False)
    scanned, scanned_history, batch_ends = trained(variant, fast_path, 4, scanned=True)
    assert scanned.train_function.__module__ == "padzero_study.bench.many_steps"
    assert batch_ends == [3, 7, 11] * 2  # each execution's end, as Keras's steps_per_execution reports it
    for ours, reference in zip(scanned.get_weights(), one_at_a_time.get_weights()):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-7)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(scanned_history[key], history[key], rtol=1e-5)


def test_one_step_per_execution_keeps_keras_own_train_function(backend):
    if backend != "jax":
        pytest.skip("scan_steps is JAX's")
    model, _, batch_ends = trained("padzero", False, 1, scanned=True)
    assert model.train_function.__module__ != "padzero_study.bench.many_steps" and batch_ends == list(range(10)) * 2


def test_other_backends_are_refused(backend):
    if backend == "jax":
        pytest.skip("runs on jax")
    model = build_model("padzero", **SIZES)
    with pytest.raises(ValueError, match=f"scan_steps needs the jax backend; Keras runs on {backend}"):
        scan_steps(model)
