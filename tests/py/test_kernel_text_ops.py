"""The text encoder's kernels alone, natively, against float64 references computed here
from their definitions (math.erf, a float64 softmax, a float64 LayerNorm), and the GEMM's
bias-and-activation step, which has a vector path for full panels of 8 outputs and a
per-value path for the last, partial panel: equal sums must come out as equal bits in
every column, every row path and every activation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from test_exactness import EVERY_GEMM_PATH

ACT_NONE, ACT_RELU, ACT_GELU = 0, 1, 2


@pytest.fixture(scope="module")
def kernels(native_kernels):
    from minimodel import _kernels

    return _kernels.Kernels(native_kernels)


def linear(kernels, x: np.ndarray, w: np.ndarray, b: np.ndarray, act: int) -> np.ndarray:
    (m, k), n = x.shape, w.shape[0]
    packed = np.empty(kernels.packed_size(k, n), np.float32)
    kernels.pack(np.ascontiguousarray(w, np.float32), packed, k, n)
    y = np.empty((m, n), np.float32)
    kernels.linear(np.ascontiguousarray(x, np.float32), packed, b.astype(np.float32), y, m, k, n, act)
    return y


def exact_gelu(x: np.ndarray) -> np.ndarray:
    return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])


def test_gelu_within_its_error_bound(kernels):
    """GELU through the GEMM (one input, weight 1, bias 0, so the sum is x itself) against
    0.5 x (1 + erf(x / sqrt 2)) in float64. Bound 3e-7 |x|: the erf approximation's 1.5e-7
    is 0.75e-7 |x| of the GELU, float32's rounding of its dozen operations at most about
    2e-7 |x| more (measured: 2.5e-7 |x| at worst over these 400,000 points). Takes every
    range of the exponential: 0, subnormal, underflow to 0 and saturation."""
    special = [0.0, -0.0, 1e-30, -1e-30, 1e-40, -1e-40, 1e10, -1e10, 3e38, -3e38, 6.0, -6.0, -13.2, -14.0]
    x = np.concatenate([np.linspace(-12, 12, 400_001), special]).astype(np.float32)
    got = linear(kernels, x[:, None], np.ones((1, 1)), np.zeros(1), ACT_GELU)[:, 0]
    error = np.abs(got.astype(np.float64) - exact_gelu(x))
    assert np.all(error <= 3e-7 * np.abs(x.astype(np.float64)))
    assert np.all(np.isfinite(got))
    big = np.abs(x) >= 1e10
    assert np.all(got[big] == np.where(x[big] > 0, x[big], 0))  # x itself, or a zero
    assert not got[x == 0].any() and np.signbit(got[x == np.float32(-1e-40)]).all()


def test_gelu_numpy_twin_within_the_same_bound():
    """text.gelu (what runs without the kernels) meets the same bound."""
    from minimodel.text import gelu

    x = np.linspace(-12, 12, 100_001).astype(np.float32)
    error = np.abs(gelu(x).astype(np.float64) - exact_gelu(x))
    assert np.all(error <= 3e-7 * np.abs(x.astype(np.float64)))


@pytest.mark.parametrize("act", [ACT_NONE, ACT_RELU, ACT_GELU])
def test_equal_sums_give_equal_bits_in_every_column(kernels, act):
    """Every output of a row has the same weights and bias, so the same sum: the bias,
    activation and overflow check must give the same bits whichever path stores it (full
    panel or the last partial one; 4-row blocks, pairs of panels, 1-3 rows left over)."""
    rng = np.random.default_rng(5)
    for m, k, n in EVERY_GEMM_PATH:
        x = (rng.standard_normal((m, k)) * 2).astype(np.float32)
        w = np.tile(rng.standard_normal(k).astype(np.float32), (n, 1))
        y = linear(kernels, x, w, np.full(n, -0.25), act)
        assert (y.view(np.uint32) == y[:, :1].view(np.uint32)).all(), f"{m} x {k} by {n}, act {act}"


@pytest.mark.parametrize("m, k, n", EVERY_GEMM_PATH)
def test_relu_and_overflow_on_every_path(kernels, m, k, n):
    """ReLU is max(sum + b, 0) with -0 kept, in every column; a sum that overflows float32
    comes out NaN with or without ReLU (never 0), so the caller's finiteness check sees it."""
    rng = np.random.default_rng(m * 1000 + n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    plain = linear(kernels, x, w, b, ACT_NONE)
    relu = linear(kernels, x, w, b, ACT_RELU)
    assert relu.tobytes() == np.where(plain < 0, np.float32(0), plain).tobytes()
    x[-1] = 3e38
    w[:, 0] = np.where(np.arange(n) % 2 == 0, 1e10, -1e10)  # +inf and -inf in turn
    for act in (ACT_NONE, ACT_RELU):
        y = linear(kernels, x, w, b, act)
        assert np.isnan(y[-1]).all(), f"act {act}"


@pytest.mark.parametrize("Dh", [8, 32, 36])
def test_attention_against_float64(kernels, Dh):
    """mm_attention against softmax(q k^T / sqrt(Dh)) v in float64, per text over its own
    tokens, with scores wide enough that some probabilities underflow to 0; padding rows
    are exactly 0. Tolerance 1e-6 of the values' scale: each output is a convex combination
    of values, computed in float32 with sums of at most L terms. The lengths take every
    remainder of the kernel's 4 keys at a time, and the head sizes both of its paths for the
    output (8 chunks of 4 at a time, MiniLM's 32; one chunk at a time) and the two together."""
    rng = np.random.default_rng(9)
    B, L, H = 7, 9, 3
    lengths = np.array([9, 4, 1, 0, 5, 6, 7], np.int32)
    qkv = rng.standard_normal((B, L, 3, H, Dh)).astype(np.float32)
    qkv[0, :, 0] *= 12  # query scale: scores spread over about +-100
    qkv[1, :, 1] *= 5
    qkv[6, :, 0] *= 9
    ctx = np.full((B, L, H, Dh), np.nan, np.float32)
    kernels.attention(qkv, lengths, ctx, np.empty(L, np.float32), B, L, H, Dh)
    for b in range(B):
        n = int(lengths[b])
        assert not ctx[b, n:].any() and not np.isnan(ctx[b, n:]).any()
        for h in range(H if n else 0):
            q, k, v = (qkv[b, :n, i, h].astype(np.float64) for i in range(3))
            scores = q @ k.T / math.sqrt(Dh)
            p = np.exp(scores - scores.max(axis=1, keepdims=True))
            expected = (p / p.sum(axis=1, keepdims=True)) @ v
            np.testing.assert_allclose(ctx[b, :n, h], expected, rtol=0, atol=1e-6 * max(1.0, np.abs(v).max()))


@pytest.mark.parametrize("Dh", [8, 32, 36])
def test_attention_is_the_same_alone_and_in_any_batch_on_adversarial_texts(kernels, Dh):
    """The attention kernel's side-by-side sums (4 keys, 8 output chunks) on adversarial
    texts: every key the same (all scores tie: the output is the values' mean), one key
    far ahead of the rest (every other probability underflows to 0), values near 1e30, and
    random ones; each text of each length from 1 to 13 (every remainder of 4 keys, up to
    three blocks) gives the same bits alone as at any position of a padded batch."""
    rng = np.random.default_rng(11)
    H, L = 2, 13

    def text(kind: str, n: int) -> np.ndarray:
        t = rng.standard_normal((n, 3, H, Dh)).astype(np.float32)
        if kind == "ties":
            t[:, 1] = t[0, 1]
        elif kind == "one ahead":  # every query's score for key n // 2 is 100 sqrt(Dh) or more
            t[:, 0] = 20  # above the others' (sd 20) by more than float32's exp can reach
            t[n // 2, 1] = 5
        elif kind == "huge":
            t[:, 2] *= np.float32(1e30)
        return t

    def attend(texts: list[np.ndarray], width: int) -> np.ndarray:
        qkv = np.zeros((len(texts), width, 3, H, Dh), np.float32)
        for b, t in enumerate(texts):
            qkv[b, : len(t)] = t
        ctx = np.full((len(texts), width, H, Dh), np.nan, np.float32)
        lengths = np.array([len(t) for t in texts], np.int32)
        kernels.attention(qkv, lengths, ctx, np.empty(width, np.float32), len(texts), width, H, Dh)
        return ctx

    texts = [text(kind, n) for kind in ("ties", "one ahead", "huge", "random") for n in range(1, L + 1)]
    batched = attend(texts, L)
    reversed_batch = attend(texts[::-1], L + 3)[::-1]  # other positions, more padding
    for b, t in enumerate(texts):
        alone = attend([t], len(t))[0]
        assert alone.tobytes() == batched[b, : len(t)].tobytes() == reversed_batch[b, : len(t)].tobytes(), b
        assert np.isfinite(alone).all()
    ties = batched[: L]
    for n in range(1, L + 1):  # all scores equal: every query gets the mean of the values
        mean = texts[n - 1][:, 2].astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(ties[n - 1, :n], np.broadcast_to(mean, (n, H, Dh)), rtol=0, atol=1e-6 * max(1.0, np.abs(mean).max()))
    for n in range(2, L + 1):  # one key ahead: every query copies its value
        t = texts[L + n - 1]
        assert np.array_equal(batched[L + n - 1, :n], np.broadcast_to(t[n // 2, 2], (n, H, Dh)))


def test_layernorm_against_float64(kernels):
    """mm_layernorm (of a row, and of the sum of two rows) against float64 LayerNorm of the
    same float32 input, on rows with a common offset (where a one-pass variance would
    cancel) and with a tiny spread. Bound, per row: the float32 mean and variance are sums
    of dim values in four lanes, each within (dim / 4 + 2) u of their size, which moves a
    normalised value by about that much times max|y| / sigma; gamma scales it, and the last
    multiply-add rounds once more."""
    rng = np.random.default_rng(3)
    rows, dim, u = 6, 384, 2.0**-24
    a = rng.standard_normal((rows, dim)).astype(np.float32)
    a[1] += 30
    a[2] *= 1e-3
    r = rng.standard_normal((rows, dim)).astype(np.float32)
    gamma = rng.standard_normal(dim).astype(np.float32)
    beta = rng.standard_normal(dim).astype(np.float32)
    for add in (0, 1):
        out = np.empty((rows, dim), np.float32)
        kernels.layernorm(a, r if add else a, gamma, beta, out, rows, dim, 1e-12, add)
        y = (a + r if add else a).astype(np.float64)  # the sum is float32 in the kernel too
        sigma = np.sqrt(y.var(axis=1, keepdims=True) + 1e-12)
        normalised = (y - y.mean(axis=1, keepdims=True)) / sigma
        expected = normalised * gamma + beta
        spread = np.abs(y).max(axis=1, keepdims=True) / sigma + np.abs(normalised)
        bound = (dim / 4 + 8) * u * spread * np.abs(gamma) + 4 * u * (np.abs(expected) + np.abs(beta))
        assert np.all(np.abs(out - expected) <= bound), f"add {add}"
