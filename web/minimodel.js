// minimodel: a Python (numpy) MiniModel and cosine similarity, called from JavaScript.
//
//   import { init, MiniModel, cosineSimilarity } from "./minimodel.js";
//   await init({ onProgress: (p) => console.log(p.stage, p.loaded, p.total) });
//   const model = new MiniModel(128, 10);
//   const y = model.predict(new Float32Array(128).fill(0.5)); // Float32Array(10), 0.64 each
//   model.dispose();
//
// This module is the one place where JavaScript meets Python. Inputs are checked here
// (validate.js), written into float32 numpy buffers through zero-copy getBuffer() views,
// and the Python method is called with no arguments: no PyProxy is created per call and
// nothing goes through to_py(). Every PyProxy this module makes is destroyed by dispose()
// or lives for the whole session (a fixed handful made by init()).

import { loadRuntime } from "./loader.js";
import { checkSize, checkVector, describe } from "./validate.js";

/** @typedef {import("./loader.js").Progress} Progress */
/** @typedef {Float32Array | Float64Array | number[]} NumericInput */

const BASE_URL = new URL("./", import.meta.url);

/** Everything init() sets up; null until it resolves. */
let runtime = null;
/** The shared in-flight load, so concurrent init() calls share one. */
let loading = null;
const progressListeners = new Set();
let lastProgress = null;

/**
 * Load Pyodide, numpy and minimodel. Idempotent: later and concurrent calls share one
 * load; each caller's `onProgress` receives the stages from then on.
 * @param {{ onProgress?: (p: Progress) => void }} [options]
 * @returns {Promise<{ pyodideVersion: string, pythonVersion: string, numpyVersion: string }>}
 */
export function init(options = {}) {
  if (options === null || typeof options !== "object") {
    return Promise.reject(new TypeError(`init: options must be an object; received ${describe(options)}`));
  }
  const { onProgress } = options;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    return Promise.reject(new TypeError(`init: onProgress must be a function; received ${describe(onProgress)}`));
  }
  if (runtime) {
    onProgress?.(lastProgress);
    return Promise.resolve(runtime.info);
  }
  if (onProgress) {
    progressListeners.add(onProgress);
    if (lastProgress) onProgress(lastProgress);
  }
  loading ??= start().finally(() => {
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

async function start() {
  const pyodide = await loadRuntime(BASE_URL, report);
  // Track live PyProxies (what Pyodide's own test suite checks) for debugStats().
  pyodide._module.enable_pyproxy_allocation_tracing?.();
  // The module proxy and the attribute proxies borrowed from it live for the session.
  const bridge = pyodide.pyimport("minimodel.jsbridge");
  const scratch = bridge.scratch;
  const state = {
    pyodide,
    bridge,
    ModelSession: bridge.ModelSession,
    cosineScratch: bridge.cosine_scratch,
    scratch: new SharedArray(scratch, "array"),
    reserveScratch: scratch.reserve,
    maxDim: bridge.MAX_DIM,
    maxParameters: bridge.MAX_PARAMETERS,
    info: {
      pyodideVersion: pyodide.version,
      pythonVersion: pyodide.runPython("import sys; sys.version.split()[0]"),
      numpyVersion: pyodide.runPython("import numpy; numpy.__version__"),
    },
  };
  runtime = state;
  return state.info;
}

function ready(where) {
  if (!runtime) {
    throw new Error(`${where}: minimodel is not initialised; await init() first`);
  }
  return runtime;
}

/**
 * A JS view of a float32 numpy array held in a Python attribute (`owner[attr]`).
 * The view is re-taken when the array was replaced or the wasm memory grew (which
 * detaches every view of the old memory, leaving it with length 0).
 */
class SharedArray {
  constructor(owner, attr) {
    this.owner = owner;
    this.attr = attr;
    this.buffer = null;
  }

  /** @param {number} minLength  @returns {Float32Array} */
  view(minLength = 1) {
    if (this.buffer === null || this.buffer.data.length < minLength) this.refresh();
    return this.buffer.data;
  }

  refresh() {
    this.release();
    const array = this.owner[this.attr];
    try {
      this.buffer = array.getBuffer("f32");
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
  // The last line(s) of the formatted traceback, after "<Type>: ".
  const marker = `\n${type}: `;
  const at = err.message.lastIndexOf(marker);
  const text = at >= 0 ? err.message.slice(at + marker.length).trim() : type;
  let error;
  if (type === "TypeError") error = new TypeError(`${where}: ${text}`);
  else if (type === "ValueError" || type === "OverflowError") error = new RangeError(`${where}: ${text}`);
  else if (type === "MemoryError") error = new RangeError(`${where}: out of memory (the browser could not give Python more)`);
  else error = new Error(`${where}: Python raised ${type}: ${text}`);
  error.pythonType = type;
  error.pythonTraceback = err.message;
  return error;
}

function callPython(where, fn, ...args) {
  try {
    return fn(...args);
  } catch (err) {
    throw toJsError(err, where);
  }
}

/**
 * One Linear layer + ReLU: `relu(W @ x + b)` with W of shape outputSize x inputSize
 * (row-major), computed by numpy in Python. Weights start at 0.01, the bias at 0.
 * Call `dispose()` when done: it frees the Python model.
 */
export class MiniModel {
  #inputSize;
  #outputSize;
  #state = null;

  /**
   * @param {number} inputSize   positive integer
   * @param {number} outputSize  positive integer
   */
  constructor(inputSize, outputSize) {
    const rt = ready("new MiniModel");
    checkSize(inputSize, "inputSize", "new MiniModel", rt.maxDim);
    checkSize(outputSize, "outputSize", "new MiniModel", rt.maxDim);
    if (inputSize * outputSize > rt.maxParameters) {
      throw new RangeError(
        `new MiniModel: a ${outputSize} x ${inputSize} model has ${inputSize * outputSize} weights; ` +
          `at most ${rt.maxParameters} (${(rt.maxParameters * 4) / 2 ** 20} MiB) fit in browser memory`,
      );
    }
    this.#inputSize = inputSize;
    this.#outputSize = outputSize;
    const session = callPython("new MiniModel", rt.ModelSession, inputSize, outputSize);
    this.#state = {
      session,
      predict: session.predict,
      loadWeights: session.load_weights,
      x: new SharedArray(session, "x"),
      y: new SharedArray(session, "y"),
    };
  }

  /** Number of inputs. @type {number} */
  get inputSize() {
    return this.#inputSize;
  }

  /** Number of outputs. @type {number} */
  get outputSize() {
    return this.#outputSize;
  }

  #live(where) {
    if (this.#state === null) throw new Error(`MiniModel.${where}: this model has been disposed`);
    ready(`MiniModel.${where}`);
    return this.#state;
  }

  /**
   * Run the model on one input vector.
   * @param {NumericInput} x  inputSize finite numbers
   * @returns {Float32Array}  a new array of outputSize values, owned by the caller
   */
  predict(x) {
    const s = this.#live("predict");
    checkVector(x, "x", "MiniModel.predict", this.#inputSize, "the model's inputSize");
    s.x.view().set(x);
    callPython("MiniModel.predict", s.predict);
    return s.y.view().slice();
  }

  /**
   * Replace the weights (outputSize * inputSize values, row-major: row o holds the
   * weights of output o) and the bias (outputSize values; omitted or null means zeros).
   * If anything is invalid, nothing changes.
   * @param {NumericInput} weights
   * @param {NumericInput | null} [bias]
   */
  loadWeights(weights, bias = null) {
    const s = this.#live("loadWeights");
    const where = "MiniModel.loadWeights";
    const count = this.#inputSize * this.#outputSize;
    checkVector(weights, "weights", where, count, `outputSize x inputSize = ${this.#outputSize} x ${this.#inputSize}`);
    if (bias !== null && bias !== undefined) {
      checkVector(bias, "bias", where, this.#outputSize, "the model's outputSize");
    }
    callPython(where, s.loadWeights, asFloat32(weights), bias == null ? null : asFloat32(bias));
  }

  /** Free the Python model. Safe to call twice; any later call throws. */
  dispose() {
    const s = this.#state;
    if (s === null) return;
    this.#state = null;
    s.x.release();
    s.y.release();
    s.predict.destroy();
    s.loadWeights.destroy();
    s.session.destroy();
  }
}

/** A Float32Array with the same values (the array itself when it already is one). */
function asFloat32(values) {
  return values instanceof Float32Array ? values : new Float32Array(values);
}

/**
 * Cosine similarity of two vectors of the same length (>= 1), in [-1, 1]. If either is
 * all zeros the result is 0 (scikit-learn's convention). Computed in float64 in Python,
 * so very large or tiny magnitudes (1e30, 1e-30) neither overflow nor underflow.
 * @param {NumericInput} a
 * @param {NumericInput} b
 * @returns {number}
 */
export function cosineSimilarity(a, b) {
  const rt = ready("cosineSimilarity");
  const n = checkVector(a, "a", "cosineSimilarity", null);
  checkVector(b, "b", "cosineSimilarity", n, "the length of a");
  let view = rt.scratch.view(2 * n);
  if (view.length < 2 * n) {
    callPython("cosineSimilarity", rt.reserveScratch, 2 * n);
    rt.scratch.refresh();
    view = rt.scratch.view(2 * n);
  }
  view.set(a, 0);
  view.set(b, n);
  return callPython("cosineSimilarity", rt.cosineScratch, n);
}

/**
 * The Pyodide instance, for page code that needs more (e.g. micropip). Throws before init().
 * @returns {any}
 */
export function getPyodide() {
  return ready("getPyodide").pyodide;
}

/**
 * Debug statistics: live PyProxies (as Pyodide's own tests count them) and the size
 * of the WebAssembly heap in bytes.
 * @returns {{ liveProxies: number, heapBytes: number }}
 */
export function debugStats() {
  const m = ready("debugStats").pyodide._module;
  return { liveProxies: m.pyproxy_alloc_map.size, heapBytes: m.HEAPU8.length };
}
