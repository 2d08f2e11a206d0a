"""The ids an embedding reads: its `padding_idx` argument, and the check of the ids of an eager call.

`padzero.Embedding` and `padzero.EmbeddingBag` check their ids here, with the same
rules and words: ids are checked as given, before any conversion could change
them, with one reduction and one host sync for a tensor; traced and symbolic ids
have only their dtype checked.
"""

import contextvars
import numbers

import keras
import numpy as np
from keras import ops

# What `bool()` of a tensor without a value raises: TypeError for JAX tracers
# and TF graph tensors, NotImplementedError/RuntimeError for torch's meta
# tensors (Keras's shape inference). The eager check then skips itself, so
# the same layer works inside `jit` and `tf.function`.
_NO_VALUE_YET = (TypeError, NotImplementedError, RuntimeError)


def is_integer(value):
    """True for Python and NumPy integers, not bools: `padding_idx=True` is always a mistake."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_sparse(tensor):
    """True for TF's SparseTensor and JAX's BCOO, which carry an `indices` array (torch tensors have an
    `indices()` method instead, hence the callable test)."""
    indices = getattr(tensor, "indices", None)
    return indices is not None and not callable(indices)


def _is_tensor(value):
    """True for this backend's tensors (traced ones too), Keras symbolic tensors and any library's sparse tensors."""
    return ops.is_tensor(value) or keras.backend.is_keras_tensor(value) or is_sparse(value)


# No ids were checked in this context: `None` passed as ids is checked too.
_NO_IDS = object()


class IdsCheckedOnce:
    """Checks a layer's ids as given, before Keras's `Layer.__call__` converts them, and once only.

    Keras converts NumPy ids to tensors before `call` sees them, and on JAX
    (64-bit off) that conversion wraps int64 ids >= 2**32 into range, so the
    ids are checked before it; errors raised there also stay one line (Keras
    wraps those raised in `call`). `call` then asks `already_checked` and skips
    a second check (one reduction per call); `stateless_call` and the
    quantized calls reach `call` without `__call__`, and check there.

    Args:
        name: str, the name of the context variable: one instance per layer class.
    """

    def __init__(self, name):
        self._checked = contextvars.ContextVar(name, default=_NO_IDS)

    def call(self, keras_call, check, args, kwargs):
        """`keras_call(*args, **kwargs)` with its ids (the first argument, or `inputs=`) replaced by `check(ids)`."""
        if args:
            ids = check(args[0])
            args = (ids, *args[1:])
        elif "inputs" in kwargs:
            ids = kwargs["inputs"] = check(kwargs["inputs"])
        else:
            return keras_call(*args, **kwargs)
        token = self._checked.set(ids)
        try:
            return keras_call(*args, **kwargs)
        finally:
            self._checked.reset(token)

    def already_checked(self, ids):
        """True when `ids` are those `call` has just checked."""
        return ids is self._checked.get()


def check_padding_idx(padding_idx, input_dim):
    """Returns `padding_idx` as a non-negative Python int (or `None`), else raises a one-line `ValueError`.

    Negative values count from the end, as in PyTorch; the result is stored
    non-negative, so masks and configs agree and configs stay JSON.

    Args:
        padding_idx: the argument as received: `None` or an int in
            `[-input_dim, input_dim)` (NumPy integers included).
        input_dim: positive int, the vocabulary size.

    Example:

    >>> check_padding_idx(-1, input_dim=10)
    9
    >>> check_padding_idx(10, input_dim=10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: padding_idx must be None or an int in [-input_dim, input_dim) = [-10, 10); received padding_idx=10 ...
    """
    if padding_idx is None:
        return None
    if not is_integer(padding_idx) or not -input_dim <= padding_idx < input_dim:
        raise ValueError(
            "padding_idx must be None or an int in [-input_dim, input_dim) = "
            f"[{-input_dim}, {input_dim}); received padding_idx={padding_idx!r} "
            f"(of type {type(padding_idx).__name__}) with input_dim={input_dim!r}."
        )
    return int(padding_idx) % input_dim


def _id_kind(dtype):
    """ "int", "float" or "bool" for a NumPy dtype that can hold ids; None for any other (str, complex, object, ...)."""
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


def _bad_id_mask(array, input_dim):
    """True where a NumPy array of ids holds no id of [0, input_dim): out of range, fractional, NaN or inf."""
    if _is_float_array(array):
        values = array.astype(np.float64)  # exact for every float dtype
        with np.errstate(invalid="ignore"):
            return ~((values >= 0) & (values < input_dim) & (values == np.floor(values)))
    return (array < 0) | (array >= input_dim)


class _IdRules:
    """What a layer's ids must be, and the one-line errors that say so."""

    def __init__(self, input_dim, padding_idx, layer_name):
        self.input_dim = input_dim
        self.padding_idx = padding_idx
        self.layer_name = layer_name

    def checked(self, ids):
        if _is_tensor(ids):
            self.check_tensor(ids)
            return ids
        host = self.host_ids(ids)
        if host.size and _bad_id_mask(host, self.input_dim).any():
            self.raise_bad_id(host)
        return ops.convert_to_tensor(host.astype("int32" if self.input_dim <= 2**31 else "int64", copy=False))

    def host_ids(self, ids):
        """Host ids as a NumPy array of integers or floats; raises if they are not a rectangular array of numbers."""
        if ids is None:
            self.raise_wrong_kind("None")
        try:
            host = np.asarray(ids)
        except (TypeError, ValueError) as error:  # e.g. a ragged list
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.raise_wrong_kind(
                f"ids of type {type(ids).__name__} that NumPy cannot turn into a rectangular array ({reason})",
                advice=f"Pad every row to the same length with padding_idx={self.padding_idx}, then pass "
                "an integer array of ids.",
            )
        kind = _id_kind(host.dtype)
        if kind == "float" or (kind == "int" and host.dtype.kind in "iu"):
            return host  # the usual case: used as given, no copy
        if kind is not None:  # bool (read as 0 and 1, as Keras does) or ml_dtypes' int4
            return host.astype(np.int64)
        if host.dtype.kind == "O":
            # NumPy keeps Python ints beyond 64 bits, such as 2**64, as objects: out of range, named as given.
            non_integers = [item for item in host.reshape(-1) if not isinstance(item, numbers.Integral)]
            if not non_integers:
                return host
            item = non_integers[0]
            strings = isinstance(item, (str, bytes))
            self.raise_wrong_kind(f"ids of dtype object holding {item!r} ({type(item).__name__})", strings=strings)
        strings = host.dtype.kind in "US"
        self.raise_wrong_kind(f"{'string ' if strings else ''}ids of dtype {host.dtype}", strings=strings)

    def raise_wrong_kind(self, received, advice=None, strings=False):
        if advice is None and strings:
            advice = "Map tokens to integer ids first, e.g. with keras.layers.StringLookup."
        elif advice is None:
            advice = "Pass an integer array of ids (a NumPy array, a tensor or a nested list of ints)."
        raise ValueError(
            f"Embedding ids must be an integer array of ids in [0, input_dim) = [0, {self.input_dim}); "
            f"received {received} in layer '{self.layer_name}'. {advice}"
        )

    def check_tensor(self, ids):
        # A TensorFlow RaggedTensor: its ids are its flat values.
        ids = getattr(ids, "flat_values", ids)
        dtype = self.tensor_dtype(ids)
        if keras.backend.is_keras_tensor(ids) or is_sparse(ids) or 0 in tuple(ids.shape):
            return  # symbolic: no values yet; sparse ids are left to Keras; an empty batch holds no bad id
        if keras.backend.backend() == "torch" and dtype in ("uint16", "uint32", "uint64"):
            # torch cannot compare these dtypes; it can copy them to the host.
            try:
                host = ops.convert_to_numpy(ids)
            except _NO_VALUE_YET:
                return
            if _bad_id_mask(host, self.input_dim).any():
                self.raise_bad_id(host)
            return
        bad = self.bad_id_tensor(ids, dtype)
        if bad is None:
            return  # every value of this dtype is a valid id
        try:
            if not bool(ops.any(bad)):  # one reduction, one host sync per call
                return
        except _NO_VALUE_YET:
            return  # traced or symbolic: values are unknown until run time
        self.raise_bad_id(ops.convert_to_numpy(ids))

    def tensor_dtype(self, ids):
        """The standardized dtype of a tensor of ids; raises unless it is an integer, float or bool dtype."""
        try:
            dtype = keras.backend.standardize_dtype(ids.dtype)
        except ValueError:  # a dtype Keras does not know, e.g. TensorFlow's quantized ones
            dtype = getattr(ids.dtype, "name", str(ids.dtype))
        if not dtype.startswith(("int", "uint", "float", "bfloat16", "bool")):
            self.raise_wrong_kind(f"a tensor of dtype {dtype}", strings=dtype == "string")
        return dtype

    def bad_id_tensor(self, ids, dtype):
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

    def raise_bad_id(self, ids):
        """Raises a one-line ValueError naming the first bad id of a NumPy array, as given."""
        ids = np.asarray(ids).reshape(-1)
        bad = ids[np.flatnonzero(_bad_id_mask(ids, self.input_dim))[0]]
        if not _is_float_array(ids):
            bad = int(bad)
        elif not float(bad).is_integer():  # NaN, inf, 1.7
            raise ValueError(
                f"Embedding ids must be whole numbers in [0, input_dim) = [0, {self.input_dim}); "
                f"received id {bad!s} ({ids.dtype.name}) in layer '{self.layer_name}'. Give the ids an "
                "integer dtype (after rounding them) before calling the layer."
            )
        # str() (`!s`), not an f-string's format(): float32 1.7 then reads "1.7".
        raise ValueError(
            f"Embedding ids must be in [0, input_dim) = [0, {self.input_dim}); "
            f"received id {bad!s} in layer '{self.layer_name}'. Raise input_dim or map "
            "out-of-vocabulary words to a valid id before calling the layer."
        )


def checked_ids(ids, input_dim, padding_idx, layer_name):
    """`ids` ready for a Keras layer, after a one-line `ValueError` for any that is not an id of `[0, input_dim)`.

    Host ids (NumPy arrays, lists, numbers, other libraries' tensors) are
    checked with NumPy and returned as an integer tensor that holds them
    exactly. This backend's tensors are checked in their own dtype (one
    reduction, one host sync) and returned unchanged; traced and symbolic
    ones are returned with only their dtype checked, as their values are
    unknown until run time. Float ids must be whole numbers; bool ids are
    read as 0 and 1, as Keras does.

    Args:
        ids: what the layer was called on.
        input_dim: positive int, the vocabulary size.
        padding_idx: int or `None`, named in the advice for ragged lists.
        layer_name: str, named in every error.

    Example:

    >>> checked_ids([[0, 3, 12]], input_dim=10, padding_idx=0, layer_name="bag")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Embedding ids must be in [0, input_dim) = [0, 10); received id 12 in layer 'bag'. Raise input_dim ...
    """
    return _IdRules(input_dim, padding_idx, layer_name).checked(ids)
