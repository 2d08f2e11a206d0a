"""`padzero.EmbeddingBag`: PyTorch's `nn.EmbeddingBag` for Keras 3, one vector per bag of ids."""

import keras
import numpy as np
from keras import ops

from padzero.bag_reduction import MODES, reduce_bags
from padzero.ids import IdsCheckedOnce, check_padding_idx, checked_ids
from padzero.padding import zero_padding_row
from padzero.validation import check_positive_int

_IDS_CHECKED_ONCE = IdsCheckedOnce("padzero_bag_checked_ids")


@keras.saving.register_keras_serializable(package="padzero")
class EmbeddingBag(keras.layers.Layer):
    """Sums, averages or takes the max of the embeddings of each row of ids, leaving out the padding id.

    PyTorch's `nn.EmbeddingBag` (with 2D input) for Keras 3: each row of ids
    is a bag, and its vector is the sum, mean or element-wise max of the
    table rows of its real ids, every position whose id is not `padding_idx`.
    Unlike `Embedding(mask_zero=True)` followed by `GlobalAveragePooling1D`,
    it never holds a `(batch_size, length, output_dim)` tensor, forward or
    backward, and a bag of padding only gives zeros in every mode (Keras's
    masked average gives NaN, its max pooling ignores the mask).

    - The padding row is initialised to zero (a `weights=` table is kept as
      given, as PyTorch's `from_pretrained` does), is never read into an
      output, whatever it holds (NaN and inf included), and receives exactly
      zero gradient.
    - The table's gradient is dense on JAX and PyTorch and `IndexedSlices`
      over the bags' unique ids on TensorFlow. On TensorFlow the layer uses
      dynamic shapes, which XLA does not take: a model holding it compiles
      with `jit_compile=False` (Keras warns if `True` was asked for).
    - Ids outside `[0, input_dim)` raise a `ValueError` when the layer runs
      eagerly (PyTorch, `fit` included, and eager JAX and TensorFlow calls),
      checked as `padzero.Embedding` checks them. Inside compiled functions
      the backend decides, as for `padzero.Embedding`: validate ids first.

    Args:
        input_dim: Positive integer, the size of the vocabulary (largest id + 1).
        output_dim: Positive integer, the dimension of each bag's vector.
        mode: `"sum"`, `"mean"` (default) or `"max"`, as in PyTorch. A bag
            without real ids gives zeros in every mode.
        padding_idx: Integer in `[-input_dim, input_dim)` or `None`, default
            `0`. The id left out of every bag; negative values count from the
            end, as in PyTorch. `None` reduces every position.
        embeddings_initializer: Initializer for the table, default
            `"uniform"` (as `keras.layers.Embedding`); its padding row is
            then set to zero.
        embeddings_regularizer: Regularizer for the table, default `None`.
        embeddings_constraint: Constraint for the table, default `None`.
        weights: Optional `(input_dim, output_dim)` table (or a list holding
            it) to start from, kept as given.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: 2D tensor of ids `(batch_size, length)`; on TensorFlow also
            a `tf.RaggedTensor`, one bag a row.
        per_sample_weights: Optional float tensor shaped like `inputs`: a
            weight for each id, `mode="sum"` only (as in PyTorch).

    Input shape:
        2D tensor with shape `(batch_size, length)`.

    Output shape:
        2D tensor with shape `(batch_size, output_dim)`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> import padzero
    >>> table = np.arange(12, dtype="float32").reshape(4, 3)
    >>> bag = padzero.EmbeddingBag(4, 3, mode="mean", padding_idx=0, weights=table)
    >>> keras.ops.convert_to_numpy(bag(np.array([[0, 0, 1, 3], [0, 0, 0, 0]]))).tolist()
    [[6.0, 7.0, 8.0], [0.0, 0.0, 0.0]]
    >>> sums = padzero.EmbeddingBag(4, 3, mode="sum", weights=table)
    >>> keras.ops.convert_to_numpy(sums(np.array([[2, 0, 3]]), per_sample_weights=np.array([[1.0, 5.0, 0.5]])))
    array([[10.5, 12. , 13.5]], dtype=float32)
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        mode="mean",
        padding_idx=0,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        weights=None,
        **kwargs,
    ):
        input_dim = check_positive_int("input_dim", input_dim)
        output_dim = check_positive_int("output_dim", output_dim)
        if not isinstance(mode, str) or mode not in MODES:
            raise ValueError(f"mode must be one of 'sum', 'mean' or 'max', as in PyTorch; received mode={mode!r}.")
        padding_idx = check_padding_idx(padding_idx, input_dim)
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.mode = mode
        self.padding_idx = padding_idx
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = keras.constraints.get(embeddings_constraint)
        # As keras.layers.Embedding: the table is read in its own dtype, the output cast to the compute dtype.
        self.autocast = False
        # TensorFlow's form selects the real ids with dynamic shapes, which XLA refuses.
        self.supports_jit = keras.backend.backend() != "tensorflow"
        if weights is not None:
            self.build()
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1 else [weights])

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )
        if self.padding_idx is not None:
            # As in PyTorch, the initializer's padding row is overwritten with zeros; a `weights=` table is
            # loaded after this and kept as given.
            self.embeddings.assign(zero_padding_row(ops.convert_to_tensor(self.embeddings), self.padding_idx))
        self.built = True

    def __call__(self, *args, **kwargs):
        # The ids are checked as given, before Keras converts them (`padzero.ids.IdsCheckedOnce`).
        per_sample_weights = args[1] if len(args) > 1 else kwargs.get("per_sample_weights")
        return _IDS_CHECKED_ONCE.call(
            super().__call__, lambda ids: self._checked_call(ids, per_sample_weights), args, kwargs
        )

    def _checked_call(self, ids, per_sample_weights):
        """`ids` ready for Keras, after one-line errors for bad ids, a bad shape or weights that do not apply."""
        ids = checked_ids(ids, self.input_dim, self.padding_idx, self.name)
        self._check_ids_shape(ids.shape)
        if per_sample_weights is not None:
            self._check_per_sample_weights(ids, per_sample_weights)
        return ids

    def call(self, inputs, per_sample_weights=None):
        ids = inputs
        if not _IDS_CHECKED_ONCE.already_checked(ids):  # `stateless_call` comes without `__call__`
            ids = self._checked_call(ids, per_sample_weights)
        if keras.backend.standardize_dtype(ids.dtype) not in ("int32", "int64"):
            ids = ops.cast(ids, "int32")
        table = ops.convert_to_tensor(self.embeddings)
        if per_sample_weights is not None:
            per_sample_weights = ops.cast(per_sample_weights, table.dtype)
        outputs = reduce_bags(table, ids, self.mode, self.padding_idx, per_sample_weights)
        return ops.cast(outputs, self.compute_dtype)

    def _check_ids_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(
                f"EmbeddingBag ids must be a 2D tensor (batch_size, length), one bag a row; received ids of shape "
                f"{tuple(shape)} in layer '{self.name}'."
            )

    def _check_per_sample_weights(self, ids, per_sample_weights):
        if self.mode != "sum":
            raise ValueError(
                f"per_sample_weights work only with mode='sum', as in PyTorch; layer '{self.name}' has "
                f"mode={self.mode!r}. Use EmbeddingBag(..., mode='sum') to weight each id."
            )
        weights_shape, ids_shape = tuple(np.shape(per_sample_weights)), tuple(ids.shape)
        # A size unknown until run time (None: a symbolic batch, a ragged row) matches any.
        sizes_agree = all(a == b or a is None or b is None for a, b in zip(weights_shape, ids_shape))
        if len(weights_shape) != len(ids_shape) or not sizes_agree:
            raise ValueError(
                f"per_sample_weights must have the shape of the ids, one weight per id; received per_sample_weights "
                f"of shape {weights_shape} for ids of shape {ids_shape} in layer '{self.name}'."
            )

    def compute_output_shape(self, input_shape):
        self._check_ids_shape(input_shape)
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "mode": self.mode,
            "padding_idx": self.padding_idx,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": keras.regularizers.serialize(self.embeddings_regularizer),
            "embeddings_constraint": keras.constraints.serialize(self.embeddings_constraint),
        }
