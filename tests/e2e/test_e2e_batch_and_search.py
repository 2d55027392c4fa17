"""predictBatch, FeedForward, EmbeddingIndex and normalizeRows in headless Chromium
(WebAssembly SIMD kernels), against float64 numpy references computed in CPython."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FROM_B64, f32_b64
from references import reference_network, reference_search, scaled_layers
from test_e2e_api import ERROR_JS, f32

pytestmark = pytest.mark.e2e


def test_kernels_are_in_use(api):
    assert api.evaluate("mm.debugStats().kernels") is True


@pytest.mark.parametrize("sizes", [[784, 256, 10], [64, 32, 10], [5, 7, 6, 2]])
def test_feed_forward_matches_numpy(api, sizes):
    layers = scaled_layers(sizes, 11)
    batch = 37
    x = np.random.default_rng(2).standard_normal((batch, sizes[0])).astype(np.float32)
    got = api.evaluate(
        """([sizes, layers, x, batch]) => {
          const net = new mm.FeedForward(sizes);
          try {
            layers.forEach(([w, b], i) => net.loadLayer(i, """ + FROM_B64 + """(w), b));
            x = """ + FROM_B64 + """(x);
            const all = net.predictBatch(x, batch);
            const one = net.predict(Array.from(x.slice(5 * sizes[0], 6 * sizes[0]))); // a plain Array works too
            return { all: Array.from(all), one: Array.from(one), type: all.constructor.name,
                     sizes: net.sizes, io: [net.inputSize, net.outputSize] };
          } finally { net.dispose(); }
        }""",
        [sizes, [[f32_b64(w), f32(b)] for w, b in layers], f32_b64(x), batch],
    )
    expected = reference_network(layers, x)
    tol = dict(rtol=1e-4, atol=2e-5 * np.sqrt(max(sizes)))
    assert got["type"] == "Float32Array" and got["sizes"] == sizes and got["io"] == [sizes[0], sizes[-1]]
    np.testing.assert_allclose(np.reshape(got["all"], (batch, sizes[-1])), expected, **tol)
    np.testing.assert_allclose(got["one"], expected[5], **tol)


def test_minimodel_predict_batch_matches_numpy(api):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((10, 128)).astype(np.float32)
    b = rng.standard_normal(10).astype(np.float32)
    x = rng.standard_normal((65, 128)).astype(np.float32)
    got = api.evaluate(
        """([w, b, x]) => {
          const m = new mm.MiniModel(128, 10);
          try {
            m.loadWeights(w, b);
            const y1 = m.predictBatch(new Float64Array(x), 65);
            const y2 = m.predictBatch(x.slice(0, 128), 1);
            return { y1: Array.from(y1), y2: Array.from(y2), distinct: y1.buffer !== y2.buffer };
          } finally { m.dispose(); }
        }""",
        [f32(w.ravel()), f32(b), f32(x.ravel())],
    )
    expected = np.maximum(x.astype(np.float64) @ w.T.astype(np.float64) + b, 0)
    np.testing.assert_allclose(np.reshape(got["y1"], (65, 10)), expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got["y2"], expected[0], rtol=1e-5, atol=1e-4)
    assert got["distinct"]


# Parts are lists of numbers, or f32_b64 strings (large ones).
SEARCH_JS = """([dim, parts, query, k]) => {
  const index = new mm.EmbeddingIndex(dim);
  const floats = (p) => typeof p === "string" ? """ + FROM_B64 + """(p) : new Float32Array(p);
  try {
    for (const part of parts) index.add(floats(part));
    const { indices, scores } = index.search(query, k);
    return { indices: Array.from(indices), scores: Array.from(scores), size: index.size,
             types: [indices.constructor.name, scores.constructor.name] };
  } finally { index.dispose(); }
}"""


@pytest.mark.parametrize(("n", "dim", "k"), [(3000, 384, 10), (100, 16, 300), (1, 1, 1), (500, 33, 64)])
def test_search_matches_numpy(api, n, dim, k):
    rng = np.random.default_rng(n)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    query = rng.standard_normal(dim).astype(np.float32)
    parts = [f32_b64(p) for p in np.array_split(vectors, 3) if p.size]
    got = api.evaluate(SEARCH_JS, [dim, parts, f32(query), k])
    want_indices, want_scores = reference_search(vectors, query, k)
    assert got["types"] == ["Int32Array", "Float32Array"]
    assert got["size"] == n and len(got["indices"]) == min(n, k)
    np.testing.assert_allclose(got["scores"], want_scores, atol=1e-5)
    assert got["indices"][:3] == want_indices[:3].tolist()


def test_search_ties_zero_query_and_k_beyond_size(api):
    vectors = [1, 0, 0, 1, 2, 0, 1, 0, 0, 0, -1, 0]
    got = api.evaluate(SEARCH_JS, [2, [vectors], [5, 0], 3])
    assert got["indices"] == [0, 2, 3] and got["scores"] == [1, 1, 1]
    got = api.evaluate(SEARCH_JS, [2, [vectors], [0, 0], 100])
    assert got["indices"] == [0, 1, 2, 3, 4, 5] and got["scores"] == [0] * 6


def test_normalize_rows_matches_numpy(api):
    rng = np.random.default_rng(4)
    v = rng.standard_normal((50, 24)).astype(np.float32) * 1e20
    v[7] = 0
    got = np.reshape(api.evaluate("([v]) => Array.from(mm.normalizeRows(new Float32Array(v), 24))", [f32(v.ravel())]), (50, 24))
    norms = np.linalg.norm(v.astype(np.float64), axis=1)
    norms[norms == 0] = 1
    np.testing.assert_allclose(got, v / norms[:, None], atol=1e-7)
    assert not got[7].any()


BAD_CALLS = [
    ("model.predictBatch(new Float32Array(8), 3)", "RangeError", "inputs must have length 12 (batch x inputSize = 3 x 4); received length 8"),
    ("model.predictBatch(new Float32Array(8), 0)", "RangeError", "batch must be a positive integer Number; received number 0"),
    ("model.predictBatch(new Float32Array(8), '2')", "RangeError", 'batch must be a positive integer Number; received string "2"'),
    ("model.predictBatch(new Int8Array(8), 2)", "TypeError", "inputs must be a Float32Array"),
    # A bad value is named by its index in the caller's array, whatever the array's type.
    ("model.predictBatch(new Float32Array([1, 2, 3, 4, 5, 6, NaN, 8]), 2)", "RangeError", "MiniModel.predictBatch: inputs[6] is NaN; expected a finite number"),
    ("model.predictBatch(new Float32Array([-Infinity, 2, 3, Infinity]), 1)", "RangeError", "MiniModel.predictBatch: inputs[0] is -Infinity; expected a finite number"),
    ("model.predictBatch(new Float32Array(4 * 70).fill(1).fill(Infinity, 257), 70)", "RangeError", "MiniModel.predictBatch: inputs[257] is Infinity"),
    ("model.predictBatch(new Float64Array([1, 2, 3, 4, 5, 1e39, 7, 8]), 2)", "RangeError", "MiniModel.predictBatch: inputs[5] = 1e+39 is outside the float32 range"),
    ("model.predictBatch([1, NaN, 3, 4], 1)", "RangeError", "MiniModel.predictBatch: inputs[1] is NaN; expected a finite number"),
    ("new mm.FeedForward(784)", "TypeError", "new FeedForward: sizes must be an Array of layer sizes; received number 784"),
    ("new mm.FeedForward([784])", "RangeError", "sizes must list at least 2 sizes"),
    ("new mm.FeedForward([784, 0, 10])", "RangeError", "sizes[1] must be a positive integer Number; received number 0"),
    ("new mm.FeedForward([100000, 100000])", "RangeError", "a 100000 x 100000 layer has 10000000000 weights"),
    ("{ const n = new mm.FeedForward([4, 3, 2]); try { n.loadLayer(2, new Float32Array(6)); } finally { n.dispose(); } }", "RangeError", "FeedForward.loadLayer: index must be an integer from 0 to 1; received number 2"),
    ("{ const n = new mm.FeedForward([4, 3, 2]); try { n.loadLayer(1, new Float32Array(5)); } finally { n.dispose(); } }", "RangeError", "weights must have length 6 (sizes[2] x sizes[1] = 2 x 3); received length 5"),
    ("{ const n = new mm.FeedForward([4, 2]); n.dispose(); n.predict([1, 2, 3, 4]); }", "Error", "FeedForward.predict: this model has been disposed"),
    ("new mm.EmbeddingIndex(0)", "RangeError", "new EmbeddingIndex: dim must be a positive integer Number; received number 0"),
    ("{ const i = new mm.EmbeddingIndex(4); try { i.add(new Float32Array(6)); } finally { i.dispose(); } }", "RangeError", "EmbeddingIndex.add: vectors must hold whole rows of 4 values (dim); received length 6, not a multiple of 4"),
    ("{ const i = new mm.EmbeddingIndex(4); try { i.add([1, 2, NaN, 4]); } finally { i.dispose(); } }", "RangeError", "vectors[2] is NaN"),
    ("{ const i = new mm.EmbeddingIndex(4); try { i.search([1, 2, 3], 1); } finally { i.dispose(); } }", "RangeError", "query must have length 4 (the index's dim); received length 3"),
    ("{ const i = new mm.EmbeddingIndex(4); try { i.search([1, 2, 3, 4], 0); } finally { i.dispose(); } }", "RangeError", "k must be a positive integer Number; received number 0"),
    ("{ const i = new mm.EmbeddingIndex(4); try { i.search([1, 2, 3, 4], 2.5); } finally { i.dispose(); } }", "RangeError", "received number 2.5"),
    ("{ const i = new mm.EmbeddingIndex(4); i.dispose(); i.size; }", "Error", "EmbeddingIndex.size: this index has been disposed"),
    ("mm.normalizeRows([1, 2, 3], 2)", "RangeError", "normalizeRows: vectors must hold whole rows of 2 values (dim); received length 3"),
    ("mm.normalizeRows([1, 2], -2)", "RangeError", "dim must be a positive integer Number; received number -2"),
]


@pytest.mark.parametrize(("expr", "error", "message"), BAD_CALLS, ids=[c[0][:60] for c in BAD_CALLS])
def test_bad_input_gives_clear_error(api, expr, error, message):
    got = api.evaluate(ERROR_JS % expr)
    assert got is not None, f"{expr} did not throw"
    assert got["name"] == error, got["message"]
    assert message in got["message"]
    assert "Traceback" not in got["message"]


def test_failed_add_adds_nothing_and_search_on_empty_index(api):
    got = api.evaluate(
        """() => {
          const i = new mm.EmbeddingIndex(2);
          try {
            const empty = i.search([1, 0], 5);
            try { i.add([1, 0, NaN, 1]); } catch (e) {}
            const sizeAfterFailure = i.size;
            i.add([0, 1]);
            return { empty: [empty.indices.length, empty.scores.length], sizeAfterFailure, size: i.size };
          } finally { i.dispose(); }
        }"""
    )
    assert got == {"empty": [0, 0], "sizeAfterFailure": 0, "size": 1}
