"""`reduce_bags` for TensorFlow: the real ids are selected (dynamic shapes), then reduced by segment ops.

Sum and mean are `tf.sparse.segment_sum` / `segment_mean` over the table
itself, which gather and add in one op (nothing of `(real ids, dim)` is
written), and whose gradient is `IndexedSlices` over the sorted unique ids.
Max and weighted sums gather the rows of the real ids, `(real ids, dim)`, each
unique id once: Keras's optimizers square each slice of an `IndexedSlices`
gradient (Adam's second moment) before repeats of an id would add up, so a
gradient with repeated ids would step unlike PyTorch's dense one.
"""

import tensorflow as tf


def _real_ids(ids, padding_idx, per_sample_weights):
    """(ids, bags, weights, batch) of the real ids, bags sorted; weights `None` when not given."""
    if isinstance(ids, tf.RaggedTensor):
        batch = ids.nrows(out_type=tf.int32)
        bags = tf.cast(ids.value_rowids(), tf.int32)
        flat = ids.flat_values
        weights = None if per_sample_weights is None else tf.reshape(per_sample_weights.flat_values, [-1])
    else:
        shape = tf.shape(ids, out_type=tf.int32)
        batch = shape[0]
        bags = tf.repeat(tf.range(batch), shape[1])
        flat = tf.reshape(ids, [-1])
        weights = None if per_sample_weights is None else tf.reshape(per_sample_weights, [-1])
    if padding_idx is not None:
        real = tf.reshape(tf.where(tf.not_equal(flat, tf.cast(padding_idx, flat.dtype))), [-1])
        flat, bags = tf.gather(flat, real), tf.gather(bags, real)
        weights = None if weights is None else tf.gather(weights, real)
    return flat, bags, weights, batch


def _gather_with_dense_gradient(params, indices):
    """`tf.gather(params, indices)` whose gradient is one dense tensor, repeats of an index added up."""

    @tf.custom_gradient
    def gather(params):
        def gradient(upstream):
            return tf.math.unsorted_segment_sum(upstream, indices, tf.shape(params)[0])

        return tf.gather(params, indices), gradient

    return gather(params)


def reduce_bags(table, ids, mode, padding_idx, per_sample_weights=None):
    """`padzero.bag_reduction.reduce_bags_portable`'s result, over the real ids only; `ids` may be ragged."""
    flat, bags, weights, batch = _real_ids(ids, padding_idx, per_sample_weights)
    if mode in ("sum", "mean") and weights is None:
        reduce = tf.sparse.segment_sum if mode == "sum" else tf.sparse.segment_mean
        return reduce(table, flat, bags, num_segments=batch, sparse_gradient=True)
    unique_ids, slot = tf.unique(flat)
    rows = _gather_with_dense_gradient(tf.gather(table, unique_ids), slot)
    if mode == "max":
        largest = tf.math.unsorted_segment_max(rows, bags, batch)
        holds_ids = tf.math.unsorted_segment_sum(tf.ones_like(bags), bags, batch) > 0
        return tf.where(holds_ids[:, None], largest, tf.zeros((), table.dtype))
    return tf.math.unsorted_segment_sum(rows * tf.cast(weights, table.dtype)[:, None], bags, batch)
