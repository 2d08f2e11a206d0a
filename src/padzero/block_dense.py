"""Embedding -> Flatten -> Dense over position blocks, skipping the blocks that hold only padding.

The flattened Dense input of a row is its embeddings, position after position,
so the Dense output is a sum over blocks of positions:
`y[r] = sum_b flatten(embed(ids[r, block b])) @ kernel_block[b]`. A block
whose ids are all padding adds the same thing for every such row: nothing
when padding embeds to zero, `e @ sum(kernel rows of the block)` when it
embeds to a trainable vector `e` (a plain `keras.layers.Embedding`). So only
the (row, block) pairs that hold a real token need the gather and the
matmul; the others take that one constant. Every formulation here computes
the same function, with exact gradients for the table and every kernel block.

`block_dense` is the one dispatch point: JAX gets a compiled form with static
shapes (`padzero._block_dense_jax`), the other backends a `keras.ops` form
that selects the rows with real tokens (dynamic shapes, which eager PyTorch
and TensorFlow graphs take as they come). `block_dense_reference` computes the
whole padded product; the tests hold both against it. The pieces both forms
use live below them, in `padzero._block_dense_base`, so the JAX form never
imports this module back.

The blocks slice ids by position, so ids of another width would be cut or
run short without a word: `block_dense` refuses every shape but
`(batch_size, maxlen)` (`check_ids_shape`), when traced on JAX, on every call
of PyTorch and TensorFlow, and at run time in a TensorFlow graph traced for
any width.
"""

import keras
from keras import ops

from padzero._block_dense_base import block_activity, gather_embeddings, padding_block_outputs


def check_ids_shape(shape, maxlen):
    """Raises a one-line `ValueError` unless ids of `shape` hold `maxlen` ids per example: `(batch_size, maxlen)`.

    A width of `None` passes: a TensorFlow graph may be traced for any width,
    and `block_dense` checks it there when the graph runs.

    Example:

    >>> check_ids_shape((32, 10), maxlen=10)
    >>> check_ids_shape((2, 15), maxlen=12)
    Traceback (most recent call last):
    ...
    ValueError: Inputs must hold maxlen=12 ids per example; received 15 ids per example (input shape (2, 15)). Pad or truncate every example to 12 ids, e.g. with keras.utils.pad_sequences(sequences, maxlen=12).
    """
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(
            f"Inputs must be a 2D tensor of ids (batch_size, maxlen={maxlen}); received input shape {shape}. "
            f"Give each example as one row of {maxlen} ids."
        )
    if shape[-1] is not None and shape[-1] != maxlen:
        raise ValueError(
            f"Inputs must hold maxlen={maxlen} ids per example; received {shape[-1]} ids per example "
            f"(input shape {shape}). Pad or truncate every example to {maxlen} ids, e.g. with "
            f"keras.utils.pad_sequences(sequences, maxlen={maxlen})."
        )


def _tensorflow_width_checked(ids, maxlen):
    """`ids` of a TensorFlow graph traced for any width, made to raise when run with a width other than `maxlen`."""
    import tensorflow as tf  # only on that backend

    width = tf.shape(ids)[-1]
    message = f"Inputs must hold maxlen={maxlen} ids per example; received"
    check = tf.debugging.Assert(tf.equal(width, maxlen), [message, width, "ids per example"])
    with tf.control_dependencies([check]):
        return tf.identity(ids)


def block_bounds(maxlen, blocks):
    """`(start, stop)` of each block of positions: `blocks` runs of near-equal length covering `maxlen`.

    Example:

    >>> block_bounds(10, 3)
    [(0, 4), (4, 7), (7, 10)]
    """
    blocks = min(blocks, maxlen)
    base, extra = divmod(maxlen, blocks)
    bounds, start = [], 0
    for block in range(blocks):
        stop = start + base + (1 if block < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def block_dense_reference(ids, table, kernel_blocks, bounds, padding_idx, zero_padding):
    """The plain computation: every position of every row embedded, flattened, multiplied.

    Args:
        ids: int tensor `(batch, maxlen)`.
        table: `(input_dim, features)` embedding table.
        kernel_blocks: one `(block_length * features, units)` kernel per block, in position order.
        bounds: `block_bounds(maxlen, len(kernel_blocks))`.
        padding_idx: int, the padding id.
        zero_padding: bool, True when the padding id embeds to zero (`padzero.Embedding`),
            False when it embeds to its table row (`keras.layers.Embedding`).

    Returns:
        `(batch, units)` tensor, without bias or activation.
    """
    embedded = gather_embeddings(table, ids, padding_idx, zero_padding)
    batch = ops.shape(ids)[0]
    outputs = 0
    for (start, stop), kernel in zip(bounds, kernel_blocks):
        outputs = outputs + ops.matmul(ops.reshape(embedded[:, start:stop], (batch, -1)), kernel)
    return outputs


def _block_dense_dynamic(ids, table, kernel_blocks, bounds, padding_idx, zero_padding):
    """Only the rows with real tokens in a block are gathered and multiplied: `keras.ops`, dynamic shapes."""
    batch = ops.shape(ids)[0]
    features, units = ops.shape(table)[-1], ops.shape(kernel_blocks[0])[-1]
    active = block_activity(ids, bounds, padding_idx)
    outputs = ops.zeros((batch, units), table.dtype)
    for block, ((start, stop), kernel) in enumerate(zip(bounds, kernel_blocks)):
        rows = ops.where(active[:, block])[0]
        block_ids = ops.take(ids[:, start:stop], rows, axis=0)
        embedded = gather_embeddings(table, block_ids, padding_idx, zero_padding)
        products = ops.matmul(ops.reshape(embedded, (-1, (stop - start) * features)), kernel)
        # A matmul by the rows' one-hot, not a scatter: with no row at all it still links the kernel to the
        # outputs, so the kernel gets a zero gradient (which Adam steps on) rather than none. Built by comparison,
        # not `ops.one_hot`, which PyTorch refuses for an empty batch (zero classes).
        placement = ops.cast(ops.equal(ops.expand_dims(ops.arange(batch), 1), ops.expand_dims(rows, 0)), products.dtype)
        outputs = outputs + ops.matmul(placement, products)
    if not zero_padding:
        idle = ops.cast(ops.logical_not(active), table.dtype)
        outputs = outputs + ops.matmul(idle, padding_block_outputs(table, kernel_blocks, bounds, padding_idx))
    return outputs


def block_dense(ids, table, kernel_blocks, bounds, padding_idx, zero_padding):
    """`block_dense_reference`'s result, with work only for the (row, block) pairs that hold real tokens.

    Args and returns as in `block_dense_reference`.

    Raises:
        ValueError: `ids` are not `(batch_size, maxlen)`, `maxlen` the end of
            the last block (`check_ids_shape`). In a TensorFlow graph traced
            for any width, a wrong width raises `InvalidArgumentError` when
            the graph runs.
    """
    maxlen = bounds[-1][1]
    check_ids_shape(ids.shape, maxlen)  # static shapes: free, and traced once under jit
    if keras.backend.backend() == "tensorflow" and ids.shape[-1] is None:
        ids = _tensorflow_width_checked(ids, maxlen)
    if keras.backend.backend() == "jax":
        from padzero import _block_dense_jax  # imports jax: only on that backend

        return _block_dense_jax.block_dense(ids, table, kernel_blocks, bounds, padding_idx, zero_padding)
    return _block_dense_dynamic(ids, table, kernel_blocks, bounds, padding_idx, zero_padding)
