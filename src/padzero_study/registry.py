"""Adding a record to one of the study's registries (variants, datasets): the rule they share."""


def register(registry, record, kind):
    """Adds `record` to `registry` (a dict by name), after the records already there.

    Args:
        registry: a dict from name to record, such as `variants.VARIANTS`.
        record: a record with a `name` that the registry does not hold yet.
        kind: what the records are, for the error ("variant", "dataset").

    Returns:
        The record, so that a module can keep it under a name.

    Raises:
        ValueError: if a record of that name is already registered.

    Example:

    >>> import types
    >>> registry = {}
    >>> register(registry, types.SimpleNamespace(name="tiny"), "dataset").name
    'tiny'
    >>> register(registry, types.SimpleNamespace(name="tiny"), "dataset")
    Traceback (most recent call last):
    ...
    ValueError: A dataset named 'tiny' is already registered; choose another name.
    """
    if record.name in registry:
        raise ValueError(f"A {kind} named {record.name!r} is already registered; choose another name.")
    registry[record.name] = record
    return record
