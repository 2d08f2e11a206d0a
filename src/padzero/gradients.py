"""Gradients of a Keras layer or model as NumPy arrays, on any backend: the one switch over backends.

Keras has no backend-neutral `gradient` op, and each backend differentiates its
own way (JAX through a stateless function, TensorFlow through a tape, PyTorch
through autograd). The layers' tests and the study's diagnostics need plain NumPy
gradients of a loss, so the switch lives here, once, below both. Not imported by
`import padzero`.
"""

import inspect

import keras
import numpy as np


def value_and_gradients(layer, loss_of_outputs, inputs, variables=None, training=False):
    """`loss_of_outputs(layer(inputs))` and its gradients with respect to `variables`.

    Args:
        layer: A built Keras layer or model.
        loss_of_outputs: Maps the layer's outputs to a scalar tensor, with `keras.ops`.
        inputs: What the layer is called on (a NumPy array or a tensor).
        variables: The variables to differentiate, default `layer.trainable_variables`.
            Any of the layer's variables may be given, trainable or not (a LoRA
            layer's frozen table, say).
        training: Boolean, default `False`: passed to layers whose `call` takes it.

    Returns:
        `(loss, gradients)`: the loss as a float, and one NumPy array per variable,
        in the order given (zeros where the loss does not depend on the variable).

    Example:

    >>> layer = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    >>> loss, (kernel_gradient,) = value_and_gradients(layer, keras.ops.sum, np.array([[2.0, 3.0]]))
    >>> loss, kernel_gradient.ravel().tolist()
    (5.0, [2.0, 3.0])
    """
    if not layer.built:
        layer(inputs)
    variables = list(layer.trainable_variables if variables is None else variables)
    call_arguments = {"training": training} if "training" in inspect.signature(layer.call).parameters else {}
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(values):
            chosen = {id(variable): value for variable, value in zip(variables, values)}
            outputs, _ = layer.stateless_call(
                [chosen.get(id(v), v.value) for v in layer.trainable_variables],
                [chosen.get(id(v), v.value) for v in layer.non_trainable_variables],
                inputs,
                **call_arguments,
            )
            return loss_of_outputs(outputs)

        value, gradients = jax.value_and_grad(loss)([variable.value for variable in variables])
        return float(value), [np.asarray(gradient) for gradient in gradients]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            for variable in variables:
                tape.watch(variable.value)
            value = loss_of_outputs(layer(inputs, **call_arguments))
        gradients = tape.gradient(value, [variable.value for variable in variables])
        return float(value), [
            np.zeros(variable.shape, variable.dtype) if gradient is None else tf.convert_to_tensor(gradient).numpy()
            for variable, gradient in zip(variables, gradients)
        ]
    if backend == "torch":
        parameters = [variable.value for variable in variables]
        saved = [(parameter.grad, parameter.requires_grad) for parameter in parameters]
        for parameter in parameters:
            parameter.grad = None
            parameter.requires_grad_(True)
        try:
            value = loss_of_outputs(layer(inputs, **call_arguments))
            value.backward()
            gradients = [
                np.zeros(tuple(p.shape), keras.backend.standardize_dtype(p.dtype))
                if p.grad is None
                else p.grad.detach().cpu().numpy().copy()
                for p in parameters
            ]
        finally:  # leave the variables as they were: training code may own their .grad
            for parameter, (gradient, requires_grad) in zip(parameters, saved):
                parameter.grad = gradient
                parameter.requires_grad_(requires_grad)
        return float(value.detach()), gradients
    raise ValueError(f"Unsupported Keras backend {backend!r}; use jax, tensorflow or torch.")
