"""The encoder study: every encoder x embedding trains and saves; masked encoders ignore padding; the registry is
the one place an encoder is declared (a toy one shows up in the command, the study and the report)."""

import json

import keras
import numpy as np
import pytest
from keras import ops

from padzero_study import cli
from padzero_study.models import variants
from padzero_study.models.embeddings import EMBEDDINGS
from padzero_study.models.encoders import ENCODERS, Encoder, classes_head
from padzero_study.models.variants import build_model, encoder_cells, get_variant

SHAPE = {"vocab_size": 31, "maxlen": 10, "num_classes": 3, "embedding_dim": 8, "hidden_units": 4}
ALL_CELLS = encoder_cells(ENCODERS)


def cell_model(cell, maxlen):
    """The model of `cell` over posts of any width up to `maxlen` (build_model's are of width maxlen)."""
    ids = keras.Input(shape=(None,), dtype="int32")
    shape = {
        "num_classes": SHAPE["num_classes"],
        "hidden_units": SHAPE["hidden_units"],
        "maxlen": maxlen,
        "dropout": 0.3,
        "fast_path": False,
        "embedding_init_scale": None,
    }
    return keras.Model(ids, get_variant(cell).build(ids, SHAPE["vocab_size"], SHAPE["embedding_dim"], **shape))


def padded_posts(rng, rows, padding="pre", maxlen=SHAPE["maxlen"]):
    ids = np.zeros((rows, maxlen), "int32")
    for row in range(rows):
        length = rng.integers(1, maxlen + 1)
        tokens = rng.integers(1, SHAPE["vocab_size"], size=length)
        if padding == "pre":
            ids[row, maxlen - length :] = tokens
        else:
            ids[row, :length] = tokens
    return ids


def test_the_study_has_every_encoder_with_every_embedding_and_the_lstm_post_padded():
    assert list(ENCODERS) == ["flatten", "average", "cnn", "lstm", "transformer"]
    assert list(EMBEDDINGS) == ["keras", "keras_mask", "padzero", "padzero_mask"]
    assert len(ALL_CELLS) == 5 * 4 + 4
    assert {get_variant(name).padding for name in ALL_CELLS if name.startswith("lstm/")} == {"pre", "post"}
    assert all(get_variant(name).padding == "pre" for name in ALL_CELLS if not name.startswith("lstm/"))
    for name in ("cnn/nope", "nope/keras", "cnn/keras/post", "cnn/keras/pre", "lstm/keras/side", "baseline/keras"):
        assert get_variant(name) is None, name


def test_the_memory_estimate_of_the_transformer_grows_with_the_square_of_the_length():
    sizes = {"maxlen": 1_100, "embedding_dim": 300, "hidden_units": 25}
    transformer, average = ENCODERS["transformer"], ENCODERS["average"]
    longer = {**sizes, "maxlen": 2_200}
    assert transformer.memory_bytes(longer, 32) > 3.5 * transformer.memory_bytes(sizes, 32) - 16 * 2_200 * 300
    assert average.memory_bytes(longer, 32) == 2 * average.memory_bytes(sizes, 32)
    flatten = ENCODERS["flatten"]
    assert flatten.weights(sizes) == 1_100 * 300 * 25 + 25  # the Dense kernel after Flatten, and its bias


@pytest.mark.per_backend
@pytest.mark.parametrize("cell", ALL_CELLS)
def test_every_cell_builds_trains_a_step_and_saves_and_loads_in_safe_mode(cell, tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model(cell, **SHAPE)
    # Eagerly: one step of each of 24 models, where compiling each would take most of the test's time.
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=True)
    rng = np.random.default_rng(0)
    ids = padded_posts(rng, 6, get_variant(cell).padding)
    labels = rng.integers(0, SHAPE["num_classes"], 6)
    before = [weight.copy() for weight in model.get_weights()]
    loss = model.train_on_batch(ids, labels)
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    expected = keras.ops.convert_to_numpy(model(ids, training=False))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(ids, training=False)), expected, atol=1e-6)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.per_backend
@pytest.mark.parametrize("encoder", [name for name, encoder in ENCODERS.items() if encoder.uses_mask])
def test_a_masked_encoder_ignores_the_padding_length_and_side(encoder):
    keras.utils.set_random_seed(1)
    model = cell_model(f"{encoder}/padzero_mask", maxlen=16)
    post = np.array([[5, 9, 2, 17]], "int32")
    unpadded = keras.ops.convert_to_numpy(model(post, training=False))
    for width in (6, 16):
        pads = np.zeros((1, width - post.shape[1]), "int32")
        for padded in (np.concatenate([pads, post], axis=1), np.concatenate([post, pads], axis=1)):
            eager = keras.ops.convert_to_numpy(model(padded, training=False))
            compiled = model.predict(padded, verbose=0)
            np.testing.assert_allclose(eager, unpadded, atol=1e-5, err_msg=f"eager, width {width}")
            np.testing.assert_allclose(compiled, unpadded, atol=1e-5, err_msg=f"compiled, width {width}")


@pytest.mark.per_backend
def test_without_its_mask_the_lstm_reads_post_padding_as_input():
    # The trap the post-padded cells measure: the same post, post-padded, gives another output without a mask.
    keras.utils.set_random_seed(2)
    model = cell_model("lstm/keras", maxlen=10)
    post = np.array([[5, 9, 2, 17]], "int32")
    padded = np.concatenate([post, np.zeros((1, 6), "int32")], axis=1)
    assert np.abs(keras.ops.convert_to_numpy(model(post)) - keras.ops.convert_to_numpy(model(padded))).max() > 1e-4


def average_cell_before_the_bag(embedding):
    """An average cell as the study built it from Keras layers before `padzero.EmbeddingBag`: the reference."""
    ids = keras.Input(shape=(SHAPE["maxlen"],), dtype="int32")
    layer = EMBEDDINGS[embedding].build(SHAPE["vocab_size"], SHAPE["embedding_dim"], "uniform")
    features = keras.layers.GlobalAveragePooling1D(name="average")(layer(ids))
    return keras.Model(ids, classes_head(features, {"dropout": 0.3, "num_classes": SHAPE["num_classes"]}))


def posts_of_very_different_lengths(rng):
    """Pre-padded posts of 1, 3 and every id, a post-padded one, and one of padding only (the last)."""
    ids = np.zeros((5, SHAPE["maxlen"]), "int32")
    for row, length in enumerate((1, 3, SHAPE["maxlen"])):
        ids[row, SHAPE["maxlen"] - length :] = rng.integers(1, SHAPE["vocab_size"], size=length)
    ids[3, :4] = rng.integers(1, SHAPE["vocab_size"], size=4)
    return ids


@pytest.mark.per_backend
@pytest.mark.parametrize("embedding", list(EMBEDDINGS))
def test_an_average_cell_equals_the_keras_layers_it_replaced(embedding, assert_same_loss_and_gradients):
    # The same seed draws the same weights; then the same outputs and gradients, except where Keras's masked
    # average divides by zero: a post of padding only, NaN there, zeros from the bag.
    choice = EMBEDDINGS[embedding]
    keras.utils.set_random_seed(3)
    bag = build_model(f"average/{embedding}", **SHAPE)
    keras.utils.set_random_seed(3)
    pooled = average_cell_before_the_bag(embedding)
    table, pooled_table = bag.get_layer("embedding").get_weights()[0], pooled.get_weights()[0]
    if choice.masks and not choice.zero_padding:
        # Keras's Embedding(mask_zero=True) keeps the padding row it drew; the bag zeroes it. The mask keeps that
        # row out of every output and gradient: its value is never read.
        assert not table[0].any() and pooled_table[0].any()
        table = np.concatenate([pooled_table[:1], table[1:]])
    for bag_weight, pooled_weight in zip([table, *bag.get_weights()[1:]], pooled.get_weights(), strict=True):
        np.testing.assert_array_equal(bag_weight, pooled_weight)
    bag.set_weights(pooled.get_weights())
    rng = np.random.default_rng(3)
    ids = posts_of_very_different_lengths(rng)
    labels = rng.integers(0, SHAPE["num_classes"], len(ids))
    bag_features, pooled_features = (
        ops.convert_to_numpy(keras.Model(model.input, model.get_layer("dropout").input)(ids)) for model in (bag, pooled)
    )
    compared = ids.any(axis=1) if choice.masks else np.ones(len(ids), bool)
    if choice.masks:
        assert not bag_features[~compared].any() and np.isnan(pooled_features[~compared]).all()
    np.testing.assert_allclose(bag_features[compared], pooled_features[compared], rtol=1e-5, atol=1e-7)
    assert_same_loss_and_gradients(bag, pooled, ids[compared], labels[compared])


def average_of_embeddings(embedding, ids, shape):
    return keras.layers.GlobalMaxPooling1D(name="toy_pooling")(embedding(ids))


TOY = Encoder(
    "toy",
    "GlobalMaxPooling1D, a toy registered by a test",
    average_of_embeddings,
    uses_mask=False,
    weights=lambda sizes: 0,
    activations=lambda sizes: sizes["maxlen"] * sizes["embedding_dim"],
)


def test_a_registered_toy_encoder_reaches_the_command_the_study_and_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(ENCODERS, "toy", TOY)
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--help"])
    assert "toy" in capsys.readouterr().out
    out = tmp_path / "toy"
    code = cli.main(
        [
            "reproduce",
            "--dataset",
            "synthetic",
            "--encoders",
            "toy",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--max-docs",
            "100",
            "--maxlen",
            "20",
            "--vocab-size",
            "50",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    trained = {json.loads(line)["variant"] for line in (out / "results.jsonl").read_text().splitlines()}
    assert trained == {"toy/keras", "toy/keras_mask", "toy/padzero", "toy/padzero_mask"}
    report = (out / "report.md").read_text()
    assert "| toy | drops it |" in report and (out / "encoders.png").stat().st_size > 0
    assert "cells" not in variants.VARIANTS  # cells are derived from the registries, never registered as variants


def test_classes_head_is_dropout_then_softmax():
    features = keras.Input(shape=(7,))
    probabilities = classes_head(features, {"dropout": 0.3, "num_classes": 5})
    model = keras.Model(features, probabilities)
    assert [layer.name for layer in model.layers[1:]] == ["dropout", "classes"]
    assert model.layers[-1].activation.__name__ == "softmax" and model.output_shape == (None, 5)
