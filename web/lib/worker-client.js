// createWorker(): the same Python models, run in a module worker (worker.js) so the page
// never blocks. Every call returns a promise; the objects it makes (remote.js) have the
// main thread's methods, checks and messages, made from api.js's table. The pieces:
// protocol.js (messages, errors), transport.js (one worker: requests, restart, crash,
// abort), batcher.js (micro-batching), restore.js (rebuilding objects in a new worker).

import { CLASSES, FUNCTIONS } from "./api.js";
import { REMOTE_CLASSES, checkOptions, prepareArgs } from "./remote.js";
import { KERNEL_CHOICES, resolveKernels } from "./features.js";
import { Transport } from "./transport.js";
import { checkSize, describe, libraryFolder } from "./validate.js";
import { readWeightSource } from "./weight-source.js";

/** @typedef {import("./api.js").Limits} Limits */
/** @typedef {import("./remote.js").CallOptions} CallOptions */
/** @typedef {import("./remote.js").RemoteObject} RemoteObject */
/** @typedef {import("./runtime.js").RuntimeInfo} RuntimeInfo */
/** @typedef {import("./types.js").NumericInput} NumericInput */
/** @typedef {import("./types.js").FileSource} FileSource */

/**
 * An object of type T living in the worker: the same properties (read-only copies) and
 * methods, each taking CallOptions last and returning a promise of the main thread's
 * result. Internal members (`_name`) are left out.
 * @template T
 * @typedef {{ readonly [K in keyof T as K extends `_${string}` | symbol ? never : T[K] extends Function ? never : K]: T[K] }
 *   & { [K in keyof T as K extends `_${string}` | symbol ? never : T[K] extends (...args: any[]) => any ? K : never]:
 *       T[K] extends (...args: infer A) => infer R ? (...args: [...A, CallOptions?]) => Promise<Awaited<R>> : never }
 *   & { readonly kind: string }} Remote
 */

/** @typedef {Remote<import("./minimodel.js").MiniModel>} RemoteMiniModel */
/** @typedef {Remote<import("./minimodel.js").FeedForward>} RemoteFeedForward */
/** @typedef {Remote<import("./minimodel.js").EmbeddingIndex>} RemoteIndex */
/** @typedef {Remote<import("./minimodel.js").TextEmbedder>} RemoteTextEmbedder */
/** @typedef {import("./weight-source.js").ModelSource} ModelSource */

/**
 * Options of createWorker().
 * @typedef {Object} WorkerOptions
 * @property {(p: import("./loader.js").Progress) => void} [onProgress]  the worker's init() progress
 * @property {(error: Error) => void} [onCrash]  told when the worker died (a fatal Python
 *   error); the next call starts a new one
 * @property {number} [maxBatchSize]  most predict() calls merged into one message (1 turns
 *   batching off; default 64)
 * @property {number} [batchTimeoutMs]  how long a predict() waits for company. The default,
 *   0, merges the calls made in the same task (a burst such as Promise.all) and adds no
 *   latency to a lone call.
 * @property {boolean} [cache]  use the startup cache (default true)
 * @property {string | URL} [baseURL]  the folder the library's files (worker.js among them) are
 *   served from (default: this module's folder; set it when a bundler moves the module)
 * @property {"auto" | "relaxed-simd" | "simd128" | "numpy"} [kernels]  as for init(); "auto" is
 *   decided here, so the worker runs what this page would
 */

/**
 * What stats() counts.
 * @typedef {Object} WorkerStats
 * @property {number} requests  calls made
 * @property {number} messages  messages sent to the worker
 * @property {number} batches   merged batches
 * @property {number} batchedRequests  calls that travelled in them
 * @property {number} restarts  workers replaced after an abort
 * @property {number} crashes   workers that died
 * @property {number} pending   calls waiting for an answer
 */

/**
 * Start a worker that owns Pyodide; resolves once Python is ready in it.
 * @param {WorkerOptions} [options]
 * @returns {Promise<WorkerClient>}
 */
export async function createWorker(options = {}) {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`createWorker: options must be an object; received ${describe(options)}`);
  }
  const { onProgress, onCrash, maxBatchSize = 64, batchTimeoutMs = 0, cache = true, baseURL, kernels = "auto" } = options;
  for (const [name, value] of [["onProgress", onProgress], ["onCrash", onCrash]]) {
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(`createWorker: ${name} must be a function; received ${describe(value)}`);
    }
  }
  checkSize(maxBatchSize, "maxBatchSize", "createWorker", 1 << 16);
  if (typeof batchTimeoutMs !== "number" || !(batchTimeoutMs >= 0) || batchTimeoutMs > 60_000) {
    throw new RangeError(`createWorker: batchTimeoutMs must be a Number from 0 to 60000; received ${describe(batchTimeoutMs)}`);
  }
  if (typeof cache !== "boolean") {
    throw new TypeError(`createWorker: cache must be true or false; received ${describe(cache)}`);
  }
  const folder = libraryFolder(baseURL, "createWorker");
  if (!KERNEL_CHOICES.includes(kernels)) {
    throw new TypeError(`createWorker: kernels must be one of ${KERNEL_CHOICES.map((k) => `"${k}"`).join(", ")}; received ${describe(kernels)}`);
  }
  const build = resolveKernels(kernels, "createWorker");
  const client = new WorkerClient({ onProgress, onCrash, maxBatchSize, batchTimeoutMs, cache, folder, build });
  await client._transport.ensure("createWorker");
  return client;
}

/** The page's handle on one worker. */
export class WorkerClient {
  /**
   * @param {Required<Pick<WorkerOptions, "maxBatchSize" | "batchTimeoutMs" | "cache">> & WorkerOptions
   *   & { folder: URL, build: string }} options
   */
  constructor(options) {
    /** @private */
    this._options = options;
    /** @private @type {Limits | null} */
    this._limits = null;
    /** @private @type {RuntimeInfo | null} */
    this._info = null;
    /** @private @type {Map<number, RemoteObject>} */
    this._objects = new Map();
    /** @private */
    this._nextObject = 1;
    /** @internal */
    this._transport = new Transport({
      // The worker script is the library's own file in that folder (bundlers leave this alone).
      spawn: () => /** @type {any} */ (new Worker(new URL("worker.js", options.folder), { type: "module" })),
      start: (transport, worker) => this._start(transport, worker),
      onProgress: options.onProgress,
      onCrash: options.onCrash,
    });
    /** @private What remote objects need of this client. @type {import("./remote.js").Client} */
    this._client = {
      live: (where) => this._live(where),
      call: (where, op, makeArgs, options) => this._transport.call(where, op, makeArgs, options),
      replace: (worker) => this._transport.replace(worker),
      count: (requests, batched) => this._count(requests, batched),
      forget: (object) => this._objects.delete(/** @type {any} */ (object)._id),
      options: { maxBatchSize: options.maxBatchSize, batchTimeoutMs: options.batchTimeoutMs },
    };
  }

  /**
   * A new worker: init, then every live object rebuilt in it.
   * @private @param {Transport} transport @param {any} worker
   */
  async _start(transport, worker) {
    const { result } = await transport.requestTo(worker, "createWorker", "init", () => [[this._options.cache, this._options.build], []]);
    this._info = result.info;
    this._limits = result.limits;
    for (const object of this._objects.values()) {
      for (const [op, makeArgs] of object._restoreSteps()) await transport.requestTo(worker, "restore", op, makeArgs);
    }
  }

  /** Versions of Pyodide, Python and numpy in the worker. @type {RuntimeInfo | null} */
  get info() {
    return this._info;
  }

  /** Whether concurrent predict() calls are merged. @type {boolean} */
  get batching() {
    return this._options.maxBatchSize > 1;
  }

  /** The batching options in force. @type {{ maxBatchSize: number, batchTimeoutMs: number }} */
  get options() {
    return { maxBatchSize: this._options.maxBatchSize, batchTimeoutMs: this._options.batchTimeoutMs };
  }

  /** The size limits the worker enforces. @type {Limits | null} */
  get limits() {
    return this._limits;
  }

  /** @private @param {string} where @returns {Limits} */
  _live(where) {
    if (this._transport.terminated) throw new Error(`${where}: the worker has been terminated`);
    return /** @type {Limits} */ (this._limits);
  }

  /** @private @param {number} requests @param {boolean} batched */
  _count(requests, batched) {
    const counters = this._transport.counters;
    counters.requests += requests;
    if (batched) {
      counters.batches++;
      counters.batchedRequests += requests;
    }
  }

  /**
   * Make an object in the worker, from its constructor's arguments.
   * @private @param {string} kind @param {any[]} args @returns {Promise<any>}
   */
  async _create(kind, args) {
    const where = `new ${kind}`;
    const checked = CLASSES[kind].create(this._live(where), args);
    const id = this._nextObject++;
    /** @type {import("./restore.js").Step} */
    const origin = ["create", () => [[id, kind, checked], []]];
    const { result: state } = await this._transport.call(where, ...origin);
    return this._adopt(new REMOTE_CLASSES[kind](this._client, kind, id, state, origin));
  }

  /**
   * Load an object in the worker from a file.
   * @private @param {string} kind @param {unknown} source @returns {Promise<any>}
   */
  async _load(kind, source) {
    const where = `${kind}.load`;
    this._live(where);
    // What the worker loads from, kept for a replacement worker: a file's bytes (ours, a
    // copy), or for a model, URLs (absolute: the worker lives elsewhere) the worker fetches.
    const payload = kind === "TextEmbedder" ? await modelPayload(source, where) : (await readWeightSource(source, where)).slice();
    const id = this._nextObject++;
    /** @type {import("./restore.js").Step} */
    const origin = ["load", () => [[id, kind, payload], []]];
    const { result: state } = await this._transport.call(where, ...origin);
    return this._adopt(new REMOTE_CLASSES[kind](this._client, kind, id, state, origin));
  }

  /** @private @param {RemoteObject} object */
  _adopt(object) {
    this._objects.set(/** @type {any} */ (object)._id, object);
    return object;
  }

  /**
   * A free function of minimodel.js, run in the worker.
   * @private @param {string} name @param {any[]} params  its arguments, then CallOptions
   * @returns {Promise<any>}
   */
  async _function(name, params) {
    const op = FUNCTIONS[name];
    const args = op.check(null, params.slice(0, op.args.length), name, this._live(name));
    const { signal } = checkOptions(params[op.args.length] ?? {}, name);
    this._count(1, false);
    const answer = await this._transport.call(
      name,
      "fn",
      () => {
        const { values, transfer } = prepareArgs(op, args, name, {});
        return [[name, values], transfer];
      },
      { signal: signal ?? null },
    );
    return answer.result;
  }

  /**
   * A MiniModel in the worker (weights 0.01, bias 0, as on the main thread).
   * @param {number} inputSize @param {number} outputSize
   * @returns {Promise<RemoteMiniModel>}
   */
  createModel(inputSize, outputSize) {
    return this._create("MiniModel", [inputSize, outputSize]);
  }

  /**
   * A FeedForward network in the worker.
   * @param {number[]} sizes
   * @returns {Promise<RemoteFeedForward>}
   */
  createFeedForward(sizes) {
    return this._create("FeedForward", [sizes]);
  }

  /**
   * An EmbeddingIndex in the worker.
   * @param {number} dim
   * @returns {Promise<RemoteIndex>}
   */
  createIndex(dim) {
    return this._create("EmbeddingIndex", [dim]);
  }

  /**
   * A FeedForward in the worker from a weight file (see FeedForward.load).
   * @param {FileSource} source
   * @returns {Promise<RemoteFeedForward>}
   */
  loadFeedForward(source) {
    return this._load("FeedForward", source);
  }

  /**
   * A MiniModel in the worker from a one-layer weight file (see MiniModel.load).
   * @param {FileSource} source
   * @returns {Promise<RemoteMiniModel>}
   */
  loadModel(source) {
    return this._load("MiniModel", source);
  }

  /**
   * An EmbeddingIndex in the worker, saved by toBytes() (see EmbeddingIndex.load).
   * @param {FileSource} source
   * @returns {Promise<RemoteIndex>}
   */
  loadIndex(source) {
    return this._load("EmbeddingIndex", source);
  }

  /**
   * A TextEmbedder in the worker (see TextEmbedder.load): no argument, the model the
   * library ships. Concurrent embed() calls are merged into batches, as predict() calls are;
   * `embed(texts, { onProgress, signal })` reports progress and can be cancelled.
   * @param {ModelSource} [source]
   * @returns {Promise<RemoteTextEmbedder>}
   */
  loadTextEmbedder(source) {
    return this._load("TextEmbedder", source);
  }

  /**
   * Cosine similarity, in the worker (see cosineSimilarity in minimodel.js).
   * @param {NumericInput} a @param {NumericInput} b @param {CallOptions} [options]
   * @returns {Promise<number>}
   */
  cosineSimilarity(a, b, options) {
    return this._function("cosineSimilarity", [a, b, options]);
  }

  /**
   * Rows scaled to unit norm, in the worker (see normalizeRows in minimodel.js).
   * @param {NumericInput} vectors @param {number} dim @param {CallOptions} [options]
   * @returns {Promise<Float32Array>}
   */
  normalizeRows(vectors, dim, options) {
    return this._function("normalizeRows", [vectors, dim, options]);
  }

  /**
   * Class probabilities from logits, in the worker (see softmax in minimodel.js).
   * @param {NumericInput} logits @param {CallOptions} [options]
   * @returns {Promise<Float32Array>}
   */
  softmax(logits, options) {
    return this._function("softmax", [logits, options]);
  }

  /**
   * Counters that make batching observable: requests made, messages sent, merged batches
   * and the requests in them, worker restarts (after aborts) and crashes, calls waiting.
   * @returns {WorkerStats}
   */
  stats() {
    return { ...this._transport.counters, pending: this._transport.pending.size };
  }

  /**
   * The worker's debugStats(): live PyProxies, wasm heap size, kernels, objects.
   * @returns {Promise<import("./runtime.js").DebugStats & { objects: number }>}
   */
  async debugStats() {
    this._live("debugStats");
    return (await this._transport.call("debugStats", "debugStats", () => [[], []])).result;
  }

  /** For tests: make Pyodide in the worker fail fatally. @returns {Promise<void>} */
  async _crashForTest() {
    await this._transport.call("crash", "crash", () => [[], []]);
  }

  /**
   * For tests: keep the worker computing for `ms` milliseconds.
   * @param {number} ms @param {CallOptions} [options] @returns {Promise<void>}
   */
  async _busyForTest(ms, options = {}) {
    await this._transport.call("busy", "busy", () => [[ms], []], { signal: options.signal ?? null });
  }

  /** Stop the worker; every waiting call rejects; later calls reject. Safe to call twice. */
  async terminate() {
    if (this._transport.terminated) return;
    for (const object of this._objects.values()) object._terminated();
    this._transport.terminate();
  }
}

/**
 * A model source as the worker can read it: URLs made absolute (the worker resolves
 * against its own location, not the page's), files read here into bytes.
 * @param {unknown} source @param {string} where
 * @returns {Promise<any>}
 */
async function modelPayload(source, where) {
  const absolute = (/** @type {string | URL} */ url) => new URL(url, globalThis.location?.href).href;
  if (source === undefined) return undefined;
  if (typeof source === "string" || source instanceof URL) return absolute(source);
  if (source === null || typeof source !== "object" || ArrayBuffer.isView(source) || source instanceof ArrayBuffer) {
    throw new TypeError(`${where}: source must be a model folder's URL (ending in "/") or { config, tokenizer, weights }; received ${describe(source)}`);
  }
  const files = /** @type {Record<string, unknown>} */ (source);
  /** @type {Record<string, any>} */
  const payload = {};
  for (const name of ["config", "tokenizer", "weights", "sentenceConfig"]) {
    const file = files[name];
    if (file === undefined) continue;
    payload[name] = typeof file === "string" || file instanceof URL ? absolute(file) : (await readWeightSource(file, where, `source.${name}`)).slice();
  }
  return payload;
}
