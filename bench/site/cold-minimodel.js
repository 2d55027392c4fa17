// W5: navigation to the first MiniModel(128, 10).predict result.
import { init, MiniModel } from "../lib/minimodel.js";

await init();
const model = new MiniModel(128, 10);
const y = model.predict(new Float32Array(128).fill(0.5));
window.coldResult = { ms: performance.now(), value: y[0] };
