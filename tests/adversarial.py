"""Adversarial test data for search and products, made identically in numpy and in the
browser, and the float64 references the results are judged by.

The browser cannot be handed 90 MB of vectors quickly, so both sides generate them from a
counter-based hash (every value depends only on the seed and its position) with integer
and correctly rounded float operations only: ``JS_GENERATOR`` is the same code in
JavaScript, and the tests compare a SHA-256 of both sides' bytes before trusting them.

Kinds of rows (the distributions that broke the bfloat16 search once):
  normal      sums of four uniforms, centred and scaled to variance 1 (Irwin-Hall);
  nonneg      squares of those (like tf-idf or counts: every score positive, close);
  clustered   near-duplicates: 17 centres plus noise of 1e-3;
  ties        only 23 distinct rows, repeated: exact ties everywhere;
  zeros       normal, with every 7th row all zeros.
Planted queries are a row plus noise of the same scale, so the true top k are close.
"""

from __future__ import annotations

import hashlib

import numpy as np

KINDS = ("normal", "nonneg", "clustered", "ties", "zeros")
_SQRT3 = float(np.sqrt(3.0))


def _hash(counter: np.ndarray, seed: int) -> np.ndarray:
    """A 32-bit integer hash (lowbias32) of counter + seed * golden ratio."""
    h = (counter.astype(np.uint32) + np.uint32((seed * 0x9E3779B9) & 0xFFFFFFFF)).astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x7FEB352D)
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x846CA68B)
    h ^= h >> np.uint32(16)
    return h


def _normal(count: int, seed: int) -> np.ndarray:
    """``count`` float32 values, roughly standard normal: (u1 + u2 + u3 + u4 - 2) * sqrt(3)."""
    counter = np.arange(count, dtype=np.uint64) * np.uint64(4)
    total = np.zeros(count, dtype=np.float64)
    for j in range(4):
        total += (_hash((counter + np.uint64(j)) & np.uint64(0xFFFFFFFF), seed).astype(np.float64) + 0.5) / 2.0**32
    return ((total - 2.0) * _SQRT3).astype(np.float32)


def rows(kind: str, n: int, dim: int, seed: int) -> np.ndarray:
    """``(n, dim)`` float32 rows of one of the KINDS."""
    if kind == "ties":
        base = _normal(23 * dim, seed).reshape(23, dim)
        return base[np.arange(n) % 23]
    values = _normal(n * dim, seed).reshape(n, dim)
    if kind == "nonneg":
        return values * values
    if kind == "clustered":
        centres = _normal(17 * dim, seed + 1).reshape(17, dim)
        return centres[np.arange(n) % 17] + np.float32(1e-3) * values
    if kind == "zeros":
        values[::7] = 0
        return values
    return values


def planted_queries(data: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Queries = a row of ``data`` (rows 0, 1 + n/count, ...) plus noise of the same scale."""
    picks = (np.arange(count) * (data.shape[0] // count + 1)) % data.shape[0]
    return data[picks] + _normal(count * data.shape[1], seed + 7).reshape(count, data.shape[1])


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, np.float32).tobytes()).hexdigest()


# The same generator in JavaScript: Math.imul and >>> 0 are the uint32 operations above,
# float64 sums of 32-bit fractions are exact, and Math.fround of a float64 sum or product of
# two float32 values equals the float32 operation (53 >= 2 * 24 + 2: no double rounding).
JS_GENERATOR = r"""
(() => {
  const SQRT3 = Math.sqrt(3);
  function hash(counter, seed) {
    let h = (counter + Math.imul(seed, 0x9E3779B9)) >>> 0;
    h ^= h >>> 16; h = Math.imul(h, 0x7FEB352D) >>> 0;
    h ^= h >>> 15; h = Math.imul(h, 0x846CA68B) >>> 0;
    h ^= h >>> 16;
    return h >>> 0;
  }
  function normal(count, seed) {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      let total = 0;
      for (let j = 0; j < 4; j++) total += (hash((i * 4 + j) >>> 0, seed) + 0.5) / 2 ** 32;
      out[i] = (total - 2) * SQRT3;
    }
    return out;
  }
  function rows(kind, n, dim, seed) {
    if (kind === "ties") {
      const base = normal(23 * dim, seed), out = new Float32Array(n * dim);
      for (let i = 0; i < n; i++) out.set(base.subarray((i % 23) * dim, (i % 23 + 1) * dim), i * dim);
      return out;
    }
    const values = normal(n * dim, seed);
    if (kind === "nonneg") for (let i = 0; i < values.length; i++) values[i] = values[i] * values[i];
    if (kind === "clustered") {
      const centres = normal(17 * dim, seed + 1), scale = Math.fround(1e-3);
      for (let i = 0; i < n; i++)
        for (let d = 0; d < dim; d++)
          values[i * dim + d] = centres[(i % 17) * dim + d] + Math.fround(scale * values[i * dim + d]);
    }
    if (kind === "zeros") for (let i = 0; i < n; i += 7) values.fill(0, i * dim, (i + 1) * dim);
    return values;
  }
  function plantedQueries(data, n, dim, count, seed) {
    const noise = normal(count * dim, seed + 7), out = new Float32Array(count * dim);
    for (let c = 0; c < count; c++) {
      const pick = (c * (Math.floor(n / count) + 1)) % n;
      for (let d = 0; d < dim; d++) out[c * dim + d] = data[pick * dim + d] + noise[c * dim + d];
    }
    return out;
  }
  async function sha256(array) {
    const digest = await crypto.subtle.digest("SHA-256", new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  return { rows, plantedQueries, sha256 };
})()
"""


def unit64(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm in float64 and rounded to float32 (what an index stores),
    returned as float64; zero rows stay zero."""
    wide = np.atleast_2d(vectors).astype(np.float64)
    norms = np.sqrt((wide * wide).sum(axis=1))
    norms[norms == 0] = 1
    return (wide / norms[:, None]).astype(np.float32).astype(np.float64)


class SearchReference:
    """A float64 scan of ``data`` (normalised once), by which search results are judged."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.unit_rows = unit64(data)
        self.abs_rows = np.abs(self.unit_rows)
        view = np.ascontiguousarray(data).view(np.dtype((np.void, data.dtype.itemsize * data.shape[1]))).ravel()
        _, self.group = np.unique(view, return_inverse=True)  # equal rows share a group

    def check(self, query: np.ndarray, k: int, indices, scores, where: str = "") -> None:
        """Rows may swap only where their scores tie to float32 rounding: every float32
        score is within err = (dim/4 + 8) * 2**-24 * sum|q_i r_i| of the float64 one (the
        kernels sum dim/4 products per lane; numpy's path is correctly rounded; 4 more for
        normalising). Also: min(k, n) distinct results, scores non-increasing, equal scores
        in ascending index order, each score within err of the row's float64 score, and a
        returned row's identical earlier rows are returned too (equal rows tie exactly;
        ties go to the lower index).
        """
        indices = np.asarray(indices, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float32)
        n, dim = self.data.shape
        label = f"{where} k={k} n={n} dim={dim}"
        assert len(indices) == min(k, n) == len(scores), f"{label}: {len(indices)} results"
        assert len(set(indices.tolist())) == len(indices), f"{label}: repeated rows"
        q = unit64(query)[0]
        exact = self.unit_rows @ q
        err = (dim / 4 + 8) * 2.0**-24 * (self.abs_rows @ np.abs(q)) + 1e-30
        got_exact = exact[indices]
        off = np.abs(scores.astype(np.float64) - got_exact)
        assert np.all(off <= err[indices]), f"{label}: a score is off its float64 value by {off.max():.3g}"
        steps = np.diff(scores.astype(np.float64))
        assert np.all(steps <= 0), f"{label}: scores increase"
        assert np.all(np.diff(indices)[steps == 0] > 0), f"{label}: equal scores not in index order"
        kept = np.zeros(n, dtype=bool)
        kept[indices] = True
        if len(indices) < n:
            # The best row left out may beat the worst row kept only by rounding.
            left = np.flatnonzero(~kept)
            best_left = left[np.argmax(exact[left] - err[left])]
            assert exact[best_left] - err[best_left] <= np.min(got_exact + err[indices]), (
                f"{label}: row {best_left} (float64 score {exact[best_left]:.6f}) belongs in the top {k}; "
                f"the last kept scores {np.min(got_exact):.6f}"
            )
        for i in indices.tolist():
            earlier = np.flatnonzero(self.group[:i] == self.group[i])
            assert kept[earlier].all(), f"{label}: row {i} returned but not its identical row(s) {earlier[~kept[earlier]]}"


def check_search(data: np.ndarray, query: np.ndarray, k: int, indices, scores, where: str = "") -> None:
    """``SearchReference(data).check(...)`` for one query."""
    SearchReference(data).check(query, k, indices, scores, where)
