"""Cosine top-k search over embeddings (client-side retrieval), and row normalisation."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from . import _kernels
from ._exact import rounded_matmul
from ._checks import MAX_DIM, MAX_INDEX_VALUES, as_batch, as_vector, check_size, describe
from .weights import WeightsFileError, parse_safetensors, write_tensors

#: Rows normalised per step, bounding the float64 scratch memory to ~12 MiB at 384-d.
_CHUNK_ROWS = 4096
#: Up to this k, the kernel's one-pass selection; above it, a stable sort of all scores.
_KERNEL_TOPK_MAX = 256
class IndexFileError(WeightsFileError):
    """Bytes that are not a saved EmbeddingIndex (``from_bytes``); the message says why."""


#: The ``format`` of a saved index (``to_bytes``), in its safetensors metadata.
INDEX_FORMAT = "minimodel.EmbeddingIndex"
#: From this many rows on, searches scan a bfloat16 copy first (half the bytes to read).
_BF16_MIN_ROWS = 4096


def bf16_score_error(dim: int) -> float:
    """A bound on |exact - approximate| scores of unit vectors of ``dim`` values, where the
    approximate score reads the rows rounded to bfloat16.

    With S = sum_i |q_i r_i| <= |q| |r| <= 1.0001 (Cauchy-Schwarz; float32 unit vectors
    have norms within 1e-6 of 1):
    - bfloat16 keeps 8 significant bits and rounds to nearest, so |r_i - bf16(r_i)| <=
      2**-8 |r_i| (subnormals lose less than 2**-133 absolutely), and the exact scores of
      the rounded and the true rows differ by at most 2**-8 * S;
    - each kernel sums dim/4 products per SIMD lane, then 3 adds across the lanes:
      float32 rounding adds at most (dim/4 + 3) * 2**-24 * S to each of the two scores.
    """
    return (2.0**-8 * (1 + 2.0**-8) + 2 * (dim // 4 + 4) * 2.0**-24) * 1.0001


def to_bfloat16(rows: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), rounded to nearest even. Values must be finite."""
    bits = rows.view(np.uint32)
    return ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)


def _bf16_query(unit_query: np.ndarray) -> np.ndarray:
    """The query reordered per block of 8 as (0, 2, 4, 6, 1, 3, 5, 7), as mm_scores_bf16 reads it."""
    blocks = unit_query.reshape(-1, 8)
    return np.ascontiguousarray(np.concatenate([blocks[:, 0::2], blocks[:, 1::2]], axis=1).ravel())


def normalize_rows_inplace(rows: np.ndarray) -> np.ndarray:
    """Scale each row of a float32 2-D array to unit L2 norm in place; zero rows stay zero.

    Norms are taken in float64, so rows of 1e30 or 1e-30 values normalise correctly:
    squares of float32 values neither overflow nor underflow there, the float64 norm is
    within a few 2**-53 of the exact one, and each quotient is rounded to float32 once, so
    every value is within half a float32 ulp (plus ~1e-15 relative) of the exact unit row.
    A row's result depends on nothing but the row (no summation crosses rows).
    """
    for start in range(0, rows.shape[0], _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS]
        wide = chunk.astype(np.float64)
        norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))
        norms[norms == 0.0] = 1.0
        wide /= norms[:, None]
        chunk[...] = wide
    return rows


def normalize_rows(vectors: Any, dim: int | None = None) -> np.ndarray:
    """Each row scaled to unit L2 norm, as a new float32 ``(n, dim)`` array; zero rows
    stay zero. ``vectors`` is 2-D, or flat row-major with ``dim``.

    >>> normalize_rows([3, 4, 0, 0], dim=2)
    array([[0.6, 0.8],
           [0. , 0. ]], dtype=float32)
    """
    if dim is None:
        array = np.asarray(vectors) if not isinstance(vectors, np.ndarray) else vectors
        if array.ndim != 2:
            raise ValueError(f"vectors must be 2-D, or flat with dim given; received {describe(vectors)}")
        dim = array.shape[1]
    dim = check_size(dim, "dim")
    rows = np.array(as_batch(vectors, "vectors", dim), copy=True)
    return normalize_rows_inplace(rows)


class EmbeddingIndex:
    """Cosine-similarity search over added vectors; rows are normalised once, on add.

    >>> index = EmbeddingIndex(2)
    >>> index.add([[1, 0], [0, 1], [1, 1]])
    >>> indices, scores = index.search([1, 0.1], k=2)
    >>> indices.tolist(), [round(float(s), 3) for s in scores]
    ([0, 2], [0.995, 0.774])
    """

    def __init__(self, dim: int) -> None:
        self.dim = check_size(dim, "dim")
        self._rows = np.zeros((0, self.dim), dtype=np.float32)
        # A bfloat16 copy lets a search read half the bytes, then rescore the few
        # candidates exactly (see search_into); for dims the kernel can read (multiples of 8).
        self._bf16 = self.dim % 8 == 0
        self._rows16 = np.zeros((0, self.dim), dtype=np.uint16)
        self._size = 0

    def __repr__(self) -> str:
        return f"EmbeddingIndex(dim={self.dim}, size={self._size})"

    @property
    def size(self) -> int:
        """Number of vectors added."""
        return self._size

    @property
    def rows(self) -> np.ndarray:
        """The normalised vectors, ``(size, dim)`` (a view: do not modify)."""
        return self._rows[: self._size]

    def reserve_rows(self, count: int) -> np.ndarray:
        """Make room for ``count`` more rows and return that (uninitialised) slot.

        Raises ``ValueError`` when the index would exceed ``MAX_INDEX_VALUES``.
        """
        needed = self._size + count
        if needed * self.dim > MAX_INDEX_VALUES:
            raise ValueError(
                f"the index would hold {needed:,} vectors of {self.dim} values; at most "
                f"{MAX_INDEX_VALUES // self.dim:,} fit ({MAX_INDEX_VALUES * 4 // 2**20} MiB)"
            )
        if needed > self._rows.shape[0]:
            capacity = min(max(needed, self._rows.shape[0] * 3 // 2), MAX_INDEX_VALUES // self.dim)
            grown = np.empty((capacity, self.dim), dtype=np.float32)
            grown[: self._size] = self._rows[: self._size]
            self._rows = grown
            if self._bf16:
                grown16 = np.empty((capacity, self.dim), dtype=np.uint16)
                grown16[: self._size] = self._rows16[: self._size]
                self._rows16 = grown16
        return self._rows[self._size : needed]

    def commit_rows(self, count: int, normalised: bool = False) -> None:
        """Normalise the ``count`` rows written into the slot from ``reserve_rows`` and keep
        them (``normalised``: they already are, as from_bytes checked)."""
        new_rows = self._rows[self._size : self._size + count]
        if not normalised:
            normalize_rows_inplace(new_rows)
        if self._bf16:
            for start in range(0, count, _CHUNK_ROWS):
                chunk = new_rows[start : start + _CHUNK_ROWS]
                self._rows16[self._size + start : self._size + start + chunk.shape[0]] = to_bfloat16(chunk)
        self._size += count

    def add(self, vectors: Any) -> None:
        """Add vectors: 2-D ``(n, dim)`` or flat row-major with a length that is a multiple of dim."""
        rows = as_batch(vectors, "vectors", self.dim)
        slot = self.reserve_rows(rows.shape[0])
        slot[...] = rows
        self.commit_rows(rows.shape[0])

    def to_bytes(self) -> bytes:
        """The index as a ``.safetensors`` file: one F32 tensor ``vectors`` ``[size, dim]`` of
        the normalised rows, and ``__metadata__`` {"format": "minimodel.EmbeddingIndex",
        "version": "1", "dim": "<dim>"}. ``from_bytes`` gives an index whose searches return
        exactly the same results.

        >>> index = EmbeddingIndex(2); index.add([[3, 4]])
        >>> EmbeddingIndex.from_bytes(index.to_bytes()).rows.tolist()
        [[0.6000000238418579, 0.800000011920929]]
        """
        return write_tensors({"vectors": self.rows}, {"format": INDEX_FORMAT, "version": "1", "dim": str(self.dim)})

    @classmethod
    def from_bytes(cls, data: Any) -> EmbeddingIndex:
        """An index from ``to_bytes``'s format, checked strictly: a hostile or damaged file
        (wrong format, dim or shape, values that are not finite or rows that are not unit
        vectors) raises ``IndexFileError`` saying what is wrong, and nothing is made."""

        try:
            tensors, metadata = parse_safetensors(data, max_values=MAX_INDEX_VALUES)
        except WeightsFileError as err:
            raise IndexFileError(str(err)) from None
        if metadata.get("format") != INDEX_FORMAT:
            raise IndexFileError(f"not a saved EmbeddingIndex: __metadata__ format is {metadata.get('format')!r}, "
                                   f"expected {INDEX_FORMAT!r}")
        if metadata.get("version") != "1":
            raise IndexFileError(f"saved EmbeddingIndex version {metadata.get('version')!r} is not supported (1)")
        if set(tensors) != {"vectors"}:
            raise IndexFileError(f"a saved EmbeddingIndex holds one tensor 'vectors'; this file has {sorted(tensors)}")
        vectors = tensors["vectors"]
        dim_text = metadata.get("dim", "")
        # ASCII digits only: str.isdigit() also takes "²" and other digits int() refuses.
        if (vectors.ndim != 2 or not re.fullmatch(r"[0-9]{1,9}", dim_text) or int(dim_text) != vectors.shape[1]
                or not 1 <= vectors.shape[1] <= MAX_DIM):
            raise IndexFileError(f"'vectors' has shape {list(vectors.shape)} but the metadata gives dim {dim_text!r}")
        for start in range(0, vectors.shape[0], _CHUNK_ROWS):  # in chunks: a float64 copy of a chunk, not of the file
            chunk = vectors[start : start + _CHUNK_ROWS].astype(np.float64)
            norms = np.sqrt(np.einsum("ij,ij->i", chunk, chunk))
            bad = np.flatnonzero((np.abs(norms - 1) > 1e-5) & (norms != 0))
            if bad.size:
                raise IndexFileError(f"row {start + int(bad[0])} of 'vectors' has norm {norms[bad[0]]:.6g}; a saved "
                                     "index holds unit (or zero) rows")
        index = cls(vectors.shape[1])
        index.reserve_rows(vectors.shape[0])[...] = vectors
        index.commit_rows(vectors.shape[0], normalised=True)
        return index

    def search(self, query: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar vectors (``min(k, size)`` of them), best first; ties go
        to the lower index. Returns ``(indices int32, scores float32)``. A zero query
        scores 0 against everything."""
        q = normalize_rows(as_vector(query, "query", self.dim)[None, :])[0]
        k = check_size(k, "k")
        count = min(k, self._size)
        indices = np.empty(count, dtype=np.int32)
        scores = np.empty(count, dtype=np.float32)
        self.search_into(q, indices, scores)
        return indices, scores

    def search_into(self, unit_query: np.ndarray, indices: np.ndarray, scores: np.ndarray) -> None:
        """Unchecked: top ``len(indices)`` (<= size) for a normalised float32 query."""
        count = indices.shape[0]
        if count == 0:
            return
        kernels = _kernels.active()
        rows = self._rows[: self._size]
        if kernels is not None and self._bf16 and self._size >= _BF16_MIN_ROWS and count <= _KERNEL_TOPK_MAX:
            if self._search_bf16(kernels, unit_query, indices, scores):
                return
        _top_k(kernels, rows, unit_query, indices, scores)

    def _search_bf16(self, kernels: _kernels.Kernels, unit_query: np.ndarray, indices: np.ndarray,
                     scores: np.ndarray) -> bool:
        """Exact top-k in two passes: approximate scores from the bfloat16 copy, then
        exact float32 scores for every row that could still be in the top k.

        Why the result is exactly the full float32 scan's: let e = bf16_score_error(dim)
        bound |exact - approximate| and t be the k-th best approximate score. A row whose
        approximate score is below t - 2e has exact score < t - e, while the k rows with
        approximate scores >= t have exact scores >= t - e: k rows are strictly better, so
        it cannot be in the top k, and it cannot tie with the k-th either. Every other
        row is rescored with mm_scores, the very arithmetic of the full scan (a row's
        score does not depend on its position), and selected with the same tie rule.
        Returns False (the caller scans exactly) if too many rows remain.
        """
        count, size = indices.shape[0], self._size
        approx = np.empty(size, dtype=np.float32)
        kernels.scores_bf16(self._rows16, _bf16_query(unit_query), approx, size, self.dim)
        best_index = np.empty(count, dtype=np.int32)
        best_score = np.empty(count, dtype=np.float32)
        kernels.topk(approx, size, count, best_index, best_score)
        threshold = float(best_score[-1]) - 2 * bf16_score_error(self.dim)  # in float64: not rounded up
        candidates = np.flatnonzero(approx >= threshold)
        if candidates.shape[0] > size // 8:
            return False
        local_indices = np.empty(count, dtype=np.int32)
        _top_k(kernels, self._rows[candidates], unit_query, local_indices, scores)
        indices[:] = candidates[local_indices]  # candidates ascend: ties still go to the lower index
        return True


def _top_k(kernels: _kernels.Kernels | None, rows: np.ndarray, unit_query: np.ndarray,
           indices: np.ndarray, scores: np.ndarray) -> None:
    """Exact float32 scores of every row, and the best len(indices) of them (ties: lower
    index first). A row's score depends only on the row and the query, never on where the
    row sits, so equal rows tie exactly: mm_scores gives every row the same arithmetic,
    and numpy's path gives the correctly rounded exact dot product (_exact.py)."""
    count, n = indices.shape[0], rows.shape[0]
    all_scores = np.empty(n, dtype=np.float32)
    if kernels is not None:
        kernels.scores(rows, unit_query, all_scores, n, rows.shape[1])
    else:
        rounded_matmul(rows, unit_query[None, :], None, all_scores)
    if kernels is not None and count <= _KERNEL_TOPK_MAX:
        kernels.topk(all_scores, n, count, indices, scores)
    else:
        order = np.argsort(-all_scores, kind="stable")[:count]
        indices[:] = order
        scores[:] = all_scores[order]
