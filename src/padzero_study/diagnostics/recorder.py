"""Measurements that explain what a trainable padding vector does to training.

Each measure is a small function of arrays (so a test can check it against a
value computed by hand); `DiagnosticsRecorder` takes them on fixed probe
posts during `fit` and appends one JSON line per checkpoint. Reads top to
bottom: gradients, the measures, the recorder.
"""

import keras
import numpy as np

from padzero.gradients import value_and_gradients

# ---------------------------------------------------------------- gradients on any backend


def loss_and_gradients(model, ids, labels, training=False):
    """Mean sparse cross-entropy of `model(ids)` and its gradients, as NumPy, in `trainable_variables` order."""

    def loss_of(probabilities):
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, probabilities))

    return value_and_gradients(model, loss_of, ids, training=training)


# ---------------------------------------------------------------- the measures


def padding_gradient_share(table_gradient, padding_idx=0):
    """Share of the table gradient's squared norm on the padding row (rows' shares sum to 1).

    `None` when the whole gradient is zero (e.g. every hidden ReLU dead): no share to speak of.

    Example:

    >>> padding_gradient_share(np.array([[3.0, 0.0], [0.0, 4.0]]))
    0.36
    >>> padding_gradient_share(np.zeros((2, 2))) is None
    True
    """
    total = float(np.sum(np.square(table_gradient)))
    return float(np.sum(np.square(table_gradient[padding_idx]))) / total if total else None


def nearest_words(table, vector, words_by_id, count=5, padding_idx=0):
    """The `count` rows of `table` closest to `vector` by cosine, padding row excluded: [(word, cosine)].

    A zero vector has no direction, hence no neighbours: `[]`.

    Example:

    >>> nearest_words(np.array([[0, 0], [1, 0], [0, 1], [1, 1]]), np.array([1.0, 0.2]), {1: "a", 2: "b", 3: "c"}, count=2)
    [('a', 0.981), ('c', 0.832)]
    """
    if not np.linalg.norm(vector):
        return []
    norms = np.linalg.norm(table, axis=1) * np.linalg.norm(vector)
    cosines = np.divide(table @ vector, norms, out=np.zeros(len(table)), where=norms > 0)
    cosines[padding_idx] = -np.inf
    best = np.argsort(-cosines)[:count]
    return [(words_by_id.get(int(i), f"<{int(i)}>"), round(float(cosines[i]), 3)) for i in best]


def dead_unit_fraction(pre_activations):
    """Share of ReLU units never positive on any example: `(examples, units)` pre-activations.

    Example:

    >>> dead_unit_fraction(np.array([[-1.0, 2.0, 0.0], [-3.0, -1.0, 0.0]]))
    0.667
    """
    return round(float(np.mean(np.max(pre_activations, axis=0) <= 0.0)), 3)


def kernel_norms_by_padding(kernel, maxlen, padding_share_by_position, threshold=0.5):
    """Mean norm of the Dense kernel block of each position, for mostly-padding vs mostly-real positions.

    Args:
        kernel: `(maxlen * features, units)`, the Dense kernel after Flatten.
        maxlen: int.
        padding_share_by_position: `(maxlen,)`, the share of training posts
            whose id at that position is padding.
        threshold: positions with a padding share above it count as padding.

    Returns:
        dict with `padding_positions` and `real_positions` mean norms (None when a group is empty).

    Example:

    >>> kernel_norms_by_padding(np.array([[3.0], [4.0], [0.0], [1.0]]), 2, np.array([0.9, 0.1]))
    {'padding_positions': 5.0, 'real_positions': 1.0}
    """
    blocks = np.asarray(kernel).reshape(maxlen, -1)
    norms = np.linalg.norm(blocks, axis=1)
    mostly_padding = np.asarray(padding_share_by_position) > threshold

    def mean_or_none(values):
        return float(values.mean()) if values.size else None

    return {
        "padding_positions": mean_or_none(norms[mostly_padding]),
        "real_positions": mean_or_none(norms[~mostly_padding]),
    }


def _hidden_inputs(model, ids, batch_size):
    """The `hidden` Dense layer's inputs, flattened per post, in batches of `batch_size` posts."""
    features = keras.Model(model.input, model.get_layer("hidden").input)
    for start in range(0, len(ids), batch_size):
        batch = keras.ops.convert_to_numpy(features(ids[start : start + batch_size]))
        yield batch.reshape(len(batch), -1)


def hidden_layer_pass(model, ids, batch_size=256):
    """The `hidden` layer on `ids` in one pass: `(pre_activations, shared_input_l1)`.

    One pass because the validation probe is the slow part of a checkpoint.
    `pre_activations` is `(examples, units)`: the layer's inputs times its
    kernel plus bias, before the ReLU; `shared_input_l1` is as in the function
    of that name.
    """
    hidden = model.get_layer("hidden")
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in (hidden.kernel, hidden.bias))
    pre_activations, input_sum = [], 0.0
    for flat in _hidden_inputs(model, ids, batch_size):
        pre_activations.append(flat @ kernel + bias)
        input_sum = input_sum + flat.sum(axis=0)
    return np.concatenate(pre_activations), float(np.abs(input_sum / len(ids)).sum())


def shared_input_l1(model, ids, batch_size=256):
    """L1 norm of the mean `hidden` layer input over `ids`: the part of the input every post shares.

    Why it matters: Adam's first step moves each kernel weight by (almost
    exactly) its learning rate, in the sign of its gradient. The gradient of
    unit j's weight on input i is the batch sum of `x_i * delta_j`; where the
    inputs share a component `c` (the same padding vector at the same
    positions, or all-positive embeddings) and it dominates, that sign is
    `sign(c_i) * sign(sum of delta_j)`. The step then shifts unit j's
    pre-activation by `-learning_rate * sum_i sign(g_ij) * x_i`, whose part
    common to every post is at most `learning_rate * ||c||_1` in size, in the
    same direction for all posts. With zero-mean, post-specific inputs the
    signs disagree and that common shift stays small.
    """
    return hidden_layer_pass(model, ids, batch_size)[1]


# ---------------------------------------------------------------- the recorder


class DiagnosticsRecorder(keras.callbacks.Callback):
    """Appends the measures above to a JSON-lines file at chosen steps of the first epoch and after every epoch.

    Args:
        write: called with each diagnostics record (a dict), in order: `StudyFolder.append` to its diagnostics file.
        identity: dict written into every line (variant, seed, ...).
        probe_ids, probe_labels: training posts on which the gradient is taken.
        validation_ids: posts on which hidden units are checked for death.
        padding_share_by_position: `(maxlen,)` padding share of the training posts.
        words_by_id: dict id -> word, to name the padding vector's neighbours.
        first_epoch_steps: steps of epoch 1 after which to record (0 = before training).
    """

    def __init__(
        self,
        write,
        identity,
        probe_ids,
        probe_labels,
        validation_ids,
        padding_share_by_position,
        words_by_id,
        first_epoch_steps=(0, 1, 3, 10, 30, 100, 300),
    ):
        super().__init__()
        self.write = write
        self.identity = identity
        self.probe_ids, self.probe_labels = probe_ids, probe_labels
        self.validation_ids = validation_ids
        self.padding_share_by_position = padding_share_by_position
        self.words_by_id = words_by_id
        self.first_epoch_steps = set(first_epoch_steps)
        self.epoch = 0

    def measure(self):
        model = self.model
        embedding = model.get_layer("embedding")
        table = keras.ops.convert_to_numpy(embedding.embeddings)
        names = [v.path for v in model.trainable_variables]
        loss, gradients = loss_and_gradients(model, self.probe_ids, self.probe_labels)
        table_gradient = gradients[names.index(embedding.embeddings.path)]
        pre_activations, shared = hidden_layer_pass(model, self.validation_ids)
        record = {
            "probe_loss": loss,
            "padding_gradient_share": padding_gradient_share(table_gradient),
            "table_gradient_norm": float(np.linalg.norm(table_gradient)),
            "padding_norm": float(np.linalg.norm(table[0])),
            "word_norm_mean": float(np.linalg.norm(table[1:], axis=1).mean()),
            "padding_nearest_words": nearest_words(table, table[0], self.words_by_id),
            "dead_unit_fraction": dead_unit_fraction(pre_activations),
            "pre_activation_mean": float(pre_activations.mean()),
            "pre_activation_std": float(pre_activations.std()),
            "shared_input_l1": shared,
        }
        hidden = model.get_layer("hidden")
        if hidden.kernel.shape[0] == len(self.padding_share_by_position) * table.shape[1]:
            record["kernel_norms"] = kernel_norms_by_padding(
                keras.ops.convert_to_numpy(hidden.kernel),
                len(self.padding_share_by_position),
                self.padding_share_by_position,
            )
        return record

    def append(self, step, epoch, logs=None):
        record = {**self.identity, "epoch": epoch, "step": step, **self.measure()}
        if logs and "val_accuracy" in logs:
            record["val_accuracy"] = float(logs["val_accuracy"])
        # One fsync'd write: a kill mid-line leaves a cut last line, which every reader skips.
        self.write(record)

    def on_train_begin(self, logs=None):
        if 0 in self.first_epoch_steps:
            self.append(step=0, epoch=0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 0 and batch + 1 in self.first_epoch_steps:
            self.append(step=batch + 1, epoch=0)

    def on_epoch_end(self, epoch, logs=None):
        self.append(step=None, epoch=epoch + 1, logs=logs)
