"""Many training steps per dispatch on JAX: Keras's own `train_step`, `steps_per_execution` times in one program.

Keras's JAX trainer runs the `steps_per_execution` steps of an execution as a
Python loop of compiled steps: one dispatch from the host per step. A GPU then
waits on the host between small steps (the reference model's Keras step took
about 1.1 ms on an NVIDIA H200, where its memory traffic needs a few tenths of
a millisecond). `scan_steps` runs the steps of an execution inside one
compiled `jax.lax.scan` instead: one dispatch per execution. They are the same
steps, on the same batches, in the same order, from the same state (the
random seeds included), so training gives the weights of one step at a time.
An execution that cannot be stacked (the epoch's last, shorter one, or one
holding a smaller last batch) runs its steps one at a time.
"""

import types

import keras


def scan_steps(model):
    """Makes `model.fit` run each execution's `model.steps_per_execution` steps as one compiled call (JAX only).

    Call it after `model.compile(..., steps_per_execution=N)`. With `N == 1`,
    `run_eagerly`, `jit_compile=False` or a `keras.distribution` in effect,
    Keras's own train function is used.

    Args:
        model: a compiled `keras.Model`.

    Returns:
        `model`.

    Raises:
        ValueError: when Keras does not run on JAX.
    """
    if keras.backend.backend() != "jax":
        raise ValueError(
            f"scan_steps needs the jax backend; Keras runs on {keras.backend.backend()}. Use "
            "steps_per_execution alone there."
        )
    model.make_train_function = types.MethodType(_make_scanned_train_function, model)
    model.train_function = None  # made again, by the method above, at the next fit
    return model


def _make_scanned_train_function(model, force=False):
    import jax
    import jax.numpy as jnp
    from keras.src.distribution import distribution_lib

    if model.train_function is not None and not force:
        return
    if (
        model.steps_per_execution == 1
        or model.run_eagerly
        or not model.jit_compile
        or distribution_lib.distribution() is not None
    ):
        type(model).make_train_function(model, force=True)
        return
    steps = model.steps_per_execution
    one_step = jax.jit(model.train_step, donate_argnums=0)

    def scanned_steps(state, batches):
        def step(state, data):
            logs, state = model.train_step(state, data)
            return state, logs

        state, logs = jax.lax.scan(step, state, batches)
        return jax.tree.map(lambda values: values[-1], logs), state  # the last step's logs, as Keras gives

    many_steps = jax.jit(scanned_steps, donate_argnums=0)

    def train_function(state, iterator):
        batches = [next(iterator)]  # an empty epoch ends here, as in Keras's own train function
        for data in iterator:
            batches.append(data)
            if len(batches) == steps:
                break
        shapes = {tuple(leaf.shape for leaf in jax.tree.leaves(data)) for data in batches}
        if len(batches) == steps and len(shapes) == 1:
            return many_steps(state, jax.tree.map(lambda *values: jnp.stack(values), *batches))
        for data in batches:
            logs, state = one_step(state, data)
        return logs, state

    model.train_function = train_function
