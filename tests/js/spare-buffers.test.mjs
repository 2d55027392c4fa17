// The spare buffers a worker hands back (spare-buffers.js): a copy takes one of exactly
// its size, overwrites every value, and never a buffer that is not a plain, non-empty,
// fixed-size ArrayBuffer; what is kept stays within its limits.
import assert from "node:assert/strict";
import { test } from "node:test";

import { float32Copy, keepSpare, spareStats } from "../../web/lib/spare-buffers.js";

/** Take every spare buffer of these byte lengths, so each test starts from none. */
function drain(...byteLengths) {
  for (const n of byteLengths) while (true) {
    const before = spareStats().buffers;
    float32Copy(new Float32Array(n / 4));
    if (spareStats().buffers === before) break;
  }
}

test("a copy reuses a kept buffer of exactly its size and overwrites every value", () => {
  drain(16, 12);
  const old = new Float32Array([9, 9, 9, 9]);
  keepSpare([old.buffer]);
  assert.deepEqual(spareStats(), { buffers: 1, bytes: 16 });
  const other = float32Copy([1, 2, 3]); // 12 bytes: not that buffer
  assert.notEqual(other.buffer, old.buffer);
  assert.deepEqual(Array.from(other), [1, 2, 3]);
  for (const values of [[1, 2, 3, 4], Float64Array.from([0.1, -2, 3e38, 5]), Float32Array.from([5, 6, 7, 8])]) {
    keepSpare([old.buffer]);
    const copy = float32Copy(values);
    assert.equal(copy.buffer, old.buffer);
    assert.deepEqual(Array.from(copy), Array.from(Float32Array.from(values)));
    assert.equal(spareStats().buffers, 0);
  }
  assert.notEqual(float32Copy([1, 2, 3, 4]).buffer, old.buffer, "a buffer is given out once");
});

test("only plain, non-empty, fixed-size buffers are kept, each once, within the limits", () => {
  drain(8, 1 << 20, 4 << 20);
  const buffer = new ArrayBuffer(8);
  const detached = new ArrayBuffer(8);
  structuredClone(detached, { transfer: [detached] });
  keepSpare([buffer, buffer, detached, new ArrayBuffer(0), new ArrayBuffer(8, { maxByteLength: 16 }),
    new SharedArrayBuffer(8), new Float32Array(2), null, "x"]);
  assert.deepEqual(spareStats(), { buffers: 1, bytes: 8 });
  drain(8);
  keepSpare(Array.from({ length: 12 }, () => new ArrayBuffer(1 << 20)));
  assert.equal(spareStats().buffers, 8, "at most 8 of one size");
  keepSpare(Array.from({ length: 4 }, () => new ArrayBuffer(4 << 20)));
  assert.ok(spareStats().bytes <= 16 << 20, "at most 16 MiB in all");
  drain(1 << 20, 4 << 20);
  assert.deepEqual(spareStats(), { buffers: 0, bytes: 0 });
});
