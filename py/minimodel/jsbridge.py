"""What only the browser facade (``web/minimodel.js``) needs.

The facade validates arguments in JavaScript, then moves data through numpy buffers
owned here: JS holds zero-copy ``getBuffer()`` views of them, writes inputs in, calls a
method with plain numbers and copies the result out. No per-call PyProxy is created and
nothing is converted with ``to_py()``. Buffers only grow when JS asks (``reserve``), so
a view JS holds never silently points at a replaced array. This module imports neither
``js`` nor ``pyodide`` and is tested in CPython too; a JS typed array passed in arrives
as a ``JsProxy`` whose ``assign_to`` copies it into a numpy buffer in one step.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from . import _kernels
from ._checks import MAX_DIM, MAX_INDEX_VALUES, MAX_PARAMETERS, first_non_finite
from .index import EmbeddingIndex, normalize_rows_inplace
from .text import TextEmbedder
from .layers import FeedForward, Linear, run_layers
from .model import MiniModel
from .similarity import _cosine, softmax
from .weights import read_layers

__all__ = [
    "ModelSession",
    "IndexSession",
    "TextSession",
    "bytes_from_js",
    "Scratch",
    "inputs",
    "outputs",
    "cosine_scratch",
    "normalize_scratch",
    "softmax_scratch",
    "kernels_active",
    "kernel_build",
    "kernel_path",
    "use_kernels",
    "copy_from_js",
    "assign_from_js",
    "MAX_DIM",
    "MAX_PARAMETERS",
    "MAX_INDEX_VALUES",
]


def copy_from_js(data: Any, target: np.ndarray) -> np.ndarray:
    """Copy a JS typed array (a ``JsProxy``: one memcpy) or any buffer into ``target``."""
    flat = target.reshape(-1)
    if hasattr(data, "assign_to"):
        data.assign_to(flat)
    elif isinstance(data, (bytes, bytearray, memoryview)):
        flat[:] = np.frombuffer(data, dtype=target.dtype)
    else:
        flat[:] = np.asarray(data, dtype=target.dtype).ravel()
    return target


def assign_from_js(data: Any, target: np.ndarray, name: str) -> np.ndarray:
    """``copy_from_js``, refusing non-finite values (JS checked them already; Python owns the rule)."""
    flat = copy_from_js(data, target).reshape(-1)
    bad = first_non_finite(flat)
    if bad is not None:
        raise ValueError(f"{name}[{bad}] is {float(flat[bad])!r}; expected a finite number")
    return target


class Scratch:
    """A float32 buffer that JS fills for calls of variable size; it grows only on ``reserve``.

    >>> s = Scratch(); s.reserve(5); s.array.size >= 5
    True
    """

    def __init__(self) -> None:
        self.array = np.zeros(0, dtype=np.float32)
        #: (kernels, length, bound call) of the last cosine_scratch: binding costs more
        #: than the call, and callers repeat one length. Cleared when the array is replaced.
        self.cosine_call: tuple[Any, int, Any] | None = None

    def reserve(self, length: int) -> None:
        if self.array.size < length:
            self.array = np.zeros(max(length, self.array.size * 3 // 2, 1024), dtype=np.float32)
            self.cosine_call = None

    def take(self, length: int) -> np.ndarray:
        if self.array.size < length:
            raise ValueError(f"internal: scratch holds {self.array.size} values, {length} needed")
        return self.array[:length]


inputs = Scratch()
outputs = Scratch()


class ModelSession:
    """A ``MiniModel`` or ``FeedForward`` with its input buffer ``x`` and output ``y``.

    >>> session = ModelSession.mini(3, 2)
    >>> session.x[:] = [1, 2, 3]
    >>> session.predict()
    >>> session.y
    array([0.06, 0.06], dtype=float32)
    """

    def __init__(self, model: MiniModel | FeedForward) -> None:
        self.model = model
        self.sizes = [model.input_size, model.output_size] if isinstance(model, MiniModel) else model.sizes
        self.x = np.zeros(self.sizes[0], dtype=np.float32)
        self.y = np.zeros(self.sizes[-1], dtype=np.float32)
        self._hidden = [np.zeros(n, dtype=np.float32) for n in self.sizes[1:-1]]
        self._bound_for: object = False  # never an active kernel: bind on first use
        self._run: Any = None

    @classmethod
    def mini(cls, input_size: int, output_size: int) -> ModelSession:
        return cls(MiniModel(input_size, output_size))

    @classmethod
    def feed_forward(cls, *sizes: int) -> ModelSession:
        return cls(FeedForward(list(sizes)))

    @classmethod
    def from_file(cls, data: Any, length: int, kind: str) -> ModelSession:
        """A model from a weight file's bytes (a JS ``Uint8Array``): ``.safetensors`` or ``.npz``."""
        layers = read_layers(copy_from_js(data, np.empty(length, dtype=np.uint8)))
        return cls(MiniModel._from_layers(layers) if kind == "MiniModel" else FeedForward.from_layers(layers))

    def sizes_text(self) -> str:
        """The layer sizes as "64,32,10" (a string crosses to JS without a proxy)."""
        return ",".join(str(size) for size in self.sizes)

    def _layers(self) -> list[Linear]:
        return [self.model.layer] if isinstance(self.model, MiniModel) else self.model.layers

    @property
    def _relu_last(self) -> bool:
        return isinstance(self.model, MiniModel)

    def _bind(self) -> None:
        """Resolve the per-call work once: buffers, pointers and kernels are fixed."""
        layers = self._layers()
        buffers = [self.x, *self._hidden, self.y]
        calls = [
            layer.bound_forward(buffers[i], buffers[i + 1], relu=self._relu_last or i < len(layers) - 1)
            for i, layer in enumerate(layers)
        ]
        if len(calls) == 1:
            self._run = calls[0]
        else:
            def run_all() -> None:
                for call in calls:
                    call()

            self._run = run_all
        self._bound_for = _kernels.active()

    def predict(self) -> None:
        """``y = model(x)``; JS has already checked that ``x`` is finite, and checks ``y``."""
        if self._bound_for is not _kernels._active or self._run is None:
            self._bind()
        self._run()

    def predict_batch(self, batch: int) -> None:
        """``outputs[:batch*out] = model(inputs[:batch*in])``; JS reserved both and checks
        the outputs for float32 overflow (row by row, for the worker's merged batches)."""
        rows = inputs.take(batch * self.sizes[0]).reshape(batch, self.sizes[0])
        result = outputs.take(batch * self.sizes[-1]).reshape(batch, self.sizes[-1])
        layers = self._layers()
        if len(layers) > 1:
            hidden = run_layers(layers[:-1], rows, relu_last=True)
            layers[-1].forward(hidden, result, relu=self._relu_last)
        else:
            layers[0].forward(rows, result, relu=self._relu_last)

    def load_weights(self, weights: Any, bias: Any = None) -> None:
        """MiniModel: load flat row-major weights and an optional bias (JS ``Float32Array``s)."""
        self.load_layer(0, weights, bias)

    def load_layer(self, index: int, weights: Any, bias: Any = None) -> None:
        """Load layer ``index`` from JS ``Float32Array``s (bias ``None``: zeros); atomic."""
        n_in, n_out = self.sizes[index], self.sizes[index + 1]
        new_weights = assign_from_js(weights, np.empty((n_out, n_in), dtype=np.float32), "weights")
        new_bias = np.zeros(n_out, dtype=np.float32)
        if bias is not None:
            assign_from_js(bias, new_bias, "bias")
        layer = Linear(new_weights, new_bias)
        if isinstance(self.model, MiniModel):
            self.model.layer = layer
        else:
            self.model.layers[index] = layer
        self._run = None


def bytes_from_js(data: Any, length: int) -> np.ndarray:
    """A JS ``Uint8Array`` (a file's bytes) as a numpy uint8 array: one copy."""
    return copy_from_js(data, np.empty(length, dtype=np.uint8))


class IndexSession:
    """An ``EmbeddingIndex`` with a ``query`` buffer and ``indices``/``scores`` results."""

    def __init__(self, dim: int, index: EmbeddingIndex | None = None) -> None:
        self.index = index if index is not None else EmbeddingIndex(dim)
        self.query = np.zeros(self.index.dim, dtype=np.float32)
        self.indices = np.zeros(0, dtype=np.int32)
        self.scores = np.zeros(0, dtype=np.float32)
        self.saved = np.zeros(0, dtype=np.uint8)

    @classmethod
    def from_bytes(cls, data: Any, length: int) -> IndexSession:
        """A session of the index saved in a JS ``Uint8Array`` (EmbeddingIndex.from_bytes)."""
        index = EmbeddingIndex.from_bytes(bytes_from_js(data, length))
        return cls(index.dim, index)

    @property
    def size(self) -> int:
        return self.index.size

    @property
    def dim(self) -> int:
        return self.index.dim

    def save(self) -> int:
        """Put ``to_bytes()`` in ``saved`` (JS copies it out, then calls ``forget_saved``); its length."""
        self.saved = np.frombuffer(self.index.to_bytes(), dtype=np.uint8)
        return self.saved.size

    def forget_saved(self) -> None:
        self.saved = np.zeros(0, dtype=np.uint8)

    def add(self, vectors: Any, count: int) -> None:
        """Add ``count`` rows given as one flat JS ``Float32Array``, copied straight into
        the index's storage; nothing is added if a value is not finite."""
        slot = self.index.reserve_rows(count)
        assign_from_js(vectors, slot, "vectors")
        self.index.commit_rows(count)

    def reserve_results(self, k: int) -> None:
        if self.indices.size < k:
            self.indices = np.zeros(k, dtype=np.int32)
            self.scores = np.zeros(k, dtype=np.float32)

    def search(self, k: int) -> int:
        """Top-k for ``query`` into ``indices``/``scores``; returns how many (min(k, size))."""
        count = min(k, self.index.size)
        unit = normalize_rows_inplace(self.query.copy()[None, :])[0]
        self.index.search_into(unit, self.indices[:count], self.scores[:count])
        return count


def cosine_scratch(length: int) -> float:
    """Cosine similarity of ``inputs[:length]`` and ``inputs[length:2*length]``.

    >>> inputs.reserve(4); inputs.array[:4] = [1, 0, 1, 1]
    >>> round(cosine_scratch(2), 6)
    0.707107
    """
    kernels = _kernels._active
    if kernels is None:
        data = inputs.take(2 * length)
        return _cosine(data[:length], data[length:])
    call = inputs.cosine_call
    if call is None or call[0] is not kernels or call[1] != length:
        data = inputs.take(2 * length)
        call = inputs.cosine_call = (kernels, length, kernels.cosine.bind(data[:length], data[length:], length))
    return call[2]()


def normalize_scratch(length: int, dim: int) -> None:
    """``outputs[:length]`` = rows of ``inputs[:length]`` scaled to unit norm."""
    result = outputs.take(length)
    result[:] = inputs.take(length)
    normalize_rows_inplace(result.reshape(-1, dim))


def kernels_active() -> bool:
    """Whether the compiled (WebAssembly SIMD) kernels are in use."""
    return _kernels.active() is not None


def kernel_build() -> str:
    """Which kernels run: "relaxed-simd", "simd128" or "numpy"."""
    return _kernels.build()


def kernel_path(build: str) -> str:
    """Where the package keeps a kernel build's library (the JS loader preloads it)."""
    return str(_kernels.BUILDS[build])


def use_kernels(build: str) -> str:
    """Switch to a kernel build ("relaxed-simd" only once JS has preloaded its library) or
    to numpy alone ("numpy"); returns the build in use. Models re-pack their weights and
    rebind their per-call paths on their next call (they check which kernels are active)."""
    _kernels.use(None if build == "numpy" else _kernels.BUILDS[build])
    return _kernels.build()


def softmax_scratch(length: int) -> None:
    """``outputs[:length]`` = softmax of ``inputs[:length]``."""
    outputs.take(length)[:] = softmax(inputs.take(length))


class TextSession:
    """A ``TextEmbedder`` for the browser facade: texts arrive as one JSON string (one
    crossing, no proxy per text) and embeddings leave through ``outputs``."""

    def __init__(self, embedder: TextEmbedder) -> None:
        self.embedder = embedder

    @classmethod
    def from_files(cls, config: Any, config_length: int, tokenizer: Any, tokenizer_length: int, weights: Any,
                   weights_length: int, sentence_config: Any = None, sentence_config_length: int = 0,
                   pooling: Any = None, pooling_length: int = 0) -> TextSession:
        """From the files' bytes (JS ``Uint8Array``s); sentence_bert_config.json and
        1_Pooling/config.json may be None. The embedder has run once before it is returned
        (see ``warm_up``)."""
        session = cls(TextEmbedder.from_files(
            bytes_from_js(config, config_length), bytes_from_js(tokenizer, tokenizer_length),
            bytes_from_js(weights, weights_length),
            None if sentence_config is None else bytes_from_js(sentence_config, sentence_config_length),
            None if pooling is None else bytes_from_js(pooling, pooling_length),
        ))
        session.warm_up()
        return session

    def warm_up(self) -> None:
        """Embed one short text and drop the result, so that the caller's first ``embed`` is
        as fast as the ones after it. In Chromium the first run of the encoder is slow for
        reasons outside Python: numpy's libraries and the kernels are WebAssembly modules
        compiled from bytes, which V8 compiles function by function on their first call and
        runs in its baseline tier until they are hot. A 10-token query, as a search box
        sends, measured 87-223 ms the first time after loading against 13-42 ms from the
        second (in the page and in a worker); this moves that wait into ``load()``. The
        encoder keeps no state between calls, so no result changes."""
        self.embedder.embed(["warm up"])

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def max_tokens(self) -> int:
        return self.embedder.max_tokens

    def embed_json(self, texts_json: str, progress: Any = None) -> int:
        """``outputs[:n * dim]`` = the embeddings of the JSON array of strings (JS reserved
        them and checked the texts); ``progress(done, total)`` after each bucket. Returns n."""
        texts = json.loads(texts_json)
        vectors = self.embedder.embed(texts, progress)
        outputs.take(vectors.size)[:] = vectors.reshape(-1)
        return len(texts)

    def tokenize_text(self, text: str) -> str:
        """The token ids, as "101,2023,102" (a string crosses to JS without a proxy)."""
        return ",".join(map(str, self.embedder.tokenize(text)))
