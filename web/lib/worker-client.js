// createWorker(): the same Python models, run in a module worker (worker.js) so the page
// never blocks. Every call returns a promise; the objects it makes (remote.js) have the
// main thread's methods, checks and messages, made from api.js's table. The pieces:
// protocol.js (messages, errors), transport.js (one worker: requests, restart, crash,
// abort), batcher.js (micro-batching), restore.js (rebuilding objects in a new worker).

import { CLASSES, FUNCTIONS, MAX_WORKERS } from "./api.js";
import { POOLED_CLASSES, ShardedIndex, balancedRanges, readSavedIndex, savedIndex } from "./pool.js";
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
 * @property {number | "auto"} [workers]  how many workers (default 1): a positive integer up to
 *   MAX_WORKERS, or "auto" for navigator.hardwareConcurrency (at most MAX_WORKERS). Each
 *   worker is a whole Python runtime (see README for the memory it costs).
 */

/**
 * @param {unknown} workers
 * @returns {number}
 */
function workerCount(workers) {
  if (workers === "auto") return Math.max(1, Math.min(MAX_WORKERS, globalThis.navigator?.hardwareConcurrency ?? 1));
  return checkSize(workers, "workers", "createWorker", MAX_WORKERS);
}

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
  const { onProgress, onCrash, maxBatchSize = 64, batchTimeoutMs = 0, cache = true, baseURL, kernels = "auto", workers = 1 } = options;
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
  const count = workerCount(workers);
  const client = new WorkerClient({ onProgress, onCrash, maxBatchSize, batchTimeoutMs, cache, folder, build, count });
  await client._startAll();
  return client;
}

/**
 * One worker of a client: its transport, the objects it holds (to rebuild them in a
 * replacement worker), what its runtime reported, and what remote objects need of it.
 */
class Member {
  /**
   * @param {{ folder: URL, build: string, cache: boolean, maxBatchSize: number, batchTimeoutMs: number,
   *   onProgress?: (p: any) => void, onCrash?: (e: Error) => void }} options
   */
  constructor(options) {
    this.options = options;
    /** @type {Limits | null} */
    this.limits = null;
    /** @type {RuntimeInfo | null} */
    this.info = null;
    /** @type {Map<number, RemoteObject>} */
    this.objects = new Map();
    this.nextObject = 1;
    const scriptURL = new URL("worker.js", options.folder);
    this.transport = new Transport({
      // The worker script is the library's own file in that folder (bundlers leave this alone).
      spawn: () => /** @type {any} */ (new Worker(scriptURL, { type: "module" })),
      scriptURL: scriptURL.href,
      start: (transport, worker) => this.start(transport, worker),
      onProgress: options.onProgress,
      onCrash: options.onCrash,
    });
    /** What remote objects need of this worker. @type {import("./remote.js").Client} */
    this.client = {
      live: (where) => this.live(where),
      call: (where, op, makeArgs, callOptions) => this.transport.call(where, op, makeArgs, callOptions),
      replace: (worker) => this.transport.replace(worker),
      count: (requests, batched) => this.count(requests, batched),
      forget: (object) => this.objects.delete(/** @type {any} */ (object)._id),
      options: { maxBatchSize: options.maxBatchSize, batchTimeoutMs: options.batchTimeoutMs },
    };
  }

  /**
   * A new worker: init, then every live object rebuilt in it.
   * @param {Transport} transport @param {any} worker
   */
  async start(transport, worker) {
    const { result } = await transport.requestTo(worker, "createWorker", "init", () => [[this.options.cache, this.options.build], []]);
    this.info = result.info;
    this.limits = result.limits;
    for (const object of this.objects.values()) {
      for (const [op, makeArgs] of object._restoreSteps()) await transport.requestTo(worker, "restore", op, makeArgs);
    }
  }

  /** @param {string} where @returns {Limits} */
  live(where) {
    if (this.transport.terminated) throw new Error(`${where}: the worker has been terminated`);
    return /** @type {Limits} */ (this.limits);
  }

  /** @param {number} requests @param {boolean} batched */
  count(requests, batched) {
    const counters = this.transport.counters;
    counters.requests += requests;
    if (batched) {
      counters.batches++;
      counters.batchedRequests += requests;
    }
  }

  /**
   * Make an object in this worker from a request that makes it (create or load).
   * @param {string} kind @param {string} where @param {string} op @param {any[]} args
   * @returns {Promise<RemoteObject>}
   */
  async make(kind, where, op, args) {
    const id = this.nextObject++;
    /** @type {import("./restore.js").Step} */
    const origin = [op, () => [[id, kind, ...args], []]];
    const { result: state } = await this.transport.call(where, ...origin);
    const object = new REMOTE_CLASSES[kind](this.client, kind, id, state, origin);
    this.objects.set(id, object);
    return object;
  }

  /** @returns {WorkerStats} */
  stats() {
    return { ...this.transport.counters, pending: this.transport.pending.size };
  }
}

/**
 * The page's handle on its workers (one by default; `workers: n` for n of them): every
 * object it makes lives in each worker (a model, an embedder) or is split over them (an
 * index), behind the same API (pool.js).
 */
export class WorkerClient {
  /**
   * @param {Required<Pick<WorkerOptions, "maxBatchSize" | "batchTimeoutMs" | "cache">> & WorkerOptions
   *   & { folder: URL, build: string, count: number }} options
   */
  constructor(options) {
    /** @private */
    this._options = options;
    /** @internal */
    this._members = Array.from({ length: options.count }, () => new Member(options));
    /** @private */
    this._next = 0;
    /** @private What pooled objects need of this client. @type {import("./pool.js").PoolClient} */
    this._pool = { live: (where) => this._live(where) };
  }

  /** @internal Start every worker, in parallel; if one cannot start, stop them all (the
   * caller gets no client to terminate them with). */
  async _startAll() {
    const started = await Promise.allSettled(this._members.map((member) => member.transport.ensure("createWorker")));
    const failed = started.find((s) => s.status === "rejected");
    if (failed) {
      await this.terminate();
      throw /** @type {PromiseRejectedResult} */ (failed).reason;
    }
  }

  /** How many workers compute for this client. @type {number} */
  get workers() {
    return this._members.length;
  }

  /** Versions of Pyodide, Python and numpy in the worker(s). @type {RuntimeInfo | null} */
  get info() {
    return this._members[0].info;
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
    return this._members[0].limits;
  }

  /** @private @param {string} where @returns {Limits} */
  _live(where) {
    return this._members[0].live(where);
  }

  /** @private @returns {Member} the worker whose turn it is (calls that need only one) */
  _take() {
    const member = this._members[this._next];
    this._next = (this._next + 1) % this._members.length;
    return member;
  }

  /**
   * Make an object in every worker, from its constructor's arguments (an index: its shards).
   * @private @param {string} kind @param {any[]} args @returns {Promise<any>}
   */
  async _create(kind, args) {
    const where = `new ${kind}`;
    const checked = CLASSES[kind].create(this._live(where), args);
    return this._adopt(kind, await Promise.all(this._members.map((m) => m.make(kind, where, "create", [checked]))));
  }

  /**
   * Load an object in every worker from a file (an index: split over them).
   * @private @param {string} kind @param {unknown} source @returns {Promise<any>}
   */
  async _load(kind, source) {
    const where = `${kind}.load`;
    this._live(where);
    // What the worker loads from, kept for a replacement worker: a file's bytes (ours, a
    // copy), or for a model, URLs (absolute: the worker lives elsewhere) the worker fetches.
    const payload = kind === "TextEmbedder" ? await modelPayload(source, where) : (await readWeightSource(source, where)).slice();
    if (kind === "EmbeddingIndex" && this._members.length > 1) return this._loadShards(payload, where);
    return this._adopt(kind, await Promise.all(this._members.map((m) => m.make(kind, where, "load", [payload]))));
  }

  /**
   * A saved index split over the workers: checked whole by the first worker (its errors
   * are the one-worker errors), then each worker loads its contiguous part.
   * @private @param {Uint8Array} bytes @param {string} where
   */
  async _loadShards(bytes, where) {
    const whole = await this._members[0].make("EmbeddingIndex", where, "load", [bytes]);
    await whole.dispose();
    const saved = readSavedIndex(bytes);
    if (saved === null) throw new Error(`${where}: not a saved index: its layout is not the one toBytes() writes`);
    const { rows, dim, data } = saved;
    const ranges = balancedRanges(new Array(rows).fill(1), this._members.length);
    const shards = await Promise.all(this._members.map((member, i) => {
      const [start, end] = ranges[i] ?? [rows, rows];
      const part = savedIndex(data.slice(start * dim * 4, end * dim * 4), end - start, dim);
      return member.make("EmbeddingIndex", where, "load", [part]);
    }));
    const globals = this._members.map((_, i) => {
      const [start, end] = ranges[i] ?? [rows, rows];
      return Int32Array.from({ length: end - start }, (_, j) => start + j);
    });
    return new ShardedIndex(this._pool, shards, globals);
  }

  /**
   * The object the page gets: its replicas (or shards) behind one handle.
   * @private @param {string} kind @param {RemoteObject[]} replicas
   */
  _adopt(kind, replicas) {
    if (kind === "EmbeddingIndex") return replicas.length === 1 ? replicas[0] : new ShardedIndex(this._pool, replicas);
    return replicas.length === 1 ? replicas[0] : new POOLED_CLASSES[kind](this._pool, kind, replicas);
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
    const member = this._take();
    member.count(1, false);
    const answer = await member.transport.call(
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
   * and the requests in them, worker restarts (after aborts) and crashes, calls waiting;
   * summed over the workers, and each worker's own in `workers`.
   * @returns {WorkerStats & { workers: WorkerStats[] }}
   */
  stats() {
    const each = this._members.map((member) => member.stats());
    /** @type {any} */
    const total = { requests: 0, messages: 0, batches: 0, batchedRequests: 0, restarts: 0, crashes: 0, pending: 0 };
    for (const one of each) for (const key of Object.keys(total)) total[key] += /** @type {any} */ (one)[key];
    return { ...total, workers: each };
  }

  /**
   * The workers' debugStats(): live PyProxies, wasm heap size, kernels, objects (of the
   * first worker; each worker's own in `workers`).
   * @returns {Promise<import("./runtime.js").DebugStats & { objects: number, workers: any[] }>}
   */
  async debugStats() {
    this._live("debugStats");
    const each = await Promise.all(this._members.map(async (m) =>
      (await m.transport.call("debugStats", "debugStats", () => [[], []])).result));
    return { ...each[0], workers: each };
  }

  /** For tests: make Pyodide in the (first) worker fail fatally. @returns {Promise<void>} */
  async _crashForTest() {
    await this._members[0].transport.call("crash", "crash", () => [[], []]);
  }

  /**
   * For tests: keep the (first) worker computing for `ms` milliseconds.
   * @param {number} ms @param {CallOptions} [options] @returns {Promise<void>}
   */
  async _busyForTest(ms, options = {}) {
    await this._members[0].transport.call("busy", "busy", () => [[ms], []], { signal: options.signal ?? null });
  }

  /** Stop the workers; every waiting call rejects; later calls reject. Safe to call twice. */
  async terminate() {
    for (const member of this._members) {
      if (member.transport.terminated) continue;
      for (const object of member.objects.values()) object._terminated();
      member.transport.terminate();
    }
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
  for (const name of ["config", "tokenizer", "weights", "sentenceConfig", "pooling"]) {
    const file = files[name];
    if (file === undefined) continue;
    payload[name] = typeof file === "string" || file instanceof URL ? absolute(file) : (await readWeightSource(file, where, `source.${name}`)).slice();
  }
  return payload;
}
