"""`ImportedOnFirstUse`: a module imported where it is first used, for the registries that `--help` reads."""

import importlib


class ImportedOnFirstUse:
    """Stands for a module and imports it at its first attribute access.

    The study's registries (variants, encoders, embeddings) are read by the
    command line's `--help` and by the report, which must not import Keras
    (Keras picks its backend at import). Their builders reach Keras through
    this, so Keras loads where a model is first built.

    Not `importlib.util.LazyLoader`: that registers a placeholder in
    `sys.modules` at once, so `"keras" in sys.modules` would say Keras is
    loaded (and its backend chosen) when it is not. This imports the real
    module, once, where it is first used.

    Example:

    >>> json = ImportedOnFirstUse("json")
    >>> json.dumps([1])
    '[1]'
    """

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)
