// The demo page: loading progress, a MiniModel driven by sliders with its outputs as a
// bar chart, and a cosine-similarity form. All numbers come from minimodel.js.

import { init, MiniModel, cosineSimilarity, onFatalError } from "./minimodel.js";

const INPUTS = 8;
const OUTPUTS = 4;
const STAGE_TEXT = {
  runtime: "Downloading the Python runtime",
  packages: "Loading numpy and minimodel",
  ready: "Ready",
};

const $ = (id) => document.getElementById(id);

function showError(element, message) {
  element.textContent = message;
  element.hidden = false;
}

function formatMB(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function showProgress({ stage, loaded, total }) {
  const label = STAGE_TEXT[stage] ?? stage;
  const bar = $("load-bar");
  if (total > 0) {
    bar.value = Math.min(loaded / total, 1);
    $("load-text").textContent = `${label}… ${formatMB(loaded)} of ${formatMB(total)}`;
  } else {
    bar.removeAttribute("value"); // indeterminate
    $("load-text").textContent = `${label}…`;
  }
}

/** Seeded pseudo-random numbers in [0, 1) (mulberry32), so "random" weights are reproducible. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function buildSliders(onChange) {
  const fieldset = $("sliders");
  fieldset.replaceChildren(fieldset.querySelector("legend"));
  const inputs = [];
  for (let i = 0; i < INPUTS; i++) {
    const row = document.createElement("div");
    row.className = "slider";
    const label = document.createElement("label");
    label.htmlFor = `x${i}`;
    label.textContent = `x[${i}]`;
    const input = document.createElement("input");
    Object.assign(input, { type: "range", id: `x${i}`, min: "-1", max: "1", step: "0.05" });
    input.value = String(Math.round(Math.sin(i + 1) * 20) / 20);
    const out = document.createElement("output");
    out.htmlFor = input.id;
    out.textContent = Number(input.value).toFixed(2);
    input.addEventListener("input", () => {
      out.textContent = Number(input.value).toFixed(2);
      onChange();
    });
    row.append(label, input, out);
    fieldset.append(row);
    inputs.push(input);
  }
  return inputs;
}

function buildChart() {
  const chart = $("chart");
  chart.replaceChildren();
  const bars = [];
  for (let o = 0; o < OUTPUTS; o++) {
    const row = document.createElement("div");
    row.className = "bar-row";
    const name = document.createElement("span");
    name.textContent = `y[${o}]`;
    const track = document.createElement("div");
    track.className = "bar-track";
    const bar = document.createElement("div");
    bar.className = "bar";
    track.append(bar);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.dataset.output = String(o);
    row.append(name, track, value);
    chart.append(row);
    bars.push({ bar, value, track });
  }
  return bars;
}

function drawBars(bars, outputs) {
  const scale = Math.max(1, ...outputs);
  outputs.forEach((y, o) => {
    bars[o].bar.style.width = `${(100 * y) / scale}%`;
    bars[o].value.textContent = y.toFixed(3);
    bars[o].track.title = `y[${o}] = ${y}`;
  });
}

function startModelDemo() {
  const model = new MiniModel(INPUTS, OUTPUTS);
  const bars = buildChart();
  const update = () => {
    const x = new Float32Array(sliders.map((s) => Number(s.value)));
    try {
      const t0 = performance.now();
      const y = model.predict(x);
      const ms = performance.now() - t0;
      drawBars(bars, y);
      $("chart").setAttribute("aria-label", `Outputs: ${Array.from(y, (v) => v.toFixed(3)).join(", ")}`);
      $("predict-time").textContent = `(predict took ${(ms * 1000).toFixed(0)} µs)`;
    } catch (err) {
      showError($("error"), `Could not run the model. ${err.message}`);
    }
  };
  const sliders = buildSliders(update);
  let seed = 1;
  const randomize = () => {
    const next = rng(seed++);
    const weights = Float32Array.from({ length: INPUTS * OUTPUTS }, () => next() * 2 - 1);
    const bias = Float32Array.from({ length: OUTPUTS }, () => next() * 0.4 - 0.2);
    model.loadWeights(weights, bias);
    update();
  };
  $("randomize").onclick = randomize;
  $("reset").onclick = () => {
    model.loadWeights(new Float32Array(INPUTS * OUTPUTS).fill(0.01));
    update();
  };
  randomize();
  return model;
}

/** "1, 2 3" -> [1, 2, 3]; throws a plain-words Error naming a token that is not a number. */
function parseVector(text, label) {
  const tokens = text.split(/[\s,;]+/).filter((token) => token !== "");
  return tokens.map((token) => {
    const value = Number(token);
    if (Number.isNaN(value)) throw new Error(`In vector ${label}, “${token}” is not a number.`);
    return value;
  });
}

function startCosineDemo() {
  const form = $("cos-form");
  const result = $("cos-result");
  const error = $("cos-error");
  const compute = () => {
    error.hidden = true;
    try {
      const value = cosineSimilarity(parseVector($("vec-a").value, "a"), parseVector($("vec-b").value, "b"));
      result.textContent = value.toFixed(6);
    } catch (err) {
      result.textContent = "–";
      showError(error, `Could not compute the similarity. ${err.message}`);
    }
  };
  form.onsubmit = (event) => {
    event.preventDefault();
    compute();
  };
  compute();
}

let demoModel = null;

async function start() {
  const t0 = performance.now();
  $("error").hidden = true;
  $("loading").hidden = false;
  $("demo").hidden = true;
  try {
    const info = await init({ onProgress: showProgress });
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    $("loading").hidden = true;
    $("demo").hidden = false;
    $("ready-text").textContent =
      `Python ${info.pythonVersion} with numpy ${info.numpyVersion} (Pyodide ${info.pyodideVersion}) ready in ${seconds} s.`;
    demoModel?.dispose();
    demoModel = startModelDemo();
    startCosineDemo();
    document.body.dataset.ready = "true";
  } catch (err) {
    $("loading").hidden = true;
    showError($("error"), `Python could not start in this page. ${err.message}`);
    console.warn("minimodel init failed", err);
  }
}

/** After a fatal error: say so, and offer a fresh runtime. */
onFatalError((err) => {
  document.body.dataset.ready = "false";
  $("demo").hidden = true;
  const error = $("error");
  error.textContent = `Python stopped working in this page after a fatal error (${err.cause?.message ?? err.message}). `;
  const restart = document.createElement("button");
  restart.type = "button";
  restart.id = "restart";
  restart.textContent = "Restart Python";
  restart.onclick = start;
  error.append(restart);
  error.hidden = false;
  restart.focus();
});

start();
