"""The JS API in headless Chromium, against numpy references computed here in CPython."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.e2e


def f32(values) -> list[float]:
    """Values as the float32 numbers JS will hold, as a JSON-friendly list."""
    return np.asarray(values, dtype=np.float32).astype(np.float64).tolist()


def reference_predict(weights, bias, x) -> np.ndarray:
    w = np.asarray(weights, np.float32).astype(np.float64)
    b = np.asarray(bias, np.float32).astype(np.float64)
    return np.maximum(w @ np.asarray(x, np.float32).astype(np.float64) + b, 0.0)


def reference_cosine(a, b) -> float:
    a = np.asarray(a, np.float32).astype(np.float64)
    b = np.asarray(b, np.float32).astype(np.float64)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return 0.0 if norms == 0 else float(a @ b / norms)


PREDICT_JS = """([inSize, outSize, w, b, x, kind]) => {
  const as = (v) => kind === 'f32' ? new Float32Array(v) : kind === 'f64' ? new Float64Array(v) : v;
  const model = new mm.MiniModel(inSize, outSize);
  try {
    if (w !== null) model.loadWeights(as(w), b === null ? undefined : as(b));
    const y = model.predict(as(x));
    return { type: y.constructor.name, values: Array.from(y) };
  } finally { model.dispose(); }
}"""


def test_default_model_gives_064(api):
    result = api.evaluate(
        """() => {
          const model = new mm.MiniModel(128, 10);
          const y = model.predict(new Float32Array(128).fill(0.5));
          const sizes = [model.inputSize, model.outputSize];
          model.dispose();
          return { type: y.constructor.name, values: Array.from(y), sizes };
        }"""
    )
    assert result["type"] == "Float32Array"
    assert result["sizes"] == [128, 10]
    np.testing.assert_allclose(result["values"], np.full(10, 0.64), rtol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (128, 10), (33, 70), (784, 256)])
@pytest.mark.parametrize("kind", ["f32", "f64", "array"])
def test_predict_matches_numpy(api, shape, kind):
    in_size, out_size = shape
    rng = np.random.default_rng(in_size * 1000 + out_size)
    w = rng.standard_normal((out_size, in_size)).astype(np.float32)
    b = rng.standard_normal(out_size).astype(np.float32)
    x = rng.standard_normal(in_size).astype(np.float32)
    got = api.evaluate(PREDICT_JS, [in_size, out_size, f32(w.ravel()), f32(b), f32(x), kind])
    assert got["type"] == "Float32Array"
    expected = reference_predict(w, b, x)
    assert (expected > 0).any() and (expected == 0).any() or out_size < 4
    np.testing.assert_allclose(got["values"], expected, rtol=1e-5, atol=1e-5 * np.sqrt(in_size))


def test_load_weights_without_bias_means_zero_bias(api):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((6, 4)).astype(np.float32)
    x = rng.standard_normal(4).astype(np.float32)
    got = api.evaluate(PREDICT_JS, [4, 6, f32(w.ravel()), None, f32(x), "f32"])
    np.testing.assert_allclose(got["values"], reference_predict(w, np.zeros(6), x), rtol=1e-6, atol=1e-7)


def test_results_are_fresh_arrays_and_inputs_untouched(api):
    result = api.evaluate(
        """() => {
          const model = new mm.MiniModel(3, 2);
          const w = new Float32Array([1, 0, 0, 0, 1, 0]);
          model.loadWeights(w, [0, 0]);
          w.fill(100);                         // the model copied the weights
          const x1 = new Float32Array([1, 2, 3]);
          const y1 = model.predict(x1);
          const y2 = model.predict([4, 5, 6]);
          const y1Again = Array.from(y1);
          y2[0] = -1;                          // the caller owns its result
          const y3 = model.predict([4, 5, 6]);
          model.dispose();
          return { y1: y1Again, y3: Array.from(y3), x1: Array.from(x1), w: Array.from(w),
                   distinct: y1.buffer !== y2.buffer && y2.buffer !== y3.buffer,
                   ownBuffer: y1.buffer.byteLength === 8 };
        }"""
    )
    assert result["y1"] == [1.0, 2.0]
    assert result["y3"] == [4.0, 5.0]
    assert result["x1"] == [1.0, 2.0, 3.0]
    assert result["w"] == [100.0] * 6
    assert result["distinct"] and result["ownBuffer"]


@pytest.mark.parametrize("length", [1, 3, 384, 5000])
@pytest.mark.parametrize("kind", ["f32", "f64", "array"])
def test_cosine_matches_numpy(api, length, kind):
    rng = np.random.default_rng(length)
    a = rng.standard_normal(length).astype(np.float32)
    b = (0.3 * a + rng.standard_normal(length)).astype(np.float32)
    got = api.evaluate(
        """([a, b, kind]) => {
          const as = (v) => kind === 'f32' ? new Float32Array(v) : kind === 'f64' ? new Float64Array(v) : v;
          return mm.cosineSimilarity(as(a), as(b));
        }""",
        [f32(a), f32(b), kind],
    )
    assert isinstance(got, float | int)
    assert got == pytest.approx(reference_cosine(a, b), abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("new Float32Array(384).fill(1e30)", "new Float32Array(384).fill(1e30)", 1.0),
        ("new Float32Array(384).fill(1e-30)", "new Float32Array(384).fill(1e-30)", 1.0),
        ("new Float32Array(384).fill(3e38)", "new Float32Array(384).fill(-3e38)", -1.0),
        ("new Float32Array(16).fill(1e-45)", "new Float32Array(16).fill(1e-45)", 1.0),
        ("new Float32Array(8)", "new Float32Array(8).fill(1)", 0.0),
        ("[0, 0, 0]", "[0, 0, 0]", 0.0),
        ("[1, 0]", "[0, 1]", 0.0),
        ("[1, 2, 3]", "[2, 4, 6]", 1.0),
    ],
)
def test_cosine_extremes(api, a, b, expected):
    assert api.evaluate(f"() => mm.cosineSimilarity({a}, {b})") == pytest.approx(expected, abs=1e-7)


# The call is pasted into the function's source: the page's CSP forbids eval/new Function.
ERROR_JS = """() => {
  const model = new mm.MiniModel(4, 2);
  try {
    %s;
    return null;
  } catch (e) {
    return { name: e.constructor.name, message: e.message, isError: e instanceof Error };
  } finally { model.dispose(); }
}"""

BAD_CALLS = [
    # sizes
    ("new mm.MiniModel(0, 5)", "RangeError", "new MiniModel: inputSize must be a positive integer Number; received number 0"),
    ("new mm.MiniModel(-1, 5)", "RangeError", "received number -1"),
    ("new mm.MiniModel(2.5, 5)", "RangeError", "received number 2.5"),
    ("new mm.MiniModel(NaN, 5)", "RangeError", "received number NaN"),
    ("new mm.MiniModel('8', 5)", "RangeError", 'received string "8"'),
    ("new mm.MiniModel(8, null)", "RangeError", "outputSize must be a positive integer Number; received null"),
    ("new mm.MiniModel(8)", "RangeError", "outputSize must be a positive integer Number; received undefined"),
    ("new mm.MiniModel(2 ** 31, 1)", "RangeError", "inputSize must be at most 16777216; received 2147483648"),
    ("new mm.MiniModel(100000, 100000)", "RangeError", "has 10000000000 weights; at most 67108864 (256 MiB)"),
    # predict types
    ("model.predict(new Int32Array(4))", "TypeError", "x must be a Float32Array, a Float64Array or an Array of numbers; received Int32Array(4)"),
    ("model.predict('1,2,3,4')", "TypeError", 'received string "1,2,3,4"'),
    ("model.predict(null)", "TypeError", "received null"),
    ("model.predict()", "TypeError", "received undefined"),
    ("model.predict({length: 4})", "TypeError", "received an object"),
    ("model.predict([1, '2', 3, 4])", "TypeError", 'x[1] is string "2"; expected a number'),
    ("model.predict([1, 2, , 4])", "TypeError", "x[2] is missing (a sparse Array)"),
    ("model.predict([1, 2, 3, null])", "TypeError", "x[3] is null; expected a number"),
    # predict lengths and values
    ("model.predict(new Float32Array(3))", "RangeError", "MiniModel.predict: x must have length 4 (the model's inputSize); received length 3"),
    ("model.predict([])", "RangeError", "received length 0"),
    ("model.predict([0, 0, 0, NaN])", "RangeError", "x[3] is NaN; expected a finite number"),
    ("model.predict(new Float32Array([0, Infinity, 0, 0]))", "RangeError", "x[1] is Infinity"),
    ("model.predict(new Float64Array([0, 0, -Infinity, 0]))", "RangeError", "x[2] is -Infinity"),
    ("model.predict(new Float64Array([0, 1e39, 0, 0]))", "RangeError", "x[1] = 1e+39 is outside the float32 range"),
    # loadWeights
    ("model.loadWeights(new Float32Array(7))", "RangeError", "weights must have length 8 (outputSize x inputSize = 2 x 4); received length 7"),
    ("model.loadWeights(new Float32Array(8), [1, 2, 3])", "RangeError", "bias must have length 2 (the model's outputSize); received length 3"),
    ("model.loadWeights(new Float32Array(8), 'x')", "TypeError", "bias must be a Float32Array"),
    ("model.loadWeights(new Uint8Array(8))", "TypeError", "weights must be a Float32Array"),
    ("model.loadWeights([1, 2, 3, 4, 5, 6, 7, NaN])", "RangeError", "weights[7] is NaN"),
    # cosine
    ("mm.cosineSimilarity([1, 2], [1, 2, 3])", "RangeError", "cosineSimilarity: b must have length 2 (the length of a); received length 3"),
    ("mm.cosineSimilarity([], [])", "RangeError", "a must have at least 1 element"),
    ("mm.cosineSimilarity(new Int32Array(2), [1, 2])", "TypeError", "a must be a Float32Array"),
    ("mm.cosineSimilarity([1, 2], 'ab')", "TypeError", "b must be a Float32Array"),
    ("mm.cosineSimilarity([1, NaN], [1, 2])", "RangeError", "a[1] is NaN"),
    ("mm.cosineSimilarity([1, 2], [Infinity, 2])", "RangeError", "b[0] is Infinity"),
]


@pytest.mark.parametrize(("expr", "error", "message"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_gives_clear_error(api, expr, error, message):
    got = api.evaluate(ERROR_JS % expr)
    assert got is not None, f"{expr} did not throw"
    assert got["isError"]
    assert got["name"] == error, got["message"]
    assert message in got["message"]
    assert "Traceback" not in got["message"]


def test_failed_load_weights_keeps_previous_weights(api):
    result = api.evaluate(
        """() => {
          const model = new mm.MiniModel(2, 2);
          model.loadWeights([1, 2, 3, 4], [0.5, -0.5]);
          const before = Array.from(model.predict([1, 1]));
          const errors = [];
          for (const bad of [() => model.loadWeights([9, 9, 9, NaN], [0, 0]),
                             () => model.loadWeights([9, 9, 9, 9], [0, NaN]),
                             () => model.loadWeights([9, 9, 9])]) {
            try { bad(); } catch (e) { errors.push(e.constructor.name); }
          }
          const after = Array.from(model.predict([1, 1]));
          model.dispose();
          return { before, after, errors };
        }"""
    )
    assert result["errors"] == ["RangeError"] * 3
    assert result["before"] == result["after"] == [3.5, 6.5]


def test_dispose_is_final_and_idempotent(api):
    result = api.evaluate(
        """() => {
          const model = new mm.MiniModel(4, 2);
          model.dispose();
          model.dispose();
          const errors = [];
          for (const call of [() => model.predict([1, 2, 3, 4]), () => model.loadWeights(new Float32Array(8))]) {
            try { call(); } catch (e) { errors.push(e.constructor.name + ': ' + e.message); }
          }
          return { errors, sizes: [model.inputSize, model.outputSize] };
        }"""
    )
    assert result["errors"] == [
        "Error: MiniModel.predict: this model has been disposed",
        "Error: MiniModel.loadWeights: this model has been disposed",
    ]
    assert result["sizes"] == [4, 2]


def test_no_proxy_leak_over_many_calls(api):
    result = api.evaluate(
        """() => {
          const before = mm.debugStats();
          const model = new mm.MiniModel(128, 10);
          const x = new Float32Array(128).fill(0.25);
          const q = new Float32Array(384).fill(0.5), d = new Float32Array(384).fill(0.25);
          for (let i = 0; i < 10000; i++) { model.predict(x); mm.cosineSimilarity(q, d); }
          for (let i = 0; i < 200; i++) {
            const m = new mm.MiniModel(16, 4); m.loadWeights(new Float32Array(64)); m.predict(new Float32Array(16)); m.dispose();
          }
          for (let i = 0; i < 200; i++) { try { model.predict([1]); } catch (e) {} }
          model.dispose();
          const after = mm.debugStats();
          return { before: before.liveProxies, after: after.liveProxies };
        }"""
    )
    assert result["before"] == result["after"]


def test_views_survive_wasm_memory_growth(api):
    """A big allocation grows (and so detaches) the wasm memory; older models keep working."""
    result = api.evaluate(
        """() => {
          const small = new mm.MiniModel(3, 2);
          small.loadWeights([1, 0, 0, 0, 1, 0], [1, 1]);
          const first = Array.from(small.predict([1, 2, 3]));
          const heapBefore = mm.debugStats().heapBytes;
          const big = new mm.MiniModel(4096, 4096);
          big.loadWeights(new Float32Array(4096 * 4096).fill(0.25));
          const bigOut = big.predict(new Float32Array(4096).fill(1))[4095];
          const heapAfter = mm.debugStats().heapBytes;
          const second = Array.from(small.predict([1, 2, 3]));
          const cos = mm.cosineSimilarity([1, 0], [1, 1]);
          big.dispose(); small.dispose();
          return { first, second, bigOut, grew: heapAfter > heapBefore, cos };
        }"""
    )
    assert result["grew"]
    assert result["first"] == result["second"] == [2.0, 3.0]
    assert result["bigOut"] == 1024.0
    assert result["cos"] == pytest.approx(2**-0.5)


def test_init_is_idempotent(api):
    result = api.evaluate(
        """async () => {
          const [a, b] = await Promise.all([mm.init(), mm.init()]);
          const seen = [];
          const c = await mm.init({ onProgress: (p) => seen.push(p.stage) });
          return { same: JSON.stringify(a) === JSON.stringify(b) && JSON.stringify(b) === JSON.stringify(c),
                   info: c, seen };
        }"""
    )
    assert result["same"]
    info = result["info"]
    assert isinstance(info.pop("fromCache"), bool)
    assert info.pop("startedFrom") in ("cache", "site", "boot")
    assert info == {"pyodideVersion": "0.27.7", "pythonVersion": "3.12.7", "numpyVersion": "2.0.2", "kernelBuild": "relaxed-simd"}
    assert result["seen"] == ["ready"]


def test_init_rejects_bad_options(api):
    result = api.evaluate(
        """async () => {
          const out = [];
          for (const options of [null, 5, { onProgress: 'x' }, { cache: 'no' }, { cache: 0 }]) {
            try { await mm.init(options); out.push(null); } catch (e) { out.push(e.constructor.name + ': ' + e.message); }
          }
          return out;
        }"""
    )
    assert result == [
        "TypeError: init: options must be an object; received null",
        "TypeError: init: options must be an object; received number 5",
        'TypeError: init: onProgress must be a function; received string "x"',
        'TypeError: init: cache must be true or false; received string "no"',
        "TypeError: init: cache must be true or false; received number 0",
    ]
