"""float16 weights: the kernels' widening to float32 and their finiteness check against
numpy's astype on every one of the 65,536 half bit patterns, and the safetensors reader
and the text encoder that use them (a float16 file gives the same tensors and the same
vectors whichever backend reads it, and the word table stays float16)."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest

from minimodel import _kernels
from minimodel.weights import WeightsFileError, read_safetensors, widen

ALL_BITS = np.arange(2**16, dtype=np.uint16)
NON_FINITE = (ALL_BITS & 0x7C00) == 0x7C00  # exponent bits all ones: inf and NaN
FINITE = ALL_BITS[~NON_FINITE]


@pytest.fixture(scope="module")
def kernels(native_kernels):
    return _kernels.Kernels(native_kernels)


def test_the_bit_patterns_are_what_numpy_calls_finite():
    assert np.array_equal(~NON_FINITE, np.isfinite(ALL_BITS.view(np.float16)))
    assert FINITE.size == 63_488


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 8, 63_487, 63_488])
def test_every_finite_half_widens_to_numpys_float32_bit_for_bit(kernels, n):
    # Shuffled, so every value meets every position of the 4-wide loop and of the tail;
    # subnormals, -0.0 and the largest halves included.
    halves = np.random.default_rng(n).permutation(FINITE)[:n].copy()
    if n == FINITE.size:
        assert {0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0xFBFF} <= set(halves.tolist())
    out = np.full(n, np.nan, np.float32)
    assert kernels.widen_halves(halves, out, n) == -1
    assert kernels.check_halves(halves, n) == -1
    expected = halves.view(np.float16).astype(np.float32)
    assert np.array_equal(out.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("position", [0, 1, 3, 4, 7, 4_093, 9_999])
@pytest.mark.parametrize("bits", [0x7C00, 0xFC00, 0x7C01, 0x7E00, 0xFFFF])
def test_the_first_non_finite_half_is_found_wherever_it_is(kernels, position, bits):
    halves = np.random.default_rng(position).choice(FINITE, 10_000)
    halves[position] = bits
    halves[min(position + 2, 9_999)] = 0x7C00  # a later one does not hide the first
    assert kernels.check_halves(halves, 10_000) == position
    assert kernels.widen_halves(halves, np.empty(10_000, np.float32), 10_000) == position


def python_widened(halves: np.ndarray) -> np.ndarray:
    """float32 values of halves by Python's own IEEE half decoding (struct's "e"), not numpy's."""
    data = halves.astype("<f2").tobytes()
    return np.array(struct.unpack(f"<{halves.size}e", data), np.float64).astype(np.float32).reshape(halves.shape)


@pytest.mark.parametrize("shape", [(), (3,), (5, 7), (384, 384)])
def test_widen_gives_python_s_float32_with_and_without_kernels(backend, shape):
    halves = np.random.default_rng(1).choice(FINITE, shape).view(np.float16)
    out = widen(halves)
    assert out.dtype == np.float32 and out.shape == shape and out.flags.c_contiguous
    assert np.array_equal(out.view(np.uint32), python_widened(halves).view(np.uint32))
    same = np.ones(shape, np.float32)
    assert widen(same) is same  # float32 already: no copy


def test_widen_takes_unaligned_and_strided_halves(backend):
    raw = np.zeros(2 * 101 + 1, np.uint8)
    halves = np.random.default_rng(3).choice(FINITE, 101)
    # halves at an odd address (a memoryview slice: numpy will not view it as uint16 in place)
    unaligned = np.frombuffer(memoryview(raw)[1:], dtype=np.float16)
    unaligned.view(np.uint8)[:] = halves.view(np.uint8)
    assert not unaligned.flags.aligned
    assert np.array_equal(widen(unaligned).view(np.uint32), python_widened(halves.view(np.float16)).view(np.uint32))
    strided = halves.view(np.float16)[::3]
    assert np.array_equal(widen(strided).view(np.uint32), python_widened(strided).view(np.uint32))


def half_file(tensors: dict[str, np.ndarray], pad: int = 0) -> bytes:
    """A safetensors file of float16 tensors; ``pad`` spaces in the header shift the data
    to an odd byte when it is odd."""
    header, body, offset = {}, b"", 0
    for name, value in tensors.items():
        data = value.astype("<f2").tobytes()
        header[name] = {"dtype": "F16", "shape": list(value.shape), "data_offsets": [offset, offset + len(data)]}
        body += data
        offset += len(data)
    text = (json.dumps(header) + " " * pad).encode()
    return struct.pack("<Q", len(text)) + text + body


@pytest.mark.parametrize("pad", [0, 1])
def test_a_float16_file_reads_the_same_with_and_without_kernels_and_half_keeps_float16(backend, pad):
    rng = np.random.default_rng(2)
    tensors = {"a": rng.choice(FINITE, (6, 5)).view(np.float16), "b": rng.choice(FINITE, 11).view(np.float16)}
    data = half_file(tensors, pad)
    widened = read_safetensors(data)
    kept = read_safetensors(data, half=True)
    for name, value in tensors.items():
        assert widened[name].dtype == np.float32
        assert np.array_equal(widened[name].view(np.uint32), value.astype(np.float32).view(np.uint32))
        assert kept[name].dtype == np.float16
        assert np.array_equal(kept[name].view(np.uint16), value.view(np.uint16))


@pytest.mark.parametrize("half", [False, True])
@pytest.mark.parametrize("bits", [0x7C00, 0xFE00])
def test_a_non_finite_half_is_refused_by_its_index(backend, half, bits):
    value = np.zeros(40, np.float16)
    value.view(np.uint16)[[17, 30]] = bits
    with pytest.raises(WeightsFileError, match=r"tensor 'w': value 17 is not a finite number"):
        read_safetensors(half_file({"w": value}, pad=1), half=half)


@pytest.mark.parametrize("order", ["<f2", ">f2"])
def test_npz_float16_is_checked_and_widened_like_safetensors_f16(backend, order):
    from minimodel.weights import read_npz

    halves = np.random.default_rng(4).choice(FINITE, (7, 3)).view(np.float16)
    buffer = io.BytesIO()
    np.savez(buffer, w=halves.astype(order))
    got = read_npz(buffer.getvalue())["w"]
    assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), python_widened(halves).view(np.uint32))
    bad = halves.copy()
    bad.view(np.uint16)[2, 1] = 0xFC00  # -inf, flat index 7
    buffer = io.BytesIO()
    np.savez(buffer, w=bad.astype(order))
    with pytest.raises(WeightsFileError, match=r"tensor 'w': value 7 is not a finite number"):
        read_npz(buffer.getvalue())
