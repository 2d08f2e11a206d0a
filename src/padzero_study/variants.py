"""The model variants of the 20 Newsgroups study, each built by a named function.

Every variant is the reference architecture, Embedding(V, 300) -> Flatten ->
Dense(25, relu) -> Dropout(0.3) -> Dense(20, softmax), except for how it
embeds the padding id 0 (and `masked_average`, which pools instead of
flattening). Each builder maps the ids input to class probabilities;
`build_model(variant, ...)` is the one entry point.
"""

import keras
from keras import ops

from padzero.embedding import Embedding
from padzero.flatten_dense import FlattenDense


def padding_mask(ids):
    """1.0 for real tokens, 0.0 for padding, shaped to broadcast over embeddings."""
    return ops.expand_dims(ops.cast(ops.greater(ids, 0), "float32"), -1)


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
    hidden = FlattenDense(shape["hidden_units"], shape["maxlen"], activation="relu", name="hidden")(embedded)
    return _classes_head(hidden, shape["num_classes"], shape["dropout"])


def _multiplied_by_mask(ids, embedding_layer):
    # The reference workaround: a Lambda computes the mask, Multiply applies it.
    mask = keras.layers.Lambda(padding_mask, name="padding_mask")(ids)
    return keras.layers.Multiply(name="zero_padding")([embedding_layer(ids), mask])


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
    embedded = Embedding(
        vocab_size, embedding_dim, padding_idx=0, embeddings_initializer=_default_initializer(shape), name="embedding"
    )(ids)
    return _flatten_head(embedded, shape)


def masked_average(ids, vocab_size, embedding_dim, **shape):
    """padzero.Embedding + its mask -> masked average over real tokens -> the same head."""
    embedded = Embedding(
        vocab_size, embedding_dim, padding_idx=0, mask_zero=True,
        embeddings_initializer=_default_initializer(shape), name="embedding",
    )(ids)
    # The mask leaves padding out of the average, so trimmed batches need no other change.
    features = keras.layers.GlobalAveragePooling1D(name="average")(embedded)
    return _dense_head(features, **shape)


VARIANTS = {
    builder.__name__: builder
    for builder in (
        baseline, multiply, padzero, uniform_nonneg, uniform, mask_zero, masked_average,
        uniform_unmasked, uniform_nonneg_unmasked,
    )
}

# What `--variants all` and the study train; the other two are `padzero diagnose` ablations
# that split the uniform variants' init from their mask and constraint.
STUDY_VARIANTS = ("baseline", "multiply", "padzero", "uniform_nonneg", "uniform", "mask_zero", "masked_average")

# Variants whose padding embeds to exactly zero, so trimmed batches give the
# plain model's numbers. Keras's Embedding (baseline, mask_zero) trains a
# non-zero padding vector that every padded position adds to the Dense layer.
FAST_PATH_VARIANTS = ("multiply", "padzero", "uniform_nonneg", "uniform", "masked_average")


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
        variant: str, one of `VARIANTS`: "baseline", "multiply", "padzero",
            "uniform_nonneg", "uniform", "mask_zero", "masked_average", or
            the ablations "uniform_unmasked", "uniform_nonneg_unmasked".
        vocab_size: int, rows of the embedding table (words + the padding id 0).
        maxlen: int, ids per example.
        num_classes: int, default 20.
        embedding_dim: int, default 300.
        hidden_units: int, default 25.
        dropout: float, default 0.3.
        fast_path: bool, default False. If True, the model takes ids of any
            length `<= maxlen` (the last positions; feed it
            `padzero.TrimmedBatches`) and `Flatten -> Dense` becomes
            `padzero.FlattenDense`, with the same weights. Only for
            `FAST_PATH_VARIANTS`, whose padding embeds to zero.
        embedding_init_scale: float or None (default: Keras's 0.05). The
            embeddings start uniform in (-scale, scale); ignored by the
            `uniform*` variants, whose init is the point of them.

    Returns:
        A `keras.Model` from int32 ids `(batch, maxlen)` to class probabilities.

    Example:

    >>> model = build_model("padzero", vocab_size=100, maxlen=12, num_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; choose from {', '.join(VARIANTS)}.")
    if fast_path and variant not in FAST_PATH_VARIANTS:
        raise ValueError(
            f"Variant {variant!r} has no exact fast path: its padding vector is trainable and non-zero, "
            f"so trimmed columns would change the result. Fast path variants: {', '.join(FAST_PATH_VARIANTS)}."
        )
    ids = keras.Input(shape=(None if fast_path else maxlen,), dtype="int32", name="ids")
    outputs = VARIANTS[variant](
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
