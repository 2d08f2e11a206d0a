"""`padzero.TrimmedBatches`: batches of pre-padded ids without their all-padding leading columns."""

import math

import keras
import numpy as np

from padzero.validation import check_positive_int


def trimmed_start(ids, padding_idx=0, multiple=1):
    """The first column of `ids` to keep: leading columns that hold only `padding_idx` are dropped.

    The kept width is rounded up to a multiple of `multiple` (capped at the
    full width), so a compiled training step sees a handful of shapes, not one
    per batch.

    Args:
        ids: 2D integer array `(batch, maxlen)`.
        padding_idx: int, the padding id, default 0.
        multiple: positive int, default 1.

    Returns:
        int, the start column; `ids[:, start:]` is the trimmed batch.

    Example:

    >>> trimmed_start(np.array([[0, 0, 0, 5], [0, 0, 7, 8]]))
    2
    >>> trimmed_start(np.array([[0, 0, 0, 5], [0, 0, 7, 8]]), multiple=3)
    1
    """
    multiple = check_positive_int("multiple", multiple)
    real_columns = np.flatnonzero((ids != padding_idx).any(axis=0))
    width = ids.shape[1] - real_columns[0] if real_columns.size else 1
    width = min(math.ceil(width / multiple) * multiple, ids.shape[1])
    return ids.shape[1] - width


class TrimmedBatches(keras.utils.PyDataset):
    """Shuffled `(ids, labels)` batches, each cut to the columns its posts reach.

    With pre-padding, a batch's first columns are often padding in every row
    (on 20 Newsgroups at batch 32, ~39 % of 1,100 columns). A model whose
    padding embeds to exactly zero and which feeds `padzero.FlattenDense` (or a
    masked pooling) computes the same values without them. Only columns that
    are padding in *every* row of the batch are dropped, so this is exact for
    any padding side; post-padded batches just gain nothing.

    Args:
        ids: 2D integer array `(examples, maxlen)`.
        labels: array with one label per example, or `None` (inputs only).
        batch_size: positive int.
        multiple: positive int, default 100: kept widths are rounded up to a
            multiple of it (fewer distinct shapes, fewer recompilations).
        shuffle: bool, default `True`: a new order of examples every epoch.
        seed: int or `None`, the seed of that order.
        padding_idx: int, default 0.
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Example:

    >>> batches = TrimmedBatches(np.array([[0, 0, 3], [0, 4, 5]]), np.array([0, 1]), batch_size=1, multiple=1, shuffle=False)
    >>> [batch[0].tolist() for batch in (batches[0], batches[1])]
    [[[3]], [[4, 5]]]
    """

    def __init__(self, ids, labels, batch_size, multiple=100, shuffle=True, seed=None, padding_idx=0, **kwargs):
        super().__init__(**kwargs)
        ids = np.asarray(ids)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"ids must be a 2D integer array. Received: shape={ids.shape}, dtype={ids.dtype}")
        if labels is not None and len(labels) != len(ids):
            raise ValueError(f"ids and labels must have one row each per example. Received: {len(ids)} ids, {len(labels)} labels")
        self.ids = ids
        self.labels = None if labels is None else np.asarray(labels)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.multiple = check_positive_int("multiple", multiple)
        self.shuffle = shuffle
        self.padding_idx = padding_idx
        self.random = np.random.default_rng(seed)
        self.order = self.random.permutation(len(ids)) if shuffle else np.arange(len(ids))

    def __len__(self):
        return math.ceil(len(self.ids) / self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.ids[rows]
        batch = batch[:, trimmed_start(batch, self.padding_idx, self.multiple) :]
        return (batch,) if self.labels is None else (batch, self.labels[rows])

    def on_epoch_end(self):
        if self.shuffle:
            self.order = self.random.permutation(len(self.ids))

    def as_dataset(self):
        """What to pass to `model.fit`, `evaluate` or `predict`: these batches, in the form the backend takes.

        On JAX and PyTorch that is this `PyDataset` itself. Keras on
        TensorFlow fixes a `PyDataset`'s shapes from its first two batches, so
        a later batch of another width would fail; there this returns a
        `tf.data.Dataset` of these batches that declares the width unknown
        and the number of batches known, and reshuffles after every pass.

        The batches shuffle their examples themselves, so call
        `model.fit(batches.as_dataset(), shuffle=False, ...)`: Keras cannot
        shuffle a dataset (it warns when asked to) and would otherwise shuffle
        the order of whole batches of a `PyDataset`.

        Returns:
            This `PyDataset` (JAX, PyTorch) or a `tf.data.Dataset` (TensorFlow).
        """
        if keras.backend.backend() != "tensorflow":
            return self
        import tensorflow as tf

        def one_epoch():
            for index in range(len(self)):
                yield self[index]
            self.on_epoch_end()

        specs = [tf.TensorSpec((None, None), self.ids.dtype)]  # any batch size, any width
        if self.labels is not None:
            specs.append(tf.TensorSpec((None, *self.labels.shape[1:]), self.labels.dtype))
        dataset = tf.data.Dataset.from_generator(one_epoch, output_signature=tuple(specs))
        # A known length, so that `fit` knows its steps instead of running until the data "runs out".
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self))).prefetch(2)
