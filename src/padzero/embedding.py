"""`padzero.Embedding`: a Keras `Embedding` whose padding id embeds to exactly zero."""

import contextvars
import numbers

import keras
import numpy as np
from keras import ops


# What `bool()` of a tensor without a value raises: TypeError for JAX tracers
# and TF graph tensors, NotImplementedError/RuntimeError for torch's meta
# tensors (Keras's shape inference). The eager id check then skips itself, so
# the same layer works inside `jit` and `tf.function`.
_NO_VALUE_YET = (TypeError, NotImplementedError, RuntimeError)

# The ids that `Embedding.__call__` has just checked, so that `call` does not
# check them a second time (one reduction per call).
# The default is no id value at all, so that `None` passed as ids is checked too.
_CHECKED_IDS = contextvars.ContextVar("padzero_checked_ids", default=object())


def _is_sparse(tensor):
    # TF's SparseTensor and JAX's BCOO carry an `indices` array; torch tensors
    # have an `indices()` method instead, hence the callable test.
    indices = getattr(tensor, "indices", None)
    return indices is not None and not callable(indices)


def _is_integer(value):
    # bool is an Integral too, but `padding_idx=True` is always a mistake.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_tensor(value):
    """True for this backend's tensors (traced ones too), Keras symbolic tensors and any library's sparse tensors."""
    return ops.is_tensor(value) or keras.backend.is_keras_tensor(value) or _is_sparse(value)


def zero_padding_positions(ids, outputs, padding_idx):
    """`outputs` (ids' embeddings) with exactly 0.0 wherever `ids` equal `padding_idx`.

    `where`, not a multiply by the mask: 0 * inf and 0 * NaN are NaN, and the
    padding output must be exactly 0.0 whatever the row holds. The unselected
    branch of `where` also gets exactly zero gradient, so the padding row of
    the table receives none.
    """
    is_padding = ops.expand_dims(ops.equal(ids, padding_idx), -1)
    return ops.where(is_padding, ops.zeros((), dtype=outputs.dtype), outputs)


def _id_kind(dtype):
    """"int", "float" or "bool" for a NumPy dtype that can hold ids; None for any other (str, complex, object, ...)."""
    if dtype.kind in "iub":
        return {"i": "int", "u": "int", "b": "bool"}[dtype.kind]
    if dtype.kind == "f":
        return "float"
    # ml_dtypes' bfloat16, float8 and int4 arrays (what JAX and TF give back) have kind "V".
    if dtype.kind == "V" and dtype.name.startswith(("bfloat16", "float")):
        return "float"
    if dtype.kind == "V" and dtype.name.startswith(("int", "uint")):
        return "int"
    return None


def _is_float_array(array):
    return _id_kind(array.dtype) == "float"


def _holds_only_integers(array):
    # NumPy keeps Python ints beyond 64 bits, such as 2**64, as objects.
    return all(isinstance(item, numbers.Integral) for item in array.reshape(-1))


def _first_non_integer(array):
    return next(item for item in array.reshape(-1) if not isinstance(item, numbers.Integral))


def _bad_id_mask(array, input_dim):
    """True where a NumPy array of ids holds no id of [0, input_dim): out of range, fractional, NaN or inf."""
    if _is_float_array(array):
        values = array.astype(np.float64)  # exact for every float dtype
        with np.errstate(invalid="ignore"):
            return ~((values >= 0) & (values < input_dim) & (values == np.floor(values)))
    return (array < 0) | (array >= input_dim)


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
        input_dim, output_dim = (int(size) if _is_integer(size) else size for size in (input_dim, output_dim))
        if padding_idx is not None and _is_integer(input_dim) and input_dim > 0:
            # Only a valid input_dim gives padding_idx a range; any other is refused by Keras's __init__ below.
            if not _is_integer(padding_idx) or not -input_dim <= padding_idx < input_dim:
                raise ValueError(
                    "padding_idx must be None or an int in [-input_dim, input_dim) = "
                    f"[{-input_dim}, {input_dim}); received padding_idx={padding_idx!r} "
                    f"(of type {type(padding_idx).__name__}) with input_dim={input_dim!r}."
                )
            # Stored as a non-negative Python int, as PyTorch does, so masks
            # and configs agree and the config stays JSON-serializable.
            padding_idx = int(padding_idx) % input_dim
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
            self._embeddings.assign(self._zero_padding_row(ops.convert_to_tensor(self._embeddings)))

    def _zero_padding_row(self, table):
        is_padding_row = ops.expand_dims(ops.arange(self.input_dim) == self.padding_idx, -1)
        return ops.where(is_padding_row, ops.zeros((), dtype=table.dtype), table)

    def _zero_padding_positions(self, ids, outputs):
        return zero_padding_positions(ids, outputs, self.padding_idx)

    def __call__(self, *args, **kwargs):
        # Keras converts NumPy ids to tensors before `call` sees them, and on
        # JAX (64-bit off) that conversion wraps int64 ids >= 2**32 into range.
        # The ids are checked here, as given, before any conversion or cast.
        if self.padding_idx is None:
            return super().__call__(*args, **kwargs)
        if args:
            ids = self._checked_ids(args[0])
            args = (ids, *args[1:])
        elif "inputs" in kwargs:
            ids = kwargs["inputs"] = self._checked_ids(kwargs["inputs"])
        else:
            return super().__call__(*args, **kwargs)
        token = _CHECKED_IDS.set(ids)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            _CHECKED_IDS.reset(token)

    def _checked_ids(self, ids):
        """Raises on ids outside [0, input_dim) when their values can be read; returns ids ready for Keras.

        Host ids (NumPy arrays, lists, numbers, other libraries' tensors) are
        checked with NumPy and returned as an integer tensor that holds them
        exactly. This backend's tensors are checked in their own dtype (one
        reduction, one host sync) and returned unchanged; traced and symbolic
        ones are returned with only their dtype checked, as their values are
        unknown until run time.
        """
        if _is_tensor(ids):
            self._check_tensor_ids(ids)
            return ids
        host = self._host_ids(ids)
        if host.size and _bad_id_mask(host, self.input_dim).any():
            self._raise_bad_id(host)
        return ops.convert_to_tensor(host.astype(self._index_dtype(), copy=False))

    def _host_ids(self, ids):
        """Host ids as a NumPy array of integers or floats; raises if they are not a rectangular array of numbers."""
        if ids is None:
            self._raise_wrong_kind("None")
        try:
            host = np.asarray(ids)
        except (TypeError, ValueError) as error:  # e.g. a ragged list
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            self._raise_wrong_kind(
                f"ids of type {type(ids).__name__} that NumPy cannot turn into a rectangular array ({reason})",
                advice=f"Pad every row to the same length with padding_idx={self.padding_idx}, then pass "
                "an integer array of ids.",
            )
        kind = _id_kind(host.dtype)
        if kind == "float" or (kind == "int" and host.dtype.kind in "iu"):
            return host  # the usual case: used as given, no copy
        if kind is not None:  # bool (read as 0 and 1, as Keras does) or ml_dtypes' int4
            return host.astype(np.int64)
        if host.dtype.kind == "O" and _holds_only_integers(host):
            return host  # Python ints NumPy keeps as objects; any beyond int64 is out of range
        if host.dtype.kind == "O":
            item = _first_non_integer(host)
            strings = isinstance(item, (str, bytes))
            self._raise_wrong_kind(f"ids of dtype object holding {item!r} ({type(item).__name__})", strings=strings)
        strings = host.dtype.kind in "US"
        self._raise_wrong_kind(f"{'string ' if strings else ''}ids of dtype {host.dtype}", strings=strings)

    def _raise_wrong_kind(self, received, advice=None, strings=False):
        """Raises a one-line ValueError for ids that are not an array of integers, floats or bools."""
        if advice is None and strings:
            advice = "Map tokens to integer ids first, e.g. with keras.layers.StringLookup."
        elif advice is None:
            advice = "Pass an integer array of ids (a NumPy array, a tensor or a nested list of ints)."
        raise ValueError(
            f"Embedding ids must be an integer array of ids in [0, input_dim) = [0, {self.input_dim}); "
            f"received {received} in layer '{self.name}'. {advice}"
        )

    def _index_dtype(self):
        return "int32" if self.input_dim <= 2**31 else "int64"

    def _check_tensor_ids(self, ids):
        dtype = self._tensor_id_dtype(ids)
        if keras.backend.is_keras_tensor(ids) or _is_sparse(ids) or 0 in tuple(ids.shape):
            return  # symbolic: no values yet; sparse ids are left to Keras; an empty batch holds no bad id
        if keras.backend.backend() == "torch" and dtype in ("uint16", "uint32", "uint64"):
            # torch cannot compare these dtypes; it can copy them to the host.
            try:
                host = ops.convert_to_numpy(ids)
            except _NO_VALUE_YET:
                return
            if _bad_id_mask(host, self.input_dim).any():
                self._raise_bad_id(host)
            return
        bad = self._bad_id_tensor(ids, dtype)
        if bad is None:
            return  # every value of this dtype is a valid id
        try:
            if not bool(ops.any(bad)):  # one reduction, one host sync per call
                return
        except _NO_VALUE_YET:
            return  # traced or symbolic: values are unknown until run time
        self._raise_bad_id(ops.convert_to_numpy(ids))

    def _tensor_id_dtype(self, ids):
        """The standardized dtype of a tensor of ids; raises unless it is an integer, float or bool dtype."""
        try:
            dtype = keras.backend.standardize_dtype(ids.dtype)
        except ValueError:  # a dtype Keras does not know, e.g. TensorFlow's quantized ones
            dtype = getattr(ids.dtype, "name", str(ids.dtype))
        if not dtype.startswith(("int", "uint", "float", "bfloat16", "bool")):
            self._raise_wrong_kind(f"a tensor of dtype {dtype}", strings=dtype == "string")
        return dtype

    def _bad_id_tensor(self, ids, dtype):
        """True where `ids` (in their own dtype) hold no id of [0, input_dim); None if no value can be bad."""
        if keras.backend.is_float_dtype(dtype):
            if dtype not in ("float32", "float64"):
                ids, dtype = ops.cast(ids, "float32"), "float32"  # exact for float16, bfloat16, float8
            # The largest id the dtype holds exactly, so the bound is not rounded up or down.
            largest_id = np.asarray(self.input_dim - 1, dtype)
            if largest_id > self.input_dim - 1:
                largest_id = np.nextafter(largest_id, np.zeros((), dtype))
            in_range = ops.logical_and(
                ops.greater_equal(ids, 0), ops.less_equal(ids, ops.convert_to_tensor(largest_id, dtype))
            )
            # NaN fails every comparison, so it is caught with the fractional ids.
            return ops.logical_not(ops.logical_and(in_range, ops.equal(ids, ops.floor(ids))))
        if not dtype.startswith(("int", "uint")):  # bool: cast as Keras does, then checked
            ids, dtype = ops.cast(ids, "int32"), "int32"
        limits = np.iinfo(dtype)
        bad = []
        if limits.min < 0:
            bad.append(ops.less(ids, 0))
        if limits.max >= self.input_dim:  # else the dtype cannot hold a too-large id
            bad.append(ops.greater_equal(ids, self.input_dim))
        if not bad:
            return None
        return bad[0] if len(bad) == 1 else ops.logical_or(*bad)

    def _raise_bad_id(self, ids):
        """Raises a one-line ValueError naming the first bad id of a NumPy array, as given."""
        ids = np.asarray(ids).reshape(-1)
        bad = ids[np.flatnonzero(_bad_id_mask(ids, self.input_dim))[0]]
        if not _is_float_array(ids):
            bad = int(bad)
        elif not float(bad).is_integer():  # NaN, inf, 1.7
            raise ValueError(
                f"Embedding ids must be whole numbers in [0, input_dim) = [0, {self.input_dim}); "
                f"received id {str(bad)} ({ids.dtype.name}) in layer '{self.name}'. Give the ids an "
                "integer dtype (after rounding them) before calling the layer."
            )
        # str(), not an f-string's format(): float32 1.7 then reads "1.7".
        raise ValueError(
            f"Embedding ids must be in [0, input_dim) = [0, {self.input_dim}); "
            f"received id {str(bad)} in layer '{self.name}'. Raise input_dim or map "
            "out-of-vocabulary words to a valid id before calling the layer."
        )

    def _as_ids(self, inputs):
        # `stateless_call` and the quantized calls reach here without `__call__`.
        if self.padding_idx is not None and inputs is not _CHECKED_IDS.get():
            inputs = self._checked_ids(inputs)
        if keras.backend.standardize_dtype(inputs.dtype) not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        return inputs

    def call(self, inputs):
        ids = self._as_ids(inputs)
        table = self.embeddings
        if self.padding_idx is None:
            outputs = ops.take(table, ids, axis=0)
        elif self._table_is_smaller_than_output(ids):
            outputs = ops.take(self._zero_padding_row(ops.convert_to_tensor(table)), ids, axis=0)
        else:
            outputs = self._zero_padding_positions(ids, ops.take(table, ids, axis=0))
        return ops.cast(outputs, dtype=self.compute_dtype)

    def _table_is_smaller_than_output(self, ids):
        """Picks the cheaper of two exact formulations; both are tested to agree.

        Zeroing the padding row of the table costs one pass over the table,
        zeroing the padding positions of the output one pass over the output.
        At the reference shapes (20,001 rows, 32 x 1,100 ids) the table pass
        measured 1.00x / 0.98x / 1.07x of `keras.layers.Embedding` forward +
        backward on jax / tensorflow / torch, the output pass 1.06x / 0.93x /
        1.66x (eager torch pays for every extra pass; XLA fuses either):
        `python benchmarks/embedding_formulations.py`. With a small batch and
        a large vocabulary the output pass is the cheaper one.
        """
        if _is_sparse(ids):
            return True  # `take` handles sparse ids, elementwise `where` does not
        number_of_ids = 1
        for size in ids.shape:
            if size is None:
                return True  # unknown size (ragged ids, a TF graph): this path takes any input
            number_of_ids *= size
        return self.input_dim <= number_of_ids

    def _int8_call(self, inputs, training=None):
        ids = self._as_ids(inputs)
        outputs = super()._int8_call(ids, training=training)
        if self.padding_idx is None:
            return outputs
        return self._zero_padding_positions(ids, outputs)

    def _int4_call(self, inputs, training=None):
        ids = self._as_ids(inputs)
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
