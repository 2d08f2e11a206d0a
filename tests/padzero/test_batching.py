"""padzero.TrimmedBatches drops only columns that are padding in every row of a batch."""

import warnings

import keras
import numpy as np
import pytest

import padzero
from padzero.batching import TrimmedBatches, trimmed_start

pytestmark = pytest.mark.per_backend


def random_pre_padded(rng, rows=37, maxlen=20):
    ids = np.zeros((rows, maxlen), "int32")
    for row in range(rows):
        length = rng.integers(0, maxlen + 1)
        ids[row, maxlen - length :] = rng.integers(1, 50, size=length)
    return ids


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("multiple", [1, 3, 8])
def test_batches_drop_only_all_padding_columns(seed, multiple):
    rng = np.random.default_rng(seed)
    ids = random_pre_padded(rng)
    labels = np.arange(len(ids))
    batches = TrimmedBatches(ids, labels, batch_size=8, multiple=multiple, seed=seed)
    seen = []
    for index in range(len(batches)):
        batch, batch_labels = batches[index]
        full = ids[batch_labels]  # labels are row numbers here
        dropped = full[:, : 20 - batch.shape[1]]
        assert not dropped.any(), "a dropped column held a real id"
        np.testing.assert_array_equal(batch, full[:, 20 - batch.shape[1] :])
        assert batch.shape[1] % multiple == 0 or batch.shape[1] == 20
        # The kept width is the smallest allowed one: one step narrower would drop a real id.
        narrower = batch.shape[1] - multiple
        if narrower >= 1 and batch.shape[1] != 20:
            assert full[:, : 20 - narrower].any()
        seen.extend(batch_labels.tolist())
    assert sorted(seen) == list(range(len(ids)))


def test_post_padded_batches_are_not_trimmed():
    ids = np.array([[5, 0, 0], [6, 7, 0]])
    assert trimmed_start(ids) == 0


def test_all_padding_batch_keeps_one_column():
    assert trimmed_start(np.zeros((3, 6), "int32")) == 5


def test_order_changes_between_epochs_and_follows_the_seed():
    ids = random_pre_padded(np.random.default_rng(0))
    first = TrimmedBatches(ids, np.arange(len(ids)), batch_size=37, seed=3)
    again = TrimmedBatches(ids, np.arange(len(ids)), batch_size=37, seed=3)
    epoch_one = first[0][1].copy()
    np.testing.assert_array_equal(epoch_one, again[0][1])
    first.on_epoch_end()
    assert not np.array_equal(epoch_one, first[0][1])


def test_unshuffled_batches_keep_the_order():
    ids = random_pre_padded(np.random.default_rng(0))
    batches = TrimmedBatches(ids, None, batch_size=10, shuffle=False)
    (batch,) = batches[1]
    np.testing.assert_array_equal(batch, ids[10:20, 20 - batch.shape[1] :])


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"ids": np.zeros((3,), "int32")}, "2D integer"),
        ({"ids": np.zeros((3, 2), "float32")}, "2D integer"),
        ({"labels": np.zeros(2)}, "3 ids, 2 labels"),
        ({"batch_size": 0}, "batch_size must be a positive integer; received batch_size=0"),
        ({"batch_size": 2.0}, "batch_size must be a positive integer; received batch_size=2.0"),
        ({"multiple": 0}, "multiple must be a positive integer; received multiple=0"),
        ({"multiple": True}, "multiple must be a positive integer; received multiple=True"),
    ],
)
def test_invalid_arguments_raise(arguments, message):
    settings = {"ids": np.zeros((3, 4), "int32"), "labels": np.zeros(3), "batch_size": 2, **arguments}
    with pytest.raises(ValueError, match=message):
        TrimmedBatches(**settings)


def test_trimmed_start_refuses_a_multiple_below_one():
    with pytest.raises(ValueError, match="multiple must be a positive integer; received multiple=0"):
        trimmed_start(np.zeros((2, 3), "int32"), multiple=0)


def test_numpy_integer_sizes_are_accepted():
    batches = TrimmedBatches(np.zeros((5, 4), "int32"), None, batch_size=np.int64(2), multiple=np.int32(2))
    assert type(batches.batch_size) is int and len(batches) == 3


class RecordedBatches(TrimmedBatches):
    """TrimmedBatches that record the rows of every batch they hand out."""

    def __getitem__(self, index):
        self.handed_out.append(self.order[index * self.batch_size : (index + 1) * self.batch_size].copy())
        return super().__getitem__(index)


def test_fit_on_as_dataset_warns_nothing_and_reshuffles_every_epoch():
    # Rows 0-3 are 2 tokens long, rows 4-7 hold 11: with batch_size=4 the first
    # two batches share a width and later ones do not, which a shape taken
    # from the first two batches could not hold.
    ids = np.zeros((24, 12), "int32")
    for row, length in enumerate([2] * 8 + [11] * 4 + [5] * 12):
        ids[row, 12 - length :] = np.arange(1, length + 1)
    labels = np.arange(24) % 3
    batches = RecordedBatches(ids, labels, batch_size=4, multiple=1, seed=0)
    batches.handed_out = []
    inputs = keras.Input((None,), dtype="int32")
    hidden = padzero.Embedding(12, 2)(inputs)
    model = keras.Model(inputs, padzero.FlattenDense(3, maxlen=12)(hidden))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    keras.utils.set_random_seed(0)
    dataset = batches.as_dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "ran out of data", "`shuffle=True` ... ignored", any other
        history = model.fit(dataset, epochs=3, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 3
    # Keras on JAX reads one batch before training to build the model.
    assert 3 * len(batches) <= len(batches.handed_out) <= 3 * len(batches) + 1
    trained_on = batches.handed_out[-3 * len(batches) :]
    epochs = [np.concatenate(trained_on[i : i + len(batches)]) for i in range(0, 3 * len(batches), len(batches))]
    for rows in epochs:
        assert sorted(rows.tolist()) == list(range(24))  # every example once per epoch
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])


def test_as_dataset_declares_its_number_of_batches(backend):
    batches = TrimmedBatches(np.ones((10, 3), "int32"), np.zeros(10), batch_size=4)
    dataset = batches.as_dataset()
    if backend != "tensorflow":
        assert dataset is batches
        return
    assert int(dataset.cardinality()) == 3


def test_as_dataset_without_labels_predicts_every_example():
    ids = np.zeros((7, 5), "int32")
    ids[:, -1] = np.arange(1, 8)
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(inputs, padzero.FlattenDense(2, maxlen=5)(padzero.Embedding(8, 2)(inputs)))
    predictions = model.predict(TrimmedBatches(ids, None, batch_size=3, shuffle=False).as_dataset(), verbose=0)
    np.testing.assert_allclose(predictions, keras.ops.convert_to_numpy(model(ids)), rtol=1e-5, atol=1e-6)
