// The startup cache's packed snapshot (web/lib/sparse-heap.js): packing drops exactly the
// all-zero pages, unpacking into a zeroed buffer gives back every byte, and malformed input
// is refused before anything is written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PAGE_SIZE, packPages, unpackPages } from "../../web/lib/sparse-heap.js";

/** A buffer of `length` bytes with non-zero bytes at the given offsets. */
function withBytesAt(length, offsets) {
  const bytes = new Uint8Array(length);
  for (const at of offsets) bytes[at] = (at % 255) + 1;
  return bytes;
}

function roundTrip(bytes) {
  const packed = packPages(bytes);
  const out = new Uint8Array(bytes.length);
  unpackPages(packed, out);
  assert.deepEqual(out, bytes);
  return packed;
}

test("only pages with a non-zero byte are kept, and unpacking restores every byte", () => {
  const length = 10 * PAGE_SIZE + 123; // a short last page
  const bytes = withBytesAt(length, [0, PAGE_SIZE - 1, 3 * PAGE_SIZE + 7, 10 * PAGE_SIZE + 122]);
  const packed = roundTrip(bytes);
  // pages 0, 3 and the short last one: 2 full pages + 123 bytes, plus the index
  assert.equal(packed.length, 4 + 4 * 3 + 2 * PAGE_SIZE + 123);
});

test("edge cases: all zeros, no zeros, a single byte, odd lengths, random data", () => {
  assert.equal(roundTrip(new Uint8Array(5 * PAGE_SIZE)).length, 4);
  roundTrip(new Uint8Array(3 * PAGE_SIZE).fill(7));
  roundTrip(withBytesAt(1, [0]));
  roundTrip(new Uint8Array(0));
  for (const length of [PAGE_SIZE - 1, PAGE_SIZE + 1, 7 * PAGE_SIZE + 3]) {
    roundTrip(withBytesAt(length, [length - 1]));
  }
  let seed = 1;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const bytes = new Uint8Array(64 * PAGE_SIZE + 17);
  for (let i = 0; i < 300; i++) bytes[random() % bytes.length] = random() % 256;
  roundTrip(bytes);
  // a view at an odd offset (the word-wise zero test needs alignment; the byte one does not)
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  roundTrip(shifted.subarray(1));
});

test("malformed packed bytes are refused and nothing is written", () => {
  const bytes = withBytesAt(4 * PAGE_SIZE, [5, 2 * PAGE_SIZE]);
  const packed = packPages(bytes);
  const cases = {
    empty: new Uint8Array(0),
    "cut short": packed.subarray(0, packed.length - 1),
    "one byte too many": Uint8Array.from([...packed, 0]),
    "too many pages": (() => { const p = packed.slice(); new DataView(p.buffer).setUint32(0, 99, true); return p; })(),
    "pages out of order": (() => { const p = packed.slice(); const v = new DataView(p.buffer); v.setUint32(4, 2, true); v.setUint32(8, 0, true); return p; })(),
    "page out of range": (() => { const p = packed.slice(); new DataView(p.buffer).setUint32(8, 4, true); return p; })(),
  };
  for (const [name, bad] of Object.entries(cases)) {
    const out = new Uint8Array(bytes.length);
    assert.throws(() => unpackPages(bad, out), /the packed snapshot is malformed/, name);
    assert.ok(out.every((b) => b === 0), `${name}: nothing written`);
  }
});
