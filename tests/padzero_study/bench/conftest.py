"""The bench tests' shared results and their stand-in for `run_bench`."""

import copy

import pytest

from padzero_study import bench
from padzero_study.bench.cases import SHAPE

FAKE_RESULTS = {
    "settings": {
        "parts": ["layer"],
        "backends": ["jax"],
        "steps": 2,
        "repeats": 1,
        "mean_length": 99.0,
        "padding_share": 0.9,
        **SHAPE,
    },
    "machine": "2 x test CPU",
    "python": "3.11",
    "rows": [
        {
            "part": "layer",
            "backend": "jax",
            "case": "keras.layers.Embedding",
            "ms": 1.0,
            "peak_mb": 100.0,
            "ratio": 1.0,
            "ratio_to": "jax keras.layers.Embedding",
        }
    ],
}


@pytest.fixture
def fake_results():
    """What `run_bench` returns for one layer row (a copy of its own for each test)."""
    return copy.deepcopy(FAKE_RESULTS)


@pytest.fixture
def measurements(monkeypatch, fake_results):
    """Stands in for `run_bench` where the command line reads it: records its calls and returns `fake_results`."""
    calls = []

    def fake_run_bench(parts, backends, **kwargs):
        calls.append((parts, backends, kwargs))
        return fake_results

    monkeypatch.setattr(bench, "run_bench", fake_run_bench)
    return calls
