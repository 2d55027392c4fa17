"""Reference computations and data shared by the tests of every level (CPython, build,
browser): float64 forward passes and searches, random layers, hostile weight files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np


def f64(a) -> np.ndarray:
    return np.asarray(a, np.float32).astype(np.float64)


def reference_network(layers, x) -> np.ndarray:
    h = f64(x)
    for i, (w, b) in enumerate(layers):
        h = h @ f64(w).T + f64(b)
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


def scaled_layers(sizes, seed):
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((sizes[i + 1], sizes[i])).astype(np.float32) / np.sqrt(sizes[i]),
         rng.standard_normal(sizes[i + 1]).astype(np.float32) * 0.1)
        for i in range(len(sizes) - 1)
    ]


def reference_search(vectors, query, k):
    v = f64(vectors)
    norms = np.linalg.norm(v, axis=1)
    norms[norms == 0] = 1
    unit = (v / norms[:, None]).astype(np.float32).astype(np.float64)
    q = f64(query)
    qn = np.linalg.norm(q)
    q = (q / (qn if qn else 1)).astype(np.float32).astype(np.float64)
    scores = unit @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


def random_layers(sizes, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((sizes[i + 1], sizes[i])).astype(dtype), rng.standard_normal(sizes[i + 1]).astype(dtype))
            for i in range(len(sizes) - 1)]


def safetensors_bytes(header: dict, body: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + body


GOOD = safetensors_bytes(
    {"fc1.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
     "fc1.bias": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]}},
    np.arange(8, dtype="<f4").tobytes(),
)


def entry(dtype="F32", shape=(2, 3), offsets=(0, 24)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


BAD_FILES = [
    (b"", "shorter than its 8-byte header length"),
    (struct.pack("<Q", 2**40) + b"{}", "at most 104,857,600 are accepted"),
    (struct.pack("<Q", 50) + b"{}", "but the file has only 2 after its length"),
    (struct.pack("<Q", 3) + b"{x}", "not valid JSON"),
    (struct.pack("<Q", 2) + b"[]", "must be a JSON object"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "not valid JSON"),
    (safetensors_bytes({}, b""), "holds no tensors"),
    (safetensors_bytes({"fc1.weight": entry(dtype="I64")}, bytes(24)), "dtype 'I64' is not supported"),
    (safetensors_bytes({"fc1.weight": entry(shape=(2, -3))}, bytes(24)), "is not a list of sizes"),
    (safetensors_bytes({"fc1.weight": entry(shape=(2, 3.0))}, bytes(24)), "is not a list of sizes"),
    (safetensors_bytes({"fc1.weight": entry(offsets=(0, 24, 1))}, bytes(24)), "is not [begin, end]"),
    (safetensors_bytes({"fc1.weight": entry(offsets=(8, 32))}, bytes(24)), "lie outside the 24 bytes"),
    (safetensors_bytes({"fc1.weight": entry(offsets=(0, 20))}, bytes(24)), "needs 24 bytes; data_offsets give 20"),
    (safetensors_bytes({"fc1.weight": {"dtype": "F32", "shape": [2, 3]}}, bytes(24)), "exactly dtype, shape and data_offsets"),
    (safetensors_bytes({"fc1.weight": entry(), "fc2.weight": entry(shape=(1, 2), offsets=(16, 24))}, bytes(24)), "overlap"),
    (safetensors_bytes({"fc1.weight": entry(shape=(2, 3))}, np.array([0, 1, np.nan, 0, 0, 0], "<f4").tobytes()), "'fc1.weight': value 2 is not a finite number"),
    (safetensors_bytes({"fc1.weight": entry(dtype="F64", shape=(1, 1), offsets=(0, 8))}, np.array([1e300]).tobytes()), "value 0 is outside the float32 range"),
    (safetensors_bytes({"fc1.weight": entry(shape=(6,))}, bytes(24)), "shape [6] is not [out, in]"),
    (safetensors_bytes({"fc1.bias": entry(shape=(2,), offsets=(0, 8))}, bytes(8)), "has a bias but no 'fc1.weight'"),
    (safetensors_bytes({"fc1.weight": entry(), "fc1.bias": entry(shape=(3,), offsets=(24, 36))}, bytes(36)), "does not match [2] of its weight"),
    (safetensors_bytes({"fc1.weight": entry(), "fc2.weight": entry(shape=(1, 3), offsets=(24, 36))}, bytes(36)), "takes 3 inputs but 'fc1.weight' gives 2 outputs"),
    (safetensors_bytes({"weights": entry()}, bytes(24)), "expected names like 'fc1.weight'"),
    (safetensors_bytes({"__metadata__": {"a": 1}, "fc1.weight": entry()}, bytes(24)), "__metadata__ must map names to strings"),
    (b"PK\x03\x04garbage", "not a readable .npz file"),
    # json.loads raises RecursionError and ValueError here, not JSONDecodeError
    (struct.pack("<Q", 200_000) + b"[" * 100_000 + b"]" * 100_000, "not a safetensors header"),
    (struct.pack("<Q", 5_006) + b'{"a":' + b"9" * 5_000 + b"}", "not a safetensors header"),
    # 2**24 * 2**24 * 2**16 wraps to 0 in int64; the product is taken in Python integers
    (safetensors_bytes({"fc1.weight": entry(shape=(2**24, 2**24, 2**16), offsets=(0, 0))}, b""),
     "'fc1.weight': 18,446,744,073,709,551,616 values; at most 67,108,864 are accepted"),
    # thousands of sizes: their product would be an integer of thousands of digits
    (safetensors_bytes({"fc1.weight": entry(shape=(2**24,) * 600, offsets=(0, 0))}, b""),
     "'fc1.weight': shape has 600 sizes; at most 8 are accepted"),
]


#: sentence-transformers' own vectors and token ids (tools/reference/make_golden.py).
GOLDEN = Path(__file__).resolve().parent / "data" / "minilm_golden.npz"
#: The example of the sentence-transformers README: similarities 0.6660, 0.1046, 0.1411.
PUBLISHED = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]


def load_golden() -> tuple[list[str], np.ndarray, list[list[int]]]:
    """(texts, embeddings (n, 384) float32, token ids per text) of the golden file."""
    data = np.load(GOLDEN)
    texts = json.loads(str(data["texts"]))
    offsets = data["token_offsets"]
    ids = [data["token_ids"][offsets[i] : offsets[i + 1]].tolist() for i in range(len(texts))]
    return texts, data["embeddings"], ids
