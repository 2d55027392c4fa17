// Loads the Pyodide runtime, numpy and minimodel from the site's own origin, reporting
// progress in bytes. Every URL is resolved against the directory of this module, so the
// site works from any sub-path. Nothing here knows about MiniModel: see minimodel.js.

/**
 * @typedef {Object} Progress
 * @property {"runtime"|"packages"|"ready"} stage  what is loading now
 * @property {number} loaded  bytes received so far in this stage
 * @property {number} total   bytes expected in this stage (0 when unknown)
 * @property {string} [file]  the file whose bytes just arrived
 */

import {
  capturePackages,
  installPackages,
  openRuntimeCache,
  refreshRestoredInterpreter,
  sha256Hex,
  takeSnapshot,
} from "./runtime-cache.js";
import { internalsUsable, snapshotOption } from "./pyodide-adapter.js";

const RUNTIME_FILES = ["pyodide-lock.json", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip"];
const PACKAGES = ["numpy", "minimodel"];

/**
 * Load Pyodide and the packages. With `useCache`, a repeat visit restores the booted
 * interpreter and the unpacked packages from this browser's cache (runtime-cache.js), and a
 * first visit stores them once init is done.
 * @param {URL} baseURL  directory that holds the built site (pyodide.mjs, wheels, manifest.json)
 * @param {(p: Progress) => void} report
 * @param {{ useCache?: boolean }} [options]
 * @returns {Promise<{ pyodide: any, fromCache: boolean }>}  fromCache: both parts were restored
 */
export async function loadRuntime(baseURL, report, { useCache = true } = {}) {
  const loaderURL = new URL("pyodide.mjs", baseURL);
  const build = Promise.all([fetchManifest(baseURL), fetchJSON(new URL("pyodide-lock.json", baseURL))]);
  // The cache rests on Pyodide internals: only with the version they were written for.
  const opening = useCache
    ? openRuntimeCache(baseURL, build, PACKAGES).then(async (cache) => (cache && internalsUsable((await build)[0].pyodide) ? cache : null))
    : Promise.resolve(null);
  const [[manifest, lock], { loadPyodide }] = await Promise.all([
    build,
    import(loaderURL.href).catch((err) => {
      throw new Error(`Could not load the Pyodide loader from ${loaderURL}: ${err.message}`);
    }),
  ]);
  const sizeOf = (/** @type {string} */ name) => manifest.files[name]?.size ?? 0;
  const missing = PACKAGES.filter((name) => !lock.packages?.[name]);
  if (missing.length) {
    throw new Error(`pyodide-lock.json does not list ${missing.join(", ")}; rebuild the site with build.py`);
  }
  const packageFiles = PACKAGES.map((name) => lock.packages[name].file_name);

  /** @typedef {"runtime" | "packages"} Stage */
  /** @type {Record<Stage, number>} */
  const totals = {
    runtime: RUNTIME_FILES.reduce((/** @type {number} */ sum, name) => sum + sizeOf(name), 0),
    packages: packageFiles.reduce((/** @type {number} */ sum, /** @type {string} */ name) => sum + sizeOf(name), 0),
  };
  /** @type {Record<Stage, number>} */
  const loaded = { runtime: 0, packages: 0 };
  /** @type {Stage} */
  let current = "runtime";
  const emit = (/** @type {string | undefined} */ file = undefined) => {
    report({ stage: current, loaded: Math.min(loaded[current], totals[current]), total: totals[current], file });
  };
  emit();

  let sawWasm = false;
  const counter = interceptFetches(baseURL, (file, bytes) => {
    /** @type {Stage} */
    const stage = RUNTIME_FILES.includes(file) ? "runtime" : "packages";
    loaded[stage] += bytes;
    if (file === "pyodide.asm.wasm" && !sawWasm) {
      // pyodide.asm.js arrives by <script>, not fetch: count it once the wasm starts.
      sawWasm = true;
      loaded.runtime += sizeOf("pyodide.asm.js");
    }
    if (stage === current) emit(file);
  });
  try {
    const cache = await opening;
    const [snapshot, packagesEntry] = cache ? await Promise.all([cache.snapshot(), cache.packages()]) : [null, null];
    const cachedPackages = packagesEntry
      ? packagesEntry.contents.catch((err) => {
          console.warn(`minimodel: ${err.message}; loading the packages afresh`);
          return null;
        })
      : Promise.resolve(null);
    // Without cached packages, download the wheels while the runtime boots (it is busy
    // compiling and starting Python, the network is idle); loadPackage takes the responses.
    if (!packagesEntry) {
      for (const name of PACKAGES) {
        const { file_name: file, sha256 } = lock.packages[name];
        counter.prefetch(new URL(file, baseURL).href, { integrity: integrityOf(sha256) });
      }
    }
    const options = {
      indexURL: baseURL.href,
      lockFileURL: new URL("pyodide-lock.json", baseURL).href,
      stdout: (/** @type {string} */ line) => console.log(line),
      stderr: (/** @type {string} */ line) => console.warn(line),
    };
    const { pyodide, restored, snapshotToSave } = await startInterpreter(loadPyodide, options, cache, snapshot);
    /** @type {Parameters<import("./runtime-cache.js").RuntimeCache["save"]>[0]} */
    const toSave = { snapshot: snapshotToSave, packages: null };
    loaded.runtime = totals.runtime; // every runtime byte has been used by now
    emit();
    current = "packages";
    emit();
    const stored = await cachedPackages;
    if (stored) {
      try {
        await installPackages(pyodide, stored);
        importPackages(pyodide);
      } catch (err) {
        // Half-installed packages cannot be trusted in this interpreter: forget the cache
        // and start again without it (the next visit fills it anew).
        console.warn(`minimodel: the cached packages did not install (${messageOf(err)}); loading them afresh`);
        await cache?.drop("snapshot", "packages");
        counter.stop();
        return loadRuntime(baseURL, report, { useCache: false });
      }
    } else {
      await loadWithPyodide(pyodide, baseURL, lock);
      if (cache) toSave.packages = capturePackages(pyodide, lock, PACKAGES);
      importPackages(pyodide);
    }
    report({ stage: "ready", loaded: totals.packages, total: totals.packages });
    if (cache && (toSave.snapshot || toSave.packages)) setTimeout(() => cache.save(toSave), 0);
    return { pyodide, fromCache: restored && stored !== null };
  } finally {
    counter.stop();
  }
}

/**
 * Start the interpreter: from the cached snapshot when there is one and it restores, else
 * by a plain boot, snapshotted at once for the next visit when there is a cache.
 * @param {(options: any) => Promise<any>} loadPyodide
 * @param {Record<string, any>} options
 * @param {import("./runtime-cache.js").RuntimeCache | null} cache
 * @param {{ bytes: Promise<ArrayBuffer> } | null} snapshot
 * @returns {Promise<{ pyodide: any, restored: boolean, snapshotToSave: Uint8Array<ArrayBuffer> | null }>}
 */
async function startInterpreter(loadPyodide, options, cache, snapshot) {
  if (snapshot) {
    try {
      const pyodide = await loadPyodide({ ...options, ...snapshotOption(snapshot.bytes) });
      refreshRestoredInterpreter(pyodide);
      return { pyodide, restored: true, snapshotToSave: null };
    } catch (err) {
      console.warn(`minimodel: the cached interpreter did not restore (${messageOf(err)}); starting afresh`);
      await cache?.drop("snapshot");
    }
  }
  const pyodide = await loadPyodide(options);
  let snapshotToSave = null;
  if (cache) {
    try {
      snapshotToSave = takeSnapshot(pyodide);
    } catch (err) {
      console.info(`minimodel: no interpreter snapshot for the next visit (${messageOf(err)})`);
    }
  }
  return { pyodide, restored: false, snapshotToSave };
}

/**
 * Import every package once: a cached install that cannot be imported is found here, and
 * both ways of starting leave the same session-long proxies behind (runPython's own).
 * @param {any} pyodide
 */
function importPackages(pyodide) {
  pyodide.runPython(`import ${PACKAGES.join(", ")}`);
}

/**
 * Pyodide's own installer: fetch each wheel (checked against the lock), unzip it in Python.
 * @param {any} pyodide @param {URL} baseURL @param {any} lock  pyodide-lock.json
 */
async function loadWithPyodide(pyodide, baseURL, lock) {
  /** @type {string[]} */
  const problems = [];
  await pyodide.loadPackage(PACKAGES, {
    messageCallback: () => {},
    errorCallback: (/** @type {string} */ message) => problems.push(message),
    checkIntegrity: true,
  });
  if (problems.length) {
    const mismatches = await findChangedWheels(baseURL, lock);
    if (mismatches.length) throw new Error(mismatches.join(" "));
    throw new Error(`Could not load the Python packages: ${problems.join("; ")}`);
  }
}

/**
 * Which wheels differ from the sha256 in pyodide-lock.json: the browser refused them
 * (subresource integrity) and Pyodide reports only "Failed to fetch".
 * @param {URL} baseURL @param {any} lock
 * @returns {Promise<string[]>}
 */
async function findChangedWheels(baseURL, lock) {
  if (!globalThis.crypto?.subtle) return [];
  const found = [];
  for (const name of PACKAGES) {
    const { file_name: file, sha256: expected } = lock.packages[name];
    try {
      const bytes = await (await fetch(new URL(file, baseURL), { cache: "no-store" })).arrayBuffer();
      const actual = await sha256Hex(bytes);
      if (actual !== expected) {
        found.push(
          `${file} is not the file this site was built with: its sha256 is ${actual}, ` +
            `pyodide-lock.json expects ${expected}. It was changed or damaged; rebuild or re-deploy the site.`,
        );
      }
    } catch {
      // unreachable now: the original error is reported instead
    }
  }
  return found;
}

/** @param {URL} url @returns {Promise<any>} */
async function fetchJSON(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`Could not fetch ${url}: ${messageOf(err)}`);
  }
  if (!response.ok) {
    throw new Error(`Could not fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  }
  return response.json();
}

/** @param {URL} baseURL @returns {Promise<{ pyodide: string, files: Record<string, { sha256: string, size: number }> }>} */
async function fetchManifest(baseURL) {
  const url = new URL("manifest.json", baseURL);
  const manifest = await fetchJSON(url);
  if (!manifest || typeof manifest.files !== "object") {
    throw new Error(`${url} is not a build manifest; rebuild the site with build.py`);
  }
  return manifest;
}

/**
 * Count the body bytes of same-site fetches while Pyodide loads, by wrapping
 * `globalThis.fetch` until `stop()`. Pyodide fetches the wasm, the stdlib and the wheels
 * with `fetch`, which gives no progress callback of its own. The caller gets the genuine
 * response, so streaming compilation and Chromium's cache of compiled wasm still apply;
 * the bytes are counted on a clone. `prefetch(url, init)` starts a fetch now and hands its
 * response to the first later fetch of that URL (Pyodide's), instead of fetching again.
 * @param {URL} baseURL
 * @param {(file: string, bytes: number) => void} onBytes
 */
function interceptFetches(baseURL, onBytes) {
  const realFetch = globalThis.fetch;
  const prefix = baseURL.href;
  /** @type {Map<string, { response: Promise<Response>, integrity: string }>} */
  const prefetched = new Map();
  const urlOf = (/** @type {RequestInfo | URL} */ input) =>
    input instanceof Request ? input.url : new URL(String(input), location.href).href;
  /** @type {(input: RequestInfo | URL, init?: RequestInit) => Promise<Response>} */
  const fetchCounted = async (input, init) => {
    const response = await realFetch.call(globalThis, input, init);
    const url = urlOf(input);
    if (!response.body || !response.ok || !url.startsWith(prefix)) return response;
    const file = url.slice(prefix.length).split(/[?#]/)[0];
    const reader = /** @type {ReadableStream<Uint8Array>} */ (response.clone().body).getReader();
    (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        onBytes(file, value.byteLength);
      }
    })().catch(() => {}); // the genuine response reports any error to its own reader
    return response;
  };
  /** @type {(input: RequestInfo | URL, init?: RequestInit) => Promise<Response>} */
  const wrapped = function (input, init) {
    const url = urlOf(input);
    const early = prefetched.get(url);
    if (early && early.integrity === (init?.integrity ?? "")) {
      prefetched.delete(url);
      return early.response;
    }
    return fetchCounted(input, init);
  };
  globalThis.fetch = wrapped;
  return {
    /** @param {string} url @param {RequestInit} init */
    prefetch(url, init) {
      const response = fetchCounted(url, init);
      response.catch(() => {}); // reported to whoever takes it
      prefetched.set(url, { response, integrity: init.integrity ?? "" });
    },
    stop() {
      if (globalThis.fetch === wrapped) globalThis.fetch = realFetch;
      prefetched.clear();
    },
  };
}

/**
 * The subresource-integrity string for a sha256 in hex, as Pyodide writes it.
 * @param {string} sha256Hex
 */
function integrityOf(sha256Hex) {
  let binary = "";
  for (let i = 0; i < sha256Hex.length; i += 2) binary += String.fromCharCode(parseInt(sha256Hex.slice(i, i + 2), 16));
  return `sha256-${btoa(binary)}`;
}

/** @param {unknown} err @returns {string} */
function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}
