// The bytes of a file, from wherever a page has it: a URL, a Blob or File (drag and drop,
// a file picker), an ArrayBuffer or a Uint8Array; and the files of a model folder in the
// sentence-transformers layout. Python parses them.

import { describe } from "./validate.js";

/** Largest file accepted (1 GiB): over it, a RangeError before reading. */
export const MAX_WEIGHT_FILE_BYTES = 2 ** 30;

/**
 * The bytes of a file given as a URL (string or URL, resolved against the page), a Blob
 * or File, an ArrayBuffer or a Uint8Array.
 * @param {unknown} source
 * @param {string} where   the public function, for messages
 * @param {string} [name]  the parameter's name, for messages ("source", "weights", ...)
 * @param {{ optional?: boolean }} [options]  optional: a URL that answers 404 gives null
 * @returns {Promise<Uint8Array>}
 */
export async function readWeightSource(source, where, name = "source", options = {}) {
  let bytes;
  if (typeof source === "string" || source instanceof URL) {
    const url = new URL(source, globalThis.location?.href);
    let response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new Error(`${where}: could not fetch ${url}: ${err instanceof Error ? err.message : err}`);
    }
    if (response.status === 404 && options.optional) return /** @type {any} */ (null);
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
  } else if (ArrayBuffer.isView(source) && /** @type {any} */ (source)[Symbol.toStringTag] === "Uint8Array") {
    bytes = /** @type {Uint8Array} */ (source);
  } else {
    throw new TypeError(
      `${where}: ${name} must be a URL, a Blob or File, an ArrayBuffer or a Uint8Array; received ${describe(source)}`,
    );
  }
  if (bytes.length > MAX_WEIGHT_FILE_BYTES) {
    throw new RangeError(`${where}: the file has ${bytes.length} bytes; at most ${MAX_WEIGHT_FILE_BYTES} are accepted`);
  }
  return bytes;
}

/**
 * A text-embedding model: a folder URL (ending in "/") in the sentence-transformers
 * layout, or its files one by one.
 * @typedef {string | URL | { config: FileLike, tokenizer: FileLike, weights: FileLike, sentenceConfig?: FileLike, pooling?: FileLike }} ModelSource
 */
/** @typedef {string | URL | Blob | ArrayBuffer | Uint8Array} FileLike */

/**
 * The files of a text-embedding model, as { config, tokenizer, weights, sentenceConfig, pooling }
 * (sentenceConfig null when the folder has no sentence_bert_config.json, pooling when it
 * has no 1_Pooling/config.json).
 * @param {unknown} source  a ModelSource
 * @param {string} where
 * @returns {Promise<{ config: Uint8Array, tokenizer: Uint8Array, weights: Uint8Array, sentenceConfig: Uint8Array | null, pooling: Uint8Array | null }>}
 */
export async function readModelFiles(source, where) {
  if (typeof source === "string" || source instanceof URL) {
    const folder = new URL(source, globalThis.location?.href);
    if (!folder.pathname.endsWith("/")) {
      throw new TypeError(
        `${where}: a model folder's URL must end with "/" (config.json, tokenizer.json and model.safetensors are read from it); received ${folder.href}`,
      );
    }
    const at = (/** @type {string} */ file) => new URL(file, folder);
    const [config, tokenizer, weights, sentenceConfig, pooling] = await inOrder([
      readWeightSource(at("config.json"), where),
      readWeightSource(at("tokenizer.json"), where),
      readWeightSource(at("model.safetensors"), where),
      readWeightSource(at("sentence_bert_config.json"), where, "sentence_bert_config.json", { optional: true }),
      readWeightSource(at("1_Pooling/config.json"), where, "1_Pooling/config.json", { optional: true }),
    ]);
    return { config, tokenizer, weights, sentenceConfig, pooling };
  }
  if (source === null || typeof source !== "object" || ArrayBuffer.isView(source) || source instanceof ArrayBuffer ||
      (typeof Blob !== "undefined" && source instanceof Blob)) {
    throw new TypeError(
      `${where}: source must be a model folder's URL (ending in "/") or { config, tokenizer, weights }; received ${describe(source)}`,
    );
  }
  const files = /** @type {Record<string, unknown>} */ (source);
  for (const name of ["config", "tokenizer", "weights"]) {
    if (files[name] === undefined) throw new TypeError(`${where}: source.${name} is missing (config.json, tokenizer.json, model.safetensors)`);
  }
  const [config, tokenizer, weights, sentenceConfig, pooling] = await inOrder([
    readWeightSource(files.config, where, "source.config"),
    readWeightSource(files.tokenizer, where, "source.tokenizer"),
    readWeightSource(files.weights, where, "source.weights"),
    files.sentenceConfig === undefined ? null : readWeightSource(files.sentenceConfig, where, "source.sentenceConfig"),
    files.pooling === undefined ? null : readWeightSource(files.pooling, where, "source.pooling"),
  ]);
  return { config, tokenizer, weights, sentenceConfig: sentenceConfig ?? null, pooling: pooling ?? null };
}

/**
 * Promise.all, but when several fail, the first failure in the list's order wins (so a
 * message names the same file whichever fetch fails first).
 * @param {(Promise<Uint8Array> | null)[]} promises
 * @returns {Promise<Uint8Array[]>}
 */
async function inOrder(promises) {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw /** @type {PromiseRejectedResult} */ (failed).reason;
  return settled.map((s) => /** @type {PromiseFulfilledResult<Uint8Array>} */ (s).value);
}
