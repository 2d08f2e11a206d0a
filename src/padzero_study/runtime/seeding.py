"""`set_random_seed`: Keras's own seeding, without importing TensorFlow to seed it on another backend."""

import sys

import keras


def set_random_seed(seed):
    """`keras.utils.set_random_seed(seed)`, leaving TensorFlow out where Keras runs on JAX or PyTorch.

    Keras seeds Python, NumPy, its own global seed, PyTorch on the torch
    backend, and TensorFlow on every backend where it is installed, for the
    `tf.data` pipelines a program may use. Importing TensorFlow for that takes
    about 2 s in each fresh process (every `padzero` command, every bench
    case), and a study uses none: it feeds NumPy arrays, which Keras batches
    without `tf.data` on JAX and PyTorch. So there, while TensorFlow is not
    imported yet, Keras's seeding runs with TensorFlow read as absent; all the
    rest is seeded as Keras seeds it, by Keras itself. On the TensorFlow
    backend, or once TensorFlow is imported, this is Keras's function as is.

    Example:

    >>> import random
    >>> set_random_seed(7)
    >>> first = random.random()
    >>> set_random_seed(7)
    >>> random.random() == first
    True
    """
    tensorflow = _keras_lazy_tensorflow()
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules or tensorflow is None:
        keras.utils.set_random_seed(seed)
        return
    known = tensorflow._available
    tensorflow._available = False  # what Keras finds when TensorFlow is not installed
    try:
        keras.utils.set_random_seed(seed)
    finally:
        tensorflow._available = known  # a later use of TensorFlow in this process finds it as before


def _keras_lazy_tensorflow():
    """Keras's lazily imported TensorFlow module (whose `available` decides whether Keras seeds it), or None
    where this Keras has no such object: then Keras's function runs as is."""
    try:
        from keras.src.utils import module_utils
    except ImportError:
        return None
    tensorflow = getattr(module_utils, "tensorflow", None)
    return tensorflow if hasattr(tensorflow, "_available") else None
