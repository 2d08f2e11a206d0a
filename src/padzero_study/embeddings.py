"""How a model embeds its ids, for the encoder study: one `EmbeddingChoice` record each, in `EMBEDDINGS`.

The four choices a Keras user has for the padding id 0: Keras's `Embedding`
(a random, trainable padding vector), with `mask_zero=True` (the same vector,
plus a mask for the layers that read one), `padzero.Embedding` (exactly zero,
no gradient), and `padzero.Embedding` with its mask. Importing this module
does not import Keras.
"""

import dataclasses
from typing import Callable

from padzero_study.lazy_import import ImportedOnFirstUse
from padzero_study.registry import register

keras = ImportedOnFirstUse("keras")
padzero_layers = ImportedOnFirstUse("padzero")


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


EMBEDDINGS = {}


def register_embedding(choice):
    """Adds an `EmbeddingChoice` to `EMBEDDINGS`, after the ones there; a name already taken is a `ValueError`."""
    return register(EMBEDDINGS, choice, "embedding")


def _keras_embedding(mask_zero):
    def build(vocab_size, embedding_dim, initializer):
        return keras.layers.Embedding(vocab_size, embedding_dim, embeddings_initializer=initializer,
                                      mask_zero=mask_zero, name="embedding")
    return build


def _padzero_embedding(mask_zero):
    def build(vocab_size, embedding_dim, initializer):
        return padzero_layers.Embedding(vocab_size, embedding_dim, padding_idx=0, mask_zero=mask_zero,
                                        embeddings_initializer=initializer, name="embedding")
    return build


for _choice in (
    EmbeddingChoice("keras", "keras.layers.Embedding: a random, trainable padding vector, no mask",
                    _keras_embedding(False), zero_padding=False, masks=False),
    EmbeddingChoice("keras_mask", "keras.layers.Embedding(mask_zero=True): the same vector, and a mask",
                    _keras_embedding(True), zero_padding=False, masks=True),
    EmbeddingChoice("padzero", "padzero.Embedding(padding_idx=0): padding embeds to exactly zero, no mask",
                    _padzero_embedding(False), zero_padding=True, masks=False),
    EmbeddingChoice("padzero_mask", "padzero.Embedding(padding_idx=0, mask_zero=True): zero, and a mask",
                    _padzero_embedding(True), zero_padding=True, masks=True),
):
    register_embedding(_choice)
del _choice
