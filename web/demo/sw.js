// The site's service worker: every file of the site (dist/manifest.json lists them, Python
// and the model included) is stored in this browser when it installs, each checked against
// the manifest's sha256, so the site opens and works without a network afterwards.
//
// - Install: fetch manifest.json (never from a cache) and check that it is the build this
//   worker was made for: the build writes a hash of the manifest's entries into BUILD
//   below, so every new build is a new sw.js, which the browser notices. Then fill the
//   cache of this build: a file whose sha256 is unchanged is copied from the previous
//   version's cache, only the others are downloaded (and checked; a mismatch is fetched
//   once more past the HTTP cache, then fails the install, which the browser retries).
// - Serve: the site's files from this build's cache (one consistent version, also for
//   navigations), anything else from the network.
// - Update: a new worker waits while pages of the old version are open; a page may ask
//   it to take over ("skip-waiting", after the visitor agrees) and then reloads. On
//   activation the caches of older versions are deleted.
// It never touches other caches (the library's startup cache, "minimodel-runtime").

const BUILD = "__MINIMODEL_BUILD__"; // written by the build (sitebuild/webapp.py)
const SCOPE = new URL("./", self.location.href).href;
const PREFIX = `minimodel-site ${SCOPE} `;
const CACHE = PREFIX + BUILD;
const MANIFEST = "manifest.json";
const SELF = "sw.js";
const NOT_HASHED = new Set([SELF, "lib/manifest.json"]); // written after the hash, from the rest
const RECORD_URL = new URL(`${MANIFEST}?service-worker-install`, SCOPE).href;
const PARALLEL = 4;

/** @type {Promise<Set<string>> | null} the URLs this build's cache holds */
let cachedURLs = null;
/** @type {Set<string> | null} the same, once read: other requests then go to the network untouched */
let knownURLs = null;

self.addEventListener("install", (event) => event.waitUntil(install()));

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((names) => Promise.all(names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n)))),
  );
});

self.addEventListener("message", (event) => {
  const data = event.data;
  if (data && data.type === "skip-waiting") {
    self.skipWaiting();
  } else if (data && data.type === "status" && event.ports[0]) {
    status().then((answer) => event.ports[0].postMessage(answer));
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || !request.url.startsWith(SCOPE) || request.headers.has("range")) return;
  const url = urlOf(request);
  if (knownURLs && !knownURLs.has(url)) return;
  event.respondWith(
    urls().then(async (known) => {
      if (known.has(url)) {
        const cached = await caches.match(url, { cacheName: CACHE });
        if (cached) return cached;
      }
      return fetch(request);
    }),
  );
});

/** The cache key a request maps to: a folder means its index.html; a page ignores its query. */
function urlOf(request) {
  const url = new URL(request.url);
  url.hash = "";
  if (request.mode === "navigate") url.search = "";
  if (url.pathname.endsWith("/")) url.pathname += "index.html";
  return url.href;
}

function urls() {
  cachedURLs ??= caches
    .open(CACHE)
    .then((cache) => cache.keys())
    .then((requests) => (knownURLs = new Set(requests.map((r) => r.url))));
  return cachedURLs;
}

/** The URL of a manifest path, as the browser writes it (spaces as %20, and so on). */
function urlFor(path) {
  return new URL(path.replace(/%/g, "%25").replace(/#/g, "%23").replace(/\?/g, "%3F"), SCOPE).href;
}

async function install() {
  const response = await fetch(urlFor(MANIFEST), { cache: "no-store" });
  if (!response.ok) throw new Error(`service worker: ${MANIFEST}: HTTP ${response.status}`);
  const manifest = await response.clone().json();
  const hash = await buildHash(manifest);
  if (hash !== BUILD) {
    throw new Error(`service worker: ${MANIFEST} belongs to another build (${hash.slice(0, 12)}, not ${BUILD.slice(0, 12)}); the next update check brings its worker`);
  }
  const cache = await caches.open(CACHE);
  const previous = await previousVersions();
  const paths = Object.keys(manifest.files).filter((path) => path !== SELF);
  let fetched = 0;
  let copied = 0;
  await inParallel(paths, PARALLEL, async (path) => {
    const url = urlFor(path);
    const expected = manifest.files[path].sha256;
    if (await cache.match(url)) return; // stored (and checked) by an interrupted install of this build
    const old = previous.get(path);
    if (old && old.sha256 === expected) {
      const kept = await old.cache.match(url);
      if (kept) {
        await cache.put(url, kept);
        copied++;
        return;
      }
    }
    await cache.put(url, await fetchChecked(url, path, expected));
    fetched++;
  });
  const record = { build: BUILD, files: paths.length + 1, fetched, copied };
  await cache.put(RECORD_URL, new Response(JSON.stringify(record), { headers: { "Content-Type": "application/json" } }));
  await cache.put(urlFor(MANIFEST), response); // last: a cache with the manifest is complete
  cachedURLs = null;
  knownURLs = null;
}

/** What this worker stored: { build, complete, files, fetched, copied }. */
async function status() {
  const record = await caches.match(RECORD_URL, { cacheName: CACHE });
  const complete = Boolean(await caches.match(urlFor(MANIFEST), { cacheName: CACHE }));
  return { build: BUILD, complete, ...(record ? await record.json() : {}) };
}

/** A file from the network whose bytes have the expected sha256. */
async function fetchChecked(url, path, expected) {
  let actual = "";
  for (const cache of ["no-cache", "reload"]) {
    const response = await fetch(url, { cache });
    if (!response.ok) throw new Error(`service worker: ${path}: HTTP ${response.status}`);
    actual = await sha256Hex(await response.clone().arrayBuffer());
    if (actual === expected) return response;
  }
  throw new Error(`service worker: ${path} has sha256 ${actual}, but ${MANIFEST} lists ${expected}`);
}

/** Files of the older versions' caches (this scope's): path -> { cache, sha256 }. */
async function previousVersions() {
  const found = new Map();
  for (const name of await caches.keys()) {
    if (!name.startsWith(PREFIX) || name === CACHE) continue;
    const cache = await caches.open(name);
    const stored = await cache.match(urlFor(MANIFEST));
    if (!stored) continue; // an interrupted install: its files were not all checked
    try {
      const files = (await stored.json()).files;
      for (const [path, entry] of Object.entries(files)) {
        if (!found.has(path)) found.set(path, { cache, sha256: entry.sha256 });
      }
    } catch {
      // an unreadable old manifest: download instead
    }
  }
  return found;
}

/**
 * The build's hash, as sitebuild/webapp.py computes it: sha256 of "pyodide\t<version>\n"
 * then "<path>\t<sha256>\t<source>\n" for each file but sw.js and lib/manifest.json, in
 * path order.
 */
async function buildHash(manifest) {
  const paths = Object.keys(manifest.files)
    .filter((path) => !NOT_HASHED.has(path))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let text = `pyodide\t${manifest.pyodide}\n`;
  for (const path of paths) text += `${path}\t${manifest.files[path].sha256}\t${manifest.files[path].source}\n`;
  return sha256Hex(new TextEncoder().encode(text));
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function inParallel(items, limit, work) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
