"""The site's snapshot (lib/startup-snapshot.bin, made by the build in headless Chromium): a
first visit restores the interpreter with numpy and minimodel imported instead of booting
Python, computes the same numbers as a booted one, and a damaged or missing snapshot makes
the page boot (and keep a snapshot of its own for the next visit), never break."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from conftest import closing_safe, open_app, open_blank, watch_page
from sitebuild import config, startup_packages, startup_snapshot
from test_e2e_startup_cache import VISIT, check_visit, wait_for_entries

SNAPSHOT, LAYOUT = (name.removeprefix(config.LIB) for name in startup_snapshot.OUTPUTS)
SITE_PACKAGES = startup_packages.PACKAGES.removeprefix(config.LIB)
STR_HASH = "async () => (await import('./lib/minimodel.js')).getPyodide().runPython('hash(\"minimodel\")')"


def test_a_first_visit_restores_the_sites_snapshot_with_the_same_numbers(browser, base_url, dist):
    context, page, watch = open_blank(browser, base_url)
    first = page.evaluate(VISIT, {})
    check_visit(first, from_cache=False, started="site")
    fetched = sorted(u.rsplit("/", 1)[-1] for u in watch.requests if "/lib/" in u and u.endswith((".whl", ".bin", LAYOUT)))
    assert fetched == sorted([SITE_PACKAGES, SNAPSHOT, LAYOUT])  # no wheel: the packages come unpacked
    # The packages and the site's snapshot, inflated, are kept in this browser's cache.
    wait_for_entries(page)
    stored = page.evaluate(
        """async () => {
          const cache = await caches.open('minimodel-runtime');
          const request = (await cache.keys()).find((r) => r.url.endsWith('/snapshot'));
          const digest = await crypto.subtle.digest('SHA-256', await (await cache.match(request)).arrayBuffer());
          return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
        }"""
    )
    assert stored == hashlib.sha256(gzip.decompress((dist / "lib" / SNAPSHOT).read_bytes())).hexdigest()
    first_hash = page.evaluate(STR_HASH)

    watch.requests.clear()
    page.reload()
    repeat = page.evaluate(VISIT, {})
    check_visit(repeat, from_cache=True)
    assert not [u for u in watch.requests if u.endswith((".whl", ".bin"))]  # both came from the cache
    assert repeat["y"] == first["y"] and repeat["cos"] == first["cos"]
    assert repeat["stats"]["liveProxies"] == first["stats"]["liveProxies"]
    assert first["random"] != repeat["random"]  # seeded afresh on each page
    # Every visitor of a build shares the str hash salt the build's snapshot froze (README,
    # "Startup cache"); a booted interpreter picks its own.
    other, other_page, other_watch = open_blank(browser, base_url)
    other_page.evaluate(VISIT, {})
    assert other_page.evaluate(STR_HASH) == first_hash
    other_page.reload()
    check_visit(other_page.evaluate(VISIT, {"cache": False}), from_cache=False, started="boot")
    assert other_page.evaluate(STR_HASH) != first_hash
    other_watch.assert_clean()
    other.close()
    watch.assert_clean()
    context.close()


@closing_safe
def flip_middle_byte(route):
    response = route.fetch()
    body = bytearray(response.body())
    body[len(body) // 2] ^= 0xFF
    route.fulfill(response=response, body=bytes(body))


def first_visit_spoiling(browser, base_url, file: str, spoil):
    """A first visit with one file of lib/ spoilt: the context, the page, its watch, the
    console warnings (kept coming) and init()'s progress events."""
    context, page, watch = open_blank(browser, base_url)
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    context.route(f"**/lib/{file}", spoil)
    progress = page.evaluate(
        "async () => { const seen = []; await (await import('./lib/minimodel.js')).init({ onProgress: (p) => seen.push(p) }); return seen; }"
    )
    return context, page, watch, warnings, progress


@pytest.mark.parametrize(
    ("file", "spoil", "why"),
    [
        (SNAPSHOT, flip_middle_byte, f"{SNAPSHOT} is not the file this site was built with"),
        (LAYOUT, flip_middle_byte, f"{LAYOUT} is not the file this site was built with"),
        (SNAPSHOT, lambda route: route.fulfill(status=404, body="gone"), "HTTP 404"),
    ],
    ids=["damaged snapshot", "damaged layout", "missing snapshot"],
)
def test_an_unusable_site_snapshot_boots_and_keeps_a_snapshot_of_its_own(browser, base_url, dist, file, spoil, why):
    context, page, watch, warnings, progress = first_visit_spoiling(browser, base_url, file, spoil)
    check_visit(page.evaluate(VISIT, {}), from_cache=False)
    assert any("site's interpreter snapshot" in w and why in w for w in warnings), warnings
    # The progress stops counting a snapshot that will not be used: only the packages are left.
    manifest = json.loads((dist / "lib" / "manifest.json").read_text())["files"]
    packages = [e for e in progress if e["stage"] == "packages"]
    assert packages[-1]["total"] == manifest[SITE_PACKAGES]["size"], packages[-3:]
    assert all(0 <= e["loaded"] <= e["total"] for e in progress)
    wait_for_entries(page)
    watch.requests.clear()
    page.reload()
    check_visit(page.evaluate(VISIT, {}), from_cache=True)  # this browser's own snapshot first
    assert not [u for u in watch.requests if u.endswith(SNAPSHOT)]
    watch.take_console_errors()  # the 404's "Failed to load resource"
    watch.assert_clean()
    context.close()


@pytest.mark.parametrize("spoil", [flip_middle_byte, lambda route: route.fulfill(status=404, body="gone")],
                         ids=["damaged", "missing"])
def test_unusable_site_packages_give_way_to_the_wheels(browser, base_url, dist, spoil):
    """The site's unpacked packages damaged or missing: a warning, the wheels are fetched and
    unpacked instead, and the site's snapshot restores over their files all the same."""
    context, page, watch, warnings, progress = first_visit_spoiling(browser, base_url, SITE_PACKAGES, spoil)
    first = page.evaluate(VISIT, {})
    check_visit(first, from_cache=False, started="site")
    assert any("site's unpacked packages are unusable" in w for w in warnings), warnings
    fetched = sorted(u.rsplit("/", 1)[-1] for u in watch.requests if u.endswith(".whl"))
    assert fetched == ["minimodel-0.1.0-py3-none-pyodide_2024_0_wasm32.whl", "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"]
    # The progress counts the wheels and the snapshot, not the file given up.
    manifest = json.loads((dist / "lib" / "manifest.json").read_text())["files"]
    expected = sum(manifest[name]["size"] for name in [*fetched, SNAPSHOT])
    assert [e for e in progress if e["stage"] == "packages"][-1]["total"] == expected
    assert all(0 <= e["loaded"] <= e["total"] for e in progress)
    wait_for_entries(page)
    page.reload()
    repeat = page.evaluate(VISIT, {})
    check_visit(repeat, from_cache=True)
    assert repeat["y"] == first["y"] and repeat["cos"] == first["cos"]
    watch.take_console_errors()  # the 404's "Failed to load resource"
    watch.assert_clean()
    context.close()


def test_a_wheel_that_fails_is_the_error_not_the_snapshot(browser, base_url):
    """On the site's snapshot's path a broken wheel makes init() reject with the wheel's
    own error, said once: not first blamed on the snapshot, then a boot that needs the
    same wheel."""
    context, page, watch = open_blank(browser, base_url)
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    context.route(f"**/lib/{SITE_PACKAGES}", lambda route: route.fulfill(status=404, body="gone"))  # so the wheels are used
    context.route("**/lib/numpy-*.whl", flip_middle_byte)
    message = page.evaluate(
        "async () => { try { await (await import('./lib/minimodel.js')).init(); } catch (e) { return e.message; } }"
    )
    assert "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl is not the file this site was built with" in message
    assert not [w for w in warnings if "snapshot" in w], warnings
    assert [w for w in warnings if "unpacked packages" in w]  # said once, and the wheels tried
    assert len([u for u in watch.requests if u.endswith("pyodide.asm.wasm")]) == 1  # no second start
    watch.take_console_errors()  # Pyodide's own report of the failed start, if any
    watch.assert_clean()
    context.close()


def test_workers_of_a_pool_start_from_the_sites_snapshot(browser, base_url):
    context, page, watch = open_blank(browser, base_url)
    result = page.evaluate(
        """async () => {
          const mm = await import('./lib/minimodel.js');
          const pool = await mm.createWorker({ workers: 2 });
          const started = pool._members.map((member) => member.info.startedFrom); // each worker's init()
          const net = await pool.createFeedForward([4, 3, 2]);
          const out = Array.from(await net.predictBatch(new Float32Array(8).fill(1), 2));
          await pool.terminate();
          return { started, out };
        }"""
    )
    assert result["started"] == ["site", "site"]
    assert len(result["out"]) == 4 and result["out"][:2] == result["out"][2:]
    watch.assert_clean()
    context.close()


def test_the_demo_page_says_python_started_from_the_sites_snapshot(browser, base_url):
    context, page, watch = open_app(browser, base_url)
    assert page.inner_text("#ready-text").endswith("started from the site's snapshot of Python.")
    watch.assert_clean()
    context.close()


def test_a_cached_snapshot_without_its_packages_gives_way_to_the_sites(browser, base_url):
    """This browser's snapshot restores only over the cached files it was taken with: when
    those are gone (storage cleared in part), the site's snapshot restores over the wheels."""
    context, page, watch = open_blank(browser, base_url)
    check_visit(page.evaluate(VISIT, {}), from_cache=False, started="site")
    urls = wait_for_entries(page)
    page.evaluate(
        """async () => {
          const cache = await caches.open('minimodel-runtime');
          await cache.delete((await cache.keys()).find((r) => r.url.endsWith('/packages')));
        }"""
    )
    page.reload()
    check_visit(page.evaluate(VISIT, {}), from_cache=False, started="site")
    assert wait_for_entries(page) == urls
    page.reload()
    check_visit(page.evaluate(VISIT, {}), from_cache=True)
    watch.assert_clean()
    context.close()


STATE = """async (options) => {
  const mm = await import('./lib/minimodel.js');
  const info = await mm.init(options);
  return { startedFrom: info.startedFrom, state: JSON.parse(mm.getPyodide().runPython(`
import json, locale, os, time
json.dumps({"tz": [time.tzname, time.timezone, time.altzone, time.daylight], "lang": os.environ["LANG"],
            "locale": locale.getlocale(), "clock": time.strftime("%H:%M %Z", time.localtime(1e9))})`)) };
}"""


@pytest.mark.parametrize(("zone", "language", "offset"), [
    ("Europe/Berlin", "de-DE", -3600), ("Australia/Sydney", "en-AU", -36000), ("Asia/Kolkata", "hi-IN", -19800)])
def test_a_restored_interpreter_has_the_visitors_time_zone_and_language(browser, base_url, zone, language, offset):
    """A snapshot freezes what libc read from the browser that took it (the build's: UTC,
    en-US): a restored interpreter, the site's then this browser's, must tell the visitor's
    time zone and language as a booted one does (offsets: the zones' standard time)."""
    context = browser.new_context(timezone_id=zone, locale=language)
    page = context.new_page()
    watch = watch_page(context, page)
    page.goto(base_url + "manifest.json")
    site = page.evaluate(STATE, {})
    wait_for_entries(page)
    page.reload()
    cached = page.evaluate(STATE, {})
    page.reload()
    booted = page.evaluate(STATE, {"cache": False})
    assert [site["startedFrom"], cached["startedFrom"], booted["startedFrom"]] == ["site", "cache", "boot"]
    assert booted["state"]["tz"][1] == offset and booted["state"]["lang"] == language.replace("-", "_") + ".UTF-8"
    assert site["state"] == booted["state"] and cached["state"] == booted["state"]
    watch.assert_clean()
    context.close()
