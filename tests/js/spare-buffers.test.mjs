// The spare buffers a worker hands back (spare-buffers.js): a copy takes one of exactly
// its size, overwrites every value, and never a buffer that is not a plain, fixed-size
// ArrayBuffer of at least 64 KiB; what is kept stays within its limits.
import assert from "node:assert/strict";
import { test } from "node:test";

import { float32Buffer, float32Copy, float32Snapshot, keepSpare, spareStats, worthKeeping } from "../../web/lib/spare-buffers.js";

const KIB64 = 64 << 10;

/** Take every spare buffer of these byte lengths, so each test starts from none. */
function drain(...byteLengths) {
  for (const n of byteLengths) while (true) {
    const before = spareStats().buffers;
    float32Copy(new Float32Array(n / 4));
    if (spareStats().buffers === before) break;
  }
}

test("a copy reuses a kept buffer of exactly its size and overwrites every value", () => {
  drain(KIB64, KIB64 - 4);
  const n = KIB64 / 4;
  const old = new Float32Array(n).fill(9);
  keepSpare([old.buffer]);
  assert.deepEqual(spareStats(), { buffers: 1, bytes: KIB64 });
  const other = float32Copy(new Float32Array(n - 1).fill(1)); // 4 bytes shorter: not that buffer
  assert.notEqual(other.buffer, old.buffer);
  const ramp = Array.from({ length: n }, (_, i) => i * 0.1 - 3);
  for (const values of [ramp, Float64Array.from(ramp), Float32Array.from(ramp)]) {
    keepSpare([old.buffer]);
    const copy = float32Copy(values);
    assert.equal(copy.buffer, old.buffer);
    assert.equal(copy.length, n);
    assert.deepEqual(Array.from(copy), Array.from(Float32Array.from(ramp)));
    assert.equal(spareStats().buffers, 0);
  }
  assert.notEqual(float32Copy(ramp).buffer, old.buffer, "a buffer is given out once");
});

test("only plain, fixed-size buffers of 64 KiB or more are kept, each once, within the limits", () => {
  drain(KIB64, 1 << 20, 4 << 20);
  const buffer = new ArrayBuffer(KIB64);
  const detached = new ArrayBuffer(KIB64);
  structuredClone(detached, { transfer: [detached] });
  const refused = [detached, new ArrayBuffer(KIB64 - 4), new ArrayBuffer(KIB64, { maxByteLength: 2 * KIB64 }),
    new SharedArrayBuffer(KIB64), new Float32Array(KIB64 / 4), null, "x"];
  for (const r of refused) assert.equal(worthKeeping(r), false);
  keepSpare([buffer, buffer, ...refused]);
  assert.deepEqual(spareStats(), { buffers: 1, bytes: KIB64 });
  drain(KIB64);
  keepSpare(Array.from({ length: 12 }, () => new ArrayBuffer(1 << 20)));
  assert.equal(spareStats().buffers, 8, "at most 8 of one size");
  keepSpare(Array.from({ length: 4 }, () => new ArrayBuffer(4 << 20)));
  assert.ok(spareStats().bytes <= 16 << 20, "at most 16 MiB in all");
  drain(1 << 20, 4 << 20);
  assert.deepEqual(spareStats(), { buffers: 0, bytes: 0 });
});

test("a small copy never takes a kept buffer", () => {
  assert.deepEqual(Array.from(float32Copy([1, 2, 3])), [1, 2, 3]);
});

test("an empty buffer of a length takes a kept one of exactly that size", () => {
  drain(KIB64);
  const old = new Float32Array(KIB64 / 4).fill(7);
  keepSpare([old.buffer]);
  assert.equal(float32Buffer(KIB64 / 4 - 1).buffer === old.buffer, false);
  const taken = float32Buffer(KIB64 / 4);
  assert.equal(taken.buffer, old.buffer);
  assert.equal(taken.length, KIB64 / 4);
  assert.equal(spareStats().buffers, 0);
  assert.deepEqual(Array.from(float32Buffer(3)), [0, 0, 0]);
});

test("batched calls' snapshots keep their own values however many share a slab, and stay put when the caller's array changes", () => {
  // Sizes that do not divide the 64 KiB slab, so copies end near its end and the next
  // one starts a new slab; then one too big for a slab (an eighth of it or more).
  const sizes = [128, 384, 1000, 3, 1, 2048, 7];
  const copies = [];
  for (let i = 0; i < 400; i++) {
    const n = sizes[i % sizes.length];
    const source = Float32Array.from({ length: n }, (_, j) => i * 10_000 + j + 0.5);
    const copy = float32Snapshot(source);
    source.fill(-1); // the caller reuses its array at once
    copies.push([i, n, copy]);
  }
  const slabs = new Set();
  for (const [i, n, copy] of copies) {
    assert.equal(copy.length, n);
    assert.ok(copy.byteOffset % 4 === 0 && copy.byteOffset + copy.byteLength <= copy.buffer.byteLength);
    for (let j = 0; j < n; j++) assert.equal(copy[j], i * 10_000 + j + 0.5, `copy ${i}, value ${j}`);
    slabs.add(copy.buffer);
  }
  assert.ok(slabs.size > 1 && slabs.size < copies.length, `${slabs.size} slabs for ${copies.length} copies`);
  // No two copies overlap in one slab.
  const bySlab = new Map();
  for (const [, , copy] of copies) bySlab.set(copy.buffer, [...(bySlab.get(copy.buffer) ?? []), [copy.byteOffset, copy.byteOffset + copy.byteLength]]);
  for (const ranges of bySlab.values()) {
    ranges.sort((a, b) => a[0] - b[0]);
    for (let k = 1; k < ranges.length; k++) assert.ok(ranges[k][0] >= ranges[k - 1][1]);
  }
  const big = float32Snapshot(new Float32Array(KIB64 / 32 + 1).fill(2));
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, big.byteLength); // a buffer of its own
  assert.ok(big.every((v) => v === 2));
  const plain = float32Snapshot([1.5, -2, 3]); // an Array too
  assert.deepEqual(Array.from(plain), [1.5, -2, 3]);
});
