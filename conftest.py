"""Collection rules for the whole tree (tests/ and the docstring examples in src/).

Docstring examples run as tests (`--doctest-modules`). Those of the library
need Keras and run once per backend; those of the study run once, except in
modules that build models. Modules whose optional dependency is not installed
are not collected, so a single-backend install can run the suite.
"""

import importlib.util

import pytest

collect_ignore_glob = ["src/*/__main__.py"]  # importing it runs the command
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob.append("src/padzero_study/torch_reference.py")

# Study modules whose docstring examples build Keras models.
_STUDY_MODULES_NEEDING_KERAS = ("variants.py", "runner.py", "diagnostics.py", "bench.py", "gradients.py")


def pytest_collection_modifyitems(items):
    for item in items:
        if not isinstance(item, pytest.DoctestItem):
            continue
        path = item.path
        if path.parent.name == "padzero" or path.name in _STUDY_MODULES_NEEDING_KERAS:
            item.add_marker(pytest.mark.per_backend)
