// W5 for onnxruntime-web: navigation to the first result of the 128 -> 10 model.
import * as ort from "../ort/ort.wasm.min.mjs";

ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL("../ort/", import.meta.url).href;
const session = await ort.InferenceSession.create(new URL("../models/w1.onnx", import.meta.url).href);
const x = new Float32Array(128).fill(0.5);
const out = await session.run({ x: new ort.Tensor("float32", x, [1, 128]) });
window.coldResult = { ms: performance.now(), value: out.y.data[0] };
