"""GlobalAveragePooling1D over the embedded posts: with a mask, the average of the real tokens only."""

from padzero_study.encoders import Encoder, keras, register_encoder


def build(embedding, ids, shape):
    return keras.layers.GlobalAveragePooling1D(name="average")(embedding(ids))


# An epoch of the study's posts: ~9 s on a 2 vCPU CPU (docs/encoders/cpu-timing).
register_encoder(Encoder(
    "average",
    "GlobalAveragePooling1D (uses the mask)",
    build,
    uses_mask=True,
    weights=lambda s: 0,
    activations=lambda s: s["maxlen"] * s["embedding_dim"],
    cpu_epoch_seconds=9,
))
