// The module worker behind createWorker(): it owns Pyodide and runs the main-thread API
// (minimodel.js) on the page's behalf. Messages follow protocol.js; what may be called is
// api.js's table (every method of a class, the method its batches use, every function).
// Objects live in a table keyed by ids the page chooses, so a replacement worker can
// rebuild them.

import { CLASSES, FUNCTIONS } from "./api.js";
import * as mm from "./minimodel.js";
import { encodeError, transferablesOf } from "./protocol.js";
import { worthKeeping } from "./spare-buffers.js";

/** @type {Record<string, any>} the main-thread classes, by kind */
const KINDS = {
  MiniModel: mm.MiniModel, FeedForward: mm.FeedForward, EmbeddingIndex: mm.EmbeddingIndex, TextEmbedder: mm.TextEmbedder,
};

/** Each kind's callable methods: those of the table, and the methods their batches and progress use. */
const CALLABLE = Object.fromEntries(
  Object.entries(CLASSES).map(([kind, spec]) => [
    kind,
    new Set(Object.entries(spec.methods).flatMap(([name, op]) => [name, op.batch?.method, op.progress].filter(Boolean))),
  ]),
);
// Methods whose arguments the page has checked value by value before sending (RemoteObject
// runs the table's checks): the worker runs their forms that check only the sizes.
/** @type {Record<string, string>} */
const PRECHECKED = { predictBatch: "_predictBatchChecked" };
const PROGRESS = new Set(Object.values(CLASSES).flatMap((spec) => Object.values(spec.methods).map((op) => op.progress)));

/** @type {Map<number, { kind: string, object: any }>} */
const objects = new Map();

/** The worker's global scope (typed as any: the library is checked against the DOM's types). */
const scope = /** @type {any} */ (self);

/** @param {number} id @param {string} where */
function get(id, where) {
  const entry = objects.get(id);
  if (!entry) throw new Error(`${where}: unknown object ${id} (disposed?)`);
  return entry;
}

/**
 * The answer to one request: its result, and for object calls that change the object,
 * the object's new state.
 * @typedef {{ result?: any, state?: any }} Answer
 */

/**
 * Each handler runs with `this` = { id }: the request it answers.
 * @type {Record<string, (this: { id: number }, ...args: any[]) => Answer | Promise<Answer>>}
 */
const handlers = {
  async init(cache, kernels) {
    const info = await mm.init({ onProgress: (progress) => scope.postMessage({ type: "progress", progress }), cache, kernels });
    return { result: { info, limits: mm.limits() } };
  },
  create(id, kind, args) {
    const object = new KINDS[kind](...args);
    objects.set(id, { kind, object });
    return { result: CLASSES[kind].state(object) };
  },
  async load(id, kind, bytes) {
    const object = await KINDS[kind].load(bytes);
    objects.set(id, { kind, object });
    return { result: CLASSES[kind].state(object) };
  },
  call(id, method, args, withProgress = false) {
    const { kind, object } = get(id, method);
    if (!CALLABLE[kind].has(method)) throw new Error(`${kind}.${method}: not a method the worker runs`);
    if (withProgress && PROGRESS.has(method)) {
      const request = this.id; // the page's call that reports the progress
      args = [...args, (/** @type {number} */ done, /** @type {number} */ total) =>
        scope.postMessage({ type: "progress", id: request, progress: { done, total } })];
    }
    const result = object[Object.hasOwn(PRECHECKED, method) ? PRECHECKED[method] : method](...args);
    const op = CLASSES[kind].methods[method];
    return op?.changesState ? { result, state: CLASSES[kind].state(object) } : { result };
  },
  dispose(id) {
    objects.get(id)?.object.dispose();
    objects.delete(id);
    return {};
  },
  fn(name, args) {
    if (!Object.hasOwn(FUNCTIONS, name)) throw new Error(`${name}: not a function the worker runs`);
    return { result: /** @type {any} */ (mm)[name](...args) };
  },
  debugStats() {
    return { result: { ...mm.debugStats(), objects: objects.size } };
  },
  /** For tests: make Pyodide fail fatally (a wasm trap), as a real crash would. */
  crash() {
    mm.getPyodide().runPython("import ctypes; ctypes.string_at(0xFFFFFFF0, 64)");
    return {};
  },
  /** For tests: keep the worker busy for `ms` milliseconds of pure computation. */
  busy(ms) {
    const end = performance.now() + ms;
    let x = 0;
    while (performance.now() < end) x += Math.sqrt(x + 1);
    return { result: x > 0 };
  },
};

// Methods that copy their vector arguments into Python's memory at once and keep no
// reference to them: the buffers go back to the page to be reused (spare-buffers.js).
const HANDS_BACK = new Set(["predictBatch", "_predictRows"]);

/**
 * The buffers worth keeping of a call's Float32Array arguments, once each, except any
 * the result uses.
 * @param {unknown[]} values @param {Transferable[]} taken
 * @returns {ArrayBuffer[]}
 */
function spentBuffers(values, taken) {
  /** @type {ArrayBuffer[]} */
  const buffers = [];
  for (const value of values) {
    if (!(value instanceof Float32Array) || !worthKeeping(value.buffer)) continue;
    if (!buffers.includes(value.buffer) && !taken.includes(value.buffer)) buffers.push(value.buffer);
  }
  return buffers;
}

mm.onFatalError((error) =>
  scope.postMessage({ type: "fatal", message: `a fatal Python error: ${/** @type {any} */ (error.cause)?.message ?? error.message}` }),
);

scope.onmessage = async (/** @type {MessageEvent} */ { data }) => {
  const { id, op, args } = data;
  try {
    if (!Object.hasOwn(handlers, op)) throw new Error(`unknown operation ${op}`);
    const { result, state } = await handlers[op].apply({ id }, args);
    const transfer = transferablesOf(result);
    const spent = op === "call" && HANDS_BACK.has(args[1]) ? spentBuffers(args[2], transfer) : [];
    scope.postMessage({ id, ok: true, result, state, spent }, [...transfer, ...spent]);
  } catch (error) {
    scope.postMessage({ id, ok: false, error: encodeError(error) });
  }
};
