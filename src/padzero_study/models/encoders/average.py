"""The average of the embedded posts, as GlobalAveragePooling1D gives it: with a mask, of the real tokens only.

Each embedding choice computes it as one `padzero.EmbeddingBag`
(`EmbeddingChoice.build_average`): the same function and initial weights as
the embedding layer followed by `GlobalAveragePooling1D`, without holding the
embedded posts, `(batch, maxlen, embedding_dim)`.
"""

from padzero_study.models.encoders.base import Encoder, register_encoder


def build(average, ids, shape):
    return average(ids)


# An epoch of the study's posts: ~9 s on a 2 vCPU CPU (docs/encoders/cpu-timing).
register_encoder(
    Encoder(
        "average",
        "GlobalAveragePooling1D (uses the mask)",
        build,
        uses_mask=True,
        weights=lambda s: 0,
        activations=lambda s: s["maxlen"] * s["embedding_dim"],  # at most: TensorFlow's bag gathers the real ids' rows
        averages=True,
        cpu_epoch_seconds=9,
    )
)
