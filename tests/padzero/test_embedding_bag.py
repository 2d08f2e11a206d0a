"""padzero.EmbeddingBag against PyTorch's nn.functional.embedding_bag, and each backend's form against the portable one.

PyTorch is the oracle for outputs, gradients and training; `reduce_bags_portable` (`keras.ops`
only) is the reference each backend's own form (`reduce_bags`) is held to, outputs and gradients.
"""

import keras
import numpy as np
import pytest
from keras import ops

import padzero
from padzero.bag_reduction import reduce_bags, reduce_bags_portable

pytestmark = pytest.mark.per_backend

torch = pytest.importorskip("torch")  # the reference implementation of nn.EmbeddingBag

BACKEND = keras.backend.backend()
MODES = ["sum", "mean", "max"]
INPUT_DIM, OUTPUT_DIM, SHAPE = 30, 4, (6, 9)


def random_ids(rng, padding_idx, shape=SHAPE, input_dim=INPUT_DIM):
    """Ids with about half padding, ids repeated within bags, and a last bag of padding only."""
    ids = rng.integers(0, input_dim, size=shape)
    if padding_idx is not None:
        padding_idx %= input_dim
        ids[rng.random(shape) < 0.5] = padding_idx
        ids[-1] = padding_idx
    ids[0, :3] = ids[0, 3]  # one id three times more in a bag: max ties, repeated gradients
    return ids.astype("int32")


def random_table(rng, input_dim=INPUT_DIM):
    return rng.standard_normal((input_dim, OUTPUT_DIM)).astype("float32")


def to_numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


def torch_embedding_bag(table, ids, upstream, mode, padding_idx, per_sample_weights=None):
    """Outputs, table gradient and weights gradient of sum(embedding_bag(...) * upstream), from PyTorch."""
    table = torch.tensor(table, requires_grad=True)
    weights = None if per_sample_weights is None else torch.tensor(per_sample_weights, requires_grad=True)
    outputs = torch.nn.functional.embedding_bag(
        torch.as_tensor(ids, dtype=torch.long), table, mode=mode, padding_idx=padding_idx, per_sample_weights=weights
    )
    (outputs * torch.as_tensor(upstream)).sum().backward()
    weights_gradient = None if weights is None else weights.grad.numpy()
    return outputs.detach().numpy(), table.grad.numpy(), weights_gradient


def value_and_gradients(function, upstream, *arrays):
    """`function(*tensors)` and the gradients of `sum(function(*tensors) * upstream)` w.r.t. each array, as NumPy."""
    if BACKEND == "jax":
        import jax

        def outputs_and_gradients(upstream, *arrays):
            outputs, pullback = jax.vjp(function, *arrays)
            return outputs, pullback(upstream)

        # Compiled whole, as Keras's JAX trainer runs a step: one compilation per case.
        outputs, gradients = jax.jit(outputs_and_gradients)(upstream, *arrays)
        return np.asarray(outputs), [np.asarray(gradient) for gradient in gradients]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tensors = [tf.constant(array) for array in arrays]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            outputs = function(*tensors)
        gradients = tape.gradient(outputs, tensors, output_gradients=tf.constant(upstream))
        return outputs.numpy(), [
            np.zeros_like(array) if gradient is None else tf.convert_to_tensor(gradient).numpy()
            for array, gradient in zip(arrays, gradients)
        ]
    tensors = [torch.tensor(array, requires_grad=True) for array in arrays]
    outputs = function(*tensors)
    outputs.backward(torch.as_tensor(upstream))
    return outputs.detach().numpy(), [
        np.zeros_like(array) if tensor.grad is None else tensor.grad.numpy() for array, tensor in zip(arrays, tensors)
    ]


def layer_value_and_gradients(layer, ids, upstream, per_sample_weights=None):
    """The layer's outputs, and the gradients of its table (and of the weights, if given)."""
    layer.build()
    if per_sample_weights is None:
        outputs, (table_gradient,) = value_and_gradients(
            lambda table: layer.stateless_call([table], [], ids)[0], upstream, to_numpy(layer.embeddings)
        )
        return outputs, table_gradient, None
    outputs, (table_gradient, weights_gradient) = value_and_gradients(
        lambda table, weights: layer.stateless_call([table], [], ids, per_sample_weights=weights)[0],
        upstream,
        to_numpy(layer.embeddings),
        per_sample_weights,
    )
    return outputs, table_gradient, weights_gradient


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding_idx", [0, -1, None])
def test_outputs_and_table_gradient_match_pytorch(mode, padding_idx):
    rng = np.random.default_rng(0)
    table = random_table(rng)  # a non-zero padding row, as after set_weights: PyTorch skips it, so must we
    layer = padzero.EmbeddingBag(INPUT_DIM, OUTPUT_DIM, mode=mode, padding_idx=padding_idx, weights=table)
    ids = random_ids(rng, padding_idx)
    upstream = rng.standard_normal((SHAPE[0], OUTPUT_DIM)).astype("float32")

    expected_outputs, expected_gradient, _ = torch_embedding_bag(table, ids, upstream, mode, padding_idx)
    outputs, gradient, _ = layer_value_and_gradients(layer, ids, upstream)

    np.testing.assert_allclose(outputs, expected_outputs, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-6, atol=1e-6)
    if padding_idx is not None:
        assert np.all(gradient[padding_idx] == 0.0)
        assert np.all(outputs[-1] == 0.0)  # a bag of padding only


@pytest.mark.parametrize("padding_idx", [0, None])
def test_per_sample_weights_match_pytorch(padding_idx):
    rng = np.random.default_rng(1)
    table = random_table(rng)
    layer = padzero.EmbeddingBag(INPUT_DIM, OUTPUT_DIM, mode="sum", padding_idx=padding_idx, weights=table)
    ids = random_ids(rng, padding_idx)
    weights = rng.uniform(-2, 2, SHAPE).astype("float32")
    upstream = rng.standard_normal((SHAPE[0], OUTPUT_DIM)).astype("float32")

    expected = torch_embedding_bag(table, ids, upstream, "sum", padding_idx, weights)
    for value, reference in zip(layer_value_and_gradients(layer, ids, upstream, weights), expected):
        np.testing.assert_allclose(value, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "padding_idx, mode, weighted",
    [
        (7, "sum", True),
        (7, "mean", False),
        (7, "max", False),
        (None, "sum", False),
        (None, "sum", True),
        (None, "mean", False),
        (None, "max", False),
    ],
)
def test_backend_form_matches_the_portable_form(padding_idx, mode, weighted):
    rng = np.random.default_rng(2)
    table = random_table(rng)
    table[7] = np.nan  # the padding row in one case, a row the ids never hold in the others
    ids = random_ids(rng, padding_idx)
    ids[ids == 7] = 7 if padding_idx == 7 else 8
    arrays = [table] + ([rng.uniform(-2, 2, SHAPE).astype("float32")] if weighted else [])
    upstream = rng.standard_normal((SHAPE[0], OUTPUT_DIM)).astype("float32")
    tensor_ids = ops.convert_to_tensor(ids)

    def form(reduce):
        return lambda table, *weights: reduce(table, tensor_ids, mode, padding_idx, *weights)

    outputs, gradients = value_and_gradients(form(reduce_bags), upstream, *arrays)
    expected_outputs, expected_gradients = value_and_gradients(form(reduce_bags_portable), upstream, *arrays)
    np.testing.assert_allclose(outputs, expected_outputs, rtol=1e-6, atol=1e-6)
    for gradient, expected in zip(gradients, expected_gradients):
        np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(outputs)) and all(np.all(np.isfinite(gradient)) for gradient in gradients)
    if padding_idx == 7:
        assert np.all(gradients[0][7] == 0.0)


@pytest.mark.parametrize(
    "mode, bad_value", [("sum", np.nan), ("mean", np.nan), ("mean", np.inf), ("max", np.nan), ("max", -np.inf)]
)
def test_padding_row_never_reaches_the_output_whatever_it_holds(mode, bad_value):
    rng = np.random.default_rng(3)
    table = random_table(rng)
    table[0] = bad_value
    layer = padzero.EmbeddingBag(INPUT_DIM, OUTPUT_DIM, mode=mode, weights=table)
    ids = random_ids(rng, padding_idx=0)
    outputs, gradient, _ = layer_value_and_gradients(layer, ids, np.ones((SHAPE[0], OUTPUT_DIM), "float32"))
    expected, expected_gradient, _ = torch_embedding_bag(table, ids, np.ones((SHAPE[0], OUTPUT_DIM)), mode, 0)
    np.testing.assert_allclose(outputs, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gradient[1:], expected_gradient[1:], rtol=1e-6, atol=1e-6)
    assert np.all(outputs[-1] == 0.0) and np.all(np.isfinite(outputs))
    assert np.all(gradient[0] == 0.0)


@pytest.mark.parametrize("mode", MODES)
def test_a_bag_of_padding_only_gives_zeros(mode):
    table = np.full((10, 3), -4.0, "float32")  # a max over nothing must not come out as -4 or -inf
    layer = padzero.EmbeddingBag(10, 3, mode=mode, padding_idx=2, weights=table)
    outputs = to_numpy(layer(np.array([[2, 2, 2], [2, 1, 2]])))
    assert outputs[0].tolist() == [0.0, 0.0, 0.0]
    assert outputs[1].tolist() == [-4.0, -4.0, -4.0]


def test_the_mean_counts_real_ids_only():
    table = np.arange(30, dtype="float32").reshape(10, 3)
    layer = padzero.EmbeddingBag(10, 3, mode="mean", weights=table)
    outputs = to_numpy(layer(np.array([[0, 0, 0, 1, 3]])))
    np.testing.assert_allclose(outputs[0], (table[1] + table[3]) / 2)  # padding counted: divided by 5


def test_negative_padding_idx_counts_from_the_end():
    layer = padzero.EmbeddingBag(10, 3, padding_idx=-1, weights=np.ones((10, 3), "float32"))
    assert layer.padding_idx == 9 and layer.get_config()["padding_idx"] == 9
    assert to_numpy(layer(np.array([[9, 9, 3]]))).tolist() == [[1.0, 1.0, 1.0]]


def test_padding_row_initialised_to_zero_and_pretrained_table_kept():
    layer = padzero.EmbeddingBag(10, 3, padding_idx=7)
    layer.build()
    table = to_numpy(layer.embeddings)
    assert np.all(table[7] == 0.0) and np.count_nonzero(table[np.arange(10) != 7]) > 0
    pretrained = np.arange(30, dtype="float32").reshape(10, 3) + 1.0
    layer = padzero.EmbeddingBag(10, 3, padding_idx=7, weights=[pretrained])
    np.testing.assert_array_equal(to_numpy(layer.embeddings), pretrained)  # as PyTorch's from_pretrained
    np.testing.assert_array_equal(to_numpy(layer(np.array([[7, 3]])))[0], pretrained[3])


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"input_dim": 0}, r"^input_dim must be a positive integer; received input_dim=0$"),
        ({"output_dim": 2.0}, r"^output_dim must be a positive integer; received output_dim=2\.0$"),
        ({"mode": "avg"}, r"^mode must be one of 'sum', 'mean' or 'max', as in PyTorch; received mode='avg'\.$"),
        ({"mode": None}, r"received mode=None"),
        (
            {"padding_idx": 10},
            (
                r"^padding_idx must be None or an int in \[-input_dim, input_dim\) = \[-10, 10\); "
                r"received padding_idx=10 \(of type int\) with input_dim=10\.$"
            ),
        ),
        ({"padding_idx": -11}, r"\[-input_dim, input_dim\) = \[-10, 10\); received padding_idx=-11 "),
        ({"padding_idx": 1.0}, r"received padding_idx=1\.0 \(of type float\)"),
        ({"padding_idx": True}, r"received padding_idx=True \(of type bool\)"),
    ],
)
def test_bad_arguments_raise_one_line_quoting_the_value(arguments, message):
    with pytest.raises(ValueError, match=message) as caught:
        padzero.EmbeddingBag(**{"input_dim": 10, "output_dim": 3, **arguments})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_per_sample_weights_outside_sum_mode_raise(mode):
    layer = padzero.EmbeddingBag(10, 3, mode=mode)
    expected = rf"^per_sample_weights work only with mode='sum', as in PyTorch; layer '.*' has mode='{mode}'\."
    with pytest.raises(ValueError, match=expected) as caught:
        layer(np.array([[1, 2]]), per_sample_weights=np.ones((1, 2), "float32"))
    assert "\n" not in str(caught.value)


def test_per_sample_weights_of_another_shape_raise():
    layer = padzero.EmbeddingBag(10, 3, mode="sum")
    expected = r"^per_sample_weights must have the shape of the ids, .* of shape \(1, 3\) for ids of shape \(1, 2\)"
    with pytest.raises(ValueError, match=expected) as caught:
        layer(np.array([[1, 2]]), per_sample_weights=np.ones((1, 3), "float32"))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)])
def test_ids_that_are_not_2d_raise(shape):
    expected = rf"^EmbeddingBag ids must be a 2D tensor \(batch_size, length\).*received ids of shape {re_tuple(shape)}"
    with pytest.raises(ValueError, match=expected) as caught:
        padzero.EmbeddingBag(10, 3)(np.ones(shape, "int32"))
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match=rf"received ids of shape {re_tuple((None, *shape[1:]))}"):
        padzero.EmbeddingBag(10, 3)(keras.Input(shape[1:], dtype="int32"))


def re_tuple(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("ids, reported", [([[1, 10, 2]], "10"), ([[1, -1]], "-1"), ([[1.0, 1.5]], "1.5")])
@pytest.mark.parametrize("kind", ["numpy", "tensor"])
def test_out_of_range_ids_raise_in_eager_calls(ids, reported, kind):
    ids = np.array(ids, "float32" if "." in reported else "int32")
    layer = padzero.EmbeddingBag(10, 3)
    expected = rf"ids must be (whole numbers )?in \[0, input_dim\) = \[0, 10\); received id {reported}\b"
    with pytest.raises(ValueError, match=expected):
        layer(ids if kind == "numpy" else ops.convert_to_tensor(ids))


def test_int64_ids_that_a_conversion_would_wrap_raise_naming_the_id_as_given():
    with pytest.raises(ValueError, match=r"received id 4294967296 in layer 'bag'"):
        padzero.EmbeddingBag(10, 3, name="bag")(np.array([[1, 2**32]], "int64"))


BAD_IDS = {
    "None": None,
    "object array holding None": np.array([[0, 1, None]], dtype=object),
    "ragged list": [[1, 2], [3]],
    "strings": np.array([["a", "b"]]),
    "complex": np.array([[0j, 1 + 0j]]),
    "Python int beyond int64": [[1, 2**64]],
    "uint32 2**32-1": np.array([[1, 2**32 - 1]], "uint32"),
    "float32 1.7": np.array([[1.0, 1.7]], "float32"),
    "bool True, input_dim 1": np.array([[False, True]]),
}


@pytest.mark.parametrize("case", sorted(BAD_IDS))
def test_ids_are_refused_in_the_words_of_padzero_embedding(case):
    """The same rules as padzero.Embedding, word for word (padzero.ids holds them once)."""
    input_dim = 1 if "input_dim 1" in case else 10
    messages = []
    for layer in (padzero.Embedding(input_dim, 3, name="layer"), padzero.EmbeddingBag(input_dim, 3, name="layer")):
        with pytest.raises(ValueError) as caught:
            layer(BAD_IDS[case])
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and "\n" not in messages[1]


def test_stateless_call_checks_the_ids_too():
    layer = padzero.EmbeddingBag(10, 3)
    layer.build()
    with pytest.raises(ValueError, match="received id 12"):
        layer.stateless_call([layer.embeddings.value], [], np.array([[1, 12]], "int32"))


def test_string_ids_raise_with_advice():
    with pytest.raises(ValueError, match=r"received string ids of dtype <U1 .*StringLookup"):
        padzero.EmbeddingBag(10, 3)(np.array([["a", "b"]]))


def test_config_round_trip():
    layer = padzero.EmbeddingBag(10, 3, mode="max", padding_idx=-2, embeddings_regularizer="l2", name="bag")
    config = layer.get_config()
    assert (config["mode"], config["padding_idx"], config["name"]) == ("max", 8, "bag")
    assert padzero.EmbeddingBag.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is padzero.EmbeddingBag and restored.get_config() == config


def test_regularizer_adds_a_loss():
    layer = padzero.EmbeddingBag(10, 3, embeddings_regularizer=keras.regularizers.L2(0.1))
    layer(np.array([[1, 2]]))
    assert len(layer.losses) == 1 and float(to_numpy(layer.losses[0])) > 0


def test_compute_output_shape_and_symbolic_calls():
    layer = padzero.EmbeddingBag(10, 3)
    assert layer.compute_output_shape((None, 7)) == (None, 3)
    inputs = keras.Input((7,), dtype="int32")
    assert tuple(layer(inputs).shape) == (None, 3)
    weighted = padzero.EmbeddingBag(10, 3, mode="sum")
    weights = keras.Input((7,))
    model = keras.Model([inputs, weights], weighted(inputs, per_sample_weights=weights))
    ids = np.array([[0, 1, 2, 0, 3, 3, 9]], "int32")
    expected = to_numpy(weighted(ids, per_sample_weights=np.full((1, 7), 2.0, "float32")))
    np.testing.assert_allclose(to_numpy(model([ids, np.full((1, 7), 2.0, "float32")])), expected, rtol=1e-6)


def test_sequential_without_input_builds_on_first_call():
    model = keras.Sequential([padzero.EmbeddingBag(10, 3), keras.layers.Dense(2)])
    assert tuple(to_numpy(model(np.array([[0, 0, 5], [0, 0, 0]], "int32"))).shape) == (2, 2)


def test_empty_batch():
    assert tuple(to_numpy(padzero.EmbeddingBag(10, 3)(np.zeros((0, 5), "int32"))).shape) == (0, 3)


def test_saved_model_loads_with_safe_mode(tmp_path):
    inputs = keras.Input(shape=(6,), dtype="int32")
    outputs = keras.layers.Dense(2)(padzero.EmbeddingBag(10, 3, mode="max", padding_idx=3)(inputs))
    model = keras.Model(inputs, outputs)
    ids = np.array([[3, 3, 1, 2, 9, 3], [3, 3, 3, 3, 3, 3]], "int32")
    model.save(tmp_path / "model.keras")
    # Registered as padzero.Embedding is: `import padzero` is all a fresh process needs to load it.
    assert keras.saving.get_registered_name(padzero.EmbeddingBag) == "padzero>EmbeddingBag"
    restored = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    layer = restored.layers[1]
    assert type(layer) is padzero.EmbeddingBag and (layer.mode, layer.padding_idx) == ("max", 3)
    np.testing.assert_array_equal(to_numpy(restored(ids)), to_numpy(model(ids)))


def train_in_keras(table, kernel, bias, ids, labels, mode, optimizer):
    inputs = keras.Input((ids.shape[1],), dtype="int32")
    bag = padzero.EmbeddingBag(INPUT_DIM, OUTPUT_DIM, mode=mode, weights=table)
    dense = keras.layers.Dense(3)
    model = keras.Model(inputs, dense(bag(inputs)))
    dense.set_weights([kernel, bias])
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(ids, labels, batch_size=4, epochs=1, shuffle=False, verbose=0)  # 3 steps, compiled on JAX and TF
    return [to_numpy(bag.embeddings), *dense.get_weights()]


def train_in_pytorch(table, kernel, bias, ids, labels, mode, optimizer):
    bag = torch.nn.EmbeddingBag(INPUT_DIM, OUTPUT_DIM, mode=mode, padding_idx=0)
    dense = torch.nn.Linear(OUTPUT_DIM, 3)
    with torch.no_grad():
        bag.weight.copy_(torch.tensor(table))
        dense.weight.copy_(torch.tensor(kernel.T))
        dense.bias.copy_(torch.tensor(bias))
    parameters = [bag.weight, dense.weight, dense.bias]
    if optimizer == "sgd":
        step = torch.optim.SGD(parameters, lr=0.1)
    else:  # Keras adds epsilon to sqrt(v) before Adam's bias correction, PyTorch after: a tiny one in both
        step = torch.optim.Adam(parameters, lr=0.05, eps=1e-10)
    for start in range(0, len(ids), 4):
        step.zero_grad()
        logits = dense(bag(torch.as_tensor(ids[start : start + 4], dtype=torch.long)))
        torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels[start : start + 4])).backward()
        step.step()
    return [bag.weight.detach().numpy(), dense.weight.detach().numpy().T, dense.bias.detach().numpy()]


@pytest.mark.parametrize("mode, optimizer", [("sum", "adam"), ("mean", "adam"), ("max", "adam"), ("mean", "sgd")])
def test_fit_trains_as_pytorch(mode, optimizer):
    rng = np.random.default_rng(4)
    table = random_table(rng) * 0.1
    table[0] = 0.0
    kernel, bias = rng.standard_normal((OUTPUT_DIM, 3)).astype("float32"), np.zeros(3, "float32")
    ids = random_ids(rng, 0, shape=(12, 8))
    labels = rng.integers(0, 3, 12)
    keras_optimizer = keras.optimizers.SGD(0.1) if optimizer == "sgd" else keras.optimizers.Adam(0.05, epsilon=1e-10)
    trained = train_in_keras(table, kernel, bias, ids, labels, mode, keras_optimizer)
    expected = train_in_pytorch(table, kernel, bias, ids, labels, mode, optimizer)
    for weights, reference in zip(trained, expected):
        np.testing.assert_allclose(weights, reference, rtol=1e-4, atol=1e-5)
    assert np.all(trained[0][0] == 0.0)
    assert np.abs(trained[0] - table).max() > 0.01  # it trained


def test_tensorflow_ragged_ids_give_the_padded_bags():
    if BACKEND != "tensorflow":
        pytest.skip("ragged tensors are TensorFlow's")
    import tensorflow as tf

    rng = np.random.default_rng(5)
    table = random_table(rng)
    rows = [[3, 4, 4], [], [9, 0, 2, 7], [1]]
    padded = keras.utils.pad_sequences(rows, maxlen=4)
    weights = [rng.uniform(0, 1, len(row)).astype("float32").tolist() for row in rows]
    padded_weights = keras.utils.pad_sequences(weights, maxlen=4, dtype="float32")
    for mode in MODES:
        layer = padzero.EmbeddingBag(INPUT_DIM, OUTPUT_DIM, mode=mode, weights=table)
        np.testing.assert_allclose(
            to_numpy(layer(tf.ragged.constant(rows, dtype=tf.int32))), to_numpy(layer(padded)), rtol=1e-6, atol=1e-6
        )
    layer = padzero.EmbeddingBag(INPUT_DIM, OUTPUT_DIM, mode="sum", weights=table)
    ragged = layer(tf.ragged.constant(rows, dtype=tf.int32), per_sample_weights=tf.ragged.constant(weights))
    np.testing.assert_allclose(to_numpy(ragged), to_numpy(layer(padded, per_sample_weights=padded_weights)), rtol=1e-6)
    with pytest.raises(ValueError, match="received id 30"):
        layer(tf.ragged.constant([[1, 30], [2]]))


def test_tensorflow_models_compile_without_xla():
    if BACKEND != "tensorflow":
        pytest.skip("XLA's refusal of dynamic shapes is TensorFlow's concern here")
    inputs = keras.Input((4,), dtype="int32")
    model = keras.Model(inputs, padzero.EmbeddingBag(10, 3)(inputs))
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        model.compile(loss="mse", jit_compile=True)
    assert model.jit_compile is False
    assert model.predict(np.array([[0, 1, 2, 0]]), verbose=0).shape == (1, 3)


def test_tensorflow_table_gradient_is_sparse_over_unique_ids():
    if BACKEND != "tensorflow":
        pytest.skip("IndexedSlices are TensorFlow's")
    import tensorflow as tf

    ids = np.array([[0, 3, 3, 5], [5, 5, 0, 0]], "int32")
    for mode, weights in (("mean", None), ("max", None), ("sum", np.ones((2, 4), "float32"))):
        layer = padzero.EmbeddingBag(INPUT_DIM, OUTPUT_DIM, mode=mode)
        layer.build()
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(ids, per_sample_weights=weights))
        gradient = tape.gradient(loss, layer.embeddings.value)
        assert isinstance(gradient, tf.IndexedSlices), (mode, type(gradient))
        assert sorted(gradient.indices.numpy().tolist()) == [3, 5]  # once each, and never the padding id


def test_jax_holds_no_batch_by_length_by_dim_tensor():
    """XLA's own accounting of the compiled forward + backward: temporaries far below one (batch, length, dim)."""
    if BACKEND != "jax":
        pytest.skip("XLA's memory analysis of a compiled JAX function")
    import jax

    rng = np.random.default_rng(6)
    batch, length, input_dim, dim = 16, 400, 2000, 64
    table = rng.standard_normal((input_dim, dim)).astype("float32")
    ids = np.zeros((batch, length), "int32")
    ids[:, -40:] = rng.integers(1, input_dim, (batch, 40))
    dense_bytes = batch * length * dim * 4

    def temporaries(form, mode):
        step = jax.jit(jax.value_and_grad(lambda table, ids: form(table, ids, mode, 0).sum()))
        return step.lower(table, ids).compile().memory_analysis().temp_size_in_bytes

    for mode in ("sum", "max"):  # mean is the sum, divided
        assert temporaries(reduce_bags, mode) < dense_bytes / 4, mode
    assert temporaries(reduce_bags_portable, "sum") >= dense_bytes  # so the check above can fail


def test_compiled_calls_give_the_eager_outputs():
    layer = padzero.EmbeddingBag(INPUT_DIM, OUTPUT_DIM, mode="max")
    layer.build()
    ids = random_ids(np.random.default_rng(7), 0)
    expected = to_numpy(layer(ids))
    if BACKEND == "jax":
        import jax

        outputs = jax.jit(lambda table, x: layer.stateless_call([table], [], x)[0])(layer.embeddings.value, ids)
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        outputs = tf.function(lambda x: layer(x))(tf.constant(ids))
    else:
        inputs = keras.Input(SHAPE[1:], dtype="int32")
        outputs = keras.Model(inputs, layer(inputs))(ids)
    np.testing.assert_allclose(to_numpy(outputs), expected, rtol=1e-6)
