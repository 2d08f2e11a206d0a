"""How a model embeds its ids, for the encoder study: one `EmbeddingChoice` record each, in `EMBEDDINGS`.

The four choices a Keras user has for the padding id 0: Keras's `Embedding`
(a random, trainable padding vector), with `mask_zero=True` (the same vector,
plus a mask for the layers that read one), `padzero.Embedding` (exactly zero,
no gradient), and `padzero.Embedding` with its mask. Each choice also builds
the average of its embedded ids as one `padzero.EmbeddingBag` (`build_average`),
for the models that average. Importing this module does not import Keras.
"""

import dataclasses
from typing import Callable

from padzero_study.lazy_import import ImportedOnFirstUse
from padzero_study.registry import register

keras = ImportedOnFirstUse("keras")
padzero = ImportedOnFirstUse("padzero")


@dataclasses.dataclass(frozen=True)
class EmbeddingChoice:
    """One way to embed ids whose padding id is 0.

    Args:
        name: str, the name in encoder study cells (`"lstm/padzero_mask"`).
        description: str, one line for `--help` and the report.
        build: callable `(vocab_size, embedding_dim, initializer) -> layer`,
            a Keras layer named "embedding" from int ids to vectors.
        zero_padding: bool, True when the padding id embeds to exactly zero.
        masks: bool, True when the layer attaches a Keras mask (`mask_zero`).
    """

    name: str
    description: str
    build: Callable
    zero_padding: bool
    masks: bool

    def build_average(self, vocab_size, embedding_dim, initializer, length):
        """`GlobalAveragePooling1D` of this choice's embedded ids, as one `padzero.EmbeddingBag` named "embedding".

        The same average as `build`'s layer and the pooling give, without a
        `(batch, length, embedding_dim)` tensor: over the real ids where the
        choice masks, over all `length` positions where it does not (the
        padding vector counted as a word; where padding embeds to zero, the
        real ids' sum over `length`). A post of padding only averages to zeros
        where Keras's masked pooling gives NaN. The bag draws its table as
        `build`'s layer does, from `initializer` in the same place in the
        model; where the choice masks, its padding row then starts at zero,
        and a mask keeps that row out of every output and gradient anyway.

        Args:
            vocab_size: int, rows of the table (words + the padding id 0).
            embedding_dim: int, the width of each vector.
            initializer: the table's Keras initializer, as for `build`.
            length: int, the ids per post (the model's maxlen).

        Returns:
            A callable from ids `(batch, length)` to `(batch, embedding_dim)`.
        """
        if self.masks:
            mode, padding_idx = "mean", 0
        elif self.zero_padding:
            mode, padding_idx = "sum", 0
        else:
            mode, padding_idx = "mean", None  # every position reduced, the trainable padding vector included
        bag = padzero.EmbeddingBag(
            vocab_size,
            embedding_dim,
            mode=mode,
            padding_idx=padding_idx,
            embeddings_initializer=initializer,
            name="embedding",
        )
        if mode == "mean":
            return bag
        scale = keras.layers.Rescaling(1 / length, name="average")
        return lambda ids: scale(bag(ids))


EMBEDDINGS = {}


def register_embedding(choice):
    """Adds an `EmbeddingChoice` to `EMBEDDINGS`, after the ones there; a name already taken is a `ValueError`."""
    return register(EMBEDDINGS, choice, "embedding")


def _keras_embedding(mask_zero):
    def build(vocab_size, embedding_dim, initializer):
        return keras.layers.Embedding(
            vocab_size, embedding_dim, embeddings_initializer=initializer, mask_zero=mask_zero, name="embedding"
        )

    return build


def _padzero_embedding(mask_zero):
    def build(vocab_size, embedding_dim, initializer):
        return padzero.Embedding(
            vocab_size,
            embedding_dim,
            padding_idx=0,
            mask_zero=mask_zero,
            embeddings_initializer=initializer,
            name="embedding",
        )

    return build


for _choice in (
    EmbeddingChoice(
        "keras",
        "keras.layers.Embedding: a random, trainable padding vector, no mask",
        _keras_embedding(False),
        zero_padding=False,
        masks=False,
    ),
    EmbeddingChoice(
        "keras_mask",
        "keras.layers.Embedding(mask_zero=True): the same vector, and a mask",
        _keras_embedding(True),
        zero_padding=False,
        masks=True,
    ),
    EmbeddingChoice(
        "padzero",
        "padzero.Embedding(padding_idx=0): padding embeds to exactly zero, no mask",
        _padzero_embedding(False),
        zero_padding=True,
        masks=False,
    ),
    EmbeddingChoice(
        "padzero_mask",
        "padzero.Embedding(padding_idx=0, mask_zero=True): zero, and a mask",
        _padzero_embedding(True),
        zero_padding=True,
        masks=True,
    ),
):
    register_embedding(_choice)
del _choice
