// A per-browser cache of the work a first visit does, so that a repeat visit skips it:
//  - the installed files of the packages (unpacked from the wheels, see packages.js), and
//  - a memory snapshot of the interpreter once it has imported them (Pyodide's
//    makeMemorySnapshot / _loadSnapshot; the site's own snapshot when the first visit
//    restored that one), which only restores together with those files: their shared
//    libraries are loaded before Python starts, at the same addresses.
// Both live in Cache Storage under a key made of the sha256 of every runtime file and
// wheel (from manifest.json and pyodide-lock.json) and the browser's user agent: any
// change to the site or to the browser starts from scratch. A cache entry that fails to
// restore is deleted and the page boots the normal way. Nothing here knows about minimodel.
// The Pyodide internals this needs are in pyodide-adapter.js.

import { checksum } from "./checksum.js";
import { decodePackageSet, encodePackageSet } from "./packages.js";
import { probeBrowserLocale } from "./pyodide-adapter.js";

/** @typedef {import("./packages.js").PackageSet} PackageSet */
/**
 * What a snapshot restores over besides the heap: the shared libraries loaded before
 * Python started, in order (a different list would place them elsewhere), and the dlopen
 * handles Python holds.
 * @typedef {Object} SnapshotLayout
 * @property {number} size  the snapshot's bytes
 * @property {string[]} libraries
 * @property {import("./pyodide-adapter.js").DlopenHandles} dlopened
 */
/**
 * A snapshot to store: its non-zero pages (sparse-heap.js: a third of a heap is zeros, which
 * a restore need not read), made when it is stored, after init() has resolved.
 * @typedef {{ pages: () => Uint8Array<ArrayBuffer>, layout: SnapshotLayout }} StoredSnapshot
 */

const CACHE_NAME = "minimodel-runtime";
const FORMAT = 4; // bump when what is stored changes meaning (3: an imported interpreter, packed; 4: checksum.js)
const RUNTIME_FILES = ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"];

/**
 * The cache for this site's exact build in this browser, or null when the browser offers
 * no Cache Storage here (not a secure context, storage blocked, ...). Opening the storage
 * starts at once, while `build` (manifest.json and pyodide-lock.json) is still on its way.
 * @param {URL} baseURL
 * @param {Promise<[{files: Record<string, {sha256: string}>}, any]>} build  [manifest, lock]
 * @param {string[]} packages
 * @returns {Promise<RuntimeCache | null>}
 */
export async function openRuntimeCache(baseURL, build, packages) {
  try {
    if (!globalThis.caches || !globalThis.crypto?.subtle) return null;
    const [cache, [manifest, lock]] = await Promise.all([caches.open(CACHE_NAME), build]);
    const parts = [
      FORMAT,
      navigator.userAgent,
      ...RUNTIME_FILES.map((name) => `${name}:${manifest.files[name]?.sha256}`),
      ...packages.map((name) => `${name}:${lock.packages[name].sha256}`),
    ];
    const key = await sha256Hex(new TextEncoder().encode(parts.join("\n")));
    return new RuntimeCache(cache, new URL("minimodel-cache/", baseURL).href, key);
  } catch {
    return null;
  }
}

/**
 * The snapshot this browser's cache holds for the library at `baseURL`, whatever its build
 * key (null when there is none yet): the build reads the one its headless Chromium took, to
 * ship it as the site's snapshot (sitebuild/startup_snapshot.py). Read and checked as a
 * repeat visit would.
 * @param {URL} baseURL
 * @returns {Promise<{ bytes: Promise<ArrayBuffer>, layout: SnapshotLayout } | null>}
 */
export async function storedSnapshot(baseURL) {
  const cache = await caches.open(CACHE_NAME);
  const prefix = new URL("minimodel-cache/", baseURL).href;
  const entry = (await cache.keys()).find((request) => request.url.startsWith(prefix) && request.url.endsWith("/snapshot"));
  if (!entry) return null;
  const key = entry.url.slice(prefix.length).split("/")[0];
  return new RuntimeCache(cache, prefix, key).snapshot();
}

export class RuntimeCache {
  /** @param {Cache} cache @param {string} prefix @param {string} key */
  constructor(cache, prefix, key) {
    this.cache = cache;
    this.prefix = prefix;
    this.key = key;
  }

  /** @param {string} kind */
  url(kind) {
    return `${this.prefix}${this.key}/${kind}`;
  }

  /**
   * The stored snapshot, or null when there is none or its layout is damaged (a warning
   * says so; the next snapshot saved replaces it). Its bytes (the snapshot's non-zero
   * pages: sparse-heap.js) come as a promise, read and checked while the runtime starts.
   * @returns {Promise<{ bytes: Promise<ArrayBuffer>, layout: SnapshotLayout } | null>}
   */
  async snapshot() {
    const response = await this.cache.match(this.url("snapshot")).catch(() => undefined);
    if (!response) return null;
    const text = response.headers.get(LAYOUT_HEADER) ?? "";
    let layout = null;
    if (layoutChecksum(text) === response.headers.get(LAYOUT_CHECKSUM_HEADER)) {
      try {
        layout = JSON.parse(text);
      } catch {
        // refused below
      }
    }
    if (!isSnapshotLayout(layout)) {
      console.warn("minimodel: the cached snapshot is damaged (its layout does not match the checksum stored with it, or is incomplete); starting afresh");
      return null;
    }
    const bytes = readChecked(response, "snapshot");
    bytes.catch(() => {}); // reported by whoever awaits the bytes
    return { bytes, layout };
  }

  /**
   * The stored package files, or null when there are none. Their contents come as a
   * promise (read and checked while the runtime starts), which rejects if they are damaged.
   * @returns {Promise<{ contents: Promise<PackageSet> } | null>}
   */
  async packages() {
    const response = await this.cache.match(this.url("packages")).catch(() => undefined);
    if (!response) return null;
    const contents = readChecked(response, "packages").then(decodePackageSet);
    contents.catch(() => {}); // the loader reports it, once it awaits the contents
    return { contents };
  }

  /**
   * Store what a first visit made; entries of older builds are deleted. Never throws.
   * @param {{ snapshot: StoredSnapshot | null, packages: PackageSet | null }} what
   */
  async save({ snapshot, packages }) {
    try {
      if (packages) await this.cache.put(this.url("packages"), checkedResponse(encodePackageSet(packages)));
      if (snapshot) {
        const text = JSON.stringify(snapshot.layout);
        const layout = { [LAYOUT_HEADER]: text, [LAYOUT_CHECKSUM_HEADER]: layoutChecksum(text) };
        await this.cache.put(this.url("snapshot"), checkedResponse(snapshot.pages(), layout));
      }
      for (const request of await this.cache.keys()) {
        if (request.url.startsWith(this.prefix) && !request.url.startsWith(this.url(""))) {
          await this.cache.delete(request);
        }
      }
    } catch (err) {
      console.info(`minimodel: could not cache the runtime for the next visit (${err instanceof Error ? err.message : err})`);
    }
  }

  /**
   * Forget entries of this build (after one failed to restore).
   * @param {...string} kinds
   */
  async drop(...kinds) {
    await Promise.all(kinds.map((kind) => this.cache.delete(this.url(kind)).catch(() => false)));
  }
}

// Each entry carries the checksum of its bytes (checksum.js), checked on every read (while
// the runtime starts): a damaged entry is refused, never half-used.
const CHECKSUM_HEADER = "x-minimodel-checksum";
// The snapshot's SnapshotLayout, as JSON, and that text's own checksum (the body's does not
// cover it).
const LAYOUT_HEADER = "x-minimodel-layout";
const LAYOUT_CHECKSUM_HEADER = "x-minimodel-layout-checksum";

/**
 * Whether a parsed value has a SnapshotLayout's fields (the site's snapshot has one too).
 * @param {any} layout @returns {layout is SnapshotLayout}
 */
export function isSnapshotLayout(layout) {
  return Number.isSafeInteger(layout?.size) && layout.size > 0 && Array.isArray(layout.libraries) && Array.isArray(layout.dlopened);
}

/** @param {string} text  a layout's JSON @returns {string} */
function layoutChecksum(text) {
  return checksum(new TextEncoder().encode(text));
}

/**
 * The sha256 of `bytes` in hex (also used by the loader to name a changed wheel).
 * @param {BufferSource} bytes
 * @returns {Promise<string>}
 */
export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {Uint8Array<ArrayBuffer>} bytes @param {Record<string, string>} [headers] */
function checkedResponse(bytes, headers = {}) {
  return new Response(bytes, { headers: { ...headers, [CHECKSUM_HEADER]: checksum(bytes) } });
}

/** @param {Response} response @param {string} kind */
async function readChecked(response, kind) {
  const bytes = await response.arrayBuffer();
  if (checksum(bytes) !== response.headers.get(CHECKSUM_HEADER)) {
    throw new Error(`the cached ${kind} is damaged (its checksum differs from the one stored with it)`);
  }
  return bytes;
}

/**
 * A restored interpreter starts with the state the snapshot froze, taken on another page
 * (or, for the site's snapshot, in the build's browser): give it what must differ per page
 * load (a fresh random seed, the browser's time zone and language, as a booted interpreter
 * would have them) and drop the sys.path entry that loadPyodide adds once more after a
 * restore.
 * @param {any} pyodide
 */
export function refreshRestoredInterpreter(pyodide) {
  const lang = probeBrowserLocale(pyodide);
  // time's zone attributes as CPython's time module computes them at import in Pyodide (from
  // localtime() in January and July: init_timezone without tzname), and LC_CTYPE as Python
  // sets it from the environment at start.
  pyodide.runPython(`
import locale, os, random, sys, time
random.seed()
if "tempfile" in sys.modules:
    sys.modules["tempfile"]._name_sequence = None
_year = (365 * 24 + 6) * 3600
_start = int(time.time()) // _year * _year
_jan, _jul = time.localtime(_start), time.localtime(_start + _year // 2)
if -_jan.tm_gmtoff < -_jul.tm_gmtoff:  # daylight saving time in the southern hemisphere
    time.timezone, time.altzone, time.tzname = -_jul.tm_gmtoff, -_jan.tm_gmtoff, (_jul.tm_zone, _jan.tm_zone)
else:
    time.timezone, time.altzone, time.tzname = -_jan.tm_gmtoff, -_jul.tm_gmtoff, (_jan.tm_zone, _jul.tm_zone)
time.daylight = int(_jan.tm_gmtoff != _jul.tm_gmtoff)
os.environ["LANG"] = "${lang}"
locale.setlocale(locale.LC_CTYPE, "")
while sys.path.count("") > 1:
    sys.path.remove("")
del _year, _start, _jan, _jul, locale, os, random, sys, time
`);
}
