// The demo page: loading progress, a MiniModel driven by sliders with its outputs as a
// bar chart, a cosine-similarity form and a long computation that can be cancelled. All
// numbers come from Python in a worker (createWorker), so the page never freezes.

import { createWorker } from "./lib/minimodel.js";
import { buildBarChart, drawBarChart } from "./bar-chart.js";
import { startDigitsDemo } from "./digits-demo.js";
import { registerOffline } from "./offline.js";

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

async function startModelDemo(worker) {
  const model = await worker.createModel(INPUTS, OUTPUTS);
  const bars = buildBarChart($("chart"), Array.from({ length: OUTPUTS }, (_, o) => `y[${o}]`));
  let latest = 0; // only the newest answer is drawn when slider moves overtake each other
  const update = async () => {
    const x = new Float32Array(sliders.map((s) => Number(s.value)));
    const ticket = ++latest;
    try {
      const t0 = performance.now();
      const y = await model.predict(x);
      if (ticket !== latest) return;
      const ms = performance.now() - t0;
      drawBarChart(bars, y, Math.max(1, ...y));
      $("chart").setAttribute("aria-label", `Outputs: ${Array.from(y, (v) => v.toFixed(3)).join(", ")}`);
      $("chart").dataset.version = String(ticket);
      $("predict-time").textContent = `(predict took ${ms.toFixed(1)} ms, worker round trip)`;
      $("error").hidden = true; // an earlier failure (or a worker crash, now restarted) is over
    } catch (err) {
      showError($("error"), `Could not run the model. ${err.message}`);
    }
  };
  const sliders = buildSliders(update);
  let seed = 1;
  const randomize = async () => {
    const next = rng(seed++);
    const weights = Float32Array.from({ length: INPUTS * OUTPUTS }, () => next() * 2 - 1);
    const bias = Float32Array.from({ length: OUTPUTS }, () => next() * 0.4 - 0.2);
    await model.loadWeights(weights, bias);
    await update();
  };
  $("randomize").onclick = randomize;
  $("reset").onclick = async () => {
    await model.loadWeights(new Float32Array(INPUTS * OUTPUTS).fill(0.01));
    await update();
  };
  await randomize();
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

/**
 * Counts the answers an element has shown, so tests (and anyone watching) can wait for the next one.
 * The page's HTML starts them at data-version="0": a missing attribute, read before the script runs,
 * must not look like a change.
 */
function bumpVersion(element) {
  element.dataset.version = String(Number(element.dataset.version ?? 0) + 1);
}

function startCosineDemo(worker) {
  const result = $("cos-result");
  const error = $("cos-error");
  const compute = async () => {
    error.hidden = true;
    try {
      const value = await worker.cosineSimilarity(parseVector($("vec-a").value, "a"), parseVector($("vec-b").value, "b"));
      result.textContent = value.toFixed(6);
    } catch (err) {
      result.textContent = "–";
      showError(error, `Could not compute the similarity. ${err.message}`);
    }
    bumpVersion($("cos-form"));
  };
  $("cos-form").onsubmit = (event) => {
    event.preventDefault();
    compute();
  };
  return compute();
}

/** A weight file dropped or picked: show its architecture, or why it cannot be loaded. */
function startWeightsDrop(worker) {
  const zone = $("weights-zone");
  const info = $("weights-info");
  const load = async (file) => {
    info.classList.remove("error");
    info.textContent = `Loading ${file.name}…`;
    try {
      const net = await worker.loadFeedForward(file);
      const sizes = net.sizes;
      const count = sizes.slice(1).reduce((sum, n, i) => sum + n * (sizes[i] + 1), 0);
      info.textContent = `${file.name}: FeedForward ${sizes.join(" → ")}, ${sizes.length - 1} layers, ${count.toLocaleString("en")} weights and biases.`;
      await net.dispose();
    } catch (err) {
      info.classList.add("error");
      info.textContent = `${file.name} cannot be used: ${err.message}`;
    }
    bumpVersion(zone);
  };
  $("weights-file").onchange = (event) => event.target.files[0] && load(event.target.files[0]);
  zone.ondragover = (event) => {
    event.preventDefault();
    zone.classList.add("over");
  };
  zone.ondragleave = () => zone.classList.remove("over");
  zone.ondrop = (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer?.files?.[0];
    if (file) load(file);
  };
}

/** A batch of 1536 inputs through a 4096 -> 4096 layer: about a second, in the worker. */
function startLongDemo(worker) {
  const [run, cancel, status] = [$("long-run"), $("long-cancel"), $("long-status")];
  let controller = null;
  let inputs = null;
  run.onclick = async () => {
    inputs ??= new Float32Array(4096 * 1536).fill(1); // 24 MiB: made once, before the spinner shows
    controller = new AbortController();
    run.disabled = true;
    cancel.disabled = false;
    $("long-spinner").hidden = false;
    status.textContent = "Computing in the worker… the page stays responsive.";
    const t0 = performance.now();
    let net = null;
    try {
      net = await worker.createFeedForward([4096, 4096]); // 64 MiB of weights, freed below
      const y = await net.predictBatch(inputs, 1536, { signal: controller.signal });
      status.textContent = `Done: 1536 x 4096 outputs (first ${y[0].toFixed(3)}) in ${((performance.now() - t0) / 1000).toFixed(2)} s.`;
    } catch (err) {
      status.textContent =
        err.name === "AbortError" ? "Cancelled. The worker was replaced; the other models keep working." : `Failed: ${err.message}`;
    } finally {
      run.disabled = false;
      cancel.disabled = true;
      $("long-spinner").hidden = true;
      // Not awaited: after a cancel, the dispose waits for the replacement worker to start
      // and restore its models (1.5-2 s here, over 5 s on a loaded machine); the page need not.
      net?.dispose().catch((err) => console.warn("minimodel demo: could not free the 4096 x 4096 model", err));
    }
  };
  cancel.onclick = () => controller?.abort();
}

let worker = null;

async function start() {
  const t0 = performance.now();
  try {
    worker = await createWorker({
      onProgress: showProgress,
      onCrash: (err) => {
        showError($("error"), `Python stopped after a fatal error in the worker (${err.message}). It restarts with your models on the next computation.`);
      },
    });
    window.demo = { worker }; // for the console and the tests
    const info = worker.info;
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    $("loading").hidden = true;
    $("demo").hidden = false;
    $("ready-text").textContent =
      `Python ${info.pythonVersion} with numpy ${info.numpyVersion} (Pyodide ${info.pyodideVersion}) ready in ${seconds} s, in a worker` +
      { cache: ", started from this browser's cache.", site: ", started from the site's snapshot of Python.", boot: "." }[info.startedFrom];
    await startModelDemo(worker);
    await startCosineDemo(worker);
    window.demo.digits = await startDigitsDemo(worker);
    startWeightsDrop(worker);
    startLongDemo(worker);
    document.body.dataset.ready = "true";
    // Once the page is ready: store the site for offline use (sw.js).
    registerOffline({ statusElement: $("offline-status"), updateElement: $("update") });
  } catch (err) {
    $("loading").hidden = true;
    showError($("error"), `Python could not start in this page. ${err.message}`);
    console.warn("minimodel init failed", err);
  }
}

start();
