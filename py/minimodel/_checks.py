"""Argument validation shared by every public function.

Each check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind,
wrong size or content) with a message naming the parameter, what was expected and what
was received, so the JavaScript facade can show it unchanged.
"""

from __future__ import annotations

import json
import operator
from typing import Any

import numpy as np

FLOAT32_MAX = float(np.finfo(np.float32).max)

#: Largest accepted ``input_size`` / ``output_size`` / vector length.
MAX_DIM = 1 << 24  # 16,777,216
#: Largest accepted weight count of one layer (256 MiB of float32): a model over this
#: would not fit the 2 GiB wasm32 heap next to its staging copies.
MAX_PARAMETERS = 1 << 26  # 67,108,864
#: Largest accepted number of values in an EmbeddingIndex (1 GiB of float32).
MAX_INDEX_VALUES = 1 << 28  # 268,435,456


#: Deepest nesting of arrays and objects accepted in the JSON files the library reads (a
#: safetensors header needs 3 levels, a tokenizer.json about 6). json.loads recurses in C
#: once a level: in Pyodide 100,000 levels overflowed WebAssembly's stack, a fatal error
#: that ends the runtime, before Python's recursion limit could raise RecursionError.
MAX_JSON_DEPTH = 64


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, brackets inside strings not
    counted. A quote starts or ends a string unless an odd number of backslashes precedes
    it. Vectorised over the quotes and brackets only (a few ms for a tokenizer.json)."""
    codes = np.frombuffer(raw, dtype=np.uint8)
    quotes = np.flatnonzero(codes == 0x22)
    after_backslash = quotes[(quotes > 0) & (codes[np.maximum(quotes - 1, 0)] == 0x5C)]
    if after_backslash.size:  # rare: count each one's run of backslashes (linear in all)
        escaped = []
        for q in after_backslash.tolist():
            start = q - 1
            while start >= 0 and raw[start] == 0x5C:
                start -= 1
            if (q - 1 - start) % 2:
                escaped.append(q)
        quotes = np.setdiff1d(quotes, escaped, assume_unique=True)
    brackets = np.flatnonzero((codes == 0x5B) | (codes == 0x7B) | (codes == 0x5D) | (codes == 0x7D))
    outside = brackets[np.searchsorted(quotes, brackets) % 2 == 0]  # an even number of quotes before it
    kinds = codes[outside]
    steps = np.where((kinds == 0x5B) | (kinds == 0x7B), 1, -1)
    return int(np.cumsum(steps).max(initial=0))


def parse_json(data: str | bytes | bytearray | memoryview, name: str, error: type[Exception], kind: str) -> Any:
    """The value of the JSON file ``name``, given as its UTF-8 bytes or its text, or
    ``error`` with a message naming it: "{name} is not valid JSON (...)" when it is not
    UTF-8 or not JSON; "{name} is not {kind} (...)" when it nests deeper than
    MAX_JSON_DEPTH or holds an integer of thousands of digits (json.loads' ValueError).
    The one reader of every JSON file the library loads (weights headers, saved indexes,
    model configs, tokenizer.json)."""
    if isinstance(data, str):
        text, raw = data, data.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise error(f"{name} is not valid JSON: it is not UTF-8 text ({err})") from None
    depth = json_depth(raw)  # before json.loads, whose recursion is what deep nesting breaks
    if depth > MAX_JSON_DEPTH:
        raise error(
            f"{name} is not {kind} (arrays and objects nested {depth:,} levels deep; "
            f"at most {MAX_JSON_DEPTH} are accepted)"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{name} is not valid JSON ({err})") from None
    except (RecursionError, ValueError) as err:  # an integer of thousands of digits
        raise error(f"{name} is not {kind} ({err})") from None


def describe(value: Any) -> str:
    """A short, human description of a received value for error messages."""
    if isinstance(value, np.ndarray):
        return f"numpy array of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, bool):
        return f"bool {value}"
    if isinstance(value, (int, float)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:17] + "..."
        return f"str {shown!r}"
    return type(value).__name__


def check_size(value: Any, name: str) -> int:
    """Return ``value`` as an int in ``1..MAX_DIM`` or raise.

    >>> check_size(8, "input_size")
    8
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{name} must be a positive integer; received {describe(value)}")
    try:
        size = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be a positive integer; received {describe(value)}"
        ) from None
    if not 1 <= size <= MAX_DIM:
        raise ValueError(f"{name} must be between 1 and {MAX_DIM:,}; received {size}")
    return size


def check_parameter_count(input_size: int, output_size: int) -> None:
    """Refuse a weight matrix too large for browser memory, before allocating it."""
    count = input_size * output_size
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"a {output_size:,} x {input_size:,} weight matrix has {count:,} values "
            f"({count * 4 / 2**20:,.0f} MiB); at most {MAX_PARAMETERS:,} "
            f"({MAX_PARAMETERS * 4 // 2**20} MiB) are supported"
        )


def _as_numeric_array(value: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers; received {describe(value)} ({err})") from None
    if array.ndim == 0:
        raise TypeError(f"{name} must be an array of numbers; received {describe(value)}, a scalar")
    if array.dtype.kind not in "fiu":
        raise TypeError(
            f"{name} must be an array of real numbers; received {describe(value)} with elements of dtype {array.dtype}"
        )
    return array


def first_non_finite(array: np.ndarray) -> int | None:
    """Index (into the flattened array) of the first NaN or infinity, or ``None``."""
    finite = np.isfinite(array)
    if finite.all():
        return None
    return int(np.flatnonzero(~finite.ravel())[0])


def check_finite_result(result: np.ndarray, name: str = "output") -> np.ndarray:
    """Refuse a result that overflowed float32 (finite inputs, too large a product)."""
    bad = first_non_finite(result)
    if bad is not None:
        where = ", ".join(str(int(i)) for i in np.unravel_index(bad, result.shape))
        raise OverflowError(
            f"{name}[{where}] is {float(result.ravel()[bad])!r}: the result overflows float32 "
            f"(magnitude above {FLOAT32_MAX:.7g}); the weights or inputs are too large"
        )
    return result


def _to_float32(array: np.ndarray, name: str) -> np.ndarray:
    """Convert to C-contiguous float32, rejecting non-finite values and float32 overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        converted = np.ascontiguousarray(array, dtype=np.float32)
    bad = first_non_finite(converted)
    if bad is not None:
        original = array.ravel()[bad]
        index = np.unravel_index(bad, array.shape) if array.ndim > 1 else (bad,)
        where = f"{name}[{', '.join(str(int(i)) for i in index)}]"
        if np.isfinite(original):
            raise ValueError(
                f"{where} = {float(original)!r} is outside the float32 range "
                f"(magnitude at most {FLOAT32_MAX:.7g})"
            )
        raise ValueError(f"{where} is {float(original)!r}; expected a finite number")
    return converted


def as_vector(value: Any, name: str, length: int | None = None) -> np.ndarray:
    """Validate a 1-D numeric input and return it as float32 (a copy only when needed).

    ``length=None`` accepts any length >= 1.

    >>> as_vector([1, 2], "x", 2)
    array([1., 2.], dtype=float32)
    """
    array = _as_numeric_array(value, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D; received shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise ValueError(f"{name} must have length {length}; received length {array.shape[0]}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must have at least 1 element; received an empty array")
    if array.shape[0] > MAX_DIM:
        raise ValueError(f"{name} may have at most {MAX_DIM:,} elements; received {array.shape[0]:,}")
    return _to_float32(array, name)


def as_matrix(value: Any, name: str, rows: int, cols: int) -> np.ndarray:
    """Validate a (rows, cols) matrix given flat row-major or 2-D; return float32 2-D.

    >>> as_matrix([1, 2, 3, 4], "w", 2, 2).shape
    (2, 2)
    """
    array = _as_numeric_array(value, name)
    if array.ndim == 1:
        if array.shape[0] != rows * cols:
            raise ValueError(
                f"{name} must have {rows * cols:,} values ({rows} x {cols}, row-major); "
                f"received {array.shape[0]:,}"
            )
        array = array.reshape(rows, cols)
    elif array.ndim == 2:
        if array.shape != (rows, cols):
            raise ValueError(f"{name} must have shape ({rows}, {cols}); received shape {array.shape}")
    else:
        raise ValueError(f"{name} must be flat or 2-D with shape ({rows}, {cols}); received shape {array.shape}")
    return _to_float32(array, name)


def as_batch(value: Any, name: str, cols: int, batch: int | None = None) -> np.ndarray:
    """Validate a batch of row vectors of length ``cols``, given 2-D ``(batch, cols)`` or
    flat row-major (with ``batch``, or any multiple of ``cols`` without). Returns float32 2-D.

    >>> as_batch([1, 2, 3, 4], "inputs", 2).shape
    (2, 2)
    """
    array = _as_numeric_array(value, name)
    if batch is not None:
        batch = check_size(batch, "batch")
    if array.ndim == 1:
        if batch is None:
            if array.size == 0 or array.size % cols:
                raise ValueError(
                    f"{name} must hold a whole number of rows of {cols}; received {array.size:,} values"
                )
            batch = array.size // cols
        elif array.size != batch * cols:
            raise ValueError(
                f"{name} must have {batch * cols:,} values (batch {batch} x {cols}); received {array.size:,}"
            )
        array = array.reshape(batch, cols)
    elif array.ndim == 2:
        if array.shape[1] != cols or (batch is not None and array.shape[0] != batch):
            want = f"({batch}, {cols})" if batch is not None else f"(batch, {cols})"
            raise ValueError(f"{name} must have shape {want}; received shape {array.shape}")
        if array.shape[0] == 0:
            raise ValueError(f"{name} must have at least 1 row; received shape {array.shape}")
    else:
        raise ValueError(f"{name} must be flat or 2-D; received shape {array.shape}")
    return _to_float32(array, name)
