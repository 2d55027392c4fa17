"""Sentence embeddings in numpy: a BERT encoder (all-MiniLM-L6-v2 and models of its
layout), mean pooling over the attention mask, then L2 normalisation — the vectors of
``SentenceTransformer(...).encode(texts, normalize_embeddings=True)``.

The matrix products run on the GEMM kernel (with GELU fused after the intermediate
layer), attention and LayerNorm on their own kernels; without kernels numpy computes the
same operations (products correctly rounded, see _exact.py). Texts are sorted by length
into buckets and each bucket is padded to its longest text; padding never changes a
vector: every sum a text's vector depends on runs over its own tokens only, in an order
that does not depend on the batch, so a text embedded alone or in any batch gives the
same bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _kernels
from ._kernels import Pinned
from ._exact import rounded_matmul
from .layers import Linear
from .tokenizer import WordPieceTokenizer
from ._checks import parse_json
from .weights import WeightsFileError, read_safetensors, widen

#: Tokens per bucket (padded batch): bounds the activations' memory (3 x 384 floats of
#: the attention input, 1536 of the intermediate layer, per token: ~10 MB at 1024 tokens).
BUCKET_TOKENS = 1024
#: Texts per bucket at most (short texts: the attention scratch stays small).
BUCKET_TEXTS = 64

ACT_NONE, ACT_GELU = 0, 2


def gelu(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)) in float64 with Abramowitz & Stegun's erf (7.1.26,
    |error| <= 1.5e-7), as float32: the numpy twin of the kernel's gelu4."""
    a = x.astype(np.float64) * (1 / math.sqrt(2))
    t = 1.0 / (1.0 + 0.3275911 * np.abs(a))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.copysign(1.0 - poly * np.exp(-a * a), a)
    return (0.5 * x * (1.0 + erf)).astype(np.float32)


class ModelFileError(WeightsFileError):
    """A text-embedding model's file that cannot be loaded; the message names the file."""


class BertConfig:
    """The fields of config.json a BERT encoder needs, checked."""

    def __init__(self, data: dict[str, Any], source: str = "config.json") -> None:
        def field(name: str, kind: type = int) -> Any:
            value = data.get(name)
            if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value <= 0):
                raise ModelFileError(f"{source}: {name} must be a positive {kind.__name__}; received {value!r}")
            return value

        if data.get("model_type", "bert") != "bert":
            raise ModelFileError(f"{source}: model_type {data.get('model_type')!r} is not supported (only bert)")
        if data.get("hidden_act", "gelu") != "gelu":
            raise ModelFileError(f"{source}: hidden_act {data.get('hidden_act')!r} is not supported (only gelu)")
        if data.get("position_embedding_type", "absolute") != "absolute":
            raise ModelFileError(f"{source}: position_embedding_type must be absolute")
        self.hidden = field("hidden_size")
        self.heads = field("num_attention_heads")
        self.layers = field("num_hidden_layers")
        self.intermediate = field("intermediate_size")
        self.vocab = field("vocab_size")
        self.positions = field("max_position_embeddings")
        self.types = field("type_vocab_size")
        eps = data.get("layer_norm_eps", 1e-12)
        if not isinstance(eps, float | int) or not 0 < eps < 1:
            raise ModelFileError(f"{source}: layer_norm_eps must be a small positive number; received {eps!r}")
        self.eps = float(eps)
        if self.hidden % self.heads or (self.hidden // self.heads) % 4 or self.hidden % 4:
            raise ModelFileError(f"{source}: hidden_size {self.hidden} must split into heads of a multiple of 4 values")
        self.head_dim = self.hidden // self.heads


def _expected_shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    h, i = config.hidden, config.intermediate
    shapes = {
        "embeddings.word_embeddings.weight": (config.vocab, h),
        "embeddings.position_embeddings.weight": (config.positions, h),
        "embeddings.token_type_embeddings.weight": (config.types, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for n in range(config.layers):
        p = f"encoder.layer.{n}."
        for name, shape in [
            ("attention.self.query.weight", (h, h)), ("attention.self.query.bias", (h,)),
            ("attention.self.key.weight", (h, h)), ("attention.self.key.bias", (h,)),
            ("attention.self.value.weight", (h, h)), ("attention.self.value.bias", (h,)),
            ("attention.output.dense.weight", (h, h)), ("attention.output.dense.bias", (h,)),
            ("attention.output.LayerNorm.weight", (h,)), ("attention.output.LayerNorm.bias", (h,)),
            ("intermediate.dense.weight", (i, h)), ("intermediate.dense.bias", (i,)),
            ("output.dense.weight", (h, i)), ("output.dense.bias", (h,)),
            ("output.LayerNorm.weight", (h,)), ("output.LayerNorm.bias", (h,)),
        ]:
            shapes[p + name] = shape
    return shapes


def _check_tensors(tensors: dict[str, np.ndarray], config: BertConfig) -> dict[str, np.ndarray]:
    """The tensors a BERT encoder needs, with their shapes; a `bert.` prefix is accepted;
    position_ids and the pooler are not used."""
    if tensors and all(name.startswith("bert.") for name in tensors if not name.startswith(("cls.", "pooler."))):
        tensors = {name.removeprefix("bert."): value for name, value in tensors.items()}
    expected = _expected_shapes(config)
    for name, shape in expected.items():
        if name not in tensors:
            raise ModelFileError(f"tensor {name!r} is missing (a BERT encoder of the config's sizes needs it)")
        if tuple(tensors[name].shape) != shape:
            raise ModelFileError(f"tensor {name!r} has shape {list(tensors[name].shape)}; the config needs {list(shape)}")
    return {name: tensors[name] for name in expected}


class BertEncoder:
    """The encoder's weights, laid out for the kernels (Q, K and V fused into one GEMM)."""

    def __init__(self, config: BertConfig, tensors: dict[str, np.ndarray]) -> None:
        t = _check_tensors(tensors, config)
        f32 = lambda name: widen(t[name])  # noqa: E731
        # The big tables stay float16 when the file has them so (copied out of the file's
        # bytes): the word table (23 MB, not 47: only the rows of a call's tokens are
        # widened, exactly) and the layers' weights (the kernels pack a float32 copy of
        # each, see Linear: 21 MB of them beside the packed copies, not 42).
        own = lambda name: t[name].copy() if t[name].dtype == np.float16 else widen(t[name])  # noqa: E731
        # LayerNorm's weights pinned (their addresses taken once; see _kernels.Pinned).
        norm = lambda name: (Pinned(f32(name + ".weight")), Pinned(f32(name + ".bias")))  # noqa: E731
        self.config = config
        self.word = own("embeddings.word_embeddings.weight")
        # Positions and the token type 0 (single texts) folded together once.
        self.position = f32("embeddings.position_embeddings.weight") + f32("embeddings.token_type_embeddings.weight")[0]
        self.embedding_norm = norm("embeddings.LayerNorm")
        self.layers = []
        for n in range(config.layers):
            p = f"encoder.layer.{n}."
            qkv = Linear(
                np.concatenate([own(p + f"attention.self.{x}.weight") for x in ("query", "key", "value")]),
                np.concatenate([f32(p + f"attention.self.{x}.bias") for x in ("query", "key", "value")]),
            )
            self.layers.append({
                "qkv": qkv,
                "out": Linear(own(p + "attention.output.dense.weight"), f32(p + "attention.output.dense.bias")),
                "norm1": norm(p + "attention.output.LayerNorm"),
                "up": Linear(own(p + "intermediate.dense.weight"), f32(p + "intermediate.dense.bias")),
                "down": Linear(own(p + "output.dense.weight"), f32(p + "output.dense.bias")),
                "norm2": norm(p + "output.LayerNorm"),
            })

    def encode(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Mean-pooled, L2-normalised embeddings ``(B, hidden)`` of a padded batch
        ``ids (B, L)`` (int), whose text b has ``lengths[b]`` real tokens."""
        c = self.config
        batch, width = ids.shape
        rows = batch * width
        kernels = _kernels.active()
        hidden = self.word[ids.reshape(-1)].astype(np.float32, copy=False)  # a new array either way
        hidden += np.tile(self.position[:width], (batch, 1))
        # The 43 kernel calls below use these buffers, pinned once: with plain arrays the
        # calls' checks took about 3 ms of a 10-token query's 14 in Pyodide (see Pinned).
        x, qkv, ctx, attended, up, lengths32, scratch = (Pinned(a) for a in (
            hidden,
            np.empty((rows, 3 * c.hidden), np.float32),
            np.empty((rows, c.hidden), np.float32),
            np.empty((rows, c.hidden), np.float32),
            np.empty((rows, c.intermediate), np.float32),
            np.ascontiguousarray(lengths, dtype=np.int32),
            np.empty(max(width, 1), np.float32),
        ))
        _layernorm(kernels, x, None, *self.embedding_norm, x, c.eps)
        for layer in self.layers:
            _linear(kernels, layer["qkv"], x, qkv, ACT_NONE)
            _attention(kernels, qkv, lengths32, ctx, scratch, batch, width, c.heads, c.head_dim)
            _linear(kernels, layer["out"], ctx, attended, ACT_NONE)
            _layernorm(kernels, attended, x, *layer["norm1"], x, c.eps)
            _linear(kernels, layer["up"], x, up, ACT_GELU)
            _linear(kernels, layer["down"], up, attended, ACT_NONE)
            _layernorm(kernels, attended, x, *layer["norm2"], x, c.eps)
        hidden = hidden.reshape(batch, width, c.hidden)
        pooled = np.empty((batch, c.hidden), np.float64)
        for b in range(batch):  # over the text's own tokens only, in order
            pooled[b] = hidden[b, : lengths[b]].astype(np.float64).sum(axis=0) / lengths[b]
        norms = np.sqrt((pooled * pooled).sum(axis=1))
        norms[norms == 0] = 1
        return (pooled / norms[:, None]).astype(np.float32)


# The encoder's steps, on pinned arrays: by the kernels when they are loaded, else by
# numpy (the reference the kernels are tested against).


def _linear(kernels: Any, layer: Linear, x: Pinned, out: Pinned, act: int) -> None:
    n, k = layer.weights.shape
    if kernels is not None:
        kernels.linear(x, *layer._kernel_operands(kernels), out, x.array.shape[0], k, n, act)
        return
    rounded_matmul(x.array, layer.float32_weights(), layer.bias, out.array)
    if act == ACT_GELU:
        out.array[...] = gelu(out.array)


def _layernorm(kernels: Any, a: Pinned, b: Pinned | None, gamma: Pinned, beta: Pinned, out: Pinned,
               eps: float) -> None:
    """out = LayerNorm(a + b) (or of a), row by row, in float32 as the kernel does."""
    rows, dim = a.array.shape
    if kernels is not None:
        kernels.layernorm(a, a if b is None else b, gamma, beta, out, rows, dim, eps, int(b is not None))
        return
    y = a.array + b.array if b is not None else a.array.copy()
    mean = y.mean(axis=1, dtype=np.float32, keepdims=True)
    centred = y - mean
    var = (centred * centred).mean(axis=1, dtype=np.float32, keepdims=True)
    out.array[...] = centred / np.sqrt(var + np.float32(eps)) * gamma.array + beta.array


def _attention(kernels: Any, qkv: Pinned, lengths: Pinned, ctx: Pinned, scratch: Pinned,
               batch: int, width: int, heads: int, head_dim: int) -> None:
    if kernels is not None:
        kernels.attention(qkv, lengths, ctx, scratch, batch, width, heads, head_dim)
        return
    lengths, ctx = lengths.array, ctx.array
    rows = qkv.array.reshape(batch, width, 3, heads, head_dim)
    out = ctx.reshape(batch, width, heads, head_dim)
    out[...] = 0
    scale = np.float32(1 / math.sqrt(head_dim))
    for b in range(batch):  # each text over its own tokens: nothing depends on the padding
        n = int(lengths[b])
        for h in range(heads):
            q = np.ascontiguousarray(rows[b, :n, 0, h])
            k = np.ascontiguousarray(rows[b, :n, 1, h])
            v = np.ascontiguousarray(rows[b, :n, 2, h])
            scores = rounded_matmul(q, k, None, np.empty((n, n), np.float32)) * scale
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            probabilities = scores / scores.sum(axis=1, keepdims=True)
            rounded_matmul(probabilities, np.ascontiguousarray(v.T), None, out[b, :n, h])


class TextEmbedder:
    """Sentence embeddings from a BERT model in the sentence-transformers layout.

    >>> # embedder = TextEmbedder.from_pretrained("path/to/all-MiniLM-L6-v2")
    >>> # embedder.embed(["The weather is lovely today."]).shape  -> (1, 384)
    """

    def __init__(self, config: BertConfig, tokenizer: WordPieceTokenizer, encoder: BertEncoder) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.encoder = encoder

    @classmethod
    def from_files(cls, config: Any, tokenizer: Any, weights: Any, sentence_config: Any = None,
                   pooling_config: Any = None) -> TextEmbedder:
        """From the bytes (or paths) of config.json, tokenizer.json, model.safetensors and
        optionally sentence_bert_config.json (its max_seq_length bounds the tokens) and
        1_Pooling/config.json (checked: the embedder pools by the mean only)."""
        config_data = _json(config, "config.json")
        bert = BertConfig(config_data)
        if pooling_config is not None:
            check_pooling(_json(pooling_config, POOLING_FILE), bert.hidden)
        max_tokens = bert.positions
        if sentence_config is not None:
            st = _json(sentence_config, "sentence_bert_config.json")
            length = st.get("max_seq_length", max_tokens)
            if not isinstance(length, int) or isinstance(length, bool) or not 2 <= length <= bert.positions:
                raise ModelFileError(
                    f"sentence_bert_config.json: max_seq_length must be an integer from 2 to {bert.positions}; "
                    f"received {length!r}"
                )
            max_tokens = length
        try:
            tok = WordPieceTokenizer.from_json(_bytes(tokenizer, "tokenizer.json"), max_length=max_tokens)
        except (ValueError, TypeError) as err:  # the tokenizer's own checks, which name the field
            message = str(err)
            raise ModelFileError(message if message.startswith("tokenizer.json") else f"tokenizer.json: {message}") from None
        if tok.vocab_size > bert.vocab:
            raise ModelFileError(f"tokenizer.json has {tok.vocab_size} tokens; the model's vocab_size is {bert.vocab}")
        if tok.largest_id >= bert.vocab:
            raise ModelFileError(
                f"tokenizer.json gives token id {tok.largest_id}; the model's vocab_size is {bert.vocab} (ids 0 to {bert.vocab - 1})"
            )
        try:
            encoder = BertEncoder(bert, read_safetensors(_bytes(weights, "model.safetensors"), integers=True, half=True))
        except ModelFileError:  # names the file already
            raise
        except WeightsFileError as err:
            raise ModelFileError(f"model.safetensors: {err}") from None
        return cls(bert, tok, encoder)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> TextEmbedder:
        """From a model folder: config.json, tokenizer.json, model.safetensors and the
        optional sentence_bert_config.json and 1_Pooling/config.json."""
        folder = Path(folder)
        st, pooling = folder / "sentence_bert_config.json", folder / POOLING_FILE
        return cls.from_files(folder / "config.json", folder / "tokenizer.json", folder / "model.safetensors",
                              st if st.exists() else None, pooling if pooling.exists() else None)

    @property
    def dim(self) -> int:
        """Length of every embedding."""
        return self.config.hidden

    @property
    def max_tokens(self) -> int:
        """Most tokens of a text, [CLS] and [SEP] included; longer texts are truncated."""
        return self.tokenizer.max_length

    def tokenize(self, text: str) -> list[int]:
        """Token ids with [CLS] and [SEP], truncated to ``max_tokens``."""
        return self.tokenizer.encode(text)

    def embed(self, texts: str | Sequence[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Embeddings ``(n, dim)`` float32, L2-normalised; a string gives one row.
        ``progress(done, total)`` is called after each bucket."""
        if isinstance(texts, str):
            texts = [texts]
        elif isinstance(texts, bytes) or not isinstance(texts, Sequence):
            raise TypeError(f"texts must be a string or a list of strings; received {type(texts).__name__}")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be a string; received {type(text).__name__}")
        ids = [self.tokenizer.encode(text) for text in texts]
        return self.embed_ids(ids, progress)

    def embed_ids(self, ids: Sequence[Sequence[int]], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Embeddings of texts given as token ids (each with [CLS] and [SEP])."""
        out = np.empty((len(ids), self.dim), np.float32)
        done = 0
        for bucket in buckets([len(x) for x in ids]):
            width = max(len(ids[i]) for i in bucket)
            batch = np.full((len(bucket), width), self.tokenizer.pad_id, dtype=np.int64)
            lengths = np.empty(len(bucket), np.int64)
            for row, i in enumerate(bucket):
                batch[row, : len(ids[i])] = ids[i]
                lengths[row] = len(ids[i])
            out[bucket] = self.encoder.encode(batch, lengths)
            done += len(bucket)
            if progress is not None:
                progress(done, len(ids))
        return out


def buckets(lengths: Sequence[int]) -> list[list[int]]:
    """Indices of texts grouped for padded batches: sorted by length (so little work is
    padding), each group at most BUCKET_TEXTS texts and about BUCKET_TOKENS tokens."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < BUCKET_TEXTS and (len(groups[-1]) + 1) * lengths[i] <= max(BUCKET_TOKENS, lengths[i]):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _bytes(source: Any, name: str) -> bytes | memoryview:
    if isinstance(source, str | Path):
        try:
            return Path(source).read_bytes()
        except OSError as err:
            raise ModelFileError(f"{name}: cannot read {source}: {err.strerror}") from None
    if isinstance(source, bytes | bytearray | memoryview):
        return source
    if isinstance(source, np.ndarray) and source.dtype == np.uint8:
        return memoryview(source)
    raise TypeError(f"{name} must be bytes or a path; received {type(source).__name__}")


POOLING_FILE = "1_Pooling/config.json"


def check_pooling(pooling: dict[str, Any], hidden: int) -> None:
    """Refuse a sentence-transformers pooling config other than the mean over the tokens
    (which is all ``encode`` computes): a model pooled by its [CLS] token, say, would
    otherwise load and give vectors other than its own, with nothing to tell."""
    modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True)
    if modes != ["pooling_mode_mean_tokens"]:
        raise ModelFileError(
            f"{POOLING_FILE}: this model pools by {', '.join(m.removeprefix('pooling_mode_') for m in modes) or 'nothing'}; "
            "TextEmbedder computes the mean over the tokens only (pooling_mode_mean_tokens alone true)"
        )
    dim = pooling.get("word_embedding_dimension", hidden)
    if dim != hidden:
        raise ModelFileError(f"{POOLING_FILE}: word_embedding_dimension is {dim!r}; config.json's hidden_size is {hidden}")


def _json(source: Any, name: str) -> dict[str, Any]:
    value = parse_json(_bytes(source, name), name, ModelFileError, "a model's JSON")
    if not isinstance(value, dict):
        raise ModelFileError(f"{name} must be a JSON object; it is a {type(value).__name__}")
    return value
