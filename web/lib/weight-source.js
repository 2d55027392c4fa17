// The bytes of a weight file, from wherever a page has it: a URL, a Blob or File (drag
// and drop, a file picker), an ArrayBuffer or a Uint8Array. Python parses them.

import { describe } from "./validate.js";

/** Largest weight file accepted (1 GiB): over it, a RangeError before reading. */
export const MAX_WEIGHT_FILE_BYTES = 2 ** 30;

/**
 * The bytes of a weight file given as a URL (string or URL, resolved against the page),
 * a Blob or File, an ArrayBuffer or a Uint8Array.
 * @param {string | URL | Blob | ArrayBuffer | Uint8Array} source
 * @param {string} where
 * @returns {Promise<Uint8Array>}
 */
export async function readWeightSource(source, where) {
  let bytes;
  if (typeof source === "string" || source instanceof URL) {
    const url = new URL(source, globalThis.location?.href);
    let response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new Error(`${where}: could not fetch ${url}: ${err instanceof Error ? err.message : err}`);
    }
    if (!response.ok) throw new Error(`${where}: could not fetch ${url}: HTTP ${response.status} ${response.statusText}`);
    const declared = Number(response.headers.get("Content-Length") ?? 0);
    if (declared > MAX_WEIGHT_FILE_BYTES) {
      throw new RangeError(`${where}: ${url} has ${declared} bytes; at most ${MAX_WEIGHT_FILE_BYTES} are accepted`);
    }
    bytes = new Uint8Array(await response.arrayBuffer());
  } else if (typeof Blob !== "undefined" && source instanceof Blob) {
    if (source.size > MAX_WEIGHT_FILE_BYTES) {
      throw new RangeError(`${where}: the file has ${source.size} bytes; at most ${MAX_WEIGHT_FILE_BYTES} are accepted`);
    }
    bytes = new Uint8Array(await source.arrayBuffer());
  } else if (source instanceof ArrayBuffer) {
    bytes = new Uint8Array(source);
  } else if (ArrayBuffer.isView(source) && source[Symbol.toStringTag] === "Uint8Array") {
    bytes = source;
  } else {
    throw new TypeError(
      `${where}: source must be a URL, a Blob or File, an ArrayBuffer or a Uint8Array; received ${describe(source)}`,
    );
  }
  if (bytes.length > MAX_WEIGHT_FILE_BYTES) {
    throw new RangeError(`${where}: the file has ${bytes.length} bytes; at most ${MAX_WEIGHT_FILE_BYTES} are accepted`);
  }
  return bytes;
}

