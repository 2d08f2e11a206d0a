"""padzero.Embedding against PyTorch's F.embedding(padding_idx=...) and Keras's own Embedding."""

import re
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
from keras import ops
from keras.src import testing as keras_testing  # Keras's run_layer_test (no public alias)

import padzero

pytestmark = pytest.mark.per_backend

torch = pytest.importorskip("torch")  # the reference implementation of padding_idx

# Two shape regimes, so both internal formulations run: a table smaller than
# the output (the padding row is zeroed) and one larger (padded positions are).
SHAPES = {"small_table": (50, 4, (8, 20)), "large_table": (500, 4, (2, 10))}


def random_ids(rng, input_dim, shape, padding_idx, padding_share=0.5):
    ids = rng.integers(0, input_dim, size=shape)
    if padding_idx is not None:
        ids[rng.random(shape) < padding_share] = padding_idx % input_dim
    return ids.astype("int32")


def to_numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


def torch_reference(table, ids, upstream, padding_idx):
    """Outputs and table gradient from PyTorch's nn.functional.embedding."""
    table = torch.tensor(table, requires_grad=True)
    outputs = torch.nn.functional.embedding(torch.as_tensor(ids, dtype=torch.long), table, padding_idx=padding_idx)
    (outputs * torch.as_tensor(upstream)).sum().backward()
    return outputs.detach().numpy(), table.grad.numpy()


@pytest.mark.parametrize("regime", sorted(SHAPES))
@pytest.mark.parametrize("padding_idx", [0, 3, -1, None])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forward_and_gradient_match_pytorch(regime, padding_idx, seed, table_gradient):
    input_dim, output_dim, shape = SHAPES[regime]
    rng = np.random.default_rng(seed)
    layer = padzero.Embedding(input_dim, output_dim, padding_idx=padding_idx)
    layer.build()
    # A non-zero padding row, as after set_weights: PyTorch reads it, we must not.
    table = rng.standard_normal((input_dim, output_dim)).astype("float32")
    layer.set_weights([table])
    ids = random_ids(rng, input_dim, shape, padding_idx)
    upstream = rng.standard_normal((*shape, output_dim)).astype("float32")

    reference_table = table.copy()
    if padding_idx is not None:
        reference_table[padding_idx] = 0.0  # PyTorch's output is zero only while the row is
    expected_outputs, expected_gradient = torch_reference(reference_table, ids, upstream, padding_idx)

    np.testing.assert_allclose(to_numpy(layer(ids)), expected_outputs, rtol=0, atol=0)
    gradient = table_gradient(layer, ids, upstream)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-5, atol=1e-5)
    if padding_idx is not None:
        assert np.all(gradient[padding_idx] == 0.0)


@pytest.mark.parametrize("regime", sorted(SHAPES))
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_padding_is_exactly_zero_whatever_the_row_holds(regime, bad_value, table_gradient):
    input_dim, output_dim, shape = SHAPES[regime]
    rng = np.random.default_rng(0)
    table = rng.standard_normal((input_dim, output_dim)).astype("float32")
    table[0] = bad_value
    layer = padzero.Embedding(input_dim, output_dim, weights=table)
    ids = random_ids(rng, input_dim, shape, padding_idx=0)
    ids[0, 0] = 0
    outputs = to_numpy(layer(ids))
    assert np.all(outputs[ids == 0] == 0.0)
    assert np.all(np.isfinite(outputs))
    gradient = table_gradient(layer, ids, np.ones((*shape, output_dim), "float32"))
    assert np.all(gradient[0] == 0.0)
    assert np.all(np.isfinite(gradient))


def test_padding_row_initialised_to_zero_and_pretrained_table_kept():
    layer = padzero.Embedding(30, 5, padding_idx=7)
    layer.build()
    weights = layer.get_weights()[0]
    assert np.all(weights[7] == 0.0)
    assert np.count_nonzero(weights[np.arange(30) != 7]) > 0

    pretrained = np.arange(30 * 5, dtype="float32").reshape(30, 5) + 1.0
    layer = padzero.Embedding(30, 5, padding_idx=7, weights=pretrained)
    np.testing.assert_array_equal(layer.get_weights()[0], pretrained)  # as PyTorch's from_pretrained
    assert np.all(to_numpy(layer(np.array([[7, 3]])))[0, 0] == 0.0)


def test_negative_padding_idx_counts_from_the_end():
    layer = padzero.Embedding(10, 2, padding_idx=-1)
    assert layer.padding_idx == 9
    assert to_numpy(layer(np.array([[9]]))).tolist() == [[[0.0, 0.0]]]


@pytest.mark.parametrize("padding_idx", [10, -11, 100, 1.0, 0.0, True, False, "0", [0], np.float32(1)])
def test_invalid_padding_idx_is_rejected(padding_idx):
    with pytest.raises(ValueError, match=r"padding_idx.*\[-10, 10\).*received padding_idx="):
        padzero.Embedding(10, 3, padding_idx=padding_idx)


def keras_error(make_layer):
    """The type and message of the error `make_layer()` raises."""
    with pytest.raises((ValueError, TypeError)) as caught:
        make_layer()
    return type(caught.value), str(caught.value)


@pytest.mark.parametrize(
    "size, padding_idx",
    # Without a valid input_dim, padding_idx has no range to be checked against: even "0" leaves the error to Keras.
    [("input_dim", padding_idx) for padding_idx in (0, -1, None, "0", 100)]
    + [("output_dim", padding_idx) for padding_idx in (0, -1, None)],
)
@pytest.mark.parametrize("bad_value", [0, -5, 3.7, 4.0, "10", None, True, False])
def test_invalid_sizes_raise_kerass_own_error(bad_value, size, padding_idx):
    """A drop-in raises what keras.layers.Embedding raises, word for word (Keras's own test checks the words)."""
    sizes = {"input_dim": 10, "output_dim": 3, size: bad_value}
    expected = keras_error(lambda: keras.layers.Embedding(**sizes))
    assert expected[0] is ValueError and f"`{size}` must be a positive integer" in expected[1]
    assert keras_error(lambda: padzero.Embedding(**sizes, padding_idx=padding_idx)) == expected
    # Keras's from_config raises a TypeError that quotes the config (padzero's holds padding_idx too), then the error.
    kind, message = keras_error(lambda: keras.layers.Embedding.from_config(sizes))
    ours_kind, ours = keras_error(lambda: padzero.Embedding.from_config({**sizes, "padding_idx": padding_idx}))
    assert kind is ours_kind is TypeError
    assert ours.split("Exception encountered: ")[1] == message.split("Exception encountered: ")[1] == expected[1]


def test_numpy_integer_sizes_are_stored_as_python_ints():
    layer = padzero.Embedding(np.int64(12), np.int32(3))
    assert type(layer.input_dim) is int and layer.get_config()["input_dim"] == 12
    assert type(layer.output_dim) is int and layer.get_config()["output_dim"] == 3
    assert tuple(layer(np.array([[0, 11]])).shape) == (1, 2, 3)


def test_numpy_integer_padding_idx_is_accepted():
    assert padzero.Embedding(10, 3, padding_idx=np.int64(4)).padding_idx == 4


@pytest.mark.parametrize("regime", sorted(SHAPES))
def test_padding_idx_none_behaves_like_keras_embedding(regime, table_gradient):
    input_dim, output_dim, shape = SHAPES[regime]
    rng = np.random.default_rng(3)
    table = rng.standard_normal((input_dim, output_dim)).astype("float32")
    ours = padzero.Embedding(input_dim, output_dim, padding_idx=None, mask_zero=True, weights=table)
    theirs = keras.layers.Embedding(input_dim, output_dim, mask_zero=True, weights=table)
    ids = random_ids(rng, input_dim, shape, padding_idx=0)
    upstream = rng.standard_normal((*shape, output_dim)).astype("float32")
    np.testing.assert_array_equal(to_numpy(ours(ids)), to_numpy(theirs(ids)))
    np.testing.assert_array_equal(to_numpy(ours.compute_mask(ids)), to_numpy(theirs.compute_mask(ids)))
    np.testing.assert_allclose(table_gradient(ours, ids, upstream), table_gradient(theirs, ids, upstream), atol=1e-6)


def test_fresh_layer_with_default_init_matches_pytorch_forward():
    layer = padzero.Embedding(40, 6)
    ids = random_ids(np.random.default_rng(5), 40, (3, 9), padding_idx=0)
    outputs = to_numpy(layer(ids))
    table = to_numpy(layer.embeddings)
    expected, _ = torch_reference(table, ids, np.zeros((3, 9, 6), "float32"), 0)
    np.testing.assert_array_equal(outputs, expected)


def test_mask_marks_padding_idx_not_zero():
    layer = padzero.Embedding(10, 3, padding_idx=4, mask_zero=True)
    ids = np.array([[0, 4, 5, 4]])
    assert to_numpy(layer.compute_mask(ids)).tolist() == [[True, False, True, False]]


def test_masked_average_pooling_skips_padding_id():
    # With padding_idx=4, a masked average must ignore the id 4 positions only.
    inputs = keras.Input(shape=(4,), dtype="int32")
    layer = padzero.Embedding(10, 3, padding_idx=4, mask_zero=True)
    outputs = keras.layers.GlobalAveragePooling1D()(layer(inputs))
    model = keras.Model(inputs, outputs)
    ids = np.array([[0, 4, 5, 4]])
    table = to_numpy(layer.embeddings)
    np.testing.assert_allclose(to_numpy(model(ids))[0], (table[0] + table[5]) / 2, rtol=1e-6)


@pytest.mark.parametrize("bad_id", [10, -1, 1_000])
def test_out_of_range_ids_raise_in_eager_calls(bad_id):
    layer = padzero.Embedding(10, 3)
    with pytest.raises(ValueError, match=rf"ids must be in \[0, input_dim\) = \[0, 10\); received id {bad_id}"):
        layer(np.array([[1, bad_id, 2]]))


def test_empty_batch_is_fine():
    layer = padzero.Embedding(10, 3)
    assert tuple(to_numpy(layer(np.zeros((0, 5), "int32"))).shape) == (0, 5, 3)


def test_float_ids_are_cast_like_keras():
    layer = padzero.Embedding(10, 3)
    assert np.all(to_numpy(layer(np.array([[0.0, 2.0]], "float32")))[0, 0] == 0.0)


# Ids that a conversion or cast would change before a check on the converted
# tensor could see them: (ids, the id the error must name, as given).
IDS_A_CAST_WOULD_CHANGE = {
    "int64 2**32 (JAX: padding)": (np.array([[1, 2**32]], "int64"), "4294967296"),
    "int64 2**32+5 (JAX: row 5)": (np.array([[1, 2**32 + 5]], "int64"), "4294967301"),
    "uint32 2**32-1 (int32: -1)": (np.array([[1, 2**32 - 1]], "uint32"), "4294967295"),
    "uint64 2**64-1": (np.array([[1, 2**64 - 1]], "uint64"), "18446744073709551615"),
    "float64 NaN (JAX: padding)": (np.array([[1.0, np.nan]]), "nan"),
    "float32 inf": (np.array([[1.0, np.inf]], "float32"), "inf"),
    "float32 1.7 (row 1)": (np.array([[1.0, 1.7]], "float32"), "1.7"),
    "float64 -0.5 (padding)": (np.array([[1.0, -0.5]]), "-0.5"),
    "float16 2.5": (np.array([[1.0, 2.5]], "float16"), "2.5"),
    "float32 12.0 (out of range)": (np.array([[1.0, 12.0]], "float32"), "12.0"),
}


def as_kind(ids, kind):
    """`ids` as given to the layer: a NumPy array, a Python list or a tensor of the backend."""
    if kind == "numpy":
        return ids
    if kind == "list":
        return ids.tolist()
    if kind == "bfloat16 tensor":
        return ops.cast(ops.convert_to_tensor(ids.astype("float32")), "bfloat16")
    try:
        tensor = ops.convert_to_tensor(ids)
    except ValueError:  # torch has no uint64 tensors Keras converts to
        pytest.skip(f"Keras makes no {keras.backend.backend()} tensor of {ids.dtype}")
    if not np.array_equal(to_numpy(tensor), ids, equal_nan=True):
        pytest.skip(f"a {keras.backend.backend()} tensor cannot hold {ids.dtype} {ids.max()}")
    return tensor


@pytest.mark.parametrize("kind", ["numpy", "list", "tensor"])
@pytest.mark.parametrize("case", sorted(IDS_A_CAST_WOULD_CHANGE))
def test_ids_that_a_cast_would_change_raise_naming_the_id_as_given(case, kind):
    ids, reported = IDS_A_CAST_WOULD_CHANGE[case]
    if kind == "list":
        if ids.dtype == np.uint64:
            pytest.skip("NumPy reads a list holding 2**64-1 as float64")
        reported = str(ids.tolist()[0][1])  # a list holds Python numbers: float32 1.7 is 1.7000000476837158
    layer = padzero.Embedding(10, 3)
    expected = rf"ids must be (whole numbers )?in \[0, input_dim\) = \[0, 10\); received id {re.escape(reported)}\b"
    with pytest.raises(ValueError, match=expected) as caught:
        layer(as_kind(ids, kind))
    assert "\n" not in str(caught.value)  # one line, not wrapped by Keras


def test_bfloat16_tensor_ids_are_checked_before_the_cast():
    layer = padzero.Embedding(10, 3)
    with pytest.raises(ValueError, match=r"whole numbers .* received id 1\.7"):
        layer(as_kind(np.array([[1.0, 1.7]]), "bfloat16 tensor"))
    np.testing.assert_array_equal(
        to_numpy(layer(as_kind(np.array([[0.0, 4.0]]), "bfloat16 tensor"))), to_numpy(layer(np.array([[0, 4]])))
    )


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "uint8", "uint32", "uint64", "int8"])
@pytest.mark.parametrize("kind", ["numpy", "tensor"])
def test_ids_of_any_dtype_holding_valid_ids_embed_like_int32_ids(dtype, kind):
    layer = padzero.Embedding(10, 3)
    expected = to_numpy(layer(np.array([[0, 3, 9]], "int32")))
    np.testing.assert_array_equal(to_numpy(layer(as_kind(np.array([[0, 3, 9]], dtype), kind))), expected)


# Ids of the wrong kind: (ids, what the error must say was received, what it must say to do).
PASS_INTEGER_IDS = r"Pass an integer array of ids"
MAP_TOKENS_TO_IDS = r"Map tokens to integer ids first, e\.g\. with keras\.layers\.StringLookup"
IDS_OF_THE_WRONG_KIND = {
    "None": (None, r"received None", PASS_INTEGER_IDS),
    "ragged list": (
        [[1, 2], [3]],
        r"received ids of type list that NumPy cannot turn into a rectangular array \(.*inhomogeneous",
        r"Pad every row to the same length with padding_idx=0, then pass an integer array of ids",
    ),
    "string array": (np.array([["a", "b", "c"]]), r"received string ids of dtype <U1", MAP_TOKENS_TO_IDS),
    "list of digit strings": ([["1", "2", "0"]], r"received string ids of dtype <U1", MAP_TOKENS_TO_IDS),
    "bytes array": (np.array([[b"a", b"b"]]), r"received string ids of dtype \|S1", MAP_TOKENS_TO_IDS),
    "a string": ("the cat", r"received string ids of dtype <U7", MAP_TOKENS_TO_IDS),
    "object array holding None": (
        np.array([[0, 1, None]], dtype=object),
        r"received ids of dtype object holding None \(NoneType\)",
        PASS_INTEGER_IDS,
    ),
    "object array holding a string": (
        np.array([[0, "cat"]], dtype=object),
        r"received ids of dtype object holding 'cat' \(str\)",
        MAP_TOKENS_TO_IDS,
    ),
    "complex": (np.array([[0j, 1 + 0j, 2 + 1j]]), r"received ids of dtype complex128", PASS_INTEGER_IDS),
    "complex with no imaginary part": (
        np.array([[0j, 1 + 0j]], "complex64"),
        r"received ids of dtype complex64",
        PASS_INTEGER_IDS,
    ),
    "list of complex": ([[0j, 1 + 0j]], r"received ids of dtype complex128", PASS_INTEGER_IDS),
    "datetime": (
        np.array([["2020-01-01"]], "datetime64[D]"),
        r"received ids of dtype datetime64\[D\]",
        PASS_INTEGER_IDS,
    ),
    "dict": ({"ids": [0, 1]}, r"received ids of dtype object holding \{'ids': \[0, 1\]\} \(dict\)", PASS_INTEGER_IDS),
}


@pytest.mark.parametrize("case", sorted(IDS_OF_THE_WRONG_KIND))
def test_ids_of_the_wrong_kind_raise_one_line_naming_what_was_received(case):
    ids, received, advice = IDS_OF_THE_WRONG_KIND[case]
    layer = padzero.Embedding(10, 3)
    expected = rf"^Embedding ids must be an integer array of ids in \[0, input_dim\) = \[0, 10\); {received}.*{advice}"
    with pytest.raises(ValueError, match=expected) as caught:
        layer(ids)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)  # one line, not wrapped by Keras
    layer.build()
    with pytest.raises(ValueError, match=expected):  # `call` reached without `__call__` checks them too
        layer.stateless_call([layer.embeddings.value], [], ids)


@pytest.mark.parametrize("kind", ["tensor", "torch tensor"])
def test_complex_tensors_raise_instead_of_dropping_the_imaginary_part(kind):
    ids = np.array([[0j, 1 + 0j, 2 + 1j]], "complex64")
    tensor = ops.convert_to_tensor(ids) if kind == "tensor" else torch.tensor(ids)
    with pytest.raises(ValueError, match=r"received (a tensor|ids) of dtype complex64 .*Pass an integer array of ids"):
        padzero.Embedding(10, 3)(tensor)


def test_string_tensors_raise_one_line(backend):
    if backend != "tensorflow":
        pytest.skip("string tensors are TensorFlow's")
    import tensorflow as tf

    with pytest.raises(ValueError, match=r"received a tensor of dtype string .*StringLookup") as caught:
        padzero.Embedding(10, 3)(tf.constant([["a", "b"]]))
    assert "\n" not in str(caught.value)


def test_dtype_of_symbolic_and_traced_ids_is_checked(backend):
    with pytest.raises(ValueError, match=r"received a tensor of dtype complex64"):
        padzero.Embedding(10, 3)(keras.Input((2,), dtype="complex64"))
    layer = padzero.Embedding(10, 3)
    ids = np.array([[0j, 1 + 0j]], "complex64")
    if backend == "jax":
        import jax

        with pytest.raises(ValueError, match=r"received a tensor of dtype complex64"):
            jax.jit(lambda x: layer(x))(jax.numpy.asarray(ids))
    elif backend == "tensorflow":
        import tensorflow as tf

        with pytest.raises(ValueError, match=r"received a tensor of dtype complex64"):
            tf.function(lambda x: layer(x))(tf.constant(ids))


def test_python_ints_beyond_int64_are_named_as_out_of_range_ids():
    # NumPy keeps 2**64 as a Python int in an object array.
    expected = r"ids must be in \[0, input_dim\) = \[0, 10\); received id 18446744073709551616\b"
    with pytest.raises(ValueError, match=expected):
        padzero.Embedding(10, 3)([[1, 2**64]])
    layer = padzero.Embedding(10, 3)
    np.testing.assert_array_equal(
        to_numpy(layer(np.array([[0, 3]], dtype=object))), to_numpy(layer(np.array([[0, 3]], "int32")))
    )


@pytest.mark.parametrize("kind", ["numpy", "list", "tensor"])
def test_bool_ids_are_read_as_0_and_1_like_keras(kind):
    table = np.arange(12, dtype="float32").reshape(4, 3) + 1.0
    ids = np.array([[True, False, True]])
    # Keras refuses a list of bools ("Only input tensors may be passed as positional arguments").
    theirs = to_numpy(keras.layers.Embedding(4, 3, weights=table)(as_kind(ids, "numpy" if kind == "list" else kind)))
    ours = to_numpy(padzero.Embedding(4, 3, padding_idx=0, weights=table)(as_kind(ids, kind)))
    np.testing.assert_array_equal(ours[0, [0, 2]], theirs[0, [0, 2]])
    np.testing.assert_array_equal(ours[0, 0], table[1])  # True is id 1
    assert np.all(ours[0, 1] == 0.0)  # False is id 0, the padding id


@pytest.mark.parametrize("kind", ["numpy", "list", "tensor"])
def test_bool_id_true_is_out_of_range_for_a_vocabulary_of_one(kind):
    with pytest.raises(ValueError, match=r"ids must be in \[0, input_dim\) = \[0, 1\); received id 1\b"):
        padzero.Embedding(1, 3)(as_kind(np.array([[False, True]]), kind))


@pytest.mark.parametrize("ids, reported", [([[1, 2**32]], "4294967296"), ([[1.0, 0.5]], "0.5")])
def test_torch_tensor_ids_are_checked_on_every_backend(ids, reported):
    # On JAX and TensorFlow a torch tensor is host data, converted by Keras like NumPy.
    with pytest.raises(ValueError, match=rf"received id {re.escape(reported)}\b"):
        padzero.Embedding(10, 3)(torch.tensor(ids))


def test_list_ids_embed_like_numpy_ids():
    layer = padzero.Embedding(10, 3)
    np.testing.assert_array_equal(to_numpy(layer([[0, 3, 9]])), to_numpy(layer(np.array([[0, 3, 9]]))))


def test_stateless_call_checks_numpy_ids_as_given():
    layer = padzero.Embedding(10, 3)
    layer.build()
    with pytest.raises(ValueError, match="received id 4294967296"):
        layer.stateless_call([layer.embeddings.value], [], np.array([[1, 2**32]], "int64"))


def test_each_call_checks_the_ids_once(monkeypatch):
    layer = padzero.Embedding(10, 3)
    layer.build()
    checks = []
    check = padzero.embedding.checked_ids
    monkeypatch.setattr(padzero.embedding, "checked_ids", lambda *args: checks.append(1) or check(*args))
    layer(ops.convert_to_tensor(np.array([[0, 3]], "int32")))
    assert len(checks) == 1  # by __call__; `call` does not check again
    layer(np.array([[0, 3]], "int64"))
    assert len(checks) == 2  # NumPy ids are checked on the host, not again as a tensor
    layer.stateless_call([layer.embeddings.value], [], ops.convert_to_tensor(np.array([[0, 3]], "int32")))
    assert len(checks) == 3  # without __call__, `call` checks


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_traced_calls_skip_the_check(dtype, backend):
    """Inside jit / tf.function ids have no value: the layer must trace and run as before."""
    layer = padzero.Embedding(10, 3)
    layer.build()
    ids = np.array([[0.0, 3.0, 9.0]]).astype(dtype)
    expected = to_numpy(layer(ids))
    if backend == "jax":
        import jax

        traced = jax.jit(lambda table, x: layer.stateless_call([table], [], x)[0])(layer.embeddings.value, ids)
        direct = jax.jit(lambda x: layer(x))(jax.numpy.asarray(ids))
        outputs = [traced, direct]
    elif backend == "tensorflow":
        import tensorflow as tf

        outputs = [tf.function(lambda x: layer(x))(tf.constant(ids))]
    else:  # Keras runs torch eagerly; its symbolic shape inference uses meta tensors
        inputs = keras.Input((3,), dtype=dtype)
        outputs = [keras.Model(inputs, layer(inputs))(ids)]
    for output in outputs:
        np.testing.assert_array_equal(to_numpy(output), expected)


def test_float_ids_of_a_compiled_model_are_cast_unchecked(backend):
    inputs = keras.Input((2,), dtype="float32")
    model = keras.Model(inputs, padzero.Embedding(10, 3)(inputs))
    model.compile(loss="mse")
    if backend == "torch":  # eager: checked
        with pytest.raises(ValueError, match="received id 1.7"):
            model.predict(np.array([[0.0, 1.7]], "float32"), verbose=0)
    else:  # compiled: cast as Keras does, as documented
        outputs = model.predict(np.array([[0.0, 1.7]], "float32"), verbose=0)
        np.testing.assert_array_equal(outputs[0, 1], to_numpy(model.layers[1].embeddings)[1])


def test_torch_unsigned_tensors_are_checked(backend):
    if backend != "torch":
        pytest.skip("torch's uint16/32/64 tensors support no comparison")
    layer = padzero.Embedding(10, 3)
    with pytest.raises(ValueError, match="received id 4294967295"):
        layer(torch.tensor([[1, 2**32 - 1]], dtype=torch.uint32))
    with pytest.raises(ValueError, match="received id 9223372036854775808"):
        layer(torch.tensor([[1, 2**63]], dtype=torch.uint64))
    expected = to_numpy(layer(np.array([[0, 3]])))
    for dtype in (torch.uint16, torch.uint32, torch.uint64):
        np.testing.assert_array_equal(to_numpy(layer(torch.tensor([[0, 3]], dtype=dtype))), expected)


def test_config_round_trip():
    layer = padzero.Embedding(12, 3, padding_idx=-2, mask_zero=True, embeddings_regularizer="l2", name="tokens")
    config = layer.get_config()
    assert config["padding_idx"] == 10
    clone = padzero.Embedding.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is padzero.Embedding and restored.padding_idx == 10


def test_saved_model_loads_in_fresh_process_with_safe_mode(tmp_path):
    inputs = keras.Input(shape=(6,), dtype="int32")
    hidden = padzero.Embedding(20, 4, padding_idx=3)(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(hidden))
    model = keras.Model(inputs, outputs)
    ids = np.array([[3, 3, 1, 2, 19, 3], [5, 6, 7, 3, 3, 3]], "int32")
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "ids.npy", ids)
    np.save(tmp_path / "expected.npy", to_numpy(model(ids)))
    script = (
        "import sys, numpy as np, keras, padzero\n"
        "model = keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
        "layer = model.layers[1]\n"
        "assert type(layer) is padzero.Embedding and layer.padding_idx == 3, layer\n"
        "out = keras.ops.convert_to_numpy(model(np.load(sys.argv[2])))\n"
        "np.testing.assert_array_equal(out, np.load(sys.argv[3]))\n"
        "print('loaded-ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "ids.npy"), str(tmp_path / "expected.npy")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "loaded-ok" in result.stdout, result.stderr[-3000:]


def test_training_with_weight_decay_and_l2_keeps_padding_row_zero():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(8,), dtype="int32")
    embedded = padzero.Embedding(30, 4, embeddings_regularizer=keras.regularizers.L2(0.1))(inputs)
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(embedded))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=0.05, weight_decay=0.1), loss="mse")
    rng = np.random.default_rng(0)
    ids = random_ids(rng, 30, (64, 8), padding_idx=0)
    model.fit(ids, rng.standard_normal((64, 1)), epochs=3, batch_size=16, verbose=0)
    table = model.layers[1].get_weights()[0]
    assert np.all(table[0] == 0.0)
    assert np.all(np.abs(table[1:]).sum(axis=1) > 0)


class AddOne(keras.constraints.Constraint):
    """A constraint that moves every weight, the padding row included."""

    def __call__(self, weights):
        return weights + 1.0


def test_constraint_that_moves_the_row_does_not_reach_the_output():
    inputs = keras.Input(shape=(5,), dtype="int32")
    layer = padzero.Embedding(10, 3, embeddings_constraint=AddOne())
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(layer(inputs))))
    model.compile(optimizer="sgd", loss="mse")
    ids = np.array([[0, 0, 1, 2, 3]] * 4, "int32")
    model.fit(ids, np.ones((4, 1)), epochs=2, verbose=0)
    assert np.all(layer.get_weights()[0][0] == 2.0)  # the constraint ran twice
    assert np.all(to_numpy(layer(ids))[:, :2] == 0.0)


def lora_layer_with_random_adapters(seed):
    """padding_idx=2, LoRA rank 2, with non-zero A and B so LoRA changes every row."""
    layer = padzero.Embedding(20, 4, padding_idx=2)
    layer.build()
    layer.enable_lora(2)
    rng = np.random.default_rng(seed)
    layer.lora_embeddings_a.assign(rng.standard_normal((20, 2)).astype("float32"))
    layer.lora_embeddings_b.assign(rng.standard_normal((2, 4)).astype("float32"))
    return layer


def test_lora_keeps_padding_zero():
    layer = lora_layer_with_random_adapters(seed=0)
    ids = np.array([[2, 1, 2, 5]])
    outputs = to_numpy(layer(ids))
    assert np.all(outputs[0, [0, 2]] == 0.0)
    merged = to_numpy(layer.embeddings)
    np.testing.assert_allclose(outputs[0, 1], merged[1], rtol=1e-6)
    assert np.abs(outputs[0, 1] - to_numpy(layer._embeddings)[1]).max() > 0  # LoRA is in effect


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_layer_quantize_keeps_padding_zero(mode):
    layer = padzero.Embedding(20, 8, padding_idx=5)
    ids = np.array([[5, 1, 5, 7]])
    before = to_numpy(layer(ids))
    layer.set_weights([np.where(np.arange(20)[:, None] == 5, 9.0, layer.get_weights()[0])])
    layer.quantize(mode)
    assert layer.quantization_mode == mode
    after = to_numpy(layer(ids))
    assert np.all(after[0, [0, 2]] == 0.0)
    np.testing.assert_allclose(after[0, [1, 3]], before[0, [1, 3]], atol=0.02)


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_model_quantize_includes_padzero_embedding(mode):
    inputs = keras.Input(shape=(4,), dtype="int32")
    layer = padzero.Embedding(20, 8, padding_idx=0)
    model = keras.Model(inputs, keras.layers.Flatten()(layer(inputs)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.quantize(mode)
    assert not [w for w in caught if "Embedding" in str(w.message)], [str(w.message) for w in caught]
    assert layer.quantization_mode == mode
    outputs = to_numpy(model(np.array([[0, 3, 0, 4]]))).reshape(4, 8)
    assert np.all(outputs[[0, 2]] == 0.0) and np.any(outputs[1] != 0.0)


def test_subclass_of_padzero_embedding_is_not_quantized_silently():
    class Custom(padzero.Embedding):
        pass

    layer = Custom(10, 4)
    layer.build()
    with pytest.raises(NotImplementedError):
        layer.quantize("int8")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "mixed_bfloat16"])
def test_low_precision_padding_is_exactly_zero(dtype):
    layer = padzero.Embedding(10, 3, dtype=dtype)
    layer.build()
    layer.set_weights([np.full((10, 3), 9.0, "float32")])
    outputs = to_numpy(layer(np.array([[0, 1]])))
    assert outputs.dtype.name in ("float16", "bfloat16") or str(outputs.dtype) == "bfloat16"
    assert np.all(outputs[0, 0].astype("float32") == 0.0)


def test_out_of_range_ids_in_compiled_functions_behave_as_documented(backend):
    """Pins the per-backend behaviour the docstring and README describe, so they stay true."""
    inputs = keras.Input(shape=(3,), dtype="int32")
    table = np.arange(20, dtype="float32").reshape(10, 2) + 1.0
    model = keras.Model(inputs, padzero.Embedding(10, 2, weights=table)(inputs))
    too_large, negative = np.array([[1, 10, 0]], "int32"), np.array([[1, -1, 0]], "int32")
    if backend == "torch":  # Keras runs torch eagerly: padzero's own check applies
        for ids in (too_large, negative):
            with pytest.raises(ValueError, match="ids must be in"):
                model.predict(ids, verbose=0)
        return
    model.compile(loss="mse")  # Keras's default jit_compile="auto"
    np.testing.assert_array_equal(model.predict(negative, verbose=0)[0, 1], table[-1])  # negative ids wrap
    if backend == "jax":
        assert np.all(np.isnan(model.predict(too_large, verbose=0)[0, 1]))  # ids >= input_dim: NaN rows
        return
    import tensorflow as tf

    assert not model.jit_compile  # Keras turns XLA off on a CPU-only machine...
    with pytest.raises(tf.errors.InvalidArgumentError):
        model.predict(too_large, verbose=0)  # ...and TensorFlow's gather then raises
    model.compile(loss="mse", jit_compile=True)
    np.testing.assert_array_equal(model.predict(too_large, verbose=0)[0, 1], table[-1])  # XLA clamps


class KerasLayerConventionsTest(keras_testing.TestCase):
    """Keras's own layer checks (config, serialization, shapes, training, masking) on padzero.Embedding."""

    def setUp(self):
        # Keras's setUp turns traceback filtering off for good; the tests after this one get it back.
        filtering = keras.config.is_traceback_filtering_enabled()
        self.addCleanup(
            keras.config.enable_traceback_filtering if filtering else keras.config.disable_traceback_filtering
        )
        super().setUp()

    def test_run_layer_test(self):
        for padding_idx, mask_zero in ((0, False), (2, True), (None, True)):
            self.run_layer_test(
                padzero.Embedding,
                init_kwargs={"input_dim": 5, "output_dim": 3, "padding_idx": padding_idx, "mask_zero": mask_zero},
                input_data=np.array([[0, 1, 2, 4], [2, 2, 3, 0]], "int32"),
                expected_output_shape=(2, 4, 3),
                expected_num_trainable_weights=1,
                expected_num_non_trainable_weights=0,
                expected_num_seed_generators=0,
                expected_num_losses=0,
                supports_masking=mask_zero,
            )


@pytest.mark.parametrize("kind", ["ragged", "sparse"])
def test_tensorflow_ragged_and_sparse_ids_work_like_keras(kind, backend):
    if backend != "tensorflow":
        pytest.skip("ragged and sparse tensors are TensorFlow's")
    import tensorflow as tf

    table = np.random.default_rng(0).standard_normal((10, 3)).astype("float32")
    table[0] = 7.0
    if kind == "ragged":
        ids = tf.ragged.constant([[0, 1, 2], [3, 0]])
    else:
        ids = tf.sparse.from_dense(tf.constant([[0, 4, 0], [3, 5, 0]], tf.int64))
    ours = padzero.Embedding(10, 3, weights=table)(ids)
    expected_table = table.copy()
    expected_table[0] = 0.0
    theirs = keras.layers.Embedding(10, 3, weights=expected_table)(ids)
    assert type(ours) is type(theirs)

    def dense(tensor):
        if isinstance(tensor, tf.RaggedTensor):
            return tensor.to_tensor().numpy()
        return tf.sparse.to_dense(tensor).numpy() if isinstance(tensor, tf.SparseTensor) else tensor.numpy()

    np.testing.assert_array_equal(dense(ours), dense(theirs))


def test_lora_gives_no_gradient_through_the_padding_row():
    from padzero.gradients import value_and_gradients

    layer = lora_layer_with_random_adapters(seed=1)
    ids = np.array([[2, 1, 2, 5]], "int32")
    _, (gradient,) = value_and_gradients(layer, keras.ops.sum, ids, variables=[layer.lora_embeddings_a])
    assert np.all(gradient[2] == 0.0) and np.any(gradient[1] != 0.0)


@pytest.mark.parametrize("mode", ["int8", "lora"])
def test_quantized_and_lora_models_save_and_load(mode, tmp_path):
    inputs = keras.Input(shape=(4,), dtype="int32")
    layer = padzero.Embedding(20, 8, padding_idx=1)
    model = keras.Model(inputs, layer(inputs))
    if mode == "int8":
        model.quantize("int8")
    else:
        layer.enable_lora(2)
    ids = np.array([[1, 3, 1, 4]], "int32")
    expected = to_numpy(model(ids))
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    outputs = to_numpy(restored(ids))
    np.testing.assert_allclose(outputs, expected, rtol=1e-6)
    assert np.all(outputs[0, [0, 2]] == 0.0)


@pytest.mark.parametrize("dtype", ["int64", "uint8", "int16"])
def test_id_dtypes_match_keras(dtype):
    table = np.random.default_rng(0).standard_normal((10, 3)).astype("float32")
    table[0] = 0.0
    ids = np.array([[0, 3, 9]], dtype)
    ours = padzero.Embedding(10, 3, weights=table)(ids)
    theirs = keras.layers.Embedding(10, 3, weights=table)(ids)
    np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))


def test_sequential_without_input_builds_on_first_call():
    model = keras.Sequential([padzero.Embedding(10, 3), keras.layers.GlobalAveragePooling1D()])
    outputs = to_numpy(model(np.array([[0, 0, 5]], "int32")))
    table = to_numpy(model.layers[0].embeddings)
    np.testing.assert_allclose(outputs[0], table[5] / 3, rtol=1e-6)
