"""``MiniModel``: one Linear layer followed by ReLU, in float32 numpy."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import as_matrix, as_vector, check_parameter_count, check_size

DEFAULT_WEIGHT = 0.01


class MiniModel:
    """``relu(weights @ x + bias)`` with weights of shape ``(output_size, input_size)``.

    Weights start at 0.01 and the bias at 0, as in the original Rust model.

    >>> model = MiniModel(4, 2)
    >>> model.predict([1.0, 2.0, 3.0, 4.0])
    array([0.1, 0.1], dtype=float32)
    """

    input_size: int
    output_size: int
    weights: np.ndarray
    bias: np.ndarray

    def __init__(self, input_size: int, output_size: int) -> None:
        self.input_size = check_size(input_size, "input_size")
        self.output_size = check_size(output_size, "output_size")
        check_parameter_count(self.input_size, self.output_size)
        self.weights = np.full((self.output_size, self.input_size), DEFAULT_WEIGHT, dtype=np.float32)
        self.bias = np.zeros(self.output_size, dtype=np.float32)

    def __repr__(self) -> str:
        return f"MiniModel(input_size={self.input_size}, output_size={self.output_size})"

    def predict(self, x: Any) -> np.ndarray:
        """Return ``relu(weights @ x + bias)`` as a new float32 array of ``output_size``.

        >>> MiniModel(2, 1).predict(np.array([50.0, 50.0]))
        array([1.], dtype=float32)
        """
        vector = as_vector(x, "x", self.input_size)
        out = np.empty(self.output_size, dtype=np.float32)
        return self._forward(vector, out)

    def _forward(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Unchecked kernel: ``x`` is a finite float32 vector of ``input_size``."""
        np.matmul(self.weights, x, out=out)
        out += self.bias
        np.maximum(out, 0.0, out=out)
        return out

    def load_weights(self, weights: Any, bias: Any = None) -> None:
        """Replace weights (flat row-major or 2-D ``(output_size, input_size)``) and bias.

        ``bias=None`` sets the bias to zeros. The arrays are copied. If anything is
        invalid nothing changes: the previous weights and bias stay.

        >>> model = MiniModel(2, 2)
        >>> model.load_weights([1, 0, 0, -1], [0.5, 0.5])
        >>> model.predict([2, 3])
        array([2.5, 0. ], dtype=float32)
        """
        new_weights = as_matrix(weights, "weights", self.output_size, self.input_size)
        if bias is None:
            new_bias = np.zeros(self.output_size, dtype=np.float32)
        else:
            new_bias = as_vector(bias, "bias", self.output_size)
        self._set_parameters(np.array(new_weights, copy=True), np.array(new_bias, copy=True))

    def _set_parameters(self, weights: np.ndarray, bias: np.ndarray) -> None:
        """Adopt already validated, caller-independent float32 arrays without copying."""
        self.weights = weights.reshape(self.output_size, self.input_size)
        self.bias = bias
