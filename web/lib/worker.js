// The module worker behind createWorker(): it owns Pyodide and answers messages
// { id, op, args } with { id, ok, result } or { id, ok: false, error }. Only plain data and
// typed arrays cross postMessage; results are transferred, never copied. Objects live in
// a table keyed by ids the client chooses, so a replacement worker can rebuild them.

import * as mm from "./minimodel.js";

const objects = new Map();

function post(message, transfer = []) {
  self.postMessage(message, transfer);
}

function get(id, kind) {
  const object = objects.get(id);
  if (!object) throw new Error(`${kind}: unknown object ${id} (disposed?)`);
  return object;
}

const ops = {
  async init(cache) {
    const info = await mm.init({ onProgress: (progress) => post({ type: "progress", progress }), cache });
    return { info, limits: mm.limits() };
  },
  createModel(id, inputSize, outputSize) {
    objects.set(id, new mm.MiniModel(inputSize, outputSize));
  },
  createFeedForward(id, sizes) {
    objects.set(id, new mm.FeedForward(sizes));
  },
  async loadModel(id, kind, bytes) {
    const model = kind === "MiniModel" ? await mm.MiniModel.load(bytes) : await mm.FeedForward.load(bytes);
    objects.set(id, model);
    return kind === "MiniModel" ? [model.inputSize, model.outputSize] : model.sizes;
  },
  createIndex(id, dim) {
    objects.set(id, new mm.EmbeddingIndex(dim));
  },
  loadLayer(id, index, weights, bias) {
    const model = get(id, "loadLayer");
    if (model instanceof mm.MiniModel) model.loadWeights(weights, bias);
    else model.loadLayer(index, weights, bias);
  },
  predict(id, x) {
    return get(id, "predict").predict(x);
  },
  predictRows(id, inputs, batch) {
    return get(id, "predict")._predictRows(inputs, batch, "predict");
  },
  predictBatch(id, inputs, batch) {
    return get(id, "predictBatch").predictBatch(inputs, batch);
  },
  indexAdd(id, vectors) {
    const index = get(id, "add");
    index.add(vectors);
    return index.size;
  },
  indexSearch(id, query, k) {
    return get(id, "search").search(query, k);
  },
  dispose(id) {
    objects.get(id)?.dispose();
    objects.delete(id);
  },
  cosineSimilarity(a, b) {
    return mm.cosineSimilarity(a, b);
  },
  normalizeRows(vectors, dim) {
    return mm.normalizeRows(vectors, dim);
  },
  softmax(logits) {
    return mm.softmax(logits);
  },
  debugStats() {
    return { ...mm.debugStats(), objects: objects.size };
  },
  /** For tests: make Pyodide fail fatally (a wasm trap), as a real crash would. */
  crash() {
    mm.getPyodide().runPython("import ctypes; ctypes.string_at(0xFFFFFFF0, 64)");
  },
  /** For tests: keep the worker busy for `ms` milliseconds of pure computation. */
  busy(ms) {
    const end = performance.now() + ms;
    let x = 0;
    while (performance.now() < end) x += Math.sqrt(x + 1);
    return x > 0;
  },
};

function transferables(result) {
  if (ArrayBuffer.isView(result)) return [result.buffer];
  if (result && ArrayBuffer.isView(result.indices)) return [result.indices.buffer, result.scores.buffer];
  return [];
}

mm.onFatalError((error) => post({ type: "fatal", message: `a fatal Python error: ${error.cause?.message ?? error.message}` }));

self.onmessage = async ({ data }) => {
  const { id, op, args } = data;
  try {
    if (!Object.hasOwn(ops, op)) throw new Error(`unknown operation ${op}`);
    const result = await ops[op](...args);
    post({ id, ok: true, result }, transferables(result));
  } catch (error) {
    post({
      id,
      ok: false,
      error: {
        name: error?.name ?? "Error",
        message: error?.message ?? String(error),
        pythonTraceback: error?.pythonTraceback,
      },
    });
  }
};
