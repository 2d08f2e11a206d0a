"""How the study's messages say a count: '1 run', '3 runs', never '1 runs' or '1 run(s)'."""


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
