// minimodel: Python (numpy) models, cosine similarity and embedding search, called from
// JavaScript.
//
//   import { init, MiniModel, cosineSimilarity } from "./minimodel.js";
//   await init({ onProgress: (p) => console.log(p.stage, p.loaded, p.total) });
//   const model = new MiniModel(128, 10);
//   const y = model.predict(new Float32Array(128).fill(0.5)); // Float32Array(10), 0.64 each
//   model.dispose();
//
// This module is the one place where JavaScript meets Python. Inputs are checked here
// (validate.js), written into numpy buffers through zero-copy getBuffer() views, and the
// Python method is called with plain numbers: no PyProxy is created per call and nothing
// goes through to_py(). Every PyProxy this module makes is destroyed by dispose() or
// lives for the whole session (a fixed handful made by init()).

import { loadRuntime } from "./loader.js";
import { readWeightSource } from "./weight-source.js";
import {
  checkFeedForwardSizes,
  checkFiniteOutput,
  checkLayerSizes,
  checkSize,
  checkVector,
  describe,
} from "./validate.js";

export { createWorker } from "./worker-client.js";
export { MAX_WEIGHT_FILE_BYTES } from "./weight-source.js";

/** @typedef {import("./loader.js").Progress} Progress */
/** @typedef {Float32Array | Float64Array | number[]} NumericInput */

const BASE_URL = new URL("./", import.meta.url);

/** Everything init() sets up; null until it resolves. */
let runtime = null;
/** The shared in-flight load, so concurrent init() calls share one. */
let loading = null;
const progressListeners = new Set();
let lastProgress = null;
/** The fatal error that stopped the last runtime, if one did (init() starts a new one). */
let crash = null;
const fatalListeners = new Set();

/**
 * Load Pyodide, numpy and minimodel. Idempotent: later and concurrent calls share one
 * load; each caller's `onProgress` receives the stages from then on.
 *
 * A repeat visit starts faster from this browser's cache of the booted interpreter and of
 * the unpacked packages (Cache Storage, about 35 MB, replaced when the site or the browser
 * changes; see README "Startup cache"). `cache: false` neither reads nor writes it.
 * @param {{ onProgress?: (p: Progress) => void, cache?: boolean }} [options]
 * @returns {Promise<{ pyodideVersion: string, pythonVersion: string, numpyVersion: string, fromCache: boolean }>}
 */
export function init(options = {}) {
  if (options === null || typeof options !== "object") {
    return Promise.reject(new TypeError(`init: options must be an object; received ${describe(options)}`));
  }
  const { onProgress, cache = true } = options;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    return Promise.reject(new TypeError(`init: onProgress must be a function; received ${describe(onProgress)}`));
  }
  if (typeof cache !== "boolean") {
    return Promise.reject(new TypeError(`init: cache must be true or false; received ${describe(cache)}`));
  }
  if (runtime) {
    onProgress?.(lastProgress);
    return Promise.resolve(runtime.info);
  }
  if (!loading) lastProgress = null;
  if (onProgress) {
    progressListeners.add(onProgress);
    if (lastProgress) onProgress(lastProgress);
  }
  loading ??= start(cache).finally(() => {
    loading = null;
    progressListeners.clear();
  });
  return loading;
}

function report(progress) {
  lastProgress = progress;
  for (const listener of progressListeners) {
    try {
      listener(progress);
    } catch (err) {
      console.error("minimodel init: an onProgress callback threw", err);
    }
  }
}

async function start(useCache) {
  const { pyodide, fromCache } = await loadRuntime(BASE_URL, report, { useCache });
  // Track live PyProxies (what Pyodide's own test suite checks) for debugStats().
  pyodide._module.enable_pyproxy_allocation_tracing?.();
  // The module proxy and the attribute proxies borrowed from it live for the session.
  const bridge = pyodide.pyimport("minimodel.jsbridge");
  const inputs = bridge.inputs;
  const outputs = bridge.outputs;
  const state = {
    pyodide,
    bridge,
    ModelSession: bridge.ModelSession,
    IndexSession: bridge.IndexSession,
    newMiniModel: null,
    newFeedForward: null,
    modelFromFile: null,
    cosineScratch: bridge.cosine_scratch,
    normalizeScratch: bridge.normalize_scratch,
    softmaxScratch: bridge.softmax_scratch,
    kernelsActive: bridge.kernels_active,
    inputs: new SharedArray(inputs, "array", "f32", inputs.reserve),
    outputs: new SharedArray(outputs, "array", "f32", outputs.reserve),
    maxDim: bridge.MAX_DIM,
    maxParameters: bridge.MAX_PARAMETERS,
    maxValues: bridge.MAX_INDEX_VALUES,
    info: {
      pyodideVersion: pyodide.version,
      pythonVersion: pyodide.runPython("import sys; sys.version.split()[0]"),
      numpyVersion: pyodide.runPython("import numpy; numpy.__version__"),
      fromCache,
    },
  };
  state.newMiniModel = state.ModelSession.mini;
  state.newFeedForward = state.ModelSession.feed_forward;
  state.modelFromFile = state.ModelSession.from_file;
  // Pyodide calls this when the interpreter can no longer be trusted (a wasm trap, an
  // abort): from then on every call fails clearly until init() starts a new runtime.
  pyodide._api.on_fatal = (error) => markFatal(state, error);
  runtime = state;
  crash = null;
  return state.info;
}

function markFatal(state, error) {
  if (runtime !== state) return;
  runtime = null;
  crash = error instanceof Error ? error : new Error(String(error));
  const notice = new Error(`the Python runtime stopped after a fatal error (${crash.message}); await init() to start a new one`);
  notice.cause = crash;
  for (const listener of fatalListeners) {
    try {
      listener(notice);
    } catch (err) {
      console.error("minimodel: an onFatalError listener threw", err);
    }
  }
}

function ready(where) {
  if (!runtime) {
    if (crash) {
      throw new Error(`${where}: the Python runtime stopped after a fatal error (${crash.message}); await init() to start a new one`);
    }
    throw new Error(`${where}: minimodel is not initialised; await init() first`);
  }
  return runtime;
}

/**
 * Be told when the Python runtime stops after a fatal error (every later call throws
 * until `init()` has started a new runtime). Returns a function that unsubscribes.
 * @param {(error: Error) => void} listener
 * @returns {() => void}
 */
export function onFatalError(listener) {
  if (typeof listener !== "function") {
    throw new TypeError(`onFatalError: listener must be a function; received ${describe(listener)}`);
  }
  fatalListeners.add(listener);
  return () => fatalListeners.delete(listener);
}

/**
 * A JS view of a numpy array held in a Python attribute (`owner[attr]`). The view is
 * re-taken when the wasm memory grew (which detaches every view of the old memory,
 * leaving it with length 0) or after `reserve` replaced the array.
 */
class SharedArray {
  /**
   * @param {any} owner  PyProxy of the object holding the array
   * @param {string} attr
   * @param {"f32"|"i32"} type
   * @param {any} [reserve]  PyProxy of a Python method that grows the array to n values
   */
  constructor(owner, attr, type, reserve = null) {
    this.owner = owner;
    this.attr = attr;
    this.type = type;
    this.reserveFn = reserve;
    this.buffer = null;
  }

  /** A view of at least `minLength` values (growing the array if it can). */
  view(minLength = 1) {
    if (this.buffer === null || this.buffer.data.length < minLength) {
      this.refresh();
      if (this.buffer.data.length < minLength && this.reserveFn) {
        callPython("reserve", this.reserveFn, minLength);
        this.refresh();
      }
    }
    return this.buffer.data;
  }

  refresh() {
    this.release();
    const array = this.owner[this.attr];
    try {
      this.buffer = array.getBuffer(this.type);
    } finally {
      array.destroy();
    }
  }

  release() {
    this.buffer?.release();
    this.buffer = null;
  }
}

/** Turn a Python exception into a JS error of the matching type, without the traceback. */
function toJsError(err, where) {
  const PythonError = runtime?.pyodide.ffi.PythonError;
  if (!PythonError || !(err instanceof PythonError)) return err;
  const type = err.type;
  // The last line(s) of the formatted traceback, after "<module.Type>: ".
  const marker = `${type}: `;
  const at = err.message.lastIndexOf(marker);
  const text = at >= 0 ? err.message.slice(at + marker.length).trim() : type;
  let error;
  if (type === "TypeError") error = new TypeError(`${where}: ${text}`);
  else if (type === "ValueError" || type === "IndexError" || type === "OverflowError") {
    error = new RangeError(`${where}: ${text}`);
  } else if (type === "WeightsFileError") {
    error = new Error(`${where}: the weight file cannot be loaded: ${text}`);
    error.name = "WeightsFileError";
  } else if (type.endsWith("MemoryError")) {
    // numpy raises its own MemoryError subclass, e.g. "Unable to allocate 256. MiB for an array ..."
    error = new RangeError(`${where}: out of memory: the browser could not give Python more (${text})`);
  } else error = new Error(`${where}: Python raised ${type}: ${text}`);
  error.pythonType = type;
  error.pythonTraceback = err.message;
  return error;
}

function callPython(where, fn, ...args) {
  try {
    return fn(...args);
  } catch (err) {
    if (err?.pyodide_fatal_error) {
      if (runtime) markFatal(runtime, err);
      const error = new Error(`${where}: the Python runtime crashed (${err.message}); await init() to start a new one`);
      error.cause = err;
      throw error;
    }
    throw toJsError(err, where);
  }
}

/** A Float32Array with the same values (the array itself when it already is one). */
function asFloat32(values) {
  return values instanceof Float32Array ? values : new Float32Array(values);
}

function checkArraySize(count, where, what) {
  if (count > runtime.maxValues) {
    throw new RangeError(
      `${where}: ${what} would hold ${count} values; at most ${runtime.maxValues} ` +
        `(${(runtime.maxValues * 4) / 2 ** 20} MiB) fit in browser memory`,
    );
  }
}

const STATE = Symbol("minimodel state");
const STALE = "it belongs to a Python runtime that stopped after a fatal error; create it again after init()";

/** What MiniModel and FeedForward share: a Python ModelSession and its buffers. */
class Model {
  constructor(name, sizes, session) {
    this.name = name;
    this.layerSizes = sizes;
    this[STATE] = {
      runtime,
      session,
      predict: session.predict,
      predictBatch: session.predict_batch,
      loadLayer: session.load_layer,
      x: new SharedArray(session, "x", "f32"),
      y: new SharedArray(session, "y", "f32"),
    };
  }

  live(method) {
    const where = `${this.name}.${method}`;
    if (this[STATE] === null) throw new Error(`${where}: this model has been disposed`);
    const rt = ready(where);
    if (this[STATE].runtime !== rt) throw new Error(`${where}: ${STALE}`);
    return [rt, this[STATE], where];
  }

  predict(x) {
    const [, s, where] = this.live("predict");
    checkVector(x, "x", where, this.layerSizes[0], "the model's inputSize");
    s.x.view().set(x);
    callPython(where, s.predict);
    return checkFiniteOutput(s.y.view().slice(), where);
  }

  predictBatch(inputs, batch) {
    return checkFiniteOutput(this._predictRows(inputs, batch, "predictBatch"), `${this.name}.predictBatch`);
  }

  /** predictBatch without the overflow check (internal: the worker checks row by row). */
  _predictRows(inputs, batch, method = "predictBatch") {
    const [rt, s, where] = this.live(method);
    const nIn = this.layerSizes[0];
    const nOut = this.layerSizes[this.layerSizes.length - 1];
    checkSize(batch, "batch", where, rt.maxDim);
    checkVector(inputs, "inputs", where, batch * nIn, `batch x inputSize = ${batch} x ${nIn}`);
    checkArraySize(batch * nOut, where, "the outputs");
    rt.outputs.view(batch * nOut); // grow both before writing: growth can move memory
    rt.inputs.view(batch * nIn).set(inputs);
    callPython(where, s.predictBatch, batch);
    return rt.outputs.view(batch * nOut).slice(0, batch * nOut);
  }

  loadLayerFrom(method, index, weights, bias) {
    const [, s, where] = this.live(method);
    const nIn = this.layerSizes[index];
    const nOut = this.layerSizes[index + 1];
    const single = this.layerSizes.length === 2 && method === "loadWeights";
    const shape = single ? "outputSize x inputSize" : `sizes[${index + 1}] x sizes[${index}]`;
    checkVector(weights, "weights", where, nIn * nOut, `${shape} = ${nOut} x ${nIn}`);
    if (bias !== null && bias !== undefined) {
      checkVector(bias, "bias", where, nOut, single ? "the model's outputSize" : `sizes[${index + 1}]`);
    }
    callPython(where, s.loadLayer, index, asFloat32(weights), bias == null ? null : asFloat32(bias));
  }

  dispose() {
    const s = this[STATE];
    if (s === null) return;
    this[STATE] = null;
    if (s.runtime !== runtime) return; // its runtime is gone, and its proxies with it
    s.x.release();
    s.y.release();
    for (const proxy of [s.predict, s.predictBatch, s.loadLayer, s.session]) proxy.destroy();
  }
}

/** A MiniModel or FeedForward built by Python from a weight file's bytes. */
function modelFromBytes(Class, name, bytes) {
  const rt = ready(`${name}.load`);
  const session = callPython(`${name}.load`, rt.modelFromFile, bytes, bytes.length, name);
  const sizesText = session.sizes_text;
  let sizes;
  try {
    sizes = sizesText().split(",").map(Number);
  } finally {
    sizesText.destroy();
  }
  return Reflect.construct(Model, [name, sizes, session], Class);
}

/**
 * One Linear layer + ReLU: `relu(W @ x + b)` with W of shape outputSize x inputSize
 * (row-major), computed in Python (numpy, with WebAssembly SIMD kernels behind it).
 * Weights start at 0.01, the bias at 0. Call `dispose()` when done.
 */
export class MiniModel extends Model {
  /**
   * @param {number} inputSize   positive integer
   * @param {number} outputSize  positive integer
   */
  constructor(inputSize, outputSize) {
    const rt = ready("new MiniModel");
    checkLayerSizes([inputSize, outputSize], "new MiniModel", rt, ["inputSize", "outputSize"]);
    super("MiniModel", [inputSize, outputSize], callPython("new MiniModel", rt.newMiniModel, inputSize, outputSize));
  }

  /**
   * A MiniModel from a one-layer weight file (.safetensors or .npz): `<name>.weight`
   * [out, in] and optionally `<name>.bias` [out].
   * @param {string | URL | Blob | ArrayBuffer | Uint8Array} source
   * @returns {Promise<MiniModel>}
   */
  static async load(source) {
    ready("MiniModel.load");
    return modelFromBytes(MiniModel, "MiniModel", await readWeightSource(source, "MiniModel.load"));
  }

  /** Number of inputs. @type {number} */
  get inputSize() {
    return this.layerSizes[0];
  }

  /** Number of outputs. @type {number} */
  get outputSize() {
    return this.layerSizes[1];
  }

  /**
   * Run the model on one input vector.
   * @param {NumericInput} x  inputSize finite numbers
   * @returns {Float32Array}  a new array of outputSize values, owned by the caller
   */
  predict(x) {
    return super.predict(x);
  }

  /**
   * Run the model on `batch` inputs at once.
   * @param {NumericInput} inputs  batch * inputSize values, row-major (row i = input i)
   * @param {number} batch  positive integer
   * @returns {Float32Array}  batch * outputSize values, row-major, owned by the caller
   */
  predictBatch(inputs, batch) {
    return super.predictBatch(inputs, batch);
  }

  /**
   * Replace the weights (outputSize * inputSize values, row-major: row o holds the
   * weights of output o) and the bias (outputSize values; omitted or null means zeros).
   * If anything is invalid, nothing changes.
   * @param {NumericInput} weights
   * @param {NumericInput | null} [bias]
   */
  loadWeights(weights, bias = null) {
    this.loadLayerFrom("loadWeights", 0, weights, bias);
  }

  /** Free the Python model. Safe to call twice; any later call throws. */
  dispose() {
    super.dispose();
  }
}

/**
 * A stack of Linear layers with ReLU between them and none after the last:
 * `new FeedForward([784, 256, 10])` is 784 -> 256 -> ReLU -> 10. Weights start at
 * 0.01, biases at 0. Call `dispose()` when done.
 */
export class FeedForward extends Model {
  /** @param {number[]} sizes  at least two positive integers: inputs, hidden..., outputs */
  constructor(sizes) {
    const rt = ready("new FeedForward");
    const where = "new FeedForward";
    checkFeedForwardSizes(sizes, where, rt);
    super("FeedForward", [...sizes], callPython(where, rt.newFeedForward, ...sizes));
  }

  /**
   * A network from a weight file as PyTorch users save it: `.safetensors` (F32, F16,
   * BF16 or F64) or `.npz`, tensors `fc1.weight` [out, in], `fc1.bias` [out], `fc2...`
   * (or `layers.0...`), layers in the natural order of their names. A damaged or hostile
   * file is refused with an error naming the tensor and the problem.
   * @param {string | URL | Blob | ArrayBuffer | Uint8Array} source
   * @returns {Promise<FeedForward>}
   */
  static async load(source) {
    ready("FeedForward.load");
    return modelFromBytes(FeedForward, "FeedForward", await readWeightSource(source, "FeedForward.load"));
  }

  /** The layer sizes (a copy). @type {number[]} */
  get sizes() {
    return [...this.layerSizes];
  }

  /** @type {number} */
  get inputSize() {
    return this.layerSizes[0];
  }

  /** @type {number} */
  get outputSize() {
    return this.layerSizes[this.layerSizes.length - 1];
  }

  /**
   * Replace layer `index` (0-based): weights of sizes[index+1] x sizes[index] values,
   * row-major, and an optional bias (null: zeros). Nothing changes if anything is invalid.
   * @param {number} index
   * @param {NumericInput} weights
   * @param {NumericInput | null} [bias]
   */
  loadLayer(index, weights, bias = null) {
    const layers = this.layerSizes.length - 1;
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= layers) {
      this.live("loadLayer");
      throw new RangeError(
        `FeedForward.loadLayer: index must be an integer from 0 to ${layers - 1}; received ${describe(index)}`,
      );
    }
    this.loadLayerFrom("loadLayer", index, weights, bias);
  }

  /**
   * @param {NumericInput} x  inputSize finite numbers
   * @returns {Float32Array}  a new array of outputSize values
   */
  predict(x) {
    return super.predict(x);
  }

  /**
   * @param {NumericInput} inputs  batch * inputSize values, row-major
   * @param {number} batch
   * @returns {Float32Array}  batch * outputSize values, row-major
   */
  predictBatch(inputs, batch) {
    return super.predictBatch(inputs, batch);
  }

  /** Free the Python network. Safe to call twice; any later call throws. */
  dispose() {
    super.dispose();
  }
}

/**
 * Cosine top-k search over embeddings (client-side retrieval). Rows are normalised
 * once, when added; a search is one pass of SIMD dot products plus a top-k selection.
 */
export class EmbeddingIndex {
  #dim;
  #state;

  /** @param {number} dim  the length of every vector */
  constructor(dim) {
    const rt = ready("new EmbeddingIndex");
    this.#dim = checkSize(dim, "dim", "new EmbeddingIndex", rt.maxDim);
    const session = callPython("new EmbeddingIndex", rt.IndexSession, dim);
    this.#state = {
      runtime: rt,
      session,
      add: session.add,
      search: session.search,
      reserveResults: session.reserve_results,
      query: new SharedArray(session, "query", "f32"),
      indices: new SharedArray(session, "indices", "i32", session.reserve_results),
      scores: new SharedArray(session, "scores", "f32"),
    };
  }

  #live(method) {
    const where = `EmbeddingIndex.${method}`;
    if (this.#state === null) throw new Error(`${where}: this index has been disposed`);
    if (this.#state.runtime !== ready(where)) throw new Error(`${where}: ${STALE}`);
    return this.#state;
  }

  /** The vector length. @type {number} */
  get dim() {
    return this.#dim;
  }

  /** How many vectors were added. @type {number} */
  get size() {
    return this.#live("size").session.size;
  }

  /**
   * Add vectors: n * dim values, row-major. Adding in several calls equals adding once.
   * @param {NumericInput} vectors
   */
  add(vectors) {
    const s = this.#live("add");
    const where = "EmbeddingIndex.add";
    const length = checkVector(vectors, "vectors", where, null);
    if (length % this.#dim !== 0) {
      throw new RangeError(
        `${where}: vectors must hold whole rows of ${this.#dim} values (dim); received length ${length}, not a multiple of ${this.#dim}`,
      );
    }
    checkArraySize((s.session.size + length / this.#dim) * this.#dim, where, "the index");
    callPython(where, s.add, asFloat32(vectors), length / this.#dim);
  }

  /**
   * The k most similar vectors by cosine similarity, best first; ties go to the lower
   * index; fewer than k when the index is smaller. A zero query scores 0 everywhere.
   * @param {NumericInput} query  dim values
   * @param {number} k  positive integer
   * @returns {{ indices: Int32Array, scores: Float32Array }}
   */
  search(query, k) {
    const s = this.#live("search");
    const where = "EmbeddingIndex.search";
    checkVector(query, "query", where, this.#dim, "the index's dim");
    checkSize(k, "k", where, Number.MAX_SAFE_INTEGER);
    const count = Math.min(k, s.session.size);
    // Growing the indices (reserve_results) replaces the scores too; both were shorter
    // than `count` then, so scores.view(found) below re-takes that view as well.
    s.indices.view(count);
    s.query.view().set(query);
    const found = callPython(where, s.search, count);
    return { indices: s.indices.view(found).slice(0, found), scores: s.scores.view(found).slice(0, found) };
  }

  /** Free the index. Safe to call twice; any later call throws. */
  dispose() {
    const s = this.#state;
    if (s === null) return;
    this.#state = null;
    if (s.runtime !== runtime) return; // its runtime is gone, and its proxies with it
    s.query.release();
    s.indices.release();
    s.scores.release();
    for (const proxy of [s.add, s.search, s.reserveResults, s.session]) proxy.destroy();
  }
}

/**
 * Cosine similarity of two vectors of the same length (>= 1), in [-1, 1]. If either is
 * all zeros the result is 0 (scikit-learn's convention). Sums run in float64, so very
 * large or tiny magnitudes (1e30, 1e-30) neither overflow nor underflow.
 * @param {NumericInput} a
 * @param {NumericInput} b
 * @returns {number}
 */
export function cosineSimilarity(a, b) {
  const rt = ready("cosineSimilarity");
  const n = checkVector(a, "a", "cosineSimilarity", null);
  checkVector(b, "b", "cosineSimilarity", n, "the length of a");
  checkArraySize(2 * n, "cosineSimilarity", "a and b together");
  const view = rt.inputs.view(2 * n);
  view.set(a, 0);
  view.set(b, n);
  return callPython("cosineSimilarity", rt.cosineScratch, n);
}

/**
 * Each row scaled to unit L2 norm (norms taken in float64); zero rows stay zero.
 * @param {NumericInput} vectors  n * dim values, row-major
 * @param {number} dim
 * @returns {Float32Array}  a new array of the same length
 */
export function normalizeRows(vectors, dim) {
  const rt = ready("normalizeRows");
  const where = "normalizeRows";
  checkSize(dim, "dim", where, rt.maxDim);
  const length = checkVector(vectors, "vectors", where, null);
  if (length % dim !== 0) {
    throw new RangeError(`${where}: vectors must hold whole rows of ${dim} values (dim); received length ${length}, not a multiple of ${dim}`);
  }
  checkArraySize(length, where, "the result");
  rt.outputs.view(length);
  rt.inputs.view(length).set(vectors);
  callPython(where, rt.normalizeScratch, length, dim);
  return rt.outputs.view(length).slice(0, length);
}

/**
 * Class probabilities from logits (softmax, computed in float64 in Python): a new
 * Float32Array of the same length, summing to 1.
 * @param {NumericInput} logits
 * @returns {Float32Array}
 */
export function softmax(logits) {
  const rt = ready("softmax");
  const n = checkVector(logits, "logits", "softmax", null);
  checkArraySize(2 * n, "softmax", "the logits");
  rt.outputs.view(n);
  rt.inputs.view(n).set(logits);
  callPython("softmax", rt.softmaxScratch, n);
  return rt.outputs.view(n).slice(0, n);
}

/**
 * The size limits the API enforces (after init()).
 * @returns {{ maxDim: number, maxParameters: number, maxValues: number }}
 */
export function limits() {
  const rt = ready("limits");
  return { maxDim: rt.maxDim, maxParameters: rt.maxParameters, maxValues: rt.maxValues };
}

/**
 * The Pyodide instance, for page code that needs more (e.g. micropip). Throws before init().
 * @returns {any}
 */
export function getPyodide() {
  return ready("getPyodide").pyodide;
}

/**
 * Debug statistics: live PyProxies (as Pyodide's own tests count them), the size of
 * the WebAssembly heap in bytes, and whether the SIMD kernels are in use.
 * @returns {{ liveProxies: number, heapBytes: number, kernels: boolean }}
 */
export function debugStats() {
  const rt = ready("debugStats");
  const m = rt.pyodide._module;
  return { liveProxies: m.pyproxy_alloc_map.size, heapBytes: m.HEAPU8.length, kernels: rt.kernelsActive() };
}
