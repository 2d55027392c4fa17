// How a call split across the pool's workers cuts its vector arguments (float32Part): the
// right values, as float32, in a buffer of the part's own (a worker may take it over
// without touching the caller's array).
import assert from "node:assert/strict";
import { test } from "node:test";

import { float32Part } from "../../web/lib/api.js";

for (const [kind, make] of [
  ["Float32Array", (v) => Float32Array.from(v)],
  ["Float64Array", (v) => Float64Array.from(v)],
  ["Array", (v) => Array.from(v)],
]) {
  test(`float32Part of a ${kind}`, () => {
    const source = make([0.1, 1, 2, 3, 4, 5, -6, 1e39]);
    const part = float32Part(source, 2, 7);
    assert.ok(part instanceof Float32Array);
    assert.deepEqual(Array.from(part), [2, 3, 4, 5, -6]);
    assert.equal(part.byteOffset, 0);
    assert.equal(part.buffer.byteLength, 5 * 4);
    if (ArrayBuffer.isView(source)) assert.notEqual(part.buffer, source.buffer);
    assert.deepEqual(Array.from(float32Part(source, 7, 8)), [Math.fround(1e39)]); // Infinity, as a float32
    assert.equal(float32Part(source, 3, 3).length, 0);
    assert.equal(float32Part(source, 0, 1)[0], Math.fround(0.1));
  });
}
