"""`padzero.Embedding`: a Keras `Embedding` whose padding id embeds to exactly zero."""

import keras
from keras import ops

from padzero.ids import IdsCheckedOnce, check_padding_idx, checked_ids, is_integer, is_sparse
from padzero.padding import zero_padding_positions, zero_padding_row

_IDS_CHECKED_ONCE = IdsCheckedOnce("padzero_checked_ids")


@keras.saving.register_keras_serializable(package="padzero")
class Embedding(keras.layers.Embedding):
    """Turns non-negative integer ids into dense vectors; the padding id gives zeros.

    A drop-in replacement for `keras.layers.Embedding` with PyTorch's
    `nn.Embedding(padding_idx=...)` semantics, made stricter on outputs:

    - every position whose id equals `padding_idx` embeds to exactly `0.0`,
      whatever the table row holds (after `set_weights`, pretrained
      `weights=`, regularizers, constraints, weight decay, NaN or inf);
    - the padding row of the table receives exactly zero gradient;
    - the padding row is initialised to zero (an explicit `weights=` table
      is kept as given, as PyTorch's `from_pretrained` does; its padding
      row is still never read);
    - with `mask_zero=True` the mask is `ids != padding_idx`.

    Every other argument behaves as in `keras.layers.Embedding`, including
    LoRA (`lora_rank`, `enable_lora`) and `quantize("int8" | "int4")`.

    Ids outside `[0, input_dim)` raise a `ValueError` when the layer runs
    eagerly, on every backend (Keras runs PyTorch eagerly, `fit` included).
    They are checked as given, before any conversion could change them:
    int64 NumPy ids on JAX, unsigned ids, and float ids, which must be whole
    numbers (`3.0` is id 3; `1.7`, NaN and inf raise); Python lists of ids
    are accepted too, and bool ids are read as 0 and 1, as Keras does. Ids
    that are not a rectangular array of integers, floats or bools (`None`,
    a ragged list, strings, complex numbers, objects) raise a `ValueError`
    too; the dtype of traced and symbolic ids is checked as well. A
    `keras.Model` converts its inputs to the dtype of its `keras.Input`
    before this layer sees them: give the `Input` a dtype that holds every
    id (on JAX, int32 unless 64-bit mode is on).
    Inside a compiled function (`jax.jit`, `tf.function`, `fit`/`predict` on
    JAX and TensorFlow) ids cannot be read without a host round trip, so the
    backend decides: negative ids wrap around (-1 is the last row); larger
    ids give NaN rows on JAX, raise `InvalidArgumentError` on TensorFlow
    without XLA (Keras's default on a CPU-only machine) and are clamped to
    the last row under XLA (`jit_compile=True`, Keras's default with a GPU).
    Validate ids before training. With `padding_idx=None` no check is made.

    Args:
        input_dim: Integer. Size of the vocabulary, i.e. maximum id + 1.
            A NumPy integer is taken as the Python int it holds; anything
            else that is not a positive int is refused by Keras, with
            Keras's message.
        output_dim: Integer. Dimension of the dense embedding (taken as
            `input_dim` is).
        padding_idx: Integer in `[-input_dim, input_dim)` or `None`,
            default `0`. The id that embeds to zero and gets no gradient.
            Negative values count from the end, as in PyTorch. `None` makes
            the layer behave exactly like `keras.layers.Embedding`.
        **kwargs: Any argument of `keras.layers.Embedding`
            (`embeddings_initializer`, `embeddings_regularizer`,
            `embeddings_constraint`, `mask_zero`, `weights`, `lora_rank`,
            `lora_alpha`, `name`, `dtype`, ...).

    Input shape:
        N-D tensor of ids with shape `(batch_size, ..., input_length)`.

    Output shape:
        (N+1)-D tensor with shape `(batch_size, ..., input_length, output_dim)`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> import padzero
    >>> layer = padzero.Embedding(input_dim=10, output_dim=3, padding_idx=0)
    >>> out = layer(np.array([[0, 0, 4, 7]]))
    >>> [float(abs(v).sum()) for v in keras.ops.convert_to_numpy(out)[0]][:2]
    [0.0, 0.0]
    >>> bool(keras.ops.convert_to_numpy(layer.embeddings)[0].any())
    False
    """

    def __init__(self, input_dim, output_dim, padding_idx=0, **kwargs):
        # Keras validates its own arguments, with its own messages (a drop-in raises what Keras raises); NumPy
        # integers, which Keras refuses, are taken as the Python ints they hold.
        input_dim, output_dim = (int(size) if is_integer(size) else size for size in (input_dim, output_dim))
        if padding_idx is not None and is_integer(input_dim) and input_dim > 0:
            # Only a valid input_dim gives padding_idx a range; any other is refused by Keras's __init__ below.
            padding_idx = check_padding_idx(padding_idx, input_dim)
        self.padding_idx = padding_idx
        # `weights=` makes the parent build and load the table inside its
        # __init__, so `padding_idx` must be set before that call.
        super().__init__(input_dim, output_dim, **kwargs)

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        if self.padding_idx is not None and self.quantization_mode is None:
            # As in PyTorch, the initializer's padding row is overwritten with
            # zeros; a `weights=` table is loaded after this and kept as given.
            self._embeddings.assign(self.table_with_zero_padding_row(ops.convert_to_tensor(self._embeddings)))

    def _zero_padding_positions(self, ids, outputs):
        return zero_padding_positions(ids, outputs, self.padding_idx)

    def __call__(self, *args, **kwargs):
        # The ids are checked as given, before Keras converts them (`padzero.ids.IdsCheckedOnce`).
        if self.padding_idx is None:
            return super().__call__(*args, **kwargs)
        return _IDS_CHECKED_ONCE.call(super().__call__, self._checked_ids, args, kwargs)

    def _checked_ids(self, ids):
        """Raises on ids outside [0, input_dim) when their values can be read; returns ids ready for Keras."""
        return checked_ids(ids, self.input_dim, self.padding_idx, self.name)

    # `as_ids`, `reads_zeroed_table` and `table_with_zero_padding_row` are how `call` reads its ids and its table,
    # and how `padzero.EmbeddingFlattenDense`, which gathers from this layer's table itself, reads them the same
    # way: public, so that it needs none of this layer's private members.

    def as_ids(self, inputs):
        """`inputs` as `call` reads them: checked as `__call__` checks them, then as int32 or int64.

        Ids that `__call__` has just checked are not checked again; `stateless_call`,
        the quantized calls and other layers reach here without `__call__`, and
        their ids are checked here.

        Args:
            inputs: the ids the layer was called on.

        Returns:
            The same ids as an int32 or int64 tensor.

        Raises:
            ValueError: ids outside `[0, input_dim)` whose values can be read,
                or ids that are not an array of numbers (see the class docstring).
        """
        if self.padding_idx is not None and not _IDS_CHECKED_ONCE.already_checked(inputs):
            inputs = self._checked_ids(inputs)
        if keras.backend.standardize_dtype(inputs.dtype) not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        return inputs

    def reads_zeroed_table(self, ids):
        """Whether `call` gathers `ids` from the table with its padding row zeroed, or zeroes its output's padding.

        `call` picks the cheaper of two exact formulations; both are tested to agree.
        Zeroing the padding row of the table costs one pass over the table,
        zeroing the padding positions of the output one pass over the output.
        At the reference shapes (20,001 rows, 32 x 1,100 ids) the table pass
        measured 1.00x / 0.98x / 1.07x of `keras.layers.Embedding` forward +
        backward on jax / tensorflow / torch, the output pass 1.06x / 0.93x /
        1.66x (eager torch pays for every extra pass; XLA fuses either):
        `python benchmarks/embedding_formulations.py`. With a small batch and
        a large vocabulary the output pass is the cheaper one.

        Args:
            ids: the tensor of ids `call` reads (`as_ids(inputs)`).

        Returns:
            True when `call` gathers from `table_with_zero_padding_row(table)`,
            False when it gathers from the table as held and zeroes the
            padding positions of its output. With `padding_idx=None` `call`
            does neither.
        """
        if is_sparse(ids):
            return True  # `take` handles sparse ids, elementwise `where` does not
        number_of_ids = 1
        for size in ids.shape:
            if size is None:
                return True  # unknown size (ragged ids, a TF graph): this path takes any input
            number_of_ids *= size
        return self.input_dim <= number_of_ids

    def table_with_zero_padding_row(self, table):
        """`table` with exactly 0.0 in row `padding_idx`: what `call` gathers from when `reads_zeroed_table(ids)`.

        Args:
            table: this layer's `(input_dim, output_dim)` table, as a tensor.

        Returns:
            A tensor of `table`'s shape and dtype whose padding row gets no
            gradient (`padzero.padding.zero_padding_row`; with
            `padding_idx=None` no row is zeroed).
        """
        return zero_padding_row(table, self.padding_idx)

    def call(self, inputs):
        ids = self.as_ids(inputs)
        table = self.embeddings
        if self.padding_idx is None:
            outputs = ops.take(table, ids, axis=0)
        elif self.reads_zeroed_table(ids):
            outputs = ops.take(self.table_with_zero_padding_row(ops.convert_to_tensor(table)), ids, axis=0)
        else:
            outputs = self._zero_padding_positions(ids, ops.take(table, ids, axis=0))
        return ops.cast(outputs, dtype=self.compute_dtype)

    def _int8_call(self, inputs, training=None):
        ids = self.as_ids(inputs)
        outputs = super()._int8_call(ids, training=training)
        if self.padding_idx is None:
            return outputs
        return self._zero_padding_positions(ids, outputs)

    def _int4_call(self, inputs, training=None):
        ids = self.as_ids(inputs)
        outputs = super()._int4_call(ids, training=training)
        if self.padding_idx is None:
            return outputs
        return self._zero_padding_positions(ids, outputs)

    def quantize(self, mode=None, type_check=True, config=None):
        # Keras's Embedding.quantize refuses subclasses (its quantized call
        # could bypass a subclass's `call`). Ours overrides both quantized
        # calls above, so it is safe to let the parent do the quantizing.
        if type_check and type(self) is not Embedding:
            raise self._not_implemented_error(self.quantize)
        super().quantize(mode, type_check=False, config=config)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        masked_id = 0 if self.padding_idx is None else self.padding_idx
        return ops.not_equal(inputs, masked_id)

    def get_config(self):
        return {**super().get_config(), "padding_idx": self.padding_idx}
