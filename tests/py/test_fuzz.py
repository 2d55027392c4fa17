"""Property-based tests (hypothesis) of the Python package: random shapes and values,
every result against a float64 reference, non-finite input always rejected. Each runs
with numpy alone and with the compiled kernels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minimodel import EmbeddingIndex, FeedForward, MiniModel, cosine_similarity, normalize_rows

pytestmark = pytest.mark.usefixtures("backend")

FLT_MAX = float(np.finfo(np.float32).max)
EPS = float(np.finfo(np.float32).eps)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Every float32: +-0, subnormals, 1e+-38, the largest; plus a bias towards the edges.
edge = st.sampled_from([0.0, -0.0, 1e-45, -1e-45, 1.2e-38, 1e-38, -1e-38, 1e38, -1e38, 3.4e38, 1.0, -1.0])
finite32 = st.one_of(edge, st.floats(width=32, allow_nan=False, allow_infinity=False))
moderate = st.floats(min_value=-1e3, max_value=1e3, width=32)


def vectors(n, elements=finite32):
    return hnp.arrays(np.float32, n, elements=elements)


@st.composite
def linear_case(draw, elements=finite32):
    n_in = draw(st.integers(1, 512))
    n_out = draw(st.integers(1, 16))
    w = draw(hnp.arrays(np.float32, (n_out, n_in), elements=elements))
    b = draw(vectors(n_out, elements))
    x = draw(vectors(n_in, elements))
    return w, b, x


def check_linear(w, b, x, got_or_error):
    w64, b64, x64 = (a.astype(np.float64) for a in (w, b, x))
    ref = np.maximum(w64 @ x64 + b64, 0)
    magnitude = np.abs(w64) @ np.abs(x64) + np.abs(b64)  # bounds every partial sum
    if isinstance(got_or_error, OverflowError):
        assert magnitude.max() > FLT_MAX / 4, "overflow reported where nothing can overflow"
        return
    tolerance = 2 * (w.shape[1] + 2) * EPS * magnitude + 1e-37
    assert np.all(np.abs(got_or_error.astype(np.float64) - ref) <= tolerance)


@SETTINGS
@given(linear_case())
def test_predict_is_close_to_float64_or_reports_overflow(case):
    w, b, x = case
    model = MiniModel(w.shape[1], w.shape[0])
    model.load_weights(w, b)
    try:
        got = model.predict(x)
    except OverflowError as err:
        got = err
    check_linear(w, b, x, got)


@SETTINGS
@given(linear_case(moderate), st.integers(1, 6))
def test_predict_batch_equals_reference(case, batch):
    w, b, x = case
    rows = np.stack([x * (i + 1) for i in range(batch)]).astype(np.float32)
    model = MiniModel(w.shape[1], w.shape[0])
    model.load_weights(w, b)
    got = model.predict_batch(rows)
    for i in range(batch):
        check_linear(w, b, rows[i], got[i])


@SETTINGS
@given(linear_case(), st.integers(0, 511), st.sampled_from([np.nan, np.inf, -np.inf]), st.sampled_from(["x", "weights", "bias"]))
def test_non_finite_values_are_always_rejected(case, position, bad, where):
    w, b, x = case
    model = MiniModel(w.shape[1], w.shape[0])
    target = {"x": x, "weights": w.ravel(), "bias": b}[where].copy()
    index = position % target.size
    target[index] = bad
    with pytest.raises(ValueError, match="expected a finite number") as info:
        if where == "x":
            model.predict(target)
        elif where == "weights":
            model.load_weights(target, b)
        else:
            model.load_weights(w, target)
    assert (f"[{index}]" in str(info.value)) or where == "weights"


@SETTINGS
@given(st.integers(1, 512).flatmap(lambda n: st.tuples(vectors(n), vectors(n))))
def test_cosine_against_float64(pair):
    a, b = pair
    got = cosine_similarity(a, b)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.sqrt(a64 @ a64), np.sqrt(b64 @ b64)
    assert -1.0 <= got <= 1.0
    if na == 0 or nb == 0:
        assert got == 0.0
    else:
        assert got == pytest.approx(float(np.clip((a64 / na) @ (b64 / nb), -1, 1)), abs=1e-9)


@SETTINGS
@given(
    st.integers(1, 64).flatmap(
        lambda dim: st.tuples(
            hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.just(dim)), elements=moderate),
            vectors(dim, moderate),
            st.integers(1, 50),
        )
    )
)
def test_search_returns_the_best_scores_in_order(case):
    rows, query, k = case
    index = EmbeddingIndex(rows.shape[1])
    index.add(rows)
    indices, scores = index.search(query, k)
    unit = normalize_rows(rows).astype(np.float64)
    q = normalize_rows(query[None, :])[0].astype(np.float64)
    exact = unit @ q
    want = np.sort(exact)[::-1][: min(k, len(rows))]
    assert len(indices) == len(want)
    np.testing.assert_allclose(scores, want, atol=1e-5)
    np.testing.assert_allclose(exact[indices], scores, atol=1e-5)
    assert len(set(indices.tolist())) == len(indices)


@SETTINGS
@given(st.lists(st.integers(1, 24), min_size=2, max_size=4), st.data())
def test_feed_forward_against_float64(sizes, data):
    net = FeedForward(sizes)
    layers = []
    for i in range(len(sizes) - 1):
        w = data.draw(hnp.arrays(np.float32, (sizes[i + 1], sizes[i]), elements=moderate))
        b = data.draw(vectors(sizes[i + 1], moderate))
        net.load_layer(i, w, b)
        layers.append((w.astype(np.float64), b.astype(np.float64)))
    x = data.draw(vectors(sizes[0], moderate))
    h, bound = x.astype(np.float64), np.abs(x.astype(np.float64))
    for i, (w, b) in enumerate(layers):
        h = w @ h + b
        bound = np.abs(w) @ bound + np.abs(b)
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    got = net.predict(x).astype(np.float64)
    assert np.all(np.abs(got - h) <= 4 * (max(sizes) + 2) * len(sizes) * EPS * bound + 1e-30)
