"""The study's JAX compilation cache: on when the command runs on JAX, in the user's folder unless one is set."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from padzero_study.runtime import compilation_cache

TRAIN_TWO_MODELS = """
    import json, sys
    import keras, numpy as np
    from padzero_study.runtime.compilation_cache import enable_jax_compilation_cache

    folder = enable_jax_compilation_cache(sys.argv[1])
    model = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 6), "int32"), np.zeros((8, 3), "float32"), verbose=0)  # compiles: the cache fills
    print(json.dumps({"folder": None if folder is None else str(folder)}))
"""


def run_without_a_chosen_cache(tmp_path, backend, *extra_environment):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("JAX_")}
    environment.update({"KERAS_BACKEND": backend, "XDG_CACHE_HOME": str(tmp_path / "xdg"), **dict(extra_environment)})
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(TRAIN_TWO_MODELS), str(tmp_path / "cache")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])["folder"]


@pytest.mark.per_backend
def test_the_cache_holds_the_programs_on_jax_and_is_off_elsewhere(tmp_path, backend):
    if backend != "jax":  # nothing to cache: the folder is not even created
        assert compilation_cache.enable_jax_compilation_cache(tmp_path / "cache") is None
        assert not (tmp_path / "cache").exists()
        return
    folder = run_without_a_chosen_cache(tmp_path, backend)
    assert folder == str(tmp_path / "cache")
    assert any((tmp_path / "cache").iterdir())


@pytest.mark.per_backend
def test_a_cache_folder_the_user_chose_is_kept(tmp_path, backend):
    if backend != "jax":
        pytest.skip("JAX's own setting")
    # This process is such a user: conftest.py chose its cache folder through JAX_COMPILATION_CACHE_DIR.
    chosen = os.environ["JAX_COMPILATION_CACHE_DIR"]
    assert compilation_cache.enable_jax_compilation_cache(tmp_path / "cache") == Path(chosen)
    assert not (tmp_path / "cache").exists()


def test_the_default_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compilation_cache.default_cache_folder() == tmp_path / "padzero" / "jax-compilation-cache"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert compilation_cache.default_cache_folder() == tmp_path / ".cache" / "padzero" / "jax-compilation-cache"
