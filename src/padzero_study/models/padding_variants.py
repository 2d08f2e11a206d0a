"""The model builders of the padding study's variants: the reference architecture, each with its own way of
embedding the padding id 0 (`padzero_study.models.variants` registers them). Keras and padzero load at the first
model built."""

from padzero_study.lazy_import import ImportedOnFirstUse
from padzero_study.models.embeddings import EMBEDDINGS
from padzero_study.models.encoders import classes_head
from padzero_study.models.encoders import flatten as flatten_encoder

keras = ImportedOnFirstUse("keras")


def _dense_head(features, num_classes, hidden_units, dropout, **unused):
    hidden = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(features)
    return classes_head(hidden, {"num_classes": num_classes, "dropout": dropout})


def _flatten_head(ids, embedding, shape, masked=False):
    """`embedding` (times the padding mask if `masked`) -> Flatten -> Dense(hidden) -> the classes head."""
    return classes_head(flatten_encoder.features(embedding, ids, shape, zero_padding=masked), shape)


# The widest embedding init the study takes: Keras's default is 0.05; far wider inits blow training up.
MAX_INIT_SCALE = 1.0


def default_initializer(shape):
    # Keras's default is RandomUniform(-0.05, 0.05); `embedding_init_scale` is the ablation of its width.
    scale = shape["embedding_init_scale"]
    return "uniform" if scale is None else keras.initializers.RandomUniform(-scale, scale)


def baseline(ids, vocab_size, embedding_dim, **shape):
    """Keras's Embedding: the padding id gets a random, trainable vector."""
    embedding = EMBEDDINGS["keras"].build(vocab_size, embedding_dim, default_initializer(shape))
    return _flatten_head(ids, embedding, shape)


def mask_zero(ids, vocab_size, embedding_dim, **shape):
    """Keras's Embedding with mask_zero=True: Flatten and Dense ignore the mask."""
    embedding = EMBEDDINGS["keras_mask"].build(vocab_size, embedding_dim, default_initializer(shape))
    return _flatten_head(ids, embedding, shape)


def multiply(ids, vocab_size, embedding_dim, **shape):
    """The reference workaround: embeddings times a Lambda-computed padding mask."""
    embedding = EMBEDDINGS["keras"].build(vocab_size, embedding_dim, default_initializer(shape))
    return _flatten_head(ids, embedding, shape, masked=True)


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
    embedding = _small_uniform_embedding(vocab_size, embedding_dim, keras.constraints.NonNeg())
    return _flatten_head(ids, embedding, shape, masked=True)


def uniform(ids, vocab_size, embedding_dim, **shape):
    """The same RandomUniform(1e-4, 0.05) init and mask, without the constraint."""
    return _flatten_head(ids, _small_uniform_embedding(vocab_size, embedding_dim), shape, masked=True)


def uniform_unmasked(ids, vocab_size, embedding_dim, **shape):
    """Ablation: the RandomUniform(1e-4, 0.05) init alone, without mask or constraint."""
    return _flatten_head(ids, _small_uniform_embedding(vocab_size, embedding_dim), shape)


def uniform_nonneg_unmasked(ids, vocab_size, embedding_dim, **shape):
    """Ablation: the RandomUniform(1e-4, 0.05) init and NonNeg constraint, without the mask."""
    embedding = _small_uniform_embedding(vocab_size, embedding_dim, keras.constraints.NonNeg())
    return _flatten_head(ids, embedding, shape)


def padzero_embedding(ids, vocab_size, embedding_dim, **shape):
    """padzero.Embedding: the padding id embeds to exactly zero, with no gradient."""
    embedding = EMBEDDINGS["padzero"].build(vocab_size, embedding_dim, default_initializer(shape))
    return _flatten_head(ids, embedding, shape)


def masked_average(ids, vocab_size, embedding_dim, **shape):
    """padzero.Embedding + its mask -> masked average over real tokens, as one padzero.EmbeddingBag -> the same head."""
    average = EMBEDDINGS["padzero_mask"].build_average(
        vocab_size, embedding_dim, default_initializer(shape), shape["maxlen"]
    )
    return _dense_head(average(ids), **shape)
