"""Conv1D(128, 5, relu) -> GlobalMaxPooling1D, as in keras.io's text classification from scratch.

Conv1D does not take a mask: Keras drops it there (with a warning), so the
padding's vectors reach the convolution like words whatever the embedding.
"""

from padzero_study.models.encoders.base import Encoder, keras, register_encoder

FILTERS = 128
KERNEL_SIZE = 5


def build(embedding, ids, shape):
    convolved = keras.layers.Conv1D(FILTERS, KERNEL_SIZE, activation="relu", name="convolution")(embedding(ids))
    return keras.layers.GlobalMaxPooling1D(name="max_pooling")(convolved)


# An epoch of the study's posts: ~1.8 min on a 2 vCPU CPU (docs/encoders/cpu-timing).
register_encoder(
    Encoder(
        "cnn",
        f"Conv1D({FILTERS}, {KERNEL_SIZE}, relu) -> GlobalMaxPooling1D (drops the mask)",
        build,
        uses_mask=False,
        weights=lambda s: KERNEL_SIZE * s["embedding_dim"] * FILTERS + FILTERS,
        activations=lambda s: s["maxlen"] * (s["embedding_dim"] + 2 * FILTERS),
        cpu_epoch_seconds=108,
    )
)
