"""padzero.TrimmedBatches drops only columns that are padding in every row of a batch."""

import numpy as np
import pytest

import padzero
from padzero.batching import TrimmedBatches, trimmed_start


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
        ({"batch_size": 0}, "batch_size"),
        ({"multiple": 0}, "multiple"),
    ],
)
def test_invalid_arguments_raise(arguments, message):
    settings = {"ids": np.zeros((3, 4), "int32"), "labels": np.zeros(3), "batch_size": 2, **arguments}
    with pytest.raises(ValueError, match=message):
        TrimmedBatches(**settings)


def test_is_exported_at_the_top_level():
    assert padzero.TrimmedBatches is TrimmedBatches


def test_docstring_examples_run_as_written():
    import doctest

    import padzero.batching

    failures, tried = doctest.testmod(padzero.batching, extraglobs={"np": np})
    assert tried >= 3 and failures == 0
