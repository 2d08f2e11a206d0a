"""padzero: a Keras 3 Embedding whose padding id embeds to exactly zero.

Importing padzero registers its layers with Keras, so `.keras` files that use
them load with `keras.saving.load_model` (`safe_mode=True`) after `import padzero`.
The 20 Newsgroups study and the `padzero` command live in `padzero_study`,
which this package never imports.
"""

from padzero.embedding import Embedding
from padzero.embedding_bag import EmbeddingBag
from padzero.embedding_flatten_dense import EmbeddingFlattenDense

__version__ = "0.2.0"
__all__ = ["Embedding", "EmbeddingBag", "EmbeddingFlattenDense", "__version__"]
