// Every use of Pyodide's internals, in one place. Pyodide's public API (loadPyodide,
// runPython, pyimport, loadPackage, FS, ffi, loadPyodide's fsInit hook) is used directly
// elsewhere; what is here is private to Pyodide and may change in any release, so it is
// written against one version and checked: with another version the startup cache and the
// live-proxy statistic turn themselves off (one console warning says so), and everything
// else works.
//
// The internals, and what each is for:
//   loadPyodide({ _loadSnapshot })        boot from a memory snapshot          (startup cache)
//   pyodide.makeMemorySnapshot()          take that snapshot                   (startup cache)
//   _api.config._makeSnapshot             allow makeMemorySnapshot on a plainly booted interpreter
//   globalThis._createPyodideModule       sees loadPyodide's settings, which hold the API
//                                         object the fsInit hook needs         (packages before boot)
//   API.loadDynlib                        load a shared library as loadPackage does (packages
//                                         before boot; the relaxed-SIMD kernels after it)
//   _module.LDSO                          the loaded libraries by name and by dlopen handle
//                                         (a snapshot's handles, re-attached)  (startup cache)
//   _api.package_loader.get_install_dir, .unpack_buffer, _api.importlib.invalidate_caches
//                                         proxies loadPackage keeps for the session (taken the same way)
//   _module.enable_pyproxy_allocation_tracing, _module.pyproxy_alloc_map
//                                         count live PyProxies                 (debugStats, leak tests)
//   _module.HEAPU8                        the wasm heap's size                 (debugStats)
//   _api.on_fatal                         be told of a fatal error             (onFatalError)
//   _module.__tzset_js, _module._timezone, _daylight, _tzname, HEAPU32
//                                         Emscripten's time-zone probe, run again after a restore
//                                         into libc's globals (libc runs it once) (startup cache)

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
 * loadPyodide's option to boot from a memory snapshot. Pyodide reads only its length before
 * Python would start (to size the heap), and its bytes right after the fsInit hook.
 * @param {Uint8Array} bytes
 */
export function snapshotOption(bytes) {
  return { _loadSnapshot: bytes };
}

/**
 * What a snapshot needs besides the heap: the dlopen handles Python holds (addresses of
 * libc's records of opened libraries, inside the heap) and the library each stands for.
 * @typedef {[handle: number, path: string][]} DlopenHandles
 */

/**
 * The wasm heap of an interpreter that has booted with its packages' shared libraries
 * loaded before Python started (see loadLibrariesBeforeBoot) and imported them, as
 * Pyodide's makeMemorySnapshot writes it, with the dlopen handles Python holds.
 *
 * Booting with loadPyodide's _makeSnapshot option instead would wrap the `js` module in a
 * recording Proxy for the whole session, and from Python DOM methods, fetch or setTimeout
 * would then throw "Illegal invocation". The modules imported so far hold no JS object
 * beyond Pyodide's fixed ones, so the option is only raised for this call (if Python did
 * hold one, makeMemorySnapshot throws and nothing is cached). One of the fixed ones is
 * pyodide.loadedPackages, which Pyodide expects empty in a snapshot (a restored
 * interpreter gets a new, empty one): it is emptied for the call and refilled.
 * @param {any} pyodide
 * @returns {{ bytes: Uint8Array<ArrayBuffer>, dlopened: DlopenHandles }}
 */
export function makeSnapshot(pyodide) {
  const { config } = pyodide._api;
  const loaded = { ...pyodide.loadedPackages };
  for (const name of Object.keys(loaded)) delete pyodide.loadedPackages[name];
  config._makeSnapshot = true;
  try {
    const bytes = pyodide.makeMemorySnapshot();
    const dlopened = Object.entries(pyodide._module.LDSO.loadedLibsByHandle)
      .filter(([handle]) => handle !== "0") // 0: the main program
      .map(([handle, library]) => /** @type {[number, string]} */ ([Number(handle), library.name]));
    return { bytes, dlopened };
  } finally {
    config._makeSnapshot = false;
    Object.assign(pyodide.loadedPackages, loaded);
  }
}

/**
 * After a restore, tell the dynamic linker which library each dlopen handle in the heap
 * stands for: the libraries were loaded again (before boot, at the same addresses), but the
 * linker's table of handles lives in JavaScript and starts empty, and a later dlsym on
 * such a handle (ctypes opening numpy's library again, say) would fail. Throws if a
 * library is not loaded: the restored interpreter cannot be used.
 * @param {any} pyodide @param {DlopenHandles} dlopened
 */
export function reattachDlopenHandles(pyodide, dlopened) {
  const { LDSO } = pyodide._module;
  for (const [handle, path] of dlopened) {
    const library = LDSO.loadedLibsByName[path];
    if (!library?.exports) throw new Error(`${path} is not loaded`);
    LDSO.loadedLibsByHandle[handle] = library;
  }
}

/** @type {any} loadPyodide's settings for the pyodide.asm.js module being created */
let moduleSettings = null;

/**
 * Let loadLibrariesBeforeBoot reach the API object of the loadPyodide that runs next.
 * loadPyodide hands its settings, which hold that object, to the global function
 * `_createPyodideModule` that pyodide.asm.js defines; the global is wrapped (once per
 * thread) so the settings are kept. Call before loadPyodide.
 */
export function watchModuleSettings() {
  const own = Object.getOwnPropertyDescriptor(globalThis, "_createPyodideModule");
  if (own?.get) return; // wrapped already
  let create = own?.value; // defined already if an earlier loadPyodide loaded the script
  Object.defineProperty(globalThis, "_createPyodideModule", {
    configurable: true,
    set(value) {
      create = value;
    },
    get() {
      if (typeof create !== "function") return create;
      return (/** @type {any} */ settings) => {
        moduleSettings = settings;
        return create(settings);
      };
    },
  });
}

/**
 * Load shared libraries from the file system as pyodide.loadPackage would (each linked
 * locally), from loadPyodide's fsInit hook: before Python starts, so that each lands at the
 * same address on every start (Emscripten places libraries loaded before the runtime
 * starts at the heap's base, one after the other) and a snapshot of a heap that uses them
 * can be restored.
 * @param {string} sitePackages
 * @param {{ fileName: string, dynlibs: string[] }[]} packages
 */
export async function loadLibrariesBeforeBoot(sitePackages, packages) {
  if (packages.every(({ dynlibs }) => dynlibs.length === 0)) return;
  const api = moduleSettings?.API;
  if (typeof api?.loadDynlib !== "function") throw new Error("Pyodide's dynamic loader is not reachable");
  for (const { fileName, dynlibs } of packages) {
    // loadPackage also looks for a package's own libraries in <name>.libs (auditwheel).
    const searchDirs = [`${sitePackages}/${fileName.split("-")[0]}.libs`];
    for (const path of dynlibs) await api.loadDynlib(`${sitePackages}/${path}`, false, searchDirs);
  }
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
 * Run `make` while Pyodide's allocation tracing records an empty stack for each PyProxy
 * made: for the library's own proxies, made at every start. The tracing formats a new
 * proxy's stack at once (`Error().stack`), for which V8 first collects the source positions
 * of the pyodide.asm.js functions on it. The start's bridge setup (some 20 proxies) took 18-25 ms
 * with full stacks, 14-16 ms with empty ones, 4-6 ms with no tracing at all (medians of ten
 * new Chromium profiles each, first and repeat visits, driven by Playwright; the rest of the
 * gap is not explained). The count stays exact; only those proxies' allocation sites, which
 * nothing reads, are left out. Nothing else runs meanwhile: `make` is synchronous (an error
 * it throws has no stack).
 * @template T
 * @param {() => T} make
 * @returns {T}
 */
export function withoutAllocationStacks(make) {
  const errors = /** @type {{ stackTraceLimit?: number }} */ (/** @type {unknown} */ (Error));
  const limit = errors.stackTraceLimit;
  errors.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    if (limit === undefined) delete errors.stackTraceLimit; // an engine without it
    else errors.stackTraceLimit = limit;
  }
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

/**
 * Have the browser load its time-zone names now, in a moment the page waits for the
 * network, rather than in probeBrowserLocale after a restore, when Python's start waits
 * for it: Emscripten's probe formats two dates with `timeZoneName`, and the first such
 * call in a page loads ICU's zone data (16-26 ms on an idle page here, 16-65 ms in the
 * middle of a start, in CPU profiles of repeat visits; 0.1-0.2 ms after that).
 */
export function preloadTimeZoneNames() {
  setTimeout(() => new Date().toLocaleTimeString(undefined, { hour12: false, timeZoneName: "short" }), 0);
}

/**
 * What Emscripten's libc reads from the browser once per process, and a snapshot therefore
 * freezes as the browser that took it had them: the time zone (libc's tzset runs its probe
 * once; Pyodide's Python has no time.tzset) and LANG (built from navigator.languages when
 * the environment is first read). After a restore, this runs Emscripten's probe again into
 * libc's globals (timezone, daylight, and the two names tzname points at), and returns the
 * LANG value Emscripten would build for this browser (its getEnvStrings; a language tag that
 * is not plain letters, digits and hyphens gives "C.UTF-8").
 * @param {any} pyodide
 * @returns {string}
 */
export function probeBrowserLocale(pyodide) {
  const module = pyodide._module;
  const names = module.HEAPU32.subarray(module._tzname >>> 2, (module._tzname >>> 2) + 2);
  module.__tzset_js(module._timezone, module._daylight, names[0], names[1]);
  const tag = (typeof navigator === "object" && navigator.languages && navigator.languages[0]) || "C";
  return /^[A-Za-z0-9-]{1,35}$/.test(tag) ? `${tag.replace("-", "_")}.UTF-8` : "C.UTF-8";
}
