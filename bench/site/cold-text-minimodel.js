// E3: navigation to the first embedding with minimodel (init, the shipped model, embed).
import { init, TextEmbedder } from "../lib/minimodel.js";

const text = new URLSearchParams(location.search).get("text");
const marks = { start: performance.now() }; // this module running: the page and the module fetched
await init();
marks.init = performance.now();
const embedder = await TextEmbedder.load();
marks.load = performance.now();
const vector = embedder.embed(text);
marks.embed = performance.now();
window.coldResult = { ms: marks.embed, marks, vector: Array.from(vector) };
