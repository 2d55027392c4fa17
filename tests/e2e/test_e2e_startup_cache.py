"""The startup cache (web/runtime-cache.js): a repeat visit restores the interpreter with
numpy and minimodel imported (a Pyodide memory snapshot) over the unpacked packages from
Cache Storage, computes the same numbers as a first visit, and a damaged or stale cache
never breaks a page.

This browser's own snapshot is what a site without a snapshot of its own uses (a build
without Chromium, or a site snapshot that did not restore here): every page of this module
is served the manifest without the site's snapshot. test_e2e_site_snapshot.py tests that
one, with the helpers here."""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import LOAD_TIMEOUT_MS, closing_safe, open_blank
from sitebuild import config, startup_packages, startup_snapshot

CACHE_URLS = "async () => (await (await caches.open('minimodel-runtime')).keys()).map((r) => r.url)"

# What a visit computes: numbers from every part of numpy the packages ship (the core,
# linalg, fft, random: each its own shared library; every extension module is imported)
# and from minimodel, plus the
# interpreter state a snapshot must not freeze or duplicate.
VISIT = """async (options) => {
  const mm = await import('./lib/minimodel.js');
  const info = await mm.init(options);
  const model = new mm.MiniModel(128, 10);
  const y = Array.from(model.predict(new Float32Array(128).fill(0.5)));
  model.dispose();
  const a = Float32Array.from({ length: 384 }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: 384 }, (_, i) => Math.cos(i / 3));
  const cos = mm.cosineSimilarity(a, b);
  const py = mm.getPyodide();
  const state = JSON.parse(py.runPython(`
import json, random, sys, importlib, importlib.metadata, pathlib
import numpy as np
site = [p for p in sys.path if p.endswith("site-packages")][0]
# Every extension module numpy ships imports (most are opened on first import, not at start).
extensions = sorted(str(p.relative_to(site)).split(".")[0].replace("/", ".") for p in pathlib.Path(site, "numpy").rglob("*.so"))
for name in extensions:
    importlib.import_module(name)
json.dumps({
    "rng": float(np.random.default_rng(1).random()),
    "legacyRng": float(np.random.RandomState(2).rand()),
    "extensions": len(extensions),
    "fft": np.fft.fft(np.arange(4.0)).real.tolist(),
    "inv": np.linalg.inv(np.array([[2.0, 1.0], [1.0, 3.0]])).ravel().tolist(),
    "random": random.random(),
    "emptyPathEntries": sys.path.count(""),
    "numpyVersion": importlib.metadata.version("numpy"),
    "installer": open(site + "/numpy-2.0.2.dist-info/INSTALLER").read(),
})`));
  // Python's view of JavaScript works whichever way the page started (methods that need
  // their real receiver: DOM, timers, fetch).
  const js = await py.runPythonAsync(`
from js import document, setTimeout
from pyodide.ffi import create_once_callable
from pyodide.http import pyfetch
div = document.createElement("div")
div.id = "made-by-python"
document.body.appendChild(div)
setTimeout(create_once_callable(lambda: None), 1)
response = await pyfetch("manifest.json")
f"{document.getElementById('made-by-python').id} {response.status}"`);
  document.getElementById('made-by-python').remove();
  return { info, y, cos, ...state, js, loaded: Object.keys(py.loadedPackages).sort(), stats: mm.debugStats() };
}"""


def reference() -> dict:
    a = np.sin(np.arange(384)).astype(np.float32).astype(np.float64)
    b = np.cos(np.arange(384) / 3).astype(np.float32).astype(np.float64)
    return {
        "cos": float(a @ b / np.sqrt((a @ a) * (b @ b))),
        "rng": float(np.random.default_rng(1).random()),
        "legacyRng": float(np.random.RandomState(2).rand()),
        "fft": np.fft.fft(np.arange(4.0)).real.tolist(),
        "inv": np.linalg.inv(np.array([[2.0, 1.0], [1.0, 3.0]])).ravel().tolist(),
    }


def check_visit(visit: dict, from_cache: bool, started: str | None = None) -> None:
    """A visit computed the reference numbers; it started from this browser's cache, or
    otherwise (`started`: "boot" by default, or "site")."""
    ref = reference()
    assert visit["info"]["fromCache"] is from_cache
    assert visit["info"]["startedFrom"] == ("cache" if from_cache else started or "boot")
    assert visit["info"]["numpyVersion"] == "2.0.2"
    assert visit["y"] == pytest.approx([0.64] * 10, rel=1e-6)
    assert visit["cos"] == pytest.approx(ref["cos"], rel=1e-6)
    assert visit["rng"] == ref["rng"] and visit["legacyRng"] == ref["legacyRng"]
    assert visit["extensions"] == 19
    assert visit["fft"] == pytest.approx(ref["fft"])
    assert visit["inv"] == pytest.approx(ref["inv"])
    assert visit["emptyPathEntries"] == 1
    assert visit["numpyVersion"] == "2.0.2"
    assert visit["installer"] == "pyodide.loadPackage"
    assert visit["loaded"] == ["minimodel", "numpy"]
    assert visit["stats"]["kernels"] is True
    assert visit["js"] == "made-by-python 200"


SITE_SNAPSHOT_FILES = [name.removeprefix(config.LIB) for name in startup_snapshot.OUTPUTS]
SITE_PACKAGES = startup_packages.PACKAGES.removeprefix(config.LIB)


def serve_checksum_module(page) -> None:
    """Let the page import web/lib/checksum.js (which has no imports) as ./test-only/checksum.js,
    to store an entry as another build would: the shipped library bundles it without
    exporting it."""
    source = (config.WEB / "lib" / "checksum.js").read_text(encoding="utf-8")
    page.route("**/test-only/checksum.js", lambda route: route.fulfill(body=source, content_type="text/javascript"))


def without_site_snapshot(context) -> None:
    """Serve this context the library's manifest without the site's snapshot, as a build
    without Chromium writes it."""

    def strip(route):
        response = route.fetch()
        manifest = response.json()
        for name in SITE_SNAPSHOT_FILES:
            manifest["files"].pop(name)
        route.fulfill(response=response, json=manifest)

    context.route("**/lib/manifest.json", closing_safe(strip))


def open_page(browser, base_url: str):
    """open_blank, on a site without a snapshot of its own."""
    context, page, watch = open_blank(browser, base_url)
    without_site_snapshot(context)
    return context, page, watch


def wait_for_entries(page) -> list[str]:
    """Until the first visit's save() has stored the entries (it runs after init) and
    deleted any older build's."""
    deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        urls = sorted(page.evaluate(CACHE_URLS))
        kinds = sorted(url.rsplit("/", 1)[-1] for url in urls)
        if kinds == ["packages", "snapshot"] and not any("/stale/" in url for url in urls):
            return urls
        page.wait_for_timeout(100)
    raise AssertionError(f"the cache entries were not stored: {urls}")


def starts_afresh_then_from_the_replaced_entries(page, warnings: list[str], why: str, urls: list[str]) -> None:
    """After the cache was spoilt: the next visit starts the normal way and says why (a
    warning containing `why`), and replaces the entries, so the visit after it restores."""
    page.reload()
    check_visit(page.evaluate(VISIT, {}), from_cache=False)
    assert any(why in w for w in warnings), warnings
    page.wait_for_timeout(500)
    wait_for_entries(page)
    page.reload()
    check_visit(page.evaluate(VISIT, {}), from_cache=True)
    assert sorted(page.evaluate(CACHE_URLS)) == urls


def test_repeat_visits_restore_from_the_cache_with_the_same_numbers(browser, base_url):
    context, page, watch = open_page(browser, base_url)
    # An entry left by an older build of the site: the first save must delete it.
    page.evaluate(
        """async () => (await caches.open('minimodel-runtime'))
             .put(new URL('lib/minimodel-cache/stale/snapshot', location.href), new Response('old'))"""
    )
    first = page.evaluate(VISIT, {})
    check_visit(first, from_cache=False)
    # The packages were fetched once, while the runtime started, as the site's unpacked
    # packages (one gzip stream; the wheels only if that fails: test_e2e_site_snapshot.py).
    fetched = [u.rsplit("/", 1)[-1] for u in watch.requests if u.endswith((".whl", SITE_PACKAGES))]
    assert fetched == [SITE_PACKAGES]
    urls = wait_for_entries(page)
    assert len(urls) == 2 and urls[0].split("/")[-2] == urls[1].split("/")[-2]
    key = urls[0].split("/")[-2]
    assert len(key) == 64

    repeats = []
    watch.requests.clear()
    for _ in range(2):
        page.reload()
        repeats.append(page.evaluate(VISIT, {}))
    assert not [u for u in watch.requests if u.endswith((".whl", SITE_PACKAGES))]  # the packages came from the cache
    for visit in repeats:
        check_visit(visit, from_cache=True)
        assert visit["y"] == first["y"] and visit["cos"] == first["cos"]
    # Restored starts hold the same live PyProxies as a first visit: nothing accumulates,
    # and a later loadPackage adds none (as after a first visit).
    assert {v["stats"]["liveProxies"] for v in repeats} == {first["stats"]["liveProxies"]}
    assert page.evaluate(
        """async () => {
          const mm = await import('./lib/minimodel.js');
          const before = mm.debugStats().liveProxies;
          await mm.getPyodide().loadPackage('micropip', { messageCallback: () => {} });
          return mm.debugStats().liveProxies - before;
        }"""
    ) == 0
    # Python's random module is seeded afresh on each page, not frozen by the snapshot.
    assert len({first["random"], repeats[0]["random"], repeats[1]["random"]}) == 3
    assert sorted(page.evaluate(CACHE_URLS)) == urls  # nothing new stored by a cached start
    watch.assert_clean()
    context.close()


def test_cache_false_neither_reads_nor_writes(browser, base_url):
    context, page, watch = open_page(browser, base_url)
    first = page.evaluate(VISIT, {"cache": False})
    check_visit(first, from_cache=False)
    page.wait_for_timeout(1500)  # a save would have happened by now
    assert page.evaluate(CACHE_URLS) == []
    # With entries present, cache: false still starts the normal way.
    page.reload()
    page.evaluate(VISIT, {})
    wait_for_entries(page)
    page.reload()
    check_visit(page.evaluate(VISIT, {"cache": False}), from_cache=False)
    watch.assert_clean()
    context.close()


@pytest.mark.parametrize("damaged", ["snapshot", "packages", "both"])
def test_a_damaged_cache_falls_back_and_is_replaced(browser, base_url, damaged):
    context, page, watch = open_page(browser, base_url)
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type in ("warning", "info") else None)
    page.evaluate(VISIT, {})
    urls = wait_for_entries(page)
    # Flip one byte in the middle of each chosen entry, keeping its stored checksum header.
    page.evaluate(
        """async (kinds) => {
          const cache = await caches.open('minimodel-runtime');
          for (const request of await cache.keys()) {
            if (!kinds.some((kind) => request.url.endsWith('/' + kind))) continue;
            const response = await cache.match(request);
            const bytes = new Uint8Array(await response.arrayBuffer());
            bytes[bytes.length >> 1] ^= 0xff;
            await cache.put(request, new Response(bytes, { headers: response.headers }));
          }
        }""",
        ["snapshot", "packages"] if damaged == "both" else [damaged],
    )
    starts_afresh_then_from_the_replaced_entries(page, warnings, "is damaged", urls)
    watch.assert_clean()
    context.close()


def test_the_worker_uses_the_same_cache(browser, base_url):
    context, page, watch = open_page(browser, base_url)
    page.evaluate(VISIT, {})
    wait_for_entries(page)
    result = page.evaluate(
        """async () => {
          const mm = await import('./lib/minimodel.js');
          const worker = await mm.createWorker();
          const model = await worker.createModel(128, 10);
          const y = Array.from(await model.predict(new Float32Array(128).fill(0.5)));
          const info = worker.info;
          await worker.terminate();
          let bad;
          try { await mm.createWorker({ cache: 'yes' }); } catch (e) { bad = e.constructor.name + ': ' + e.message; }
          return { info, y, bad };
        }"""
    )
    assert result["info"]["fromCache"] is True
    assert result["y"] == pytest.approx([0.64] * 10, rel=1e-6)
    assert result["bad"] == 'TypeError: createWorker: cache must be true or false; received string "yes"'
    watch.assert_clean()
    context.close()


def test_cached_packages_that_do_not_import_are_dropped(browser, base_url):
    """An entry whose checksum is right but whose files are not (a buggy writer, say). A
    restored start reads no Python file from it (the snapshot holds the imported modules),
    but it loads the shared libraries: numpy's core library without its wasm header makes
    the snapshot unusable, then the plain boot fails to import numpy."""
    context, page, watch = open_page(browser, base_url)
    serve_checksum_module(page)
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.evaluate(VISIT, {})
    wait_for_entries(page)
    page.evaluate(
        """async () => {
          const cache = await caches.open('minimodel-runtime');
          const request = (await cache.keys()).find((r) => r.url.endsWith('/packages'));
          const bytes = new Uint8Array(await (await cache.match(request)).arrayBuffer());
          const headerLength = new DataView(bytes.buffer).getUint32(0, true);
          const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength)));
          const numpy = header.packages.find((p) => p.name === 'numpy');
          const core = 'numpy/_core/_multiarray_umath.cpython-312-wasm32-emscripten.so';
          const [, offset] = numpy.files.find(([path]) => path === core);
          bytes.fill(0, 4 + headerLength + offset, 4 + headerLength + offset + 8);
          const { checksum } = await import('./test-only/checksum.js');
          await cache.put(request, new Response(bytes, { headers: { 'x-minimodel-checksum': checksum(bytes) } }));
        }"""
    )
    page.reload()
    check_visit(page.evaluate(VISIT, {}), from_cache=False)
    assert any("the cached interpreter did not restore" in w and "_multiarray_umath" in w for w in warnings), warnings
    assert any("the cached packages did not install" in w for w in warnings), warnings
    assert page.evaluate(CACHE_URLS) == []  # both entries forgotten
    page.reload()
    check_visit(page.evaluate(VISIT, {}), from_cache=False)  # fills the cache anew
    wait_for_entries(page)
    page.reload()
    check_visit(page.evaluate(VISIT, {}), from_cache=True)
    watch.assert_clean()
    context.close()


def test_the_demo_page_starts_from_the_cache_on_a_second_visit(browser, base_url):
    # The demo's worker fetches the manifest itself, which a route does not see: the first
    # visit, which boots and keeps its snapshot, is a page of the same origin that has none
    # (the cache is the origin's, shared by its workers).
    context, page, watch = open_page(browser, base_url)
    check_visit(page.evaluate(VISIT, {}), from_cache=False)
    wait_for_entries(page)
    page.goto(base_url)
    page.wait_for_selector("body[data-ready=true], #error:not([hidden])", timeout=LOAD_TIMEOUT_MS)
    assert page.locator("#error").is_hidden()
    assert page.inner_text("#ready-text").endswith("started from this browser's cache.")
    # The model section computes as on a first visit: 0.01 * sum of the sliders, ReLU'd.
    assert page.evaluate(
        """async () => {
          const model = await window.demo.worker.createModel(4, 2);
          const y = Array.from(await model.predict(new Float32Array([1, 2, 3, 4])));
          await model.dispose();
          return y;
        }"""
    ) == pytest.approx([0.1, 0.1], rel=1e-6)
    watch.assert_clean()
    context.close()


def test_with_another_pyodide_version_python_opens_every_library_itself(browser, base_url):
    """The Pyodide internals the cache and the early library loading use are written for
    one version (pyodide-adapter.js): with another, neither is used, Python opens every
    shared library itself when it imports it, and the page computes the same numbers."""
    context, page, watch = open_page(browser, base_url)
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)

    def other_version(route):
        response = route.fetch()
        manifest = response.json()
        manifest["pyodide"] = "0.27.6"
        route.fulfill(response=response, json=manifest)

    page.route("**/lib/manifest.json", closing_safe(other_version))
    for _ in range(2):
        check_visit(page.evaluate(VISIT, {}), from_cache=False)
        page.wait_for_timeout(1000)  # a save would have happened by now
        assert page.evaluate(CACHE_URLS) == []
        page.reload()
    assert any("written for Pyodide 0.27.7, running with 0.27.6" in w for w in warnings), warnings
    watch.assert_clean()
    context.close()


def test_a_snapshot_taken_over_other_libraries_is_not_restored(browser, base_url):
    """A snapshot restores only over the libraries it was taken over, loaded in the same
    order (another build of the library code could load others with the same wheels):
    otherwise it is refused before the heap is restored, and replaced."""
    context, page, watch = open_page(browser, base_url)
    serve_checksum_module(page)
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.evaluate(VISIT, {})
    urls = wait_for_entries(page)
    layout = page.evaluate(
        """async () => {
          const cache = await caches.open('minimodel-runtime');
          const request = (await cache.keys()).find((r) => r.url.endsWith('/snapshot'));
          const response = await cache.match(request);
          const layout = JSON.parse(response.headers.get('x-minimodel-layout'));
          // As another build would store it: a consistent layout (with its own checksum).
          const text = JSON.stringify({ ...layout, libraries: [...layout.libraries].reverse() });
          const { checksum } = await import('./test-only/checksum.js');
          const headers = new Headers(response.headers);
          headers.set('x-minimodel-layout', text);
          headers.set('x-minimodel-layout-checksum', checksum(new TextEncoder().encode(text)));
          await cache.put(request, new Response(await response.arrayBuffer(), { headers }));
          return layout;
        }"""
    )
    assert [p.split("/")[-1].split(".")[0] for p in layout["libraries"]] == [
        "_multiarray_tests", "_multiarray_umath", "_umath_linalg", "libminimodel_kernels"]
    starts_afresh_then_from_the_replaced_entries(
        page, warnings, "the cached interpreter did not restore (it was taken over other libraries", urls)
    watch.assert_clean()
    context.close()


def test_a_runtime_that_fails_before_python_starts_is_an_error_not_a_hang(browser, base_url):
    """With a cache to restore, the runtime's script missing (a broken deployment) fails
    loadPyodide before the hook that installs the packages has run: init() still rejects
    with the cause, every way of starting having been tried."""
    context, page, watch = open_page(browser, base_url)
    page.evaluate(VISIT, {})
    wait_for_entries(page)
    page.reload()
    page.route("**/lib/pyodide.asm.js", lambda route: route.fulfill(status=404, body="gone"))
    started = time.monotonic()
    error = page.evaluate(
        """async () => {
          const mm = await import('./lib/minimodel.js');
          const hang = new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 45 s')), 45000));
          try { await Promise.race([mm.init(), hang]); return null; } catch (e) { return e.constructor.name + ': ' + e.message; }
        }"""
    )
    assert time.monotonic() - started < 60
    assert error is not None and "pyodide.asm.js" in error, error
    watch.take_console_errors()
    context.close()


def test_a_damaged_snapshot_layout_is_refused_and_replaced(browser, base_url):
    """The layout stored with the snapshot (its libraries, its dlopen handles) is checked by
    its own checksum: one handle changed in it (a wrong handle would reach the wrong library
    later) makes the page start the normal way and replace the snapshot."""
    context, page, watch = open_page(browser, base_url)
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.evaluate(VISIT, {})
    urls = wait_for_entries(page)
    page.evaluate(
        """async () => {
          const cache = await caches.open('minimodel-runtime');
          const request = (await cache.keys()).find((r) => r.url.endsWith('/snapshot'));
          const response = await cache.match(request);
          const layout = JSON.parse(response.headers.get('x-minimodel-layout'));
          layout.dlopened[0][0] += 8;
          const headers = new Headers(response.headers);
          headers.set('x-minimodel-layout', JSON.stringify(layout));
          await cache.put(request, new Response(await response.arrayBuffer(), { headers }));
        }"""
    )
    starts_afresh_then_from_the_replaced_entries(page, warnings, "the cached snapshot is damaged (its layout", urls)
    watch.assert_clean()
    context.close()


def test_a_start_counts_its_own_proxies_and_leaves_the_stack_trace_limit(browser, base_url):
    """init() makes the bridge's proxies with Pyodide's allocation tracing on but their stacks
    left empty (pyodide-adapter.js withoutAllocationStacks): they are counted all the same,
    and the page's Error.stackTraceLimit is what it was, for every start."""
    context, page, watch = open_blank(browser, base_url)
    probe = """async () => {
      Error.stackTraceLimit = 37;
      const mm = await import('./lib/minimodel.js');
      const info = await mm.init();
      const live = mm.debugStats().liveProxies;
      const model = new mm.MiniModel(4, 2);
      const withModel = mm.debugStats().liveProxies;
      model.dispose();
      const frames = (function deep(n) { return n ? deep(n - 1) : new Error('x').stack.split('\\n').length - 1; })(60);
      return { startedFrom: info.startedFrom, limit: Error.stackTraceLimit, frames, live, withModel, after: mm.debugStats().liveProxies };
    }"""
    first = page.evaluate(probe)
    wait_for_entries(page)
    page.reload()
    repeat = page.evaluate(probe)
    assert [first["startedFrom"], repeat["startedFrom"]] == ["site", "cache"]
    for got in (first, repeat):
        assert got["limit"] == 37 and got["frames"] == 37
        assert got["live"] >= 10  # the bridge module and the functions the library keeps
        assert got["withModel"] > got["live"] and got["after"] == got["live"]  # a model's proxies, then none
    assert repeat["live"] == first["live"]
    watch.assert_clean()
    context.close()
