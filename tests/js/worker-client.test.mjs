// The worker client (transport, remote objects, batching, restore) against a fake Worker
// that speaks protocol.js with a tiny JavaScript stand-in for Python: no browser, no
// Pyodide. The real worker and Python are tested end to end in tests/e2e.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { balancedRanges, readSavedIndex, savedIndex } from "../../web/lib/pool.js";
import { createWorker } from "../../web/lib/worker-client.js";
import { encodeError, transferablesOf } from "../../web/lib/protocol.js";
import { spareStats, worthKeeping } from "../../web/lib/spare-buffers.js";

const LIMITS = { maxDim: 16_777_216, maxParameters: 67_108_864, maxValues: 268_435_456 };

/** A MiniModel in JS: relu(W x + b), weights 0.01, bias 0. */
class FakeModel {
  constructor(inputSize, outputSize) {
    this.inputSize = inputSize;
    this.outputSize = outputSize;
    this.w = new Float32Array(inputSize * outputSize).fill(0.01);
    this.b = new Float32Array(outputSize);
  }
  predict(x) {
    return this._predictRows(Float32Array.from(x), 1);
  }
  predictBatch(inputs, batch) {
    return this._predictRows(inputs, batch);
  }
  _predictRows(inputs, batch) {
    const [n, m] = [this.inputSize, this.outputSize];
    const y = new Float32Array(batch * m);
    for (let r = 0; r < batch; r++)
      for (let o = 0; o < m; o++) {
        let s = this.b[o];
        for (let i = 0; i < n; i++) s += this.w[o * n + i] * inputs[r * n + i];
        y[r * m + o] = Math.max(0, s);
      }
    return y;
  }
  loadWeights(w, b) {
    this.w = Float32Array.from(w);
    this.b = b ? Float32Array.from(b) : new Float32Array(this.outputSize);
  }
}

/** An EmbeddingIndex in JS: unit rows, dot-product scores, ties to the lower index. */
class FakeIndex {
  constructor(dim) {
    this.dim = dim;
    this.rows = [];
  }
  get size() {
    return this.rows.length;
  }
  add(vectors) {
    for (let r = 0; r < vectors.length / this.dim; r++) {
      const row = Array.from(vectors.slice(r * this.dim, (r + 1) * this.dim));
      const norm = Math.hypot(...row) || 1;
      this.rows.push(Float32Array.from(row, (v) => v / norm));
    }
  }
  search(query, k) {
    const scores = this.rows.map((row) => Math.fround(row.reduce((s, v, d) => s + v * query[d], 0)));
    const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b).slice(0, k);
    return { indices: Int32Array.from(order), scores: Float32Array.from(order, (i) => scores[i]) };
  }
}

/** Every fake worker made, in order. */
let workers = [];

/** A Worker that answers in a later task, as a real one does. */
class FakeWorker {
  constructor() {
    this.objects = new Map();
    this.received = [];
    this.terminated = false;
    this.onmessage = null;
    this.onerror = null;
    workers.push(this);
  }
  postMessage(message, transfer = []) {
    const data = structuredClone(message, { transfer }); // detaches what was transferred
    this.received.push(data);
    // One message at a time, each in a later task, as a real worker runs them.
    this.queue = (this.queue ?? Promise.resolve()).then(() => new Promise((resolve) => setTimeout(resolve, 0))).then(() => this.handle(data));
  }
  reply(message) {
    const transfer = [...transferablesOf(message.result), ...(message.spent ?? [])];
    if (!this.terminated) this.onmessage?.({ data: structuredClone(message, { transfer }) });
  }
  async handle({ id, op, args }) {
    if (this.terminated) return;
    try {
      let result, state, spent;
      if (op === "init") result = { info: { pyodideVersion: "fake" }, limits: LIMITS };
      else if (op === "create") {
        const [objectId, kind, [i, o]] = args;
        if (kind === "EmbeddingIndex") {
          this.objects.set(objectId, new FakeIndex(i));
          result = { dim: i, size: 0 };
        } else {
          this.objects.set(objectId, new FakeModel(i, o));
          result = { sizes: [i, o] };
        }
      } else if (op === "call") {
        const [objectId, method, callArgs] = args;
        const object = this.objects.get(objectId);
        result = object[method](...callArgs);
        // As worker.js does: these methods hand their inputs' buffers back.
        if ((method === "predictBatch" || method === "_predictRows") && worthKeeping(callArgs[0].buffer)) spent = [callArgs[0].buffer];
        if (object instanceof FakeIndex && method === "add") state = { dim: object.dim, size: object.size };
      } else if (op === "dispose") this.objects.delete(args[0]);
      else if (op === "busy") await new Promise((resolve) => (this.busyTimer = setTimeout(resolve, args[0])));
      else if (op === "crash") {
        this.reply({ type: "fatal", message: "a fatal Python error: memory access out of bounds" });
        return;
      } else throw new Error(`unknown operation ${op}`);
      this.reply({ id, ok: true, result, state, spent });
    } catch (error) {
      this.reply({ id, ok: false, error: encodeError(error) });
    }
  }
  terminate() {
    this.terminated = true;
    clearTimeout(this.busyTimer);
  }
}

globalThis.Worker = FakeWorker;
afterEach(() => {
  workers = [];
});

const calls = (worker, op) => worker.received.filter((m) => m.op === op);

test("concurrent predicts travel as one message and each caller gets its own row", async () => {
  const client = await createWorker();
  const model = await client.createModel(2, 1);
  await model.loadWeights([1, 10]);
  const before = client.stats();
  const ys = await Promise.all([[1, 0], [0, 1], [2, 3]].map((x) => model.predict(x)));
  assert.deepEqual(ys.map((y) => Array.from(y)), [[1], [10], [32]]);
  const after = client.stats();
  assert.deepEqual([after.requests - before.requests, after.batches - before.batches, after.messages - before.messages], [3, 1, 1]);
  assert.equal(calls(workers[0], "call").at(-1).args[1], "_predictRows");
  await client.terminate();
});

test("a bad call is refused on the page with the main thread's message, and never sent", async () => {
  const client = await createWorker();
  const model = await client.createModel(4, 2);
  const sentBefore = workers[0].received.length;
  const settled = await Promise.allSettled([model.predict([1, 2, 3, 4]), model.predict([1, 2]), model.predict([1, 2, "a", 4])]);
  assert.equal(settled[0].status, "fulfilled");
  assert.equal(settled[1].reason.message, "MiniModel.predict: x must have length 4 (the model's inputSize); received length 2");
  assert.ok(settled[1].reason instanceof RangeError);
  assert.equal(settled[2].reason.message, 'MiniModel.predict: x[2] is string "a"; expected a number');
  assert.ok(settled[2].reason instanceof TypeError);
  const sent = workers[0].received.slice(sentBefore);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].args[2][1], 1); // a batch of the one good row
  await client.terminate();
});

test("the caller's arrays are copied, or taken over with transfer", async () => {
  const client = await createWorker();
  const model = await client.createModel(2, 1);
  const x = new Float32Array([1, 2]);
  await model.predict(x);
  assert.equal(x.length, 2);
  await model.predict(x, { transfer: true });
  assert.equal(x.byteLength, 0);
  await assert.rejects(model.predict([1, 2], { transfer: true }), {
    name: "TypeError",
    message: "MiniModel.predict: options.transfer needs x to be a Float32Array; received an Array of length 2",
  });
  await client.terminate();
});

test("a call posted again to a replacement worker sends its inputs as they were when it was made", async () => {
  const client = await createWorker({ maxBatchSize: 1 }); // no batching: the plain call path
  const model = await client.createModel(2, 1);
  await model.loadWeights([1, 10]);
  const controller = new AbortController();
  const busy = client._busyForTest(10_000, { signal: controller.signal });
  const x = Float32Array.from([1, 2, 3, 4]);
  const waiting = model.predictBatch(x, 2); // posted behind the busy call: posted again later
  x.set([5, 5, 5, 5]); // the caller reuses its array at once
  await new Promise((resolve) => setTimeout(resolve, 20));
  controller.abort();
  await assert.rejects(busy, { name: "AbortError" });
  assert.deepEqual(Array.from(await waiting), [21, 43]);
  assert.equal(workers.length, 2);
  await client.terminate();
});

test("aborting a running call replaces the worker, restores the objects, and re-sends the rest", async () => {
  const client = await createWorker();
  const model = await client.createModel(2, 1);
  await model.loadWeights([1, 1], [0.5]);
  await model.loadWeights([2, 2], [0.5]); // replaces the first: one replay
  const controller = new AbortController();
  const busy = client._busyForTest(10_000, { signal: controller.signal });
  const waiting = model.predict([1, 1]); // posted behind the busy call: survives
  await new Promise((resolve) => setTimeout(resolve, 20));
  controller.abort();
  await assert.rejects(busy, { name: "AbortError" });
  assert.deepEqual(Array.from(await waiting), [4.5]);
  assert.equal(workers.length, 2);
  assert.ok(workers[0].terminated);
  const replayed = workers[1].received.map((m) => m.op);
  assert.deepEqual(replayed.slice(0, 3), ["init", "create", "call"]);
  assert.equal(calls(workers[1], "call")[0].args[1], "loadWeights");
  assert.equal(calls(workers[1], "call").filter((m) => m.args[1] === "loadWeights").length, 1);
  assert.equal(client.stats().restarts, 1);
  await client.terminate();
});

test("a crash fails the pending calls clearly; the next call starts a new worker with the objects", async () => {
  let crashes = 0;
  const client = await createWorker({ onCrash: () => crashes++ });
  const model = await client.createModel(2, 1);
  await model.loadWeights([2, 3], [1]);
  await assert.rejects(client._crashForTest(), (error) => {
    assert.match(error.message, /^crash: the minimodel worker stopped \(a fatal Python error: memory access out of bounds\); the next call starts a new one$/);
    return true;
  });
  assert.deepEqual(Array.from(await model.predict([1, 2])), [9]);
  assert.equal(crashes, 1);
  assert.equal(client.stats().crashes, 1);
  assert.equal(workers.length, 2);
  await client.terminate();
});

test("terminate fails everything pending and every later call; it is idempotent", async () => {
  const client = await createWorker();
  const model = await client.createModel(2, 1);
  const busy = client._busyForTest(10_000);
  const queued = model.predict([1, 1]);
  await client.terminate();
  await client.terminate();
  await assert.rejects(busy, { message: "busy: the worker was terminated" });
  await assert.rejects(queued, { message: "MiniModel.predict: the worker was terminated" });
  await assert.rejects(model.predict([1, 1]), { message: "MiniModel.predict: the worker has been terminated" });
  await assert.rejects(client.createModel(2, 2), { message: "new MiniModel: the worker has been terminated" });
  await model.dispose();
  await model.dispose();
});

test("a disposed object refuses calls; it is not rebuilt after a restart", async () => {
  const client = await createWorker();
  const kept = await client.createModel(1, 1);
  const gone = await client.createModel(3, 1);
  await gone.dispose();
  await assert.rejects(gone.predict([1, 2, 3]), { message: "MiniModel.predict: this model has been disposed" });
  await client._crashForTest().catch(() => {});
  await kept.predict([1]);
  assert.deepEqual(calls(workers[1], "create").map((m) => m.args[2]), [[1, 1]]);
  await client.terminate();
});

test("createWorker checks its options", async () => {
  await assert.rejects(createWorker({ maxBatchSize: 0 }), { message: "createWorker: maxBatchSize must be a positive integer Number; received number 0" });
  await assert.rejects(createWorker({ batchTimeoutMs: -1 }), { message: "createWorker: batchTimeoutMs must be a Number from 0 to 60000; received number -1" });
  await assert.rejects(createWorker({ cache: "yes" }), { message: 'createWorker: cache must be true or false; received string "yes"' });
  await assert.rejects(createWorker(null), { name: "TypeError" });
});

test("balanced ranges cover every item once, in order, with about equal weight", () => {
  assert.deepEqual(balancedRanges([1, 1, 1, 1, 1, 1, 1], 3), [[0, 2], [2, 5], [5, 7]]);
  assert.deepEqual(balancedRanges([1, 1], 4), [[0, 1], [1, 2]]);
  assert.deepEqual(balancedRanges([10, 1, 1, 1, 1], 2), [[0, 1], [1, 5]]);
  assert.deepEqual(balancedRanges([], 2), []);
  for (let n = 0; n < 40; n++) {
    for (const parts of [1, 2, 3, 5]) {
      const ranges = balancedRanges(new Array(n).fill(1), parts);
      assert.deepEqual(ranges.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i)), [...Array(n).keys()]);
      assert.ok(ranges.length <= parts);
    }
  }
});

test("with several workers a model lives in each: loads go to all, batches split, calls spread", async () => {
  const client = await createWorker({ workers: 3 });
  assert.equal(client.workers, 3);
  const model = await client.createModel(2, 1);
  await model.loadWeights([1, 10]);
  const rows = Array.from({ length: 10 }, (_, r) => [r, 1]);
  const batch = await model.predictBatch(rows.flat(), 10);
  assert.deepEqual(Array.from(batch), rows.map(([a, b]) => a + 10 * b));
  const singles = await Promise.all(rows.map((x) => model.predict(x)));
  assert.deepEqual(singles.map((y) => y[0]), Array.from(batch));
  for (const worker of workers) {
    const calls = worker.received.filter((m) => m.op === "call").map((m) => m.args[1]);
    assert.ok(calls.includes("loadWeights"), "every worker loaded the weights");
    assert.ok(calls.includes("predictBatch"), "every worker computed part of the batch");
    assert.ok(calls.includes("_predictRows"), "single calls were spread");
  }
  const stats = client.stats();
  assert.equal(stats.workers.length, 3);
  assert.equal(stats.requests, stats.workers.reduce((n, w) => n + w.requests, 0));
  await assert.rejects(model.predictBatch([1, 2, 3], 2), {
    message: "MiniModel.predictBatch: inputs must have length 4 (batch x inputSize = 2 x 2); received length 3",
  });
  await model.dispose();
  await assert.rejects(model.predict([1, 1]), { message: "MiniModel.predict: this model has been disposed" });
  await client.terminate();
});

test("a sharded index searches exactly as one index, ties included", async () => {
  const one = await createWorker();
  const three = await createWorker({ workers: 3 });
  const single = await one.createIndex(2);
  const sharded = await three.createIndex(2);
  // Many exact ties (repeated rows), added in uneven parts.
  const directions = [[1, 0], [0, 1], [1, 1], [1, -1], [2, 0]];
  const data = Array.from({ length: 40 }, (_, i) => directions[(i * 7) % directions.length]);
  for (const [start, end] of [[0, 3], [3, 4], [4, 25], [25, 40]]) {
    const part = data.slice(start, end).flat();
    await single.add(part);
    await sharded.add(part);
  }
  assert.equal(sharded.size, 40);
  for (const query of [[1, 0], [0, 1], [1, 1], [-1, 0.5]]) {
    for (const k of [1, 3, 8, 17, 40, 100]) {
      const a = await single.search(query, k);
      const b = await sharded.search(query, k);
      assert.deepEqual(Array.from(b.indices), Array.from(a.indices), `query ${query} k ${k}`);
      assert.deepEqual(Array.from(b.scores), Array.from(a.scores));
    }
  }
  await one.terminate();
  await three.terminate();
});

test("createWorker checks its workers option", async () => {
  await assert.rejects(createWorker({ workers: 0 }), { message: "createWorker: workers must be a positive integer Number; received number 0" });
  await assert.rejects(createWorker({ workers: 99 }), { message: "createWorker: workers must be at most 8; received 99" });
  await assert.rejects(createWorker({ workers: "2" }), { name: "RangeError" });
});

test("adds to a sharded index made without waiting number their rows as one index does", async () => {
  const one = await createWorker();
  const two = await createWorker({ workers: 2 });
  const single = await one.createIndex(2);
  const sharded = await two.createIndex(2);
  const parts = [[1, 0, 0, 1, 1, 1, 1, -1], [2, 0.1, -1, 0, 0, -1, 3, 3], [-2, 0.5, 0, 2]];
  const buffer = new Float32Array(8);
  for (const index of [single, sharded]) {
    const adds = parts.map((part) => {
      buffer.fill(0).set(part); // refilled after each call: each add takes its values as of its call
      return index.add(buffer.subarray(0, part.length));
    });
    const searched = index.search(buffer.fill(0).subarray(0, 2).fill(1), 10); // [1, 1], after all three adds
    buffer.fill(NaN);
    await Promise.all(adds);
    assert.equal((await searched).indices.length, 10);
  }
  assert.equal(sharded.size, 10);
  for (const query of [[-1, 0], [0, -1], [1, 1], [1, 0.2]]) {
    const a = await single.search(query, 10);
    const b = await sharded.search(query, 10);
    assert.deepEqual(Array.from(b.indices), Array.from(a.indices), `query ${query}`);
    assert.deepEqual(Array.from(b.scores), Array.from(a.scores));
  }
  await one.terminate();
  await two.terminate();
});

test("a change that goes through in some workers and not others makes the pooled object refuse every later call", async () => {
  const client = await createWorker({ workers: 2, maxBatchSize: 1 });
  const model = await client.createModel(2, 1);
  const index = await client.createIndex(2);
  await model.loadWeights([1, 1]);
  // Worker 0 is busy, so the calls' parts for worker 1 finish first; then they are cancelled.
  const busy = client._busyForTest(150);
  const controller = new AbortController();
  const loaded = model.loadWeights([100, 100], null, { signal: controller.signal });
  const added = index.add([1, 0, 0, 1, 1, 1, -1, 0], { signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 40));
  controller.abort();
  await assert.rejects(loaded, { name: "AbortError" });
  await assert.rejects(added, { name: "AbortError" });
  await busy.catch(() => {});
  const outOfStep = (where, noun, call) => ({
    message: new RegExp(`^${where}: this ${noun} no longer agrees across its workers: ${call} failed in 1 of its 2 ` +
      "workers and went through in the others \\(AbortError: .*\\)\\. Dispose of it and make it again\\.$"),
  });
  await assert.rejects(async () => model.predict([1, 1]), outOfStep("MiniModel.predict", "model", "loadWeights"));
  await assert.rejects(async () => model.predictBatch([1, 1, 2, 2], 2), outOfStep("MiniModel.predictBatch", "model", "loadWeights"));
  await assert.rejects(async () => index.search([1, 1], 2), outOfStep("EmbeddingIndex.search", "index", "add"));
  await assert.rejects(async () => index.add([1, 1]), outOfStep("EmbeddingIndex.add", "index", "add"));
  await model.dispose();
  await index.dispose();
  // A change cancelled before any worker made it changes nothing and breaks nothing.
  const fresh = await client.createModel(2, 1);
  await fresh.loadWeights([1, 2]);
  const early = new AbortController();
  early.abort();
  await assert.rejects(fresh.loadWeights([5, 5], null, { signal: early.signal }), { name: "AbortError" });
  assert.deepEqual(Array.from(await fresh.predictBatch([1, 1, 2, 2], 2)), [3, 6]);
  await client.terminate();
});

test("when one of the workers cannot start, createWorker rejects and stops the others", async () => {
  const Real = globalThis.Worker;
  globalThis.Worker = class extends Real {
    async handle(message) {
      if (message.op === "init" && workers.indexOf(this) === 1) {
        this.reply({ id: message.id, ok: false, error: { name: "Error", message: "out of memory" } });
        return;
      }
      return super.handle(message);
    }
  };
  try {
    await assert.rejects(createWorker({ workers: 2 }), { message: /out of memory/ });
    assert.equal(workers.length, 2);
    assert.deepEqual(workers.map((w) => w.terminated), [true, true], "no worker left running without a client");
  } finally {
    globalThis.Worker = Real;
  }
});

/**
 * A client with a model (inputs 2, outputs 1) whose worker is being replaced, the new one
 * taking `ms` to start; `restore` puts the fake worker's normal start back.
 * @param {number} ms
 */
async function restartingSlowly(ms) {
  const client = await createWorker({ maxBatchSize: 1 });
  const model = await client.createModel(2, 1);
  const handle = FakeWorker.prototype.handle;
  FakeWorker.prototype.handle = async function (message) {
    if (message.op === "init") await new Promise((resolve) => setTimeout(resolve, ms));
    return handle.call(this, message);
  };
  const busy = new AbortController();
  const waste = client._busyForTest(10_000, { signal: busy.signal });
  await new Promise((resolve) => setTimeout(resolve, 10));
  busy.abort(); // the worker is replaced: the next calls wait for the new one
  await waste.catch(() => {});
  return { client, model, restore: () => (FakeWorker.prototype.handle = handle) };
}

test("a call waiting for a restarting worker rejects as soon as it is aborted", async () => {
  const { client, model, restore } = await restartingSlowly(1000);
  try {
    const controller = new AbortController();
    const started = Date.now();
    const call = model.predictBatch([1, 2], 1, { signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    await assert.rejects(call, { name: "AbortError" });
    assert.ok(Date.now() - started < 500, `rejected after ${Date.now() - started} ms, not when the worker was up`);
    assert.deepEqual(Array.from(await model.predictBatch([1, 2], 1)), [Math.fround(0.03)], "the restarted worker still computes");
  } finally {
    restore();
    await client.terminate();
  }
});

test("a worker whose script does not load is named in createWorker's error", async () => {
  const Real = globalThis.Worker;
  globalThis.Worker = class extends Real {
    postMessage() {
      setTimeout(() => this.onerror?.({}), 5); // a module that failed to load: an error event with no message
    }
  };
  try {
    await assert.rejects(createWorker({ baseURL: "https://example.test/wrong/" }), {
      message: "createWorker: the minimodel worker could not start: its script https://example.test/wrong/worker.js " +
        "did not load or failed before answering (the worker script failed); check createWorker's baseURL and that " +
        "the file is served",
    });
  } finally {
    globalThis.Worker = Real;
  }
});

test("calls queued while the worker restarts are sent in call order, even when one in the middle is aborted", async () => {
  const { client, model, restore } = await restartingSlowly(200);
  try {
    const first = model.loadWeights([5, 5]);
    const second = model.loadWeights([1, 1]);
    const controller = new AbortController();
    const aborted = model.predictBatch([9, 9], 1, { signal: controller.signal });
    const last = model.predictBatch([1, 2], 1); // must see the second weights
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await assert.rejects(aborted, { name: "AbortError" });
    await first;
    await second;
    assert.deepEqual(Array.from(await last), [3], "sent after loadWeights([1, 1]), not before it (15)");
  } finally {
    restore();
    await client.terminate();
  }
});

for (const n of [1, 2]) {
  test(`${n} worker(s): a search made before an add does not see its rows, even when the add is made as an earlier add ends`, async () => {
    const client = await createWorker({ workers: n });
    const index = await client.createIndex(2);
    const first = index.add([1, 0, 0, 1]);
    const searched = index.search([1, 1], 10);
    await first;
    const second = index.add([1, 1, 1, 1]);
    assert.deepEqual(Array.from((await searched).indices).sort(), [0, 1]);
    await second;
    assert.deepEqual(Array.from((await index.search([1, 1], 10)).indices).sort(), [0, 1, 2, 3]);
    await client.terminate();
  });
}

/** Gives the fake index the toBytes of a real one (a saved index's bytes of its rows). */
function giveToBytes(index) {
  Object.getPrototypeOf(index).toBytes ??= function () {
    const data = new Float32Array(this.rows.length * this.dim);
    this.rows.forEach((row, r) => data.set(row, r * this.dim));
    return savedIndex(new Uint8Array(data.buffer), this.rows.length, this.dim);
  };
}

test("a sharded index saved and then added to without waiting saves the rows it had, as one index does", async () => {
  const client = await createWorker({ workers: 2 });
  const index = await client.createIndex(2);
  await index.add([1, 0, 0, 1, 1, 1, -1, 0]);
  giveToBytes(workers[0].objects.values().next().value);
  const handle = FakeWorker.prototype.handle;
  FakeWorker.prototype.handle = async function (message) { // worker 1 saves slowly
    if (this === workers[1] && message.op === "call" && message.args[1] === "toBytes") await new Promise((r) => setTimeout(r, 50));
    return handle.call(this, message);
  };
  try {
    const saved = index.toBytes();
    await index.add([0, 2, 2, 0, 3, 3, 0, -1]);
    assert.equal(readSavedIndex(await saved).rows, 4);
    assert.equal(readSavedIndex(await index.toBytes()).rows, 8);
  } finally {
    FakeWorker.prototype.handle = handle;
    await client.terminate();
  }
});

test("an add or a search waiting behind an add rejects as soon as its signal aborts", async () => {
  const client = await createWorker({ workers: 2 });
  const index = await client.createIndex(2);
  const busy = client._busyForTest(1000); // worker 0 busy: the first add waits for it
  const first = index.add([1, 0, 0, 1, 1, 1, -1, 0]);
  const controller = new AbortController();
  const second = index.add([1, 2, 3, 4], { signal: controller.signal });
  const searched = index.search([1, 1], 2, { signal: controller.signal });
  const after = index.search([1, 0], 1); // behind both: goes on without them
  setTimeout(() => controller.abort(), 20);
  const started = Date.now();
  const settled = await Promise.allSettled([second, searched]);
  assert.ok(Date.now() - started < 500, `settled after ${Date.now() - started} ms, when the first add ended`);
  assert.deepEqual(settled.map((r) => r.reason?.name), ["AbortError", "AbortError"]);
  await first;
  await busy;
  assert.equal(index.size, 4, "the aborted add added nothing");
  assert.deepEqual(Array.from((await after).indices), [0]);
  await client.terminate();
});

test("an add waiting behind another is checked again in its turn: disposed, or past the size limit", async () => {
  const client = await createWorker({ workers: 2 });
  const index = await client.createIndex(2);
  const first = index.add([1, 0, 0, 1, 1, 1, -1, 0]);
  const second = index.add([1, 2, 3, 4]);
  const disposed = index.dispose();
  await first.catch(() => {});
  await assert.rejects(second, { message: "EmbeddingIndex.add: this index has been disposed" });
  await disposed;
  await client.terminate();

  const handle = FakeWorker.prototype.handle;
  FakeWorker.prototype.handle = async function (message) {
    if (message.op === "init") {
      this.reply({ id: message.id, ok: true, result: { info: {}, limits: { maxDim: 64, maxParameters: 64, maxValues: 8 } } });
      return;
    }
    return handle.call(this, message);
  };
  try {
    const small = await createWorker({ workers: 2 });
    const full = await small.createIndex(2);
    const settled = await Promise.allSettled([full.add(new Array(8).fill(1)), full.add(new Array(8).fill(1))]);
    assert.deepEqual(settled.map((r) => r.status), ["fulfilled", "rejected"]);
    assert.equal(settled[1].reason.name, "RangeError");
    assert.equal(full.size * full.dim, 8);
    await small.terminate();
  } finally {
    FakeWorker.prototype.handle = handle;
  }
});

test("a started worker gets a call before the call returns; calls made while it starts keep their order", async () => {
  const client = await createWorker({ workers: 2 });
  const model = await client.createModel(2, 1);
  await model.loadWeights([1, 10]);
  const before = workers.map((w) => calls(w, "call").length);
  const pending = model.predictBatch([1, 1, 2, 2, 3, 3, 4, 4], 4); // split: a part to each worker
  assert.deepEqual(workers.map((w, i) => calls(w, "call").length - before[i]), [1, 1], "both parts posted already");
  assert.deepEqual(Array.from(await pending), [11, 22, 33, 44]);

  await client.terminate();
});

test("a call made just as a restarted worker is ready still goes after the calls that waited for it", async () => {
  const client = await createWorker();
  const model = await client.createModel(2, 1);
  await model.loadWeights([1, 10]);
  await assert.rejects(client._crashForTest());
  const transport = client._members[0].transport;
  const loaded = model.loadWeights([2, 20]); // waits for the new worker
  // Make the next call in the first microtask after the worker is up, before the waiting
  // call has gone on: it must not overtake it.
  let later = null;
  const onMessage = transport.onMessage;
  transport.onMessage = (worker, data) => {
    onMessage.call(transport, worker, data);
    let spins = 0;
    const poll = () => {
      if (later === null && transport.worker && transport.starting === null) later = model.predictBatch([1, 1, 2, 2], 2);
      else if (later === null && spins++ < 200) queueMicrotask(poll);
    };
    queueMicrotask(poll);
  };
  await loaded;
  assert.ok(later !== null, "the call was made while the first one waited");
  assert.deepEqual(Array.from(await later), [22, 44]);
  await client.terminate();
});

test("the workers hand predictBatch's input buffers back, and the next call's copies reuse them", async () => {
  const client = await createWorker({ workers: 2 });
  const n = 8192; // 2 rows a worker: 64 KiB parts, the smallest kept
  const model = await client.createModel(n, 1);
  await model.loadWeights(new Float32Array(n).fill(1));
  const rows = 4;
  const x = Float32Array.from({ length: rows * n }, (_, i) => Math.floor(i / n) + 1); // row r: all r + 1
  const sums = (v) => Array.from({ length: rows }, (_, r) => v[r * n] * n);
  const kept = spareStats().buffers;
  assert.deepEqual(Array.from(await model.predictBatch(x, rows)), sums(x));
  // Per part: the buffer the worker got comes back, and the page's own copy of the part
  // (kept in case the call had to be posted again) is released.
  assert.equal(spareStats().buffers, kept + 4, "two buffers back per worker");
  x.reverse();
  const next = model.predictBatch(x, rows);
  assert.equal(spareStats().buffers, kept, "both parts copied into them");
  assert.deepEqual(Array.from(await next), sums(x));
  assert.equal(x[0], rows, "the caller's array is untouched");
  await client.terminate();
});

test("merged predicts go out in a spare buffer, which the worker hands back for the next batch", async () => {
  const client = await createWorker();
  const n = 8196; // 2 merged rows: just over 64 KiB (kept), a size no other test here uses
  const model = await client.createModel(n, 1);
  await model.loadWeights(new Float32Array(n).fill(1));
  const row = (v) => new Float32Array(n).fill(v);
  const kept = spareStats().buffers;
  assert.deepEqual((await Promise.all([model.predict(row(1)), model.predict(row(2))])).map((y) => y[0]), [n, 2 * n]);
  assert.equal(spareStats().buffers, kept + 1, "the merged buffer came back");
  const next = Promise.all([model.predict(row(3)), model.predict(row(-1))]);
  assert.deepEqual((await next).map((y) => y[0]), [3 * n, 0]); // relu
  assert.equal(spareStats().buffers, kept + 1, "taken for the second batch, and back again");
  const [batchMessage] = calls(workers[0], "call").filter((m) => m.args[1] === "_predictRows").slice(-1);
  assert.equal(batchMessage.args[2][1], 2);
  await client.terminate();
});
