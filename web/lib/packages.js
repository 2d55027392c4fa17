// The installed files of the Python packages, as one buffer: what the wheels unpack to (in
// the build, for the site's lib/startup-packages.bin, and in a first visit that falls back
// to the wheels), what the startup cache stores, and what is written into site-packages
// before Python starts (loader.js), with the shared libraries Pyodide would load.

import { unzip } from "./wheel.js";

/**
 * @typedef {Object} PackageFiles
 * @property {string} name       package name in pyodide-lock.json
 * @property {string} fileName   its wheel's file name
 * @property {[string, number, number][]} files  [path in site-packages, offset, length]
 * @property {string[]} dynlibs  paths (in site-packages) of the shared libraries pyodide.loadPackage would load, in archive order
 */

/**
 * @typedef {Object} PackageSet
 * @property {PackageFiles[]} packages
 * @property {Uint8Array} data  every file's bytes, at the offsets the packages give
 */

// What pyodide.loadPackage records in each wheel's .dist-info (Pyodide 0.27's
// set_wheel_installer): init_loaded_packages() reads it back into pyodide.loadedPackages
// as "default channel".
const INSTALLER = "pyodide.loadPackage";
const SOURCE = "pyodide";

// Pyodide loads a package's files named like shared libraries (`x.so`, `x.so.1`), unless
// their tag names another interpreter or platform (`x.cpython-311-x86_64-linux-gnu.so`).
const SHARED_LIBRARY = /\.so(\.\d+)*$/;
const FOREIGN_TAG = /\.(cpython|pypy|jython)-\d{2,}[a-z]*(-[a-z0-9_-]*)?\.so/;
const THIS_PLATFORM = "-wasm32-emscripten.so";

/**
 * Whether Pyodide would load this file of a wheel as a shared library.
 * @param {string} path
 */
export function isLoadedLibrary(path) {
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (!SHARED_LIBRARY.test(name)) return false;
  return !FOREIGN_TAG.test(name) || name.includes(THIS_PLATFORM);
}

/**
 * Unpack wheels into one PackageSet, with the INSTALLER and PYODIDE_SOURCE files that
 * pyodide.loadPackage adds.
 * @param {{ name: string, fileName: string, bytes: Uint8Array<ArrayBuffer> }[]} wheels
 * @returns {Promise<PackageSet>}
 */
export async function packagesFromWheels(wheels) {
  const unpacked = await Promise.all(wheels.map(({ bytes, fileName }) => unzip(bytes, fileName)));
  const encoder = new TextEncoder();
  /** @type {PackageFiles[]} */
  const packages = [];
  /** @type {Uint8Array[]} */
  const chunks = [];
  let offset = 0;
  wheels.forEach(({ name, fileName }, i) => {
    const entries = unpacked[i];
    const distInfo = distInfoOf(entries.map((entry) => entry.path), fileName);
    entries.push(
      { path: `${distInfo}/INSTALLER`, data: encoder.encode(INSTALLER) },
      { path: `${distInfo}/PYODIDE_SOURCE`, data: encoder.encode(SOURCE) },
    );
    /** @type {[string, number, number][]} */
    const files = [];
    for (const { path, data } of entries) {
      files.push([path, offset, data.length]);
      chunks.push(data);
      offset += data.length;
    }
    const dynlibs = entries.map((entry) => entry.path).filter(isLoadedLibrary);
    packages.push({ name, fileName, files, dynlibs });
  });
  const data = new Uint8Array(offset);
  offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return { packages, data };
}

/**
 * The wheel's one top-level .dist-info folder.
 * @param {string[]} paths @param {string} fileName
 */
function distInfoOf(paths, fileName) {
  const folders = new Set(paths.map((path) => path.split("/")[0]).filter((top) => top.endsWith(".dist-info")));
  if (folders.size !== 1) {
    throw new Error(`${fileName} is not a wheel: it has ${folders.size} .dist-info folders, not one`);
  }
  return [...folders][0];
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"

/**
 * Throw if a shared library to load is not WebAssembly. Pyodide's loader only warns about
 * such a file (it takes it for a Linux .so) and goes on without it, which would leave a
 * restored interpreter calling into a library that is not there.
 * @param {PackageSet} set
 */
export function checkLibraries({ packages, data }) {
  for (const { files, dynlibs } of packages) {
    for (const path of dynlibs) {
      const [, offset, length] = files.find((file) => file[0] === path) ?? [path, 0, 0];
      if (length < 8 || WASM_MAGIC.some((byte, i) => data[offset + i] !== byte)) {
        throw new Error(`${path} is not a WebAssembly library`);
      }
    }
  }
}

/**
 * Write every file into site-packages. MEMFS keeps views of the set's buffer (canOwn):
 * no copy. Each folder is made once.
 * @param {any} FS  Pyodide's (Emscripten's) file system
 * @param {string} sitePackages
 * @param {PackageSet} set
 */
export function writePackages(FS, sitePackages, { packages, data }) {
  const made = new Set();
  for (const { files } of packages) {
    for (const [path, offset, length] of files) {
      const full = `${sitePackages}/${path}`;
      const folder = full.slice(0, full.lastIndexOf("/"));
      if (!made.has(folder)) {
        FS.mkdirTree(folder);
        made.add(folder);
      }
      FS.writeFile(full, data.subarray(offset, offset + length), { canOwn: true });
    }
  }
}

/**
 * A PackageSet as one buffer: a 4-byte header length (little-endian), the JSON header (the
 * packages), the files' bytes. The startup cache stores this, and the site ships it
 * gzip-compressed (lib/startup-packages.bin, made by the build with this function).
 * @param {PackageSet} set
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function encodePackageSet({ packages, data }) {
  const header = new TextEncoder().encode(JSON.stringify({ packages }));
  const out = new Uint8Array(4 + header.length + data.length);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  out.set(data, 4 + header.length);
  return out;
}

/**
 * The PackageSet encodePackageSet wrote (its data a view of `buffer`, no copy). Throws if
 * the buffer is not one: its checksum or sha256 has been checked by then, so only a buggy
 * writer gets here.
 * @param {ArrayBuffer} buffer
 * @returns {PackageSet}
 */
export function decodePackageSet(buffer) {
  const bytes = new Uint8Array(buffer);
  const headerLength = buffer.byteLength >= 4 ? new DataView(buffer).getUint32(0, true) : Infinity;
  if (4 + headerLength > bytes.length) throw new Error("not a package set: its header is cut short");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength)));
  const data = bytes.subarray(4 + headerLength);
  const fits = (/** @type {any} */ f) => Array.isArray(f) && typeof f[0] === "string" && Number.isSafeInteger(f[1]) && Number.isSafeInteger(f[2]) && f[1] >= 0 && f[2] >= 0 && f[1] + f[2] <= data.length;
  const valid = Array.isArray(header?.packages) && header.packages.every((/** @type {any} */ p) =>
    typeof p?.name === "string" && typeof p.fileName === "string" && Array.isArray(p.files) && p.files.every(fits) && Array.isArray(p.dynlibs));
  if (!valid) throw new Error("not a package set: its header does not list packages and files within it");
  return { packages: header.packages, data };
}
