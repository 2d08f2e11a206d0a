"""padzero.block_dense: the block-skipping Embedding -> Flatten -> Dense against the whole padded product.

`block_dense` (the dispatch: the JAX form on JAX, the `keras.ops` form with
dynamic shapes elsewhere) and `_block_dense_dynamic` must equal
`block_dense_reference` in value and in the gradients of the table and of
every kernel block, on any batch: pre- or post-padded rows, rows of padding
only, batches of any size (the JAX form takes rows in groups of
ceil(batch / 4)), any padding id; ids of any other shape than the blocks
cover are refused. The reference itself is held against NumPy, with its
gradients written out by hand.

Gradients are Keras-level: the table and the kernel blocks are variables of a
small layer, differentiated by `padzero.gradients.value_and_gradients`
(a tape on TensorFlow, autograd on PyTorch). The JAX form is differentiated
as Keras's JAX trainer does it, `jax.jit` over the layer's `stateless_call`,
and each compiled step is kept for the next batch of the same shape: it
compiles in about a second, which eager calls would pay on every batch.
"""

import functools
from typing import NamedTuple

import keras
import numpy as np
import pytest
from keras import ops

from padzero._block_dense_base import block_activity, padding_block_outputs
from padzero.block_dense import _block_dense_dynamic, block_bounds, block_dense, block_dense_reference
from padzero.gradients import value_and_gradients

pytestmark = pytest.mark.per_backend

VOCAB, FEATURES, UNITS = 30, 4, 5
MAXLEN, BLOCKS = 11, 3  # blocks that do not divide maxlen: runs of 4, 4 and 3 positions


@pytest.mark.parametrize(
    "maxlen, blocks, expected",
    [
        (10, 3, [(0, 4), (4, 7), (7, 10)]),
        (12, 4, [(0, 3), (3, 6), (6, 9), (9, 12)]),
        (11, 3, [(0, 4), (4, 8), (8, 11)]),
        (7, 1, [(0, 7)]),
        (1, 1, [(0, 1)]),
        (3, 5, [(0, 1), (1, 2), (2, 3)]),  # more blocks than positions: one position each
        (4, 4, [(0, 1), (1, 2), (2, 3), (3, 4)]),
    ],
)
def test_block_bounds_cases(maxlen, blocks, expected):
    assert block_bounds(maxlen, blocks) == expected


@pytest.mark.parametrize("maxlen", [1, 2, 5, 11, 12, 97, 1100])
@pytest.mark.parametrize("blocks", [1, 2, 3, 4, 11, 200])
def test_block_bounds_cover_maxlen_in_near_equal_runs(maxlen, blocks):
    bounds = block_bounds(maxlen, blocks)
    assert len(bounds) == min(blocks, maxlen)
    assert bounds[0][0] == 0 and bounds[-1][1] == maxlen
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))  # contiguous
    lengths = [stop - start for start, stop in bounds]
    assert min(lengths) >= 1 and max(lengths) - min(lengths) <= 1
    assert lengths == sorted(lengths, reverse=True)  # the longer runs first


# --- batches -----------------------------------------------------------------------------------


def real_tokens(rng, size, padding_idx):
    """Ids in [0, VOCAB) other than padding_idx."""
    ids = rng.integers(0, VOCAB - 1, size=size)
    return np.where(ids >= padding_idx, ids + 1, ids)


def pre_padded(rng, lengths, maxlen, padding_idx):
    ids = np.full((len(lengths), maxlen), padding_idx)
    for row, length in enumerate(lengths):
        if length:
            ids[row, maxlen - length :] = real_tokens(rng, length, padding_idx)
    return ids.astype("int32")


def very_different_lengths(rng, batch, maxlen):
    """Lengths from 0 to maxlen, with a full row, a row of one token and a half row among them."""
    lengths = rng.integers(0, maxlen + 1, size=batch)
    lengths[: min(batch, 3)] = [maxlen, 1, maxlen // 2][: min(batch, 3)]
    return rng.permutation(lengths)


def batch_prepadded(rng, maxlen, padding_idx):
    return pre_padded(rng, very_different_lengths(rng, 8, maxlen), maxlen, padding_idx)


def batch_with_padding_only_row(rng, maxlen, padding_idx):
    ids = batch_prepadded(rng, maxlen, padding_idx)
    ids[3] = padding_idx
    return ids


def batch_of_padding_only(rng, maxlen, padding_idx):
    return np.full((8, maxlen), padding_idx, "int32")


def batch_with_post_padded_row(rng, maxlen, padding_idx):
    ids = batch_prepadded(rng, maxlen, padding_idx)
    ids[2] = padding_idx
    ids[2, :3] = real_tokens(rng, 3, padding_idx)  # real tokens first, padding after
    return ids


def batch_with_padding_inside(rng, maxlen, padding_idx):
    """Padding scattered among real tokens: blocks that are part real, part padding."""
    ids = real_tokens(rng, (8, maxlen), padding_idx)
    ids[rng.random(ids.shape) < 0.5] = padding_idx
    return ids.astype("int32")


def batch_of_one(rng, maxlen, padding_idx):
    return pre_padded(rng, [maxlen // 2], maxlen, padding_idx)


def batch_of_one_full(rng, maxlen, padding_idx):
    return pre_padded(rng, [maxlen], maxlen, padding_idx)


def batch_of(size):
    def batch(rng, maxlen, padding_idx):
        return pre_padded(rng, very_different_lengths(rng, size, maxlen), maxlen, padding_idx)

    batch.__name__ = f"batch_of_{size}"
    return batch


# The JAX form takes rows in groups of ceil(batch / 4): 8 rows in 4 groups of 2, 1 row alone,
# 13 rows in groups of 4 (padded to 16). On JAX each batch size compiles once per setting, so
# padding id 7 takes only the batches of 8.
BATCHES_OF_8 = [batch_prepadded, batch_with_padding_only_row, batch_with_post_padded_row, batch_with_padding_inside]
BATCHES = [*BATCHES_OF_8, batch_of_one, batch_of_one_full, batch_of(13)]
# (maxlen, blocks) besides MAXLEN, BLOCKS: blocks that divide maxlen, more blocks than positions, one block.
GEOMETRIES = {"12/4": (12, 4), "4/6": (4, 6), "9/1": (9, 1)}


# --- the reference, by hand ---------------------------------------------------------------------


def numpy_reference(ids, table, kernel, padding_idx, zero_padding, upstream):
    """Outputs of flatten(embed(ids)) @ kernel, and the gradients of sum(outputs * upstream)."""
    embedded = table[ids]
    padding = ids == padding_idx
    if zero_padding:
        embedded = np.where(padding[..., None], 0.0, embedded)
    flat = embedded.reshape(len(ids), -1).astype("float64")
    outputs = flat @ kernel
    kernel_gradient = flat.T @ upstream
    embedded_gradient = (upstream @ kernel.T).reshape(embedded.shape)
    if zero_padding:
        embedded_gradient = np.where(padding[..., None], 0.0, embedded_gradient)
    table_gradient = np.zeros(table.shape)
    np.add.at(table_gradient, ids, embedded_gradient)
    return outputs, table_gradient, kernel_gradient


# --- a layer holding the variables, so that Keras-level gradients reach them --------------------


class Setting(NamedTuple):
    """Weights and padding id of one block-dense computation."""

    table: np.ndarray  # (VOCAB, FEATURES)
    kernel: np.ndarray  # (maxlen * FEATURES, UNITS), the whole kernel of Dense after Flatten
    bounds: tuple  # block_bounds(maxlen, blocks)
    padding_idx: int

    def kernel_blocks(self):
        return [self.kernel[start * FEATURES : stop * FEATURES] for start, stop in self.bounds]


def random_setting(rng, maxlen, blocks, padding_idx):
    table = rng.normal(size=(VOCAB, FEATURES)).astype("float32")
    table[padding_idx] = rng.normal(size=FEATURES) + 3.0  # far from zero: the padding rule must matter
    kernel = rng.normal(size=(maxlen * FEATURES, UNITS)).astype("float32")
    return Setting(table, kernel, tuple(block_bounds(maxlen, blocks)), padding_idx)


class BlockDenseProbe(keras.layers.Layer):
    """Holds a table and kernel blocks as variables (in that order); calls one block-dense function on ids."""

    def __init__(self, function, setting, zero_padding):
        super().__init__()
        self.function, self.bounds = function, list(setting.bounds)
        self.padding_idx, self.zero_padding = setting.padding_idx, zero_padding
        self.table = self.add_weight(shape=setting.table.shape, initializer="zeros", name="table")
        self.table.assign(setting.table)
        self.kernels = []
        for block, values in enumerate(setting.kernel_blocks()):
            variable = self.add_weight(shape=values.shape, initializer="zeros", name=f"kernel_block_{block}")
            variable.assign(values)
            self.kernels.append(variable)
        self.built = True

    def call(self, ids):
        table, kernels = ops.convert_to_tensor(self.table), [ops.convert_to_tensor(k) for k in self.kernels]
        return self.function(ids, table, kernels, self.bounds, self.padding_idx, self.zero_padding)


@functools.lru_cache(maxsize=None)
def compiled_jax_step(bounds, padding_idx, zero_padding):
    """`(values, ids, upstream) -> ((loss, outputs), gradients)` of `block_dense`, compiled as Keras's trainer does."""
    import jax

    maxlen = bounds[-1][1]
    shape_only = Setting(np.zeros((VOCAB, FEATURES)), np.zeros((maxlen * FEATURES, UNITS)), bounds, padding_idx)
    probe = BlockDenseProbe(block_dense, shape_only, zero_padding)

    def loss(values, ids, upstream):
        outputs, _ = probe.stateless_call(values, [], ids)
        return ops.sum(ops.multiply(outputs, upstream)), outputs

    return jax.jit(jax.value_and_grad(loss, has_aux=True))


def run(function, setting, ids, zero_padding, upstream):
    """Outputs, table gradient and whole-kernel gradient (the block gradients stacked) of sum(outputs * upstream)."""
    ids = np.asarray(ids, "int32")
    if keras.backend.backend() == "jax" and function is block_dense:
        step = compiled_jax_step(setting.bounds, setting.padding_idx, zero_padding)
        (_, outputs), gradients = step([setting.table, *setting.kernel_blocks()], ids, upstream)
        gradients = [np.asarray(gradient) for gradient in gradients]
    else:
        probe = BlockDenseProbe(function, setting, zero_padding)
        outputs = probe(ids)
        loss = lambda outputs: ops.sum(ops.multiply(outputs, upstream))  # noqa: E731
        _, gradients = value_and_gradients(probe, loss, ids, variables=[probe.table, *probe.kernels])
    assert [gradient.shape for gradient in gradients[1:]] == [block.shape for block in setting.kernel_blocks()]
    return np.asarray(ops.convert_to_numpy(outputs)), gradients[0], np.concatenate(gradients[1:])


def upstream_for(rng, ids):
    return rng.normal(size=(len(ids), UNITS)).astype("float32")


def assert_same(actual, expected, label):
    for name, got, want in zip(["outputs", "table gradient", "kernel gradient"], actual, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4, err_msg=f"{label}: {name}")


@pytest.mark.parametrize("geometry", ["11/3", *GEOMETRIES])
@pytest.mark.parametrize("padding_idx", [0, 7, VOCAB - 1])
@pytest.mark.parametrize("zero_padding", [True, False])
def test_reference_is_the_plain_product_with_its_gradients(geometry, padding_idx, zero_padding):
    maxlen, blocks = GEOMETRIES.get(geometry, (MAXLEN, BLOCKS))
    rng = np.random.default_rng(padding_idx)
    setting = random_setting(rng, maxlen, blocks, padding_idx)
    ids = batch_with_post_padded_row(rng, maxlen, padding_idx)
    upstream = upstream_for(rng, ids)
    expected = numpy_reference(ids, setting.table, setting.kernel, padding_idx, zero_padding, upstream)
    actual = run(block_dense_reference, setting, ids, zero_padding, upstream)
    assert_same(actual, expected, "reference")
    padding_gradient = actual[1][padding_idx]
    if zero_padding:
        assert np.all(padding_gradient == 0.0)
    else:
        assert np.any(padding_gradient != 0.0)


@pytest.mark.parametrize(
    "batch, padding_idx",
    [(batch, 0) for batch in BATCHES] + [(batch, 7) for batch in BATCHES_OF_8],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
@pytest.mark.parametrize("zero_padding", [True, False])
def test_block_dense_equals_the_reference_with_gradients(batch, padding_idx, zero_padding):
    """The dispatch, whichever form the backend gets (on TensorFlow and PyTorch: `_block_dense_dynamic`)."""
    rng = np.random.default_rng(BATCHES.index(batch) * 10 + padding_idx)
    setting = random_setting(rng, MAXLEN, BLOCKS, padding_idx)
    ids = batch(rng, MAXLEN, padding_idx)
    upstream = upstream_for(rng, ids)
    expected = run(block_dense_reference, setting, ids, zero_padding, upstream)
    assert_same(run(block_dense, setting, ids, zero_padding, upstream), expected, "block_dense")


@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="the layer never runs the dynamic form on JAX, where eager ops compile for every shape (~13 s here)",
)
@pytest.mark.parametrize("padding_idx", [0, 7])
@pytest.mark.parametrize("zero_padding", [True, False])
def test_dynamic_form_equals_the_reference_with_gradients(padding_idx, zero_padding):
    """`_block_dense_dynamic` by name, on the backends whose layer runs it (there every `block_dense` test runs it too).

    One batch holds every kind of row above, and with zero_padding a non-finite padding row is never read.
    """
    rng = np.random.default_rng(100 + padding_idx)
    setting = random_setting(rng, MAXLEN, BLOCKS, padding_idx)
    ids = np.concatenate([batch(rng, MAXLEN, padding_idx) for batch in BATCHES])
    upstream = upstream_for(rng, ids)
    expected = run(block_dense_reference, setting, ids, zero_padding, upstream)
    assert_same(run(_block_dense_dynamic, setting, ids, zero_padding, upstream), expected, "dynamic")
    if zero_padding:
        for bad_value in (np.nan, np.inf):
            bad_table = setting.table.copy()
            bad_table[padding_idx] = bad_value
            actual = run(_block_dense_dynamic, setting._replace(table=bad_table), ids, True, upstream)
            assert all(np.all(np.isfinite(values)) for values in actual), bad_value
            assert_same(actual, expected, f"dynamic, padding row {bad_value}")


@pytest.mark.parametrize("zero_padding", [True, False])
def test_a_batch_of_padding_only_has_the_reference_gradients(zero_padding):
    """No row is selected in any block: zeros (or the padding constants) and their gradients, as the reference.

    With zero_padding the outputs are zeros that must still be linked to the table and kernels, so that
    a loss of them backpropagates (zero gradients), as through the reference.
    """
    rng = np.random.default_rng(200)
    setting = random_setting(rng, MAXLEN, BLOCKS, 7)
    ids = batch_of_padding_only(rng, MAXLEN, 7)
    upstream = upstream_for(rng, ids)
    expected = run(block_dense_reference, setting, ids, zero_padding, upstream)
    actual = run(block_dense, setting, ids, zero_padding, upstream)
    assert_same(actual, expected, "block_dense")
    if zero_padding:
        assert all(np.all(values == 0.0) for values in actual)


@pytest.mark.parametrize("geometry", sorted(GEOMETRIES))
@pytest.mark.parametrize("zero_padding", [True, False])
def test_block_dense_equals_the_reference_for_any_block_geometry(geometry, zero_padding):
    maxlen, blocks = GEOMETRIES[geometry]
    rng = np.random.default_rng(len(geometry))
    setting = random_setting(rng, maxlen, blocks, 3)
    ids = np.concatenate([batch_prepadded(rng, maxlen, 3), batch_with_padding_inside(rng, maxlen, 3)])
    upstream = upstream_for(rng, ids)
    expected = run(block_dense_reference, setting, ids, zero_padding, upstream)
    assert_same(run(block_dense, setting, ids, zero_padding, upstream), expected, "block_dense")


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_a_non_finite_padding_row_is_never_read_with_zero_padding(bad_value):
    rng = np.random.default_rng(4)
    padding_idx = 7
    clean = random_setting(rng, MAXLEN, BLOCKS, padding_idx)
    table = clean.table.copy()
    table[padding_idx] = bad_value
    ids = batch_with_post_padded_row(rng, MAXLEN, padding_idx)
    ids[5, 1::2] = padding_idx  # padding inside a row as well
    upstream = upstream_for(rng, ids)
    expected = run(block_dense_reference, clean, ids, True, upstream)
    actual = run(block_dense, clean._replace(table=table), ids, True, upstream)
    for name, values in zip(["outputs", "table gradient", "kernel gradient"], actual):
        assert np.all(np.isfinite(values)), name
    assert_same(actual, expected, "block_dense")
    assert np.all(actual[1][padding_idx] == 0.0)


def test_the_padding_rule_and_each_real_token_change_the_outputs():
    """The equalities above are not trivial: the padding row counts without zero_padding, each real token counts."""
    rng = np.random.default_rng(5)
    setting = random_setting(rng, MAXLEN, BLOCKS, 0)
    ids = batch_prepadded(rng, MAXLEN, 0)
    no_upstream = np.zeros((len(ids), UNITS), "float32")

    def outputs(ids, zero_padding, setting=setting):
        return run(block_dense, setting, ids, zero_padding, no_upstream)[0]

    with_zero, with_row = outputs(ids, True), outputs(ids, False)
    assert not np.allclose(with_zero, with_row, atol=1e-3)
    zero_row = setting.table.copy()
    zero_row[0] = 0.0  # a padding row of zeros makes the two rules one
    np.testing.assert_allclose(outputs(ids, False, setting._replace(table=zero_row)), with_zero, rtol=1e-5, atol=1e-5)
    longest = int(np.argmax((ids != 0).sum(axis=1)))
    assert np.all(ids[longest] != 0)
    for position in (0, MAXLEN // 2, MAXLEN - 1):  # a real token in each block
        changed = ids.copy()
        changed[longest, position] = changed[longest, position] % (VOCAB - 1) + 1
        difference = np.abs(outputs(changed, True) - with_zero)
        assert difference[longest].max() > 1e-3, position
        np.testing.assert_allclose(np.delete(difference, longest, axis=0), 0.0, atol=1e-5)


def test_padding_block_outputs_and_block_activity():
    rng = np.random.default_rng(6)
    setting = random_setting(rng, 5, 2, 2)
    assert setting.bounds == ((0, 3), (3, 5))
    kernels = setting.kernel_blocks()
    table = ops.convert_to_tensor(setting.table)
    got = np.asarray(ops.convert_to_numpy(padding_block_outputs(table, kernels, setting.bounds, 2)))
    padding_row = setting.table[2]
    expected = [np.tile(padding_row, stop - start) @ block for (start, stop), block in zip(setting.bounds, kernels)]
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-5, atol=1e-5)
    ids = np.array([[2, 2, 2, 2, 4], [2, 5, 2, 2, 2], [2, 2, 2, 2, 2], [1, 1, 1, 1, 1]], "int32")
    activity = np.asarray(ops.convert_to_numpy(block_activity(ids, setting.bounds, 2)))
    assert activity.tolist() == [[False, True], [True, False], [False, False], [True, True]]


@pytest.mark.parametrize(
    "shape, message",
    [
        (
            (4, MAXLEN + 1),
            f"Inputs must hold maxlen={MAXLEN} ids per example; received {MAXLEN + 1} ids per example "
            f"(input shape (4, {MAXLEN + 1})). Pad or truncate every example to {MAXLEN} ids",
        ),
        ((4, MAXLEN - 2), f"Inputs must hold maxlen={MAXLEN} ids per example; received {MAXLEN - 2} ids per example"),
        (
            (4, MAXLEN, 1),
            f"Inputs must be a 2D tensor of ids (batch_size, maxlen={MAXLEN}); received input shape "
            f"(4, {MAXLEN}, 1). Give each example as one row of {MAXLEN} ids.",
        ),
        (
            (MAXLEN,),
            f"Inputs must be a 2D tensor of ids (batch_size, maxlen={MAXLEN}); received input shape ({MAXLEN},).",
        ),
    ],
)
@pytest.mark.parametrize("zero_padding", [True, False])
def test_ids_of_another_shape_than_the_blocks_cover_are_refused(shape, message, zero_padding):
    """The blocks slice ids by position: wider ids would be read as their first maxlen, narrower ones run short."""
    setting = random_setting(np.random.default_rng(7), MAXLEN, BLOCKS, 0)
    ids = ops.convert_to_tensor(np.ones(shape, "int32"))
    table, kernels = ops.convert_to_tensor(setting.table), [ops.convert_to_tensor(k) for k in setting.kernel_blocks()]
    with pytest.raises(ValueError) as caught:
        block_dense(ids, table, kernels, list(setting.bounds), 0, zero_padding)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
