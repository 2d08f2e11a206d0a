"""Conv1D(128, 5, relu) -> GlobalMaxPooling1D, as in keras.io's text classification from scratch.

Conv1D does not take a mask: Keras drops it there (with a warning), so the
padding's vectors reach the convolution like words whatever the embedding.
"""

from padzero_study.encoders import Encoder, keras, register_encoder

FILTERS = 128
KERNEL_SIZE = 5


def build(embedding, ids, shape):
    convolved = keras.layers.Conv1D(FILTERS, KERNEL_SIZE, activation="relu", name="convolution")(embedding(ids))
    return keras.layers.GlobalMaxPooling1D(name="max_pooling")(convolved)


# An epoch of the quick run's 4,000 posts takes 30-70 s on a 2-core CPU (docs/encoders/cpu-timing, 2026-12-04 and
# 2026-12-07): not quick there.
register_encoder(Encoder(
    "cnn",
    f"Conv1D({FILTERS}, {KERNEL_SIZE}, relu) -> GlobalMaxPooling1D (drops the mask)",
    build,
    uses_mask=False,
    weights=lambda s: KERNEL_SIZE * s["embedding_dim"] * FILTERS + FILTERS,
    activations=lambda s: s["maxlen"] * (s["embedding_dim"] + 2 * FILTERS),
    quick_on_cpu=False,
))
