"""The padding id's zeros: in the padding row of a table, and at the padding positions of embeddings.

`padzero.Embedding`, `padzero.EmbeddingBag` and the block product of
`padzero.EmbeddingFlattenDense` zero the padding id the same way, so the two
helpers live here, below all three. Both use `where`, not a multiply by a
mask: 0 * inf and 0 * NaN are NaN, and a padding zero must be exactly 0.0
whatever the table holds; the branch `where` leaves out also gets exactly
zero gradient.
"""

from keras import ops


def zero_padding_row(table, padding_idx):
    """`table` with exactly 0.0 in its row `padding_idx`.

    Args:
        table: `(input_dim, features)` tensor.
        padding_idx: non-negative int, the row to zero. `None` zeroes no row
            (a tensor compares unequal to `None` on every backend).

    Returns:
        A tensor of `table`'s shape and dtype. Differentiated, the padding
        row gets no gradient.
    """
    is_padding_row = ops.expand_dims(ops.arange(ops.shape(table)[0]) == padding_idx, -1)
    return ops.where(is_padding_row, ops.zeros((), dtype=table.dtype), table)


def zero_padding_positions(ids, outputs, padding_idx):
    """`outputs` (ids' embeddings) with exactly 0.0 wherever `ids` equal `padding_idx`.

    Args:
        ids: int tensor of ids, of any shape.
        outputs: their embeddings, `ids.shape + (features,)`.
        padding_idx: non-negative int, the padding id.

    Returns:
        A tensor of `outputs`' shape and dtype. Differentiated, the padding
        positions pass no gradient to the table.
    """
    is_padding = ops.expand_dims(ops.equal(ids, padding_idx), -1)
    return ops.where(is_padding, ops.zeros((), dtype=outputs.dtype), outputs)
