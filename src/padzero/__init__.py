"""padzero: a Keras 3 Embedding whose padding id embeds to exactly zero.

The layers (`padzero.Embedding`, `padzero.FlattenDense`) are imported
eagerly, so `import padzero` registers them for `keras.saving.load_model`. The study functions load on first use: they bring
scikit-learn and matplotlib, which a user of the layer alone does not need.
"""

import importlib

from padzero.batching import TrimmedBatches
from padzero.embedding import Embedding
from padzero.flatten_dense import FlattenDense

__version__ = "0.1.0"

_LAZY = {
    "StudyConfig": "padzero.study",
    "run_study": "padzero.study",
    "build_model": "padzero.variants",
    "load_newsgroups": "padzero.data",
    "make_synthetic_newsgroups": "padzero.data",
    "encode_newsgroups": "padzero.text",
    "build_report": "padzero.report",
}
__all__ = ["Embedding", "FlattenDense", "TrimmedBatches", "__version__", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'padzero' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    return getattr(module, "run" if name == "run_study" else name)
