// The digits demo: draw a digit (or load a held-out image), see the trained network's
// class probabilities, and the training images whose hidden activations are nearest.
// Everything is computed by Python in the worker; this module only draws.

import { buildBarChart, drawBarChart } from "./bar-chart.js";

const PAD = 256; // drawing canvas, in pixels
const GRID = 32; // the data set's bitmaps: 32 x 32, then 4 x 4 blocks counted -> 8 x 8, 0..16

const $ = (id) => document.getElementById(id);

/** An 8 x 8 image of 0..16 values drawn onto a canvas, dark ink on white. */
function drawDigit(canvas, pixels) {
  const ctx = canvas.getContext("2d");
  const cell = canvas.width / 8;
  for (let i = 0; i < 64; i++) {
    const shade = Math.round(255 * (1 - pixels[i] / 16));
    ctx.fillStyle = `rgb(${shade}, ${shade}, ${shade})`;
    ctx.fillRect((i % 8) * cell, Math.floor(i / 8) * cell, cell, cell);
  }
}

/**
 * The drawing as the data set's features: the ink's bounding box scaled (aspect kept) to
 * fill a 32 x 32 bitmap, then the "on" pixels of each 4 x 4 block counted (0..16).
 * Returns null for an empty pad.
 */
export function padToFeatures(canvas) {
  const { data } = canvas.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, PAD, PAD);
  let [x0, y0, x1, y1] = [PAD, PAD, -1, -1];
  for (let y = 0; y < PAD; y++) {
    for (let x = 0; x < PAD; x++) {
      if (data[(y * PAD + x) * 4] < 128) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return null;
  const size = Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const small = document.createElement("canvas");
  small.width = small.height = GRID;
  const ctx = small.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, GRID, GRID);
  const scale = GRID / size;
  const w = (x1 - x0 + 1) * scale;
  const h = (y1 - y0 + 1) * scale;
  ctx.drawImage(canvas, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (GRID - w) / 2, (GRID - h) / 2, w, h);
  const bitmap = ctx.getImageData(0, 0, GRID, GRID).data;
  const features = new Float32Array(64);
  for (let y = 0; y < GRID; y++) {
    for (let x = 0; x < GRID; x++) {
      if (bitmap[(y * GRID + x) * 4] < 128) features[(y >> 2) * 8 + (x >> 2)] += 1;
    }
  }
  return features;
}

/** Wire up the section; resolves once the network and the similarity index are ready. */
export async function startDigitsDemo(worker) {
  const data = await (await fetch("digits-data.json")).json();
  const net = await worker.loadFeedForward("digits.safetensors");
  const hidden = await worker.loadModel("digits-hidden.safetensors"); // relu(fc1): 32-d activations
  const train = Float32Array.from(data.train.images.flat());
  const index = await worker.createIndex(32);
  await index.add(await hidden.predictBatch(train, data.train.labels.length));
  $("digits-accuracy").textContent = `${(data.accuracy * 100).toFixed(1)}%`;

  const pad = $("pad");
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  const bars = buildBarChart($("digit-chart"), ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  const clear = () => {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, PAD, PAD);
  };
  clear();

  let ticket = 0;
  const classify = async (features, label) => {
    const mine = ++ticket;
    drawDigit($("pad-small"), features);
    const [logits, activations] = await Promise.all([net.predict(features), hidden.predict(features)]);
    const [probabilities, similar] = await Promise.all([worker.softmax(logits), index.search(activations, 8)]);
    if (mine !== ticket) return;
    drawBarChart(bars, probabilities, 1);
    let best = 0;
    probabilities.forEach((p, digit) => {
      if (p > probabilities[best]) best = digit;
    });
    const answer = $("digit-answer");
    answer.textContent = `It looks like a ${best} (${(100 * probabilities[best]).toFixed(1)}%)` + (label === undefined ? "." : `; the data set says ${label}.`);
    answer.dataset.digit = String(best);
    const row = $("similar");
    row.replaceChildren(
      ...Array.from(similar.indices, (i) => {
        const thumb = document.createElement("canvas");
        thumb.width = thumb.height = 48;
        thumb.dataset.label = String(data.train.labels[i]);
        thumb.title = `training image ${i}: a ${data.train.labels[i]}`;
        drawDigit(thumb, data.train.images[i]);
        return thumb;
      }),
    );
    $("digits").dataset.version = String(mine);
  };

  /** Show held-out image `i` (also what the "random" button does). */
  const showHeldOut = (i) => {
    const pixels = data.test.images[i];
    clear();
    const cell = PAD / 8;
    pixels.forEach((v, k) => {
      const shade = Math.round(255 * (1 - v / 16));
      ctx.fillStyle = `rgb(${shade}, ${shade}, ${shade})`;
      ctx.fillRect((k % 8) * cell, Math.floor(k / 8) * cell, cell, cell);
    });
    return classify(Float32Array.from(pixels), data.test.labels[i]);
  };

  let drawing = false;
  let last = null;
  const point = (event) => {
    const rect = pad.getBoundingClientRect();
    return [((event.clientX - rect.left) * PAD) / rect.width, ((event.clientY - rect.top) * PAD) / rect.height];
  };
  pad.onpointerdown = (event) => {
    drawing = true;
    last = point(event);
    pad.setPointerCapture?.(event.pointerId);
  };
  pad.onpointermove = (event) => {
    if (!drawing) return;
    const next = point(event);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 18;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...next);
    ctx.stroke();
    last = next;
  };
  pad.onpointerup = pad.onpointercancel = () => {
    if (!drawing) return;
    drawing = false;
    const features = padToFeatures(pad);
    if (features) classify(features);
  };
  $("pad-clear").onclick = clear;
  $("pad-random").onclick = () => showHeldOut(Math.floor(Math.random() * data.test.labels.length));
  await showHeldOut(0);
  return { showHeldOut, classifyFeatures: classify, data };
}
