"""The checks every kernel call makes (_kernels.Kernel), with plain and pinned arrays: a
wrong array is refused before the C function runs, so no kernel reads or writes outside
a buffer."""

import numpy as np
import pytest

from minimodel import _kernels
from minimodel._kernels import Pinned


@pytest.fixture(scope="module")
def kernels(native_kernels):
    return _kernels.Kernels(native_kernels)


def operands(kernels, m=3, k=5, n=9):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((n, k)).astype(np.float32)
    packed = np.empty(kernels.packed_size(k, n), np.float32)
    kernels.pack(w, packed, k, n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    return x, packed, b, np.empty((m, n), np.float32), w


@pytest.mark.parametrize("pin", [False, True])
def test_pinned_and_plain_arrays_give_the_same_result(kernels, pin):
    x, packed, b, out, w = operands(kernels)
    args = [Pinned(a) for a in (x, packed, b, out)] if pin else [x, packed, b, out]
    kernels.linear(*args, 3, 5, 9, 0)
    np.testing.assert_allclose(out, x @ w.T + b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pin", [False, True])
@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda x: x.astype(np.float64), "needs a"),
        (lambda x: np.empty((2, 5), np.float32), "reads 15 values; the array holds 10"),
    ],
)
def test_a_wrong_input_is_refused(kernels, pin, bad, message):
    x, packed, b, out, _ = operands(kernels)
    wrong = bad(x)
    with pytest.raises((TypeError, ValueError), match=message):
        kernels.linear(Pinned(wrong) if pin else wrong, packed, b, out, 3, 5, 9, 0)


@pytest.mark.parametrize("pin", [False, True])
def test_a_read_only_output_is_refused(kernels, pin):
    x, packed, b, out, _ = operands(kernels)
    out.flags.writeable = False
    with pytest.raises(TypeError, match="writable"):
        kernels.linear(x, packed, b, Pinned(out) if pin else out, 3, 5, 9, 0)


@pytest.mark.parametrize("pin", [False, True])
def test_an_output_made_read_only_after_pinning_is_refused(kernels, pin):
    """Writability is the one fact an array can change after it was pinned: read each call."""
    x, packed, b, out, _ = operands(kernels)
    pinned = Pinned(out)
    kernels.linear(x, packed, b, pinned, 3, 5, 9, 0)
    out.flags.writeable = False
    with pytest.raises(TypeError, match="writable"):
        kernels.linear(x, packed, b, pinned, 3, 5, 9, 0)


def test_only_contiguous_numpy_arrays_can_be_pinned():
    with pytest.raises(ValueError, match="C-contiguous"):
        Pinned(np.zeros((4, 4), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="C-contiguous"):
        Pinned([1.0, 2.0])  # type: ignore[arg-type]


def test_non_contiguous_and_non_array_arguments_are_refused(kernels):
    x, packed, b, out, _ = operands(kernels)
    with pytest.raises(TypeError, match="C-contiguous"):
        kernels.linear(np.zeros((3, 10), np.float32)[:, ::2], packed, b, out, 3, 5, 9, 0)
    with pytest.raises(TypeError, match="takes a numpy array"):
        kernels.linear(x.tolist(), packed, b, out, 3, 5, 9, 0)
    with pytest.raises(TypeError, match=r"must be an int in \[0, 2\*\*31\)"):
        kernels.linear(x, packed, b, out, -1, 5, 9, 0)
    with pytest.raises(TypeError, match="takes 8 arguments"):
        kernels.linear(x, packed, b, out, 3, 5, 9)


def test_the_packed_weights_must_cover_the_shape(kernels):
    """P's length is a function of K and N (panels of 8 outputs), checked like the others."""
    x, packed, b, out, _ = operands(kernels)
    with pytest.raises(ValueError, match="P\\) reads"):
        kernels.linear(x, Pinned(packed[:-8].copy()), b, out, 3, 5, 9, 0)
