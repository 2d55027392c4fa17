"""Optional compiled kernels (``kernels/minimodel_kernels.c``), called through ctypes.

In the browser the minimodel wheel carries ``libminimodel_kernels.so``, the C source compiled to a
WebAssembly SIMD side module; Pyodide loads it with the package and ``ctypes`` calls it
with pointers into numpy arrays (no copies). Elsewhere there is no such file and numpy
does the work. The kernels are a backend only: callers validate every argument and keep
ownership of every array; numpy stays the fallback and the reference.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

_DEFAULT_PATH = Path(__file__).with_name("libminimodel_kernels.so")

_p = ctypes.c_void_p
_i = ctypes.c_int


class Kernels:
    """The C functions of one loaded kernel library, with their ctypes signatures."""

    def __init__(self, path: str | os.PathLike) -> None:
        lib = ctypes.CDLL(str(path))
        self.path = str(path)
        self.packed_size = _sig(lib.mm_packed_size, ctypes.c_size_t, [_i, _i])
        self.pack = _sig(lib.mm_pack, None, [_p, _p, _i, _i])
        self.linear = _sig(lib.mm_linear, None, [_p, _p, _p, _p, _i, _i, _i, _i])
        self.cosine = _sig(lib.mm_cosine, ctypes.c_double, [_p, _p, _i])
        self.scores = _sig(lib.mm_scores, None, [_p, _p, _p, _i, _i])
        self.scores_bf16 = _sig(lib.mm_scores_bf16, None, [_p, _p, _p, _i, _i])
        self.topk = _sig(lib.mm_topk, None, [_p, _i, _i, _p, _p])


def _sig(fn, restype, argtypes):
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


def ptr(array: np.ndarray) -> int:
    """Address of a C-contiguous array's first element."""
    return array.__array_interface__["data"][0]


_active: Kernels | None = None


def active() -> Kernels | None:
    """The kernels in use, or ``None`` when numpy does the work."""
    return _active


def use(path: str | os.PathLike | None) -> Kernels | None:
    """Switch to the kernel library at ``path`` (``None``: numpy only). Returns it.

    Objects that cached kernel-specific data (packed weights) notice the switch.
    """
    global _active
    _active = Kernels(path) if path is not None else None
    return _active


def _load_default() -> None:
    if os.environ.get("MINIMODEL_KERNELS", "").lower() in ("0", "off", "numpy"):
        return
    if _DEFAULT_PATH.exists():
        try:
            use(_DEFAULT_PATH)
        except OSError:  # not loadable here (e.g. the wasm build on a native Python)
            pass


_load_default()
