"""minimodel: tiny float32 numpy inference that runs in CPython and in the browser (Pyodide).

>>> from minimodel import MiniModel, cosine_similarity
>>> MiniModel(128, 10).predict([0.5] * 128)[0].round(4)
np.float32(0.64)
>>> cosine_similarity([1, 2, 3], [2, 4, 6])
1.0
"""

from ._checks import MAX_DIM, MAX_INDEX_VALUES, MAX_PARAMETERS
from .index import EmbeddingIndex, normalize_rows
from .layers import FeedForward
from .model import MiniModel
from .similarity import cosine_similarity, softmax
from .text import TextEmbedder
from .tokenizer import WordPieceTokenizer
from .weights import WeightsFileError

__version__ = "0.1.0"

__all__ = [
    "MiniModel",
    "FeedForward",
    "EmbeddingIndex",
    "TextEmbedder",
    "WordPieceTokenizer",
    "cosine_similarity",
    "normalize_rows",
    "softmax",
    "WeightsFileError",
    "MAX_DIM",
    "MAX_PARAMETERS",
    "MAX_INDEX_VALUES",
    "__version__",
]
