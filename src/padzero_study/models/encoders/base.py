"""What an encoder of the study is (`Encoder`), the registry of them (`ENCODERS`), and the head every model
ends in. Each encoder module registers itself here; `padzero_study.models.encoders` imports them in order."""

import dataclasses
from typing import Callable

from padzero_study.lazy_import import ImportedOnFirstUse
from padzero_study.registry import register

keras = ImportedOnFirstUse("keras")

# Every Keras float is 4 bytes; a trainable weight holds its value, gradient and Adam's two moments.
BYTES_PER_FLOAT = 4
BYTES_PER_WEIGHT = 16
# The longest a full-size epoch may take on a 2 vCPU CPU for `--encoders all --quick` to train the encoder there: a
# quick run's 4,000 posts then take under 10 s an epoch (flatten ~21 s and average ~9 s at full size; the CNN
# ~1.8 min, the LSTM ~4 min, the Transformer ~42 min).
QUICK_CPU_EPOCH_SECONDS = 40


@dataclasses.dataclass(frozen=True)
class Encoder:
    """One encoder: its model builder, what it does with a Keras mask, and its memory estimate.

    Args:
        name: str, the value in `--encoders` and in study cells (`"cnn/padzero"`).
        description: str, one line for `--help` and the report, as a Keras user would write the layers.
        build: callable `(embedding, ids, shape) -> features`: given the
            embedding layer (not yet called), the Keras ids input and the
            model's sizes (`shape`: `maxlen`, `embedding_dim`, `hidden_units`,
            `fast_path`, ...), returns one vector per post. For an encoder
            that `averages`, `embedding` is the choice's average instead
            (`EmbeddingChoice.build_average`), a callable from ids to vectors.
        uses_mask: bool, True when its layers read a Keras mask (padding
            left out); False when they drop it, which the report says.
        weights: callable `(sizes) -> int`, its trainable weights besides the
            embedding table, for `sizes` with `maxlen`, `embedding_dim`,
            `hidden_units`.
        activations: callable `(sizes) -> int`, the floats one post holds
            through a training step (kept for the backward pass), roughly.
        averages: bool, default False. True for an encoder that is the
            average of the embedded ids: each embedding choice computes it as
            one bag layer, exactly, never holding `(batch, maxlen, dim)`.
        paddings: tuple of "pre" / "post": the paddings the study trains it
            with. Default: the study's own.
        cpu_epoch_seconds: float, about how long an epoch of the study's
            15,076 training posts takes on a 2 vCPU CPU (measured on 512
            posts and scaled: docs/encoders/cpu-timing, 2026-12-04). It
            sizes what a CPU can run: `--encoders all --quick` there trains
            the encoders under `QUICK_CPU_EPOCH_SECONDS`, and the report
            gives the cost of encoders still waiting for their runs.
    """

    name: str
    description: str
    build: Callable
    uses_mask: bool
    weights: Callable
    activations: Callable
    averages: bool = False
    paddings: tuple = ("pre",)
    cpu_epoch_seconds: float = 0.0

    @property
    def quick_on_cpu(self):
        """Whether an epoch of a quick run's posts takes seconds on a CPU, not minutes."""
        return self.cpu_epoch_seconds <= QUICK_CPU_EPOCH_SECONDS

    def memory_bytes(self, sizes, batch_size):
        """About how much memory a training step takes, besides the embedding table: weights with Adam's
        state, and a batch's activations."""
        return BYTES_PER_WEIGHT * self.weights(sizes) + BYTES_PER_FLOAT * batch_size * self.activations(sizes)


ENCODERS = {}


def register_encoder(encoder):
    """Adds an `Encoder` to `ENCODERS`, after the ones there; a name already taken is a `ValueError`."""
    return register(ENCODERS, encoder, "encoder")


def classes_head(features, shape):
    """What every model of the study ends in: Dropout(shape["dropout"]) -> Dense(num_classes, softmax)."""
    hidden = keras.layers.Dropout(shape["dropout"], name="dropout")(features)
    return keras.layers.Dense(shape["num_classes"], activation="softmax", name="classes")(hidden)
