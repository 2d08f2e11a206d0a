"""padzero.EmbeddingFlattenDense against the plain layers it replaces: Embedding -> Flatten -> Dense.

The plain twin holds the same weights (`get_weights` / `set_weights`) and is
`padzero.Embedding` or `keras.layers.Embedding` (then, for `zero_padding=True`,
its output times the padding mask `ids != padding_idx`), `Flatten`, `Dense`.
Outputs, the gradient of every weight, initial weights for a seed, saving and
a few steps of training must be those of the twin. Where the twin refuses
(ids of another width, an unknown width), the layer must refuse too, on every
call and however it is run.

On JAX the layer is called and differentiated compiled (`jax.jit` over its
`stateless_call`, as Keras's JAX trainer runs it): an eager call of the JAX
form compiles its branches anew every time. Elsewhere gradients come from
`padzero.gradients.value_and_gradients`.
"""

import functools
import json
import re

import keras
import numpy as np
import pytest
from keras import ops

import padzero
from padzero import EmbeddingFlattenDense
from padzero.gradients import value_and_gradients

pytestmark = pytest.mark.per_backend

VOCAB, FEATURES, MAXLEN, BLOCKS, UNITS = 30, 4, 10, 3, 3  # blocks of 4, 3 and 3 positions
KERNEL_ROWS = MAXLEN * FEATURES
BACKEND = keras.backend.backend()

# name: (embedding kind, padding_idx, zero_padding as given to the layer, whether padding embeds to zero)
VARIANTS = {
    "padzero": ("padzero", 0, None, True),
    "padzero_padding_3": ("padzero", 3, None, True),
    "keras": ("keras", 0, None, False),
    "keras_padding_5": ("keras", 5, False, False),
    "keras_masked": ("keras", 0, True, True),
    "keras_masked_padding_5": ("keras", 5, True, True),
}
TRAINED_VARIANTS = ["padzero", "keras", "keras_masked"]


def make_embedding(kind, padding_idx):
    if kind == "padzero":
        return padzero.Embedding(VOCAB, FEATURES, padding_idx=padding_idx)
    return keras.layers.Embedding(VOCAB, FEATURES)


def make_fused(variant, **kwargs):
    kind, padding_idx, zero_padding, _ = VARIANTS[variant]
    arguments = {} if kind == "padzero" else {"padding_idx": padding_idx, "zero_padding": zero_padding}
    kwargs.setdefault("blocks", BLOCKS)
    return EmbeddingFlattenDense(make_embedding(kind, padding_idx), UNITS, maxlen=MAXLEN, **arguments, **kwargs)


class PlainLayers(keras.layers.Layer):
    """Embedding (times the padding mask if asked) -> Flatten -> Dense, with the weights of `fused`."""

    def __init__(self, variant, fused, activation=None, use_bias=True):
        super().__init__()
        kind, self.padding_idx, _, _ = VARIANTS[variant]
        self.mask_padding = kind == "keras" and fused.zero_padding
        self.embedding = make_embedding(kind, self.padding_idx)
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(fused.units, activation=activation, use_bias=use_bias)
        self.embedding.build((None, MAXLEN))
        self.dense.build((None, MAXLEN * FEATURES))
        weights = fused.get_weights()
        self.embedding.set_weights(weights[:1])
        self.dense.set_weights(weights[1:])
        self.built = True

    def call(self, ids):
        embedded = self.embedding(ids)
        if self.mask_padding:
            embedded = embedded * ops.expand_dims(ops.cast(ops.not_equal(ids, self.padding_idx), embedded.dtype), -1)
        return self.dense(self.flatten(embedded))

    def weight_variables(self):
        """Table, kernel, bias: the layout of the fused layer's get_weights()."""
        return [self.embedding._embeddings, self.dense.kernel] + ([self.dense.bias] if self.dense.use_bias else [])


def dense_kernel(blocks):
    """The (maxlen * features, units) kernel of Dense after Flatten from kernel blocks (or their gradients).

    A block holds its rows of that kernel in their order (as `(positions, features * units)`).
    """
    return np.concatenate([np.reshape(block, (-1, UNITS)) for block in blocks])


def fused_variables(layer):
    return [layer.embedding._embeddings, *layer.kernel_blocks] + ([layer.bias] if layer.use_bias else [])


def real_tokens(rng, size, padding_idx):
    ids = rng.integers(0, VOCAB - 1, size=size)
    return np.where(ids >= padding_idx, ids + 1, ids)


def mixed_batch(rng, padding_idx):
    """Pre-padded rows of very different lengths, a row of padding only, a post-padded row, padding inside a row."""
    lengths = [MAXLEN, 1, 5, 0, 9, 2, MAXLEN - 1]
    ids = np.full((len(lengths) + 2, MAXLEN), padding_idx)
    for row, length in enumerate(lengths):
        ids[row, MAXLEN - length :] = real_tokens(rng, length, padding_idx)
    ids[-2, :4] = real_tokens(rng, 4, padding_idx)  # post-padded
    ids[-1] = real_tokens(rng, MAXLEN, padding_idx)
    ids[-1, 2::3] = padding_idx
    return ids.astype("int32")


def to_numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


@functools.lru_cache(maxsize=None)
def jax_compiled(layer):
    """(forward, step) of a built layer or model, compiled once per input shape."""
    import jax

    def forward(trainable, non_trainable, ids):
        return layer.stateless_call(trainable, non_trainable, ids)[0]

    def loss(trainable, non_trainable, ids, upstream):
        outputs = forward(trainable, non_trainable, ids)
        return ops.sum(ops.multiply(outputs, upstream)), outputs

    return jax.jit(forward), jax.jit(jax.value_and_grad(loss, has_aux=True))


def values(layer):
    return [v.value for v in layer.trainable_variables], [v.value for v in layer.non_trainable_variables]


def call(layer, ids):
    """`layer(ids)` as a NumPy array."""
    if BACKEND != "jax":
        return to_numpy(layer(ids))
    if not layer.built:
        layer(ids)
    return np.asarray(jax_compiled(layer)[0](*values(layer), ids))


def outputs_and_gradients(layer, variables, ids, upstream):
    """Outputs of `layer(ids)` and the gradients of sum(outputs * upstream) for `variables`."""
    if BACKEND != "jax":
        _, gradients = value_and_gradients(
            layer, lambda outputs: ops.sum(ops.multiply(outputs, upstream)), ids, variables=variables
        )
        return to_numpy(layer(ids)), gradients
    (_, outputs), gradients = jax_compiled(layer)[1](*values(layer), ids, upstream)
    position = {id(variable): index for index, variable in enumerate(layer.trainable_variables)}
    return np.asarray(outputs), [np.asarray(gradients[position[id(variable)]]) for variable in variables]


def assert_close(actual, expected, label):
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5, err_msg=label)


# --- outputs and gradients ------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_outputs_and_gradients_equal_the_plain_layers(variant):
    _, padding_idx, _, padding_is_zero = VARIANTS[variant]
    rng = np.random.default_rng(sorted(VARIANTS).index(variant))
    fused = make_fused(variant, activation="tanh", bias_initializer="random_normal")
    fused.build((None, MAXLEN))
    table, kernel, bias = fused.get_weights()
    table[padding_idx] = rng.normal(size=FEATURES) + 1.0  # a real vector: zero padding must come from the rule
    fused.set_weights([table, kernel, bias])
    plain = PlainLayers(variant, fused, activation="tanh")
    ids = mixed_batch(rng, padding_idx)
    upstream = rng.normal(size=(len(ids), UNITS)).astype("float32")

    outputs, gradients = outputs_and_gradients(fused, fused_variables(fused), ids, upstream)
    expected_outputs, expected = outputs_and_gradients(plain, plain.weight_variables(), ids, upstream)
    assert_close(outputs, expected_outputs, "outputs")
    table_gradient, kernel_gradient, bias_gradient = gradients[0], dense_kernel(gradients[1:-1]), gradients[-1]
    assert_close(table_gradient, expected[0], "table gradient")
    assert_close(kernel_gradient, expected[1], "kernel gradient (blocks stacked)")
    assert_close(bias_gradient, expected[2], "bias gradient")
    # Not trivially equal: gradients are not zero, the padding rule shows in the padding row.
    assert np.abs(kernel_gradient).max() > 1e-3 and np.abs(table_gradient).max() > 1e-3
    assert np.all(table_gradient[padding_idx] == 0.0) == padding_is_zero


@pytest.mark.parametrize("variant", ["padzero", "keras", "keras_masked"])
def test_each_real_token_and_the_padding_rule_change_the_outputs(variant):
    _, padding_idx, _, padding_is_zero = VARIANTS[variant]
    rng = np.random.default_rng(10)
    fused = make_fused(variant)
    fused.build((None, MAXLEN))
    table, kernel, bias = fused.get_weights()
    table[padding_idx] = 1.0
    fused.set_weights([table, kernel, bias])
    ids = mixed_batch(rng, padding_idx)
    outputs = call(fused, ids)
    for position in range(0, MAXLEN, 2):  # a real token of the full row 0 in every block
        changed = ids.copy()
        changed[0, position] = (changed[0, position] + 1) % VOCAB or 1
        difference = np.abs(call(fused, changed) - outputs)
        assert difference[0].max() > 1e-4, position
        np.testing.assert_allclose(difference[1:], 0.0, atol=1e-6)
    table[padding_idx] = 2.0  # the padding row is read exactly when padding does not embed to zero
    fused.set_weights([table, kernel, bias])
    assert np.allclose(call(fused, ids), outputs, atol=1e-6) == padding_is_zero


def test_a_batch_of_padding_only_has_zero_gradients_without_bias():
    """Nothing but the fused layer's weights in the loss: they must still get (zero) gradients, as the plain ones."""
    fused = make_fused("padzero", use_bias=False)
    fused.build((None, MAXLEN))
    plain = PlainLayers("padzero", fused, use_bias=False)
    ids = np.zeros((4, MAXLEN), "int32")
    upstream = np.ones((4, UNITS), "float32")
    expected_outputs, expected = outputs_and_gradients(plain, plain.weight_variables(), ids, upstream)
    outputs, gradients = outputs_and_gradients(fused, fused_variables(fused), ids, upstream)
    assert np.all(outputs == expected_outputs) and np.all(outputs == 0.0)
    assert all(np.all(gradient == 0.0) for gradient in gradients + expected)


# --- initial weights ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["padzero", "keras"])
@pytest.mark.parametrize("seed", [0, 7])
def test_a_seed_gives_the_initial_weights_of_embedding_then_dense(kind, seed):
    """`set_random_seed(s)`, then the fused layer, draws the table and kernel of Embedding, then Dense after Flatten."""
    keras.utils.set_random_seed(seed)
    fused = EmbeddingFlattenDense(make_embedding(kind, 0), UNITS, maxlen=MAXLEN, blocks=BLOCKS)
    fused.build((None, MAXLEN))
    keras.utils.set_random_seed(seed)
    embedding = make_embedding(kind, 0)
    dense = keras.layers.Dense(UNITS)
    embedding.build((None, MAXLEN))
    dense.build((None, MAXLEN * FEATURES))
    table, kernel, bias = fused.get_weights()
    np.testing.assert_array_equal(table, to_numpy(embedding.embeddings))
    np.testing.assert_array_equal(kernel, to_numpy(dense.kernel))
    np.testing.assert_array_equal(bias, to_numpy(dense.bias))
    assert np.all(table[0] == 0.0) == (kind == "padzero")
    # The kernel is glorot_uniform over the whole maxlen * features fan-in, as Dense after Flatten.
    limit = np.sqrt(6.0 / (MAXLEN * FEATURES + UNITS))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.5 * limit
    keras.utils.set_random_seed(seed + 1)
    other = EmbeddingFlattenDense(make_embedding(kind, 0), UNITS, maxlen=MAXLEN, blocks=BLOCKS)
    other.build((None, MAXLEN))
    assert not np.allclose(other.get_weights()[1], kernel)


def test_kernel_blocks_hold_the_rows_of_their_positions():
    fused = make_fused("keras")
    fused.build((None, MAXLEN))
    assert [v.path.split("/")[-1] for v in fused.kernel_blocks] == [f"kernel_block_{i}" for i in range(BLOCKS)]
    assert [tuple(v.shape) for v in fused.kernel_blocks] == [(4, 12), (3, 12), (3, 12)]  # (positions, features * units)
    kernel = np.arange(KERNEL_ROWS * UNITS, dtype="float32").reshape(KERNEL_ROWS, UNITS)
    table, _, bias = fused.get_weights()
    fused.set_weights([table, kernel, bias])
    np.testing.assert_array_equal(to_numpy(fused.kernel_blocks[1]).reshape(-1, UNITS), kernel[16:28])  # positions 4-6
    np.testing.assert_array_equal(dense_kernel([to_numpy(v) for v in fused.kernel_blocks]), kernel)


# --- get_weights / set_weights --------------------------------------------------------------------


@pytest.mark.parametrize("use_bias", [True, False])
def test_set_weights_then_get_weights_round_trip(use_bias):
    rng = np.random.default_rng(3)
    fused = make_fused("padzero_padding_3", use_bias=use_bias)
    fused.build((None, MAXLEN))
    weights = [rng.normal(size=(VOCAB, FEATURES)), rng.normal(size=(MAXLEN * FEATURES, UNITS)), rng.normal(size=UNITS)]
    weights = [w.astype("float32") for w in weights[: 3 if use_bias else 2]]
    fused.set_weights(weights)
    got = fused.get_weights()
    assert len(got) == len(weights)
    for value, expected in zip(got, weights):
        np.testing.assert_array_equal(value, expected)
    plain = PlainLayers("padzero_padding_3", fused, use_bias=use_bias)
    ids = mixed_batch(rng, 3)
    assert_close(call(fused, ids), call(plain, ids), "outputs after set_weights")


@pytest.mark.parametrize("variant", ["padzero_padding_3", "keras_masked"])
def test_set_weights_before_build_builds_the_layer(variant):
    """Every size is known from the arguments: set_weights builds the layer (and its embedding), then sets."""
    _, padding_idx, _, _ = VARIANTS[variant]
    rng = np.random.default_rng(8)
    weights = [rng.normal(size=(VOCAB, FEATURES)), rng.normal(size=(KERNEL_ROWS, UNITS)), rng.normal(size=UNITS)]
    weights = [w.astype("float32") for w in weights]
    fused = make_fused(variant, activation="tanh")
    assert not fused.built and not fused.embedding.built
    fused.set_weights(weights)
    assert fused.built and fused.embedding.built
    for value, expected in zip(fused.get_weights(), weights):
        np.testing.assert_array_equal(value, expected)
    plain = PlainLayers(variant, fused, activation="tanh")
    for value, expected in zip([to_numpy(v) for v in plain.weight_variables()], weights):
        np.testing.assert_array_equal(value, expected)
    ids = mixed_batch(rng, padding_idx)
    assert_close(call(fused, ids), call(plain, ids), "outputs after set_weights on an unbuilt layer")


def test_set_weights_that_do_not_fit_leave_an_unbuilt_layer_unbuilt():
    fused = make_fused("padzero", name="fused")
    with pytest.raises(ValueError, match=re.escape("Layer 'fused' expects its kernel of shape (40, 3)")):
        fused.set_weights([np.ones((VOCAB, FEATURES)), np.ones((KERNEL_ROWS + 1, UNITS)), np.ones(UNITS)])
    assert not fused.built and not fused.embedding.built


@pytest.mark.parametrize("kind", ["padzero", "keras"])
def test_get_weights_before_build_gives_the_initial_weights(kind):
    keras.utils.set_random_seed(3)
    unbuilt = EmbeddingFlattenDense(make_embedding(kind, 0), UNITS, maxlen=MAXLEN, blocks=BLOCKS)
    weights = unbuilt.get_weights()
    assert unbuilt.built
    keras.utils.set_random_seed(3)
    built = EmbeddingFlattenDense(make_embedding(kind, 0), UNITS, maxlen=MAXLEN, blocks=BLOCKS)
    built.build((None, MAXLEN))
    assert [w.shape for w in weights] == [(VOCAB, FEATURES), (KERNEL_ROWS, UNITS), (UNITS,)]
    for value, expected in zip(weights, built.get_weights()):
        np.testing.assert_array_equal(value, expected)


TABLE, KERNEL, BIAS = (30, 4), (40, 3), (3,)


@pytest.mark.parametrize(
    "use_bias, shapes, message",
    [
        (True, [TABLE, KERNEL], "takes 3 weights (table, kernel, bias); received 2."),
        (True, [TABLE, KERNEL, BIAS, BIAS], "takes 3 weights (table, kernel, bias); received 4."),
        (False, [TABLE, KERNEL, BIAS], "takes 2 weights (table, kernel); received 3."),
        (True, [(31, 4), KERNEL, BIAS], "expects its table of shape (30, 4); received shape (31, 4)."),
        (True, [TABLE, (39, 3), BIAS], "expects its kernel of shape (40, 3); received shape (39, 3)."),
        (True, [TABLE, (10, 4, 3), BIAS], "expects its kernel of shape (40, 3); received shape (10, 4, 3)."),
        (True, [TABLE, KERNEL, (4,)], "expects its bias of shape (3,); received shape (4,)."),
    ],
)
def test_set_weights_of_the_wrong_count_or_shape_raise_one_line(use_bias, shapes, message):
    assert (TABLE, KERNEL, BIAS) == ((VOCAB, FEATURES), (KERNEL_ROWS, UNITS), (UNITS,))
    fused = make_fused("keras", use_bias=use_bias, name="fused")
    fused.build((None, MAXLEN))
    before = fused.get_weights()
    with pytest.raises(ValueError) as caught:
        fused.set_weights([np.ones(shape, "float32") for shape in shapes])
    assert str(caught.value) == f"Layer 'fused' {message}"
    for value, expected in zip(fused.get_weights(), before):  # nothing assigned
        np.testing.assert_array_equal(value, expected)


# --- config and saving ----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["padzero_padding_3", "keras_masked_padding_5"])
def test_config_round_trip(variant):
    fused = make_fused(variant, activation="relu", use_bias=False, kernel_initializer="he_normal", name="fused")
    config = fused.get_config()
    clone = EmbeddingFlattenDense.from_config(config)
    assert clone.get_config() == config
    assert type(clone.embedding) is type(fused.embedding) and clone.embedding is not fused.embedding
    assert (clone.padding_idx, clone.zero_padding, clone.blocks, clone.maxlen) == (
        fused.padding_idx,
        fused.zero_padding,
        fused.blocks,
        fused.maxlen,
    )
    fused.build((None, MAXLEN))
    clone.build((None, MAXLEN))
    clone.set_weights(fused.get_weights())
    ids = mixed_batch(np.random.default_rng(0), fused.padding_idx)
    np.testing.assert_array_equal(call(clone, ids), call(fused, ids))


@pytest.mark.parametrize("variant", ["padzero_padding_3", "keras_masked"])
def test_keras_file_round_trip(tmp_path, variant):
    _, padding_idx, _, _ = VARIANTS[variant]
    inputs = keras.Input((MAXLEN,), dtype="int32")
    fused = make_fused(variant, activation="tanh", bias_initializer="random_normal", name="fused")
    model = keras.Model(inputs, keras.layers.Dense(2)(fused(inputs)))
    path = tmp_path / "model.keras"
    keras.saving.save_model(model, path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    layer = loaded.get_layer("fused")
    assert type(layer) is EmbeddingFlattenDense and type(layer.embedding) is type(fused.embedding)
    assert json.loads(json.dumps(layer.get_config())) == json.loads(json.dumps(fused.get_config()))
    for value, expected in zip(layer.get_weights(), fused.get_weights()):
        np.testing.assert_array_equal(value, expected)
    ids = mixed_batch(np.random.default_rng(1), padding_idx)
    np.testing.assert_array_equal(call(loaded, ids), call(model, ids))


# --- training -------------------------------------------------------------------------------------


def twin_models(variant):
    """The fused layer and the plain layers in functional models with the same weights and a Dense head."""
    kind, padding_idx, _, _ = VARIANTS[variant]
    keras.utils.set_random_seed(1)
    ids = keras.Input((MAXLEN,), dtype="int32")
    fused = make_fused(variant, activation="tanh", bias_initializer="random_normal")
    head = keras.layers.Dense(3)
    fused_model = keras.Model(ids, head(fused(ids)))

    plain_ids = keras.Input((MAXLEN,), dtype="int32")
    embedding = make_embedding(kind, padding_idx)
    embedded = embedding(plain_ids)
    if kind == "keras" and fused.zero_padding:
        embedded = embedded * ops.expand_dims(ops.cast(ops.not_equal(plain_ids, padding_idx), "float32"), -1)
    dense = keras.layers.Dense(UNITS, activation="tanh")
    plain_head = keras.layers.Dense(3)
    plain_model = keras.Model(plain_ids, plain_head(dense(keras.layers.Flatten()(embedded))))
    weights = fused.get_weights()
    embedding.set_weights(weights[:1])
    dense.set_weights(weights[1:])
    plain_head.set_weights(head.get_weights())

    def fused_weights():
        return fused.get_weights() + head.get_weights()

    def plain_weights():
        return embedding.get_weights() + dense.get_weights() + plain_head.get_weights()

    return (fused_model, fused_weights), (plain_model, plain_weights)


def training_data(every_block_in_every_batch):
    """8 rows pre-padded with id 0, 2 batches of 4; real tokens (ids 1 to 8) repeat, as in text."""
    rng = np.random.default_rng(2)
    # Rows of 7 or more tokens reach the first block: one in each batch, or in the first only.
    lengths = [10, 3, 6, 1, 8, 5, 2, 4] if every_block_in_every_batch else [10, 3, 6, 1, 5, 4, 2, 6]
    ids = np.zeros((8, MAXLEN), "int32")
    for row, length in enumerate(lengths):
        ids[row, MAXLEN - length :] = rng.integers(1, 9, size=length)
    return ids, rng.integers(0, 3, size=8)


def train_twins(variant, optimizer, every_block_in_every_batch=True):
    assert VARIANTS[variant][1] == 0
    ids, labels = training_data(every_block_in_every_batch)
    trained = []
    for model, weights in twin_models(variant):
        initial = weights()
        model.compile(optimizer=optimizer(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(ids, labels, batch_size=4, epochs=1, shuffle=False, verbose=0)
        trained.append((initial, weights()))
    return trained


def assert_same_training(trained):
    (fused_initial, fused_trained), (plain_initial, plain_trained) = trained
    names = ["table", "kernel", "bias", "head kernel", "head bias"]
    for name, fused, plain in zip(names, fused_initial, plain_initial):
        np.testing.assert_array_equal(fused, plain, err_msg=f"initial {name}")
    for name, before, fused, plain in zip(names, plain_initial, fused_trained, plain_trained):
        assert not np.allclose(plain, before, atol=1e-4), f"{name} did not train"
        np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-6, err_msg=name)


TF_SPARSE_ADAM = (
    "keras.layers.Embedding on TensorFlow differentiates its gather into one tf.IndexedSlices slice per gathered "
    "id, and Keras's Adam squares each slice before repeats of an id are summed (one step of slices [1, 1] and "
    "[-0.9, 1] on one row moves it by [-0.0007, -0.0141], not [-0.01, -0.01]); the fused layer gathers per block of "
    "positions and skips padding blocks, so its slices differ from the plain layers' and Adam's steps with them. "
    "The gradients are equal, and SGD trains alike."
)


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(
            variant,
            marks=pytest.mark.xfail(BACKEND == "tensorflow" and variant == "keras", strict=True, reason=TF_SPARSE_ADAM),
        )
        for variant in TRAINED_VARIANTS
    ],
)
def test_fit_with_adam_trains_as_the_plain_layers(variant):
    """Two steps of Adam in `fit` (compiled on JAX and TensorFlow): the same weights as the plain model."""
    assert_same_training(train_twins(variant, lambda: keras.optimizers.Adam(learning_rate=0.01)))


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the Adam test above passes on this backend for these variants")
@pytest.mark.parametrize("variant", ["keras"])
def test_fit_with_sgd_trains_as_the_plain_layers(variant):
    """SGD is linear in the gradient: however the table gradient is represented, the steps are the plain ones.

    The training evidence on TensorFlow for the variants whose Adam test fails there.
    """
    assert_same_training(train_twins(variant, lambda: keras.optimizers.SGD(learning_rate=0.5)))


def test_fit_with_adam_trains_as_the_plain_layers_when_a_block_is_all_padding():
    """The second batch holds no real token in the first block (as most batches of long pre-padded texts).

    The block's kernel must get a zero gradient, not none: Adam's momentum moves it on the plain layers.
    """
    variant = "keras_masked"  # the one variant that trains with Adam as the plain layers on TensorFlow
    adam = lambda: keras.optimizers.Adam(learning_rate=0.01)  # noqa: E731
    assert_same_training(train_twins(variant, adam, every_block_in_every_batch=False))


# --- refused arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("embedding", [keras.layers.Dense(4), None, "embedding", 30])
def test_embedding_must_be_an_embedding_layer(embedding):
    message = r"^embedding must be a padzero\.Embedding or keras\.layers\.Embedding layer\. Received: embedding="
    with pytest.raises(ValueError, match=message) as caught:
        EmbeddingFlattenDense(embedding, UNITS, maxlen=MAXLEN)
    assert "\n" not in str(caught.value)


def test_a_built_lora_or_quantized_embedding_is_refused():
    lora = keras.layers.Embedding(VOCAB, FEATURES)
    lora.build()
    lora.enable_lora(2)
    quantized = padzero.Embedding(VOCAB, FEATURES)
    quantized.build()
    quantized.quantize("int8")
    for embedding in (lora, quantized):
        message = "uses LoRA or quantization, which EmbeddingFlattenDense does not support"
        with pytest.raises(ValueError, match=message) as caught:
            EmbeddingFlattenDense(embedding, UNITS, maxlen=MAXLEN)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("change", ["model.quantize", "enable_lora"])
def test_lora_or_quantization_after_construction_is_refused(change):
    """The block product reads the table itself: quantized int8 (unscaled) or without LoRA it would be wrong."""
    inputs = keras.Input((MAXLEN,), dtype="int32")
    fused = make_fused("padzero")
    model = keras.Model(inputs, fused(inputs))
    weights = fused.get_weights()
    if change == "model.quantize":
        model.quantize("int8")  # Keras quantizes every layer it can, the fused layer's embedding among them
        assert fused.embedding.quantization_mode == "int8"
    else:
        fused.embedding.enable_lora(2)
    ids = mixed_batch(np.random.default_rng(9), 0)
    for action in (lambda: fused(ids), lambda: model.predict(ids, verbose=0), fused.get_weights):
        with pytest.raises(ValueError, match="uses LoRA or quantization, which EmbeddingFlattenDense does not support"):
            action()
    with pytest.raises(ValueError, match="uses LoRA or quantization"):
        fused.set_weights(weights)


@pytest.mark.parametrize("kind", ["padzero", "keras"])
def test_an_unbuilt_embedding_with_lora_rank_is_refused(kind):
    """Keras enables LoRA only at build: `lora_rank` alone must be refused (set_weights could not assign the table)."""
    embedding = (padzero.Embedding if kind == "padzero" else keras.layers.Embedding)(VOCAB, FEATURES, lora_rank=2)
    with pytest.raises(ValueError, match="LoRA"):  # at construction or at the latest when built
        layer = EmbeddingFlattenDense(embedding, UNITS, maxlen=MAXLEN)
        layer.build((None, MAXLEN))


@pytest.mark.parametrize("padding_idx", [VOCAB, -1, 100, True, 1.0, "0", np.float32(2)])
def test_padding_idx_out_of_range_or_not_an_int_is_refused(padding_idx):
    message = r"^padding_idx must be an int in \[0, input_dim\) = \[0, 30\)\. Received: padding_idx="
    with pytest.raises(ValueError, match=message) as caught:
        EmbeddingFlattenDense(keras.layers.Embedding(VOCAB, FEATURES), UNITS, maxlen=MAXLEN, padding_idx=padding_idx)
    assert "\n" not in str(caught.value)


def test_padding_idx_must_be_the_padzero_embeddings():
    embedding = padzero.Embedding(VOCAB, FEATURES, padding_idx=3)
    message = r"^padding_idx=0 differs from the embedding's padding_idx=3; leave padding_idx=None"
    with pytest.raises(ValueError, match=message):
        EmbeddingFlattenDense(embedding, UNITS, maxlen=MAXLEN, padding_idx=0)
    assert EmbeddingFlattenDense(embedding, UNITS, maxlen=MAXLEN, padding_idx=np.int64(3)).padding_idx == 3
    last = padzero.Embedding(VOCAB, FEATURES, padding_idx=-1)
    assert EmbeddingFlattenDense(last, UNITS, maxlen=MAXLEN).padding_idx == VOCAB - 1


@pytest.mark.parametrize("kind, zero_padding", [("padzero", False), ("keras", "yes"), ("keras", 1), ("padzero", 0)])
def test_zero_padding_refused(kind, zero_padding):
    message = r"^zero_padding must be None, True, or False with a keras\.layers\.Embedding"
    with pytest.raises(ValueError, match=message) as caught:
        EmbeddingFlattenDense(make_embedding(kind, 0), UNITS, maxlen=MAXLEN, zero_padding=zero_padding)
    assert repr(zero_padding) in str(caught.value) and "\n" not in str(caught.value)


def test_default_padding_rules():
    assert EmbeddingFlattenDense(padzero.Embedding(VOCAB, FEATURES), UNITS, maxlen=MAXLEN).zero_padding is True
    keras_default = EmbeddingFlattenDense(keras.layers.Embedding(VOCAB, FEATURES), UNITS, maxlen=MAXLEN)
    assert (keras_default.padding_idx, keras_default.zero_padding) == (0, False)
    # padzero.Embedding(padding_idx=None) embeds every id to its row, as Keras's.
    no_padding = EmbeddingFlattenDense(padzero.Embedding(VOCAB, FEATURES, padding_idx=None), UNITS, maxlen=MAXLEN)
    assert (no_padding.padding_idx, no_padding.zero_padding) == (0, False)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"units": 0}, "units must be a positive integer; received units=0"),
        ({"maxlen": -1}, "maxlen must be a positive integer; received maxlen=-1"),
        ({"blocks": 0}, "blocks must be a positive integer; received blocks=0"),
        ({"blocks": 2.0}, "blocks must be a positive integer; received blocks=2.0"),
    ],
)
def test_invalid_sizes_raise(arguments, message):
    arguments = {"units": UNITS, "maxlen": MAXLEN, **arguments}
    with pytest.raises(ValueError, match=f"^{message}$"):
        EmbeddingFlattenDense(keras.layers.Embedding(VOCAB, FEATURES), **arguments)


# --- input shapes ---------------------------------------------------------------------------------


def width_message(length, batch):
    """The error (a regular expression) for ids of `length` per example in a batch of `batch` (None: symbolic)."""
    return re.escape(
        f"Inputs must hold maxlen={MAXLEN} ids per example; received {length} ids per example "
        f"(input shape ({batch}, {length})). Pad or truncate every example to {MAXLEN} ids"
    )


UNKNOWN_WIDTH = re.escape(
    f"Inputs must hold maxlen={MAXLEN} ids per example; received an unknown number of ids per example "
    f"(input shape (None, None)). Give the model keras.Input(shape=({MAXLEN},))"
)


@pytest.mark.parametrize("length", [MAXLEN - 1, MAXLEN + 1])
def test_inputs_of_another_width_are_refused_at_build(length):
    with pytest.raises(ValueError, match=f"^{width_message(length, None)}") as caught:
        make_fused("keras").build((None, length))
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match=width_message(length, 2)):
        make_fused("padzero")(np.ones((2, length), "int32"))
    with pytest.raises(ValueError, match=width_message(length, None)):
        make_fused("keras_masked")(keras.Input((length,), dtype="int32"))


def compiled_call(layer, ids):
    """`layer.stateless_call` on ids, compiled: in `jax.jit` or a `tf.function` (traced, so shapes only)."""
    if BACKEND == "jax":
        import jax

        return jax.jit(lambda values, ids: layer.stateless_call(*values, ids)[0])(values(layer), ids)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(lambda ids: layer.stateless_call(*values(layer), ids)[0])(ids)
    pytest.skip("Keras runs PyTorch eagerly: the eager call is the compiled one")


@pytest.mark.parametrize("length", [MAXLEN - 3, MAXLEN + 5])
@pytest.mark.parametrize("how", ["eager", "stateless_call", "compiled", "symbolic"])
def test_a_built_layer_refuses_another_width_on_every_call(how, length):
    """Not only the first call: the blocks slice ids by position, so 15 ids would be read as their first 10."""
    rng = np.random.default_rng(4)
    fused = make_fused("padzero")
    ids = mixed_batch(rng, 0)
    expected = call(fused, ids)  # built for MAXLEN ids
    other = real_tokens(rng, (len(ids), length), 0).astype("int32")
    if how == "symbolic":
        other, batch = keras.Input((length,), dtype="int32"), None
    else:
        batch = len(ids)
    with pytest.raises(ValueError, match=width_message(length, batch)) as caught:
        if how == "stateless_call":
            fused.stateless_call(*values(fused), other)
        elif how == "compiled":
            compiled_call(fused, other)
        else:
            fused(other)
    if how == "stateless_call":  # no Keras __call__ around it to add context: the error itself
        assert "\n" not in str(caught.value)
    np.testing.assert_array_equal(call(fused, ids), expected)


@pytest.mark.parametrize("method", ["predict", "predict_on_batch", "fit", "evaluate"])
def test_a_model_built_for_maxlen_ids_refuses_other_widths(method):
    """On JAX Keras's model runs the layer on whatever width it is given; the layer refuses it, as Dense would."""
    inputs = keras.Input((MAXLEN,), dtype="int32")
    model = keras.Model(inputs, make_fused("padzero")(inputs))
    model.compile(loss="mse")
    length = MAXLEN + 5
    ids = real_tokens(np.random.default_rng(5), (4, length), 0).astype("int32")
    targets = np.zeros((4, UNITS), "float32")
    # Keras's functional model checks its input shape itself on TensorFlow and PyTorch, before the layer.
    keras_own = re.escape(f"expected shape=(None, {MAXLEN}), found shape=(") + rf"(4|None), {length}\)"
    with pytest.raises(ValueError, match=f"{width_message(length, 4)}|{keras_own}"):
        if method == "predict":
            model.predict(ids, verbose=0)
        elif method == "predict_on_batch":
            model.predict_on_batch(ids)
        elif method == "fit":
            model.fit(ids, targets, verbose=0)
        else:
            model.evaluate(ids, targets, verbose=0)


def test_a_tensorflow_graph_traced_for_any_width_checks_it_when_run():
    """A `tf.function` or a `tf.data` pipeline of unknown width: the width is checked when the graph runs."""
    if BACKEND != "tensorflow":
        pytest.skip("only TensorFlow traces a layer for ids of unknown width")
    import tensorflow as tf

    rng = np.random.default_rng(6)
    fused = make_fused("padzero")
    ids = mixed_batch(rng, 0)
    expected = call(fused, ids)
    graph = tf.function(fused, input_signature=[tf.TensorSpec((None, None), tf.int32)])
    np.testing.assert_allclose(to_numpy(graph(ids)), expected, rtol=1e-6, atol=1e-6)
    runtime_message = re.escape(f"Inputs must hold maxlen={MAXLEN} ids per example; received] [{MAXLEN + 5}]")
    with pytest.raises(tf.errors.InvalidArgumentError, match=runtime_message):
        graph(real_tokens(rng, (3, MAXLEN + 5), 0).astype("int32"))

    inputs = keras.Input((MAXLEN,), dtype="int32")
    model = keras.Model(inputs, make_fused("padzero")(inputs))
    model.compile(loss="mse")

    def unknown_width(length):
        rows = [(real_tokens(rng, length, 0).astype("int32"), np.zeros(UNITS, "float32")) for _ in range(4)]
        signature = (tf.TensorSpec((None,), tf.int32), tf.TensorSpec((UNITS,), tf.float32))
        return tf.data.Dataset.from_generator(lambda: iter(rows), output_signature=signature).batch(2)

    assert unknown_width(MAXLEN).element_spec[0].shape.as_list() == [None, None]
    model.fit(unknown_width(MAXLEN), verbose=0)  # the right width at run time trains
    with pytest.raises(tf.errors.InvalidArgumentError, match=runtime_message):
        model.fit(unknown_width(MAXLEN + 5), verbose=0)


def test_an_unknown_width_is_refused_when_built_as_the_plain_layers_refuse_it():
    """`keras.Input(shape=(None,))`: the kernel needs maxlen ids, and a model of unknown width could be fed any."""
    with pytest.raises(ValueError, match=f"^{UNKNOWN_WIDTH}") as caught:
        make_fused("keras").build((None, None))
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match=UNKNOWN_WIDTH):
        make_fused("padzero")(keras.Input((None,), dtype="int32"))
    built = make_fused("padzero")
    built.build((None, MAXLEN))
    with pytest.raises(ValueError, match=UNKNOWN_WIDTH):
        built(keras.Input((None,), dtype="int32"))
    # Dense after Flatten needs the width too.
    with pytest.raises(ValueError, match=r"must be fully-defined \(no `None` dimensions\)"):
        embedded = keras.layers.Embedding(VOCAB, FEATURES)(keras.Input((None,), dtype="int32"))
        keras.layers.Dense(UNITS)(keras.layers.Flatten()(embedded))


@pytest.mark.parametrize("shape", [(3, MAXLEN, 1), (MAXLEN,)])
@pytest.mark.parametrize("how", ["stateless_call", "compiled"])
def test_a_built_layer_refuses_ids_of_another_rank(how, shape):
    """Keras's InputSpec refuses them in `layer(ids)`; `stateless_call` (how Keras's JAX trainer runs a layer) skips it."""
    fused = make_fused("padzero")
    fused.build((None, MAXLEN))
    ids = np.ones(shape, "int32")
    message = re.escape(
        f"Inputs must be a 2D tensor of ids (batch_size, maxlen={MAXLEN}); received input shape {shape}."
    )
    with pytest.raises(ValueError, match=message):
        if how == "stateless_call":
            fused.stateless_call(*values(fused), ids)
        else:
            compiled_call(fused, ids)


@pytest.mark.parametrize("padding_idx", [0, None])
def test_an_empty_batch_gives_zero_rows_like_the_plain_layers(padding_idx):
    # On PyTorch it once raised "Can not infer total number of classes from empty tensor" (a one-hot of 0 classes).
    layer = EmbeddingFlattenDense(padzero.Embedding(VOCAB, FEATURES, padding_idx=padding_idx), UNITS, maxlen=MAXLEN)
    plain = keras.Sequential(
        [
            keras.Input((MAXLEN,), dtype="int32"),
            padzero.Embedding(VOCAB, FEATURES),
            keras.layers.Flatten(),
            keras.layers.Dense(UNITS),
        ]
    )
    empty = np.zeros((0, MAXLEN), "int32")
    assert tuple(layer(empty).shape) == tuple(plain(empty).shape) == (0, UNITS)
