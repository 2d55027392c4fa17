// Unpack a wheel (a zip archive) in JavaScript, into the files pyodide.loadPackage would
// install, so they can be written into site-packages before Python starts (see loader.js:
// the shared libraries must be loaded before the interpreter boots for a memory snapshot
// that holds imported numpy to restore). Inflating uses the browser's own
// DecompressionStream("deflate-raw"); the wheel's sha256 is checked by the caller.

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

/**
 * One file of an archive, as written into site-packages.
 * @typedef {Object} WheelFile
 * @property {string} path  relative to site-packages, "/"-separated
 * @property {Uint8Array} data
 */

/**
 * The files of a zip archive, in archive order (directories left out).
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @param {string} name  the archive's name, for messages
 * @returns {Promise<WheelFile[]>}
 */
export async function unzip(bytes, name) {
  if (typeof DecompressionStream !== "function") {
    throw new Error(`cannot unpack ${name}: this browser has no DecompressionStream (Chrome 80, Firefox 113 and Safari 16.4 have it)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (/** @type {string} */ problem) => new Error(`${name} is not a readable zip archive: ${problem}`);
  const end = findEndOfCentralDirectory(view);
  if (end < 0) throw fail("no end-of-central-directory record");
  const count = view.getUint16(end + 10, true);
  const directoryOffset = view.getUint32(end + 16, true);
  if (count === 0xffff || directoryOffset === 0xffffffff) throw fail("zip64 archives are not supported");
  const decoder = new TextDecoder("utf-8", { fatal: true });
  /** @type {Promise<WheelFile>[]} */
  const files = [];
  let at = directoryOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > view.byteLength || view.getUint32(at, true) !== CENTRAL_FILE_HEADER) {
      throw fail(`entry ${i} of the central directory is damaged`);
    }
    const method = view.getUint16(at + 10, true);
    const packedSize = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const next = at + 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const path = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    at = next;
    if (path.endsWith("/")) continue; // a directory
    if (path.startsWith("/") || path.split("/").some((part) => part === ".." || part === "")) {
      throw fail(`unsafe path ${JSON.stringify(path)}`);
    }
    if (local + 30 > view.byteLength || view.getUint32(local, true) !== LOCAL_FILE_HEADER) {
      throw fail(`the local header of ${path} is damaged`);
    }
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + packedSize > view.byteLength) throw fail(`${path} is cut short`);
    const packed = bytes.subarray(start, start + packedSize);
    if (method === STORED) {
      if (packedSize !== size) throw fail(`${path} is stored with two different sizes`);
      files.push(Promise.resolve({ path, data: packed.slice() }));
    } else if (method === DEFLATED) {
      files.push(inflate(packed).then(
        (data) => {
          if (data.length !== size) throw fail(`${path} inflates to ${data.length} bytes, not ${size}`);
          return { path, data };
        },
        (err) => {
          throw fail(`${path} does not inflate (${err instanceof Error ? err.message : err})`);
        },
      ));
    } else {
      throw fail(`${path} uses compression method ${method} (only stored and deflated are supported)`);
    }
  }
  return Promise.all(files);
}

/**
 * The offset of the end-of-central-directory record: the last 22 bytes, unless the
 * archive has a comment (up to 65,535 bytes), so search back from the end.
 * @param {DataView} view
 */
function findEndOfCentralDirectory(view) {
  const last = view.byteLength - 22;
  for (let at = last; at >= 0 && at >= last - 0xffff; at--) {
    if (view.getUint32(at, true) === END_OF_CENTRAL_DIRECTORY) return at;
  }
  return -1;
}

/**
 * Inflate with the browser's DecompressionStream.
 * @param {BlobPart} packed @param {CompressionFormat} [format]  "deflate-raw" (a zip entry) or "gzip"
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function inflate(packed, format = "deflate-raw") {
  const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
