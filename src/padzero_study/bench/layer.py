"""The layer part: forward + backward of each embedding layer at the reference shapes, compiled as Keras compiles.

Also the gradient functions the bag part's layer measure reuses. Runs in a worker process (Keras imported there).
"""

import statistics
import time

import numpy as np

from padzero_study.bench.cases import LAYER_CASES, SHAPE


def time_layers(settings):
    """Forward + backward of each layer case at the reference shapes, interleaved; {case: median ms per call}."""
    import keras
    from keras import ops

    import padzero

    ids, _ = np.load(settings["batches"]).values()
    ids = ops.convert_to_tensor(ids[: SHAPE["batch_size"]])
    upstream = ops.convert_to_tensor(
        np.random.default_rng(0).standard_normal((*ids.shape, SHAPE["embedding_dim"])).astype("float32")
    )
    functions = {}
    for case in LAYER_CASES:
        layer_class = padzero.Embedding if case == "padzero.Embedding" else keras.layers.Embedding
        layer = layer_class(SHAPE["vocab_size"], SHAPE["embedding_dim"])
        layer.build(ids.shape)
        functions[case] = layer_gradient_function(layer, multiply_by_mask=case == "mask x multiply")
    for function in functions.values():
        for _ in range(3):
            function(ids, upstream)
    times = {case: [] for case in functions}
    for _ in range(settings["repeats"]):
        for case, function in functions.items():  # round-robin: drift hits every case alike
            start = time.perf_counter()
            function(ids, upstream)
            times[case].append(time.perf_counter() - start)
    return {case: statistics.median(values) * 1e3 for case, values in times.items()}


def _outputs(call, ids, multiply_by_mask):
    from keras import ops

    outputs = call(ids)
    if multiply_by_mask:  # the reference workaround, outside the layer
        outputs = outputs * ops.expand_dims(ops.cast(ops.not_equal(ids, 0), outputs.dtype), -1)
    return outputs


def jax_table_gradient(layer, multiply_by_mask=False):
    """`(table value, ids, upstream) -> d sum(outputs * upstream) / d table` of a layer with one weight, jitted (JAX)."""
    import jax

    def loss(table_value, ids, upstream):
        def call(batch_ids):
            return layer.stateless_call([table_value], [], batch_ids)[0]

        return (_outputs(call, ids, multiply_by_mask) * upstream).sum()

    return jax.jit(jax.grad(loss))


def layer_gradient_function(layer, multiply_by_mask, jit_compile=True):
    """ids, upstream -> d sum(outputs * upstream) / d table, compiled as Keras compiles on each backend.

    `layer` (a layer or a model) holds one weight, the table. On TensorFlow the
    function is a `tf.function`, with XLA if `jit_compile`; JAX always jits.
    """
    import keras

    table = layer.trainable_variables[0]
    backend = keras.backend.backend()
    if backend == "jax":
        step = jax_table_gradient(layer, multiply_by_mask)
        return lambda ids, upstream: step(table.value, ids, upstream).block_until_ready()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=jit_compile)
        def step(ids, upstream):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(_outputs(layer, ids, multiply_by_mask) * upstream)
            return tf.convert_to_tensor(tape.gradient(loss, table.value))

        return lambda ids, upstream: step(ids, upstream).numpy()

    def eager_step(ids, upstream):
        table.value.grad = None
        (_outputs(layer, ids, multiply_by_mask) * upstream).sum().backward()
        return table.value.grad

    return eager_step


def xla_temporaries_megabytes(layer, ids, upstream):
    """The temporaries XLA gives `layer`'s compiled forward + backward on JAX: whether it holds `(batch, length, dim)`."""
    compiled = jax_table_gradient(layer).lower(layer.trainable_variables[0].value, ids, upstream).compile()
    return compiled.memory_analysis().temp_size_in_bytes / 2**20
