"""Every study variant builds, has the reference's shape, and trains a step on this backend;
the registry is the one place a variant is declared."""

import dataclasses
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

import padzero
from padzero_study.models import padding_variants, variants
from padzero_study.models.encoders import classes_head
from padzero_study.models.variants import VARIANTS, Variant, build_model, register_variant, study_variants

pytestmark = pytest.mark.per_backend

SHAPE = {"vocab_size": 51, "maxlen": 12, "num_classes": 4, "embedding_dim": 6, "hidden_units": 5}


def flatten_model_parameters(vocab_size, maxlen, num_classes, embedding_dim, hidden_units):
    """Embedding -> Flatten -> Dense(hidden) -> Dense(classes), counted by hand."""
    return (
        vocab_size * embedding_dim
        + maxlen * embedding_dim * hidden_units
        + hidden_units
        + hidden_units * num_classes
        + num_classes
    )


def pre_padded_ids(rng, rows, vocab_size=SHAPE["vocab_size"], maxlen=SHAPE["maxlen"]):
    ids = np.zeros((rows, maxlen), "int32")
    for row in range(rows):
        length = rng.integers(1, maxlen)
        ids[row, -length:] = rng.integers(1, vocab_size, size=length)
    return ids


def test_reference_model_has_the_reference_parameter_count():
    model = build_model("baseline", vocab_size=20_001, maxlen=1_100, num_classes=20)
    assert model.count_params() == 14_250_845


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_builds_and_trains_one_step(variant):
    keras.utils.set_random_seed(0)
    model = build_model(variant, **SHAPE)
    expected = flatten_model_parameters(**SHAPE)
    if variant == "masked_average":  # pooling replaces Flatten: one position's worth of Dense weights
        expected -= (SHAPE["maxlen"] - 1) * SHAPE["embedding_dim"] * SHAPE["hidden_units"]
    assert model.count_params() == expected
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    ids, labels = pre_padded_ids(rng, 16), rng.integers(0, SHAPE["num_classes"], 16)
    before = [w.copy() for w in model.get_weights()]
    logs = model.train_on_batch(ids, labels, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    probabilities = ops.convert_to_numpy(model.predict(ids, verbose=0))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_variant_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="Unknown variant 'nope'.*baseline"):
        build_model("nope", vocab_size=10, maxlen=3)


@pytest.mark.parametrize(
    "name, value",
    [("vocab_size", 0), ("maxlen", 0), ("num_classes", 2.0), ("embedding_dim", -3), ("hidden_units", True)],
)
def test_sizes_that_are_not_positive_integers_are_refused_in_one_line(name, value):
    with pytest.raises(ValueError) as error:
        build_model("padzero", **{**SHAPE, name: value})
    assert str(error.value) == f"{name} must be a positive integer; received {name}={value!r}"


def embedding_output(model, ids):
    """What the model's embedding stage hands to Flatten, padding zeroing included."""
    stage = model.get_layer("flatten").input
    return ops.convert_to_numpy(keras.Model(model.input, stage)(ids))


@pytest.mark.parametrize("variant", ["multiply", "padzero", "uniform", "uniform_nonneg"])
def test_zeroing_variants_hand_zeros_to_flatten(variant):
    model = build_model(variant, **SHAPE)
    ids = pre_padded_ids(np.random.default_rng(1), 8)
    embedded = embedding_output(model, ids)
    assert np.all(embedded[ids == 0] == 0.0)
    assert np.count_nonzero(embedded[ids != 0]) > 0


@pytest.mark.parametrize("variant", ["baseline", "mask_zero", "uniform_unmasked", "uniform_nonneg_unmasked"])
def test_plain_variants_hand_the_padding_vector_to_flatten(variant):
    model = build_model(variant, **SHAPE)
    ids = pre_padded_ids(np.random.default_rng(1), 8)
    embedded = embedding_output(model, ids)
    padding_vector = model.get_layer("embedding").get_weights()[0][0]
    np.testing.assert_array_equal(embedded[ids == 0], np.broadcast_to(padding_vector, embedded[ids == 0].shape))


def test_mask_zero_changes_nothing_through_flatten():
    keras.utils.set_random_seed(3)
    baseline = build_model("baseline", **SHAPE)
    masked = build_model("mask_zero", **SHAPE)
    masked.set_weights(baseline.get_weights())
    ids = pre_padded_ids(np.random.default_rng(2), 8)
    np.testing.assert_allclose(ops.convert_to_numpy(masked(ids)), ops.convert_to_numpy(baseline(ids)), rtol=1e-6)


def test_uniform_variants_start_non_negative_and_nonneg_stays_so():
    keras.utils.set_random_seed(4)
    for variant in ("uniform", "uniform_nonneg", "uniform_unmasked", "uniform_nonneg_unmasked"):
        table = build_model(variant, **SHAPE).get_layer("embedding").get_weights()[0]
        assert table.min() >= 1e-4 and table.max() <= 0.05
    for variant, constrained in [
        ("uniform_nonneg", True),
        ("uniform_nonneg_unmasked", True),
        ("uniform_unmasked", False),
    ]:
        keras.utils.set_random_seed(4)
        model = build_model(variant, **SHAPE)
        model.compile(optimizer=keras.optimizers.SGD(10.0), loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        model.fit(pre_padded_ids(rng, 32), rng.integers(0, 4, 32), epochs=2, verbose=0)
        # A large SGD step drives some weights negative unless NonNeg clips them.
        assert (model.get_layer("embedding").get_weights()[0].min() >= 0.0) == constrained, variant


def test_masked_average_averages_the_real_tokens_in_one_embedding_bag():
    model = build_model("masked_average", **SHAPE)
    layer = model.get_layer("embedding")
    assert isinstance(layer, padzero.EmbeddingBag) and layer.mode == "mean" and layer.padding_idx == 0
    ids = pre_padded_ids(np.random.default_rng(5), 4)
    pooled = ops.convert_to_numpy(keras.Model(model.input, layer.output)(ids))
    table = layer.get_weights()[0]
    for row in range(4):
        real = ids[row][ids[row] != 0]
        np.testing.assert_allclose(pooled[row], table[real].mean(axis=0), rtol=1e-5, atol=1e-7)


def masked_average_before_the_bag(ids, vocab_size, embedding_dim, **shape):
    """`masked_average` as the study built it from Keras layers before `padzero.EmbeddingBag`: the reference."""
    embedded = padzero.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(ids)
    features = keras.layers.GlobalAveragePooling1D(name="average")(embedded)
    hidden = keras.layers.Dense(shape["hidden_units"], activation="relu", name="hidden")(features)
    return classes_head(hidden, shape)


def build_masked_average_from_keras_layers(monkeypatch):
    """From here to the test's end, `masked_average` is built as it was before the bag."""
    monkeypatch.setitem(
        VARIANTS, "masked_average", dataclasses.replace(VARIANTS["masked_average"], build=masked_average_before_the_bag)
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_masked_average_equals_the_keras_layers_it_replaced(seed, assert_same_loss_and_gradients, monkeypatch):
    # The same seed draws the same weights; then the same outputs and gradients, except where Keras's masked
    # average divides by zero: a post of padding only, NaN there, zeros from the bag.
    keras.utils.set_random_seed(seed)
    bag = build_model("masked_average", **SHAPE)
    build_masked_average_from_keras_layers(monkeypatch)
    keras.utils.set_random_seed(seed)
    pooled = build_model("masked_average", **SHAPE)
    assert isinstance(pooled.get_layer("average"), keras.layers.GlobalAveragePooling1D)
    for bag_weight, pooled_weight in zip(bag.get_weights(), pooled.get_weights(), strict=True):
        np.testing.assert_array_equal(bag_weight, pooled_weight)
    rng = np.random.default_rng(seed)
    ids, labels = awkward_batch(rng, 7), rng.integers(0, SHAPE["num_classes"], 7)  # row 1: padding only
    real = ids.any(axis=1)
    bag_features, pooled_features = (
        ops.convert_to_numpy(keras.Model(model.input, model.get_layer("hidden").input)(ids)) for model in (bag, pooled)
    )
    assert not bag_features[~real].any() and np.isnan(pooled_features[~real]).all()
    np.testing.assert_allclose(bag_features[real], pooled_features[real], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        ops.convert_to_numpy(bag(ids))[real], ops.convert_to_numpy(pooled(ids))[real], rtol=1e-5, atol=1e-7
    )
    assert_same_loss_and_gradients(bag, pooled, ids[real], labels[real])


def test_a_masked_average_study_gives_the_numbers_of_the_keras_layers(tmp_path, monkeypatch, one_backend_suffices):
    # The same seed draws the same weights and batches, so the study's losses and accuracies stay those of the
    # Keras layers the bag replaced (the exactness on each backend is the test above's).
    from padzero_study.study import runner

    config = runner.StudyConfig(
        dataset="synthetic",
        variants=("masked_average",),
        seeds=1,
        epochs=2,
        maxlen=60,
        vocab_size=300,
        max_docs=200,
        embedding_dim=8,
        hidden_units=5,
        fast_path=False,
    )
    runner.run_study(config, tmp_path / "bag")
    build_masked_average_from_keras_layers(monkeypatch)
    runner.run_study(config, tmp_path / "pooled")
    bag, pooled = (
        [json.loads(line) for line in (tmp_path / folder / "results.jsonl").read_text().splitlines()]
        for folder in ("bag", "pooled")
    )
    bag, pooled = ([r for r in records if r["record"] == "epoch"] for records in (bag, pooled))
    assert [r["epoch"] for r in bag] == [r["epoch"] for r in pooled] == [1, 2]
    for bag_epoch, pooled_epoch in zip(bag, pooled):
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert bag_epoch[metric] == pytest.approx(pooled_epoch[metric], rel=1e-4, abs=1e-5), metric


def test_docstring_example_runs_as_written():
    import doctest

    import padzero_study.models.variants

    failures, tried = doctest.testmod(padzero_study.models.variants)
    assert tried > 0 and failures == 0


def gradients_in_plain_layout(model, gradients):
    """A model's gradients (in `trainable_variables` order) laid out as the plain model's weights."""
    by_variable = {id(variable): gradient for variable, gradient in zip(model.trainable_variables, gradients)}
    laid_out = []
    for layer in model.layers:
        if isinstance(layer, padzero.EmbeddingFlattenDense):
            laid_out.append(by_variable[id(layer.embedding.embeddings)])
            units = layer.units
            laid_out.append(
                np.concatenate([by_variable[id(block)].reshape(-1, units) for block in layer.kernel_blocks])
            )
            laid_out.append(by_variable[id(layer.bias)])
        else:
            laid_out += [by_variable[id(weight)] for weight in layer.trainable_weights]
    return laid_out


def awkward_batch(rng, rows):
    """Rows of very different lengths, an all-padding row and a post-padded one (for more than two rows)."""
    ids = np.zeros((rows, SHAPE["maxlen"]), "int32")
    for row, length in enumerate(rng.choice([1, 2, 5, SHAPE["maxlen"]], size=rows)):
        ids[row, SHAPE["maxlen"] - length :] = rng.integers(1, SHAPE["vocab_size"], size=length)
    if rows > 2:
        ids[1] = 0
        ids[2] = 0
        ids[2, :3] = rng.integers(1, SHAPE["vocab_size"], size=3)  # post-padding
    return ids


# One variant per distinct fast path: the table's layer (Keras's, padzero's, with mask_zero), the padding mask
# multiplied in or not, a constraint. The variants left out differ from one of these by their init only.
FAST_PATHS = ["baseline", "multiply", "padzero", "mask_zero", "uniform_nonneg", "flatten/padzero_mask"]


def test_every_variant_with_a_fast_path_shares_one_of_the_checked_ones():
    differing_by_init_only = {
        "uniform": "multiply",
        "uniform_unmasked": "baseline",
        "uniform_nonneg_unmasked": "uniform_nonneg",
    }
    for name, variant in VARIANTS.items():
        if variant.flattens:
            assert name in FAST_PATHS or differing_by_init_only.get(name) in FAST_PATHS, name


@pytest.mark.parametrize("variant", FAST_PATHS)
@pytest.mark.parametrize("rows", [1, 7])
def test_fast_path_gives_the_plain_models_weights_loss_and_gradients(variant, rows, loss_and_gradients):
    # The fast path's exactness claim: the same initial weights from the same
    # seed, then on any batch the same loss and the same gradient for every weight.
    keras.utils.set_random_seed(rows)
    plain = build_model(variant, **SHAPE)
    keras.utils.set_random_seed(rows)
    fast = build_model(variant, fast_path=True, **SHAPE)
    for plain_weight, fast_weight in zip(plain.get_weights(), variants.plain_weights(fast), strict=True):
        np.testing.assert_array_equal(fast_weight, plain_weight)
    rng = np.random.default_rng(rows)
    ids, labels = awkward_batch(rng, rows), rng.integers(0, SHAPE["num_classes"], rows)
    plain_loss, plain_gradients = loss_and_gradients(plain, ids, labels)
    fast_loss, fast_gradients = loss_and_gradients(fast, ids, labels)
    np.testing.assert_allclose(fast_loss, plain_loss, rtol=1e-5)
    names = [v.path for v in plain.trainable_variables]
    for name, fast_gradient, plain_gradient in zip(
        names, gradients_in_plain_layout(fast, fast_gradients), plain_gradients, strict=True
    ):
        np.testing.assert_allclose(fast_gradient, plain_gradient, rtol=1e-4, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("variant", ["baseline", "padzero"])
def test_fast_path_trains_to_the_plain_models_weights(variant):
    # Same seed, same data, Keras's own shuffling: the same batches, so the same weights after training.
    # SGD, not Adam: Adam moves a weight by its learning rate whatever the gradient's size, so float noise
    # on a gradient that is zero in exact arithmetic would move weights apart; SGD keeps it at noise level.
    rng = np.random.default_rng(0)
    ids, labels = pre_padded_ids(rng, 24), rng.integers(0, SHAPE["num_classes"], 24)
    trained = []
    for fast_path in (False, True):
        keras.utils.set_random_seed(0)
        model = build_model(variant, fast_path=fast_path, **SHAPE)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        model.fit(ids, labels, batch_size=8, epochs=2, verbose=0)
        trained.append(variants.plain_weights(model))
    assert isinstance(model.get_layer("hidden"), padzero.EmbeddingFlattenDense)
    for plain_weight, fast_weight in zip(*trained, strict=True):
        np.testing.assert_allclose(fast_weight, plain_weight, rtol=1e-4, atol=1e-6)


def test_plain_weights_move_between_the_two_paths():
    keras.utils.set_random_seed(0)
    plain = build_model("mask_zero", **SHAPE)
    fast = build_model("mask_zero", fast_path=True, **SHAPE)  # other initial weights: a later draw
    variants.set_plain_weights(fast, plain.get_weights())
    ids = pre_padded_ids(np.random.default_rng(1), 5)
    np.testing.assert_allclose(ops.convert_to_numpy(fast(ids)), ops.convert_to_numpy(plain(ids)), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="left over"):
        variants.set_plain_weights(fast, plain.get_weights() + [np.zeros(3)])


@pytest.mark.parametrize("variant", [name for name, variant in VARIANTS.items() if variant.keras_default_init])
def test_embedding_init_scale_sets_the_uniform_range(variant):
    keras.utils.set_random_seed(0)
    table = build_model(variant, embedding_init_scale=1.0, **SHAPE).get_layer("embedding").get_weights()[0]
    assert 0.5 < np.abs(table).max() <= 1.0  # Keras's default would stay within 0.05
    default = build_model(variant, **SHAPE).get_layer("embedding").get_weights()[0]
    assert np.abs(default).max() <= 0.05


@pytest.mark.parametrize("variant", [name for name, variant in VARIANTS.items() if not variant.keras_default_init])
def test_embedding_init_scale_leaves_the_variants_with_their_own_init_alone(variant):
    # What the registry's keras_default_init says, and what --init-scale is refused for when no variant has it.
    table = build_model(variant, embedding_init_scale=1.0, **SHAPE).get_layer("embedding").get_weights()[0]
    assert table.min() >= 1e-4 and table.max() <= 0.05


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_fast_path_is_taken_by_the_variants_the_registry_says_flatten(variant):
    # --fast-path is refused for variants that have no Embedding -> Flatten -> Dense to fuse.
    model = build_model(variant, fast_path=True, **SHAPE)
    fused = any(isinstance(layer, padzero.EmbeddingFlattenDense) for layer in model.layers)
    assert fused == VARIANTS[variant].flattens


# ---------------------------------------------------------------- the registry


def test_importing_the_registry_does_not_import_keras():
    # The CLI's --help and the report read the registry; Keras must load only when a model is built.
    code = (
        "import sys, padzero_study.models.variants as v; v.study_variants(); "
        "loaded = sorted(m for m in ('keras', 'padzero') if m in sys.modules); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


def test_the_ablations_are_out_of_the_study_and_have_no_reference():
    ablations = [name for name in VARIANTS if name not in study_variants()]
    assert ablations == ["uniform_unmasked", "uniform_nonneg_unmasked"]
    assert all(VARIANTS[name].reference is None for name in ablations)
    # Each builder is named after its variant (padzero's after the layer it uses: the name `padzero` is the library's).
    assert all(VARIANTS[name].build.__name__ in (name, f"{name}_embedding") for name in VARIANTS)


def test_every_reference_states_a_known_pattern_and_known_fields():
    fields = {
        "pattern",
        "note",
        "epoch1_val_accuracy",
        "best_val_accuracy",
        "best_epoch",
        "epochs_at_chance",
        "seconds_per_epoch",
    }
    for variant in VARIANTS.values():
        assert "\n" not in variant.description and variant.description, variant.name
        if variant.reference is not None:
            assert set(variant.reference) <= fields, variant.name
            assert variant.reference["pattern"] in {"learns_at_once", "starts_at_chance", "stays_at_chance"}


def doubled_padzero(ids, vocab_size, embedding_dim, **shape):
    """A variant made up for the tests: padzero.Embedding with an init twice as wide as Keras's."""
    initializer = keras.initializers.RandomUniform(-0.1, 0.1)
    embedding = padzero.Embedding(vocab_size, embedding_dim, embeddings_initializer=initializer, name="embedding")
    return padding_variants._flatten_head(ids, embedding, shape)


@pytest.fixture
def registered_variant():
    """`doubled_padzero`, registered for one test; the registry is restored after it."""
    saved = dict(VARIANTS)
    yield register_variant(
        Variant(
            "doubled_padzero",
            "padzero.Embedding with an init twice as wide",
            doubled_padzero,
            reference={"pattern": "learns_at_once", "epoch1_val_accuracy": 0.123, "note": "made up for a test"},
        )
    )
    VARIANTS.clear()
    VARIANTS.update(saved)


def test_a_registered_variant_joins_the_study_and_builds(registered_variant):
    assert study_variants()[-1] == "doubled_padzero"
    model = build_model("doubled_padzero", fast_path=True, **SHAPE)
    assert model.name == "doubled_padzero"
    assert isinstance(model.get_layer("hidden"), padzero.EmbeddingFlattenDense)
    assert 0.05 < np.abs(model.get_layer("hidden").embedding.get_weights()[0]).max() <= 0.1


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="'padzero' is already registered"):
        register_variant(Variant("padzero", "again", doubled_padzero))
    assert VARIANTS["padzero"].build is padding_variants.padzero_embedding


def test_a_registered_variant_is_in_the_cli_help(registered_variant, capsys):
    from padzero_study import cli

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["reproduce", "--help"])
    assert "doubled_padzero" in capsys.readouterr().out


def test_a_registered_variants_reference_is_in_the_report(registered_variant, tmp_path):
    from padzero_study.reports import study_report as report

    records = []
    for seed in (0, 1):
        identity = {
            "variant": "doubled_padzero",
            "seed": seed,
            "backend": "jax",
            "config": {"epochs": 2, "num_classes": 20, "dataset": "20news"},
        }
        records += [
            {
                "record": "epoch",
                **identity,
                "epoch": epoch,
                "loss": 1.0,
                "accuracy": 0.5,
                "val_loss": 1.0,
                "val_accuracy": accuracy,
                "epoch_seconds": 1.0,
            }
            for epoch, accuracy in ((1, 0.5), (2, 0.6))
        ]
        records.append({"record": "run_end", **identity, "epochs_run": 2, "stopped_early": False, "train_seconds": 2.0})
    path = tmp_path / "report.md"
    report.write_report_markdown(report.summarize(records), records, path)
    (row,) = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("| doubled_padzero")]
    assert "| 0.123 |" in row
