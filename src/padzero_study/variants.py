"""The model variants of the 20 Newsgroups study: one `Variant` record each, in `VARIANTS`.

Every variant is the reference architecture, Embedding(V, 300) -> Flatten ->
Dense(25, relu) -> Dropout(0.3) -> Dense(20, softmax), except for how it
embeds the padding id 0 (and `masked_average`, which pools instead of
flattening). Each record's `build` maps the ids input to class probabilities;
`build_model(variant, ...)` is the one entry point.

Adding a variant is one `register_variant(Variant(...))`: `--variants all`,
`--help`, the fast path check and the report's reference table read the
registry. Importing this module does not import Keras (the CLI's `--help` and
the report read the registry without it): Keras and padzero load at the first
model built.
"""

import dataclasses
import importlib
from typing import Callable, Optional

from padzero_study.registry import register


class _ImportedOnFirstUse:
    """Stands for a module and imports it at its first attribute access.

    Not `importlib.util.LazyLoader`: that registers a placeholder in
    `sys.modules` at once, so `"keras" in sys.modules` would say Keras is
    loaded (and its backend chosen) when it is not. This imports the real
    module, once, where a model is first built.
    """

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)


keras = _ImportedOnFirstUse("keras")
padzero_layers = _ImportedOnFirstUse("padzero")  # not `padzero`: that is a variant's builder


def padding_mask(ids):
    """1.0 for real tokens, 0.0 for padding, shaped to broadcast over embeddings."""
    real = keras.ops.cast(keras.ops.greater(ids, 0), "float32")
    return keras.ops.expand_dims(real, -1)


def _classes_head(hidden, num_classes, dropout):
    hidden = keras.layers.Dropout(dropout, name="dropout")(hidden)
    return keras.layers.Dense(num_classes, activation="softmax", name="classes")(hidden)


def _dense_head(features, num_classes, hidden_units, dropout, **unused):
    hidden = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(features)
    return _classes_head(hidden, num_classes, dropout)


def _flatten_head(embedded, shape):
    if not shape["fast_path"]:
        return _dense_head(keras.layers.Flatten(name="flatten")(embedded), **shape)
    # Same kernel as Flatten -> Dense, fed only the columns a trimmed batch holds.
    hidden = padzero_layers.FlattenDense(shape["hidden_units"], shape["maxlen"], activation="relu", name="hidden")(embedded)
    return _classes_head(hidden, shape["num_classes"], shape["dropout"])


def _multiplied_by_mask(ids, embedding_layer):
    # The reference workaround: a Lambda computes the mask, Multiply applies it.
    mask = keras.layers.Lambda(padding_mask, name="padding_mask")(ids)
    return keras.layers.Multiply(name="zero_padding")([embedding_layer(ids), mask])


# The widest embedding init the study takes: Keras's default is 0.05; far wider inits blow training up.
MAX_INIT_SCALE = 1.0


def _default_initializer(shape):
    # Keras's default is RandomUniform(-0.05, 0.05); `embedding_init_scale` is the ablation of its width.
    scale = shape["embedding_init_scale"]
    return "uniform" if scale is None else keras.initializers.RandomUniform(-scale, scale)


def baseline(ids, vocab_size, embedding_dim, **shape):
    """Keras's Embedding: the padding id gets a random, trainable vector."""
    embedded = keras.layers.Embedding(
        vocab_size, embedding_dim, embeddings_initializer=_default_initializer(shape), name="embedding"
    )(ids)
    return _flatten_head(embedded, shape)


def mask_zero(ids, vocab_size, embedding_dim, **shape):
    """Keras's Embedding with mask_zero=True: Flatten and Dense ignore the mask."""
    embedded = keras.layers.Embedding(
        vocab_size, embedding_dim, embeddings_initializer=_default_initializer(shape), mask_zero=True, name="embedding"
    )(ids)
    return _flatten_head(embedded, shape)


def multiply(ids, vocab_size, embedding_dim, **shape):
    """The reference workaround: embeddings times a Lambda-computed padding mask."""
    layer = keras.layers.Embedding(vocab_size, embedding_dim, embeddings_initializer=_default_initializer(shape), name="embedding")
    return _flatten_head(_multiplied_by_mask(ids, layer), shape)


def _small_uniform_embedding(vocab_size, embedding_dim, constraint=None):
    return keras.layers.Embedding(
        vocab_size,
        embedding_dim,
        embeddings_initializer=keras.initializers.RandomUniform(1e-4, 0.05),
        embeddings_constraint=constraint,
        name="embedding",
    )


def uniform_nonneg(ids, vocab_size, embedding_dim, **shape):
    """The reference's RandomUniform(1e-4, 0.05) init + NonNeg constraint + the mask."""
    layer = _small_uniform_embedding(vocab_size, embedding_dim, keras.constraints.NonNeg())
    return _flatten_head(_multiplied_by_mask(ids, layer), shape)


def uniform(ids, vocab_size, embedding_dim, **shape):
    """The same RandomUniform(1e-4, 0.05) init and mask, without the constraint."""
    layer = _small_uniform_embedding(vocab_size, embedding_dim)
    return _flatten_head(_multiplied_by_mask(ids, layer), shape)


def uniform_unmasked(ids, vocab_size, embedding_dim, **shape):
    """Ablation: the RandomUniform(1e-4, 0.05) init alone, without mask or constraint."""
    return _flatten_head(_small_uniform_embedding(vocab_size, embedding_dim)(ids), shape)


def uniform_nonneg_unmasked(ids, vocab_size, embedding_dim, **shape):
    """Ablation: the RandomUniform(1e-4, 0.05) init and NonNeg constraint, without the mask."""
    layer = _small_uniform_embedding(vocab_size, embedding_dim, keras.constraints.NonNeg())
    return _flatten_head(layer(ids), shape)


def padzero(ids, vocab_size, embedding_dim, **shape):
    """padzero.Embedding: the padding id embeds to exactly zero, with no gradient."""
    embedded = padzero_layers.Embedding(
        vocab_size, embedding_dim, padding_idx=0, embeddings_initializer=_default_initializer(shape), name="embedding"
    )(ids)
    return _flatten_head(embedded, shape)


def masked_average(ids, vocab_size, embedding_dim, **shape):
    """padzero.Embedding + its mask -> masked average over real tokens -> the same head."""
    embedded = padzero_layers.Embedding(
        vocab_size, embedding_dim, padding_idx=0, mask_zero=True,
        embeddings_initializer=_default_initializer(shape), name="embedding",
    )(ids)
    # The mask leaves padding out of the average, so trimmed batches need no other change.
    features = keras.layers.GlobalAveragePooling1D(name="average")(embedded)
    return _dense_head(features, **shape)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One model variant of the study: how to build it and what the original experiment showed.

    Args:
        name: str, the variant's name on the command line and in results.
        description: str, one line for `--help` and the report.
        build: callable `(ids, vocab_size, embedding_dim, **shape) -> outputs`:
            maps the Keras ids input to class probabilities. `shape` holds
            `num_classes`, `hidden_units`, `dropout`, `maxlen`, `fast_path`
            and `embedding_init_scale`.
        in_study: bool, True for a variant `--variants all` trains; False for
            a `padzero diagnose` ablation.
        zero_padding: bool, True when the padding id embeds to exactly zero,
            so trimmed batches (the fast path) give the plain model's numbers.
        reference: dict or None, the original experiment: `"pattern"` (one of
            "learns_at_once", "starts_at_chance", "stays_at_chance": what each
            seed must show to count as reproducing it), `"note"`, and the
            published numbers among "epoch1_val_accuracy",
            "best_val_accuracy", "best_epoch", "epochs_at_chance",
            "seconds_per_epoch" (a missing field was not published). None when
            the original experiment had no such variant.
    """

    name: str
    description: str
    build: Callable
    in_study: bool = True
    zero_padding: bool = False
    reference: Optional[dict] = None


# Report order: the study's seven, then the ablations.
VARIANTS = {}


def register_variant(variant):
    """Adds a `Variant` to `VARIANTS`, after the ones there; a name already taken is a `ValueError`."""
    return register(VARIANTS, variant, "variant")


def study_variants():
    """The names `--variants all` trains, in report order (the diagnose ablations left out)."""
    return tuple(name for name, variant in VARIANTS.items() if variant.in_study)


def fast_path_variants():
    """The names whose padding embeds to exactly zero, so trimmed batches are exact."""
    return tuple(name for name, variant in VARIANTS.items() if variant.zero_padding)


for _variant in (
    Variant(
        "baseline", "Keras's Embedding: the padding id gets a random, trainable vector", baseline,
        reference={"epoch1_val_accuracy": 0.05, "best_val_accuracy": 0.875, "best_epoch": 13,
                   "epochs_at_chance": 4, "seconds_per_epoch": 56, "pattern": "starts_at_chance",
                   "note": "plain Keras Embedding: ≈ 0.05 for the first 4 epochs"},
    ),
    Variant(
        "multiply", "the reference workaround: embeddings times a Lambda-computed padding mask", multiply,
        zero_padding=True,
        reference={"epoch1_val_accuracy": 0.775, "best_val_accuracy": 0.894, "epochs_at_chance": 0,
                   "pattern": "learns_at_once",
                   "note": "Lambda mask × Multiply workaround: 0.88 after epoch 2"},
    ),
    Variant(
        "padzero", "padzero.Embedding: the padding id embeds to exactly zero, with no gradient", padzero,
        zero_padding=True,
        reference={"pattern": "learns_at_once", "note": "expected to behave like multiply"},
    ),
    Variant(
        "uniform_nonneg", "the reference's RandomUniform(1e-4, 0.05) init + NonNeg constraint + the mask",
        uniform_nonneg, zero_padding=True,
        reference={"epoch1_val_accuracy": 0.05, "epochs_at_chance": 24, "pattern": "stays_at_chance",
                   "note": "RandomUniform(1e-4, 0.05) init + NonNeg + the mask: stuck at ≈ 0.05 for 24 epochs"},
    ),
    Variant(
        "uniform", "the same RandomUniform(1e-4, 0.05) init and mask, without the constraint", uniform,
        zero_padding=True,
        reference={"epoch1_val_accuracy": 0.05, "pattern": "stays_at_chance",
                   "note": "uniform_nonneg without NonNeg: also stuck at ≈ 0.05"},
    ),
    Variant(
        "mask_zero", "Keras's Embedding with mask_zero=True: Flatten and Dense ignore the mask", mask_zero,
        reference={"pattern": "starts_at_chance",
                   "note": "expected to behave like baseline, since Flatten ignores masks"},
    ),
    Variant(
        "masked_average", "padzero.Embedding + its mask -> masked average over real tokens -> the same head",
        masked_average, zero_padding=True,
    ),
    # The diagnose ablations: they split the uniform variants' init from their mask and constraint.
    Variant(
        "uniform_unmasked", "ablation: the RandomUniform(1e-4, 0.05) init alone, without mask or constraint",
        uniform_unmasked, in_study=False,
    ),
    Variant(
        "uniform_nonneg_unmasked", "ablation: the RandomUniform(1e-4, 0.05) init and NonNeg, without the mask",
        uniform_nonneg_unmasked, in_study=False,
    ),
):
    register_variant(_variant)
del _variant


def build_model(
    variant,
    *,
    vocab_size,
    maxlen,
    num_classes=20,
    embedding_dim=300,
    hidden_units=25,
    dropout=0.3,
    fast_path=False,
    embedding_init_scale=None,
):
    """Builds one variant of the study's model (uncompiled).

    Args:
        variant: str, a name in `VARIANTS`: "baseline", "multiply",
            "padzero", "uniform_nonneg", "uniform", "mask_zero",
            "masked_average", the ablations "uniform_unmasked",
            "uniform_nonneg_unmasked", or one added by `register_variant`.
        vocab_size: int, rows of the embedding table (words + the padding id 0).
        maxlen: int, ids per example.
        num_classes: int, default 20.
        embedding_dim: int, default 300.
        hidden_units: int, default 25.
        dropout: float, default 0.3.
        fast_path: bool, default False. If True, the model takes ids of any
            length `<= maxlen` (the last positions; feed it
            `padzero.TrimmedBatches`) and `Flatten -> Dense` becomes
            `padzero.FlattenDense`, with the same weights. Only for the
            variants with `zero_padding` (`fast_path_variants()`).
        embedding_init_scale: float or None (default: Keras's 0.05). The
            embeddings start uniform in (-scale, scale); ignored by the
            `uniform*` variants, whose init is the point of them.

    Returns:
        A `keras.Model` from int32 ids `(batch, maxlen)` to class probabilities.

    Raises:
        ValueError: for a name not in `VARIANTS`, a size that is not a
            positive integer, or `fast_path=True` for a variant whose padding
            does not embed to zero.

    Example:

    >>> model = build_model("padzero", vocab_size=100, maxlen=12, num_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    from padzero.validation import check_positive_int  # importing padzero imports Keras: here, not at the top

    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose from {', '.join(VARIANTS)}.")
    sizes = {"vocab_size": vocab_size, "maxlen": maxlen, "num_classes": num_classes,
             "embedding_dim": embedding_dim, "hidden_units": hidden_units}
    for name, value in sizes.items():
        check_positive_int(name, value)
    if fast_path and not VARIANTS[variant].zero_padding:
        raise ValueError(
            f"Variant {variant!r} has no exact fast path: its padding vector is trainable and non-zero, "
            f"so trimmed columns would change the result. Fast path variants: {', '.join(fast_path_variants())}."
        )
    ids = keras.Input(shape=(None if fast_path else maxlen,), dtype="int32", name="ids")
    outputs = VARIANTS[variant].build(
        ids,
        vocab_size,
        embedding_dim,
        num_classes=num_classes,
        hidden_units=hidden_units,
        dropout=dropout,
        maxlen=maxlen,
        fast_path=fast_path,
        embedding_init_scale=embedding_init_scale,
    )
    return keras.Model(ids, outputs, name=variant)
