// Text-embedding contenders for bench/run.py (E1, E2): minimodel's TextEmbedder on the
// main thread, and transformers.js (feature-extraction pipeline, wasm backend, 1 thread)
// with the fp32 model, the int8 "q8" one and the dynamically quantized "int8" one, all in
// this page, on ../data/text.json.
// Every file comes from this origin: transformers.js has remote models off, its local
// model folder and onnxruntime-web's .wasm under ../transformers/ and ../models/.
import * as mm from "../lib/minimodel.js";
import { env, pipeline } from "../transformers/transformers.min.js";

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = new URL("../models/transformers-js/", import.meta.url).pathname;
// ?threads=2 (the "every core" comparison): onnxruntime-web's threads, this page being
// cross-origin isolated; minimodel's counterpart is "minimodel-2w" (two workers).
env.backends.onnx.wasm.numThreads = Number(new URLSearchParams(location.search).get("threads") ?? 1);
env.backends.onnx.wasm.wasmPaths = {
  mjs: new URL("../transformers/ort-wasm-simd-threaded.asyncify.mjs", import.meta.url).href,
  wasm: new URL("../transformers/ort-wasm-simd-threaded.asyncify.wasm", import.meta.url).href,
};
const POOLING = { pooling: "mean", normalize: true };

const data = await (await fetch("../data/text.json")).json();
const inputs = { E1: data.e1, E2: data.e2 };
const live = {};

/** Load a contender; returns the ms it took. */
window.textLoad = async (name) => {
  const t0 = performance.now();
  if (name === "minimodel") {
    const embedder = await mm.TextEmbedder.load();
    live[name] = { call: (x) => embedder.embed(x), isAsync: false, release: () => embedder.dispose() };
  } else if (name.startsWith("minimodel-")) {
    // "minimodel-1w", "minimodel-2w": createWorker({ workers }), embed split across them.
    const pool = await mm.createWorker({ workers: Number(name.slice(10, -1)) });
    const embedder = await pool.loadTextEmbedder();
    live[name] = { call: (x) => embedder.embed(x), isAsync: true, release: () => pool.terminate() };
  } else {
    const dtype = { "tjs-fp32": "fp32", "tjs-q8": "q8", "tjs-int8": "int8" }[name];
    const extractor = await pipeline("feature-extraction", "all-MiniLM-L6-v2", { dtype, device: "wasm" });
    live[name] = {
      call: async (x) => (await extractor(x, POOLING)).data,
      isAsync: true,
      release: () => extractor.dispose(),
    };
  }
  return performance.now() - t0;
};

/** One call's output (flat Float32Array as an Array), to check before timing. */
window.textOutput = async (name, workload) => Array.from(await live[name].call(inputs[workload]), Number);

/** ms per call of `calls` calls in a row (one round). */
window.textRound = async (name, workload, calls) => {
  const { call, isAsync } = live[name];
  const x = inputs[workload];
  const t0 = performance.now();
  if (isAsync) for (let i = 0; i < calls; i++) await call(x);
  else for (let i = 0; i < calls; i++) call(x);
  return (performance.now() - t0) / calls;
};

window.textRelease = async (name) => {
  await live[name].release();
  delete live[name];
};

/**
 * The GEMM kernel alone: minimodel._kernels.active().linear on an M x K by N x K product
 * (weights packed once, bias added, no activation), checked against numpy in float64.
 * Returns ms per product for each round.
 */
window.gemmPeak = async (M, K, N, calls, rounds) => {
  const py = mm.getPyodide();
  const fn = py.runPython(`
import numpy as np
from minimodel import _kernels

def _gemm_setup(M, K, N):
    k = _kernels.active()
    if k is None:
        raise RuntimeError("no kernels are active")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((M, K)).astype(np.float32)
    W = (rng.standard_normal((N, K)) / np.sqrt(K)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32)
    P = np.empty(k.packed_size(K, N), np.float32)
    k.pack(W, P, K, N)
    Y = np.empty((M, N), np.float32)
    call = k.linear.bind(X, P, b, Y, M, K, N, 0)
    call()
    ref = X.astype(np.float64) @ W.astype(np.float64).T + b
    err = float(np.abs(Y - ref).max())
    if err > 1e-3:
        raise AssertionError(f"GEMM kernel: max error {err}")
    return call
_gemm_setup
`);
  const call = fn(M, K, N);
  fn.destroy();
  const perCall = [];
  for (let i = 0; i < 2; i++) call(); // warm up
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) call();
    perCall.push((performance.now() - t0) / calls);
  }
  call.destroy();
  return { perCall, kernelBuild: mm.debugStats().kernelBuild };
};

/**
 * Where minimodel's embed() spends its time (run after the timings): the encoder's
 * kernel calls and the tokenizer, wrapped at run time with time.perf_counter (the
 * library is not changed; the wrappers are removed afterwards). For each of `calls`
 * embed(texts) calls: the whole call's ms measured here, and per part [seconds, FLOPs,
 * kernel calls, rows].
 */
window.profileMinimodel = async (workload, calls) => {
  const py = mm.getPyodide();
  const embedder = await mm.TextEmbedder.load();
  embedder.embed(inputs[workload]); // warm up (and pack the weights)
  py.runPython(`
import json, time
from minimodel import text as _text, tokenizer as _tok

_prof = {}
_orig = {"linear": _text._linear, "attention": _text._attention, "layernorm": _text._layernorm,
         "encode": _text.BertEncoder.encode, "tokenize": _tok.WordPieceTokenizer.encode}

def _add(key, dt, flops=0, rows=0):
    t, f, n, r = _prof.get(key, (0.0, 0, 0, 0))
    _prof[key] = (t + dt, f + flops, n + 1, r + rows)

def _linear(kernels, layer, x, out, act):
    t0 = time.perf_counter(); _orig["linear"](kernels, layer, x, out, act)
    n, k = layer.weights.shape
    rows = x.array.shape[0]  # the encoder's buffers are pinned arrays (minimodel._kernels.Pinned)
    _add(f"linear {k}->{n}" + (" +gelu" if act else ""), time.perf_counter() - t0, 2 * rows * k * n, rows)

def _attention(kernels, qkv, lengths, ctx, scratch, batch, width, heads, head_dim):
    t0 = time.perf_counter(); _orig["attention"](kernels, qkv, lengths, ctx, scratch, batch, width, heads, head_dim)
    _add("attention", time.perf_counter() - t0, int(sum(4 * int(n) * int(n) * heads * head_dim for n in lengths.array)), batch * width)

def _layernorm(*args):
    t0 = time.perf_counter(); _orig["layernorm"](*args); _add("layernorm", time.perf_counter() - t0)

def _encode(self, ids, lengths):
    t0 = time.perf_counter(); out = _orig["encode"](self, ids, lengths)
    _add("encoder (whole, per bucket)", time.perf_counter() - t0, 0, ids.size)
    return out

def _tokenize(self, text):
    t0 = time.perf_counter(); out = _orig["tokenize"](self, text); _add("tokenize", time.perf_counter() - t0)
    return out

_text._linear, _text._attention, _text._layernorm = _linear, _attention, _layernorm
_text.BertEncoder.encode, _tok.WordPieceTokenizer.encode = _encode, _tokenize
`);
  const runs = [];
  try {
    for (let i = 0; i < calls; i++) {
      py.runPython("_prof.clear()");
      const t0 = performance.now();
      embedder.embed(inputs[workload]);
      const totalMs = performance.now() - t0;
      runs.push({ totalMs, parts: JSON.parse(py.runPython("json.dumps(_prof)")) });
    }
  } finally {
    py.runPython(`
_text._linear, _text._attention, _text._layernorm = _orig["linear"], _orig["attention"], _orig["layernorm"]
_text.BertEncoder.encode, _tok.WordPieceTokenizer.encode = _orig["encode"], _orig["tokenize"]
`);
    embedder.dispose();
  }
  return runs;
};

await mm.init();
window.textReady = true;
