"""JAX's persistent compilation cache for the study's commands: each program is compiled once.

A study trains many models of the same shapes, and JAX compiles one program
per model: `padzero reproduce --dataset synthetic` on JAX spent 12-15 s of
every run's first epoch compiling the fast path (2 vCPU Intel Xeon), for
programs it had compiled the run before. XLA's persistent cache is keyed by
the program itself, its compile options and the JAX version, so a run whose
program was compiled before, in this process or an earlier one, loads the
executable instead: the same executable, so the same numbers.
"""

import os
from pathlib import Path


def default_cache_folder():
    """`$XDG_CACHE_HOME/padzero/jax-compilation-cache`, else `~/.cache/padzero/jax-compilation-cache`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "padzero" / "jax-compilation-cache"


def enable_jax_compilation_cache(folder=None):
    """Turns on JAX's persistent compilation cache, when Keras runs on JAX.

    A cache folder the user chose (`JAX_COMPILATION_CACHE_DIR`, or
    `jax.config`) is kept as it is. A folder that cannot be created leaves
    the cache off: the study compiles as it would without it.

    Args:
        folder: `str` or path-like, default `None` (`default_cache_folder()`).

    Returns:
        The cache folder in use as a `Path`, or `None` (another backend, or
        no writable folder).
    """
    import keras

    if keras.backend.backend() != "jax":
        return None
    import jax

    if jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    folder = Path(folder) if folder is not None else default_cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # Every program, however quick to compile: a study's are small (a few MB in all for the test suite).
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    return folder
