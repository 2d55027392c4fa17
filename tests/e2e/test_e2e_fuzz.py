"""A few hundred random and hostile calls through the JS API in Chromium, each checked
against numpy (valid input) or against the error type the API promises (invalid input)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

FLT_MAX = float(np.finfo(np.float32).max)
EPS = float(np.finfo(np.float32).eps)

# Builds JS values from plain descriptors (typed arrays, holes, BigInts cannot travel as arguments).
RUN_CASES = """(cases) => {
  const make = (d) => {
    switch (d.kind) {
      case 'f32': return new Float32Array(d.values);
      case 'f64': return new Float64Array(d.values);
      case 'array': return d.values.slice();
      case 'i32': return new Int32Array(d.values);
      case 'u8': return new Uint8Array(d.values);
      case 'bigint': return new BigInt64Array(d.values.length);
      case 'sparse': { const a = d.values.slice(); delete a[d.hole]; return a; }
      case 'badelem': { const a = d.values.slice(); a[d.at] = d.value; return a; }
      case 'nested': return [d.values];
      case 'arraylike': return { length: d.values.length, 0: 1 };
      case 'value': return d.value;
      case 'undefined': return undefined;
      case 'nan': return NaN;
      case 'inf': return Infinity;
      case 'buffer': return new Float32Array(d.values).buffer;
    }
    throw new Error('bad descriptor ' + d.kind);
  };
  return cases.map((c) => {
    const model = c.op === 'predict' || c.op === 'load' ? new mm.MiniModel(c.inSize, c.outSize) : null;
    try {
      let value;
      if (c.op === 'predict') {
        if (c.weights) model.loadWeights(new Float32Array(c.weights), new Float32Array(c.bias));
        value = Array.from(model.predict(make(c.x)));
      } else if (c.op === 'load') {
        model.loadWeights(make(c.weights), c.bias ? make(c.bias) : undefined);
        value = 'loaded';
      } else if (c.op === 'cosine') {
        value = mm.cosineSimilarity(make(c.a), make(c.b));
      } else if (c.op === 'construct') {
        const m = new mm.MiniModel(make(c.inSize), make(c.outSize));
        m.dispose();
        value = 'constructed';
      } else if (c.op === 'search') {
        const index = new mm.EmbeddingIndex(c.dim);
        try { index.add(new Float32Array(c.rows)); value = Array.from(index.search(make(c.query), make(c.k)).indices); }
        finally { index.dispose(); }
      }
      return { ok: true, value };
    } catch (e) {
      return { ok: false, name: e.constructor.name, message: String(e.message), isError: e instanceof Error };
    } finally {
      model?.dispose();
    }
  });
}"""


def special_values(rng, n):
    pool = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-38, -1e-38, 1.5, -2.25, 1e38, -1e38, 3.4e38], np.float32)
    values = rng.standard_normal(n).astype(np.float32)
    mask = rng.random(n) < 0.3
    values[mask] = rng.choice(pool, mask.sum())
    return values


def valid_predict_cases(rng, count):
    cases = []
    for _ in range(count):
        n_in, n_out = int(rng.integers(1, 65)), int(rng.integers(1, 17))
        w = special_values(rng, n_in * n_out) if rng.random() < 0.3 else rng.standard_normal(n_in * n_out).astype(np.float32)
        b = rng.standard_normal(n_out).astype(np.float32)
        x = special_values(rng, n_in)
        kind = str(rng.choice(["f32", "f64", "array"]))
        cases.append({"op": "predict", "inSize": n_in, "outSize": n_out, "weights": w.tolist(), "bias": b.tolist(),
                      "x": {"kind": kind, "values": x.tolist()}})
    return cases


def invalid_vector(rng, length, name):
    """A hostile stand-in for a vector of `length`, with the error type the API promises."""
    good = rng.standard_normal(length).tolist()
    options = [
        ({"kind": "i32", "values": [1] * length}, "TypeError", "must be a Float32Array"),
        ({"kind": "u8", "values": [1] * length}, "TypeError", "must be a Float32Array"),
        ({"kind": "bigint", "values": [0] * length}, "TypeError", "must be a Float32Array"),
        ({"kind": "buffer", "values": good}, "TypeError", "must be a Float32Array"),
        ({"kind": "value", "value": "1,2,3"}, "TypeError", "must be a Float32Array"),
        ({"kind": "value", "value": None}, "TypeError", "received null"),
        ({"kind": "undefined"}, "TypeError", "received undefined"),
        ({"kind": "value", "value": {"a": 1}}, "TypeError", "received an object"),
        ({"kind": "arraylike", "values": good}, "TypeError", "received an object"),
        ({"kind": "value", "value": 3}, "TypeError", "received number 3"),
        ({"kind": "value", "value": True}, "TypeError", "received boolean true"),
        ({"kind": "sparse", "values": good, "hole": length - 1}, "TypeError", f"{name}[{length - 1}] is missing"),
        ({"kind": "badelem", "values": good, "at": 0, "value": "0.5"}, "TypeError", f'{name}[0] is string "0.5"'),
        ({"kind": "badelem", "values": good, "at": length - 1, "value": None}, "TypeError", f"{name}[{length - 1}] is null"),
        ({"kind": "nested", "values": good}, "TypeError" if length == 1 else "RangeError", name),
        ({"kind": "f32", "values": good + [1.0]}, "RangeError", f"received length {length + 1}"),
        ({"kind": "array", "values": good[:-1]}, "RangeError", f"received length {length - 1}"),
        ({"kind": "f64", "values": good[:-1] + [1e39]}, "RangeError", "outside the float32 range"),
    ]
    descriptor, error, message = options[int(rng.integers(len(options)))]
    if rng.random() < 0.25:  # NaN or Infinity at a random place
        at = int(rng.integers(length))
        values = list(good)
        values[at] = float(rng.choice([np.nan, np.inf, -np.inf]))
        descriptor = {"kind": str(rng.choice(["f32", "f64", "array"])), "values": values}
        error, message = "RangeError", f"{name}[{at}] is"
    return descriptor, error, message


def bad_size(rng):
    options = [
        ({"kind": "value", "value": 0}, "received number 0"),
        ({"kind": "value", "value": -1}, "received number -1"),
        ({"kind": "value", "value": 2.5}, "received number 2.5"),
        ({"kind": "value", "value": 2**31}, "must be at most"),
        ({"kind": "nan"}, "received number NaN"),
        ({"kind": "inf"}, "received number Infinity"),
        ({"kind": "value", "value": "8"}, 'received string "8"'),
        ({"kind": "value", "value": None}, "received null"),
        ({"kind": "undefined"}, "received undefined"),
        ({"kind": "value", "value": True}, "received boolean true"),
        ({"kind": "value", "value": [8]}, "received an Array of length 1"),
        ({"kind": "value", "value": {}}, "received an object"),
    ]
    return options[int(rng.integers(len(options)))]


def test_hundreds_of_random_and_hostile_calls(api):
    rng = np.random.default_rng(20261127)
    cases, expected = [], []

    for case in valid_predict_cases(rng, 120):
        cases.append(case)
        expected.append(("predict", case))
    for _ in range(120):
        n_in, n_out = int(rng.integers(1, 9)), int(rng.integers(1, 5))
        x, error, message = invalid_vector(rng, n_in, "x")
        cases.append({"op": "predict", "inSize": n_in, "outSize": n_out, "x": x})
        expected.append(("error", error, message))
    for _ in range(60):
        n_in, n_out = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        w, error, message = invalid_vector(rng, n_in * n_out, "weights")
        cases.append({"op": "load", "inSize": n_in, "outSize": n_out, "weights": w})
        expected.append(("error", error, message))
    for _ in range(60):
        n = int(rng.integers(1, 400))
        a, b = special_values(rng, n), special_values(rng, n)
        cases.append({"op": "cosine", "a": {"kind": "f32", "values": a.tolist()}, "b": {"kind": "array", "values": b.tolist()}})
        expected.append(("cosine", a, b))
    for _ in range(40):
        n = int(rng.integers(1, 20))
        b, error, message = invalid_vector(rng, n, "b")
        cases.append({"op": "cosine", "a": {"kind": "f32", "values": [1.0] * n}, "b": b})
        expected.append(("error", error, message))
    for _ in range(40):
        size, message = bad_size(rng)
        if rng.random() < 0.5:
            cases.append({"op": "construct", "inSize": size, "outSize": {"kind": "value", "value": 3}})
        else:
            cases.append({"op": "construct", "inSize": {"kind": "value", "value": 3}, "outSize": size})
        expected.append(("error", "RangeError", message))
    for _ in range(20):
        k, message = bad_size(rng)
        if "at most" in message:
            continue
        cases.append({"op": "search", "dim": 3, "rows": [1, 0, 0, 0, 1, 0], "query": {"kind": "array", "values": [1, 0, 0]}, "k": k})
        expected.append(("error", "RangeError", message))

    results = api.evaluate(RUN_CASES, cases)
    assert len(results) == len(cases) > 400
    for case, want, got in zip(cases, expected, results, strict=True):
        if want[0] == "predict":
            w = np.array(case["weights"], np.float32).reshape(case["outSize"], case["inSize"]).astype(np.float64)
            b = np.array(case["bias"], np.float32).astype(np.float64)
            x = np.array(case["x"]["values"], np.float32).astype(np.float64)
            ref = np.maximum(w @ x + b, 0)
            bound = np.abs(w) @ np.abs(x) + np.abs(b)
            if got["ok"]:
                assert np.all(np.abs(np.array(got["value"]) - ref) <= 2 * (x.size + 2) * EPS * bound + 1e-37), case
            else:
                assert got["name"] == "RangeError" and "overflows float32" in got["message"], got
                assert bound.max() > FLT_MAX / 4
        elif want[0] == "cosine":
            assert got["ok"], got
            a64, b64 = want[1].astype(np.float64), want[2].astype(np.float64)
            na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
            ref = 0.0 if na == 0 or nb == 0 else float(np.clip((a64 / na) @ (b64 / nb), -1, 1))
            assert got["value"] == pytest.approx(ref, abs=1e-9)
        else:
            _, error, message = want
            assert not got["ok"], (case, got)
            assert got["isError"] and got["name"] == error, (case, got)
            assert message in got["message"], (case, got)
            assert "Traceback" not in got["message"]
