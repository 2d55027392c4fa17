// The main thread's Python runtime: init() and its progress, the fatal-error state, and
// the one way JavaScript calls Python (callPython: errors become JS errors of the matching
// type) and shares numpy buffers (SharedArray: zero-copy getBuffer() views).
//
// Every PyProxy made here lives for the whole session (a fixed handful made by init());
// the objects of minimodel.js destroy theirs in dispose().

import { loadRuntime } from "./loader.js";
import { KERNEL_CHOICES, resolveKernels } from "./features.js";
import { heapBytes, liveProxies, loadSideModule, onFatal, trackProxies, withoutAllocationStacks } from "./pyodide-adapter.js";
import { describe, libraryFolder } from "./validate.js";

/** @typedef {import("./loader.js").Progress} Progress */
/** @typedef {import("./api.js").Limits} Limits */

/**
 * What init() resolves with.
 * @typedef {Object} RuntimeInfo
 * @property {string} pyodideVersion
 * @property {string} pythonVersion
 * @property {string} numpyVersion
 * @property {boolean} fromCache  whether this start restored the startup cache (this browser's)
 * @property {"cache" | "site" | "boot"} startedFrom  how Python started: restored from this
 *   browser's startup cache, from the snapshot the site ships (a first visit), or booted
 * @property {string} kernelBuild  the kernels in use: "relaxed-simd", "simd128" or "numpy"
 */

/**
 * Options of init().
 * @typedef {Object} InitOptions
 * @property {(p: Progress) => void} [onProgress]  told of each loading stage, in bytes
 * @property {boolean} [cache]  use the startup cache and the site's snapshot (default true);
 *   false neither reads nor writes the cache, and boots Python
 * @property {string | URL} [baseURL]  the folder the library's files are served from (default:
 *   this module's folder; set it when a bundler moves the module, see README)
 * @property {"auto" | "relaxed-simd" | "simd128" | "numpy"} [kernels]  which compute kernels
 *   run behind numpy: "auto" (the default) picks relaxed SIMD (fused multiply-adds) where the
 *   browser has it, else SIMD128; "numpy" runs none. Given again to a running init(), it
 *   switches.
 */

/**
 * Everything init() sets up.
 * @typedef {Object} Runtime
 * @property {any} pyodide
 * @property {any} bridge   the minimodel.jsbridge module (PyProxy)
 * @property {Record<string, any>} py  the bridge's functions and classes (PyProxies, session-long)
 * @property {SharedArray} inputs   scratch buffers for calls of variable size
 * @property {SharedArray} outputs
 * @property {Limits} limits
 * @property {RuntimeInfo} info
 * @property {URL} folder  where the library's files are (the shipped model among them)
 * @property {boolean} [relaxedLoaded]  the relaxed-SIMD kernels' library is loaded
 */

/** @type {Runtime | null} */
let runtime = null;
/** @type {Promise<RuntimeInfo> | null} the shared in-flight load */
let loading = null;
/** @type {Set<(p: Progress) => void>} */
const progressListeners = new Set();
/** @type {Progress | null} */
let lastProgress = null;
/** @type {Error | null} the fatal error that stopped the last runtime (init() starts a new one) */
let crash = null;
/** @type {Set<(error: Error) => void>} */
const fatalListeners = new Set();

/**
 * Load Pyodide, numpy and minimodel. Idempotent: later and concurrent calls share one
 * load; each caller's `onProgress` receives the stages from then on.
 *
 * A first visit restores the snapshot of the interpreter, numpy and minimodel imported, that
 * the site ships (when the build made one); a repeat visit starts from this browser's cache
 * of such a snapshot and of the unpacked packages (Cache Storage, about 43 MB, replaced
 * when the site or the browser changes; see README "Startup cache"). `cache: false`
 * neither reads nor writes that cache, nor uses the site's snapshot: Python boots.
 * @param {InitOptions} [options]
 * @returns {Promise<RuntimeInfo>}
 */
export function init(options = {}) {
  if (options === null || typeof options !== "object") {
    return Promise.reject(new TypeError(`init: options must be an object; received ${describe(options)}`));
  }
  const { onProgress, cache = true, baseURL, kernels } = options;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    return Promise.reject(new TypeError(`init: onProgress must be a function; received ${describe(onProgress)}`));
  }
  if (typeof cache !== "boolean") {
    return Promise.reject(new TypeError(`init: cache must be true or false; received ${describe(cache)}`));
  }
  if (kernels !== undefined && !KERNEL_CHOICES.includes(/** @type {any} */ (kernels))) {
    return Promise.reject(new TypeError(`init: kernels must be one of ${KERNEL_CHOICES.map((k) => `"${k}"`).join(", ")}; received ${describe(kernels)}`));
  }
  let folder;
  let build;
  try {
    folder = libraryFolder(baseURL, "init");
    build = resolveKernels(kernels ?? "auto", "init");
  } catch (error) {
    return Promise.reject(error);
  }
  if (runtime) {
    if (lastProgress) onProgress?.(lastProgress);
    if (kernels !== undefined && build !== runtime.info.kernelBuild) return switchKernels(runtime, build);
    return Promise.resolve(runtime.info);
  }
  if (!loading) lastProgress = null;
  if (onProgress) {
    progressListeners.add(onProgress);
    if (lastProgress) onProgress(lastProgress);
  }
  loading ??= start(cache, folder, build).finally(() => {
    loading = null;
    progressListeners.clear();
  });
  return loading;
}

/** @param {Progress} progress */
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

/**
 * @param {boolean} useCache @param {URL} folder @param {"relaxed-simd" | "simd128" | "numpy"} build
 * @returns {Promise<RuntimeInfo>}
 */
async function start(useCache, folder, build) {
  const { pyodide, startedFrom } = await loadRuntime(folder, report, { useCache });
  trackProxies(pyodide);
  const state = withoutAllocationStacks(() => session(pyodide, startedFrom, folder));
  await switchKernels(state, build);
  // Pyodide calls this when the interpreter can no longer be trusted (a wasm trap, an
  // abort): from then on every call fails clearly until init() starts a new runtime.
  onFatal(pyodide, (/** @type {unknown} */ error) => markFatal(state, error));
  runtime = state;
  crash = null;
  return state.info;
}

/**
 * The session's state: the bridge module, the Python functions the library calls and the
 * two shared buffers. Their proxies live as long as the runtime.
 * @param {any} pyodide @param {import("./loader.js").StartedFrom} startedFrom @param {URL} folder
 * @returns {Runtime}
 */
function session(pyodide, startedFrom, folder) {
  const bridge = pyodide.pyimport("minimodel.jsbridge");
  const names = ["ModelSession", "IndexSession", "TextSession", "cosine_scratch", "normalize_scratch", "softmax_scratch",
    "kernels_active", "kernel_build", "kernel_path", "use_kernels"];
  const py = Object.fromEntries(names.map((name) => [name, bridge[name]]));
  py.newMiniModel = py.ModelSession.mini;
  py.newFeedForward = py.ModelSession.feed_forward;
  py.modelFromFile = py.ModelSession.from_file;
  py.indexFromBytes = py.IndexSession.from_bytes;
  py.textFromFiles = py.TextSession.from_files;
  const inputs = bridge.inputs;
  const outputs = bridge.outputs;
  /** @type {Runtime} */
  const state = {
    pyodide,
    bridge,
    py,
    inputs: new SharedArray(inputs, "array", "f32", inputs.reserve),
    outputs: new SharedArray(outputs, "array", "f32", outputs.reserve),
    limits: { maxDim: bridge.MAX_DIM, maxParameters: bridge.MAX_PARAMETERS, maxValues: bridge.MAX_INDEX_VALUES },
    folder,
    info: {
      pyodideVersion: pyodide.version,
      pythonVersion: pyodide.runPython("import sys; sys.version.split()[0]"),
      numpyVersion: pyodide.runPython("import numpy; numpy.__version__"),
      fromCache: startedFrom === "cache",
      startedFrom,
      kernelBuild: py.kernel_build(),
    },
  };
  return state;
}

/**
 * Run another kernel build: the relaxed-SIMD library is loaded the first time (Pyodide
 * loads only the SIMD128 one with the package), then Python switches.
 * @param {Runtime} state @param {"relaxed-simd" | "simd128" | "numpy"} build
 * @returns {Promise<RuntimeInfo>}
 */
async function switchKernels(state, build) {
  if (build === "relaxed-simd" && !state.relaxedLoaded) {
    await loadSideModule(state.pyodide, state.py.kernel_path(build));
    state.relaxedLoaded = true;
  }
  state.info = { ...state.info, kernelBuild: callPython("init", state.py.use_kernels, build) };
  return state.info;
}

/** @param {Runtime} state @param {unknown} error */
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

/**
 * The running runtime, or an Error saying why there is none.
 * @param {string} where  the calling function, for the message
 * @returns {Runtime}
 */
export function ready(where) {
  if (!runtime) {
    if (crash) {
      throw new Error(`${where}: the Python runtime stopped after a fatal error (${crash.message}); await init() to start a new one`);
    }
    throw new Error(`${where}: minimodel is not initialised; await init() first`);
  }
  return runtime;
}

/** @returns {Runtime | null} the running runtime, if any (objects compare theirs with it) */
export function currentRuntime() {
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
  return () => {
    fatalListeners.delete(listener);
  };
}

/**
 * A JS view of a numpy array held in a Python attribute (`owner[attr]`). The view is
 * re-taken when the wasm memory grew (which detaches every view of the old memory,
 * leaving it with length 0) or after `reserve` replaced the array.
 */
export class SharedArray {
  /**
   * @param {any} owner  PyProxy of the object holding the array
   * @param {string} attr
   * @param {"f32"|"i32"|"u8"} type
   * @param {any} [reserve]  PyProxy of a Python method that grows the array to n values
   */
  constructor(owner, attr, type, reserve = null) {
    this.owner = owner;
    this.attr = attr;
    this.type = type;
    this.reserveFn = reserve;
    /** @type {any} */
    this.buffer = null;
  }

  /**
   * A view of at least `minLength` values (growing the array if it can).
   * @param {number} [minLength]
   * @returns {any}  a Float32Array or Int32Array
   */
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

/** Python exception types and the JS error classes they become. */
const RANGE_ERRORS = new Set(["ValueError", "IndexError", "OverflowError"]);

/**
 * Turn a Python exception into a JS error of the matching type, without the traceback
 * (kept on error.pythonTraceback; the type on error.pythonType).
 * @param {any} err @param {string} where
 * @returns {any}
 */
function toJsError(err, where) {
  const PythonError = runtime?.pyodide.ffi.PythonError;
  if (!PythonError || !(err instanceof PythonError)) return err;
  const type = /** @type {any} */ (err).type;
  // The last line(s) of the formatted traceback, after "<module.Type>: ".
  const marker = `${type}: `;
  const at = err.message.lastIndexOf(marker);
  const text = at >= 0 ? err.message.slice(at + marker.length).trim() : type;
  /** @type {Error & { pythonType?: string, pythonTraceback?: string }} */
  let error;
  if (type === "TypeError") error = new TypeError(`${where}: ${text}`);
  else if (RANGE_ERRORS.has(type)) error = new RangeError(`${where}: ${text}`);
  else if (type === "WeightsFileError") {
    error = new Error(`${where}: the weight file cannot be loaded: ${text}`);
    error.name = "WeightsFileError";
  } else if (type === "ModelFileError") {
    error = new Error(`${where}: the model cannot be loaded: ${text}`); // the text names the file
    error.name = "ModelFileError";
  } else if (type === "IndexFileError") {
    error = new Error(`${where}: not a saved index: ${text}`);
    error.name = "IndexFileError";
  } else if (type.endsWith("MemoryError")) {
    // numpy raises its own MemoryError subclass, e.g. "Unable to allocate 256. MiB for an array ..."
    error = new RangeError(`${where}: out of memory: the browser could not give Python more (${text})`);
  } else error = new Error(`${where}: Python raised ${type}: ${text}`);
  error.pythonType = type;
  error.pythonTraceback = err.message;
  return error;
}

/**
 * Call a Python function (a PyProxy); a Python exception becomes the matching JS error,
 * a fatal error marks the runtime as stopped.
 * @param {string} where  the public function, for messages
 * @param {any} fn
 * @param {...any} args
 * @returns {any}
 */
export function callPython(where, fn, ...args) {
  try {
    return fn(...args);
  } catch (err) {
    if (/** @type {any} */ (err)?.pyodide_fatal_error) {
      if (runtime) markFatal(runtime, err);
      const error = new Error(`${where}: the Python runtime crashed (${/** @type {any} */ (err).message}); await init() to start a new one`);
      error.cause = err;
      throw error;
    }
    throw toJsError(err, where);
  }
}

/**
 * The size limits the API enforces (after init()).
 * @returns {Limits}
 */
export function limits() {
  return { ...ready("limits").limits };
}

/**
 * The Pyodide instance, for page code that needs more (e.g. micropip). Throws before init().
 * @returns {any}
 */
export function getPyodide() {
  return ready("getPyodide").pyodide;
}

/**
 * What debugStats() returns.
 * @typedef {Object} DebugStats
 * @property {number | null} liveProxies  live PyProxies, as Pyodide's own tests count them
 *   (null when this Pyodide version cannot count them)
 * @property {number} heapBytes  the WebAssembly heap's size
 * @property {boolean} kernels   whether the SIMD kernels are in use
 * @property {string} kernelBuild  which: "relaxed-simd", "simd128" or "numpy"
 */

/**
 * Debug statistics: live PyProxies, the size of the WebAssembly heap in bytes, and
 * whether the SIMD kernels are in use.
 * @returns {DebugStats}
 */
export function debugStats() {
  const rt = ready("debugStats");
  return {
    liveProxies: liveProxies(rt.pyodide), heapBytes: heapBytes(rt.pyodide), kernels: rt.py.kernels_active(),
    kernelBuild: rt.py.kernel_build(),
  };
}
