"""Bags of ids reduced to one vector each: `reduce_bags`, the one dispatch, and `reduce_bags_portable`.

A bag is a row of ids; its vector is the sum, mean or max of the table rows of
its real ids (every id but `padding_idx`), as PyTorch's `nn.EmbeddingBag`
computes it. A bag of padding only gives zeros in every mode, and the padding
row is never read into an output or a gradient, whatever it holds.

`reduce_bags` picks one form per backend, each exact and tested against
`reduce_bags_portable`, and none holding a `(batch, length, dim)` tensor:

- torch: `torch.nn.functional.embedding_bag`, PyTorch's own kernel. It reduces
  rows as it reads them (only `(batch, dim)` is written) and its backward adds
  into the dense table gradient.
- tensorflow: the real ids are selected (dynamic shapes); sum and mean are
  `tf.sparse.segment_sum` / `segment_mean`, which gather and reduce in one op,
  with a sparse table gradient (`IndexedSlices` over the unique ids); max and
  weighted sums gather the real rows, `(real ids, dim)`. XLA takes no dynamic
  shapes, so the layer declares `supports_jit = False` on this backend.
- jax: under `jit` shapes are static: the real ids are compacted and reduced a
  chunk at a time in a loop whose trip count is the number of chunks that
  hold them; one chunk of rows is live at a time (`padzero._bag_reduction_jax`).

`reduce_bags_portable` is `keras.ops` only and works under `jit` too, at a
cost: it gathers a row for every position, `(batch * length, dim)`, padding
included, and sends the padding positions to a dump segment.
"""

import keras
from keras import ops

MODES = ("sum", "mean", "max")


def reduce_bags_portable(table, ids, mode, padding_idx, per_sample_weights=None):
    """Each bag's `mode` over the table rows of its real ids, in `keras.ops`: the reference form.

    Args:
        table: `(input_dim, dim)` float tensor.
        ids: `(batch, length)` int32 or int64 tensor of ids in `[0, input_dim)`.
        mode: `"sum"`, `"mean"` or `"max"`.
        padding_idx: non-negative int, the id left out of every bag, or
            `None` to reduce every position.
        per_sample_weights: `None`, or a float tensor shaped like `ids` that
            multiplies each row (only with `mode="sum"`).

    Returns:
        `(batch, dim)` tensor of the table's dtype; zeros for a bag without real ids.
    """
    batch, length = ops.shape(ids)[0], ops.shape(ids)[1]
    flat_ids = ops.reshape(ids, (-1,))
    bag_of_position = ops.repeat(ops.arange(batch, dtype="int32"), length)
    if padding_idx is None:
        is_real = ops.ones_like(flat_ids, dtype="bool")
    else:
        is_real = ops.not_equal(flat_ids, padding_idx)
    # Padding positions go to one more segment, `batch`, which is dropped: they take no part in a max.
    segments = ops.where(is_real, bag_of_position, batch)
    # `where`, not a multiply by the mask: the padding row may hold NaN or inf (0 * NaN is NaN), and the
    # branch `where` leaves out gets exactly zero gradient, so the padding row gets none.
    rows = ops.where(ops.expand_dims(is_real, 1), ops.take(table, flat_ids, axis=0), ops.zeros((), table.dtype))
    counts = ops.segment_sum(ops.cast(is_real, table.dtype), segments, num_segments=batch + 1)[:batch]
    if mode == "max":
        largest = ops.segment_max(rows, segments, num_segments=batch + 1)[:batch]
        return ops.where(ops.expand_dims(counts > 0, 1), largest, ops.zeros((), table.dtype))
    if per_sample_weights is not None:
        rows = ops.multiply(rows, ops.expand_dims(ops.reshape(ops.cast(per_sample_weights, table.dtype), (-1,)), 1))
    sums = ops.segment_sum(rows, segments, num_segments=batch + 1)[:batch]
    if mode == "sum":
        return sums
    return ops.divide(sums, ops.expand_dims(ops.maximum(counts, 1), 1))


def reduce_bags(table, ids, mode, padding_idx, per_sample_weights=None):
    """`reduce_bags_portable`'s result, computed by this backend's form (see the module's docstring).

    Args and returns as in `reduce_bags_portable`; on TensorFlow `ids` (and
    `per_sample_weights`) may also be `tf.RaggedTensor`s, one bag a row.
    """
    backend = keras.backend.backend()
    # Each form imports its backend, so only this backend's form is imported.
    if backend == "jax":
        from padzero import _bag_reduction_jax as form
    elif backend == "tensorflow":
        from padzero import _bag_reduction_tensorflow as form
    elif backend == "torch":
        from padzero import _bag_reduction_torch as form
    else:
        return reduce_bags_portable(table, ids, mode, padding_idx, per_sample_weights)
    return form.reduce_bags(table, ids, mode, padding_idx, per_sample_weights)
