"""What a valid value of the study looks like, each rule written once: an integer that is not a bool, a finite
number, a padding side, a fraction. Keras-free and NumPy-free: settings are checked before anything loads."""

import math
import numbers

PADDING_SIDES = ("pre", "post")


def is_int(value):
    """Whether `value` is an integer (a Python or NumPy one) and not a bool, which is an int to Python.

    Example:

    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    """Whether `value` is a real number (NaN and infinities included) and not a bool.

    Example:

    >>> is_real(float("nan")), is_real(True)
    (True, False)
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_number(value):
    """Whether `value` is a finite real number and not a bool.

    Example:

    >>> is_number(0.5), is_number(float("nan")), is_number(False)
    (True, False, False)
    """
    return is_real(value) and math.isfinite(value)


def check_positive_int(name, value, maximum=None, hint=None):
    """Returns `value` as an int if it is a positive integer of at most `maximum`, else raises a one-line
    `ValueError` naming `name` and the value (and `hint`: why the limit exists, or the fix).

    Example:

    >>> check_positive_int("seeds", 0)
    Traceback (most recent call last):
    ...
    ValueError: seeds must be a positive integer; received seeds=0
    """
    if is_int(value) and value >= 1 and (maximum is None or value <= maximum):
        return int(value)
    limit = "" if maximum is None else f" of at most {maximum:,}"
    message = f"{name} must be a positive integer{limit}; received {name}={value!r}"
    raise ValueError(message if hint is None else f"{message}; {hint}")


def check_padding_side(name, value):
    """Raises a one-line `ValueError` unless `value` is one of `PADDING_SIDES`."""
    if value not in PADDING_SIDES:
        raise ValueError(f"{name} must be 'pre' or 'post'; received {name}={value!r}")


def check_fraction(name, value):
    """Raises a one-line `ValueError` unless `value` is a number strictly between 0 and 1."""
    if not (is_number(value) and 0 < value < 1):
        raise ValueError(f"{name} must be a number strictly between 0 and 1; received {name}={value!r}")
