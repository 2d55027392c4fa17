"""Optional compiled kernels (``kernels/minimodel_kernels.c``), called through ctypes.

In the browser the minimodel wheel carries ``libminimodel_kernels.so``, the C source compiled to a
WebAssembly SIMD side module; Pyodide loads it with the package and ``ctypes`` calls it
with pointers into numpy arrays (no copies). Elsewhere there is no such file and numpy
does the work. The kernels are a backend only: callers validate every argument and keep
ownership of every array; numpy stays the fallback and the reference.

Memory safety by construction: a kernel is called with the numpy arrays themselves, never
with addresses. ``Kernel.__call__`` turns each array into its address and holds the
arguments until the C function returns, so no kernel can read an array that was freed
before or during the call (passing ``ptr(temporary())`` did exactly that once: the
temporary was freed as soon as its address was taken, and the allocator overwrote it).
Each call also checks every array's dtype, contiguity, writability and length against
the kernel's declared signature. Hot paths that call the same kernel on the same buffers
many times ``bind`` them once: the bound call keeps its arrays alive for as long as it
exists. ``Pinned`` arrays cache their address, for per-call paths that cannot bind.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_DEFAULT_PATH = Path(__file__).with_name("libminimodel_kernels.so")
#: The browser build with relaxed SIMD (fused multiply-adds): loaded by the JS library when
#: the browser validates relaxed SIMD (Pyodide loads only the package's .so files itself).
RELAXED_PATH = Path(__file__).with_name("kernels_relaxed.wasm")
#: The kernel builds by name, as init({ kernels }) names them.
BUILDS = {"simd128": _DEFAULT_PATH, "relaxed-simd": RELAXED_PATH}

_F32 = np.dtype(np.float32)
_U16 = np.dtype(np.uint16)
_INTEGERS = (int, np.integer)
_I32 = np.dtype(np.int32)


def _address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


class Pinned:
    """A C-contiguous numpy array with its address and the facts a kernel call checks,
    taken once: in Pyodide a kernel call with plain arrays spends about 20 µs per array
    on them (``__array_interface__``, ``flags``), more than a small product takes.

    Holding the ``Pinned`` holds the array, so the address stays valid while it is used.
    The array must not be re-typed in place afterwards (``a.dtype = ...`` can change its
    size; nothing in the library does that to its buffers); its writability, which may be
    switched off, is read again at each call, as for a plain array.

    >>> p = Pinned(np.zeros(4, np.float32)); p.array.size
    4
    """

    __slots__ = ("array", "address", "dtype", "size")

    def __init__(self, array: np.ndarray) -> None:
        if type(array) is not np.ndarray or not array.flags.c_contiguous:
            raise ValueError("internal: a pinned array must be a C-contiguous numpy array")
        self.array = array
        self.address = _address(array)
        self.dtype = array.dtype
        self.size = array.size


class _Pointer:
    """A pointer parameter: the dtype it must have, whether the kernel writes through it,
    and how many elements it needs (a function of the call's integer arguments, in order)."""

    __slots__ = ("name", "dtype", "writes", "length")

    def __init__(self, name: str, dtype: np.dtype, writes: bool, length: Callable[..., int]) -> None:
        self.name, self.dtype, self.writes, self.length = name, dtype, writes, length

    def address(self, kernel: str, value: Any, ints: list[int]) -> int:
        if type(value) is Pinned:  # contiguous, dtype and size recorded when it was pinned
            if value.dtype != self.dtype or (self.writes and not value.array.flags.writeable):
                raise TypeError(
                    f"internal: {kernel}({self.name}) needs a{' writable' if self.writes else 'n'} "
                    f"{self.dtype} array; received a pinned {value.dtype} array"
                )
            size, address = value.size, value.address
        else:
            if type(value) is not np.ndarray:
                raise TypeError(f"internal: {kernel}({self.name}) takes a numpy array, not {type(value).__name__}")
            flags = value.flags
            if value.dtype != self.dtype or not flags.c_contiguous or (self.writes and not flags.writeable):
                raise TypeError(
                    f"internal: {kernel}({self.name}) needs a C-contiguous{' writable' if self.writes else ''} "
                    f"{self.dtype} array; received {value.dtype}, flags {flags.num}"
                )
            size, address = value.size, _address(value)
        needed = self.length(*ints)
        if size < needed:
            raise ValueError(f"internal: {kernel}({self.name}) reads {needed} values; the array holds {size}")
        return address


class _Float:
    """A float parameter (passed as a C float)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class Kernel:
    """One C function of the library, called with arrays (see the module docstring).
    Parameters: _Pointer (an array), _Float, or a name (a non-negative int); a pointer's
    length function takes the int parameters positionally, in their order."""

    def __init__(self, lib: ctypes.CDLL, name: str, restype: Any, params: list[Any]) -> None:
        self.name = name
        self._fn = getattr(lib, name)
        self._fn.restype = restype
        self._fn.argtypes = [
            ctypes.c_void_p if isinstance(p, _Pointer) else ctypes.c_float if isinstance(p, _Float) else ctypes.c_int
            for p in params
        ]
        self._params = params

    def _addresses(self, args: tuple[Any, ...]) -> list[Any]:
        if len(args) != len(self._params):
            raise TypeError(f"internal: {self.name} takes {len(self._params)} arguments; received {len(args)}")
        ints = []
        for param, value in zip(self._params, args):
            if type(param) is str:
                if isinstance(value, bool) or not isinstance(value, _INTEGERS) or not 0 <= value < 2**31:
                    raise TypeError(f"internal: {self.name}({param}) must be an int in [0, 2**31); received {value!r}")
                ints.append(int(value))
        return [
            p.address(self.name, v, ints) if type(p) is _Pointer else float(v) if type(p) is _Float else int(v)
            for p, v in zip(self._params, args)
        ]

    def __call__(self, *args: Any) -> Any:
        # `args` keeps every array alive until the C function has returned.
        return self._fn(*self._addresses(args))

    def bind(self, *args: Any) -> BoundKernel:
        """This kernel with every argument fixed, checked once: a no-argument call that
        keeps its arrays alive for as long as it exists."""
        return BoundKernel(self._fn, args, self._addresses(args))


class BoundKernel(functools.partial):
    """A kernel call with fixed arguments (a ``functools.partial``, so calling it costs no
    Python frame) that holds the arrays its addresses point into."""

    arrays: tuple[Any, ...]

    def __new__(cls, fn: Any, arrays: tuple[Any, ...], addresses: list[Any]) -> BoundKernel:
        bound = super().__new__(cls, fn, *addresses)
        bound.arrays = arrays
        return bound


def _f32(name: str, length: Callable[..., int], writes: bool = False) -> _Pointer:
    return _Pointer(name, _F32, writes, length)


class Kernels:
    """The C functions of one loaded kernel library, with their signatures and the length
    each array argument must have."""

    def __init__(self, path: str | os.PathLike) -> None:
        lib = ctypes.CDLL(str(path))
        self.path = str(path)
        self._packed_size = lib.mm_packed_size
        self._packed_size.restype = ctypes.c_size_t
        self._packed_size.argtypes = [ctypes.c_int, ctypes.c_int]
        packed = lambda K, N: self.packed_size(K, N)  # noqa: E731
        self.pack = Kernel(lib, "mm_pack", None, [
            _f32("W", lambda K, N: K * N), _f32("P", packed, writes=True), "K", "N"])
        self.linear = Kernel(lib, "mm_linear", None, [
            _f32("X", lambda M, K, N, act: M * K), _f32("P", lambda M, K, N, act: self.packed_size(K, N)),
            _f32("b", lambda M, K, N, act: N), _f32("Y", lambda M, K, N, act: M * N, writes=True),
            "M", "K", "N", "act"])
        self.attention = Kernel(lib, "mm_attention", None, [
            _f32("qkv", lambda B, L, H, Dh: B * L * 3 * H * Dh), _Pointer("lengths", _I32, False, lambda B, L, H, Dh: B),
            _f32("ctx", lambda B, L, H, Dh: B * L * H * Dh, writes=True), _f32("scratch", lambda B, L, H, Dh: L, writes=True),
            "B", "L", "H", "Dh"])
        self.layernorm = Kernel(lib, "mm_layernorm", None, [
            _f32("a", lambda rows, dim, add: rows * dim), _f32("b", lambda rows, dim, add: rows * dim),
            _f32("gamma", lambda rows, dim, add: dim), _f32("beta", lambda rows, dim, add: dim),
            _f32("out", lambda rows, dim, add: rows * dim, writes=True), "rows", "dim", _Float("eps"), "add"])
        self.cosine = Kernel(lib, "mm_cosine", ctypes.c_double, [
            _f32("a", lambda n: n), _f32("b", lambda n: n), "n"])
        self.scores = Kernel(lib, "mm_scores", None, [
            _f32("rows", lambda n, dim: n * dim), _f32("q", lambda n, dim: dim),
            _f32("scores", lambda n, dim: n, writes=True), "n", "dim"])
        self.scores_bf16 = Kernel(lib, "mm_scores_bf16", None, [
            _Pointer("rows", _U16, False, lambda n, dim: n * dim), _f32("qp", lambda n, dim: dim),
            _f32("scores", lambda n, dim: n, writes=True), "n", "dim"])
        self.check_halves = Kernel(lib, "mm_check_halves", ctypes.c_int, [
            _Pointer("halves", _U16, False, lambda n: n), "n"])
        self.widen_halves = Kernel(lib, "mm_widen_halves", ctypes.c_int, [
            _Pointer("halves", _U16, False, lambda n: n), _f32("out", lambda n: n, writes=True), "n"])
        self.topk = Kernel(lib, "mm_topk", None, [
            _f32("scores", lambda n, k: n), "n", "k",
            _Pointer("out_index", _I32, True, lambda n, k: k), _f32("out_score", lambda n, k: k, writes=True)])

    def packed_size(self, K: int, N: int) -> int:
        """Floats that ``pack`` writes for a layer of K inputs and N outputs."""
        return int(self._packed_size(K, N))


_active: Kernels | None = None


def active() -> Kernels | None:
    """The kernels in use, or ``None`` when numpy does the work."""
    return _active


def build() -> str:
    """Which kernels run: "relaxed-simd", "simd128", "numpy" (none), or "custom" (another library)."""
    if _active is None:
        return "numpy"
    return next((name for name, path in BUILDS.items() if str(path) == _active.path), "custom")


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
