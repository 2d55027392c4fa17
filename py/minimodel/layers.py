"""Linear layers and ``FeedForward`` (a stack of Linear + ReLU), in float32."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _kernels
from ._exact import rounded_matmul
from .weights import widen
from ._checks import (
    as_batch,
    as_matrix,
    as_vector,
    check_finite_result,
    check_parameter_count,
    check_size,
    describe,
)

DEFAULT_WEIGHT = 0.01


class Linear:
    """``y = x @ weights.T + bias`` (optionally ReLU) for float32 weights ``(out, in)``, or
    float16 ones (finite: the text encoder keeps its file's float16 weights so, at half the
    memory; each is exactly a float32, so the results are those of the widened weights).

    Computed by the compiled kernel when one is loaded (with a packed float32 copy of the
    weights, made once), else by numpy. Inputs must already be validated.

    >>> layer = Linear(np.eye(2, dtype=np.float32), np.ones(2, np.float32))
    >>> layer.forward(np.array([1, -3], np.float32), np.empty(2, np.float32), relu=True)
    array([2., 0.], dtype=float32)
    """

    __slots__ = ("weights", "bias", "_operands", "_operands_for", "_widened")

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        self.weights = weights
        self.bias = bias
        self._operands: tuple[_kernels.Pinned, _kernels.Pinned] | None = None
        self._operands_for: _kernels.Kernels | None = None
        self._widened: np.ndarray | None = None

    def float32_weights(self) -> np.ndarray:
        """The weights as float32, for numpy's path: float16 ones widened once, then kept
        (the kernels' path never needs them: it packs a widened copy and drops it)."""
        if self.weights.dtype == np.float32:
            return self.weights
        if self._widened is None:
            self._widened = widen(self.weights)
        return self._widened

    @property
    def in_features(self) -> int:
        return self.weights.shape[1]

    @property
    def out_features(self) -> int:
        return self.weights.shape[0]

    def _kernel_operands(self, kernels: _kernels.Kernels) -> tuple[_kernels.Pinned, _kernels.Pinned]:
        """The packed weights and the bias as ``kernels.linear`` takes them, pinned: packed
        for these kernels on first use, then reused by every call."""
        if self._operands_for is not kernels:
            n, k = self.weights.shape
            packed = np.empty(kernels.packed_size(k, n), dtype=np.float32)
            kernels.pack(widen(self.weights), packed, k, n)
            self._operands = (_kernels.Pinned(packed), _kernels.Pinned(np.ascontiguousarray(self.bias)))
            self._operands_for = kernels
        return self._operands  # type: ignore[return-value]

    def forward(self, x: np.ndarray, out: np.ndarray, relu: bool) -> np.ndarray:
        """Compute into ``out``. ``x``: C-contiguous float32 ``(in,)`` or ``(rows, in)``.

        Each output row depends only on its input row, bit for bit, whatever the batch:
        the kernel sums every output in one fixed order (see mm_linear), and numpy's path
        gives the correctly rounded exact value (see _exact.py).
        """
        kernels = _kernels.active()
        if kernels is None:
            rounded_matmul(x, self.float32_weights(), self.bias, out)
            if relu:
                overflowed = ~np.isfinite(out)
                if overflowed.any():
                    out[overflowed] = np.nan  # as the kernel does: ReLU must not turn -inf into 0
                np.maximum(out, 0.0, out=out)
        else:
            rows = x.shape[0] if x.ndim == 2 else 1
            n, k = self.weights.shape
            kernels.linear(x, *self._kernel_operands(kernels), out, rows, k, n, int(relu))
        return out

    def bound_forward(self, x: np.ndarray, out: np.ndarray, relu: bool) -> Callable[[], Any]:
        """``forward(x, out, relu)`` as a no-argument call for fixed buffers: the browser's
        per-call path, checked once (the bound kernel call holds every array it uses)."""
        kernels = _kernels.active()
        if kernels is None:
            return functools.partial(self.forward, x, out, relu)
        n, k = self.weights.shape
        return kernels.linear.bind(x, *self._kernel_operands(kernels), out, 1, k, n, int(relu))


def default_layer(input_size: int, output_size: int) -> Linear:
    """Weights 0.01 and zero bias, as the original model starts."""
    return Linear(
        np.full((output_size, input_size), DEFAULT_WEIGHT, dtype=np.float32),
        np.zeros(output_size, dtype=np.float32),
    )


def validated_layer(weights: Any, bias: Any, output_size: int, input_size: int) -> Linear:
    """A new Linear from user data (copied), or an error naming what is wrong."""
    new_weights = np.array(as_matrix(weights, "weights", output_size, input_size), copy=True)
    if bias is None:
        new_bias = np.zeros(output_size, dtype=np.float32)
    else:
        new_bias = np.array(as_vector(bias, "bias", output_size), copy=True)
    return Linear(new_weights, new_bias)


def run_layers(layers: Sequence[Linear], x: np.ndarray, relu_last: bool) -> np.ndarray:
    """Apply the layers in order; ReLU after each but the last unless ``relu_last``."""
    for i, layer in enumerate(layers):
        shape = (x.shape[0], layer.out_features) if x.ndim == 2 else (layer.out_features,)
        x = layer.forward(x, np.empty(shape, dtype=np.float32), relu=relu_last or i < len(layers) - 1)
    return x


class FeedForward:
    """A stack of Linear layers with ReLU between them and none after the last.

    ``FeedForward([784, 256, 10])`` is the original article's network:
    784 -> 256 -> ReLU -> 10. Weights start at 0.01 and biases at 0.

    >>> net = FeedForward([3, 2, 1])
    >>> net.load_layer(0, [[1, 0, 0], [0, 1, 0]], [0, -5])
    >>> net.load_layer(1, [[1, 1]], [0.5])
    >>> net.predict([1, 2, 3])
    array([1.5], dtype=float32)
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence | np.ndarray):
            raise TypeError(f"sizes must be a list of layer sizes; received {describe(sizes)}")
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 sizes (inputs and outputs); received {len(sizes)}")
        self.sizes = [check_size(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
        for i in range(len(self.sizes) - 1):
            check_parameter_count(self.sizes[i], self.sizes[i + 1])
        self.layers = [default_layer(self.sizes[i], self.sizes[i + 1]) for i in range(len(self.sizes) - 1)]

    def __repr__(self) -> str:
        return f"FeedForward({self.sizes})"

    @classmethod
    def from_layers(cls, layers: Sequence[tuple[np.ndarray, np.ndarray]]) -> FeedForward:
        """A network from ``[(weights (out, in), bias (out,)), ...]`` float32 arrays (adopted)."""
        net = cls.__new__(cls)
        net.sizes = [check_size(layers[0][0].shape[1], "sizes[0]")]
        for i, (weight, _) in enumerate(layers):
            net.sizes.append(check_size(weight.shape[0], f"sizes[{i + 1}]"))
            check_parameter_count(net.sizes[i], net.sizes[i + 1])
        net.layers = [Linear(np.ascontiguousarray(w, np.float32), np.ascontiguousarray(b, np.float32)) for w, b in layers]
        return net

    @classmethod
    def from_safetensors(cls, data: Any) -> FeedForward:
        """Load a ``.safetensors`` file (bytes): ``fc1.weight`` [out, in], ``fc1.bias`` [out], ...

        >>> net = FeedForward([3, 2, 1])
        >>> FeedForward.from_safetensors(net.save_safetensors()).sizes
        [3, 2, 1]
        """
        from .weights import layers_from_tensors, read_safetensors

        return cls.from_layers(layers_from_tensors(read_safetensors(data)))

    @classmethod
    def from_npz(cls, data: Any) -> FeedForward:
        """Load an ``.npz`` file (bytes) with the same tensor names; pickles are refused."""
        from .weights import layers_from_tensors, read_npz

        return cls.from_layers(layers_from_tensors(read_npz(data)))

    def save_safetensors(self) -> bytes:
        """The weights as a ``.safetensors`` file: ``fc1.weight``, ``fc1.bias``, ... in float32."""
        from .weights import write_safetensors

        return write_safetensors([(layer.weights, layer.bias) for layer in self.layers])

    @property
    def input_size(self) -> int:
        return self.sizes[0]

    @property
    def output_size(self) -> int:
        return self.sizes[-1]

    def load_layer(self, index: int, weights: Any, bias: Any = None) -> None:
        """Replace layer ``index``'s weights ``(out, in)`` (flat row-major or 2-D) and bias
        (``None``: zeros). Nothing changes if anything is invalid."""
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"index must be an integer; received {describe(index)}")
        if not 0 <= index < len(self.layers):
            raise IndexError(f"index must be between 0 and {len(self.layers) - 1}; received {index}")
        self.layers[index] = validated_layer(weights, bias, self.sizes[index + 1], self.sizes[index])

    def predict(self, x: Any) -> np.ndarray:
        """Outputs for one input vector of ``input_size``, as a new float32 array."""
        return check_finite_result(run_layers(self.layers, as_vector(x, "x", self.input_size), relu_last=False))

    def predict_batch(self, inputs: Any, batch: int | None = None) -> np.ndarray:
        """Outputs ``(batch, output_size)`` for ``inputs`` given 2-D or flat row-major."""
        rows = as_batch(inputs, "inputs", self.input_size, batch)
        return check_finite_result(run_layers(self.layers, rows, relu_last=False))
