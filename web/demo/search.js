// Search your own documents, in the browser: passages embedded by all-MiniLM-L6-v2 in a
// worker (createWorker, loadTextEmbedder), searched by an EmbeddingIndex in the same
// worker, kept in IndexedDB as the passages plus the saved index (toBytes), so a later
// visit searches at once. A sample corpus (Python's docstrings, embedded at build time)
// lets a first-time visitor try it straight away. Uses the library like any user.

import { createWorker } from "./lib/minimodel.js";
import { registerOffline } from "./offline.js";
import { splitPassages } from "./passages.js";
import { DocumentStore, RECORD_VERSION, StorageError, checkRecord, newRevision, revisionOf, withDocumentsLock } from "./store.js";

const MODEL = "all-MiniLM-L6-v2";
const MODEL_FOLDER = `lib/models/${MODEL}/`;
const SAMPLE_PASSAGES = "samples/python-stdlib.json";
const SAMPLE_INDEX = "samples/python-stdlib.safetensors";
const RESULTS = 10;
const DEBOUNCE_MS = 150;
const CHUNK = 8; // passages per embed call: progress, cancellation and searching in between
const MAX_FILE_BYTES = 10 * 1024 * 1024;
const TEXT_EXTENSIONS = /\.(txt|text|md|markdown)$/i;
const STAGE_TEXT = {
  runtime: "Downloading the Python runtime",
  packages: "Loading numpy and minimodel",
  ready: "Python is ready",
};

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));

/**
 * @typedef {import("./store.js").Passage} Passage
 * @typedef {{ passages: Passage[], index: any, title: string }} Collection
 */

const app = {
  /** @type {any} */ worker: null,
  /** @type {any} */ embedder: null,
  /** @type {Record<string, Collection>} */
  collections: {
    sample: { passages: [], index: null, title: "the sample" },
    mine: { passages: [], index: null, title: "your documents" },
  },
  active: "sample",
  /** @type {DocumentStore | null} */ store: null,
  /** @type {StorageError | null} */ storeProblem: null,
  /** @type {AbortController | null} */ run: null,
  queue: Promise.resolve(),
  pastes: 0,
  /** Whether the last save of my documents failed (they are then kept for this session only). */ unsaved: false,
  /** The revision of the stored record my documents are (see store.js): another tab's change shows as a new one. */
  /** @type {string | null} */ revision: null,
  /** Additions and forgets queued or running (see enqueue). */ jobs: 0,
  /** Whether the error shown tells of a worker crash: the next search that works (in the restarted worker) hides it. */ crashShown: false,
  /** @type {Record<string, number>} ms from the start to: weights downloaded, python, model, sample, ready */
  timings: {},
};

// ----------------------------------------------------------------------------- words

function formatMB(/** @type {number} */ bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function plural(/** @type {number} */ n, /** @type {string} */ word) {
  return `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;
}

function messageOf(/** @type {unknown} */ err) {
  return err instanceof Error ? err.message : String(err);
}

function notice(/** @type {string} */ text) {
  const element = $("storage-notice");
  element.textContent = text;
  element.hidden = !text;
}

function storageWords(/** @type {StorageError} */ err) {
  return `${err.message}.`;
}

// ----------------------------------------------------------------------------- loading

function showPythonProgress({ stage, loaded, total }) {
  const label = STAGE_TEXT[/** @type {keyof STAGE_TEXT} */ (stage)] ?? stage;
  const bar = $("load-bar");
  if (stage === "ready") {
    bar.value = 1;
    $("load-text").textContent = `${label}.`;
  } else if (total > 0) {
    const part = Math.min(loaded / total, 1);
    bar.value = stage === "runtime" ? 0.8 * part : 0.8 + 0.2 * part; // the runtime is most of the bytes
    $("load-text").textContent = `${label}… ${formatMB(loaded)} of ${formatMB(total)}`;
  } else {
    bar.removeAttribute("value");
    $("load-text").textContent = `${label}…`;
  }
}

/**
 * The model's weights, downloaded here so the page can show the progress (the worker
 * gets the bytes: the file is downloaded once).
 * @returns {Promise<Uint8Array>}
 */
async function downloadWeights() {
  const url = new URL(`${MODEL_FOLDER}model.safetensors`, location.href);
  const bar = $("model-bar");
  const text = $("model-text");
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`Could not download the model (${url.pathname}): ${messageOf(err)}. Check the connection and reload.`);
  }
  if (!response.ok || !response.body) {
    throw new Error(`Could not download the model (${url.pathname}): HTTP ${response.status}.`);
  }
  const total = Number(response.headers.get("Content-Length")) || 0;
  const bytes = new Uint8Array(total || 0);
  /** @type {Uint8Array[]} */
  const parts = [];
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total && loaded + value.length <= total) bytes.set(value, loaded);
    else parts.push(value);
    loaded += value.length;
    if (total) {
      bar.value = (loaded / total) * 0.9;
      text.textContent = `Downloading the model… ${formatMB(loaded)} of ${formatMB(total)}`;
    } else {
      text.textContent = `Downloading the model… ${formatMB(loaded)}`;
    }
  }
  if (total && loaded === total && parts.length === 0) return bytes;
  const whole = new Uint8Array(loaded); // no or a wrong Content-Length: join what came
  let offset = 0;
  for (const part of [total ? bytes.subarray(0, Math.min(loaded, total)) : new Uint8Array(0), ...parts]) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

/** The sample's passages and saved index, checked. */
async function fetchSample() {
  const get = async (/** @type {string} */ path) => {
    const response = await fetch(path);
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response;
  };
  const [json, bytes] = await Promise.all([
    get(SAMPLE_PASSAGES).then((r) => r.json()),
    get(SAMPLE_INDEX).then((r) => r.arrayBuffer()),
  ]);
  if (!json || json.format !== "minimodel-search-passages" || !Array.isArray(json.passages) || json.passages.length === 0) {
    throw new Error(`${SAMPLE_PASSAGES} is not a passages file`);
  }
  return { title: String(json.title), passages: /** @type {Passage[]} */ (json.passages), bytes: new Uint8Array(bytes) };
}

async function start() {
  const t0 = performance.now();
  try {
    const sample = fetchSample();
    // A first visit downloads the weights while Python starts (the network is the wait); when
    // the service worker serves the files, reading them alongside only slows Python's start.
    let weights = null;
    if (navigator.serviceWorker?.controller) $("model-text").textContent = "Waiting for Python to start…";
    else weights = downloadWeights();
    const storage = DocumentStore.open().catch((/** @type {StorageError} */ err) => err);
    sample.catch(() => {});
    weights?.catch(() => {});
    const mark = (/** @type {string} */ name) => (app.timings[name] = Math.round(performance.now() - t0));
    weights?.then(() => mark("weights"), () => {});
    app.worker = await createWorker({
      onProgress: showPythonProgress,
      onCrash: (/** @type {Error} */ err) => {
        showError(`Python stopped after a fatal error in the worker (${err.message}). It restarts with your documents on the next search.`);
        app.crashShown = true;
      },
    });
    mark("python");
    const bytes = await (weights ?? downloadWeights());
    app.timings.weights ??= Math.round(performance.now() - t0);
    $("model-text").textContent = "Preparing the model in Python…";
    const base = new URL(MODEL_FOLDER, location.href).href;
    app.embedder = await app.worker.loadTextEmbedder({
      config: `${base}config.json`,
      tokenizer: `${base}tokenizer.json`,
      sentenceConfig: `${base}sentence_bert_config.json`,
      weights: bytes,
    });
    mark("model");
    $("model-bar").value = 1;
    $("model-text").textContent = `${MODEL} is ready (${app.embedder.dim} dimensions, up to ${app.embedder.maxTokens} tokens a passage).`;

    const { title, passages, bytes: sampleBytes } = await sample;
    const index = await app.worker.loadIndex(sampleBytes);
    if (index.size !== passages.length || index.dim !== app.embedder.dim) {
      throw new Error(`the sample is damaged: ${index.size} vectors for ${passages.length} passages`);
    }
    app.collections.sample = { passages, index, title: "the sample" };
    mark("sample");
    $("sample-label").textContent = `The sample: ${title} (${plural(passages.length, "passage")})`;

    const store = await storage;
    if (store instanceof DocumentStore) {
      app.store = store;
      await restoreDocuments();
      if (app.collections.mine.passages.length > 0) {
        app.active = "mine";
        $("use-mine").checked = true;
      }
    } else {
      app.storeProblem = store;
      notice(`${storageWords(store)} You can add and search documents, but they are forgotten when you close this page.`);
    }

    mark("ready");
    $("loading").hidden = true;
    $("app").hidden = false;
    const info = app.worker.info;
    $("ready-text").textContent =
      `Python ${info.pythonVersion} with numpy ${info.numpyVersion} (Pyodide ${info.pyodideVersion}) and the model ready in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s, in a worker${{ cache: " (Python started from this browser's cache)", site: " (Python started from the site's snapshot)", boot: "" }[info.startedFrom]}.`;
    wireSearch();
    wireDocuments();
    // Documents added or forgotten in another tab show here too (adopted in turn with this
    // tab's own changes; reading needs no lock). A forget there stops a run here first.
    app.store?.onChange((kind) => {
      if (kind === "forgetting") app.run?.abort();
      else enqueue(sync, { lock: false });
    });
    // @ts-ignore: for the console and the tests
    window.searchApp = app;
    document.body.dataset.ready = "true";
    if ($("query").value.trim()) scheduleSearch(0);
    // A switch to a new version (from another tab) waits for an embedding run and its save.
    registerOffline({ statusElement: $("offline-status"), updateElement: $("update"), busy: () => (app.jobs > 0 ? app.queue : null) });
  } catch (err) {
    $("loading").hidden = true;
    showError(`The search could not start. ${messageOf(err)}`);
    console.warn("search page: start failed", err);
  }
}

function showError(/** @type {string} */ message) {
  const element = $("error");
  element.textContent = message;
  element.hidden = false;
}

// ----------------------------------------------------------------------------- stored documents

async function restoreDocuments() {
  let raw;
  try {
    raw = await /** @type {DocumentStore} */ (app.store).read();
  } catch (err) {
    notice(`Your saved documents could not be read (${messageOf(err)}). You can add documents again.`);
    return;
  }
  try {
    await adopt(raw);
  } catch (err) {
    notice(`Your saved documents could not be loaded (${messageOf(err)}). They are still in this browser: reload the page to try again.`);
  }
}

/**
 * Make my documents the stored record `raw` (null: none): at the start, and when another tab
 * changed them (sync). A damaged record (its shape, or its index's bytes) is deleted, as a
 * reload would; any other failure (the worker's) throws and changes nothing, stored or shown.
 * @param {unknown} raw
 */
async function adopt(raw) {
  /** @type {Collection} */
  let next = { passages: [], index: null, title: "your documents" };
  if (raw !== null) {
    /** @type {unknown} */
    let damage = null;
    /** @type {import("./store.js").StoredRecord | null} */
    let record = null;
    try {
      record = checkRecord(raw, { model: MODEL, dim: app.embedder.dim });
    } catch (err) {
      damage = err;
    }
    if (record) {
      let index = null;
      try {
        index = await app.worker.loadIndex(record.index);
      } catch (err) {
        if (!(err instanceof Error && err.name === "IndexFileError")) throw err; // the worker's failure, not the record's
        damage = err;
      }
      if (index && index.size !== record.passages.length) {
        damage = new Error(`its index has ${index.size} vectors for ${record.passages.length} passages`);
        await index.dispose().catch(() => {});
      } else if (index) {
        next = { passages: record.passages, index, title: "your documents" };
      }
    }
    if (damage) {
      await app.store?.forget().catch(() => {});
      notice(
        `Your saved documents could not be read back (${messageOf(damage)}), so they were removed from this browser. ` +
          "Add them again to search them.",
      );
      raw = null;
    }
  }
  const old = app.collections.mine;
  app.collections.mine = next;
  app.revision = revisionOf(raw);
  app.unsaved = false;
  if (next.passages.length === 0 && app.active === "mine") {
    app.active = "sample";
    $("use-sample").checked = true;
  }
  showMine();
  if (old.index) {
    while (searching) await searching; // a search already sent may still be reading the old index
    await old.index.dispose().catch(() => {});
  }
}

/**
 * Adopt the stored documents if another tab saved or forgot them since this tab last read
 * or wrote them: before this tab changes them (under the documents' lock, so that its save
 * cannot drop them), and when another tab says they changed. Documents this tab could not
 * save (storage full) are kept instead: they exist nowhere else.
 * @returns {Promise<boolean>} whether they changed
 */
async function sync() {
  if (!app.store || app.unsaved) return false;
  let raw;
  try {
    raw = await app.store.read();
  } catch {
    return false; // storage fails now: the save after this change will say so
  }
  if (revisionOf(raw) === app.revision) return false;
  await adopt(raw);
  scheduleSearch(0);
  return true;
}

async function saveDocuments() {
  const mine = app.collections.mine;
  if (!app.store || !mine.index) return app.storeProblem ? "session" : "none";
  try {
    const index = await mine.index.toBytes();
    /** @type {import("./store.js").StoredRecord} */
    const record = {
      version: RECORD_VERSION, model: MODEL, dim: app.embedder.dim, passages: mine.passages, index, savedAt: Date.now(), revision: newRevision(),
    };
    await app.store.save(record);
    app.revision = /** @type {string} */ (record.revision);
    app.unsaved = false;
    return "saved";
  } catch (err) {
    const problem = err instanceof StorageError ? err : new StorageError(messageOf(err), "failed");
    notice(`Your documents could not be saved in this browser: ${storageWords(problem)} They stay searchable until you close this page.`);
    app.unsaved = true;
    showMine();
    return "session";
  }
}

// ----------------------------------------------------------------------------- search

let searchTicket = 0;
/** @type {Promise<void> | null} */
let searching = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let debounce;

function wireSearch() {
  $("query").addEventListener("input", () => scheduleSearch(DEBOUNCE_MS));
  for (const radio of document.querySelectorAll('input[name="collection"]')) {
    radio.addEventListener("change", () => {
      app.active = /** @type {HTMLInputElement} */ (radio).value;
      scheduleSearch(0);
    });
  }
}

function scheduleSearch(/** @type {number} */ delay) {
  clearTimeout(debounce);
  const ticket = ++searchTicket; // a newer query makes every older one's result stale
  debounce = setTimeout(() => search(ticket), delay);
}

/**
 * One query at a time in the worker; when it returns, only the newest query's result is
 * shown (older ones are dropped without drawing), and a query overtaken while it waited
 * does not run at all.
 * @param {number} ticket
 */
async function search(ticket) {
  while (searching) await searching;
  if (ticket !== searchTicket) return;
  const text = $("query").value.trim();
  const name = app.active;
  const collection = app.collections[name];
  const results = $("results");
  if (!text) {
    results.replaceChildren();
    $("search-status").textContent = "";
    results.dataset.query = "";
    return;
  }
  if (!collection.index || collection.passages.length === 0) {
    results.replaceChildren();
    $("search-status").textContent = "You have no documents yet: add some below, or search the sample.";
    return;
  }
  searching = (async () => {
    const t0 = performance.now();
    $("search-status").textContent = "Searching…";
    try {
      const vector = await app.embedder.embed([text]);
      if (ticket !== searchTicket) return;
      const { indices, scores } = await collection.index.search(vector, RESULTS);
      if (ticket !== searchTicket) return;
      showResults(text, name, collection, indices, scores, performance.now() - t0, ticket);
      if (app.crashShown) {
        $("error").hidden = true;
        app.crashShown = false;
      }
    } catch (err) {
      if (ticket === searchTicket) $("search-status").textContent = `The search failed: ${messageOf(err)}`;
    }
  })();
  try {
    await searching;
  } finally {
    searching = null;
  }
}

/**
 * @param {string} text @param {string} name @param {Collection} collection
 * @param {Int32Array} indices @param {Float32Array} scores @param {number} ms @param {number} ticket
 */
function showResults(text, name, collection, indices, scores, ms, ticket) {
  const items = Array.from(indices, (row, i) => {
    const passage = collection.passages[row];
    const item = document.createElement("li");
    item.className = "result";
    item.dataset.file = passage.file;
    item.dataset.position = String(passage.position);
    item.dataset.score = String(scores[i]);
    const head = document.createElement("div");
    head.className = "result-head";
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = scores[i].toFixed(3);
    score.title = "cosine similarity of the passage and your query";
    const source = document.createElement("span");
    source.className = "source";
    source.textContent = `${passage.file} · passage ${passage.position + 1}`;
    head.append(score, source);
    const body = document.createElement("p");
    body.className = "passage";
    body.textContent = passage.text;
    item.append(head, body);
    return item;
  });
  const results = $("results");
  results.replaceChildren(...items);
  results.dataset.query = text;
  results.dataset.collection = name;
  results.dataset.version = String(ticket);
  $("search-status").textContent =
    `The ${Math.min(RESULTS, collection.passages.length)} best of ${plural(collection.passages.length, "passage")} in ${collection.title} ` +
    `for “${text}” (${ms.toFixed(0)} ms).`;
}

// ----------------------------------------------------------------------------- adding documents

function wireDocuments() {
  const input = $("files");
  input.addEventListener("change", () => {
    const files = Array.from(/** @type {FileList} */ (input.files));
    input.value = "";
    if (files.length) enqueue(() => addFiles(files));
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", () => zone.classList.add("over"));
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  // Files dropped anywhere on the page are added: the browser's own default would open
  // the file in this tab, leaving the app (and a run in progress) behind.
  window.addEventListener("dragover", (/** @type {DragEvent} */ event) => event.preventDefault());
  window.addEventListener("drop", (/** @type {DragEvent} */ event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const files = Array.from(event.dataTransfer?.files ?? []);
    if (files.length) enqueue(() => addFiles(files));
  });
  $("add-paste").addEventListener("click", () => {
    const text = $("paste").value;
    if (!text.trim()) {
      say("The pasted text is empty: paste some text into the box first.");
      return;
    }
    $("paste").value = "";
    enqueue(() => {
      // The first name not taken by a stored document (they come back on the next visit),
      // chosen in turn: after the documents another tab added are adopted.
      const taken = new Set(app.collections.mine.passages.map((p) => p.file));
      const name = (/** @type {number} */ n) => (n === 1 ? "Pasted text" : `Pasted text ${n}`);
      let n = app.pastes + 1;
      while (taken.has(name(n))) n++;
      app.pastes = n;
      return addDocuments([{ name: name(n), text }], []);
    });
  });
  $("embed-cancel").addEventListener("click", () => app.run?.abort());
  $("forget").addEventListener("click", () => {
    // A run in progress stops now, here and in the site's other tabs (its passages so far
    // are saved, then forgotten with the rest).
    app.run?.abort();
    app.store?.announce("forgetting");
    $("forget-status").textContent = "Forgetting your documents…";
    enqueue(forget);
  });
}

/**
 * Changes to my documents run one after another (a drop during an embedding run waits its
 * turn), and one tab at a time: each first adopts what another tab saved meanwhile. Without
 * storage (or where the browser refuses locks) there is nothing to share and no lock.
 * @param {() => Promise<unknown>} job @param {{ lock?: boolean }} [options]
 */
function enqueue(job, { lock = true } = {}) {
  app.jobs++;
  let waited = false;
  const inTurn = async () => {
    if (waited) say("");
    if (await sync()) say("Your documents were changed in another tab of this page: the list shows them now.");
    await job();
  };
  const waiting = () => {
    waited = true;
    say("Waiting for another tab of this page to finish changing your documents…");
  };
  app.queue = app.queue
    .then(() => (lock && app.store ? withDocumentsLock(inTurn, waiting) : job()))
    .catch((err) => say(`Something went wrong: ${messageOf(err)}`))
    .finally(() => app.jobs--);
}

function say(/** @type {string} */ text) {
  $("add-status").textContent = text;
}

/**
 * A text file's text: UTF-16 when it starts with a byte-order mark (as Windows Notepad's
 * "Unicode" saves), else UTF-8, else Windows-1252 (Latin-1 text from older editors), which
 * is then named.
 * @param {Uint8Array} bytes @returns {{ text: string, note?: string }}
 */
function decodeText(bytes) {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: new TextDecoder("utf-16le").decode(bytes) };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: new TextDecoder("utf-16be").decode(bytes) };
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { text: new TextDecoder("windows-1252").decode(bytes), note: "read as Windows-1252 (Latin-1) text, since it is not UTF-8" };
  }
}

/** @param {File[]} files */
async function addFiles(files) {
  /** @type {string[]} */
  const problems = [];
  /** @type {{ name: string, text: string }[]} */
  const documents = [];
  for (const file of files) {
    if (!TEXT_EXTENSIONS.test(file.name) && !file.type.startsWith("text/")) {
      problems.push(`${file.name} was skipped: only text files (.txt, .md) can be added.`);
      continue;
    }
    if (file.size > MAX_FILE_BYTES) {
      problems.push(`${file.name} was skipped: it is larger than ${formatMB(MAX_FILE_BYTES)}.`);
      continue;
    }
    // A name already taken is checked once split (addDocuments): the rest of a document
    // whose embedding was cancelled can be added by adding it again.
    const { text, note } = decodeText(new Uint8Array(await file.arrayBuffer()));
    if (text.includes("\u0000")) {
      problems.push(`${file.name} was skipped: it is not a text file (it contains binary data, ` +
        "or it is UTF-16 text without a byte-order mark).");
      continue;
    }
    if (note) problems.push(`${file.name}: ${note}.`);
    if (!text.trim()) {
      problems.push(`${file.name} was skipped: it is empty.`);
      continue;
    }
    if (documents.some((d) => d.name === file.name)) {
      problems.push(`${file.name} was skipped: two files of that name were given.`);
      continue;
    }
    documents.push({ name: file.name, text });
  }
  await addDocuments(documents, problems);
}

/**
 * Split, embed (in chunks, with progress and Cancel), add to the index, save.
 * @param {{ name: string, text: string }[]} documents @param {string[]} problems
 */
async function addDocuments(documents, problems) {
  const list = $("add-problems");
  list.replaceChildren(...problems.map((p) => Object.assign(document.createElement("li"), { textContent: p })));
  if (documents.length === 0) {
    say(problems.length ? "Nothing was added." : "");
    return;
  }
  say(`Splitting ${plural(documents.length, "document")} into passages…`);
  const count = async (/** @type {string} */ text) => (await app.embedder.tokenize(text)).length;
  /** @type {Passage[]} */
  const passages = [];
  for (const { name, text } of documents) {
    const parts = await splitPassages(text, count, app.embedder.maxTokens);
    if (parts.length === 0) problems.push(`${name} was skipped: it has no text to search.`);
    // A document of this name already kept: its passages must be the first of these (the
    // same text, cut short by a cancel), and only the rest are added.
    const kept = app.collections.mine.passages.filter((p) => p.file === name);
    if (kept.length > 0) {
      const same = kept.length <= parts.length && kept.every((p) => p.position < kept.length && parts[p.position] === p.text);
      if (!same || kept.length === parts.length) {
        problems.push(`${name} was skipped: ${same ? "it is already in your documents" : "a different document of that name is already in your documents"}.`);
        continue;
      }
      problems.push(`${name}: adding the ${plural(parts.length - kept.length, "passage")} not embedded before.`);
    }
    parts.forEach((part, position) => {
      if (position >= kept.length) passages.push({ file: name, position, text: part });
    });
  }
  list.replaceChildren(...problems.map((p) => Object.assign(document.createElement("li"), { textContent: p })));
  if (passages.length === 0) {
    say("Nothing was added.");
    return;
  }

  const mine = app.collections.mine;
  mine.index ??= await app.worker.createIndex(app.embedder.dim);
  const controller = new AbortController();
  app.run = controller;
  const bar = $("embed-bar");
  const progress = $("embed-text");
  $("embedding").hidden = false;
  $("embed-cancel").disabled = false;
  bar.value = 0;
  const t0 = performance.now();
  let done = 0;
  const show = (/** @type {number} */ now) => {
    const seconds = (performance.now() - t0) / 1000;
    const rate = now > 0 && seconds > 0 ? now / seconds : 0;
    bar.value = now / passages.length;
    progress.textContent =
      `Embedding ${now} of ${plural(passages.length, "passage")}` +
      (rate > 0 ? ` · ${rate.toFixed(1)} passages/s` + (now < passages.length ? ` · about ${Math.ceil((passages.length - now) / rate)} s left` : "") : "…");
    progress.dataset.rate = rate.toFixed(3);
  };
  show(0);
  say(`Embedding the passages of ${plural(documents.length, "document")} in the worker; you can search meanwhile.`);
  /** @type {"done" | "cancelled" | "failed"} */
  let outcome = "done";
  let failure = "";
  try {
    for (let i = 0; i < passages.length; i += CHUNK) {
      const chunk = passages.slice(i, i + CHUNK);
      const vectors = await app.embedder.embed(
        chunk.map((p) => p.text),
        { signal: controller.signal, onProgress: (/** @type {{ done: number }} */ p) => show(done + p.done) },
      );
      await mine.index.add(vectors);
      mine.passages.push(...chunk);
      done += chunk.length;
      show(done);
      showMine();
    }
  } catch (err) {
    if (err instanceof Error && err.name === "AbortError") outcome = "cancelled";
    else {
      outcome = "failed";
      failure = messageOf(err);
    }
  } finally {
    app.run = null;
    $("embed-cancel").disabled = true;
  }
  const seconds = (performance.now() - t0) / 1000;
  const saved = done > 0 ? await saveDocuments() : "none";
  const where = saved === "saved" ? "saved in this browser" : "kept for this session";
  $("embedding").hidden = true; // whatever the outcome: the status line says what happened
  if (outcome === "done") {
    say(`Added ${plural(passages.length, "passage")} from ${plural(documents.length, "document")} in ${seconds.toFixed(1)} s ` +
      `(${(passages.length / seconds).toFixed(1)} passages/s), ${where}.`);
  } else {
    const kept = done > 0
      ? `Kept the ${plural(done, "passage")} embedded before that (searchable now, ${where}); the other ${passages.length - done} were not added.`
      : "Nothing was added.";
    say(outcome === "cancelled" ? `Cancelled. ${kept}` : `Embedding failed: ${failure}. ${kept}`);
  }
  $("add-status").dataset.outcome = outcome;
  if (done > 0) {
    app.active = "mine";
    $("use-mine").checked = true;
    scheduleSearch(0);
  }
}

function showMine() {
  const mine = app.collections.mine;
  /** @type {Map<string, number>} */
  const files = new Map();
  for (const p of mine.passages) files.set(p.file, (files.get(p.file) ?? 0) + 1);
  const has = mine.passages.length > 0;
  $("use-mine").disabled = !has;
  $("forget").disabled = !has;
  $("mine-label").textContent = has ? `My documents (${plural(mine.passages.length, "passage")})` : "My documents (none yet)";
  $("mine-summary").textContent = has
    ? `${plural(files.size, "document")}, ${plural(mine.passages.length, "passage")}, ` +
      (app.store && !app.unsaved ? "kept in this browser only." : "kept until you close this page.")
    : "None yet. They are kept in this browser only.";
  $("mine-files").replaceChildren(
    ...Array.from(files, ([name, n]) => Object.assign(document.createElement("li"), { textContent: `${name}: ${plural(n, "passage")}` })),
  );
}

async function forget() {
  let message = "Your documents were forgotten.";
  let revision = null; // the stored record's, while the browser still holds it
  if (app.store) {
    try {
      await app.store.forget();
      message = "Your documents were deleted from this browser.";
    } catch (err) {
      revision = app.revision;
      message = `Your documents were removed from this page, but the browser's copy could not be deleted (${messageOf(err)}).`;
    }
  }
  await adopt(null); // frees the index (after a search in flight), shows the sample
  app.revision = revision;
  $("forget-status").textContent = message;
  scheduleSearch(0);
}

start();
