// ArrayBuffers the workers hand back, reused for the next calls' copies.
//
// A call's vector argument is copied into a buffer of its own, which is transferred to
// the worker (remote.js prepareArgs). Copying 1.6 MB into a new buffer took 1.0-1.3 ms on
// the page in Chromium (the allocation's zeroing and first-touch page faults), into a
// reused one about 0.2 ms; a 2-worker W2 call makes such copies before its second worker
// can start. A worker hands the buffers of predictBatch's inputs back once Python has its
// own copy (transferred: free; see protocol.js), and the next copy of the same size goes
// into one of them.
//
// Kept: buffers of MIN_BYTES or more (a small one is cheap to make, and handing it back
// would only add work to every small call), at most MAX_PER_SIZE of one size and
// MAX_BYTES in all, so a page holds little memory for this.

const MIN_BYTES = 64 << 10;
const MAX_PER_SIZE = 8;
const MAX_BYTES = 16 << 20;

/** @type {Map<number, ArrayBuffer[]>} spare buffers by byte length */
const spare = new Map();
let keptBytes = 0;

/**
 * A Float32Array of `length` values, in a spare buffer of exactly its size when there is
 * one (its old values are still there: the caller overwrites every one), else a new one.
 * @param {number} length
 * @returns {Float32Array}
 */
export function float32Buffer(length) {
  const buffer = length * 4 >= MIN_BYTES ? spare.get(length * 4)?.pop() : undefined;
  if (buffer === undefined) return new Float32Array(length);
  keptBytes -= buffer.byteLength;
  return new Float32Array(buffer);
}

/**
 * A Float32Array with the values of `values`, in a spare buffer when there is one.
 * @param {ArrayLike<number>} values
 * @returns {Float32Array}
 */
export function float32Copy(values) {
  const copy = float32Buffer(values.length);
  copy.set(values);
  return copy;
}

// A batched call's vector arguments are copied as of the call, then read once more on this
// thread, when its batch is merged into one buffer for the worker (api.js `batch.merge`); they
// are never transferred. A buffer of their own for each (W6: 1,000 copies of 512 bytes a
// round) was the largest cost of a burst on the page, so such copies are views into a shared
// slab instead: one allocation per SLAB_BYTES. A view keeps its slab alive, so this is only
// for copies that live as long as their call.
const SLAB_BYTES = 64 << 10;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * A Float32Array with the values of `values`, for a copy that is only read on this thread
 * and dropped when its call settles: a view into a shared slab when it is small (an eighth
 * of a slab or less), else float32Copy's own buffer. Never transfer its buffer: other
 * copies share it.
 * @param {ArrayLike<number>} values
 * @returns {Float32Array}
 */
export function float32Snapshot(values) {
  const bytes = values.length * 4;
  if (bytes > SLAB_BYTES / 8) return float32Copy(values);
  if (slabUsed + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const copy = new Float32Array(slab, slabUsed, values.length);
  slabUsed += bytes;
  copy.set(values);
  return copy;
}

/**
 * Keep buffers a worker handed back, for float32Copy: those worth keeping, within the
 * limits above; the rest are left to the collector.
 * @param {unknown[]} buffers
 */
export function keepSpare(buffers) {
  for (const buffer of buffers) {
    if (!worthKeeping(buffer)) continue;
    if (keptBytes + buffer.byteLength > MAX_BYTES) continue;
    const list = spare.get(buffer.byteLength) ?? [];
    if (list.length >= MAX_PER_SIZE || list.includes(buffer)) continue;
    list.push(buffer);
    spare.set(buffer.byteLength, list);
    keptBytes += buffer.byteLength;
  }
}

/**
 * Whether a buffer is one to keep: a plain, fixed-size ArrayBuffer of MIN_BYTES or more
 * (worker.js hands back only these).
 * @param {unknown} buffer
 * @returns {buffer is ArrayBuffer}
 */
export function worthKeeping(buffer) {
  return buffer instanceof ArrayBuffer && buffer.byteLength >= MIN_BYTES && !(/** @type {any} */ (buffer).resizable);
}

/** For tests: how many spare buffers and bytes are kept. */
export function spareStats() {
  let buffers = 0;
  for (const list of spare.values()) buffers += list.length;
  return { buffers, bytes: keptBytes };
}
