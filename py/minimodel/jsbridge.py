"""What only the browser facade (``web/minimodel.js``) needs.

The facade validates arguments in JavaScript, then moves data through float32 numpy
buffers owned here: JS holds zero-copy ``getBuffer()`` views of them, writes inputs in,
calls a method with no arguments and copies the result out. No per-call PyProxy is
created and nothing is converted with ``to_py()``. This module imports neither ``js``
nor ``pyodide``, so it is tested in CPython too; a JS typed array arrives as a
``JsProxy`` whose ``assign_to`` copies it into a numpy buffer in one step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import MAX_DIM, MAX_PARAMETERS, as_matrix, as_vector
from .model import MiniModel
from .similarity import _cosine

__all__ = ["ModelSession", "Scratch", "scratch", "cosine_scratch", "MAX_DIM", "MAX_PARAMETERS"]


def _float32_from_js(data: Any, length: int) -> np.ndarray:
    """Copy a JS ``Float32Array`` (a ``JsProxy``) or any buffer into a new float32 array."""
    out = np.empty(length, dtype=np.float32)
    if hasattr(data, "assign_to"):
        data.assign_to(out)
    else:
        out[:] = np.asarray(data, dtype=np.float32).ravel()
    return out


class ModelSession:
    """A ``MiniModel`` plus its input buffer ``x`` and output buffer ``y`` shared with JS.

    >>> session = ModelSession(3, 2)
    >>> session.x[:] = [1, 2, 3]
    >>> session.predict()
    >>> session.y
    array([0.06, 0.06], dtype=float32)
    """

    def __init__(self, input_size: int, output_size: int) -> None:
        self.model = MiniModel(input_size, output_size)
        self.x = np.zeros(self.model.input_size, dtype=np.float32)
        self.y = np.zeros(self.model.output_size, dtype=np.float32)

    def predict(self) -> None:
        """``y = relu(W @ x + b)``; JS has already checked that ``x`` is finite."""
        self.model._forward(self.x, self.y)

    def load_weights(self, weights: Any, bias: Any = None) -> None:
        """Load flat row-major weights and an optional bias, given as JS ``Float32Array``s."""
        rows, cols = self.model.output_size, self.model.input_size
        new_weights = as_matrix(_float32_from_js(weights, rows * cols), "weights", rows, cols)
        if bias is None:
            new_bias = np.zeros(rows, dtype=np.float32)
        else:
            new_bias = as_vector(_float32_from_js(bias, rows), "bias", rows)
        self.model._set_parameters(new_weights, new_bias)


class Scratch:
    """A growable float32 buffer that JS fills for calls of variable length.

    >>> s = Scratch(); s.reserve(5); s.array.size >= 5
    True
    """

    def __init__(self) -> None:
        self.array = np.zeros(0, dtype=np.float32)

    def reserve(self, length: int) -> None:
        if self.array.size < length:
            self.array = np.zeros(max(length, 2 * self.array.size, 1024), dtype=np.float32)


scratch = Scratch()


def cosine_scratch(length: int) -> float:
    """Cosine similarity of ``scratch.array[:length]`` and ``scratch.array[length:2*length]``.

    >>> scratch.reserve(4); scratch.array[:4] = [1, 0, 1, 1]
    >>> round(cosine_scratch(2), 6)
    0.707107
    """
    data = scratch.array
    return _cosine(data[:length], data[length : 2 * length])
