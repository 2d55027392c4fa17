// A per-browser cache of the work a first visit does, so that a repeat visit skips it:
//  - a memory snapshot of the freshly booted interpreter (Pyodide's makeMemorySnapshot /
//    _loadSnapshot: the wasm heap right after Python started, before any package), and
//  - the unpacked files of the wheels (Pyodide unzips a wheel in Python, in WebAssembly:
//    about 150 ms for numpy on every visit).
// Both live in Cache Storage under a key made of the sha256 of every runtime file and
// wheel (from manifest.json and pyodide-lock.json) and the browser's user agent: any
// change to the site or to the browser starts from scratch. A cache entry that fails to
// restore is deleted and the page boots the normal way. Nothing here knows about minimodel.
// The Pyodide internals this needs are in pyodide-adapter.js.

import { dynlibRule, loadDynlibs, makeSnapshot, sitePackages, takeLoaderProxies } from "./pyodide-adapter.js";

const CACHE_NAME = "minimodel-runtime";
const FORMAT = 1; // bump when what is stored changes meaning
const RUNTIME_FILES = ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"];
const SHARED_LIBRARY = /\.so(\.\d+)*$/;

/**
 * @typedef {Object} PackageFiles
 * @property {string} name       package name in pyodide-lock.json
 * @property {string} fileName   its wheel's file name
 * @property {[string, number, number][]} files  [path in site-packages, offset, length]
 * @property {string[]} dynlibs  absolute paths of the shared libraries Pyodide loads, in order
 */

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
   * The stored snapshot, or null when there is none. Its bytes come as a promise, which
   * loadPyodide awaits only once it needs them, so the read overlaps the runtime's start.
   * @returns {Promise<{ bytes: Promise<ArrayBuffer> } | null>}
   */
  async snapshot() {
    const response = await this.cache.match(this.url("snapshot")).catch(() => undefined);
    if (!response) return null;
    const bytes = readChecked(response, "snapshot");
    bytes.catch(() => {}); // loadPyodide reports it, once it awaits the bytes
    return { bytes };
  }

  /**
   * The stored package files, or null when there are none. Their contents come as a
   * promise (read and checked while the runtime starts), which rejects if they are damaged.
   * @returns {Promise<{ contents: Promise<{packages: PackageFiles[], data: Uint8Array}> } | null>}
   */
  async packages() {
    const response = await this.cache.match(this.url("packages")).catch(() => undefined);
    if (!response) return null;
    const contents = readChecked(response, "packages").then((buffer) => {
      const bytes = new Uint8Array(buffer);
      const headerLength = new DataView(buffer).getUint32(0, true);
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength)));
      return { packages: header.packages, data: bytes.subarray(4 + headerLength) };
    });
    contents.catch(() => {}); // the loader reports it, once it awaits the contents
    return { contents };
  }

  /**
   * Store what a first visit made; entries of older builds are deleted. Never throws.
   * @param {{ snapshot: Uint8Array<ArrayBuffer> | null, packages: { packages: PackageFiles[], chunks: Uint8Array[] } | null }} what
   */
  async save({ snapshot, packages }) {
    try {
      if (snapshot) await this.cache.put(this.url("snapshot"), await checkedResponse(snapshot));
      if (packages) await this.cache.put(this.url("packages"), await checkedResponse(encodePackages(packages)));
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

// Each entry carries the sha256 of its bytes, checked on every read (off the main thread,
// while the runtime starts): a damaged entry is refused, never half-used.
const DIGEST_HEADER = "x-minimodel-sha256";

/**
 * The sha256 of `bytes` in hex (also used by the loader to name a changed wheel).
 * @param {BufferSource} bytes
 * @returns {Promise<string>}
 */
export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {Uint8Array<ArrayBuffer>} bytes */
async function checkedResponse(bytes) {
  return new Response(bytes, { headers: { [DIGEST_HEADER]: await sha256Hex(bytes) } });
}

/** @param {Response} response @param {string} kind */
async function readChecked(response, kind) {
  const bytes = await response.arrayBuffer();
  if ((await sha256Hex(bytes)) !== response.headers.get(DIGEST_HEADER)) {
    throw new Error(`the cached ${kind} is damaged (its sha256 differs from the one stored with it)`);
  }
  return bytes;
}

/** @param {{ packages: PackageFiles[], chunks: Uint8Array[] }} what */
function encodePackages({ packages, chunks }) {
  const header = new TextEncoder().encode(JSON.stringify({ packages }));
  const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const out = new Uint8Array(4 + header.length + size);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  let offset = 4 + header.length;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * The .dist-info folder of a wheel: "numpy-2.0.2-cp312-....whl" -> "numpy-2.0.2.dist-info".
 * @param {string} fileName
 */
function distInfoOf(fileName) {
  return `${fileName.split("-").slice(0, 2).join("-")}.dist-info`;
}

/**
 * Take the files pyodide.loadPackage just installed (each wheel's RECORD lists them, in
 * archive order, plus the INSTALLER and PYODIDE_SOURCE files Pyodide adds), and the shared
 * libraries it loaded, chosen by Pyodide's own rule. Null if a package's RECORD is missing.
 * @param {any} pyodide @param {any} lock  pyodide-lock.json @param {string[]} names
 * @returns {{packages: PackageFiles[], chunks: Uint8Array[]} | null}
 */
export function capturePackages(pyodide, lock, names) {
  const { FS } = pyodide;
  const site = sitePackages(pyodide);
  const shouldLoad = dynlibRule(pyodide);
  try {
    const packages = [];
    const chunks = [];
    let offset = 0;
    for (const name of names) {
      const fileName = lock.packages[name].file_name;
      const distInfo = distInfoOf(fileName);
      const recordPath = `${site}/${distInfo}/RECORD`;
      if (!FS.analyzePath(recordPath).exists) return null;
      const paths = FS.readFile(recordPath, { encoding: "utf8" })
        .split("\n")
        .filter((/** @type {string} */ line) => line.trim())
        .map(parseRecordPath);
      for (const extra of ["INSTALLER", "PYODIDE_SOURCE"]) {
        if (FS.analyzePath(`${site}/${distInfo}/${extra}`).exists) paths.push(`${distInfo}/${extra}`);
      }
      /** @type {[string, number, number][]} */
      const files = [];
      for (const path of paths) {
        const data = fileView(FS, `${site}/${path}`);
        files.push([path, offset, data.length]);
        chunks.push(data);
        offset += data.length;
      }
      const dynlibs = paths
        .filter((/** @type {string} */ path) => SHARED_LIBRARY.test(path) && shouldLoad.test(path))
        .map((/** @type {string} */ path) => `${site}/${path}`);
      packages.push({ name, fileName, files, dynlibs });
    }
    return { packages, chunks };
  } finally {
    shouldLoad.release();
  }
}

/**
 * A file's bytes without copying them (MEMFS keeps each file in one typed array): the
 * copy is made later, off the startup path, by save(). The packages' files are not
 * written in between.
 * @param {any} FS @param {string} path
 * @returns {Uint8Array}
 */
function fileView(FS, path) {
  const { node } = FS.lookupPath(path);
  return node.contents instanceof Uint8Array ? node.contents.subarray(0, node.usedBytes) : FS.readFile(path);
}

/**
 * The path field of a RECORD line (CSV: a path with a comma is quoted).
 * @param {string} line
 */
function parseRecordPath(line) {
  if (!line.startsWith('"')) return line.split(",")[0];
  const end = line.indexOf('",');
  return line.slice(1, end < 0 ? line.length - 1 : end).replaceAll('""', '"');
}

/**
 * Install cached package files the way pyodide.loadPackage does: into site-packages, each
 * package's shared libraries loaded in Pyodide's order, the package recorded in
 * pyodide.loadedPackages. MEMFS keeps views of the cached buffer (canOwn): no copy.
 * @param {any} pyodide @param {{ packages: PackageFiles[], data: Uint8Array }} stored
 */
export async function installPackages(pyodide, { packages, data }) {
  const { FS } = pyodide;
  const site = sitePackages(pyodide);
  for (const { name, fileName, files, dynlibs } of packages) {
    for (const [path, offset, length] of files) {
      const full = `${site}/${path}`;
      FS.mkdirTree(full.slice(0, full.lastIndexOf("/")));
      FS.writeFile(full, data.subarray(offset, offset + length), { canOwn: true });
    }
    await loadDynlibs(pyodide, fileName, dynlibs);
    pyodide.loadedPackages[name] = "default channel";
  }
  takeLoaderProxies(pyodide); // as a first visit's loadPackage did
  // Only site-packages' finder needs to look again: importlib.invalidate_caches() would
  // also import importlib.metadata (about 80 ms here).
  pyodide.runPython(
    `(lambda finder: finder and finder.invalidate_caches())(__import__("sys").path_importer_cache.get(${JSON.stringify(site)}))`,
  );
}

/**
 * The booted interpreter's memory snapshot (see makeSnapshot in pyodide-adapter.js).
 * @param {any} pyodide
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function takeSnapshot(pyodide) {
  return makeSnapshot(pyodide);
}

/**
 * A restored interpreter starts with the state the snapshot froze: give it what must differ
 * per page load (a fresh random seed, the current time zone) and drop the sys.path entry
 * that loadPyodide adds once more after a restore.
 * @param {any} pyodide
 */
export function refreshRestoredInterpreter(pyodide) {
  pyodide.runPython(`
import random, sys, time
random.seed()
if "tempfile" in sys.modules:
    sys.modules["tempfile"]._name_sequence = None
if hasattr(time, "tzset"):
    time.tzset()
while sys.path.count("") > 1:
    sys.path.remove("")
del random, sys, time
`);
}
