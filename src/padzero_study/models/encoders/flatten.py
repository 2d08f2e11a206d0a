"""The original experiment's encoder: Flatten -> Dense(hidden_units, relu), every position with weights of its own.

Flatten drops a Keras mask, so a padded position feeds the Dense layer like a
word. On the fast path the three layers Embedding -> Flatten -> Dense are one
`padzero.EmbeddingFlattenDense`: the same function and weights, with work only
where posts hold real tokens.
"""

from padzero_study.lazy_import import ImportedOnFirstUse
from padzero_study.models.encoders.base import Encoder, keras, register_encoder

padzero = ImportedOnFirstUse("padzero")


def padding_mask(ids):
    """1.0 for real tokens, 0.0 for padding, shaped to broadcast over embeddings."""
    real = keras.ops.cast(keras.ops.greater(ids, 0), "float32")
    return keras.ops.expand_dims(real, -1)


def features(embedding, ids, shape, zero_padding=False):
    """`embedding(ids)` (times the padding mask if `zero_padding`, the original workaround) -> Flatten -> Dense.

    Args:
        embedding: the embedding layer, not yet called.
        ids: the Keras ids input, `(batch, maxlen)`.
        shape: the model's sizes: `hidden_units`, `maxlen`, `fast_path`.
        zero_padding: bool, multiply padded positions by zero, as a Lambda-computed mask and a Multiply
            layer (the original experiment's workaround).
    """
    if shape["fast_path"]:
        return padzero.EmbeddingFlattenDense(
            embedding,
            shape["hidden_units"],
            shape["maxlen"],
            zero_padding=True if zero_padding else None,
            activation="relu",
            name="hidden",
        )(ids)
    embedded = embedding(ids)
    if zero_padding:
        mask = keras.layers.Lambda(padding_mask, name="padding_mask")(ids)
        embedded = keras.layers.Multiply(name="zero_padding")([embedded, mask])
    flat = keras.layers.Flatten(name="flatten")(embedded)
    return keras.layers.Dense(shape["hidden_units"], activation="relu", name="hidden")(flat)


# An epoch of the study's posts: ~21 s on a 2 vCPU CPU, on the fast path (docs/encoders/cpu-timing).
register_encoder(
    Encoder(
        "flatten",
        "Flatten -> Dense(25, relu): the original experiment's model (drops the mask)",
        lambda embedding, ids, shape: features(embedding, ids, shape),
        uses_mask=False,
        weights=lambda s: s["maxlen"] * s["embedding_dim"] * s["hidden_units"] + s["hidden_units"],
        activations=lambda s: 2 * s["maxlen"] * s["embedding_dim"],  # the embedded posts and their flat copy
        cpu_epoch_seconds=21,
    )
)
