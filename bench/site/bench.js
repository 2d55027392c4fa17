// In-page contenders for bench/run.py: minimodel, plain JS loops and onnxruntime-web,
// on the data files written by the runner. window.bench(workload, contender) returns
// per-call times in ms ({ median, min }) and the outputs to check.
import * as mm from "../lib/minimodel.js";
import * as ort from "../ort/ort.wasm.min.mjs";

const params = new URLSearchParams(location.search);
ort.env.wasm.numThreads = Number(params.get("threads") ?? 1);
ort.env.wasm.wasmPaths = new URL("../ort/", import.meta.url).href;

const data = {};
async function load(name) {
  data[name] ??= new Float32Array(await (await fetch(`../data/${name}.bin`)).arrayBuffer());
  return data[name];
}

async function time(fn, calls, rounds, isAsync) {
  const perCall = [];
  for (let i = 0; i < Math.min(calls, 50); i++) isAsync ? await fn() : fn(); // warm up
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    if (isAsync) for (let i = 0; i < calls; i++) await fn();
    else for (let i = 0; i < calls; i++) fn();
    perCall.push((performance.now() - t0) / calls);
  }
  perCall.sort((a, b) => a - b);
  const mid = perCall.length >> 1;
  const median = perCall.length % 2 ? perCall[mid] : (perCall[mid - 1] + perCall[mid]) / 2;
  return { median, min: perCall[0] };
}

// --------------------------------------------------------------------------- plain JS

function jsLinear(W, b, x, rows, cols, relu) {
  const y = new Float32Array(rows);
  for (let o = 0; o < rows; o++) {
    let s = b[o];
    const off = o * cols;
    for (let i = 0; i < cols; i++) s += W[off + i] * x[i];
    y[o] = relu && s < 0 ? 0 : s;
  }
  return y;
}

function jsCosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

function jsSearch(unit, dim, q, k) {
  let n2 = 0;
  for (let d = 0; d < dim; d++) n2 += q[d] * q[d];
  const inv = n2 > 0 ? 1 / Math.sqrt(n2) : 0;
  const u = Float32Array.from(q, (v) => v * inv);
  const idx = new Int32Array(k), sc = new Float32Array(k).fill(-Infinity);
  const rows = unit.length / dim;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const off = r * dim;
    for (let d = 0; d < dim; d++) s += unit[off + d] * u[d];
    if (s <= sc[k - 1]) continue;
    let j = k - 1;
    while (j > 0 && sc[j - 1] < s) { sc[j] = sc[j - 1]; idx[j] = idx[j - 1]; j--; }
    sc[j] = s; idx[j] = r;
  }
  return { indices: idx, scores: sc };
}

// --------------------------------------------------------------------------- workloads

const CONTENDERS = {
  async W1(contender) {
    const [x, W, b] = [await load("w1_x"), await load("w1_w"), await load("w1_b")];
    if (contender === "minimodel") {
      const model = new mm.MiniModel(128, 10);
      model.loadWeights(W, b);
      return { fn: () => model.predict(x), out: (y) => ({ w1: y }), calls: 2000, rounds: 15, done: () => model.dispose() };
    }
    if (contender === "js") return { fn: () => jsLinear(W, b, x, 10, 128, true), out: (y) => ({ w1: y }), calls: 2000, rounds: 15 };
    const session = await ort.InferenceSession.create("../models/w1.onnx");
    return {
      fn: async () => (await session.run({ x: new ort.Tensor("float32", x, [1, 128]) })).y.data,
      out: (y) => ({ w1: y }), calls: 2000, rounds: 15, isAsync: true, done: () => session.release(),
    };
  },
  async W2(contender) {
    const [X, W1, b1, W2, b2] = await Promise.all(["w2_x", "w2_w1", "w2_b1", "w2_w2", "w2_b2"].map(load));
    if (contender === "minimodel") {
      const net = new mm.FeedForward([784, 256, 10]);
      net.loadLayer(0, W1, b1);
      net.loadLayer(1, W2, b2);
      return { fn: () => net.predictBatch(X, 1024), out: (y) => ({ w2: y }), calls: 1, rounds: 10, done: () => net.dispose() };
    }
    if (contender === "js") {
      const fn = () => {
        const Y = new Float32Array(1024 * 10);
        for (let r = 0; r < 1024; r++) {
          const h = jsLinear(W1, b1, X.subarray(r * 784, (r + 1) * 784), 256, 784, true);
          Y.set(jsLinear(W2, b2, h, 10, 256, false), r * 10);
        }
        return Y;
      };
      return { fn, out: (y) => ({ w2: y }), calls: 1, rounds: 5 };
    }
    const session = await ort.InferenceSession.create("../models/w2.onnx");
    return {
      fn: async () => (await session.run({ x: new ort.Tensor("float32", X, [1024, 784]) })).y.data,
      out: (y) => ({ w2: y }), calls: 1, rounds: 10, isAsync: true, done: () => session.release(),
    };
  },
  async W3(contender) {
    const [a, b] = [await load("w3_a"), await load("w3_b")];
    if (contender === "minimodel") return { fn: () => mm.cosineSimilarity(a, b), out: (s) => ({ w3: [s] }), calls: 2000, rounds: 15 };
    if (contender === "js") return { fn: () => jsCosine(a, b), out: (s) => ({ w3: [s] }), calls: 2000, rounds: 15 };
    const session = await ort.InferenceSession.create("../models/w3.onnx");
    return {
      fn: async () => (await session.run({ a: new ort.Tensor("float32", a, [384]), b: new ort.Tensor("float32", b, [384]) })).y.data[0],
      out: (s) => ({ w3: [s] }), calls: 2000, rounds: 15, isAsync: true, done: () => session.release(),
    };
  },
  W4: (contender) => search(contender, "w4", 10),
  "W4 k=100": (contender) => search(contender, "w4k100", 100),
};

/** Search in 100,000 x 384 for the top k (name: the ONNX model and the output keys). */
async function search(contender, name, k) {
  const q = await load("w4_q");
  const out = (r) => ({ [`${name}_indices`]: Array.from(r.indices, Number), [`${name}_scores`]: r.scores });
  if (contender === "minimodel") {
    const index = new mm.EmbeddingIndex(384);
    index.add(await load("w4_rows"));
    return { fn: () => index.search(q, k), out, calls: 1, rounds: 30, done: () => index.dispose() };
  }
  if (contender === "js") {
    const unit = await load("w4_unit");
    return { fn: () => jsSearch(unit, 384, q, k), out, calls: 1, rounds: 10 };
  }
  const session = await ort.InferenceSession.create(`../models/${name}.onnx`);
  return {
    fn: async () => {
      const r = await session.run({ q: new ort.Tensor("float32", q, [384]) });
      return { indices: r.indices.data, scores: r.scores.data };
    },
    out, calls: 1, rounds: 30, isAsync: true, done: () => session.release(),
  };
}

/** A contender's first output as plain arrays of numbers, for bench/run.py to check. */
function outputsOf(setup, first) {
  return Object.fromEntries(Object.entries(setup.out(first)).map(([k, v]) => [k, Array.from(v, Number)]));
}

/** One contender's first output (to check) and its timing. */
async function measure(setup) {
  const first = setup.isAsync ? await setup.fn() : setup.fn();
  const outputs = outputsOf(setup, first);
  const timing = await time(setup.fn, setup.calls, setup.rounds, setup.isAsync);
  await setup.done?.();
  return { ...timing, outputs };
}

window.bench = async (workload, contender) => measure(await CONTENDERS[workload](contender));

// minimodel through createWorker({ workers, kernels }): every call a round trip to the
// pool (the rows of predictBatch split across workers, the index sharded across them).
const POOLED = {
  async W2(pool) {
    const [X, W1, b1, W2, b2] = await Promise.all(["w2_x", "w2_w1", "w2_b1", "w2_w2", "w2_b2"].map(load));
    const net = await pool.createFeedForward([784, 256, 10]);
    await net.loadLayer(0, W1, b1);
    await net.loadLayer(1, W2, b2);
    return { fn: () => net.predictBatch(X, 1024), out: (y) => ({ w2: y }), calls: 1, rounds: 10, isAsync: true };
  },
  async W4(pool) {
    const q = await load("w4_q");
    const index = await pool.createIndex(384);
    await index.add(await load("w4_rows"));
    const out = (r) => ({ w4_indices: Array.from(r.indices, Number), w4_scores: r.scores });
    return { fn: () => index.search(q, 10), out, calls: 1, rounds: 30, isAsync: true };
  },
};

// P's contenders stay loaded side by side, so bench/run.py can interleave their rounds: this
// machine's speed drifts by tens of percent from one minute to the next, and blocks of
// rounds, one contender after another, would compare different minutes.
const loaded = {};

/**
 * Load one contender of P under `id`: how = "ort" (onnxruntime-web, with the page's
 * ?threads) or { workers, kernels } (minimodel through createWorker). Returns its first
 * output (to check) and, for minimodel, the kernel build its workers run.
 */
window.poolLoad = async (id, workload, how) => {
  const pool = how === "ort" ? null : await mm.createWorker(how);
  const setup = pool ? await POOLED[workload](pool) : await CONTENDERS[workload]("ort");
  loaded[id] = { setup, pool };
  const first = await setup.fn();
  for (let i = 0; i < 3; i++) await setup.fn(); // warm up
  const outputs = outputsOf(setup, first);
  return { outputs, kernelBuild: pool ? (await pool.debugStats()).kernelBuild : null };
};

/** One call of a loaded contender, in ms. */
window.poolRound = async (id) => {
  const t0 = performance.now();
  await loaded[id].setup.fn();
  return performance.now() - t0;
};

window.poolRelease = async (id) => {
  const { setup, pool } = loaded[id];
  delete loaded[id];
  await setup.done?.();
  await pool?.terminate();
};

/**
 * The arithmetic peak of `threads` cores for one instruction mix: peak.wasm's 12
 * independent multiply-accumulate chains (bench/peak.c, no memory traffic), run in
 * `threads` workers at once. Returns GFLOP/s summed over the workers (each its best of 5).
 */
window.fmaPeak = async (build, threads) => {
  const url = new URL(`peak_${build}.wasm`, import.meta.url).href;
  const workers = Array.from({ length: threads }, () => new Worker(new URL("peak-worker.js", import.meta.url)));
  const ask = (worker, message) =>
    new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => resolve(data);
      worker.onerror = (e) => reject(new Error(e.message));
      worker.postMessage(message);
    });
  try {
    await Promise.all(workers.map((w) => ask(w, { url })));
    const rates = await Promise.all(workers.map((w) => ask(w, { run: 2e7 })));
    return rates.reduce((a, b) => a + b, 0);
  } finally {
    workers.forEach((w) => w.terminate());
  }
};

/**
 * 1000 concurrent predict(128 -> 10) calls through a worker, with micro-batching on and
 * off, and 1000 calls awaited one by one. Returns ms per round of 1000 calls.
 */
window.benchWorker = async () => {
  const [x, W, b] = [await load("w1_x"), await load("w1_w"), await load("w1_b")];
  const modes = {
    batched: { maxBatchSize: 64, batchTimeoutMs: 0, sequential: false },
    batched2: { maxBatchSize: 64, batchTimeoutMs: 2, sequential: false },
    unbatched: { maxBatchSize: 1, batchTimeoutMs: 0, sequential: false },
    sequential: { maxBatchSize: 64, batchTimeoutMs: 0, sequential: true },
  };
  const results = {};
  for (const [name, mode] of Object.entries(modes)) {
    const worker = await mm.createWorker({ maxBatchSize: mode.maxBatchSize, batchTimeoutMs: mode.batchTimeoutMs });
    const model = await worker.createModel(128, 10);
    await model.loadWeights(W, b);
    const inputs = Array.from({ length: 1000 }, () => x);
    const round = async () => {
      if (mode.sequential) {
        let y;
        for (const input of inputs) y = await model.predict(input);
        return y;
      }
      return (await Promise.all(inputs.map((input) => model.predict(input))))[999];
    };
    const first = await round();
    const timing = await time(round, 1, 10, true);
    results[name] = { ...timing, outputs: { w1: Array.from(first) }, stats: worker.stats() };
    await worker.terminate();
  }
  return results;
};

await mm.init({ kernels: params.get("kernels") ?? "auto" });
window.benchReady = true;
