// The check of this browser's own cache entries (runtime-cache.js): it guards against
// damage in storage (a torn write, a flipped bit), not against an attacker, who could as
// well change the page's own scripts in the same origin. It replaced SHA-256 because
// Chromium computes crypto.subtle.digest on the page's own thread: 53-70 ms for a repeat
// visit's 33 MB (the packed snapshot and the package files), in the middle of the runtime's
// start, against 14-22 ms for this (CPU profiles of repeat visits). The site's own files
// (wheels, snapshot) are still checked against the sha256 values the build lists.

const SEEDS = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344];

/**
 * MurmurHash3's 32-bit block step: for a fixed word it is a bijection of the state, and
 * for a fixed state a bijection of the word (multiplications by odd constants, rotations
 * and xors, each invertible).
 * @param {number} h @param {number} word @returns {number}
 */
function step(h, word) {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finalizer (a bijection). @param {number} h */
function finish(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The checksum of `bytes`, as hex: their length, then four 32-bit lanes. The bytes,
 * zero-padded to a multiple of 16, are read as 32-bit words, and lane i is MurmurHash3
 * (x86, 32-bit; seed SEEDS[i]) of words i, i + 4, i + 8, ... (the tests compare it with the
 * reference implementation). What it catches, by construction:
 *  - any change of length (it is part of the result);
 *  - any change confined to one word, every flipped bit included: the lane's state differs
 *    after that word, and every later step and the finalizer are bijections of the state;
 *  - any damage that changes at most one word of each lane, for the same reason;
 *  - other damage unless every lane it changes two or more words of collides, about one
 *    chance in 2^32 a lane: a damaged run of 32 bytes or more (a storage block) changes
 *    two words of every lane, about one chance in 2^128.
 * Computed and checked by the same browser, so the platform's byte order does not matter.
 * @param {ArrayBuffer | Uint8Array} bytes
 * @returns {string}
 */
export function checksum(bytes) {
  let view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  if (view.byteOffset % 4 !== 0) view = view.slice(); // Int32Array views need aligned offsets
  const length = view.byteLength;
  const blocks = length >>> 4; // whole 16-byte blocks: one word for each lane
  const words = new Int32Array(view.buffer, view.byteOffset, blocks * 4);
  let [a, b, c, d] = SEEDS;
  // Four lanes at once, so that their chains of multiplications overlap.
  for (let i = 0, n = words.length; i < n; i += 4) {
    a = step(a, words[i]);
    b = step(b, words[i + 1]);
    c = step(c, words[i + 2]);
    d = step(d, words[i + 3]);
  }
  let laneBytes = blocks * 4;
  if (length % 16) {
    const last = new Uint8Array(16);
    last.set(view.subarray(blocks * 16));
    const [w0, w1, w2, w3] = new Int32Array(last.buffer);
    [a, b, c, d] = [step(a, w0), step(b, w1), step(c, w2), step(d, w3)];
    laneBytes += 4;
  }
  const hex = (/** @type {number} */ h) => finish(h ^ laneBytes).toString(16).padStart(8, "0");
  return `${length.toString(16)}-${hex(a)}${hex(b)}${hex(c)}${hex(d)}`;
}
