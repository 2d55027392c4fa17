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

import { isSnapshotLayout, openRuntimeCache, refreshRestoredInterpreter, sha256Hex } from "./runtime-cache.js";
import { checkLibraries, decodePackageSet, packagesFromWheels, writePackages } from "./packages.js";
import { inflate } from "./wheel.js";
import { packPages, unpackPages } from "./sparse-heap.js";
import {
  internalsUsable,
  loadLibrariesBeforeBoot,
  makeSnapshot,
  preloadTimeZoneNames,
  reattachDlopenHandles,
  snapshotOption,
  takeLoaderProxies,
  watchModuleSettings,
} from "./pyodide-adapter.js";

/** @typedef {import("./packages.js").PackageSet} PackageSet */
/** @typedef {import("./runtime-cache.js").SnapshotLayout} SnapshotLayout */
/**
 * How Python started: "cache", this browser's snapshot (a repeat visit); "site", the
 * snapshot the site ships; "boot", a plain boot and import.
 * @typedef {"cache" | "site" | "boot"} StartedFrom
 */

const RUNTIME_FILES = ["pyodide-lock.json", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip"];
// The site's own snapshot of the interpreter with the packages imported, made by the build
// in a headless Chromium (sitebuild/startup_snapshot.py): its non-zero pages (sparse-heap.js),
// gzip-compressed, and its layout. A first visit restores it instead of booting Python.
const SITE_SNAPSHOT = "startup-snapshot.bin";
const SITE_SNAPSHOT_LAYOUT = "startup-snapshot.json";
// The installed files of PACKAGES, as the wheels unpack (packages.js), in one gzip stream made
// by the build (sitebuild/startup_packages.py): a first visit inflates it in one go instead of
// unpacking the wheels file by file (115-190 ms against 335-576 ms in Chromium).
const SITE_PACKAGES = "startup-packages.bin";
const PACKAGES = ["numpy", "minimodel"];
// Imported before the snapshot is taken, so a restored start imports nothing: everything
// init() needs. (None of them holds a JS object, which a snapshot cannot.)
const MODULES = ["numpy", "minimodel", "minimodel.jsbridge"];
// The shared libraries these imports open, loaded before Python starts so that a snapshot
// can hold them (pyodide.loadPackage would load all 20). The others, numpy's random, fft,
// lapack_lite, _simd and test modules, are opened by Python from the file system when
// first imported. An import that opened a library missing here would leave a snapshot
// that does not restore (reattachDlopenHandles names the library, and every visit would
// boot plainly), which the startup-cache tests would catch.
const LIBRARIES_AT_START = [
  "numpy/_core/_multiarray_umath.",
  "numpy/_core/_multiarray_tests.",
  "numpy/linalg/_umath_linalg.",
  "minimodel/libminimodel_kernels.so",
];

/**
 * Load Pyodide and the packages. The packages' files are written into site-packages and
 * their shared libraries loaded before Python starts (loadPyodide's fsInit hook), from the
 * site's unpacked packages or its wheels (downloaded while the runtime starts) or, on a repeat
 * visit, from this browser's cache (runtime-cache.js), which also holds a memory snapshot of
 * the interpreter with the packages imported: a repeat visit restores it and imports
 * nothing. Without one, the site's own snapshot (made by the build) is restored the same
 * way; without that either, Python boots and imports them, and the snapshot is stored for
 * the next visit. With `useCache` false, no snapshot is used or stored: Python boots.
 * @param {URL} baseURL  directory that holds the built site (pyodide.mjs, wheels, manifest.json)
 * @param {(p: Progress) => void} report
 * @param {{ useCache?: boolean }} [options]
 * @returns {Promise<{ pyodide: any, startedFrom: StartedFrom }>}
 */
export async function loadRuntime(baseURL, report, { useCache = true } = {}) {
  const loaderURL = new URL("pyodide.mjs", baseURL);
  if (useCache) preloadTimeZoneNames(); // a restored start probes them (refreshRestoredInterpreter)
  const build = Promise.all([fetchManifest(baseURL), fetchJSON(new URL("pyodide-lock.json", baseURL))]);
  // The site's snapshot's layout (a small file) comes while the cache opens: the snapshot
  // is used when this browser has none of its own.
  const siteLayout = useCache
    ? build.then(([manifest]) => siteSnapshotLayout(baseURL, manifest), () => null)
    : Promise.resolve(null);
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

  /** @typedef {"runtime" | "packages"} Stage */
  /** @type {Record<Stage, number>} */
  const totals = { runtime: RUNTIME_FILES.reduce((/** @type {number} */ sum, name) => sum + sizeOf(name), 0), packages: 0 };
  /** @type {Record<Stage, number>} */
  const loaded = { runtime: 0, packages: 0 };
  /** @type {Stage} */
  let current = "runtime";
  const emit = (/** @type {string | undefined} */ file = undefined) => {
    report({ stage: current, loaded: Math.min(loaded[current], totals[current]), total: totals[current], file });
  };
  emit();

  let sawWasm = false;
  // The bytes of each package-stage file so far: a file that fails (the site's snapshot, its
  // packages) is taken back out of the count and the total, as its replacement is counted.
  /** @type {Map<string, number>} */
  const countedBytes = new Map();
  /** @type {Set<string>} */
  const dropped = new Set();
  /** @type {PackageProgress} */
  const progress = {
    expect(file) {
      totals.packages += sizeOf(file);
      if (current === "packages") emit();
    },
    drop(file) {
      dropped.add(file);
      totals.packages -= sizeOf(file);
      loaded.packages -= countedBytes.get(file) ?? 0;
      if (current === "packages") emit();
    },
  };
  const counter = interceptFetches(baseURL, (file, bytes) => {
    if (dropped.has(file)) return;
    countedBytes.set(file, (countedBytes.get(file) ?? 0) + bytes);
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
    // Without Pyodide's internals (another version), Python opens every library itself.
    const preload = internalsUsable(manifest.pyodide);
    const [snapshot, cachedEntry] = cache ? await Promise.all([cache.snapshot(), cache.packages()]) : [null, null];
    // No snapshot of this browser's to restore yet: the site's, which a first visit downloads
    // while the runtime compiles (the packages too), instead of booting Python and importing numpy.
    const found = !(snapshot && cachedEntry) && preload ? await siteLayout : null;
    if (found instanceof Error) console.warn(`minimodel: the site's interpreter snapshot is unusable (${found.message}); starting afresh`);
    const layout = found instanceof Error ? null : found;
    const siteSnapshot = layout
      ? { layout, bytes: fetchSiteFile(baseURL, SITE_SNAPSHOT, manifest, counter.fetch) }
      : null;
    if (siteSnapshot) {
      progress.expect(SITE_SNAPSHOT);
      // Python boots instead (startInterpreter warns): the progress no longer counts it.
      siteSnapshot.bytes.catch(() => progress.drop(SITE_SNAPSHOT));
    }
    const cached = cachedEntry
      ? cachedEntry.contents.catch((err) => {
          console.warn(`minimodel: ${err.message}; loading the packages afresh`);
          return null;
        })
      : Promise.resolve(null);
    // Without cached packages, download them while the runtime starts (it is busy compiling,
    // the network is idle): the site's unpacked packages, else the wheels.
    const packages = cached.then((stored) => stored ?? downloadPackages(baseURL, manifest, lock, counter.fetch, progress));
    packages.catch(() => {}); // reported once the loader awaits them
    const options = {
      indexURL: baseURL.href,
      lockFileURL: new URL("pyodide-lock.json", baseURL).href,
      stdout: (/** @type {string} */ line) => console.log(line),
      stderr: (/** @type {string} */ line) => console.warn(line),
    };
    // A snapshot restores only over the files it was taken with and the same libraries
    // loaded before Python starts: this browser's over the cached files, the site's over
    // those of the site's wheels (the same files, cached or not: the cache is keyed to them).
    const restorable = snapshot && cachedEntry
      ? { ...snapshot, bytes: snapshotOver(snapshot, cached, preload) }
      : siteSnapshot && { ...siteSnapshot, bytes: snapshotOver(siteSnapshot, packages, preload) };
    restorable?.bytes.catch(() => {}); // loadPyodide reports it, once it awaits the bytes
    /** @type {Parameters<import("./runtime-cache.js").RuntimeCache["save"]>[0]} */
    const toSave = { snapshot: null, packages: null };
    let started;
    try {
      started = await startInterpreter(loadPyodide, options, packages, restorable, siteSnapshot ? null : cache, preload, () => {
        loaded.runtime = totals.runtime; // every runtime byte has been used by now
        emit();
        current = "packages";
        emit();
      });
      importModules(started.pyodide);
    } catch (err) {
      if (!(await cached)) throw err; // the site's own wheels do not install
      // Cached files that do not install cannot be trusted: forget the cache and start
      // again without it (the next visit fills it anew).
      console.warn(`minimodel: the cached packages did not install (${messageOf(err)}); loading them afresh`);
      await cache?.drop("snapshot", "packages");
      counter.stop();
      return loadRuntime(baseURL, report, { useCache: false });
    }
    const { pyodide, restored } = started;
    /** @type {StartedFrom} */
    const startedFrom = !restored ? "boot" : siteSnapshot ? "site" : "cache";
    // The interpreter is kept for the next visit: a booted one as a new snapshot, one restored
    // from the site's as that snapshot (a restored interpreter cannot be snapshotted again),
    // which a repeat visit then reads from Cache Storage, inflated, rather than revalidating
    // and inflating the site's file again (150-250 ms slower, measured).
    if (cache) {
      if (startedFrom === "boot") toSave.snapshot = takeSnapshot(pyodide, librariesAtStart(await packages, preload));
      if (startedFrom === "site" && siteSnapshot) {
        const pages = new Uint8Array(await siteSnapshot.bytes);
        toSave.snapshot = { pages: () => pages, layout: siteSnapshot.layout };
      }
      if (!(await cached)) toSave.packages = await packages;
    }
    for (const name of PACKAGES) pyodide.loadedPackages[name] = "default channel"; // as loadPackage records them
    takeLoaderProxies(pyodide); // as a loadPackage would, so every start holds the same proxies
    report({ stage: "ready", loaded: totals.packages, total: totals.packages });
    if (cache && (toSave.snapshot || toSave.packages)) setTimeout(() => cache.save(toSave), 0);
    return { pyodide, startedFrom };
  } finally {
    counter.stop();
  }
}

/**
 * The snapshot's stored bytes (its non-zero pages, see sparse-heap.js), once the cached
 * packages are known to be readable and to give the libraries it was taken over. Checked
 * before loadPyodide restores the heap: a heap restored over libraries at other addresses
 * would be corrupt, not fail cleanly.
 * @param {{ bytes: Promise<ArrayBuffer>, layout: SnapshotLayout }} snapshot
 * @param {Promise<PackageSet | null>} cached @param {boolean} preload
 */
async function snapshotOver({ bytes, layout }, cached, preload) {
  const [snapshot, packages] = await Promise.all([bytes, cached]);
  if (!packages) throw new Error("the cached packages it was taken with are unreadable");
  const libraries = librariesAtStart(packages, preload).flatMap((pkg) => pkg.dynlibs);
  if (JSON.stringify(libraries) !== JSON.stringify(layout.libraries)) {
    throw new Error(`it was taken over other libraries (${layout.libraries.join(", ")}) than are loaded now (${libraries.join(", ")})`);
  }
  return snapshot;
}

/**
 * The shared libraries to load before Python starts (LIBRARIES_AT_START), per package.
 * @param {PackageSet} set @param {boolean} preload  false: none
 */
function librariesAtStart({ packages }, preload) {
  return packages.map(({ fileName, dynlibs }) => ({
    fileName,
    dynlibs: preload ? dynlibs.filter((path) => LIBRARIES_AT_START.some((prefix) => path.startsWith(prefix))) : [],
  }));
}

/**
 * Start the interpreter with the packages installed before Python starts: from a snapshot
 * when there is one and it restores, else by a plain boot.
 * @param {(options: any) => Promise<any>} loadPyodide
 * @param {Record<string, any>} options
 * @param {Promise<PackageSet>} packages
 * @param {{ bytes: Promise<ArrayBuffer>, layout: SnapshotLayout } | null} snapshot
 * @param {import("./runtime-cache.js").RuntimeCache | null} cache  the snapshot's, which
 *   forgets it if it does not restore (null: the site's snapshot)
 * @param {boolean} preload  load the libraries the imports open before Python starts
 * @param {() => void} onRuntimeLoaded  called once the runtime has been fetched and compiled
 * @returns {Promise<{ pyodide: any, restored: boolean }>}
 */
async function startInterpreter(loadPyodide, options, packages, snapshot, cache, preload, onRuntimeLoaded) {
  if (snapshot) {
    // loadPyodide awaits the snapshot before it starts the runtime, and needs only its size
    // until Python would start: it gets a zeroed buffer of that size at once, and the hook
    // fills it while the runtime starts, once the bytes are read and checked and the
    // libraries loaded. If any of that fails, the buffer stays zeroed and Pyodide refuses it
    // (no snapshot magic number) before restoring anything.
    const heap = new Uint8Array(snapshot.layout.size);
    const install = installBeforeBoot(packages, preload, onRuntimeLoaded, async () => {
      unpackPages(new Uint8Array(await snapshot.bytes), heap);
    });
    try {
      const pyodide = await loadPyodide({ ...options, fsInit: install.hook, ...snapshotOption(heap) });
      await install.done;
      reattachDlopenHandles(pyodide, snapshot.layout.dlopened);
      refreshRestoredInterpreter(pyodide);
      return { pyodide, restored: true };
    } catch (err) {
      const reason = install.failure() ?? err; // the first cause (the hook may not have run)
      // Without its packages Python cannot boot either: that is the error, not the snapshot.
      const unavailable = await packages.then(() => null, (/** @type {unknown} */ e) => e);
      if (unavailable) throw unavailable;
      const which = cache ? "the cached interpreter" : `the site's interpreter snapshot (${SITE_SNAPSHOT})`;
      console.warn(`minimodel: ${which} did not restore (${messageOf(reason)}); starting afresh`);
      await cache?.drop("snapshot");
    }
  }
  const install = installBeforeBoot(packages, preload, onRuntimeLoaded);
  const pyodide = await loadPyodide({ ...options, fsInit: install.hook });
  await install.done;
  return { pyodide, restored: false };
}

/**
 * loadPyodide's fsInit hook, which writes the packages' files and loads their shared
 * libraries before Python starts, a promise of its outcome (Pyodide does not report an
 * error thrown in the hook: the boot would go on without the packages), settled once the
 * hook has run, and its error so far.
 * @param {Promise<PackageSet>} packages
 * @param {boolean} preload  load the libraries in LIBRARIES_AT_START
 * @param {() => void} onStart  called when the hook runs (the runtime is compiled by then)
 * @param {() => Promise<void>} [then]  run last, once the rest has succeeded
 */
function installBeforeBoot(packages, preload, onStart, then = async () => {}) {
  watchModuleSettings();
  /** @type {(value: void) => void} */
  let succeed = () => {};
  /** @type {(error: unknown) => void} */
  let fail = () => {};
  /** @type {Promise<void>} */
  const done = new Promise((resolve, reject) => {
    succeed = resolve;
    fail = reject;
  });
  done.catch(() => {}); // awaited after loadPyodide
  /** @type {unknown} */
  let failure;
  const hook = async (/** @type {any} */ FS, /** @type {{ sitePackages: string }} */ { sitePackages }) => {
    try {
      onStart();
      const set = await packages;
      checkLibraries(set);
      writePackages(FS, sitePackages, set);
      await loadLibrariesBeforeBoot(sitePackages, librariesAtStart(set, preload));
      await then();
      succeed();
    } catch (err) {
      failure = err;
      fail(err);
    }
  };
  return { hook, done, failure: () => failure };
}

/**
 * The interpreter with its packages imported, for the next visit (null if Python holds
 * something a snapshot cannot keep).
 * @param {any} pyodide @param {{ dynlibs: string[] }[]} atStart  the libraries loaded before boot
 * @returns {import("./runtime-cache.js").StoredSnapshot | null}
 */
function takeSnapshot(pyodide, atStart) {
  try {
    const { bytes, dlopened } = makeSnapshot(pyodide);
    const layout = { size: bytes.length, libraries: atStart.flatMap((pkg) => pkg.dynlibs), dlopened };
    return { pages: () => packPages(bytes), layout };
  } catch (err) {
    console.info(`minimodel: no interpreter snapshot for the next visit (${messageOf(err)})`);
    return null;
  }
}

/**
 * Import what init() needs (a no-op after a restore, which holds them): packages that do
 * not import are found here.
 * @param {any} pyodide
 */
function importModules(pyodide) {
  pyodide.runPython(`import ${MODULES.join(", ")}`);
}

/**
 * What the progress counts in the packages stage: a file to download, or one given up.
 * @typedef {{ expect: (file: string) => void, drop: (file: string) => void }} PackageProgress
 */

/**
 * The packages' installed files for a first visit: the site's unpacked packages
 * (SITE_PACKAGES), checked against manifest.json and inflated; without them, or if they are
 * missing or damaged (a console warning says so), the wheels, each checked against
 * pyodide-lock.json and unpacked.
 * @param {URL} baseURL
 * @param {{ files: Record<string, { sha256: string }> }} manifest @param {any} lock
 * @param {(input: RequestInfo | URL, init?: RequestInit) => Promise<Response>} fetchCounted
 * @param {PackageProgress} progress
 * @returns {Promise<PackageSet>}
 */
async function downloadPackages(baseURL, manifest, lock, fetchCounted, progress) {
  if (manifest.files[SITE_PACKAGES]) {
    progress.expect(SITE_PACKAGES);
    try {
      const set = decodePackageSet(await fetchSiteFile(baseURL, SITE_PACKAGES, manifest, fetchCounted));
      const names = set.packages.map((pkg) => `${pkg.name} ${pkg.fileName}`).join(", ");
      const expected = PACKAGES.map((name) => `${name} ${lock.packages[name].file_name}`).join(", ");
      if (names !== expected) throw new Error(`${SITE_PACKAGES} holds ${names}, not ${expected}`);
      return set;
    } catch (err) {
      console.warn(`minimodel: the site's unpacked packages are unusable (${messageOf(err)}); unpacking the wheels`);
      progress.drop(SITE_PACKAGES);
    }
  }
  const wheels = await Promise.all(
    PACKAGES.map(async (name) => {
      const { file_name: fileName, sha256: expected } = lock.packages[name];
      progress.expect(fileName);
      const buffer = await fetchChecked(new URL(fileName, baseURL), expected, "pyodide-lock.json", fetchCounted);
      return { name, fileName, bytes: new Uint8Array(buffer) };
    }),
  );
  return packagesFromWheels(wheels);
}

/**
 * The layout of the site's snapshot (SITE_SNAPSHOT_LAYOUT), checked against the sha256 in
 * manifest.json; null when the build made no snapshot, the error when the layout cannot be
 * had (the caller warns, if it would have used it: Python then boots). A small file:
 * loadPyodide needs the heap's size before it starts, the snapshot's 6.6 MB only once the
 * runtime is compiled.
 * @param {URL} baseURL
 * @param {{ files: Record<string, { sha256: string }> }} manifest
 * @returns {Promise<SnapshotLayout | Error | null>}  never rejects
 */
async function siteSnapshotLayout(baseURL, manifest) {
  const listed = manifest.files[SITE_SNAPSHOT_LAYOUT];
  if (!listed || !manifest.files[SITE_SNAPSHOT]) return null;
  try {
    const bytes = await fetchChecked(new URL(SITE_SNAPSHOT_LAYOUT, baseURL), listed.sha256, "manifest.json", fetch);
    const layout = JSON.parse(new TextDecoder().decode(bytes));
    if (!isSnapshotLayout(layout)) throw new Error(`${SITE_SNAPSHOT_LAYOUT} is not a snapshot's layout`);
    return layout;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * A file of the site, checked against the sha256 a list of the build gives it.
 * @param {URL} url @param {string} expected  its sha256 @param {string} listedIn  the list's name
 * @param {(input: RequestInfo | URL, init?: RequestInit) => Promise<Response>} fetchWith
 * @returns {Promise<ArrayBuffer>}
 */
async function fetchChecked(url, expected, listedIn, fetchWith) {
  let response;
  try {
    response = await fetchWith(url);
  } catch (err) {
    throw new Error(`Could not fetch ${url}: ${messageOf(err)}`);
  }
  if (!response.ok) throw new Error(`Could not fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  const bytes = await response.arrayBuffer();
  const actual = await sha256Hex(bytes);
  if (actual !== expected) {
    const name = url.pathname.split("/").pop();
    throw new Error(
      `${name} is not the file this site was built with: its sha256 is ${actual}, ` +
        `${listedIn} expects ${expected}. It was changed or damaged; rebuild or re-deploy the site.`,
    );
  }
  return bytes;
}

/**
 * A gzip-compressed file the build made (the site's snapshot, its unpacked packages), checked
 * against the sha256 manifest.json gives it, inflated.
 * @param {URL} baseURL @param {string} name
 * @param {{ files: Record<string, { sha256: string }> }} manifest
 * @param {(input: RequestInfo | URL, init?: RequestInit) => Promise<Response>} fetchWith
 * @returns {Promise<ArrayBuffer>}
 */
async function fetchSiteFile(baseURL, name, manifest, fetchWith) {
  const packed = await fetchChecked(new URL(name, baseURL), manifest.files[name].sha256, "manifest.json", fetchWith);
  try {
    return (await inflate(packed, "gzip")).buffer;
  } catch (err) {
    throw new Error(`${name} does not inflate: ${messageOf(err)}`);
  }
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
 * `globalThis.fetch` until `stop()`. Pyodide fetches the wasm and the stdlib with `fetch`,
 * which gives no progress callback of its own. The caller gets the genuine response, so
 * streaming compilation and Chromium's cache of compiled wasm still apply; the bytes are
 * counted on a clone. `fetch` is the counting fetch, for the loader's own downloads.
 * @param {URL} baseURL
 * @param {(file: string, bytes: number) => void} onBytes
 */
function interceptFetches(baseURL, onBytes) {
  const realFetch = globalThis.fetch;
  const prefix = baseURL.href;
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
  globalThis.fetch = fetchCounted;
  return {
    fetch: fetchCounted,
    stop() {
      if (globalThis.fetch === fetchCounted) globalThis.fetch = realFetch;
    },
  };
}

/** @param {unknown} err @returns {string} */
function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}
