// How a call split across the pool's workers cuts its vector arguments: float32Part takes
// the part without copying (a view, or an Array's slice), and prepareArgs (what
// RemoteObject._send posts) makes the one copy: the right values, as float32, in a buffer
// of the part's own, which is transferred, so a worker never touches the caller's array.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CLASSES, float32Part } from "../../web/lib/api.js";
import { prepareArgs } from "../../web/lib/remote.js";

const predictBatch = CLASSES.FeedForward.methods.predictBatch;

for (const [kind, make] of [
  ["Float32Array", (v) => Float32Array.from(v)],
  ["Float64Array", (v) => Float64Array.from(v)],
  ["Array", (v) => Array.from(v)],
]) {
  test(`a part of a ${kind}, as a worker gets it`, () => {
    const source = make([0.1, 1, 2, 3, 4, 5, -6, 1e39]);
    const part = float32Part(source, 2, 7);
    if (ArrayBuffer.isView(source)) assert.equal(part.buffer, source.buffer); // no copy yet
    else assert.ok(Array.isArray(part));
    const { values, transfer } = prepareArgs(predictBatch, [part, 5], "FeedForward.predictBatch", {});
    const sent = values[0];
    assert.ok(sent instanceof Float32Array);
    assert.deepEqual(Array.from(sent), [2, 3, 4, 5, -6]);
    assert.equal(sent.byteOffset, 0);
    assert.equal(sent.buffer.byteLength, 5 * 4);
    assert.deepEqual(transfer, [sent.buffer]);
    if (ArrayBuffer.isView(source)) assert.notEqual(sent.buffer, source.buffer);
    assert.equal(values[1], 5);
    const last = prepareArgs(predictBatch, [float32Part(source, 7, 8), 1], "w", {}).values[0];
    assert.deepEqual(Array.from(last), [Math.fround(1e39)]); // Infinity, as a float32
    assert.equal(float32Part(source, 3, 3).length, 0);
    assert.equal(prepareArgs(predictBatch, [float32Part(source, 0, 1), 1], "w", {}).values[0][0], Math.fround(0.1));
  });
}

test("a retained part (for a replacement worker) is a copy that is not transferred", () => {
  const source = Float32Array.from([1, 2, 3, 4]);
  const { values, transfer } = prepareArgs(predictBatch, [float32Part(source, 1, 3), 2], "w", { retain: true });
  assert.deepEqual(Array.from(values[0]), [2, 3]);
  assert.notEqual(values[0].buffer, source.buffer);
  assert.deepEqual(transfer, []);
  source[1] = 99; // the caller changes its array after the call: the part sent stays
  assert.equal(values[0][0], 2);
});
