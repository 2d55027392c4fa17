// validate.js's scan for NaN and infinities in a Float32Array (firstNonFinite32, which reads
// the values' bits eight at a time) against Number.isFinite value by value.
import assert from "node:assert/strict";
import { test } from "node:test";

import { checkVector, firstNonFinite32 } from "../../web/lib/validate.js";

const reference = (v) => Array.from(v).findIndex((x) => !Number.isFinite(x));

test("the first non-finite value, wherever it sits, of every kind, among finite edge values", () => {
  const finite = [0, -0, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, 1, -2.5];
  for (const bad of [Number.NaN, Infinity, -Infinity]) {
    for (let n = 1; n <= 21; n++) {
      for (let at = 0; at < n; at++) {
        const v = Float32Array.from({ length: n }, (_, i) => finite[i % finite.length]);
        v[at] = bad;
        if (at + 3 < n) v[at + 3] = Number.NaN; // a later one does not win
        assert.equal(firstNonFinite32(v), at, `${bad} at ${at} of ${n}`);
      }
      assert.equal(firstNonFinite32(Float32Array.from({ length: n }, (_, i) => finite[i % finite.length])), -1);
    }
  }
  assert.equal(firstNonFinite32(new Float32Array(0)), -1);
  // NaNs with other payloads and signs (all exponent bits set, any mantissa)
  const bits = new Uint32Array([0x3f800000, 0xffc00001, 0x7f800001, 0x7fffffff]);
  assert.equal(firstNonFinite32(new Float32Array(bits.buffer)), 1);
});

test("a view into a larger buffer is scanned over its own values only", () => {
  const whole = new Float32Array(40).fill(1);
  whole[3] = Number.NaN; // before the view
  whole[35] = Infinity; // after it
  const view = whole.subarray(5, 30);
  assert.equal(firstNonFinite32(view), -1);
  whole[17] = -Infinity;
  assert.equal(firstNonFinite32(view), 12);
  for (let trial = 0; trial < 200; trial++) {
    const v = Float32Array.from({ length: 1 + (trial % 37) }, () => Math.random() - 0.5);
    if (trial % 3 === 0) v[(trial * 7) % v.length] = trial % 2 ? Number.NaN : -Infinity;
    assert.equal(firstNonFinite32(v), reference(v));
  }
});

test("checkVector names the first non-finite value of a Float32Array", () => {
  const v = new Float32Array(20);
  v[13] = Number.NaN;
  v[17] = Infinity;
  assert.throws(() => checkVector(v, "inputs", "FeedForward.predictBatch", 20, ""), (e) => {
    assert.match(e.message, /^FeedForward\.predictBatch: inputs\[13\] /);
    return true;
  });
});
