"""The bag part: one timed pass of a bag case's measure (the layer's forward + backward, or the average model's step).

`padzero.EmbeddingBag`, Keras's masked pooling and PyTorch's `nn.EmbeddingBag`,
each measure of each case in a worker process of its own (Keras imported there).
"""

import math

import numpy as np

from padzero_study.bench.cases import KERAS_POOLING, SHAPE
from padzero_study.bench.layer import layer_gradient_function, xla_temporaries_megabytes
from padzero_study.bench.model import native_torch_pass, wait_for_cuda


def bag_model(case):
    """ids -> the average of their embeddings: `case`, a Keras model at `SHAPE`, seeded as every bench case is."""
    import keras

    import padzero

    keras.utils.set_random_seed(0)
    ids = keras.Input((SHAPE["maxlen"],), dtype="int32")
    if case == KERAS_POOLING:
        embedded = keras.layers.Embedding(SHAPE["vocab_size"], SHAPE["embedding_dim"], mask_zero=True)(ids)
        return keras.Model(ids, keras.layers.GlobalAveragePooling1D()(embedded))
    return keras.Model(ids, padzero.EmbeddingBag(SHAPE["vocab_size"], SHAPE["embedding_dim"], mode="mean")(ids))


def bag_upstream():
    """The gradient the layer measure sends back through each bag, `(batch, embedding_dim)`."""
    return np.random.default_rng(0).standard_normal((SHAPE["batch_size"], SHAPE["embedding_dim"])).astype("float32")


def keras_bag_pass(settings):
    """A function running one pass of a Keras bag case's measure over the batches; their count; facts for its row.

    "layer": the table's gradient of `sum(outputs * upstream)`, compiled as
    `fit` would compile the model (on JAX the facts hold XLA's temporaries);
    "step": `fit` of ids -> the case -> Dense(20, softmax) with Adam and
    sparse categorical crossentropy, the average model.
    """
    import keras

    ids, labels = np.load(settings["batches"]).values()
    bag = bag_model(settings["case"])
    batch = SHAPE["batch_size"]
    steps = math.ceil(len(ids) / batch)
    if settings["measure"] == "step":
        model = keras.Model(bag.input, keras.layers.Dense(20, activation="softmax")(bag.output))
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
        return lambda: model.fit(ids, labels, batch_size=batch, epochs=1, verbose=0, shuffle=False), steps, {}
    bag.compile()  # resolves `jit_compile` as for `fit`: no XLA for a layer that refuses it, or on a CPU-only TensorFlow
    gradient = layer_gradient_function(bag, multiply_by_mask=False, jit_compile=bag.jit_compile)
    batches = [keras.ops.convert_to_tensor(ids[start : start + batch]) for start in range(0, len(ids), batch)]
    upstream = keras.ops.convert_to_tensor(bag_upstream())
    facts = {}
    if keras.backend.backend() == "jax":
        facts["xla_temp_mb"] = xla_temporaries_megabytes(bag, batches[0], upstream)

    def layer_pass():
        for batch_ids in batches:
            gradient(batch_ids, upstream)
        if keras.backend.backend() == "torch":
            wait_for_cuda()

    return layer_pass, steps, facts


def torch_bag_pass(settings):
    """The same in native PyTorch: `torch_reference.AverageModel`'s `nn.EmbeddingBag`, and its step with fused Adam."""
    import torch

    from padzero_study.models.torch_reference import AverageModel, make_training_step

    def build_step(device):
        model = AverageModel(SHAPE["vocab_size"], embedding_dim=SHAPE["embedding_dim"]).to(device)
        if settings["measure"] == "step":
            return make_training_step(model, fused=True)
        upstream = torch.as_tensor(bag_upstream(), device=device)

        def layer_step(batch_ids, _):
            model.bag.weight.grad = None
            (model.bag(batch_ids) * upstream).sum().backward()

        return layer_step

    return (*native_torch_pass(settings, build_step), {})
