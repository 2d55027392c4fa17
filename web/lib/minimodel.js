// minimodel: Python (numpy) models, cosine similarity and embedding search, called from
// JavaScript.
//
//   import { init, MiniModel, cosineSimilarity } from "minimodel-web";
//   await init({ onProgress: (p) => console.log(p.stage, p.loaded, p.total) });
//   const model = new MiniModel(128, 10);
//   const y = model.predict(new Float32Array(128).fill(0.5)); // Float32Array(10), 0.64 each
//   model.dispose();
//
// The main-thread API. Each method checks its arguments with the checks of api.js (the
// same the worker's remote objects run), writes inputs into numpy buffers through
// zero-copy getBuffer() views, and calls Python with plain numbers: no PyProxy is created
// per call and nothing goes through to_py(). Every PyProxy an object makes is destroyed
// by its dispose().

import { CLASSES, checkCall, checkFunction } from "./api.js";
import { SharedArray, callPython, currentRuntime, ready } from "./runtime.js";
import { checkFiniteOutput, describe } from "./validate.js";
import { readModelFiles, readWeightSource } from "./weight-source.js";

export { debugStats, getPyodide, init, limits, onFatalError } from "./runtime.js";
export { MAX_WORKERS } from "./api.js";

/** @typedef {import("./worker-client.js").WorkerClient} WorkerClient */
/** @typedef {import("./worker-client.js").WorkerOptions} WorkerOptions */
// The types a package user writes down (README: "a worker's objects are typed Remote<MiniModel>").
/** @template T @typedef {import("./worker-client.js").Remote<T>} Remote */
/** @typedef {import("./worker-client.js").RemoteMiniModel} RemoteMiniModel */
/** @typedef {import("./worker-client.js").RemoteFeedForward} RemoteFeedForward */
/** @typedef {import("./worker-client.js").RemoteIndex} RemoteIndex */
/** @typedef {import("./worker-client.js").RemoteTextEmbedder} RemoteTextEmbedder */
/** @typedef {import("./remote.js").CallOptions} CallOptions */
/** @typedef {import("./runtime.js").RuntimeInfo} RuntimeInfo */
/** @typedef {import("./api.js").Limits} Limits */

/**
 * Start a worker (or several) that owns Pyodide; resolves once Python is ready in it. The
 * same API, with promises: see worker-client.js and README "Never block the page". (The
 * worker client's modules load on the first call, so a page that never uses a worker
 * does not wait for them before init() starts.)
 * @param {WorkerOptions} [options]
 * @returns {Promise<WorkerClient>}
 */
export async function createWorker(options) {
  const client = await import("./worker-client.js");
  return client.createWorker(options);
}
export { MAX_WEIGHT_FILE_BYTES } from "./weight-source.js";

/** @typedef {import("./types.js").NumericInput} NumericInput */
/** @typedef {import("./types.js").FileSource} FileSource */
/** @typedef {import("./weight-source.js").ModelSource} ModelSource */
/** @typedef {import("./runtime.js").Runtime} Runtime */

const STATE = Symbol("minimodel state");
const STALE = "it belongs to a Python runtime that stopped after a fatal error; create it again after init()";

/**
 * What every main-thread object shares: its kind (a key of api.js's CLASSES), its Python
 * session's proxies and buffers, and the runtime they belong to.
 */
class PyObject {
  /**
   * @param {string} kind
   * @param {Record<string, any>} state  the proxies and buffers; `proxies` lists what dispose() destroys
   */
  constructor(kind, state) {
    /** @protected */
    this._kind = kind;
    /** @type {any} */
    this[STATE] = state;
  }

  /**
   * The object and its runtime are alive.
   * @protected
   * @param {string} method
   * @returns {{ s: any, rt: Runtime, where: string }}
   */
  _live(method) {
    const where = `${this._kind}.${method}`;
    const s = this[STATE];
    if (s === null) throw new Error(`${where}: this ${CLASSES[this._kind].noun} has been disposed`);
    const rt = ready(where);
    if (s.runtime !== rt) throw new Error(`${where}: ${STALE}`);
    return { s, rt, where };
  }

  /**
   * A method's entry: `_live`, then the method's checks from api.js.
   * @protected
   * @param {string} method @param {any[]} args
   * @returns {{ s: any, rt: Runtime, where: string, args: any[] }}
   */
  _enter(method, args) {
    const live = this._live(method);
    return { ...live, args: checkCall(this._kind, method, /** @type {any} */ (this), args, live.rt.limits) };
  }

  /** Free the Python object. Safe to call twice; any later call throws. */
  dispose() {
    const s = this[STATE];
    if (s === null) return;
    this[STATE] = null;
    if (s.runtime !== currentRuntime()) return; // its runtime is gone, and its proxies with it
    for (const buffer of s.buffers) buffer.release();
    for (const proxy of s.proxies) proxy.destroy();
  }
}

/** What MiniModel and FeedForward share: a Python ModelSession and its buffers. */
class Model extends PyObject {
  /** @param {string} kind @param {number[]} sizes @param {any} session  a ModelSession PyProxy */
  constructor(kind, sizes, session) {
    const runtime = ready(kind);
    const s = {
      runtime,
      session,
      predict: session.predict,
      predictBatch: session.predict_batch,
      loadLayer: session.load_layer,
      x: new SharedArray(session, "x", "f32"),
      y: new SharedArray(session, "y", "f32"),
    };
    super(kind, { ...s, buffers: [s.x, s.y], proxies: [s.predict, s.predictBatch, s.loadLayer, session] });
    /** @protected */
    this._sizes = sizes;
  }

  /** Number of inputs. @type {number} */
  get inputSize() {
    return this._sizes[0];
  }

  /** Number of outputs. @type {number} */
  get outputSize() {
    return this._sizes[this._sizes.length - 1];
  }

  /**
   * Run the model on one input vector.
   * @param {NumericInput} x  inputSize finite numbers
   * @returns {Float32Array}  a new array of outputSize values, owned by the caller
   */
  predict(x) {
    const { s, where } = this._enter("predict", [x]);
    s.x.view().set(x);
    callPython(where, s.predict);
    return checkFiniteOutput(s.y.view().slice(), where);
  }

  /**
   * Run the model on `batch` inputs at once. Each row's result is bit for bit what
   * predict() gives for it.
   * @param {NumericInput} inputs  batch * inputSize values, row-major (row i = input i)
   * @param {number} batch  positive integer
   * @returns {Float32Array}  batch * outputSize values, row-major, owned by the caller
   */
  predictBatch(inputs, batch) {
    const { s, rt, where, args } = this._enter("predictBatch", [inputs, batch]);
    return checkFiniteOutput(this._rows(s, rt, args[0], args[1], where), where);
  }

  /**
   * @private the worker's entry point (called by name, see api.js), not for pages
   * predictBatch as the worker runs it for the page (worker.js), which has run
   * predictBatch's checks on these very values before sending them (RemoteObject, the
   * pool): only the sizes are checked again, not every value (a second scan of a W2
   * half's 400,000 inputs took each worker 0.5-0.9 ms).
   * @param {Float32Array} inputs @param {number} batch
   * @returns {Float32Array}
   */
  _predictBatchChecked(inputs, batch) {
    const { s, rt, where } = this._live("predictBatch");
    this._checkSizes(inputs, batch, where);
    return checkFiniteOutput(this._rows(s, rt, inputs, batch, where), where);
  }

  /**
   * @private the worker's entry point (called by name, see api.js), not for pages
   * predictBatch without the overflow check, for merged predict() calls: the worker
   * client checks each caller's row, so one overflowing row fails alone; the page has
   * checked every row's values, so only the sizes are checked here.
   * @param {Float32Array} inputs @param {number} batch
   * @returns {Float32Array}
   */
  _predictRows(inputs, batch) {
    const { s, rt, where } = this._live("predict");
    this._checkSizes(inputs, batch, where);
    return this._rows(s, rt, inputs, batch, where);
  }

  /**
   * The sizes of rows the page has checked: a wrong one here is a bug between the page and
   * the worker, stopped before it reads past the rows or leaves stale ones.
   * @private @param {unknown} inputs @param {unknown} batch @param {string} where
   */
  _checkSizes(inputs, batch, where) {
    const n = this.inputSize;
    if (!(inputs instanceof Float32Array) || !Number.isSafeInteger(batch) || /** @type {number} */ (batch) < 1 ||
        inputs.length !== /** @type {number} */ (batch) * n) {
      throw new RangeError(`${where}: the worker got ${describe(inputs)} and batch ${describe(batch)}; ` +
        `expected a Float32Array of batch x inputSize = batch x ${n} values`);
    }
  }

  /**
   * @private
   * @param {any} s @param {Runtime} rt @param {NumericInput} inputs @param {number} batch @param {string} where
   */
  _rows(s, rt, inputs, batch, where) {
    const nIn = this.inputSize;
    const nOut = this.outputSize;
    rt.outputs.view(batch * nOut); // grow both before writing: growth can move memory
    rt.inputs.view(batch * nIn).set(inputs);
    callPython(where, s.predictBatch, batch);
    return rt.outputs.view(batch * nOut).slice(0, batch * nOut);
  }

  /**
   * Replace layer `index` with checked weights and bias (null: zeros); atomic in Python.
   * @protected
   * @param {any} s @param {string} where @param {number} index
   * @param {NumericInput} weights @param {NumericInput | null} bias
   */
  _writeLayer(s, where, index, weights, bias) {
    callPython(where, s.loadLayer, index, asFloat32(weights), bias === null ? null : asFloat32(bias));
  }
}

/**
 * A Float32Array with the same values (the array itself when it already is one).
 * @param {NumericInput} values
 */
function asFloat32(values) {
  return values instanceof Float32Array ? values : new Float32Array(values);
}

/**
 * A MiniModel or FeedForward built by Python from a weight file's bytes.
 * @template {typeof MiniModel | typeof FeedForward} C
 * @param {C} Class @param {string} kind @param {Uint8Array} bytes
 * @returns {InstanceType<C>}
 */
function modelFromBytes(Class, kind, bytes) {
  const rt = ready(`${kind}.load`);
  const session = callPython(`${kind}.load`, rt.py.modelFromFile, bytes, bytes.length, kind);
  const sizesText = session.sizes_text;
  let sizes;
  try {
    sizes = sizesText().split(",").map(Number);
  } finally {
    sizesText.destroy();
  }
  return /** @type {InstanceType<C>} */ (Reflect.construct(Model, [kind, sizes, session], Class));
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
    CLASSES.MiniModel.create(rt.limits, [inputSize, outputSize]);
    super("MiniModel", [inputSize, outputSize], callPython("new MiniModel", rt.py.newMiniModel, inputSize, outputSize));
  }

  /**
   * A MiniModel from a one-layer weight file (.safetensors or .npz): `<name>.weight`
   * [out, in] and optionally `<name>.bias` [out].
   * @param {FileSource} source
   * @returns {Promise<MiniModel>}
   */
  static async load(source) {
    ready("MiniModel.load");
    return modelFromBytes(MiniModel, "MiniModel", await readWeightSource(source, "MiniModel.load"));
  }

  /**
   * Replace the weights (outputSize * inputSize values, row-major: row o holds the
   * weights of output o) and the bias (outputSize values; omitted or null means zeros).
   * If anything is invalid, nothing changes.
   * @param {NumericInput} weights
   * @param {NumericInput | null} [bias]
   */
  loadWeights(weights, bias = null) {
    const { s, where, args } = this._enter("loadWeights", [weights, bias]);
    this._writeLayer(s, where, 0, args[0], args[1]);
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
    CLASSES.FeedForward.create(rt.limits, [sizes]);
    super("FeedForward", [...sizes], callPython("new FeedForward", rt.py.newFeedForward, ...sizes));
  }

  /**
   * A network from a weight file as PyTorch users save it: `.safetensors` (F32, F16,
   * BF16 or F64) or `.npz`, tensors `fc1.weight` [out, in], `fc1.bias` [out], `fc2...`
   * (or `layers.0...`), layers in the natural order of their names. A damaged or hostile
   * file is refused with an error naming the tensor and the problem.
   * @param {FileSource} source
   * @returns {Promise<FeedForward>}
   */
  static async load(source) {
    ready("FeedForward.load");
    return modelFromBytes(FeedForward, "FeedForward", await readWeightSource(source, "FeedForward.load"));
  }

  /** The layer sizes (a copy). @type {number[]} */
  get sizes() {
    return [...this._sizes];
  }

  /**
   * Replace layer `index` (0-based): weights of sizes[index+1] x sizes[index] values,
   * row-major, and an optional bias (null: zeros). Nothing changes if anything is invalid.
   * @param {number} index
   * @param {NumericInput} weights
   * @param {NumericInput | null} [bias]
   */
  loadLayer(index, weights, bias = null) {
    const { s, where, args } = this._enter("loadLayer", [index, weights, bias]);
    this._writeLayer(s, where, args[0], args[1], args[2]);
  }
}

/**
 * Cosine top-k search over embeddings (client-side retrieval). Rows are normalised
 * once, when added; a search is one pass of SIMD dot products plus a top-k selection,
 * and returns exactly the results of a full float32 scan.
 */
export class EmbeddingIndex extends PyObject {
  /** @param {number} dim  the length of every vector */
  constructor(dim) {
    const rt = ready("new EmbeddingIndex");
    CLASSES.EmbeddingIndex.create(rt.limits, [dim]);
    super("EmbeddingIndex", indexState(rt, callPython("new EmbeddingIndex", rt.py.IndexSession, dim)));
    /** @private */
    this._dim = dim;
  }

  /**
   * An index saved by toBytes(): searches give exactly the results the saved index gave.
   * Damaged or hostile bytes (empty, truncated, another file, a wrong dim, values that are
   * not finite, rows that are not unit vectors) throw an Error saying what is wrong.
   * @param {Uint8Array} bytes
   * @returns {EmbeddingIndex}
   */
  static fromBytes(bytes) {
    return indexFromBytes(bytes, "EmbeddingIndex.fromBytes");
  }

  /**
   * An index saved by toBytes(), from a URL, a Blob or File, an ArrayBuffer or a Uint8Array.
   * @param {FileSource} source
   * @returns {Promise<EmbeddingIndex>}
   */
  static async load(source) {
    ready("EmbeddingIndex.load");
    return indexFromBytes(await readWeightSource(source, "EmbeddingIndex.load"), "EmbeddingIndex.load");
  }

  /** The vector length. @type {number} */
  get dim() {
    return this._dim;
  }

  /** How many vectors were added. @type {number} */
  get size() {
    return this._live("size").s.session.size;
  }

  /**
   * Add vectors: n * dim values, row-major. Adding in several calls equals adding once.
   * @param {NumericInput} vectors
   */
  add(vectors) {
    const { s, where } = this._enter("add", [vectors]);
    callPython(where, s.add, asFloat32(vectors), vectors.length / this._dim);
  }

  /**
   * The k most similar vectors by cosine similarity, best first; ties go to the lower
   * index; fewer than k when the index is smaller. A zero query scores 0 everywhere.
   * @param {NumericInput} query  dim values
   * @param {number} k  positive integer
   * @returns {{ indices: Int32Array, scores: Float32Array }}
   */
  search(query, k) {
    const { s, where } = this._enter("search", [query, k]);
    const count = Math.min(k, s.session.size);
    // Growing the indices (reserve_results) replaces the scores too; both were shorter
    // than `count` then, so scores.view(found) below re-takes that view as well.
    s.indices.view(count);
    s.query.view().set(query);
    const found = callPython(where, s.search, count);
    return { indices: s.indices.view(found).slice(0, found), scores: s.scores.view(found).slice(0, found) };
  }
  /**
   * The index as bytes to keep (IndexedDB, a file): a .safetensors file with the
   * normalised rows as one F32 tensor "vectors" [size, dim] and __metadata__
   * { format: "minimodel.EmbeddingIndex", version: "1", dim }. EmbeddingIndex.fromBytes
   * and EmbeddingIndex.load read it back. (A new array with its own ArrayBuffer: ready for
   * a Blob, IndexedDB or postMessage's transfer.)
   * @returns {Uint8Array<ArrayBuffer>}
   */
  toBytes() {
    const { s, where } = this._enter("toBytes", []);
    const length = callPython(where, s.session.save);
    const saved = new SharedArray(s.session, "saved", "u8");
    try {
      return saved.view(length).slice(0, length);
    } finally {
      saved.release();
      callPython(where, s.forgetSaved);
    }
  }
}

/**
 * The proxies and buffers of an IndexSession.
 * @param {Runtime} rt @param {any} session
 */
function indexState(rt, session) {
  const s = {
    runtime: rt,
    session,
    add: session.add,
    search: session.search,
    reserveResults: session.reserve_results,
    forgetSaved: session.forget_saved,
    query: new SharedArray(session, "query", "f32"),
    indices: new SharedArray(session, "indices", "i32", session.reserve_results),
    scores: new SharedArray(session, "scores", "f32"),
  };
  return { ...s, buffers: [s.query, s.indices, s.scores], proxies: [s.add, s.search, s.reserveResults, s.forgetSaved, session] };
}

/**
 * @param {unknown} bytes @param {string} where
 * @returns {EmbeddingIndex}
 */
function indexFromBytes(bytes, where) {
  const rt = ready(where);
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`${where}: bytes must be a Uint8Array (from toBytes()); received ${describe(bytes)}`);
  }
  const session = callPython(where, rt.py.indexFromBytes, bytes, bytes.length);
  return adopt(EmbeddingIndex, "EmbeddingIndex", indexState(rt, session), { _dim: session.dim });
}

/**
 * An object of a class made from a Python session its constructor does not make (loaded
 * from files): the prototype, the kind, the state, and its own fields.
 * @template {object} T
 * @param {{ prototype: T }} Class @param {string} kind @param {Record<string, any>} state @param {Record<string, any>} fields
 * @returns {T}
 */
function adopt(Class, kind, state, fields) {
  const object = Object.create(Class.prototype);
  object._kind = kind;
  object[STATE] = state;
  return Object.assign(object, fields);
}

/**
 * Sentence embeddings, computed in Python in this page: a BERT encoder (all-MiniLM-L6-v2
 * ships with the library), mean pooling over the tokens, then L2 normalisation — the
 * vectors of sentence-transformers' `encode(texts, normalize_embeddings=True)`. Texts
 * longer than `maxTokens` tokens are truncated. Made by `await TextEmbedder.load()`.
 */
export class TextEmbedder extends PyObject {
  /** @private */
  constructor() {
    super("TextEmbedder", {});
    throw new TypeError("new TextEmbedder: use await TextEmbedder.load(source)");
  }

  /**
   * Load a model: no argument, the all-MiniLM-L6-v2 the library ships; a folder's URL
   * (ending in "/") in the sentence-transformers layout (config.json, tokenizer.json,
   * model.safetensors, optional sentence_bert_config.json and 1_Pooling/config.json); or
   * { config, tokenizer, weights, sentenceConfig?, pooling? }, each a URL, Blob, ArrayBuffer
   * or Uint8Array. A missing or broken file rejects with an Error naming the file and the
   * problem, and so does a pooling config other than the mean over the tokens (the only
   * pooling this embedder computes).
   * @param {ModelSource} [source]
   * @returns {Promise<TextEmbedder>}
   */
  static async load(source) {
    const where = "TextEmbedder.load";
    const { folder } = ready(where); // before downloading 46 MB of model files, not after
    const files = await readModelFiles(source ?? new URL(`models/${DEFAULT_MODEL}/`, folder), where);
    const rt = ready(where);
    const session = callPython(
      where, rt.py.textFromFiles, files.config, files.config.length, files.tokenizer, files.tokenizer.length,
      files.weights, files.weights.length, files.sentenceConfig, files.sentenceConfig?.length ?? 0,
      files.pooling, files.pooling?.length ?? 0,
    );
    const s = { runtime: rt, session, embed: session.embed_json, tokenize: session.tokenize_text };
    return adopt(TextEmbedder, "TextEmbedder", { ...s, buffers: [], proxies: [s.embed, s.tokenize, session] }, {
      _dim: session.dim,
      _maxTokens: session.max_tokens,
    });
  }

  /** The length of every embedding (384 for all-MiniLM-L6-v2). @type {number} */
  get dim() {
    return /** @type {any} */ (this)._dim;
  }

  /** Most tokens of a text, [CLS] and [SEP] included (256 for all-MiniLM-L6-v2). @type {number} */
  get maxTokens() {
    return /** @type {any} */ (this)._maxTokens;
  }

  /**
   * Embeddings of a text or of an Array of texts: `n * dim` values, row-major, each row
   * of unit length. Synchronous, like predict(); a batch gives the same vectors as one
   * text at a time. embed([]) is an empty Float32Array.
   * @param {string | string[]} texts
   * @returns {Float32Array}
   */
  embed(texts) {
    const { where, args } = this._enter("embed", [texts]);
    return this._embed(args[0], where, null);
  }

  /**
   * @private the worker's entry point (called by name, see api.js), not for pages
   * embed(), reporting progress (the worker's onProgress).
   * @param {string[]} texts @param {(done: number, total: number) => void} progress
   * @returns {Float32Array}
   */
  _embedWithProgress(texts, progress) {
    const { where, args } = this._enter("embed", [texts]);
    return this._embed(args[0], where, progress);
  }

  /**
   * @private the worker's entry point (called by name, see api.js), not for pages
   * Merged embed() calls (the worker's batches): the same as embed.
   * @param {string[]} texts @returns {Float32Array}
   */
  _embedRows(texts) {
    return this.embed(texts);
  }

  /**
   * @private
   * @param {string[]} texts @param {string} where @param {((done: number, total: number) => void) | null} progress
   * @returns {Float32Array}
   */
  _embed(texts, where, progress) {
    const { s, rt } = this._live("embed");
    const count = texts.length * this.dim;
    if (count === 0) return new Float32Array(0);
    rt.outputs.view(count);
    callPython(where, s.embed, JSON.stringify(texts), progress);
    return rt.outputs.view(count).slice(0, count);
  }

  /**
   * The token ids of a text, with [CLS] and [SEP], truncated to maxTokens.
   * @param {string} text
   * @returns {Int32Array}
   */
  tokenize(text) {
    const { s, where, args } = this._enter("tokenize", [text]);
    const ids = callPython(where, s.tokenize, args[0]);
    return Int32Array.from(ids.split(","), Number);
  }
}

/** The model the library ships, in its folder's models/. */
const DEFAULT_MODEL = "all-MiniLM-L6-v2";

/**
 * Cosine similarity of two vectors of the same length (>= 1), in [-1, 1]. If either is
 * all zeros the result is 0 (scikit-learn's convention). Sums run in float64, so very
 * large or tiny magnitudes (1e30, 1e-30) neither overflow nor underflow, and a vector
 * gives exactly 1 with itself.
 * @param {NumericInput} a
 * @param {NumericInput} b
 * @returns {number}
 */
export function cosineSimilarity(a, b) {
  const rt = ready("cosineSimilarity");
  checkFunction("cosineSimilarity", [a, b], rt.limits);
  const n = a.length;
  const view = rt.inputs.view(2 * n);
  view.set(a, 0);
  view.set(b, n);
  return callPython("cosineSimilarity", rt.py.cosine_scratch, n);
}

/**
 * Each row scaled to unit L2 norm (norms taken in float64); zero rows stay zero.
 * @param {NumericInput} vectors  n * dim values, row-major
 * @param {number} dim
 * @returns {Float32Array}  a new array of the same length
 */
export function normalizeRows(vectors, dim) {
  const rt = ready("normalizeRows");
  checkFunction("normalizeRows", [vectors, dim], rt.limits);
  const length = vectors.length;
  rt.outputs.view(length);
  rt.inputs.view(length).set(vectors);
  callPython("normalizeRows", rt.py.normalize_scratch, length, dim);
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
  checkFunction("softmax", [logits], rt.limits);
  const n = logits.length;
  rt.outputs.view(n);
  rt.inputs.view(n).set(logits);
  callPython("softmax", rt.py.softmax_scratch, n);
  return rt.outputs.view(n).slice(0, n);
}
