"""`check_positive_int`: the one check of positive integer arguments, with a one-line error."""

import numbers


def check_positive_int(name, value, *, maximum=None, hint=None):
    """Returns `value` as a Python int if it is a positive integer, else raises a one-line `ValueError`.

    Python ints and NumPy integers are accepted; bools, floats (even `2.0`)
    and strings are not.

    Args:
        name: str, the argument's name, as the caller knows it.
        value: the value to check.
        maximum: int or `None`, the largest value allowed, default `None`
            (no limit).
        hint: str or `None`, why the limit exists or how to fix the value,
            appended to the message after `"; "`.

    Returns:
        int, `value` as a Python int.

    Raises:
        ValueError: `value` is not an integer, is below 1 or above `maximum`.

    Example:

    >>> check_positive_int("batch_size", 32)
    32
    >>> check_positive_int("batch_size", 0)
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be a positive integer; received batch_size=0
    >>> check_positive_int("maxlen", 5000, maximum=4096, hint="longer posts are cut")
    Traceback (most recent call last):
    ...
    ValueError: maxlen must be a positive integer of at most 4,096; received maxlen=5000; longer posts are cut
    """
    # bool is an Integral too, but `batch_size=True` is always a mistake.
    is_integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if is_integer and value >= 1 and (maximum is None or value <= maximum):
        return int(value)
    limit = "" if maximum is None else f" of at most {maximum:,}"
    message = f"{name} must be a positive integer{limit}; received {name}={value!r}"
    raise ValueError(message if hint is None else f"{message}; {hint}")
