"""Cosine similarity of two float32 vectors, computed safely in float64."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _kernels
from ._checks import as_vector


def cosine_similarity(a: Any, b: Any) -> float:
    """Cosine of the angle between ``a`` and ``b``, in ``[-1, 1]``.

    Both must be finite, of the same length >= 1. If either vector is all zeros the
    result is ``0.0`` (the convention of ``sklearn.metrics.pairwise.cosine_similarity``),
    never NaN. The sums run in float64, so float32 magnitudes from subnormals up to
    3.4e38 neither overflow nor underflow.

    >>> cosine_similarity([1, 0], [1, 1])
    0.7071067811865475
    >>> cosine_similarity([0, 0], [1, 1])
    0.0
    """
    va = as_vector(a, "a")
    vb = as_vector(b, "b")
    if va.shape[0] != vb.shape[0]:
        raise ValueError(
            f"a and b must have the same length; received lengths {va.shape[0]} and {vb.shape[0]}"
        )
    return _cosine(va, vb)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Unchecked: finite, C-contiguous float32 vectors of equal length >= 1."""
    kernels = _kernels.active()
    if kernels is not None:
        return kernels.cosine(a, b, a.shape[0])
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    # Every float32 squared, and any sum of up to 2**24 of them, fits float64
    # (3.4e38**2 * 2**24 ~ 2e84; the smallest subnormal squared ~ 2e-90), and so does
    # their product. One square root of aa * bb (not sqrt(aa) * sqrt(bb)) makes cos(a, a)
    # exactly 1: ab = aa = bb, and sqrt of a correctly rounded square is exact (mm_cosine).
    # The three sums use one algorithm (numpy's pairwise sum of exact products; BLAS's dot
    # may sum a, a and a, b differently), so for b = a they are equal.
    aa, bb = float((a64 * a64).sum()), float((b64 * b64).sum())
    if aa == 0.0 or bb == 0.0:
        return 0.0
    value = float((a64 * b64).sum()) / math.sqrt(aa * bb)
    return min(1.0, max(-1.0, value))


def softmax(logits: Any) -> np.ndarray:
    """Probabilities from logits: ``exp(z - max z) / sum(exp(z - max z))``, computed in
    float64 (no overflow for any float32 input), returned as float32 summing to 1.

    >>> softmax([1.0, 1.0]).tolist()
    [0.5, 0.5]
    """
    z = as_vector(logits, "logits").astype(np.float64)
    e = np.exp(z - z.max())
    return (e / e.sum()).astype(np.float32)
