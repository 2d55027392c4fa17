"""Matrix products whose every float32 result is the exact value, correctly rounded.

This is the numpy backend's GEMM (when no compiled kernel is loaded). numpy's float32
``matmul`` hands the work to BLAS, which sums in an order that depends on the shape of
the call: with OpenBLAS a row's outputs differ in the last bits between a batch of 1, 4
or 5 rows, and two equal rows of an index get different scores. A model's answer must not
depend on what else travels in its batch, and equal rows must tie exactly, so this module
computes results that depend on nothing but the row's own numbers:

    out[m, n] = float32 nearest to  sum_k X[m, k] * W[n, k] + bias[n]   (ties to even)

How, and why it is exact:
1. The sum is computed in float64 by BLAS, in whatever order BLAS likes. Every product of
   two float32 numbers is exact in float64 (24 + 24 significant bits <= 53), so for T
   terms summed in any order, with or without fused multiply-adds,
   |r - exact| <= gamma(T) * S with S = sum |terms| and gamma(T) = T*u / (1 - T*u),
   u = 2**-53 (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., 3.1).
   No product underflows (|x*w| >= 2**-298) and no sum overflows (<= 2**280).
2. S is computed the same way (with error gamma(T) * S itself), so with T <= 2**24,
   B = S_computed * (T + 2) * 2**-52 + |r| * 2**-52 bounds |r - exact| with room to
   absorb the rounding of r - B and r + B themselves.
3. Rounding float64 -> float32 is monotone, so if r - B and r + B round to the same
   float32 value, the exact value (between them) rounds to it as well.
4. Otherwise (the exact value lies within B of a rounding boundary: rare, but it happens
   with cancellation such as [1e8, 1, -1e8] . [1, 1, 1], and always for a sum that cancels
   to exactly 0) the element is summed by math.fsum, whose float64 result rounds to the
   right float32 unless it lies halfway between two (see _round_exact); then, or past
   float32's range, it is summed exactly in integers and rounded to float32 by comparing
   the candidates exactly.
A zero result is +0.0 (as the compiled kernel gives), so results compare bit for bit.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

#: Rows handled per step, bounding the float64 scratch memory.
_CHUNK_ROWS = 2048
#: The float32 overflow threshold: max + half an ulp (2**128 - 2**103) rounds to infinity.
_OVERFLOW = Fraction(2**128 - 2**103)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def rounded_matmul(x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """``out = x @ weights.T + bias``, each value the correctly rounded exact result.

    ``x`` float32 ``(M, K)`` (or ``(K,)``), ``weights`` float32 ``(N, K)``, ``bias``
    float32 ``(N,)`` or ``None``, ``out`` float32 ``(M, N)`` (or ``(N,)``); all finite.

    >>> x = np.array([[1e8, 1, -1e8]], np.float32); w = np.ones((1, 3), np.float32)
    >>> rounded_matmul(x, w, None, np.empty((1, 1), np.float32))  # float32 sums give 0 here
    array([[1.]], dtype=float32)
    """
    rows = x.reshape(-1, x.shape[-1])
    result = out.reshape(rows.shape[0], weights.shape[0])
    w64 = weights.astype(np.float64)
    w64_abs = np.abs(w64)
    b64 = None if bias is None else bias.astype(np.float64)
    terms = weights.shape[1] + (bias is not None)
    for start in range(0, rows.shape[0], _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS].astype(np.float64)
        r = chunk @ w64.T
        s = np.abs(chunk) @ w64_abs.T
        if b64 is not None:
            r += b64
            s += np.abs(b64)
        bound = s * ((terms + 2) * 2.0**-52) + np.abs(r) * 2.0**-52
        with np.errstate(over="ignore"):  # an overflow to infinity is the right rounding
            low = (r - bound).astype(np.float32)
            high = (r + bound).astype(np.float32)
        target = result[start : start + chunk.shape[0]]
        np.add(low, np.float32(0.0), out=target)  # +0.0, never -0.0
        # Non-finite sums (only from a non-finite input: a hidden layer that overflowed)
        # stay as they are, so the caller's finiteness check names the overflow.
        for m, n in zip(*np.nonzero((low != high) & np.isfinite(r))):
            target[m, n] = _round_exact(rows[start + m], weights[n], None if bias is None else bias[n])
    return out


def _round_exact(x: np.ndarray, w: np.ndarray, bias: np.float32 | None) -> np.float32:
    """The float32 nearest to ``x . w + bias`` computed exactly (ties to even).

    First through ``math.fsum``, 10-20x faster than the fractions below, which a sum that
    cancels to exactly 0 always needs (it sits on the float64 bound's fence): the products
    of two float32 are exact in float64 (24 + 24 bits), and fsum returns the float64
    nearest to their exact sum (with IEEE double arithmetic, as on x86-64, ARM64 and
    WebAssembly; CPython's docs warn only of x87's extended precision). Rounding that float64 f to float32 gives the exact sum's
    float32 rounding unless f is itself halfway between two float32 values: a halfway
    point (a float64) strictly between the exact sum and f would be a float64 nearer the
    sum than f is. So only a halfway f, or one past float32's range, takes the exact path.
    """
    terms = (x.astype(np.float64) * w.astype(np.float64)).tolist()  # exact products
    if bias is not None:
        terms.append(float(bias))
    nearest = math.fsum(terms)
    if abs(nearest) <= _FLOAT32_MAX and not _halfway_between_float32s(nearest):
        return np.float32(np.float32(nearest) + np.float32(0.0))
    exact = _exact_sum(terms)
    if abs(exact) >= _OVERFLOW:
        return np.float32(math.copysign(math.inf, exact))
    guess = np.float32(float(exact))  # within one float32 step of the answer
    candidates = [c for c in (np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf)))
                  if np.isfinite(c)]
    best = min(candidates, key=lambda c: (abs(Fraction(float(c)) - exact), int(c.view(np.uint32)) & 1))
    return np.float32(best + np.float32(0.0))


def _halfway_between_float32s(value: float) -> bool:
    """Whether a finite float64 lies exactly halfway between two adjacent float32 values."""
    rounded = np.float32(value)
    if float(rounded) == value:
        return False
    other = np.nextafter(rounded, np.float32(math.copysign(math.inf, value - float(rounded))))
    return (float(rounded) + float(other)) / 2 == value  # exact: two adjacent float32 in float64


def _exact_sum(values: list[float]) -> Fraction:
    """The exact sum of floats (as integers over a common power of two)."""
    total, scale = 0, 1100  # every float64 is an integer multiple of 2**-1074
    for value in values:
        numerator, denominator = value.as_integer_ratio()
        total += numerator << (scale - (denominator.bit_length() - 1))
    return Fraction(total, 1 << scale)
