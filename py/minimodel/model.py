"""``MiniModel``: one Linear layer followed by ReLU, in float32."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import as_batch, as_vector, check_finite_result, check_parameter_count, check_size
from .layers import Linear, default_layer, validated_layer


class MiniModel:
    """``relu(weights @ x + bias)`` with weights of shape ``(output_size, input_size)``.

    Weights start at 0.01 and the bias at 0, as in the original Rust model.

    >>> model = MiniModel(4, 2)
    >>> model.predict([10.0, 20.0, 30.0, 40.0])
    array([1., 1.], dtype=float32)
    """

    input_size: int
    output_size: int
    layer: Linear

    def __init__(self, input_size: int, output_size: int) -> None:
        self.input_size = check_size(input_size, "input_size")
        self.output_size = check_size(output_size, "output_size")
        check_parameter_count(self.input_size, self.output_size)
        self.layer = default_layer(self.input_size, self.output_size)

    def __repr__(self) -> str:
        return f"MiniModel(input_size={self.input_size}, output_size={self.output_size})"

    @classmethod
    def _from_layers(cls, layers: list[tuple[np.ndarray, np.ndarray]]) -> MiniModel:
        from .weights import WeightsFileError

        if len(layers) != 1:
            raise WeightsFileError(f"a MiniModel has one layer; the file has {len(layers)}")
        (weight, bias), = layers
        model = cls.__new__(cls)
        model.input_size = check_size(weight.shape[1], "input_size")
        model.output_size = check_size(weight.shape[0], "output_size")
        check_parameter_count(model.input_size, model.output_size)
        model.layer = Linear(weight, bias)
        return model

    @classmethod
    def from_safetensors(cls, data: Any) -> MiniModel:
        """Load a one-layer ``.safetensors`` file (``<name>.weight`` [out, in], ``<name>.bias``)."""
        from .weights import layers_from_tensors, read_safetensors

        return cls._from_layers(layers_from_tensors(read_safetensors(data)))

    @classmethod
    def from_npz(cls, data: Any) -> MiniModel:
        """Load a one-layer ``.npz`` file; pickles are refused."""
        from .weights import layers_from_tensors, read_npz

        return cls._from_layers(layers_from_tensors(read_npz(data)))

    def save_safetensors(self) -> bytes:
        """The weights as a ``.safetensors`` file (``fc1.weight``, ``fc1.bias``)."""
        from .weights import write_safetensors

        return write_safetensors([(self.layer.weights, self.layer.bias)])

    @property
    def weights(self) -> np.ndarray:
        """The ``(output_size, input_size)`` float32 weights (read them; use load_weights to change)."""
        return self.layer.weights

    @property
    def bias(self) -> np.ndarray:
        return self.layer.bias

    def predict(self, x: Any) -> np.ndarray:
        """Return ``relu(weights @ x + bias)`` as a new float32 array of ``output_size``.

        >>> MiniModel(2, 1).predict(np.array([50.0, 50.0]))
        array([1.], dtype=float32)
        """
        vector = as_vector(x, "x", self.input_size)
        return check_finite_result(self.layer.forward(vector, np.empty(self.output_size, dtype=np.float32), relu=True))

    def predict_batch(self, inputs: Any, batch: int | None = None) -> np.ndarray:
        """``predict`` for every row of ``inputs`` (2-D, or flat row-major with ``batch``).

        >>> MiniModel(2, 1).predict_batch([50, 50, 100, 100], batch=2)
        array([[1.],
               [2.]], dtype=float32)
        """
        rows = as_batch(inputs, "inputs", self.input_size, batch)
        out = np.empty((rows.shape[0], self.output_size), dtype=np.float32)
        return check_finite_result(self.layer.forward(rows, out, relu=True))

    def load_weights(self, weights: Any, bias: Any = None) -> None:
        """Replace weights (flat row-major or 2-D ``(output_size, input_size)``) and bias.

        ``bias=None`` sets the bias to zeros. The arrays are copied. If anything is
        invalid nothing changes: the previous weights and bias stay.

        >>> model = MiniModel(2, 2)
        >>> model.load_weights([1, 0, 0, -1], [0.5, 0.5])
        >>> model.predict([2, 3])
        array([2.5, 0. ], dtype=float32)
        """
        self.layer = validated_layer(weights, bias, self.output_size, self.input_size)
