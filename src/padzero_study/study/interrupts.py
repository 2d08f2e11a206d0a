"""Ctrl-C during training: it stops `fit` at the end of the batch it lands in, on every backend.

Keras turns each batch's logs into Python numbers (`pythonify_logs`) inside a bare `except:`, which also catches
`KeyboardInterrupt`. On JAX a step's work is dispatched asynchronously and waited for right there, so that is
where nearly every SIGINT lands, and training went on to the end of the run. Here a SIGINT only takes note,
and a callback raises `KeyboardInterrupt` itself, outside Keras's `except:`, at the next batch or epoch end. A
second Ctrl-C raises at once, wherever it lands.
"""

import contextlib
import signal
import threading

import keras


class InterruptAtBatchEnd(keras.callbacks.Callback):
    """Raises `KeyboardInterrupt` at the first batch or epoch end after a SIGINT that `interrupted` noted.

    Args:
        interrupted: a `threading.Event`, set by the SIGINT handler of `sigint_noted`.
    """

    def __init__(self, interrupted):
        super().__init__()
        self.interrupted = interrupted

    def _stop_if_interrupted(self, *args, **kwargs):
        if self.interrupted.is_set():
            raise KeyboardInterrupt

    on_train_batch_begin = on_train_batch_end = _stop_if_interrupted
    on_test_batch_begin = on_test_batch_end = _stop_if_interrupted
    on_predict_batch_begin = on_predict_batch_end = _stop_if_interrupted
    on_epoch_begin = on_epoch_end = _stop_if_interrupted


@contextlib.contextmanager
def sigint_noted():
    """Within the block, a first SIGINT is noted in the yielded `threading.Event`; a second one raises at once.

    Give `InterruptAtBatchEnd(event)` to `fit` inside the block. A SIGINT noted but not yet acted on raises
    `KeyboardInterrupt` as the block ends: it is never lost. Outside the main thread, or where SIGINT has a
    handler other than Python's default (someone else's choice), nothing changes and the event stays unset.

    Example:

    >>> import os
    >>> saved = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, as in a terminal
    >>> try:
    ...     with sigint_noted() as interrupted:
    ...         os.kill(os.getpid(), signal.SIGINT)
    ...         noted = interrupted.wait(5)
    ... except KeyboardInterrupt:
    ...     print(f"noted: {noted}; raised as the block ended")
    noted: True; raised as the block ended
    >>> _ = signal.signal(signal.SIGINT, saved)
    """
    interrupted = threading.Event()
    ours = threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if not ours:
        yield interrupted
        return

    def note(signum, frame):
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()

    signal.signal(signal.SIGINT, note)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupted.is_set():
        raise KeyboardInterrupt
