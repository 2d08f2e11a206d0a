"""The Keras backends padzero runs on, and a one-line fix when one is not installed."""

import importlib.util

BACKENDS = ("jax", "tensorflow", "torch")  # each is also the module that must import


def not_installed(backend):
    """None when `backend` can be imported, else the error message that says how to install it."""
    if importlib.util.find_spec(backend) is not None:
        return None
    return f"backend {backend!r} is not installed; install it with: pip install 'padzero[{backend}]'"
