"""How a path appears in the study's one-line messages."""


def shown(path):
    """`path` as messages show it: plain, or quoted when it holds a newline or other control character.

    Example:

    >>> shown("runs/study"), shown("runs/a\\nb")
    ('runs/study', "'runs/a\\\\nb'")
    """
    text = str(path)
    return repr(text) if any(not character.isprintable() for character in text) else text
