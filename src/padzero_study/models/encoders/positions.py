"""`PositionEmbedding`: a learned vector per position, with positions counted over the real tokens when masked."""

import keras
from keras import ops

from padzero_study import values


@keras.saving.register_keras_serializable(package="padzero_study")
class PositionEmbedding(keras.layers.Layer):
    """Adds a trainable vector for each token's position to its embedding.

    With a Keras mask, positions count the real tokens only: a post's first
    real token is position 0 however much padding comes before it, so a
    masked model's output does not depend on the padding's length or side.
    Without a mask, the positions are the columns 0, 1, ..., as most
    position embeddings count them. The mask passes through.

    Args:
        max_length: int, the most positions a post has (the study's `maxlen`).
        embeddings_initializer: initializer of the position vectors
            (default: "uniform", as `keras.layers.Embedding`'s).

    Input shape:
        3D tensor `(batch_size, length, dim)` with `length <= max_length`.

    Output shape:
        The same as the input.

    Example:

    >>> import numpy as np
    >>> ids = np.array([[0, 0, 5, 6], [7, 8, 0, 0]])
    >>> embedded = keras.layers.Embedding(10, 3, mask_zero=True)(ids)
    >>> outputs = PositionEmbedding(4)(embedded)
    >>> tuple(outputs.shape)
    (2, 4, 3)
    """

    def __init__(self, max_length, embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        if not values.is_int(max_length) or max_length < 1:
            raise ValueError(f"max_length must be a positive integer. Received: max_length={max_length!r}")
        self.max_length = max_length
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        length = input_shape[1]
        if length is not None and length > self.max_length:
            raise ValueError(
                f"Inputs have {length} positions, more than max_length={self.max_length}; build "
                "PositionEmbedding with max_length at least the posts' length."
            )
        self.position_embeddings = self.add_weight(
            shape=(self.max_length, input_shape[-1]),
            initializer=self.embeddings_initializer,
            name="position_embeddings",
        )

    def call(self, inputs, mask=None):
        if mask is None:
            positions = ops.expand_dims(ops.arange(ops.shape(inputs)[1]), 0)
        else:
            # The n-th real token is position n - 1; padding takes position 0, and the mask leaves it out.
            positions = ops.maximum(ops.cumsum(ops.cast(mask, "int32"), axis=1) - 1, 0)
        return ops.add(inputs, ops.cast(ops.take(self.position_embeddings, positions, axis=0), inputs.dtype))

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "max_length": self.max_length,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
