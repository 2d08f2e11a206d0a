"""`padzero.FlattenDense`: Flatten -> Dense that skips leading positions which embed to zero."""

import keras
from keras import ops

from padzero.validation import check_positive_int


@keras.saving.register_keras_serializable(package="padzero")
class FlattenDense(keras.layers.Layer):
    """`Flatten()` then `Dense(units)` over `maxlen` positions, fed only the positions that matter.

    Pre-padded sequences start with padding. When the padding embeds to exactly
    zero (`padzero.Embedding`, or embeddings multiplied by a padding mask), the
    leading positions contribute exactly nothing to a Dense layer over the
    flattened sequence: neither to its output nor to any gradient. This layer
    holds the same `kernel` (`(maxlen * features, units)`) and `bias` as
    `Dense(units)` after `Flatten()` on `(maxlen, features)` inputs, but accepts
    inputs of any length `<= maxlen`, taken as the *last* positions, and
    multiplies only those. Feed it batches whose leading all-padding columns
    were dropped (`padzero.TrimmedBatches` does this) and it computes the
    plain model's result, up to float re-association, with less work.

    With full-length inputs it is exactly `Dense(units)(Flatten()(inputs))`,
    so weights move between the two models with `set_weights`.

    Args:
        units: Positive integer, dimensionality of the output space.
        maxlen: Positive integer, the sequence length the kernel covers.
        activation: Activation function to use, default `None` (linear).
        use_bias: Boolean, whether the layer uses a bias vector, default `True`.
        kernel_initializer: Initializer for the `kernel` weights matrix,
            default `"glorot_uniform"` (computed over the full
            `maxlen * features` fan-in, as `Dense` after `Flatten` does).
        bias_initializer: Initializer for the bias vector, default `"zeros"`.
        kernel_regularizer: Regularizer for `kernel`, default `None`.
        bias_regularizer: Regularizer for `bias`, default `None`.
        kernel_constraint: Constraint for `kernel`, default `None`.
        bias_constraint: Constraint for `bias`, default `None`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        3D tensor `(batch_size, length, features)` with `length <= maxlen`;
        the `maxlen - length` positions before it are taken as zeros.

    Output shape:
        2D tensor `(batch_size, units)`.

    Example:

    >>> import numpy as np
    >>> full = np.zeros((2, 6, 3), "float32")
    >>> full[:, 4:] = 1.0  # two real tokens after four padding positions embedded to zero
    >>> plain = keras.layers.Dense(4)
    >>> expected = keras.ops.convert_to_numpy(plain(full.reshape(2, 18)))  # Flatten -> Dense
    >>> layer = FlattenDense(4, maxlen=6)
    >>> layer.build((None, 6, 3))
    >>> layer.set_weights(plain.get_weights())
    >>> trimmed = keras.ops.convert_to_numpy(layer(full[:, 4:]))  # only the last 2 positions
    >>> bool(np.allclose(trimmed, expected, atol=1e-6))
    True
    """

    def __init__(
        self,
        units,
        maxlen,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.maxlen = check_positive_int("maxlen", maxlen)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        length, features = input_shape[-2], input_shape[-1]
        if features is None:
            raise ValueError(f"The last axis (features) of the input must be known. Received: input_shape={input_shape}")
        if length is not None and length > self.maxlen:
            raise ValueError(
                f"Inputs may not be longer than maxlen={self.maxlen}. Received: input_shape={input_shape}"
            )
        self.features = features
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.maxlen * features, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs):
        # The last `length` positions own the last `length * features` kernel rows,
        # in the row-major order that Flatten uses.
        length = ops.shape(inputs)[1]
        kernel = self.kernel[(self.maxlen - length) * self.features :]
        outputs = ops.matmul(ops.reshape(inputs, (ops.shape(inputs)[0], -1)), kernel)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "maxlen": self.maxlen,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            }
        )
        return config
