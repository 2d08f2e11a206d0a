"""One Transformer block over token and position embeddings, then an average, as Keras users write it.

MultiHeadAttention (4 heads) reads the embedding's mask as its padding
attention mask: with one, no query attends to a padded position, and the
average is over the real tokens. Without one, padding is attended like words.
"""

from padzero_study.models.encoders.base import Encoder, keras, register_encoder

HEADS = 4
FEED_FORWARD_UNITS = 128


def build(embedding, ids, shape):
    from padzero_study.models.encoders.positions import PositionEmbedding  # imports Keras: here, not at the top

    width = shape["embedding_dim"]
    tokens = PositionEmbedding(shape["maxlen"], name="positions")(embedding(ids))
    attended = keras.layers.MultiHeadAttention(HEADS, key_dim=max(width // HEADS, 1), name="attention")(tokens, tokens)
    tokens = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")(
        keras.layers.Add(name="attention_residual")([tokens, attended])
    )
    hidden = keras.layers.Dense(FEED_FORWARD_UNITS, activation="relu", name="feed_forward")(tokens)
    hidden = keras.layers.Dense(width, name="feed_forward_out")(hidden)
    tokens = keras.layers.LayerNormalization(epsilon=1e-6, name="feed_forward_norm")(
        keras.layers.Add(name="feed_forward_residual")([tokens, hidden])
    )
    return keras.layers.GlobalAveragePooling1D(name="average")(tokens)


def _weights(sizes):
    width, length = sizes["embedding_dim"], sizes["maxlen"]
    attention = 4 * (width * width + width)  # query, key, value and output projections
    feed_forward = 2 * width * FEED_FORWARD_UNITS + FEED_FORWARD_UNITS + width
    return length * width + attention + feed_forward + 4 * width  # positions, the block, two LayerNorms


def _activations(sizes):
    width, length = sizes["embedding_dim"], sizes["maxlen"]
    return length * (10 * width + 2 * FEED_FORWARD_UNITS) + 3 * HEADS * length * length  # scores, softmax, grads


# An epoch of the study's posts: ~42 min on a 2 vCPU CPU (docs/encoders/cpu-timing).
register_encoder(
    Encoder(
        "transformer",
        f"token + position embeddings -> MultiHeadAttention({HEADS} heads, the mask as its padding mask) -> "
        "feed-forward, LayerNorm -> average (uses the mask)",
        build,
        uses_mask=True,
        weights=_weights,
        activations=_activations,
        cpu_epoch_seconds=2520,
    )
)
