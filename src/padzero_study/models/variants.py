"""The model variants of the 20 Newsgroups study: one `Variant` record each, in `VARIANTS`.

Every variant is the reference architecture, Embedding(V, 300) -> Flatten ->
Dense(25, relu) -> Dropout(0.3) -> Dense(20, softmax), except for how it
embeds the padding id 0 (and `masked_average`, which averages the real
tokens' vectors in one `padzero.EmbeddingBag` instead of flattening). Each
record's `build` maps the ids input to class probabilities;
`build_model(variant, ...)` is the one entry point.

Adding a variant is one `register_variant(Variant(...))`: `--variants all`,
`--help` and the report's reference table read the registry. Importing this
module does not import Keras (the CLI's `--help` and the report read the
registry without it): Keras and padzero load at the first model built.
"""

import dataclasses
import functools
from typing import Callable, Optional

from padzero_study import reference
from padzero_study.lazy_import import ImportedOnFirstUse
from padzero_study.models.embeddings import EMBEDDINGS
from padzero_study.models.encoders import ENCODERS, classes_head
from padzero_study.models.padding_variants import (
    baseline,
    default_initializer,
    mask_zero,
    masked_average,
    multiply,
    padzero_embedding,
    uniform,
    uniform_nonneg,
    uniform_nonneg_unmasked,
    uniform_unmasked,
)
from padzero_study.registry import register

keras = ImportedOnFirstUse("keras")


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
        reference: dict or None, the original experiment: `"pattern"` (one of
            "learns_at_once", "starts_at_chance", "stays_at_chance": what each
            seed must show to count as reproducing it), `"note"`, and the
            published numbers among "epoch1_val_accuracy",
            "best_val_accuracy", "best_epoch", "epochs_at_chance",
            "seconds_per_epoch" (a missing field was not published). None when
            the original experiment had no such variant.
        keras_default_init: bool, True when the embedding starts from
            Keras's default init, whose width `embedding_init_scale`
            (`--init-scale`) sets; False for a variant with an init of its own.
        flattens: bool, True when the model holds Embedding -> Flatten ->
            Dense, which `fast_path` (`--fast-path`) computes as one layer.
        encoder: str, the name in `padzero_study.models.encoders.ENCODERS` of what
            the model does between its embedding and its classes (default
            "flatten"), whose memory estimate the study checks.
        embedding: str or None, the name in
            `padzero_study.models.embeddings.EMBEDDINGS` of an encoder study cell's
            embedding; None for the padding study's own variants.
        padding: "pre", "post" or None (default): the padding this variant
            trains with; None takes the study's. A cell's is its own.
    """

    name: str
    description: str
    build: Callable
    in_study: bool = True
    reference: Optional[dict] = None
    keras_default_init: bool = True
    flattens: bool = True
    encoder: str = "flatten"
    embedding: Optional[str] = None
    padding: Optional[str] = None


# Report order: the study's seven, then the ablations.
VARIANTS = {}


def register_variant(variant):
    """Adds a `Variant` to `VARIANTS`, after the ones there; a name already taken is a `ValueError`."""
    return register(VARIANTS, variant, "variant")


def study_variants():
    """The names `--variants all` trains, in report order (the diagnose ablations left out)."""
    return tuple(name for name, variant in VARIANTS.items() if variant.in_study)


for _variant in (
    Variant(
        "baseline",
        "Keras's Embedding: the padding id gets a random, trainable vector",
        baseline,
        reference={
            "epoch1_val_accuracy": 0.05,
            "best_val_accuracy": 0.875,
            "best_epoch": 13,
            "epochs_at_chance": 4,
            "seconds_per_epoch": 56,
            "pattern": "starts_at_chance",
            "note": "plain Keras Embedding: ≈ 0.05 for the first 4 epochs",
        },
    ),
    Variant(
        "multiply",
        "the reference workaround: embeddings times a Lambda-computed padding mask",
        multiply,
        reference={
            "epoch1_val_accuracy": 0.775,
            "best_val_accuracy": 0.894,
            "epochs_at_chance": 0,
            "pattern": "learns_at_once",
            "note": "Lambda mask × Multiply workaround: 0.88 after epoch 2",
        },
    ),
    Variant(
        "padzero",
        "padzero.Embedding: the padding id embeds to exactly zero, with no gradient",
        padzero_embedding,
        reference={"pattern": "learns_at_once", "note": "expected to behave like multiply"},
    ),
    Variant(
        "uniform_nonneg",
        "the reference's RandomUniform(1e-4, 0.05) init + NonNeg constraint + the mask",
        uniform_nonneg,
        keras_default_init=False,
        reference={
            "epoch1_val_accuracy": 0.05,
            "epochs_at_chance": 24,
            "pattern": "stays_at_chance",
            "note": "RandomUniform(1e-4, 0.05) init + NonNeg + the mask: stuck at ≈ 0.05 for 24 epochs",
        },
    ),
    Variant(
        "uniform",
        "the same RandomUniform(1e-4, 0.05) init and mask, without the constraint",
        uniform,
        keras_default_init=False,
        reference={
            "epoch1_val_accuracy": 0.05,
            "pattern": "stays_at_chance",
            "note": "uniform_nonneg without NonNeg: also stuck at ≈ 0.05",
        },
    ),
    Variant(
        "mask_zero",
        "Keras's Embedding with mask_zero=True: Flatten and Dense ignore the mask",
        mask_zero,
        reference={
            "pattern": "starts_at_chance",
            "note": "expected to behave like baseline, since Flatten ignores masks",
        },
    ),
    Variant(
        "masked_average",
        "padzero.EmbeddingBag(mean): masked average over real tokens -> the same head",
        masked_average,
        flattens=False,
        encoder="average",
    ),
    # The diagnose ablations: they split the uniform variants' init from their mask and constraint.
    Variant(
        "uniform_unmasked",
        "ablation: the RandomUniform(1e-4, 0.05) init alone, without mask or constraint",
        uniform_unmasked,
        in_study=False,
        keras_default_init=False,
    ),
    Variant(
        "uniform_nonneg_unmasked",
        "ablation: the RandomUniform(1e-4, 0.05) init and NonNeg, without the mask",
        uniform_nonneg_unmasked,
        in_study=False,
        keras_default_init=False,
    ),
):
    register_variant(_variant)
del _variant


# ---------------------------------------------------------------- the encoder study's cells: encoder x embedding


def cell_name(encoder, embedding, padding="pre"):
    """The variant name of one encoder study cell: "encoder/embedding", and "/post" for post-padding.

    Example:

    >>> cell_name("lstm", "padzero_mask", "post")
    'lstm/padzero_mask/post'
    """
    return f"{encoder}/{embedding}" + ("/post" if padding == "post" else "")


def encoder_cells(encoders):
    """The cells of the encoder study for `encoders` (names in `ENCODERS`): each encoder x every embedding
    choice x each of the encoder's paddings, in report order.

    Example:

    >>> encoder_cells(["cnn"])
    ('cnn/keras', 'cnn/keras_mask', 'cnn/padzero', 'cnn/padzero_mask')
    """
    return tuple(
        cell_name(encoder, embedding, padding)
        for encoder in encoders
        for padding in ENCODERS[encoder].paddings
        for embedding in EMBEDDINGS
    )


def _build_cell(ids, vocab_size, embedding_dim, *, encoder, embedding, **shape):
    choice, initializer = EMBEDDINGS[embedding], default_initializer(shape)
    if ENCODERS[encoder].averages:  # one bag layer: the embedded posts, (batch, maxlen, dim), are never held
        embedder = choice.build_average(vocab_size, embedding_dim, initializer, shape["maxlen"])
    else:
        embedder = choice.build(vocab_size, embedding_dim, initializer)
    return classes_head(ENCODERS[encoder].build(embedder, ids, {"embedding_dim": embedding_dim, **shape}), shape)


def _cell(name):
    """The `Variant` of an encoder study cell named by `cell_name`, or None for a name that is not one."""
    parts = name.split("/")
    if len(parts) not in (2, 3) or parts[0] not in ENCODERS or parts[1] not in EMBEDDINGS:
        return None
    encoder, embedding = ENCODERS[parts[0]], EMBEDDINGS[parts[1]]
    padding = parts[2] if len(parts) == 3 else "pre"
    if padding not in encoder.paddings or name != cell_name(encoder.name, embedding.name, padding):
        return None
    return Variant(
        name,
        f"{encoder.description}; {embedding.description}" + (", post-padded" if padding == "post" else ""),
        functools.partial(_build_cell, encoder=encoder.name, embedding=embedding.name),
        in_study=False,
        flattens=encoder.name == "flatten",
        encoder=encoder.name,
        embedding=embedding.name,
        padding=padding,
    )


def get_variant(name):
    """The `Variant` named `name`: a registered one, or an encoder study cell ("cnn/padzero"); None for neither."""
    if not isinstance(name, str):
        return None
    return VARIANTS.get(name) or _cell(name)


def build_model(
    variant,
    *,
    vocab_size,
    maxlen,
    num_classes=reference.NUM_CLASSES,
    embedding_dim=reference.EMBEDDING_DIM,
    hidden_units=reference.HIDDEN_UNITS,
    dropout=reference.DROPOUT,
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
        fast_path: bool, default False. If True, Embedding -> Flatten ->
            Dense(hidden) is one `padzero.EmbeddingFlattenDense` layer: the
            same function and weights (`plain_weights` / `set_plain_weights`
            exchange them with the plain model), with work only where posts
            hold real tokens. `masked_average` has no Flatten and is the same
            model on both paths.
        embedding_init_scale: float or None (default: Keras's 0.05). The
            embeddings start uniform in (-scale, scale); ignored by the
            `uniform*` variants, whose init is the point of them.

    Returns:
        A `keras.Model` from int32 ids `(batch, maxlen)` to class probabilities.

    Raises:
        ValueError: for a name not in `VARIANTS`, a size that is not a
            positive integer.

    Example:

    >>> model = build_model("padzero", vocab_size=100, maxlen=12, num_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    from padzero.validation import check_positive_int  # importing padzero imports Keras: here, not at the top

    if get_variant(variant) is None:
        raise ValueError(
            f"Unknown variant {variant!r}; choose from {', '.join(VARIANTS)}, or an encoder study cell "
            "such as 'cnn/padzero'."
        )
    sizes = {
        "vocab_size": vocab_size,
        "maxlen": maxlen,
        "num_classes": num_classes,
        "embedding_dim": embedding_dim,
        "hidden_units": hidden_units,
    }
    for name, value in sizes.items():
        check_positive_int(name, value)
    ids = keras.Input(shape=(maxlen,), dtype="int32", name="ids")
    outputs = get_variant(variant).build(
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
    return keras.Model(ids, outputs, name=variant.replace("/", "."))  # Keras names may not hold "/"


def plain_weights(model):
    """The weights of a `build_model` model in the plain model's layout, fast path or not.

    `padzero.EmbeddingFlattenDense` holds its kernel in blocks; its
    `get_weights` gives `[table, kernel, bias]` as the plain Embedding and
    Dense hold them, and layers follow in model order.

    Example:

    >>> plain = build_model("baseline", vocab_size=20, maxlen=6, num_classes=3, embedding_dim=4, hidden_units=2)
    >>> fast = build_model("baseline", vocab_size=20, maxlen=6, num_classes=3, embedding_dim=4, hidden_units=2,
    ...                    fast_path=True)
    >>> [w.shape for w in plain_weights(fast)] == [w.shape for w in plain.get_weights()]
    True
    """
    return [weight for layer in model.layers for weight in layer.get_weights()]


def set_plain_weights(model, weights):
    """Loads weights in the plain model's layout (`plain_weights` of either path) into a `build_model` model."""
    weights = list(weights)
    for layer in model.layers:
        count = len(layer.get_weights())
        if count:
            layer.set_weights(weights[:count])
            weights = weights[count:]
    if weights:
        raise ValueError(f"{len(weights)} weights left over after loading every layer of model '{model.name}'.")
