"""padzero: a Keras 3 Embedding whose padding id embeds to exactly zero."""

from padzero.embedding import Embedding

__version__ = "0.1.0"
__all__ = ["Embedding", "__version__"]
