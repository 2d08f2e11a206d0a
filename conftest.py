"""Collection rules for the whole tree (tests/ and the docstring examples in src/).

Docstring examples run as tests (`--doctest-modules`). Those of the library
need Keras and run once per backend; those of the study run once, except in
modules that build models. Modules whose optional dependency is not installed
are not collected, so a single-backend install can run the suite.
"""

import atexit
import importlib.util
import os
import shutil
import tempfile

import pytest

# JAX compiles one program per model; the tests build many models of the same shapes, so a compilation cache
# compiles each program once (the fast path's tests on JAX: 112 s without it, 53 s with it, 2 vCPU Xeon). A
# fresh folder for each pytest process, shared with the processes the tests start: nothing carries over, and
# the commands under test never write to the user's own cache. Set before anything imports JAX.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _jax_cache = tempfile.mkdtemp(prefix="padzero-tests-jax-cache-")
    atexit.register(shutil.rmtree, _jax_cache, ignore_errors=True)
    os.environ.update({"JAX_COMPILATION_CACHE_DIR": _jax_cache, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"})

collect_ignore_glob = ["src/*/__main__.py", "src/*/*/__main__.py"]  # importing one runs its command
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob.append("src/padzero_study/models/torch_reference.py")

# Study modules whose docstring examples build Keras models.
_STUDY_MODULES_NEEDING_KERAS = ("variants.py", "recorder.py")


def pytest_collection_modifyitems(items):
    for item in items:
        if not isinstance(item, pytest.DoctestItem):
            continue
        path = item.path
        if path.parent.name == "padzero" or path.name in _STUDY_MODULES_NEEDING_KERAS:
            item.add_marker(pytest.mark.per_backend)
