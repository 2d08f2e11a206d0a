"""What every form of the block product shares: the embeddings of a block, which blocks hold real tokens, and
what a block of padding only adds.

`padzero.block_dense` (the `keras.ops` form, the reference and the one
dispatch point) and `padzero._block_dense_jax` (the JAX form) both build on
these, and this module imports neither: the dispatch imports the JAX form,
and the JAX form reaches the shared pieces here, not through the dispatch.
Every function takes `keras.ops` tensors, or JAX arrays inside the JAX form.
"""

from keras import ops

from padzero.padding import zero_padding_positions


def gather_embeddings(table, ids, padding_idx, zero_padding):
    """The rows of `table` for `ids`, with the padding positions zeroed when padding embeds to zero.

    Args:
        table: `(input_dim, features)` embedding table.
        ids: int tensor of ids, of any shape.
        padding_idx: int, the padding id.
        zero_padding: bool, True when the padding id embeds to zero
            (`padzero.Embedding`), False when it embeds to its table row
            (`keras.layers.Embedding`).

    Returns:
        `ids.shape + (features,)` tensor.
    """
    embedded = ops.take(table, ids, axis=0)
    return zero_padding_positions(ids, embedded, padding_idx) if zero_padding else embedded


def block_activity(ids, bounds, padding_idx):
    """`(batch, blocks)` bool: True where a row holds at least one real token in a block.

    Args:
        ids: int tensor `(batch, maxlen)`.
        bounds: `(start, stop)` of each block of positions (`padzero.block_dense.block_bounds`).
        padding_idx: int, the padding id.
    """
    return ops.stack(
        [ops.any(ops.not_equal(ids[:, start:stop], padding_idx), axis=1) for start, stop in bounds], axis=1
    )


def padding_block_outputs(table, kernel_blocks, bounds, padding_idx):
    """`(blocks, units)`: what a block of padding only adds when padding embeds to its table row `e`.

    Each is `e @ (sum of the block's kernel rows, position by position)`.

    Args:
        table: `(input_dim, features)` embedding table.
        kernel_blocks: one `(block_length * features, units)` kernel per block, in position order.
        bounds: `(start, stop)` of each block of positions.
        padding_idx: int, the padding id.
    """
    padding_vector = ops.take(table, padding_idx, axis=0)
    features = ops.shape(table)[-1]
    rows = []
    for (start, stop), kernel in zip(bounds, kernel_blocks):
        per_position = ops.reshape(kernel, (stop - start, features, -1))
        rows.append(ops.einsum("f,pfu->u", padding_vector, per_position))
    return ops.stack(rows)
