"""predict_batch, FeedForward, EmbeddingIndex and normalize_rows in CPython, with numpy
alone and with the compiled kernels, against float64 references."""

from __future__ import annotations

import numpy as np
import pytest

from minimodel import EmbeddingIndex, FeedForward, MiniModel, normalize_rows
from references import f64, reference_network, reference_search, scaled_layers
from minimodel.jsbridge import IndexSession, ModelSession, inputs, normalize_scratch, outputs

pytestmark = pytest.mark.usefixtures("backend")


@pytest.mark.parametrize("batch", [1, 3, 4, 5, 17])
@pytest.mark.parametrize("shape", [(1, 1), (7, 9), (128, 10), (33, 8)])
def test_minimodel_predict_batch_matches_rows(batch, shape):
    in_size, out_size = shape
    rng = np.random.default_rng(batch * 100 + in_size)
    model = MiniModel(in_size, out_size)
    w = rng.standard_normal((out_size, in_size)).astype(np.float32)
    b = rng.standard_normal(out_size).astype(np.float32)
    model.load_weights(w, b)
    x = rng.standard_normal((batch, in_size)).astype(np.float32)
    got = model.predict_batch(x.ravel(), batch)
    assert got.shape == (batch, out_size) and got.dtype == np.float32
    expected = np.maximum(f64(x) @ f64(w).T + f64(b), 0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.sqrt(in_size))
    np.testing.assert_allclose(model.predict_batch(x), got, rtol=0, atol=0)  # 2-D form, same numbers
    for i in range(batch):
        np.testing.assert_allclose(model.predict(x[i]), got[i], rtol=1e-5, atol=1e-5 * np.sqrt(in_size))


@pytest.mark.parametrize("sizes", [[784, 256, 10], [3, 1], [5, 7, 6, 2], [64, 32, 10]])
def test_feed_forward_matches_reference(sizes):
    net = FeedForward(sizes)
    layers = scaled_layers(sizes, len(sizes))
    for i, (w, b) in enumerate(layers):
        net.load_layer(i, w.ravel(), b)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, sizes[0])).astype(np.float32)
    expected = reference_network(layers, x)
    tol = dict(rtol=1e-4, atol=1e-5 * np.sqrt(max(sizes)))
    np.testing.assert_allclose(net.predict_batch(x), expected, **tol)
    np.testing.assert_allclose(net.predict(x[4]), expected[4], **tol)
    # no ReLU after the last layer: some outputs are negative
    assert (expected < 0).any() or sizes[-1] < 2


def test_a_hidden_layer_that_overflows_is_an_overflow_error():
    """On both backends: the numpy path once tried to round the NaN exactly (a ValueError)."""
    net = FeedForward([2, 2, 1])
    net.load_layer(0, [[3e38, 3e38], [1, 1]])
    net.load_layer(1, [[0, 1]])
    with pytest.raises(OverflowError, match="overflows float32"):
        net.predict([3e38, 3e38])
    with pytest.raises(OverflowError, match="overflows float32"):
        net.predict_batch([[3e38, 3e38], [1, 1]])
    np.testing.assert_allclose(net.predict([1e-3, 1e-3]), [2e-3], rtol=1e-6)  # large but finite: fine


def test_feed_forward_defaults_and_errors():
    net = FeedForward([4, 3, 2])
    np.testing.assert_allclose(net.predict([1, 1, 1, 1]), [0.0012, 0.0012], rtol=1e-5)
    assert repr(net) == "FeedForward([4, 3, 2])" and net.input_size == 4 and net.output_size == 2
    with pytest.raises(IndexError, match="index must be between 0 and 1; received 2"):
        net.load_layer(2, np.ones(6))
    with pytest.raises(ValueError, match=r"weights must have 12 values \(3 x 4, row-major\); received 6"):
        net.load_layer(0, np.ones(6))
    with pytest.raises(TypeError, match="index must be an integer; received float 0.0"):
        net.load_layer(0.0, np.ones(12))
    with pytest.raises(ValueError, match="at least 2 sizes"):
        FeedForward([4])
    with pytest.raises(TypeError, match="sizes must be a list of layer sizes; received str"):
        FeedForward("4,2")
    with pytest.raises(ValueError, match=r"sizes\[1\] must be between 1"):
        FeedForward([4, 0, 2])
    with pytest.raises(ValueError, match="inputs must have 8 values \\(batch 2 x 4\\); received 7"):
        net.predict_batch(np.ones(7), 2)
    with pytest.raises(ValueError, match="whole number of rows of 4; received 7 values"):
        net.predict_batch(np.ones(7))


@pytest.mark.parametrize(("n", "dim", "k"), [(1, 1, 1), (10, 3, 4), (1000, 384, 10), (257, 17, 300), (50, 8, 50)])
def test_search_matches_reference(n, dim, k):
    rng = np.random.default_rng(n + dim)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    query = rng.standard_normal(dim).astype(np.float32)
    index = EmbeddingIndex(dim)
    index.add(vectors.ravel())
    indices, scores = index.search(query, k)
    want_indices, want_scores = reference_search(vectors, query, k)
    assert indices.dtype == np.int32 and scores.dtype == np.float32
    assert len(indices) == min(k, n)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    # the same set, in an order whose scores never increase
    assert np.all(np.diff(scores) <= 1e-6)
    assert set(indices.tolist()) == set(want_indices.tolist()) or np.allclose(
        np.sort(scores), np.sort(want_scores), atol=1e-5
    )


def test_search_ties_go_to_the_lower_index_and_zero_query_scores_zero():
    index = EmbeddingIndex(2)
    index.add([[1, 0], [0, 1], [2, 0], [1, 0], [0, 0], [-1, 0]])
    indices, scores = index.search([5, 0], 3)
    assert indices.tolist() == [0, 2, 3] and scores.tolist() == [1, 1, 1]
    indices, scores = index.search([0, 0], 4)
    assert indices.tolist() == [0, 1, 2, 3] and scores.tolist() == [0, 0, 0, 0]
    indices, scores = index.search([-1, 0], 100)
    assert len(indices) == 6 and indices[0] == 5 and indices[-1] in (0, 2, 3)


def test_adding_in_parts_equals_adding_once():
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((100, 16)).astype(np.float32)
    query = rng.standard_normal(16).astype(np.float32)
    once, parts = EmbeddingIndex(16), EmbeddingIndex(16)
    once.add(vectors)
    for chunk in np.array_split(vectors, [1, 2, 30, 31, 99]):
        parts.add(chunk)
    assert once.size == parts.size == 100
    np.testing.assert_array_equal(once.rows, parts.rows)
    for a, b in zip(once.search(query, 10), parts.search(query, 10), strict=True):
        np.testing.assert_array_equal(a, b)


def test_index_errors():
    index = EmbeddingIndex(4)
    with pytest.raises(ValueError, match="whole number of rows of 4; received 6 values"):
        index.add(np.ones(6))
    with pytest.raises(ValueError, match="query must have length 4; received length 3"):
        index.search([1, 2, 3], 1)
    with pytest.raises(ValueError, match="k must be between 1"):
        index.search([1, 2, 3, 4], 0)
    with pytest.raises(TypeError, match="k must be a positive integer; received float 2.5"):
        index.search([1, 2, 3, 4], 2.5)
    with pytest.raises(ValueError, match=r"vectors\[0, 1\] is nan"):
        index.add([[1, np.nan, 0, 0]])
    assert index.size == 0
    assert [len(a) for a in index.search([1, 0, 0, 0], 5)] == [0, 0]


def test_normalize_rows():
    got = normalize_rows(np.array([[3, 4], [0, 0], [1e30, 1e30], [1e-30, 0]], np.float32))
    np.testing.assert_allclose(got, [[0.6, 0.8], [0, 0], [2**-0.5, 2**-0.5], [1, 0]], rtol=1e-6)
    assert got.dtype == np.float32
    np.testing.assert_allclose(normalize_rows([3, 4, 0, 5], dim=2), [[0.6, 0.8], [0, 1]], rtol=1e-7)
    with pytest.raises(ValueError, match="vectors must be 2-D, or flat with dim given"):
        normalize_rows([1, 2, 3])


def test_bridge_sessions_use_their_buffers():
    session = ModelSession.feed_forward(3, 2, 1)
    session.load_layer(0, np.array([1, 0, 0, 0, 1, 0], np.float32), np.array([0, -10], np.float32))
    session.load_layer(1, np.array([1, 1], np.float32), np.array([0.5], np.float32))
    session.x[:] = [1, 2, 3]
    session.predict()
    np.testing.assert_array_equal(session.y, [1.5])
    inputs.reserve(6)
    outputs.reserve(2)
    inputs.array[:6] = [1, 2, 3, 20, 20, 0]
    session.predict_batch(2)
    np.testing.assert_array_equal(outputs.array[:2], [1.5, 30.5])

    index = IndexSession(2)
    index.add(np.array([1, 0, 0, 1, 1, 1], np.float32), 3)
    index.reserve_results(2)
    index.query[:] = [0, 3]
    assert index.search(2) == 2
    assert index.indices[:2].tolist() == [1, 2]

    inputs.array[:4] = [3, 4, 0, 0]
    normalize_scratch(4, 2)
    np.testing.assert_allclose(outputs.array[:4], [0.6, 0.8, 0, 0], rtol=1e-6)


def test_bfloat16_rounding():
    from minimodel.index import to_bfloat16

    values = np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-8, -2.0, 1 + 2**-7 + 2**-8, 3.0e38, 0.0, -0.0], np.float32)
    assert to_bfloat16(values).tolist() == [0x3F80, 0x3F80, 0x3F82, 0xC000, 0x3F82, 0x7F62, 0x0000, 0x8000]


@pytest.mark.parametrize("layout", ["random", "clustered", "duplicates"])
def test_two_pass_search_equals_the_exact_scan(layout, backend):
    """The bfloat16 first pass (large indexes, with kernels) must not change any result."""
    from minimodel import _kernels
    from minimodel.index import _top_k

    rng = np.random.default_rng(len(layout))
    n, dim = 20_000, 64
    if layout == "random":
        rows = rng.standard_normal((n, dim))
    elif layout == "clustered":  # many near-ties around a few centres
        centres = rng.standard_normal((5, dim))
        rows = centres[rng.integers(0, 5, n)] + 1e-3 * rng.standard_normal((n, dim))
    else:  # exact duplicates: ties must go to the lower index
        rows = np.repeat(rng.standard_normal((50, dim)), n // 50, axis=0)
    index = EmbeddingIndex(dim)
    index.add(rows.astype(np.float32))
    for query in [rows[123], rng.standard_normal(dim), np.zeros(dim)]:
        for k in (1, 10, 200):
            indices, scores = index.search(query.astype(np.float32), k)
            unit = normalize_rows(query.astype(np.float32)[None, :])[0]
            want_i, want_s = np.empty(k, np.int32), np.empty(k, np.float32)
            _top_k(_kernels.active(), index.rows, unit, want_i, want_s)
            np.testing.assert_array_equal(indices, want_i)
            np.testing.assert_array_equal(scores, want_s)
