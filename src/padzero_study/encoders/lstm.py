"""LSTM(64): its last state is the post's vector. With a mask, padded steps leave the state as it was.

Trained with pre-padding and with post-padding: without a mask, post-padding
is the classic trap, the last state comes after the padding.
"""

from padzero_study.encoders import Encoder, keras, register_encoder

UNITS = 64


def build(embedding, ids, shape):
    return keras.layers.LSTM(UNITS, name="lstm")(embedding(ids))


# About 1 min an epoch of the quick run's 4,000 posts on a 2-core CPU: not quick there.
register_encoder(Encoder(
    "lstm",
    f"LSTM({UNITS}) (uses the mask); trained with pre- and with post-padding",
    build,
    uses_mask=True,
    weights=lambda s: 4 * (s["embedding_dim"] * UNITS + UNITS * UNITS + UNITS),
    activations=lambda s: s["maxlen"] * (s["embedding_dim"] + 6 * UNITS),  # gates, cell and state per step
    paddings=("pre", "post"),
    quick_on_cpu=False,
))
