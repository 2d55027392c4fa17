// A memory snapshot without its all-zero pages, for the startup cache: about a third of
// the interpreter's heap is pages of zeros (free memory, an unused stack), and the cached
// snapshot is read and checksummed on the way to every repeat visit's first result.
//
// Format (little-endian): u32 n, then n u32 page numbers in increasing order, then those
// pages' bytes. A page is PAGE_SIZE bytes; the last page of the whole may be shorter.

export const PAGE_SIZE = 4096;

/**
 * The pages of `bytes` that are not all zeros.
 * @param {Uint8Array} bytes
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function packPages(bytes) {
  const pageCount = Math.ceil(bytes.length / PAGE_SIZE);
  /** @type {number[]} */
  const kept = [];
  let dataLength = 0;
  for (let page = 0; page < pageCount; page++) {
    const start = page * PAGE_SIZE;
    const end = Math.min(start + PAGE_SIZE, bytes.length);
    if (!isZero(bytes, start, end)) {
      kept.push(page);
      dataLength += end - start;
    }
  }
  const out = new Uint8Array(4 + 4 * kept.length + dataLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, kept.length, true);
  let at = 4 + 4 * kept.length;
  kept.forEach((page, i) => {
    view.setUint32(4 + 4 * i, page, true);
    const start = page * PAGE_SIZE;
    const end = Math.min(start + PAGE_SIZE, bytes.length);
    out.set(bytes.subarray(start, end), at);
    at += end - start;
  });
  return out;
}

/**
 * Write packed pages into `target`, which must be zero-filled and of the original length.
 * Throws, having written nothing, if `packed` does not describe pages of that length.
 * @param {Uint8Array} packed @param {Uint8Array} target
 */
export function unpackPages(packed, target) {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const bad = (/** @type {string} */ problem) => new Error(`the packed snapshot is malformed: ${problem}`);
  if (packed.length < 4) throw bad("no page count");
  const count = view.getUint32(0, true);
  const pageCount = Math.ceil(target.length / PAGE_SIZE);
  if (count > pageCount || 4 + 4 * count > packed.length) throw bad(`${count} pages`);
  let expected = 4 + 4 * count;
  let previous = -1;
  for (let i = 0; i < count; i++) {
    const page = view.getUint32(4 + 4 * i, true);
    if (page <= previous || page >= pageCount) throw bad(`page ${page} out of order or range`);
    previous = page;
    expected += Math.min(PAGE_SIZE, target.length - page * PAGE_SIZE);
  }
  if (expected !== packed.length) throw bad(`${packed.length} bytes, not ${expected}`);
  let at = 4 + 4 * count;
  for (let i = 0; i < count; i++) {
    const start = view.getUint32(4 + 4 * i, true) * PAGE_SIZE;
    const length = Math.min(PAGE_SIZE, target.length - start);
    target.set(packed.subarray(at, at + length), start);
    at += length;
  }
}

/** @param {Uint8Array} bytes @param {number} start @param {number} end */
function isZero(bytes, start, end) {
  // Four bytes at a time where the range allows it (it does, but for a last short page).
  if ((bytes.byteOffset + start) % 4 === 0 && (end - start) % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + start, (end - start) / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}
