// E3: navigation to the first embedding with transformers.js (pipeline, first call), its
// model files and onnxruntime-web's .wasm served from this origin; ?dtype=fp32, q8 or int8.
import { env, pipeline } from "../transformers/transformers.min.js";

const params = new URLSearchParams(location.search);
const marks = { start: performance.now() }; // this module running: the page and the library fetched
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = new URL("../models/transformers-js/", import.meta.url).pathname;
env.backends.onnx.wasm.numThreads = 1;
env.backends.onnx.wasm.wasmPaths = {
  mjs: new URL("../transformers/ort-wasm-simd-threaded.asyncify.mjs", import.meta.url).href,
  wasm: new URL("../transformers/ort-wasm-simd-threaded.asyncify.wasm", import.meta.url).href,
};
const extractor = await pipeline("feature-extraction", "all-MiniLM-L6-v2", { dtype: params.get("dtype"), device: "wasm" });
marks.load = performance.now();
const output = await extractor(params.get("text"), { pooling: "mean", normalize: true });
marks.embed = performance.now();
window.coldResult = { ms: marks.embed, marks, vector: Array.from(output.data) };
