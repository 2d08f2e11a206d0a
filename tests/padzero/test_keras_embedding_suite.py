"""Keras's own Embedding tests, run against `padzero.Embedding(padding_idx=None)`: the drop-in, error messages included.

`keras/src/layers/core/embedding_test.py` ships in the Keras wheel. Its
`EmbeddingTest` calls `layers.Embedding` of its module's `layers`; here every
test of it runs with that name bound to `padzero.Embedding` itself (not a
subclass: Keras's quantize refuses subclasses, and one of its tests checks
that) and with `padding_idx=None` as the default. Both are restored after
each test, as is Keras's traceback filtering, which Keras's `setUp` turns off.
"""

import keras
import pytest

# absl-py is a dependency of Keras itself; its testing module is what Keras's test file needs.
pytest.importorskip("absl.testing.parameterized", reason="Keras's test file needs absl-py's absl.testing")
keras_embedding_test = pytest.importorskip(
    "keras.src.layers.core.embedding_test", reason="this Keras wheel does not ship its embedding tests"
)

import padzero  # noqa: E402  (after the skips: nothing to import without them)

pytestmark = pytest.mark.per_backend

KERAS_LAYERS = keras_embedding_test.layers  # what the test module's `layers` is restored to


class _KerasLayersWithPadzeroEmbedding:
    """`keras.src.layers` as Keras's test module sees it, with `Embedding` bound to `padzero.Embedding`."""

    Embedding = padzero.Embedding

    def __getattr__(self, name):
        return getattr(KERAS_LAYERS, name)


class PadzeroEmbeddingInKerasEmbeddingTest(keras_embedding_test.EmbeddingTest):
    """Every test of Keras's `EmbeddingTest`, with `padzero.Embedding(padding_idx=None)` as `layers.Embedding`."""

    def setUp(self):
        filtering = keras.config.is_traceback_filtering_enabled()
        self.addCleanup(
            keras.config.enable_traceback_filtering if filtering else keras.config.disable_traceback_filtering
        )
        super().setUp()  # turns traceback filtering off for good
        defaults = padzero.Embedding.__init__.__defaults__
        padzero.Embedding.__init__.__defaults__ = (None,)  # padding_idx: plain Keras behaviour
        self.addCleanup(setattr, padzero.Embedding.__init__, "__defaults__", defaults)
        keras_embedding_test.layers = _KerasLayersWithPadzeroEmbedding()
        self.addCleanup(setattr, keras_embedding_test, "layers", KERAS_LAYERS)

    def test_the_embedding_under_test_is_padzeros_with_no_padding(self):
        layer = keras_embedding_test.layers.Embedding(5, 3)
        self.assertIs(type(layer), padzero.Embedding)
        self.assertIsNone(layer.padding_idx)


def test_the_swap_is_undone_after_each_test():
    """Runs after the suite in this module: other tests see Keras's layers and padzero's default padding_idx."""
    assert keras_embedding_test.layers is KERAS_LAYERS
    assert keras_embedding_test.layers.Embedding is keras.layers.Embedding
    assert padzero.Embedding(5, 3).padding_idx == 0
