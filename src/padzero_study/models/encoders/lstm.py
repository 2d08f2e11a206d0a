"""LSTM(64): its last state is the post's vector. With a mask, padded steps leave the state as it was.

Trained with pre-padding and with post-padding: without a mask, post-padding
is the classic trap, the last state comes after the padding.
"""

from padzero_study.models.encoders.base import Encoder, keras, register_encoder

UNITS = 64


def build(embedding, ids, shape):
    return keras.layers.LSTM(UNITS, name="lstm")(embedding(ids))


# An epoch of the study's posts: ~3.8 min pre-padded, ~4.0 min post-padded on a 2 vCPU CPU
# (docs/encoders/cpu-timing).
register_encoder(
    Encoder(
        "lstm",
        f"LSTM({UNITS}) (uses the mask); trained with pre- and with post-padding",
        build,
        uses_mask=True,
        weights=lambda s: 4 * (s["embedding_dim"] * UNITS + UNITS * UNITS + UNITS),
        activations=lambda s: s["maxlen"] * (s["embedding_dim"] + 6 * UNITS),  # gates, cell and state per step
        paddings=("pre", "post"),
        cpu_epoch_seconds=234,
    )
)
