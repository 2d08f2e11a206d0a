"""padzero.FlattenDense: Flatten -> Dense over trimmed pre-padded inputs, checked against the plain layers."""

import keras
import numpy as np
import pytest

from padzero.flatten_dense import FlattenDense

pytestmark = pytest.mark.per_backend


def padded_embeddings(rng, batch=5, maxlen=9, features=4, longest=6):
    """Embeddings whose leading positions are zero in every row, as padzero gives for pre-padding."""
    full = rng.normal(size=(batch, maxlen, features)).astype("float32")
    lengths = rng.integers(1, longest + 1, size=batch)
    lengths[0] = longest
    for row, length in enumerate(lengths):
        full[row, : maxlen - length] = 0.0
    return full


def plain_twin(layer, maxlen, features):
    """Flatten -> Dense holding `layer`'s weights."""
    dense = keras.layers.Dense(layer.units, activation=layer.activation)
    dense.build((None, maxlen * features))
    dense.set_weights(layer.get_weights())
    return dense


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("longest", [1, 4, 9])
def test_trimmed_inputs_give_the_plain_layers_output(seed, longest):
    rng = np.random.default_rng(seed)
    full = padded_embeddings(rng, longest=longest)
    layer = FlattenDense(3, maxlen=9, activation="tanh", bias_initializer="random_normal")
    layer.build((None, 9, 4))
    dense = plain_twin(layer, 9, 4)
    expected = keras.ops.convert_to_numpy(dense(full.reshape(5, 36)))
    for start in range(0, 9 - longest + 1):  # any trim that drops only all-zero columns
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(full[:, start:])), expected, rtol=1e-5, atol=1e-6)


def test_trimming_real_positions_changes_the_output():
    # The equality above must come from the zeros, not from a kernel that ignores early rows.
    rng = np.random.default_rng(0)
    full = rng.normal(size=(2, 9, 4)).astype("float32")
    layer = FlattenDense(3, maxlen=9)
    layer.build((None, 9, 4))
    assert not np.allclose(keras.ops.convert_to_numpy(layer(full[:, 2:])), keras.ops.convert_to_numpy(layer(full)))


def test_kernel_and_bias_have_the_shapes_of_dense_after_flatten():
    layer = FlattenDense(7, maxlen=11)
    layer.build((None, None, 3))
    assert [tuple(w.shape) for w in layer.get_weights()] == [(33, 7), (7,)]
    no_bias = FlattenDense(7, maxlen=11, use_bias=False)
    no_bias.build((None, 11, 3))
    assert len(no_bias.weights) == 1


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"units": 0, "maxlen": 4}, "units must be a positive integer; received units=0"),
        ({"units": 2, "maxlen": -1}, "maxlen must be a positive integer; received maxlen=-1"),
        ({"units": 2, "maxlen": True}, "maxlen must be a positive integer; received maxlen=True"),
        ({"units": 2.0, "maxlen": 4}, "units must be a positive integer; received units=2.0"),
    ],
)
def test_invalid_arguments_raise(arguments, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        FlattenDense(**arguments)


def test_numpy_integer_arguments_are_stored_as_python_ints():
    layer = FlattenDense(np.int64(3), maxlen=np.int32(5))
    assert type(layer.units) is int and type(layer.maxlen) is int
    assert layer.get_config()["units"] == 3


def test_inputs_longer_than_maxlen_raise():
    with pytest.raises(ValueError, match="maxlen=4"):
        FlattenDense(2, maxlen=4).build((None, 5, 3))


def test_config_round_trip_and_keras_file(tmp_path):
    layer = FlattenDense(3, maxlen=5, activation="relu", kernel_regularizer="l2", name="hidden")
    clone = FlattenDense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    inputs = keras.Input((None, 2))
    model = keras.Model(inputs, layer(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    sample = np.random.default_rng(0).normal(size=(2, 3, 2)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(sample)), keras.ops.convert_to_numpy(model(sample)), rtol=1e-6)


def test_public_names_resolve_and_a_model_of_them_loads_by_registered_name(tmp_path):
    """`padzero.__all__` names the layers, and `.keras` files refer to them as `padzero>...`."""
    import json
    import zipfile

    import padzero.batching
    import padzero.embedding

    classes = {
        "Embedding": padzero.embedding.Embedding,
        "FlattenDense": FlattenDense,
        "TrimmedBatches": padzero.batching.TrimmedBatches,
    }
    assert set(padzero.__all__) == {*classes, "__version__"}
    assert all(getattr(padzero, name) is cls for name, cls in classes.items())
    inputs = keras.Input((6,), dtype="int32")
    hidden = padzero.Embedding(20, 3, padding_idx=1)(inputs)
    model = keras.Model(inputs, padzero.FlattenDense(2, maxlen=6)(hidden))
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    registered = {layer["registered_name"] for layer in config["config"]["layers"]}
    assert {"padzero>Embedding", "padzero>FlattenDense"} <= registered
    restored = keras.saving.load_model(path, safe_mode=True)
    assert [type(layer) for layer in restored.layers[1:]] == [padzero.Embedding, FlattenDense]
    ids = np.array([[1, 1, 4, 5, 19, 2]], "int32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(ids)), keras.ops.convert_to_numpy(model(ids)))
