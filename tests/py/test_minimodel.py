"""Unit tests of the minimodel package in CPython, against float64 numpy references."""

from __future__ import annotations

import time

import numpy as np
import pytest

from minimodel import MAX_DIM, MAX_PARAMETERS, MiniModel, cosine_similarity
from minimodel.jsbridge import ModelSession, Scratch, cosine_scratch, inputs

pytestmark = pytest.mark.usefixtures("backend")


def reference_predict(w, b, x) -> np.ndarray:
    w64 = np.asarray(w, np.float32).astype(np.float64)
    return np.maximum(w64 @ np.asarray(x, np.float32).astype(np.float64) + np.asarray(b, np.float32), 0)


def reference_cosine(a, b) -> float:
    a = np.asarray(a, np.float32).astype(np.float64)
    b = np.asarray(b, np.float32).astype(np.float64)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return 0.0 if norms == 0 else float(a @ b / norms)


# ----------------------------------------------------------------------------- MiniModel


def test_defaults_match_the_original():
    model = MiniModel(128, 10)
    assert model.weights.shape == (10, 128) and model.weights.dtype == np.float32
    assert np.all(model.weights == np.float32(0.01))
    assert model.bias.dtype == np.float32 and not model.bias.any()
    y = model.predict(np.full(128, 0.5, np.float32))
    assert y.dtype == np.float32 and y.shape == (10,)
    np.testing.assert_allclose(y, 0.64, rtol=1e-6)
    assert repr(model) == "MiniModel(input_size=128, output_size=10)"


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (128, 10), (784, 256), (1000, 3)])
def test_predict_matches_float64_reference(shape):
    rng = np.random.default_rng(sum(shape))
    in_size, out_size = shape
    model = MiniModel(in_size, out_size)
    w = rng.standard_normal((out_size, in_size)).astype(np.float32)
    b = rng.standard_normal(out_size).astype(np.float32)
    model.load_weights(w.ravel(), b)
    for _ in range(3):
        x = rng.standard_normal(in_size).astype(np.float32)
        np.testing.assert_allclose(model.predict(x), reference_predict(w, b, x), rtol=1e-5, atol=1e-5 * np.sqrt(in_size))


def test_predict_accepts_lists_and_other_dtypes_and_returns_fresh_arrays():
    model = MiniModel(3, 2)
    model.load_weights([[1, 2, 3], [-1, -2, -3]], [0.5, 0.5])
    for x in ([1, 1, 1], np.array([1.0, 1.0, 1.0]), np.array([1, 1, 1], np.int64), np.ones(3, np.float16)):
        np.testing.assert_array_equal(model.predict(x), [6.5, 0.0])
    first = model.predict([1, 0, 0])
    second = model.predict([0, 1, 0])
    assert first is not second and not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, [1.5, 0.0])


def test_load_weights_flat_and_2d_are_row_major_and_copied():
    model = MiniModel(2, 3)
    flat = np.arange(6, dtype=np.float32)
    model.load_weights(flat)
    np.testing.assert_array_equal(model.weights, [[0, 1], [2, 3], [4, 5]])
    assert not model.bias.any()
    flat[:] = 99  # the model keeps its own copy
    np.testing.assert_array_equal(model.predict([1, 1]), [1, 5, 9])
    w2 = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    model.load_weights(w2, np.array([0, 0, -3], np.float32))
    w2[:] = 0
    np.testing.assert_array_equal(model.predict([1, 1]), [1, 1, 0])


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "input_size must be between 1 and 16,777,216; received 0"),
        (-1, ValueError, "received -1"),
        (MAX_DIM + 1, ValueError, "received 16777217"),
        (2.5, TypeError, "input_size must be a positive integer; received float 2.5"),
        (8.0, TypeError, "received float 8.0"),
        ("8", TypeError, "received str '8'"),
        (True, TypeError, "received bool True"),
        (None, TypeError, "received NoneType"),
    ],
)
def test_bad_sizes(value, error, message):
    with pytest.raises(error, match=None) as info:
        MiniModel(value, 4)
    assert message in str(info.value)


def test_numpy_integer_sizes_are_accepted():
    assert MiniModel(np.int64(4), np.int32(2)).weights.shape == (2, 4)


def test_too_large_model_is_refused_before_allocation():
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"16,777,216 x 16,777,216 weight matrix .* at most 67,108,864 \(256 MiB\)"):
        MiniModel(MAX_DIM, MAX_DIM)
    assert time.perf_counter() - start < 1.0  # nothing was allocated
    assert MAX_PARAMETERS == 1 << 26


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        ([1, 2, 3], ValueError, "x must have length 4; received length 3"),
        (np.zeros((2, 2)), ValueError, "x must be 1-D; received shape (2, 2)"),
        ([1, 2, 3, float("nan")], ValueError, "x[3] is nan; expected a finite number"),
        ([1, float("inf"), 3, 4], ValueError, "x[1] is inf; expected a finite number"),
        (np.array([0, 0, -1e39, 0]), ValueError, "x[2] = -1e+39 is outside the float32 range"),
        (["a", "b", "c", "d"], TypeError, "x must be an array of real numbers"),
        ([1, None, 3, 4], TypeError, "x must be an array of real numbers"),
        ([[1, 2], [3]], TypeError, "x must be an array of numbers"),
        (np.ones(4, complex), TypeError, "complex128"),
        (np.ones(4, bool), TypeError, "dtype bool"),
        (5.0, TypeError, "x must be an array of numbers; received float 5.0, a scalar"),
        (None, TypeError, "received NoneType"),
    ],
)
def test_bad_predict_inputs(x, error, message):
    with pytest.raises(error) as info:
        MiniModel(4, 2).predict(x)
    assert message in str(info.value)


def test_empty_vectors_are_refused():
    with pytest.raises(ValueError, match="at least 1 element"):
        cosine_similarity([], [])


@pytest.mark.parametrize(
    ("weights", "bias", "error", "message"),
    [
        (np.ones(7), None, ValueError, "weights must have 8 values (2 x 4, row-major); received 7"),
        (np.ones((4, 2)), None, ValueError, "weights must have shape (2, 4); received shape (4, 2)"),
        (np.ones((2, 2, 2)), None, ValueError, "weights must be flat or 2-D"),
        (np.r_[np.ones(7), np.nan], None, ValueError, "weights[1, 3] is nan"),
        (np.ones(8), [1, 2, 3], ValueError, "bias must have length 2; received length 3"),
        (np.ones(8), [1, float("-inf")], ValueError, "bias[1] is -inf"),
        (np.ones(8), ["a", "b"], TypeError, "bias must be an array of real numbers"),
        ("weights", None, TypeError, "weights must be an array of numbers; received str 'weights'"),
    ],
)
def test_failed_load_weights_changes_nothing(weights, bias, error, message):
    model = MiniModel(4, 2)
    model.load_weights(np.arange(8), [1, -100])
    before = model.predict([1, 1, 1, 1])
    with pytest.raises(error) as info:
        model.load_weights(weights, bias)
    assert message in str(info.value)
    np.testing.assert_array_equal(model.predict([1, 1, 1, 1]), before)
    np.testing.assert_array_equal(before, [7, 0])


# ----------------------------------------------------------------------------- cosine


@pytest.mark.parametrize("length", [1, 2, 384, 10_000])
def test_cosine_matches_float64_reference(length):
    rng = np.random.default_rng(length)
    a = rng.standard_normal(length).astype(np.float32)
    b = (a * 0.5 + rng.standard_normal(length)).astype(np.float32)
    got = cosine_similarity(a, b)
    assert type(got) is float
    assert got == pytest.approx(reference_cosine(a, b), abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (np.full(384, 1e30, np.float32), np.full(384, 1e30, np.float32), 1.0),
        (np.full(384, 1e-30, np.float32), np.full(384, 1e-30, np.float32), 1.0),
        (np.full(384, 3.4e38, np.float32), np.full(384, -3.4e38, np.float32), -1.0),
        (np.full(8, 1e-45, np.float32), np.full(8, 1e-45, np.float32), 1.0),  # subnormals
        (np.zeros(5), np.ones(5), 0.0),
        (np.zeros(5), np.zeros(5), 0.0),
        ([-0.0, 0.0], [1, 1], 0.0),
        ([1, 0], [0, 1], 0.0),
        ([1, 2, 3], [-2, -4, -6], -1.0),
    ],
)
def test_cosine_extremes(a, b, expected):
    got = cosine_similarity(a, b)
    assert got == pytest.approx(expected, abs=1e-7)
    assert -1.0 <= got <= 1.0


def test_cosine_of_a_vector_with_itself_is_exactly_bounded():
    rng = np.random.default_rng(3)
    for _ in range(200):
        v = rng.standard_normal(rng.integers(1, 50)).astype(np.float32) * 10.0 ** rng.integers(-30, 30)
        assert -1.0 <= cosine_similarity(v, v) <= 1.0
        assert cosine_similarity(v, v) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "error", "message"),
    [
        ([1, 2], [1, 2, 3], ValueError, "a and b must have the same length; received lengths 2 and 3"),
        ([1, float("nan")], [1, 2], ValueError, "a[1] is nan"),
        ([1, 2], [float("inf"), 2], ValueError, "b[0] is inf"),
        ([1, 2], [1e300, 2], ValueError, "b[0] = 1e+300 is outside the float32 range"),
        ("ab", [1, 2], TypeError, "a must be an array of numbers; received str 'ab'"),
        ([[1, 2]], [[1, 2]], ValueError, "a must be 1-D"),
    ],
)
def test_bad_cosine_inputs(a, b, error, message):
    with pytest.raises(error) as info:
        cosine_similarity(a, b)
    assert message in str(info.value)


# ----------------------------------------------------------------------------- jsbridge


class FakeJsArray:
    """Stands in for Pyodide's JsProxy of a Float32Array: only ``assign_to`` is used."""

    def __init__(self, values):
        self.values = np.asarray(values, np.float32)

    def assign_to(self, out: np.ndarray) -> None:
        if out.nbytes != self.values.nbytes:
            raise ValueError("size mismatch")
        out[:] = self.values


def test_session_computes_through_its_buffers():
    session = ModelSession.mini(3, 2)
    session.load_weights(FakeJsArray([1, 0, 0, 0, 1, 0]), FakeJsArray([0.5, -5]))
    x_buffer, y_buffer = session.x, session.y
    session.x[:] = [2, 3, 4]
    session.predict()
    assert session.x is x_buffer and session.y is y_buffer  # JS views stay valid
    np.testing.assert_array_equal(session.y, [2.5, 0])
    session.load_weights(FakeJsArray(np.ones(6)), None)
    session.predict()
    np.testing.assert_array_equal(session.y, [9, 9])


def test_session_rejects_non_finite_weights_and_keeps_the_old_ones():
    session = ModelSession.mini(2, 1)
    session.load_weights(FakeJsArray([1, 1]), FakeJsArray([0]))
    with pytest.raises(ValueError, match=r"weights\[1\] is nan"):
        session.load_weights(FakeJsArray([1, np.nan]), None)
    session.x[:] = [1, 2]
    session.predict()
    np.testing.assert_array_equal(session.y, [3])


def test_scratch_grows_and_cosine_reads_both_halves():
    own = Scratch()
    own.reserve(10)
    first = own.array
    own.reserve(5)
    assert own.array is first  # no reallocation when it is large enough
    own.reserve(5000)
    assert own.array.size >= 5000 and own.array is not first

    a = np.array([1, 2, 3], np.float32)
    b = np.array([3, 2, 1], np.float32)
    inputs.reserve(6)
    inputs.array[:6] = np.r_[a, b]
    assert cosine_scratch(3) == pytest.approx(reference_cosine(a, b), abs=1e-12)
