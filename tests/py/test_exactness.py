"""The fast paths against slow references on adversarial data, in CPython, with numpy
alone and with the C kernels compiled natively behind the same code:

- search (bfloat16 first pass + exact rescoring, kernel top-k) against a float64 scan and
  against the exact float32 full scan, over distributions, dims, k and sizes around
  every threshold, rows added at once and in uneven parts;
- a row's prediction never depends on its batch (bit for bit);
- the numpy backend's products are the correctly rounded exact values;
- cosine(a, a) is exactly 1; normalisation and top-k selection against references.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adversarial import KINDS, check_search, planted_queries, rows
from minimodel import EmbeddingIndex, FeedForward, MiniModel, cosine_similarity, normalize_rows
from minimodel import _exact, _kernels
from minimodel.index import _BF16_MIN_ROWS, _KERNEL_TOPK_MAX, _top_k

pytestmark = pytest.mark.usefixtures("backend")

F32_MAX = float(np.finfo(np.float32).max)
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def add_in_parts(index: EmbeddingIndex, data: np.ndarray, parts: list[int]) -> None:
    """Add ``data`` in pieces of the given (uneven) sizes, the rest last."""
    start = 0
    for size in parts:
        if start + size >= data.shape[0]:
            break
        index.add(data[start : start + size].ravel())
        start += size
    if start < data.shape[0]:
        index.add(data[start:])


def exact_scan(index: EmbeddingIndex, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The slow reference: float32 scores of every row, no bfloat16 pass."""
    unit = normalize_rows(query[None, :])[0]
    count = min(k, index.size)
    indices, scores = np.empty(count, np.int32), np.empty(count, np.float32)
    _top_k(_kernels.active(), index.rows, unit, indices, scores)
    return indices, scores


def assert_search_exact(index: EmbeddingIndex, data: np.ndarray, query: np.ndarray, k: int, where: str) -> None:
    indices, scores = index.search(query, k)
    check_search(data, query, k, indices, scores, where)
    want_indices, want_scores = exact_scan(index, query, k)
    np.testing.assert_array_equal(indices, want_indices, err_msg=f"{where}: differs from the exact scan")
    np.testing.assert_array_equal(scores, want_scores, err_msg=f"{where}: differs from the exact scan")


@pytest.mark.parametrize("kind", KINDS)
def test_planted_queries_around_the_thresholds(kind):
    """The issue's failing case, shrunk: dim 384, planted queries, k = 100 and 256 and
    beyond the kernel's top-k, sizes just under and over the bfloat16 threshold."""
    dim = 384
    data = rows(kind, 2 * _BF16_MIN_ROWS + 1, dim, seed=11)
    queries = planted_queries(data, 6, seed=12)
    for n in (_BF16_MIN_ROWS - 1, _BF16_MIN_ROWS, 2 * _BF16_MIN_ROWS + 1):
        index = EmbeddingIndex(dim)
        add_in_parts(index, data[:n], [1000, 3, n // 2])
        for k in (1, 10, 100, _KERNEL_TOPK_MAX, _KERNEL_TOPK_MAX + 1):
            for q in queries:
                assert_search_exact(index, data[:n], q, k, f"{kind} planted")


@SLOW
@given(
    kind=st.sampled_from(KINDS),
    dim=st.sampled_from([8, 16, 24, 100, 255, 256, 264, 384, 385]),
    n=st.sampled_from([1, 7, 300, _BF16_MIN_ROWS - 1, _BF16_MIN_ROWS, _BF16_MIN_ROWS + 5, 6000]),
    k=st.integers(1, 300),
    planted=st.booleans(),
    parts=st.lists(st.integers(1, 3000), max_size=3),
    seed=st.integers(0, 2**16),
)
def test_search_is_exact_property(kind, dim, n, k, planted, parts, seed):
    data = rows(kind, n, dim, seed)
    query = planted_queries(data, 1, seed + 1)[0] if planted else rows("normal", 1, dim, seed + 2)[0]
    index = EmbeddingIndex(dim)
    add_in_parts(index, data, parts)
    assert_search_exact(index, data, query, k, f"{kind} {'planted' if planted else 'random'} parts={parts}")


def test_zero_query_and_all_equal_rows():
    data = np.tile(np.arange(1, 9, dtype=np.float32), (_BF16_MIN_ROWS + 3, 1))
    index = EmbeddingIndex(8)
    index.add(data)
    indices, scores = index.search(np.zeros(8), 5)
    assert indices.tolist() == [0, 1, 2, 3, 4] and scores.tolist() == [0.0] * 5
    indices, scores = index.search(np.arange(1, 9), 300)
    assert indices.tolist() == list(range(300))  # every row ties: the lowest indices, in order
    assert len(set(scores.tolist())) == 1


def test_equal_rows_score_equally_wherever_they_sit():
    """A row's score must not depend on its position (else ties break the wrong way)."""
    base = rows("normal", 1, 384, 5)
    data = np.repeat(base, 10_003, axis=0)
    query = rows("normal", 1, 384, 6)[0]
    index = EmbeddingIndex(384)
    index.add(data)
    indices, scores = index.search(query, 50)
    assert indices.tolist() == list(range(50)) and len(set(scores.tolist())) == 1


# ------------------------------------------------------------------ products, bit for bit


def predictions_agree(model, x: np.ndarray) -> None:
    """predict(row) equals that row of every predict_batch it can travel in, bit for bit."""
    singles = np.stack([model.predict(row) for row in x])
    for batch in range(1, len(x) + 1):
        for start in range(0, len(x) - batch + 1):
            got = model.predict_batch(x[start : start + batch])
            assert got.tobytes() == singles[start : start + batch].tobytes(), (
                f"rows {start}..{start + batch - 1} as a batch of {batch} differ from predict"
            )


def test_the_issue_example_is_batch_independent(backend):
    model = MiniModel(3, 1)
    model.load_weights([1e8, 1, -1e8])
    x = np.ones((9, 3), np.float32)
    predictions_agree(model, x)
    # numpy's path gives the exact answer; float32 sums in k order give 1e8 + 1 = 1e8, then 0
    assert model.predict([1, 1, 1]).tolist() == ([1.0] if backend == "numpy" else [0.0])


@SLOW
@given(
    sizes=st.lists(st.integers(1, 40), min_size=2, max_size=4),
    rows_=st.integers(1, 9),
    scale=st.sampled_from([1.0, 1e4, 1e8]),
    seed=st.integers(0, 2**16),
)
def test_predictions_never_depend_on_the_batch(sizes, rows_, scale, seed):
    """Cancelling weights (+-scale next to small ones) make every summation order differ."""
    rng = np.random.default_rng(seed)
    net = FeedForward(sizes)
    for i in range(len(sizes) - 1):
        w = rng.standard_normal((sizes[i + 1], sizes[i])).astype(np.float32)
        w[:, ::2] *= np.float32(scale)
        net.load_layer(i, w, rng.standard_normal(sizes[i + 1]).astype(np.float32))
    x = rng.standard_normal((rows_, sizes[0])).astype(np.float32)
    predictions_agree(net, x)
    mini = MiniModel(sizes[0], sizes[-1])
    mini.load_weights(rng.standard_normal((sizes[-1], sizes[0])).astype(np.float32) * np.float32(scale))
    predictions_agree(mini, x)


def test_original_network_is_batch_independent():
    rng = np.random.default_rng(3)
    net = FeedForward([784, 256, 10])
    for i, (n_in, n_out) in enumerate([(784, 256), (256, 10)]):
        net.load_layer(i, rng.standard_normal((n_out, n_in)).astype(np.float32), rng.standard_normal(n_out).astype(np.float32))
    x = rng.standard_normal((6, 784)).astype(np.float32)
    predictions_agree(net, x)


@pytest.mark.parametrize("inputs", [784, 2048])
def test_batches_across_row_chunks_are_batch_independent(inputs):
    """mm_linear takes rows in chunks of about 128 KiB of inputs (40 rows of 784 values, 16
    of 2048): every batch size from 1 to 90, from two starting rows, crosses chunk
    boundaries at every offset and ends 0 to 3 rows into a chunk; each row must keep
    predict's bits. Cancelling weights make any other summation order visible."""
    rng = np.random.default_rng(inputs)
    net = FeedForward([inputs, 24, 3])
    for i, (n_in, n_out) in enumerate([(inputs, 24), (24, 3)]):
        w = rng.standard_normal((n_out, n_in)).astype(np.float32)
        w[:, ::2] *= np.float32(1e4)
        net.load_layer(i, w, rng.standard_normal(n_out).astype(np.float32))
    x = rng.standard_normal((93, inputs)).astype(np.float32)
    singles = np.stack([net.predict(row) for row in x])
    for start in (0, 3):
        for batch in range(1, 91):
            got = net.predict_batch(x[start : start + batch])
            assert got.tobytes() == singles[start : start + batch].tobytes(), f"rows {start}.. as a batch of {batch}"


# ------------------------------------------------------------------ the numpy backend's GEMM


def exact_rounded(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """float32 nearest to the exact x @ w.T + b, via Python fractions (independent of _exact)."""
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    for m in range(x.shape[0]):
        for n in range(w.shape[0]):
            value = sum((Fraction(float(a)) * Fraction(float(c)) for a, c in zip(x[m], w[n])), Fraction(0))
            if b is not None:
                value += Fraction(float(b[n]))
            guess = np.float32(float(value))
            near = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
            near = [c for c in near if np.isfinite(c)]
            out[m, n] = min(near, key=lambda c: (abs(Fraction(float(c)) - value), int(c.view(np.uint32)) & 1))
    return out + np.float32(0)


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 5), st.integers(1, 12), st.integers(1, 5)),
    scale=st.sampled_from([1.0, 1e-20, 1e8, 1e18]),
    seed=st.integers(0, 2**16),
    bias=st.booleans(),
)
def test_numpy_products_are_correctly_rounded(shape, scale, seed, bias):
    m, k, n = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = (rng.standard_normal((n, k)) * scale).astype(np.float32)
    # plant exact cancellations: a value and its negation, around small ones
    if k >= 3:
        w[:, 2] = -w[:, 0]
        x[:, 2] = x[:, 0]
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    got = _exact.rounded_matmul(x, w, b, np.empty((m, n), np.float32))
    assert got.tobytes() == exact_rounded(x, w, b).tobytes()


def test_ties_round_to_even():
    """0.01f * (10 + 20 + 30 + 40) lies exactly halfway between two float32 values."""
    x = np.array([[1, 2, 3, 4]], np.float32)
    w = np.full((1, 4), 0.01, np.float32)
    got = _exact.rounded_matmul(x, w, None, np.empty((1, 1), np.float32))
    assert got.tobytes() == exact_rounded(x, w, None).tobytes()
    assert got[0, 0] == np.float32(0.099999994)  # 13421772 * 2**-27, the even neighbour


def test_a_sum_whose_float64_is_halfway_between_float32s_is_rounded_exactly():
    """1 + 2**-24 + 2**-80: its float64 (fsum's answer) is 1 + 2**-24, halfway between the
    float32 values 1 and 1 + 2**-23, where ties-to-even would give 1; the exact sum lies
    above the halfway point, so it rounds up. A double-rounding trap for the fsum path."""
    x = np.array([[1.0, 2.0**-12, 2.0**-40]], np.float32)
    w = np.array([[1.0, 2.0**-12, 2.0**-40]], np.float32)
    got = _exact.rounded_matmul(x, w, None, np.empty((1, 1), np.float32))
    assert got.tobytes() == exact_rounded(x, w, None).tobytes()
    assert got[0, 0] == np.float32(1 + 2.0**-23)
    below = _exact.rounded_matmul(x, -w * [[1, 1, -1]], None, np.empty((1, 1), np.float32))  # -(1 + 2**-24 - 2**-80)
    assert below[0, 0] == np.float32(-1.0) and below.tobytes() == exact_rounded(x, -w * [[1, 1, -1]], None).tobytes()


@pytest.mark.parametrize("seed", range(6))
def test_the_fsum_path_is_exact_for_subnormal_and_huge_results(seed):
    """The fsum fast path against the fraction reference where its argument is thinnest:
    results in float32's subnormal range (products of 1e-22 values, some exactly halfway
    between two subnormals), and results near float32's largest values, with planted
    cancellations so that most elements reach it."""
    rng = np.random.default_rng(seed)
    for scale, k in ((1e-22, 12), (2.0**-75, 6), (2e18, 8)):
        x = (np.clip(rng.standard_normal((7, k)), -2.5, 2.5) * scale).astype(np.float32)
        w = (np.clip(rng.standard_normal((5, k)), -2.5, 2.5) * scale).astype(np.float32)
        if scale == 2.0**-75:  # powers of two: sums of 2**-150 multiples, ties between subnormals
            x = np.sign(x) * np.float32(scale)
            w = np.sign(w) * np.float32(scale) * rng.integers(1, 4, w.shape).astype(np.float32)
        w[:, 1] = -w[:, 0]
        x[:, 1] = x[:, 0]
        got = _exact.rounded_matmul(x, w, None, np.empty((7, 5), np.float32))
        assert got.tobytes() == exact_rounded(x, w, None).tobytes(), scale
    # Double-rounding traps at both ends: fsum's float64 lands exactly halfway (2**-150,
    # between 0 and the smallest subnormal; FLT_MAX - 2**103, between the two largest
    # floats) while the exact sum lies just above it.
    top = float(np.finfo(np.float32).max)
    for x, w, want in (([2.0**-75, 2.0**-105], [2.0**-75, 2.0**-105], 2.0**-149),
                       ([top, -(2.0**103), 2.0**20], [1.0, 1.0, 2.0**20], top)):
        x32, w32 = np.array([x], np.float32), np.array([w], np.float32)
        got = _exact.rounded_matmul(x32, w32, None, np.empty((1, 1), np.float32))
        assert got[0, 0] == np.float32(want) and got.tobytes() == exact_rounded(x32, w32, None).tobytes()


def test_sums_that_cancel_to_zero_take_the_fast_exact_path(monkeypatch):
    """Rows of +-1 against a query of +-1 cancel to exactly 0 often; each such element sits
    on the float64 bound's fence. fsum settles them: the fractions are never needed."""
    fractions = []
    monkeypatch.setattr(_exact, "_exact_sum", lambda terms: fractions.append(terms))
    rng = np.random.default_rng(5)
    x = rng.choice([-1.0, 1.0], (50, 64)).astype(np.float32)
    w = rng.choice([-1.0, 1.0], (30, 64)).astype(np.float32)
    got = _exact.rounded_matmul(x, w, None, np.empty((50, 30), np.float32))
    assert (got == 0).sum() > 50 and not fractions
    assert got.tobytes() == (x.astype(np.float64) @ w.T.astype(np.float64)).astype(np.float32).tobytes()


# (rows, inputs, outputs) that take every path of mm_linear: 4-row blocks, 1 to 3 rows left
# over, those rows with pairs of panels (16 outputs) and with a last single panel, N below 8,
# and a batch that spans two row chunks.
EVERY_GEMM_PATH = [(1, 1, 1), (1, 300, 7), (2, 5, 3), (2, 64, 33), (3, 17, 9), (4, 8, 8), (5, 100, 23), (6, 50, 16),
                   (7, 40, 48), (9, 784, 17), (10, 384, 40), (11, 20, 24), (13, 30, 24), (41, 784, 17)]


def test_kernel_gemm_within_its_error_bound():
    """The kernel's float32 sums against the exact values: |y - exact| <= K u sum|x w|,
    on every path of the kernel."""
    rng = np.random.default_rng(8)
    for m, k, n in EVERY_GEMM_PATH:
        layer = FeedForward([k, n])
        w = rng.standard_normal((n, k)).astype(np.float32)
        layer.load_layer(0, w, np.zeros(n, np.float32))
        x = rng.standard_normal((m, k)).astype(np.float32)
        got = layer.predict_batch(x).astype(np.float64)
        exact = x.astype(np.float64) @ w.astype(np.float64).T
        bound = (k + 1) * 2.0**-24 * (np.abs(x).astype(np.float64) @ np.abs(w).astype(np.float64).T)
        assert np.all(np.abs(got - exact) <= bound)


def test_kernel_sums_in_the_documented_order(native_kernels):
    """mm_linear's promise, checked bit for bit: every output is acc = 0; for k in order:
    acc = acc + x[k] * w[k] (each product and sum rounded to float32); then acc + b. numpy
    does the same float32 operations column by column here. Cancelling weights make any
    other order, split or fused multiply-add show, on every path of the kernel."""
    from minimodel import _kernels

    kernels = _kernels.Kernels(native_kernels)
    rng = np.random.default_rng(21)
    for m, k, n in EVERY_GEMM_PATH:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((n, k)).astype(np.float32)
        w[:, ::2] *= np.float32(1e4)
        b = rng.standard_normal(n).astype(np.float32)
        packed = np.empty(kernels.packed_size(k, n), np.float32)
        kernels.pack(w, packed, k, n)
        got = np.empty((m, n), np.float32)
        kernels.linear(x, packed, b, got, m, k, n, 0)
        acc = np.zeros((m, n), np.float32)
        for i in range(k):
            acc = acc + x[:, i : i + 1] * w[:, i]
        assert got.tobytes() == (acc + b).tobytes(), f"{m} x {k} by {n}"


# ------------------------------------------------------------------ cosine, normalisation, top-k


@pytest.mark.parametrize(
    "vector",
    [[1e30, 1e30], [-1e30, 1e30], [1e-30, -1e-30, 1e-30], [3e38, -3e38] * 192, [1e-45, 0, 1e-45], [0.1] * 385],
)
def test_cosine_of_a_vector_with_itself_is_exactly_one(vector):
    a = np.array(vector, np.float32)
    assert cosine_similarity(a, a) == 1.0
    assert cosine_similarity(a, -a) == -1.0
    scale = np.float32(0.5 if np.abs(a).max() > 1e38 else 2)  # a power of two: exact
    assert cosine_similarity(a, a * scale) == 1.0


@SLOW
@given(
    values=st.lists(st.floats(-F32_MAX, F32_MAX, allow_nan=False, width=32), min_size=1, max_size=64),
)
def test_cosine_self_similarity_property(values):
    a = np.array(values, np.float32)
    expected = 0.0 if not a.any() else 1.0
    assert cosine_similarity(a, a) == expected


def test_normalize_rows_against_float64():
    data = np.concatenate([rows(kind, 40, 33, 2) for kind in KINDS] + [np.full((1, 33), 1e-30, np.float32)])
    got = normalize_rows(data).astype(np.float64)
    want = data.astype(np.float64)
    norms = np.sqrt((want * want).sum(axis=1))
    want = np.divide(want, norms[:, None], out=np.zeros_like(want), where=norms[:, None] > 0)
    assert np.all(np.abs(got - want) <= 2.0**-24 * np.abs(want) + 1e-45)
    zero_rows = ~data.any(axis=1)
    assert zero_rows.any() and not got[zero_rows].any()


@settings(max_examples=50, deadline=None)
@given(
    scores=st.lists(st.integers(-3, 3), min_size=1, max_size=400),
    k=st.integers(1, 400),
)
def test_top_k_selection_with_many_ties(scores, k):
    """Selection (kernel insertion up to k = 256, numpy's stable sort above) against a
    stable sort, on scores with many exact ties: 1-d rows against the query [1]."""
    values = np.array(scores, np.float32)
    count = min(k, len(values))
    indices, got = np.empty(count, np.int32), np.empty(count, np.float32)
    _top_k(_kernels.active(), values[:, None], np.ones(1, np.float32), indices, got)
    order = np.argsort(-values, kind="stable")[:count]
    assert indices.tolist() == order.tolist()
    assert got.tolist() == values[order].tolist()
