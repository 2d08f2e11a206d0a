"""`block_dense` for JAX: static shapes, so that one compiled training step serves every batch.

XLA compiles one program per input shape, so the rows with real tokens in a
block cannot be selected by count. Instead the rows of each block are sorted
(rows with real tokens first) and taken in groups of `group` rows:
`lax.switch` runs the branch for that block's number of groups, each branch
a matmul of static shape against the block's own kernel variable (no kernel
slice is copied). Rows past the last group keep what a padding-only block
adds. The gradient is written by hand (`jax.custom_vjp`) so that the table's
gradient is one dense buffer updated in place by a `fori_loop` over groups:
scattered from inside `switch` branches, XLA would copy it once per block.
Timings and what bounds them: docs/benchmarks (`benchmarks/step_breakdown.py`).
"""

import functools
import math

import jax
import jax.numpy as jnp

from padzero._block_dense_base import block_activity, gather_embeddings, padding_block_outputs

# Rows are multiplied in this many groups per block at most (batch 32: groups of 4). Measured on a
# Keras training step, batch 32 x 1,100, 11 blocks: 8 groups 1.47x the plain step, 4 groups 1.36x, 16 1.47x.
GROUPS = 8


def _plan(active, group):
    """Per block: rows with real tokens first (`order`), and how many groups of rows hold them (`groups`)."""
    order = jnp.argsort(jnp.logical_not(active), axis=0, stable=True).astype(jnp.int32)
    groups = (jnp.sum(active, axis=0, dtype=jnp.int32) + group - 1) // group
    return order, groups


def _switch_on_groups(groups, batch, group, compute, *operands):
    """`compute(count, *operands)` for the block's number of groups of rows, `count` static in each branch."""
    branches = [functools.partial(compute, count) for count in range(batch // group + 1)]
    return jax.lax.switch(groups, branches, *operands)


def _block_forward(table, kernel, ids, order, groups, group, padding_idx, zero_padding):
    """(batch, units): the block's product for its first `groups * group` sorted rows, zeros elsewhere."""
    batch, units = ids.shape[0], kernel.shape[-1]

    def product(count, table, kernel, ids, order):
        if count == 0:
            return jnp.zeros((batch, units), table.dtype)
        rows = order[: count * group]
        embedded = gather_embeddings(table, ids[rows], padding_idx, zero_padding)
        return jnp.zeros((batch, units), table.dtype).at[rows].set(embedded.reshape(len(rows), -1) @ kernel)

    return _switch_on_groups(groups, batch, group, product, table, kernel, ids, order)


def _block_gradients(table, kernel, ids, order, groups, upstream, scratch, group, padding_idx, zero_padding):
    """The block kernel's gradient, and `scratch` with the embedding gradient of the block's sorted rows written
    over its top-left corner (the rest is left as it was: the caller reads only those rows and columns)."""

    def gradients(count, table, kernel, ids, order, upstream, scratch):
        if count == 0:
            return jnp.zeros(kernel.shape, kernel.dtype), scratch
        rows = order[: count * group]
        embedded = gather_embeddings(table, ids[rows], padding_idx, zero_padding)
        kernel_gradient = embedded.reshape(len(rows), -1).T @ upstream[rows]
        return kernel_gradient, jax.lax.dynamic_update_slice(scratch, upstream[rows] @ kernel.T, (0, 0))

    return _switch_on_groups(groups, ids.shape[0], group, gradients, table, kernel, ids, order, upstream, scratch)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7))
def _computed_rows(table, kernel_blocks, block_ids, order, groups, group, padding_idx, zero_padding):
    outputs = 0
    for block, (kernel, ids) in enumerate(zip(kernel_blocks, block_ids)):
        outputs = outputs + _block_forward(
            table, kernel, ids, order[:, block], groups[block], group, padding_idx, zero_padding
        )
    return outputs


def _computed_rows_forward(table, kernel_blocks, block_ids, order, groups, group, padding_idx, zero_padding):
    outputs = _computed_rows(table, kernel_blocks, block_ids, order, groups, group, padding_idx, zero_padding)
    return outputs, (table, kernel_blocks, block_ids, order, groups)


def _computed_rows_backward(group, padding_idx, zero_padding, residuals, upstream):
    table, kernel_blocks, block_ids, order, groups = residuals
    table_gradient = jnp.zeros_like(table)
    # One buffer holds each block's embedding gradients in turn. A buffer per block would be filled whole
    # (zeros past the block's groups) and all eleven kept alive at once; the loop reads only the groups' rows.
    scratch = jnp.zeros((upstream.shape[0], max(kernel.shape[0] for kernel in kernel_blocks)), upstream.dtype)
    kernel_gradients = []
    for block, (kernel, ids) in enumerate(zip(kernel_blocks, block_ids)):
        block_order, block_groups = order[:, block], groups[block]
        kernel_gradient, scratch = _block_gradients(
            table, kernel, ids, block_order, block_groups, upstream, scratch, group, padding_idx, zero_padding
        )
        kernel_gradients.append(kernel_gradient)
        length, features = ids.shape[1], table.shape[1]

        # The loop reads no weight: a weight read inside a loop makes XLA copy it when the step donates it.
        def add_group(
            index,
            table_gradient,
            ids=ids,
            block_order=block_order,
            scratch=scratch,
            width=kernel.shape[0],
            length=length,
            features=features,
        ):
            group_ids = ids[jax.lax.dynamic_slice_in_dim(block_order, index * group, group)]
            gradient = jax.lax.dynamic_slice(scratch, (index * group, 0), (group, width))
            gradient = gradient.reshape(group, length, features)
            if zero_padding:  # the padding row gets no gradient
                gradient = jnp.where((group_ids == padding_idx)[..., None], 0, gradient)
            return table_gradient.at[group_ids].add(gradient)

        table_gradient = jax.lax.fori_loop(0, block_groups, add_group, table_gradient)
    return table_gradient, tuple(kernel_gradients), None, None, None


_computed_rows.defvjp(_computed_rows_forward, _computed_rows_backward)


def block_dense(ids, table, kernel_blocks, bounds, padding_idx, zero_padding):
    """`padzero.block_dense.block_dense_reference`'s result on JAX, with work only where rows hold real tokens."""
    ids = jnp.asarray(ids)
    batch = ids.shape[0]
    group = max(1, math.ceil(batch / GROUPS))
    padded_batch = math.ceil(batch / group) * group
    if padded_batch != batch:  # whole groups: the extra rows are padding and sort last
        ids = jnp.concatenate([ids, jnp.full((padded_batch - batch, ids.shape[1]), padding_idx, ids.dtype)])
    block_ids = tuple(jax.lax.stop_gradient(ids[:, start:stop]) for start, stop in bounds)
    order, groups = _plan(block_activity(ids, bounds, padding_idx), group)
    outputs = _computed_rows(table, tuple(kernel_blocks), block_ids, order, groups, group, padding_idx, zero_padding)
    if not zero_padding:
        # Rows past a block's computed groups hold only padding there: each adds e @ (the block's kernel rows).
        rank = jnp.argsort(order, axis=0)
        idle = (rank >= groups[None, :] * group).astype(table.dtype)
        outputs = outputs + idle @ padding_block_outputs(table, kernel_blocks, bounds, padding_idx)
    return outputs[:batch]
