"""Weight files: ``.safetensors`` (as PyTorch users save them) and ``.npz``, parsed strictly.

A file is untrusted input: its header size is bounded, its JSON must be an object of
well-formed entries, dtypes must be known, every tensor's bytes must lie inside the file
without overlapping another's, shapes must chain from layer to layer, and values must be
finite. Any problem raises ``WeightsFileError`` naming the tensor and the problem, and
nothing is loaded. Tensors are named like ``torch.nn.Linear`` parameters:
``<layer>.weight`` with shape ``[out, in]`` and ``<layer>.bias`` with shape ``[out]``;
layers run in the natural order of their names (``fc1``, ``fc2``, ... ``fc10`` or
``layers.0``, ``layers.1``, ...).
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import zipfile
from typing import Any

import numpy as np

from . import _kernels
from ._checks import MAX_DIM, MAX_PARAMETERS, first_non_finite, parse_json

#: Largest accepted safetensors header (the format's own reference limit is 100 MB).
MAX_HEADER_BYTES = 100 * 2**20

_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "F64": np.dtype("<f8"), "BF16": np.dtype("<u2")}
#: Integer tensors (e.g. BERT's position_ids), read only when the caller asks for them.
_INTEGER_DTYPES = {"I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
                   "U8": np.dtype("u1")}


class WeightsFileError(ValueError):
    """A weight file that cannot be loaded; the message says which tensor and why."""


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _as_bytes(data: Any) -> memoryview:
    if isinstance(data, np.ndarray):
        data = data.reshape(-1).view(np.uint8)
    try:
        view = memoryview(data).cast("B")
    except TypeError:
        raise TypeError(f"weight file data must be bytes-like; received {type(data).__name__}") from None
    return view


def _half_tensor(name: str, raw: np.ndarray, keep: bool) -> np.ndarray:
    """A float16 tensor, checked finite, as float32 or, with ``keep``, as float16 (every
    half is exactly a float32: the caller widens what it uses with ``widen``). Kept halves
    may be a view into the file's bytes (no copy: a caller that widens every tensor but
    one never holds the file twice); the caller copies what it keeps."""
    halves = raw if raw.flags.aligned else raw.copy()  # the file may place a tensor at an odd byte
    bad = _first_non_finite_half(halves)
    if bad is not None:
        raise WeightsFileError(f"tensor {name!r}: value {bad} is not a finite number")
    return halves if keep else widen(halves)


def _first_non_finite_half(halves: np.ndarray) -> int | None:
    """A half is infinite or NaN exactly when its 5 exponent bits are all ones: checked on
    the bits, by the kernel when there is one (numpy's three passes took ~60 ms for the
    23 million weights of all-MiniLM-L6-v2 in Pyodide)."""
    bits = halves.reshape(-1).view(np.uint16)
    kernels = _kernels.active()
    if kernels is not None:
        bad = kernels.check_halves(bits, bits.size)
        return None if bad < 0 else bad
    non_finite = (bits & 0x7C00) == 0x7C00
    return int(np.argmax(non_finite)) if non_finite.any() else None


def widen(array: np.ndarray) -> np.ndarray:
    """A C-contiguous float32 copy (or the array itself when it is one already) of a
    float32 or finite float16 array: the same values exactly."""
    kernels = _kernels.active()
    if array.dtype != np.float16 or kernels is None:
        return np.require(array, np.float32, ["C"])  # (ascontiguousarray would make a 0-d array 1-d)
    halves = np.require(array, requirements=["C", "A"]).reshape(-1).view(np.uint16)  # aligned for the kernel
    out = np.empty(array.shape, np.float32)
    if kernels.widen_halves(halves, out.reshape(-1), halves.size) >= 0:
        raise ValueError("internal: widen() takes finite halves only")
    return out


def _to_float32(name: str, raw: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        values = (raw.astype(np.uint32) << np.uint32(16)).view(np.float32)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            values = raw.astype(np.float32)
    bad = first_non_finite(values)
    if bad is not None:
        original = raw.reshape(-1)[bad]
        what = "outside the float32 range" if dtype == "F64" and np.isfinite(original) else "not a finite number"
        raise WeightsFileError(f"tensor {name!r}: value {bad} is {what}")
    return values


#: The most sizes a tensor's shape may have (models and indexes use 1 to 4).
MAX_TENSOR_DIMS = 8


def _shown(value: Any) -> str:
    """repr, cut short: a hostile header's values can be megabytes long."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def read_safetensors(data: Any, integers: bool = False, half: bool = False) -> dict[str, np.ndarray]:
    """All tensors of a ``.safetensors`` file as float32 arrays, checked strictly.
    ``integers``: also accept integer tensors (returned as they are). ``half``: float16
    tensors are returned as float16 (exact values), not widened, possibly as views into
    ``data``: copy those you keep.

    >>> read_safetensors(b"x")
    Traceback (most recent call last):
    minimodel.weights.WeightsFileError: not a safetensors file: 1 bytes is shorter than its 8-byte header length
    """
    return parse_safetensors(data, integers, half)[0]


def parse_safetensors(data: Any, integers: bool = False, half: bool = False,
                      max_values: int = MAX_PARAMETERS) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``read_safetensors``, and the file's ``__metadata__`` (a dict of strings).
    ``max_values``: the most values a tensor may hold (a saved index may hold more than a
    model's layer)."""
    view = _as_bytes(data)
    metadata: dict[str, str] = {}
    if len(view) < 8:
        raise WeightsFileError(f"not a safetensors file: {len(view)} bytes is shorter than its 8-byte header length")
    (header_len,) = struct.unpack("<Q", view[:8])
    if header_len > MAX_HEADER_BYTES:
        raise WeightsFileError(f"the header claims {header_len:,} bytes; at most {MAX_HEADER_BYTES:,} are accepted")
    if 8 + header_len > len(view):
        raise WeightsFileError(f"the header claims {header_len:,} bytes but the file has only {len(view) - 8:,} after its length")
    header = parse_json(view[8 : 8 + header_len], "the header", WeightsFileError, "a safetensors header")
    if not isinstance(header, dict):
        raise WeightsFileError(f"the header must be a JSON object; it is a {type(header).__name__}")
    body = view[8 + header_len :]
    spans: list[tuple[int, int, str]] = []
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        shown = _shown(name)
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise WeightsFileError("__metadata__ must map names to strings")
            metadata = entry
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise WeightsFileError(f"tensor {shown}: an entry needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        known = {**_DTYPES, **_INTEGER_DTYPES} if integers else _DTYPES
        if dtype not in known:
            raise WeightsFileError(f"tensor {shown}: dtype {_shown(dtype)} is not supported ({', '.join(known)})")
        if not isinstance(shape, list) or not all(type(d) is int and 0 <= d <= MAX_DIM for d in shape):
            raise WeightsFileError(f"tensor {shown}: shape {_shown(shape)} is not a list of sizes")
        if len(shape) > MAX_TENSOR_DIMS:  # before their product: thousands of sizes make an integer of thousands of digits
            raise WeightsFileError(f"tensor {shown}: shape has {len(shape):,} sizes; at most {MAX_TENSOR_DIMS} are accepted")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            raise WeightsFileError(f"tensor {shown}: data_offsets {_shown(offsets)} is not [begin, end]")
        begin, end = offsets
        count = math.prod(shape)  # Python integers: a product of huge sizes cannot wrap around
        if count > max_values:
            raise WeightsFileError(f"tensor {shown}: {count:,} values; at most {max_values:,} are accepted")
        if not 0 <= begin <= end <= len(body):
            raise WeightsFileError(f"tensor {shown}: bytes {begin}..{end} lie outside the {len(body):,} bytes of data")
        if end - begin != count * known[dtype].itemsize:
            raise WeightsFileError(
                f"tensor {shown}: shape {shape} of {dtype} needs {count * known[dtype].itemsize:,} bytes; "
                f"data_offsets give {end - begin:,}"
            )
        spans.append((begin, end, name))
        raw = np.frombuffer(body[begin:end], dtype=known[dtype]).reshape(shape)
        if dtype in _INTEGER_DTYPES:
            tensors[name] = raw.copy()
        elif dtype == "F16":
            tensors[name] = _half_tensor(name, raw, half)
        else:
            tensors[name] = _to_float32(name, raw, dtype)
    spans.sort()
    for (_, previous_end, previous), (begin, _, name) in zip(spans, spans[1:]):
        if begin < previous_end:
            raise WeightsFileError(f"tensors {previous!r} and {name!r} overlap in the file")
    return tensors, metadata


def read_npz(data: Any) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file as float32, loaded with pickling disabled."""
    view = _as_bytes(data)
    try:
        archive = np.load(io.BytesIO(view), allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise WeightsFileError(f"not a readable .npz file ({err})") from None
    tensors = {}
    with archive:
        for name in archive.files:
            try:
                array = archive[name]
            except ValueError as err:  # an object array: it would need unpickling
                raise WeightsFileError(f"tensor {name!r}: {err}; pickled objects are never loaded") from None
            except (OSError, zipfile.BadZipFile, EOFError) as err:
                raise WeightsFileError(f"tensor {name!r}: unreadable ({err})") from None
            if array.dtype.kind != "f":
                raise WeightsFileError(f"tensor {name!r}: dtype {array.dtype} is not a floating-point type")
            if array.size > MAX_PARAMETERS:
                raise WeightsFileError(f"tensor {name!r}: {array.size:,} values; at most {MAX_PARAMETERS:,} are accepted")
            if array.dtype.itemsize == 2:  # float16: checked and widened as a safetensors F16 tensor
                tensors[name] = _half_tensor(name, np.asarray(array, dtype="<f2"), keep=False)
            else:
                tensors[name] = _to_float32(name, array, "F64" if array.dtype.itemsize == 8 else "F32")
    return tensors


def layers_from_tensors(tensors: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(weights (out, in), bias (out,)), ...]`` in the natural order of layer names,
    checking that each output size is the next layer's input size."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    for name, array in tensors.items():
        layer, _, kind = name.rpartition(".")
        if not layer or kind not in ("weight", "bias"):
            raise WeightsFileError(f"tensor {name!r}: expected names like 'fc1.weight' or 'layers.0.bias'")
        groups.setdefault(layer, {})[kind] = array
    if not groups:
        raise WeightsFileError("the file holds no tensors")
    layers = []
    previous = None
    for layer in sorted(groups, key=_natural_key):
        parts = groups[layer]
        if "weight" not in parts:
            raise WeightsFileError(f"layer {layer!r} has a bias but no '{layer}.weight'")
        weight = parts["weight"]
        if weight.ndim != 2 or 0 in weight.shape:
            raise WeightsFileError(f"tensor '{layer}.weight': shape {list(weight.shape)} is not [out, in]")
        out_size, in_size = weight.shape
        bias = parts.get("bias", np.zeros(out_size, dtype=np.float32))
        if bias.shape != (out_size,):
            raise WeightsFileError(f"tensor '{layer}.bias': shape {list(bias.shape)} does not match [{out_size}] of its weight")
        if previous is not None and previous[1] != in_size:
            raise WeightsFileError(
                f"tensor '{layer}.weight' takes {in_size} inputs but '{previous[0]}' gives {previous[1]} outputs"
            )
        layers.append((np.ascontiguousarray(weight), np.ascontiguousarray(bias)))
        previous = (f"{layer}.weight", out_size)
    return layers


def read_layers(data: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Layers from a weight file; ``.npz`` (a zip archive) or ``.safetensors`` by content."""
    view = _as_bytes(data)
    tensors = read_npz(view) if bytes(view[:4]) == b"PK\x03\x04" else read_safetensors(view)
    return layers_from_tensors(tensors)


def write_safetensors(layers: list[tuple[np.ndarray, np.ndarray]], metadata: dict[str, str] | None = None) -> bytes:
    """``fc1.weight``, ``fc1.bias``, ``fc2.weight``, ... as F32 in a ``.safetensors`` file."""
    named = {}
    for i, (weight, bias) in enumerate(layers, start=1):
        named[f"fc{i}.weight"] = np.ascontiguousarray(weight, dtype="<f4")
        named[f"fc{i}.bias"] = np.ascontiguousarray(bias, dtype="<f4")
    return write_tensors(named, metadata)


_DTYPE_NAMES = {np.dtype("<f4"): "F32", np.dtype("<f2"): "F16", np.dtype("<f8"): "F64", np.dtype("<i8"): "I64"}


def write_tensors(named: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """A ``.safetensors`` file of the arrays (F32, F16, F64 or I64), in the given order;
    reproducible: the same arrays give the same bytes.

    >>> data = write_tensors({"a": np.ones(2, np.float16)})
    >>> read_safetensors(data)["a"].tolist()
    [1.0, 1.0]
    """
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    arrays = []
    for name, array in named.items():
        array = np.ascontiguousarray(array)
        if array.dtype not in _DTYPE_NAMES:
            raise TypeError(f"tensor {name!r}: dtype {array.dtype} cannot be written")
        header[name] = {"dtype": _DTYPE_NAMES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        arrays.append(array)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # align the data, as the reference writer does
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(a.tobytes() for a in arrays)
