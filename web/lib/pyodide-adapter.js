// Every use of Pyodide's internals, in one place. Pyodide's public API (loadPyodide,
// runPython, pyimport, loadPackage, FS, ffi) is used directly elsewhere; what is here is
// private to Pyodide and may change in any release, so it is written against one version
// and checked: with another version the startup cache and the live-proxy statistic turn
// themselves off (one console warning says so), and everything else works.
//
// The internals, and what each is for:
//   loadPyodide({ _loadSnapshot })        boot from a memory snapshot          (startup cache)
//   pyodide.makeMemorySnapshot()          take that snapshot                   (startup cache)
//   _api.config._makeSnapshot             allow makeMemorySnapshot on a plainly booted interpreter
//   _api.sitepackages                     where wheels are installed           (startup cache)
//   _api.package_loader.should_load_dynlib  which .so files loadPackage loads  (startup cache)
//   _api.loadDynlibsFromPackage           load them as loadPackage does        (startup cache)
//   _api.package_loader.get_install_dir, .unpack_buffer, _api.importlib.invalidate_caches
//                                         proxies loadPackage keeps for the session (taken the same way)
//   _module.enable_pyproxy_allocation_tracing, _module.pyproxy_alloc_map
//                                         count live PyProxies                 (debugStats, leak tests)
//   _module.HEAPU8                        the wasm heap's size                 (debugStats)
//   _api.on_fatal                         be told of a fatal error             (onFatalError)
//   _api.loadDynlib                       load a side module that is not a .so of a package
//                                         (the relaxed-SIMD kernels)

/** The Pyodide version these internals were read from (node_modules/pyodide, package.json). */
export const WRITTEN_FOR = "0.27.7";

let warned = false;

/**
 * Whether the internals above can be used with this Pyodide version; warns once if not.
 * @param {string} version
 * @returns {boolean}
 */
export function internalsUsable(version) {
  if (version === WRITTEN_FOR) return true;
  if (!warned) {
    warned = true;
    console.warn(
      `minimodel: written for Pyodide ${WRITTEN_FOR}, running with ${version}: ` +
        "the startup cache and the live-proxy count (debugStats().liveProxies) are off",
    );
  }
  return false;
}

/**
 * loadPyodide's option to boot from a memory snapshot.
 * @param {Promise<ArrayBuffer> | ArrayBuffer} bytes
 */
export function snapshotOption(bytes) {
  return { _loadSnapshot: bytes };
}

/**
 * The wasm heap of an interpreter that has just booted, as Pyodide's makeMemorySnapshot
 * writes it. Booting with loadPyodide's _makeSnapshot option instead would wrap the `js`
 * module in a recording Proxy for the whole session, and from Python DOM methods, fetch or
 * setTimeout would then throw "Illegal invocation". Right after a plain boot Python holds
 * no JS object beyond Pyodide's fixed ones, so the option is only raised for this call
 * (if Python did hold one, makeMemorySnapshot throws and nothing is cached).
 * @param {any} pyodide
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function makeSnapshot(pyodide) {
  const { config } = pyodide._api;
  config._makeSnapshot = true;
  try {
    return pyodide.makeMemorySnapshot();
  } finally {
    config._makeSnapshot = false;
  }
}

/** @param {any} pyodide @returns {string} the site-packages directory */
export function sitePackages(pyodide) {
  return pyodide._api.sitepackages;
}

/**
 * Pyodide's rule for which shared libraries of a package loadPackage loads, as a function
 * of the path; `release()` it when done (it holds a PyProxy).
 * @param {any} pyodide
 * @returns {{ test: (path: string) => boolean, release: () => void }}
 */
export function dynlibRule(pyodide) {
  const shouldLoad = pyodide._api.package_loader.should_load_dynlib;
  return { test: (path) => shouldLoad(path), release: () => shouldLoad.destroy() };
}

/**
 * Load a package's shared libraries in the given order, as loadPackage does.
 * @param {any} pyodide @param {string} fileName @param {string[]} paths
 */
export async function loadDynlibs(pyodide, fileName, paths) {
  await pyodide._api.loadDynlibsFromPackage({ file_name: fileName }, paths);
}

/**
 * Load a WebAssembly side module from Pyodide's file system as loadPackage loads a
 * package's .so files (compiled asynchronously, linked locally), so that ctypes can open
 * it afterwards by the same path. Throws with another Pyodide version.
 * @param {any} pyodide @param {string} path
 */
export async function loadSideModule(pyodide, path) {
  if (!internalsUsable(pyodide.version) || typeof pyodide._api?.loadDynlib !== "function") {
    throw new Error(`cannot load ${path} with Pyodide ${pyodide.version}`);
  }
  await pyodide._api.loadDynlib(path, false);
}

/**
 * Take the attribute proxies pyodide.loadPackage takes on first use and keeps for the
 * session, so a later loadPackage (micropip, say) leaves the same live proxies whichever
 * way the page started.
 * @param {any} pyodide
 */
export function takeLoaderProxies(pyodide) {
  const api = pyodide._api;
  void [api.package_loader.get_install_dir, api.package_loader.unpack_buffer, api.importlib.invalidate_caches];
}

/**
 * Start counting live PyProxies (what Pyodide's own test suite checks), when usable.
 * @param {any} pyodide
 */
export function trackProxies(pyodide) {
  if (internalsUsable(pyodide.version)) pyodide._module.enable_pyproxy_allocation_tracing?.();
}

/**
 * Live PyProxies, or null when they cannot be counted with this Pyodide version.
 * @param {any} pyodide
 * @returns {number | null}
 */
export function liveProxies(pyodide) {
  if (pyodide.version !== WRITTEN_FOR) return null;
  return pyodide._module.pyproxy_alloc_map?.size ?? null;
}

/** @param {any} pyodide @returns {number} the wasm heap's size in bytes */
export function heapBytes(pyodide) {
  return pyodide._module?.HEAPU8?.length ?? 0;
}

/**
 * Be told when Pyodide reports a fatal error (a wasm trap, an abort).
 * @param {any} pyodide @param {(error: unknown) => void} handler
 */
export function onFatal(pyodide, handler) {
  if (pyodide._api) pyodide._api.on_fatal = handler;
}
