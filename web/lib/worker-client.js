// createWorker(): the same Python models, run in a module worker (worker.js) so the page
// never blocks. A small promise-based RPC in the spirit of Comlink: every call is a
// message, every answer settles one promise. Concurrent predict() calls on one model are
// merged into one predict_batch (micro-batching). An AbortSignal rejects its call at
// once; if the worker may already be computing it, the worker is replaced and every
// model is rebuilt from the weights this side keeps. Arguments are checked here first,
// with the main-thread API's messages, so one bad request never fails a batch.

import {
  checkFeedForwardSizes,
  checkFiniteOutput,
  checkLayerSizes,
  checkSize,
  checkVector,
  describe,
} from "./validate.js";
import { readWeightSource } from "./weight-source.js";

/** @typedef {Float32Array | Float64Array | number[]} NumericInput */

const ERROR_TYPES = { TypeError, RangeError };

function rebuildError(data) {
  const error = new (ERROR_TYPES[data.name] ?? Error)(data.message);
  if (!ERROR_TYPES[data.name] && data.name !== "Error") error.name = data.name; // e.g. WeightsFileError
  if (data.pythonTraceback) error.pythonTraceback = data.pythonTraceback;
  return error;
}

function abortError(signal) {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

function copyFloat32(values) {
  return new Float32Array(values); // a copy of any accepted input; the caller's stays untouched
}

function checkOptions(options, where) {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${where}: options must be an object; received ${describe(options)}`);
  }
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${where}: options.signal must be an AbortSignal; received ${describe(signal)}`);
  }
  return options;
}

/**
 * Start a worker that owns Pyodide; resolves once Python is ready in it.
 * @param {{ onProgress?: (p: import("./loader.js").Progress) => void, onCrash?: (error: Error) => void,
 *   maxBatchSize?: number, batchTimeoutMs?: number }} [options]
 *   onCrash: told when the worker died (a fatal Python error); the next call starts a new one;
 *   maxBatchSize: most predict() calls merged into one message (1 turns batching off; default 64);
 *   batchTimeoutMs: how long a predict() waits for company. The default, 0, merges the calls
 *   made in the same task (a burst such as Promise.all) and adds no latency to a lone call.
 * @returns {Promise<WorkerClient>}
 */
export async function createWorker(options = {}) {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`createWorker: options must be an object; received ${describe(options)}`);
  }
  const { onProgress, onCrash, maxBatchSize = 64, batchTimeoutMs = 0, cache = true } = options;
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
  const client = new WorkerClient({ onProgress, onCrash, maxBatchSize, batchTimeoutMs, cache });
  await client._start();
  return client;
}

/** The page's handle on one worker. */
export class WorkerClient {
  #options;
  #worker = null;
  #starting = null;
  #pending = new Map();
  #objects = new Map();
  #nextId = 1;
  #nextObject = 1;
  #terminated = false;
  #limits = null;
  #info = null;
  #counters = { requests: 0, messages: 0, batches: 0, batchedRequests: 0, restarts: 0, crashes: 0 };

  constructor(options) {
    this.#options = options;
  }

  /** Versions of Pyodide, Python and numpy in the worker. */
  get info() {
    return this.#info;
  }

  get batching() {
    return this.#options.maxBatchSize > 1;
  }

  get options() {
    return { maxBatchSize: this.#options.maxBatchSize, batchTimeoutMs: this.#options.batchTimeoutMs };
  }

  get limits() {
    return this.#limits;
  }

  async _start() {
    await this.#ensure("createWorker");
  }

  /** Start (or restart) the worker and rebuild every live object in it. */
  #ensure(where) {
    if (this.#terminated) return Promise.reject(new Error(`${where}: the worker has been terminated`));
    if (this.#worker && !this.#starting) return Promise.resolve();
    this.#starting ??= this.#boot().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  async #boot() {
    const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    worker.onmessage = ({ data }) => this.#onMessage(worker, data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#lost(worker, event.message || "the worker script failed");
    };
    this.#worker = worker;
    try {
      const { info, limits } = await this.#request(worker, "createWorker", "init", () => [[this.#options.cache], []]);
      this.#info = info;
      this.#limits = limits;
      for (const object of this.#objects.values()) {
        for (const [op, makeArgs] of object._recipe()) await this.#request(worker, "restore", op, makeArgs);
      }
    } catch (error) {
      if (this.#worker === worker) this.#worker = null;
      worker.terminate();
      throw error;
    }
  }

  #onMessage(worker, data) {
    if (worker !== this.#worker) return;
    if (data.type === "progress") {
      this.#options.onProgress?.(data.progress);
      return;
    }
    if (data.type === "fatal") {
      this.#lost(worker, data.message);
      return;
    }
    const entry = this.#pending.get(data.id);
    if (!entry) return;
    this.#settle(entry);
    if (data.ok) entry.resolve(data.result);
    else entry.reject(rebuildError(data.error));
  }

  #settle(entry) {
    this.#pending.delete(entry.id);
    entry.cleanup?.();
  }

  /** Post one request to `worker`; `makeArgs()` gives [args, transfer] (again after a restart). */
  #request(worker, where, op, makeArgs, signal = null, onPost = null) {
    return new Promise((resolve, reject) => {
      const entry = { id: this.#nextId++, where, op, makeArgs, resolve, reject, worker, onPost };
      if (signal) {
        const onAbort = () => this.#abort(entry, signal);
        signal.addEventListener("abort", onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      this.#pending.set(entry.id, entry);
      this.#post(entry);
    });
  }

  #post(entry) {
    const made = entry.makeArgs();
    if (made === null) {
      this.#settle(entry); // nothing left to compute (every caller aborted)
      entry.resolve(null);
      return;
    }
    entry.worker = this.#worker;
    this.#counters.messages++;
    this.#worker.postMessage({ id: entry.id, op: entry.op, args: made[0] }, made[1]);
    entry.onPost?.(entry.worker);
  }

  /** A call from the API: start the worker if needed, then send. */
  async _call(where, op, makeArgs, signal = null, onPost = null) {
    if (signal?.aborted) throw abortError(signal);
    await this.#ensure(where);
    if (signal?.aborted) throw abortError(signal);
    return this.#request(this.#worker, where, op, makeArgs, signal, onPost);
  }

  #abort(entry, signal) {
    if (!this.#pending.has(entry.id)) return;
    this.#settle(entry);
    entry.reject(abortError(signal));
    this._replace(entry.worker);
  }

  /** The worker may be busy with something nobody wants: replace it, keep the rest. */
  _replace(worker) {
    if (worker !== this.#worker || this.#terminated) return;
    const survivors = [...this.#pending.values()].filter((e) => e.worker === worker);
    worker.terminate();
    this.#worker = null;
    this.#counters.restarts++;
    this.#ensure("restart")
      .then(() => {
        for (const entry of survivors) if (this.#pending.has(entry.id)) this.#post(entry);
      })
      .catch((error) => {
        for (const entry of survivors) {
          if (!this.#pending.has(entry.id)) continue;
          this.#settle(entry);
          entry.reject(new Error(`${entry.where}: the worker could not be restarted (${error.message})`));
        }
      });
  }

  /** The worker died: fail what it had, and let the next call start a new one. */
  #lost(worker, reason) {
    if (worker !== this.#worker) return;
    worker.terminate();
    this.#worker = null;
    this.#counters.crashes++;
    for (const entry of [...this.#pending.values()]) {
      if (entry.worker !== worker) continue;
      this.#settle(entry);
      entry.reject(new Error(`${entry.where}: the minimodel worker stopped (${reason}); the next call starts a new one`));
    }
    try {
      this.#options.onCrash?.(new Error(reason));
    } catch (error) {
      console.error("minimodel: an onCrash callback threw", error);
    }
  }

  _register(object) {
    this.#objects.set(object._id, object);
  }

  _unregister(object) {
    this.#objects.delete(object._id);
  }

  _newId() {
    return this.#nextObject++;
  }

  _count(requests, batched) {
    this.#counters.requests += requests;
    if (batched) {
      this.#counters.batches++;
      this.#counters.batchedRequests += requests;
    }
  }

  _live(where) {
    if (this.#terminated) throw new Error(`${where}: the worker has been terminated`);
    return this.#limits;
  }

  /**
   * A MiniModel in the worker (weights 0.01, bias 0, as on the main thread).
   * @param {number} inputSize @param {number} outputSize
   * @returns {Promise<RemoteModel>}
   */
  async createModel(inputSize, outputSize) {
    const limits = this._live("new MiniModel");
    checkLayerSizes([inputSize, outputSize], "new MiniModel", limits, ["inputSize", "outputSize"]);
    return this.#create(new RemoteModel(this, "MiniModel", [inputSize, outputSize]));
  }

  /**
   * A FeedForward network in the worker.
   * @param {number[]} sizes @returns {Promise<RemoteModel>}
   */
  async createFeedForward(sizes) {
    checkFeedForwardSizes(sizes, "new FeedForward", this._live("new FeedForward"));
    return this.#create(new RemoteModel(this, "FeedForward", [...sizes]));
  }

  /**
   * An EmbeddingIndex in the worker.
   * @param {number} dim @returns {Promise<RemoteIndex>}
   */
  async createIndex(dim) {
    const limits = this._live("new EmbeddingIndex");
    checkSize(dim, "dim", "new EmbeddingIndex", limits.maxDim);
    return this.#create(new RemoteIndex(this, dim));
  }

  /**
   * A FeedForward in the worker from a weight file (see FeedForward.load).
   * @param {string | URL | Blob | ArrayBuffer | Uint8Array} source
   * @returns {Promise<RemoteModel>}
   */
  async loadFeedForward(source) {
    return this.#loadFile("FeedForward", source);
  }

  /**
   * A MiniModel in the worker from a one-layer weight file (see MiniModel.load).
   * @param {string | URL | Blob | ArrayBuffer | Uint8Array} source
   * @returns {Promise<RemoteModel>}
   */
  async loadModel(source) {
    return this.#loadFile("MiniModel", source);
  }

  async #loadFile(kind, source) {
    const where = `${kind}.load`;
    this._live(where);
    const bytes = (await readWeightSource(source, where)).slice(); // ours: kept for restores
    const object = new RemoteModel(this, kind, null, bytes);
    object._setSizes(await this._call(where, "loadModel", () => [[object._id, kind, bytes], []]));
    this._register(object);
    return object;
  }

  async #create(object) {
    const [[op, makeArgs]] = object._recipe();
    await this._call(`new ${object.kind}`, op, makeArgs);
    this._register(object);
    return object;
  }

  /**
   * @param {NumericInput} a @param {NumericInput} b
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<number>}
   */
  async cosineSimilarity(a, b, options = {}) {
    const where = "cosineSimilarity";
    this._live(where);
    const { signal } = checkOptions(options, where);
    const n = checkVector(a, "a", where, null);
    checkVector(b, "b", where, n, "the length of a");
    this._count(1, false);
    return this._call(where, "cosineSimilarity", () => [[copyFloat32(a), copyFloat32(b)], []], signal);
  }

  /**
   * @param {NumericInput} vectors @param {number} dim
   * @returns {Promise<Float32Array>}
   */
  async normalizeRows(vectors, dim, options = {}) {
    const where = "normalizeRows";
    const limits = this._live(where);
    const { signal } = checkOptions(options, where);
    checkSize(dim, "dim", where, limits.maxDim);
    const length = checkVector(vectors, "vectors", where, null);
    if (length % dim !== 0) {
      throw new RangeError(`${where}: vectors must hold whole rows of ${dim} values (dim); received length ${length}, not a multiple of ${dim}`);
    }
    this._count(1, false);
    return this._call(where, "normalizeRows", () => {
      const copy = copyFloat32(vectors);
      return [[copy, dim], [copy.buffer]];
    }, signal);
  }

  /**
   * Class probabilities from logits (see softmax in minimodel.js).
   * @param {NumericInput} logits @returns {Promise<Float32Array>}
   */
  async softmax(logits, options = {}) {
    const where = "softmax";
    this._live(where);
    const { signal } = checkOptions(options, where);
    checkVector(logits, "logits", where, null);
    this._count(1, false);
    return this._call(where, "softmax", () => [[copyFloat32(logits)], []], signal);
  }

  /**
   * Counters that make batching observable: requests made, messages sent, merged batches
   * and the requests in them, worker restarts (after aborts) and crashes, calls waiting.
   */
  stats() {
    return { ...this.#counters, pending: this.#pending.size };
  }

  /** The worker's debugStats(): live PyProxies, wasm heap size, kernels, objects. */
  async debugStats() {
    this._live("debugStats");
    return this._call("debugStats", "debugStats", () => [[], []]);
  }

  /** For tests: make Pyodide in the worker fail fatally. */
  async _crashForTest() {
    return this._call("crash", "crash", () => [[], []]);
  }

  /** For tests: keep the worker computing for `ms` milliseconds. */
  async _busyForTest(ms, options = {}) {
    return this._call("busy", "busy", () => [[ms], []], options.signal ?? null);
  }

  /** Stop the worker; every waiting call rejects; later calls reject. Safe to call twice. */
  async terminate() {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#worker?.terminate();
    this.#worker = null;
    for (const object of this.#objects.values()) object._terminated();
    for (const entry of [...this.#pending.values()]) {
      this.#settle(entry);
      entry.reject(new Error(`${entry.where}: the worker was terminated`));
    }
  }
}

/** A MiniModel or FeedForward living in the worker. */
export class RemoteModel {
  #client;
  #sizes;
  #layers = new Map(); // index -> [weights, bias]: what a replacement worker must reload
  #queue = [];
  #timer = null;
  #disposed = false;

  #file;

  constructor(client, kind, sizes, file = null) {
    this.#client = client;
    this.kind = kind;
    this.#sizes = sizes;
    this.#file = file;
    this._id = client._newId();
  }

  _setSizes(sizes) {
    this.#sizes = sizes;
  }

  get inputSize() {
    return this.#sizes[0];
  }

  get outputSize() {
    return this.#sizes[this.#sizes.length - 1];
  }

  get sizes() {
    return [...this.#sizes];
  }

  _recipe() {
    let create;
    if (this.#file) create = ["loadModel", () => [[this._id, this.kind, this.#file], []]];
    else if (this.kind === "MiniModel") create = ["createModel", () => [[this._id, this.#sizes[0], this.#sizes[1]], []]];
    else create = ["createFeedForward", () => [[this._id, this.#sizes], []]];
    const loads = [...this.#layers].map(([index, [w, b]]) => ["loadLayer", () => [[this._id, index, w, b], []]]);
    return [create, ...loads];
  }

  #check(method) {
    const where = `${this.kind}.${method}`;
    if (this.#disposed) throw new Error(`${where}: this model has been disposed`);
    this.#client._live(where);
    return where;
  }

  /**
   * @param {NumericInput} x
   * @param {{ signal?: AbortSignal, transfer?: boolean }} [options]  transfer: take over
   *   x's memory instead of copying it (x must be a Float32Array; it is detached)
   * @returns {Promise<Float32Array>}
   */
  predict(x, options = {}) {
    // Not an async function: the batched path hands back its own promise (one tick less).
    try {
      return this.#predict(x, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #predict(x, options) {
    const where = this.#check("predict");
    const { signal, transfer = false } = checkOptions(options, where);
    checkVector(x, "x", where, this.#sizes[0], "the model's inputSize");
    if (signal?.aborted) throw abortError(signal);
    if (transfer && !(x instanceof Float32Array)) {
      throw new TypeError(`${where}: options.transfer needs x to be a Float32Array; received ${describe(x)}`);
    }
    // transfer: take over x's memory (x is detached, nothing is copied); else copy x.
    let row;
    if (transfer) {
      const { byteOffset, length } = x; // read before transfer() detaches x
      row = new Float32Array(x.buffer.transfer(), byteOffset, length);
    } else {
      row = copyFloat32(x);
    }
    if (!this.#client.batching) {
      this.#client._count(1, false);
      return this.#client._call(where, "predict", () => [[this._id, row], []], signal).then((y) => checkFiniteOutput(y, where));
    }
    return new Promise((resolve, reject) => {
      const request = { x: row, resolve, reject, settled: false, entryWorker: null, signal };
      if (signal) {
        request.onAbort = () => {
          if (request.settled) return;
          request.settled = true;
          reject(abortError(signal));
          const queued = this.#queue.indexOf(request);
          if (queued >= 0) this.#queue.splice(queued, 1);
          else if (request.entryWorker) this.#client._replace(request.entryWorker); // may be running
        };
        signal.addEventListener("abort", request.onAbort, { once: true });
      }
      this.#queue.push(request);
      if (this.#queue.length >= this.#client.options.maxBatchSize) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#client.options.batchTimeoutMs);
    });
  }

  /** Send the queued predict() calls as one batch; each caller gets its own row. */
  #flush() {
    clearTimeout(this.#timer);
    this.#timer = null;
    const requests = this.#queue.splice(0);
    if (requests.length === 0) return;
    const where = `${this.kind}.predict`;
    const nIn = this.#sizes[0];
    const nOut = this.outputSize;
    this.#client._count(requests.length, true);
    let sent = [];
    const makeArgs = () => {
      sent = requests.filter((r) => !r.settled);
      if (sent.length === 0) return null;
      const inputs = new Float32Array(sent.length * nIn);
      sent.forEach((r, i) => inputs.set(r.x, i * nIn));
      return [[this._id, inputs, sent.length], [inputs.buffer]];
    };
    const done = (r) => {
      r.settled = true;
      if (r.onAbort) r.signal.removeEventListener("abort", r.onAbort);
    };
    // Remember which worker has the rows (again after a restart): an abort replaces it.
    const onPost = (worker) => requests.forEach((r) => (r.entryWorker = worker));
    this.#client._call(where, "predictRows", makeArgs, null, onPost).then(
      (outputs) => {
        if (outputs === null) return;
        sent.forEach((r, i) => {
          if (r.settled) return;
          done(r);
          try {
            r.resolve(checkFiniteOutput(outputs.slice(i * nOut, (i + 1) * nOut), where));
          } catch (error) {
            r.reject(error);
          }
        });
      },
      (error) => {
        for (const r of requests) {
          if (r.settled) continue;
          done(r);
          r.reject(error);
        }
      },
    );
  }

  /**
   * @param {NumericInput} inputs  batch * inputSize values, row-major
   * @param {number} batch
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<Float32Array>}
   */
  async predictBatch(inputs, batch, options = {}) {
    const where = this.#check("predictBatch");
    const limits = this.#client.limits;
    const { signal } = checkOptions(options, where);
    checkSize(batch, "batch", where, limits.maxDim);
    checkVector(inputs, "inputs", where, batch * this.#sizes[0], `batch x inputSize = ${batch} x ${this.#sizes[0]}`);
    this.#flush();
    this.#client._count(1, false);
    return this.#client._call(where, "predictBatch", () => {
      const copy = copyFloat32(inputs);
      return [[this._id, copy, batch], [copy.buffer]];
    }, signal);
  }

  async #load(method, index, weights, bias) {
    const where = this.#check(method);
    const nIn = this.#sizes[index];
    const nOut = this.#sizes[index + 1];
    const single = this.kind === "MiniModel";
    const shape = single ? "outputSize x inputSize" : `sizes[${index + 1}] x sizes[${index}]`;
    checkVector(weights, "weights", where, nIn * nOut, `${shape} = ${nOut} x ${nIn}`);
    if (bias !== null && bias !== undefined) {
      checkVector(bias, "bias", where, nOut, single ? "the model's outputSize" : `sizes[${index + 1}]`);
    }
    const w = copyFloat32(weights);
    const b = bias == null ? null : copyFloat32(bias);
    this.#flush(); // predict() calls made before this one use the old weights
    await this.#client._call(where, "loadLayer", () => [[this._id, index, w, b], []]);
    this.#layers.set(index, [w, b]);
  }

  /** MiniModel: see MiniModel.loadWeights. */
  async loadWeights(weights, bias = null) {
    if (this.kind !== "MiniModel") throw new TypeError(`${this.kind}.loadWeights: use loadLayer(index, weights, bias)`);
    return this.#load("loadWeights", 0, weights, bias);
  }

  /** FeedForward: see FeedForward.loadLayer. */
  async loadLayer(index, weights, bias = null) {
    const layers = this.#sizes.length - 1;
    if (this.kind !== "FeedForward") throw new TypeError(`${this.kind}.loadLayer: use loadWeights(weights, bias)`);
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= layers) {
      this.#check("loadLayer");
      throw new RangeError(`FeedForward.loadLayer: index must be an integer from 0 to ${layers - 1}; received ${describe(index)}`);
    }
    return this.#load("loadLayer", index, weights, bias);
  }

  _terminated() {
    clearTimeout(this.#timer);
    for (const r of this.#queue.splice(0)) {
      r.settled = true;
      r.reject(new Error(`${this.kind}.predict: the worker was terminated`));
    }
  }

  /** Free the model in the worker. Safe to call twice; later calls reject. */
  async dispose() {
    if (this.#disposed) return;
    this.#flush();
    this.#disposed = true;
    this.#client._unregister(this);
    try {
      await this.#client._call(`${this.kind}.dispose`, "dispose", () => [[this._id], []]);
    } catch {
      // a terminated or lost worker has freed it already
    }
  }
}

/** An EmbeddingIndex living in the worker. */
export class RemoteIndex {
  #client;
  #chunks = []; // what a replacement worker must add again
  #size = 0;
  #disposed = false;

  constructor(client, dim) {
    this.#client = client;
    this.kind = "EmbeddingIndex";
    this.dim = dim;
    this._id = client._newId();
  }

  get size() {
    return this.#size;
  }

  _recipe() {
    return [
      ["createIndex", () => [[this._id, this.dim], []]],
      ...this.#chunks.map((chunk) => ["indexAdd", () => [[this._id, chunk], []]]),
    ];
  }

  #check(method) {
    const where = `EmbeddingIndex.${method}`;
    if (this.#disposed) throw new Error(`${where}: this index has been disposed`);
    return [where, this.#client._live(where)];
  }

  /** @param {NumericInput} vectors  n * dim values, row-major */
  async add(vectors, options = {}) {
    const [where, limits] = this.#check("add");
    const { signal } = checkOptions(options, where);
    const length = checkVector(vectors, "vectors", where, null);
    if (length % this.dim !== 0) {
      throw new RangeError(
        `${where}: vectors must hold whole rows of ${this.dim} values (dim); received length ${length}, not a multiple of ${this.dim}`,
      );
    }
    if (this.#size * this.dim + length > limits.maxValues) {
      throw new RangeError(`${where}: the index would hold ${this.#size * this.dim + length} values; at most ${limits.maxValues} fit in browser memory`);
    }
    const chunk = copyFloat32(vectors);
    this.#client._count(1, false);
    this.#size = await this.#client._call(where, "indexAdd", () => [[this._id, chunk], []], signal);
    this.#chunks.push(chunk);
  }

  /**
   * @param {NumericInput} query @param {number} k
   * @returns {Promise<{ indices: Int32Array, scores: Float32Array }>}
   */
  async search(query, k, options = {}) {
    const [where] = this.#check("search");
    const { signal } = checkOptions(options, where);
    checkVector(query, "query", where, this.dim, "the index's dim");
    checkSize(k, "k", where, Number.MAX_SAFE_INTEGER);
    this.#client._count(1, false);
    return this.#client._call(where, "indexSearch", () => [[this._id, copyFloat32(query), k], []], signal);
  }

  _terminated() {}

  async dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#chunks = [];
    this.#client._unregister(this);
    try {
      await this.#client._call("EmbeddingIndex.dispose", "dispose", () => [[this._id], []]);
    } catch {
      // a terminated or lost worker has freed it already
    }
  }
}
