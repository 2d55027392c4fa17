// The public API, defined once: for every class and function, its argument checks (with
// the error messages users see) and how it travels to a worker. From this table
//   - the main-thread classes (minimodel.js) take their checks,
//   - the worker's remote objects (remote.js) take their methods, checks and batching,
//   - the worker (worker.js) takes what it may dispatch.
// A new method is one entry here, its implementation in minimodel.js (with its JSDoc,
// from which the types are generated) and its Python side; it then exists on the main
// thread and in the worker, with the same checks, types and messages.

import { float32Buffer } from "./spare-buffers.js";
import {
  checkFeedForwardSizes,
  checkFiniteOutput,
  checkLayerSizes,
  checkSize,
  checkVector,
  describe,
} from "./validate.js";

/**
 * @typedef {Object} Limits  the sizes enforced (see limits() in minimodel.js)
 * @property {number} maxDim
 * @property {number} maxParameters
 * @property {number} maxValues
 */

/**
 * What a method's checks may read of its object: the public properties main-thread objects
 * and remote objects share (sizes for models; dim and size for an index).
 * @typedef {{ sizes?: number[], inputSize?: number, outputSize?: number, dim?: number, size?: number }} Shape
 */

/**
 * A method or function: `check` validates the arguments (before anything is allocated or
 * sent) and returns them; the rest says how it travels to a worker.
 * @typedef {Object} Operation
 * @property {string[]} args  the arguments' names, in order (a remote call's options follow them)
 * @property {(self: any, args: any[], where: string, limits: Limits) => any[]} check
 * @property {string[]} [vectors]  which arguments (by name) are numeric vectors: copied
 *   into a new Float32Array before they are sent (the caller's stays untouched), then
 *   transferred
 * @property {boolean} [transfer]  accepts `{ transfer: true }`: its Float32Array vectors are
 *   handed over (detached) instead of copied
 * @property {boolean} [changesState]  the worker answers with the object's new state too
 * @property {(args: any[]) => string | null} [restore]  replayed into a replacement worker:
 *   the key under which it replaces an earlier call (null: every call is kept, in order)
 * @property {Batching} [batch]  concurrent calls may be merged into one
 * @property {string} [progress]  accepts `{ onProgress }` in a worker: the object's method
 *   that takes a `(done, total) => void` callback after the arguments
 * @property {Splitting} [split]  with several workers, one call may be split across them
 */

/**
 * How one call's work splits across workers (rows of a batch, texts): the parts run in
 * parallel and their results join in order, equal to what one worker would return.
 * @typedef {Object} Splitting
 * @property {(args: any[]) => number[]} weights  each item's share of the work (its row, its text)
 * @property {(self: any, args: any[], start: number, end: number) => any[]} slice  the arguments of items [start, end)
 * @property {(parts: any[]) => any} join  the parts' results, in order, as one result
 */

/**
 * How concurrent calls of one method on one object merge into one call of `method`.
 * @typedef {Object} Batching
 * @property {string} method  the object's method that takes the merged arguments
 * @property {(self: any, calls: any[][]) => any[]} merge  the merged call's arguments
 * @property {(self: any, result: any, index: number, where: string, calls: any[][]) => any} split
 *   call `index`'s own result (may throw: that call alone fails); `calls` are the merged calls' arguments
 */

/**
 * @typedef {Object} ClassSpec
 * @property {string} noun  what messages call one ("model", "index")
 * @property {string | null} factory  the worker client's method that creates one (null: only loaded)
 * @property {string} [loader]  the worker client's method that loads one from a file
 * @property {(limits: Limits, args: any[]) => any[]} create  checks of the constructor's arguments
 * @property {(self: any) => Shape} state  the plain state a remote object mirrors
 * @property {Record<string, (state: any) => any>} properties  read-only properties, from the state
 * @property {Record<string, Operation>} methods
 */

const FLOAT32_BYTES = 4;

/** The most workers createWorker() starts: each is a whole Python runtime (35 MB and up). */
export const MAX_WORKERS = 8;

/**
 * A RangeError when `count` values would exceed `limits.maxValues` (1 GiB of float32).
 * @param {number} count @param {Limits} limits @param {string} where @param {string} what
 */
export function checkArraySize(count, limits, where, what) {
  if (count > limits.maxValues) {
    throw new RangeError(
      `${where}: ${what} would hold ${count} values; at most ${limits.maxValues} ` +
        `(${(limits.maxValues * FLOAT32_BYTES) / 2 ** 20} MiB) fit in browser memory`,
    );
  }
}

/** @param {number} length @param {number} dim @param {string} where */
function checkWholeRows(length, dim, where) {
  if (length % dim !== 0) {
    throw new RangeError(
      `${where}: vectors must hold whole rows of ${dim} values (dim); received length ${length}, not a multiple of ${dim}`,
    );
  }
}

/** The model's layer sizes, whatever its kind (a MiniModel has no `sizes`). @param {Shape} self */
const sizesOf = (self) => self.sizes ?? [/** @type {number} */ (self.inputSize), /** @type {number} */ (self.outputSize)];

/** predict: one input row. @type {Operation} */
const predict = {
  args: ["x"],
  check(self, [x], where) {
    checkVector(x, "x", where, sizesOf(self)[0], "the model's inputSize");
    return [x];
  },
  vectors: ["x"],
  transfer: true,
  batch: {
    method: "_predictRows",
    merge(self, calls) {
      const n = sizesOf(self)[0];
      const inputs = float32Buffer(calls.length * n); // every row is written below
      calls.forEach(([x], i) => inputs.set(x, i * n));
      return [inputs, calls.length];
    },
    split(self, outputs, i, where) {
      const sizes = sizesOf(self);
      const n = sizes[sizes.length - 1];
      return checkFiniteOutput(outputs.slice(i * n, (i + 1) * n), where);
    },
  },
};

/**
 * Values `start` to `end` of a vector argument: the part of a split call a worker gets,
 * as a view of a typed array (no copy) or a slice of an Array. Only for arguments listed in
 * their operation's `vectors`, which RemoteObject._send copies into a Float32Array of just
 * that part (prepareArgs): copying here too cost W2's 2-worker call two more copies of its
 * 3.2 MB of inputs on the main thread, about 2.5 ms the workers waited for.
 * @param {import("./types.js").NumericInput} values @param {number} start @param {number} end
 * @returns {import("./types.js").NumericInput}
 */
export function float32Part(values, start, end) {
  return ArrayBuffer.isView(values)
    ? /** @type {Float32Array} */ (values).subarray(start, end)
    : /** @type {number[]} */ (values).slice(start, end);
}

/** Float32Arrays end to end. @param {Float32Array[]} parts */
function concatFloat32(parts) {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** predictBatch: `batch` rows, row-major. @type {Operation} */
const predictBatch = {
  args: ["inputs", "batch"],
  check(self, [inputs, batch], where, limits) {
    const sizes = sizesOf(self);
    checkSize(batch, "batch", where, limits.maxDim);
    checkVector(inputs, "inputs", where, batch * sizes[0], `batch x inputSize = ${batch} x ${sizes[0]}`);
    checkArraySize(batch * sizes[sizes.length - 1], limits, where, "the outputs");
    return [inputs, batch];
  },
  vectors: ["inputs"],
  split: {
    weights: ([, batch]) => new Array(batch).fill(1),
    slice(self, [inputs, batch], start, end) {
      const n = sizesOf(self)[0];
      return [float32Part(inputs, start * n, end * n), end - start];
    },
    join: concatFloat32,
  },
};

/**
 * Checks of a layer's weights and bias; `single` names the sizes as a MiniModel does.
 * @param {number[]} sizes @param {number} index @param {any} weights @param {any} bias
 * @param {string} where @param {boolean} single
 */
function checkLayer(sizes, index, weights, bias, where, single) {
  const nIn = sizes[index];
  const nOut = sizes[index + 1];
  const shape = single ? "outputSize x inputSize" : `sizes[${index + 1}] x sizes[${index}]`;
  checkVector(weights, "weights", where, nIn * nOut, `${shape} = ${nOut} x ${nIn}`);
  if (bias !== null && bias !== undefined) {
    checkVector(bias, "bias", where, nOut, single ? "the model's outputSize" : `sizes[${index + 1}]`);
  }
}

/**
 * Texts to embed: a string, or an Array of strings; returns them as a new Array.
 * @param {unknown} texts @param {string} where @returns {string[]}
 */
function checkTexts(texts, where) {
  if (typeof texts === "string") return [texts];
  if (!Array.isArray(texts)) {
    throw new TypeError(`${where}: texts must be a string or an Array of strings; received ${describe(texts)}`);
  }
  for (let i = 0; i < texts.length; i++) {
    if (typeof texts[i] !== "string") {
      if (!(i in texts)) throw new TypeError(`${where}: texts[${i}] is missing (a sparse Array); expected a string`);
      throw new TypeError(`${where}: texts[${i}] is ${describe(texts[i])}; expected a string`);
    }
  }
  return texts.slice(); // as checked: the caller may change its Array while the call waits
}

/** @type {Record<string, (state: any) => any>} */
const MODEL_PROPERTIES = {
  inputSize: (state) => state.sizes[0],
  outputSize: (state) => state.sizes[state.sizes.length - 1],
};

/** @type {Record<string, ClassSpec>} */
export const CLASSES = {
  MiniModel: {
    noun: "model",
    factory: "createModel",
    loader: "loadModel",
    create(limits, [inputSize, outputSize]) {
      checkLayerSizes([inputSize, outputSize], "new MiniModel", limits, ["inputSize", "outputSize"]);
      return [inputSize, outputSize];
    },
    state: (self) => ({ sizes: [self.inputSize, self.outputSize] }),
    properties: MODEL_PROPERTIES,
    methods: {
      predict,
      predictBatch,
      loadWeights: {
        args: ["weights", "bias"],
        check(self, [weights, bias = null], where) {
          checkLayer(sizesOf(self), 0, weights, bias, where, true);
          return [weights, bias];
        },
        vectors: ["weights", "bias"],
        restore: () => "weights",
      },
    },
  },
  FeedForward: {
    noun: "model",
    factory: "createFeedForward",
    loader: "loadFeedForward",
    create(limits, [sizes]) {
      checkFeedForwardSizes(sizes, "new FeedForward", limits);
      return [[...sizes]];
    },
    state: (self) => ({ sizes: self.sizes }),
    properties: { ...MODEL_PROPERTIES, sizes: (state) => [...state.sizes] },
    methods: {
      predict,
      predictBatch,
      loadLayer: {
        args: ["index", "weights", "bias"],
        check(self, [index, weights, bias = null], where) {
          const layers = sizesOf(self).length - 1;
          if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= layers) {
            throw new RangeError(`${where}: index must be an integer from 0 to ${layers - 1}; received ${describe(index)}`);
          }
          checkLayer(sizesOf(self), index, weights, bias, where, false);
          return [index, weights, bias];
        },
        vectors: ["weights", "bias"],
        restore: ([index]) => `layer ${index}`,
      },
    },
  },
  EmbeddingIndex: {
    noun: "index",
    factory: "createIndex",
    loader: "loadIndex",
    create(limits, [dim]) {
      checkSize(dim, "dim", "new EmbeddingIndex", limits.maxDim);
      return [dim];
    },
    state: (self) => ({ dim: self.dim, size: self.size }),
    properties: { dim: (state) => state.dim, size: (state) => state.size },
    methods: {
      add: {
        args: ["vectors"],
        check(self, [vectors], where, limits) {
          const dim = /** @type {number} */ (self.dim);
          const length = checkVector(vectors, "vectors", where, null);
          checkWholeRows(length, dim, where);
          checkArraySize((/** @type {number} */ (self.size) + length / dim) * dim, limits, where, "the index");
          return [vectors];
        },
        vectors: ["vectors"],
        changesState: true,
        restore: () => null,
      },
      search: {
        args: ["query", "k"],
        check(self, [query, k], where) {
          checkVector(query, "query", where, /** @type {number} */ (self.dim), "the index's dim");
          checkSize(k, "k", where, Number.MAX_SAFE_INTEGER);
          return [query, k];
        },
        vectors: ["query"],
      },
      toBytes: {
        args: [],
        check: () => [],
      },
    },
  },
  TextEmbedder: {
    noun: "embedder",
    factory: null,
    loader: "loadTextEmbedder",
    create() {
      throw new TypeError("new TextEmbedder: use await TextEmbedder.load(source) (or worker.loadTextEmbedder(source))");
    },
    state: (self) => ({ dim: self.dim, maxTokens: self.maxTokens }),
    properties: { dim: (state) => state.dim, maxTokens: (state) => state.maxTokens },
    methods: {
      embed: {
        args: ["texts"],
        check(self, [texts], where, limits) {
          const list = checkTexts(texts, where);
          checkArraySize(list.length * /** @type {number} */ (self.dim), limits, where, "the embeddings");
          return [list];
        },
        progress: "_embedWithProgress",
        split: {
          weights: ([texts]) => texts.map((/** @type {string} */ text) => text.length + 16), // about the work per text
          slice: (self, [texts], start, end) => [texts.slice(start, end)],
          join: concatFloat32,
        },
        batch: {
          method: "_embedRows",
          merge: (self, calls) => [calls.flatMap(([texts]) => texts)],
          split(self, vectors, i, where, calls) {
            const dim = /** @type {number} */ (self.dim);
            let start = 0;
            for (let c = 0; c < i; c++) start += calls[c][0].length;
            return vectors.slice(start * dim, (start + calls[i][0].length) * dim);
          },
        },
      },
      tokenize: {
        args: ["text"],
        check(self, [text], where) {
          if (typeof text !== "string") throw new TypeError(`${where}: text must be a string; received ${describe(text)}`);
          return [text];
        },
      },
    },
  },
};

/** Free functions: the same on the main thread and in the worker. @type {Record<string, Operation>} */
export const FUNCTIONS = {
  cosineSimilarity: {
    args: ["a", "b"],
    check(_, [a, b], where, limits) {
      const n = checkVector(a, "a", where, null);
      checkVector(b, "b", where, n, "the length of a");
      checkArraySize(2 * n, limits, where, "a and b together");
      return [a, b];
    },
    vectors: ["a", "b"],
  },
  normalizeRows: {
    args: ["vectors", "dim"],
    check(_, [vectors, dim], where, limits) {
      checkSize(dim, "dim", where, limits.maxDim);
      const length = checkVector(vectors, "vectors", where, null);
      checkWholeRows(length, dim, where);
      checkArraySize(length, limits, where, "the result");
      return [vectors, dim];
    },
    vectors: ["vectors"],
  },
  softmax: {
    args: ["logits"],
    check(_, [logits], where, limits) {
      const n = checkVector(logits, "logits", where, null);
      checkArraySize(2 * n, limits, where, "the logits");
      return [logits];
    },
    vectors: ["logits"],
  },
};

/**
 * Run a method's checks (the main thread's and the remote objects' entry point).
 * @param {string} kind  a key of CLASSES
 * @param {string} method
 * @param {Shape} self
 * @param {any[]} args
 * @param {Limits} limits
 * @returns {any[]}  the arguments, defaults filled in
 */
export function checkCall(kind, method, self, args, limits) {
  return CLASSES[kind].methods[method].check(self, args, `${kind}.${method}`, limits);
}

/**
 * Run a free function's checks.
 * @param {string} name  a key of FUNCTIONS
 * @param {any[]} args
 * @param {Limits} limits
 * @returns {any[]}
 */
export function checkFunction(name, args, limits) {
  return FUNCTIONS[name].check(null, args, name, limits);
}
