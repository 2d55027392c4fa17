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

const RUNTIME_FILES = ["pyodide-lock.json", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip"];
const PACKAGES = ["numpy", "minimodel"];

/**
 * Load Pyodide and the packages; resolves to the Pyodide API object.
 * @param {URL} baseURL  directory that holds the built site (pyodide.mjs, wheels, manifest.json)
 * @param {(p: Progress) => void} report
 * @returns {Promise<any>}
 */
export async function loadRuntime(baseURL, report) {
  const manifest = await fetchManifest(baseURL);
  const sizeOf = (name) => manifest.files[name]?.size ?? 0;
  const lock = await fetchJSON(new URL("pyodide-lock.json", baseURL));
  const missing = PACKAGES.filter((name) => !lock.packages?.[name]);
  if (missing.length) {
    throw new Error(`pyodide-lock.json does not list ${missing.join(", ")}; rebuild the site with build.py`);
  }
  const packageFiles = PACKAGES.map((name) => lock.packages[name].file_name);

  const runtimeTotal = RUNTIME_FILES.reduce((sum, name) => sum + sizeOf(name), 0);
  const packagesTotal = packageFiles.reduce((sum, name) => sum + sizeOf(name), 0);
  let stage = { stage: "runtime", loaded: 0, total: runtimeTotal };
  report({ ...stage });

  const counter = countBytesDuring(baseURL, (file, bytes) => {
    stage.loaded += bytes;
    if (file === "pyodide.asm.wasm" && stage.stage === "runtime" && !stage.sawScript) {
      // pyodide.asm.js arrives by <script>, not fetch: count it once the wasm starts.
      stage.sawScript = true;
      stage.loaded += sizeOf("pyodide.asm.js");
    }
    report({ stage: stage.stage, loaded: Math.min(stage.loaded, stage.total || Infinity), total: stage.total, file });
  });
  try {
    const { loadPyodide } = await import(new URL("pyodide.mjs", baseURL).href).catch((err) => {
      throw new Error(`Could not load the Pyodide loader from ${new URL("pyodide.mjs", baseURL)}: ${err.message}`);
    });
    const pyodide = await loadPyodide({
      indexURL: baseURL.href,
      lockFileURL: new URL("pyodide-lock.json", baseURL).href,
      stdout: (line) => console.log(line),
      stderr: (line) => console.warn(line),
    });
    stage = { stage: "packages", loaded: 0, total: packagesTotal };
    report({ ...stage });
    const problems = [];
    await pyodide.loadPackage(PACKAGES, {
      messageCallback: () => {},
      errorCallback: (message) => problems.push(message),
      checkIntegrity: true,
    });
    if (problems.length) {
      throw new Error(`Could not load the Python packages: ${problems.join("; ")}`);
    }
    report({ stage: "ready", loaded: packagesTotal, total: packagesTotal });
    return pyodide;
  } finally {
    counter.stop();
  }
}

async function fetchJSON(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`Could not fetch ${url}: ${err.message}`);
  }
  if (!response.ok) {
    throw new Error(`Could not fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  }
  return response.json();
}

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
 * `globalThis.fetch` until `stop()`; responses pass through unchanged otherwise.
 * Pyodide fetches the wasm, the stdlib and the wheels with `fetch`, which gives no
 * progress callback of its own.
 */
function countBytesDuring(baseURL, onBytes) {
  const realFetch = globalThis.fetch;
  const prefix = baseURL.href;
  const wrapped = async function (input, init) {
    const response = await realFetch.call(globalThis, input, init);
    const url = typeof input === "string" ? new URL(input, location.href).href : (input.url ?? String(input));
    if (!response.body || !url.startsWith(prefix)) return response;
    const file = url.slice(prefix.length).split(/[?#]/)[0];
    const reader = response.body.getReader();
    const body = new ReadableStream({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        onBytes(file, value.byteLength);
        controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  globalThis.fetch = wrapped;
  return {
    stop() {
      if (globalThis.fetch === wrapped) globalThis.fetch = realFetch;
    },
  };
}
