"""How the study's messages and reports put numbers in words: a count ('1 run', '3 runs', never '1 runs' or
'1 run(s)'), a duration, a missing value."""

import math


def count_of(number, noun, plural=None):
    """`number` and `noun`, plural unless the number is 1.

    Args:
        number: int.
        noun: str, the singular.
        plural: str or None, for nouns not made plural by an "s" (default: `noun + "s"`).

    Example:

    >>> count_of(1, "epoch"), count_of(3, "finished run"), count_of(0, "class", "classes")
    ('1 epoch', '3 finished runs', '0 classes')
    """
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def format_duration(seconds):
    """'2 h 05 min', or '7 min' under an hour ('under 1 min' under half a minute).

    >>> format_duration(7_500), format_duration(420), format_duration(10)
    ('2 h 05 min', '7 min', 'under 1 min')
    """
    minutes = round(seconds / 60)
    if minutes == 0:
        return "under 1 min"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def format_number(value, spec=".3f"):
    """`value` formatted by `spec`, or "—" when it is missing (None or NaN).

    >>> format_number(0.12345), format_number(None), format_number(float("nan"), ".1f")
    ('0.123', '—', '—')
    """
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "—" if missing else format(value, spec)
