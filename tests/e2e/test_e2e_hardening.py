"""Hostile conditions in headless Chromium: CSP, tampered bytes, long sessions, memory
exhaustion, a fatal Pyodide error, and attempts to leave the machine."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from conftest import LOAD_TIMEOUT_MS, closing_safe, open_app, open_blank, watch_page

pytestmark = pytest.mark.e2e


def test_csp_violation_fails_the_watch(browser, base_url):
    context = browser.new_context()
    page = context.new_page()
    watch = watch_page(context, page)
    page.goto(base_url)
    page.wait_for_selector("body[data-ready=true]", timeout=LOAD_TIMEOUT_MS)
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1'; document.head.append(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.injected") is None
    errors = watch.take_console_errors()
    assert any("CSP violation: script-src" in e for e in errors), errors
    watch.assert_clean()
    context.close()


def test_tampered_wheel_makes_init_reject_with_a_clear_message(browser, base_url, dist):
    lock = json.loads((dist / "lib" / "pyodide-lock.json").read_text())
    context = browser.new_context()
    page = context.new_page()
    watch = watch_page(context, page)

    def tamper(route):
        body = bytearray((dist / "lib" / lock["packages"]["numpy"]["file_name"]).read_bytes())
        body[len(body) // 2] ^= 0xFF
        route.fulfill(status=200, body=bytes(body), content_type="application/zip")

    @closing_safe
    def spoil(route):  # the site's unpacked packages, so that the wheels are used
        body = bytearray(route.fetch().body())
        body[len(body) // 2] ^= 0xFF
        route.fulfill(status=200, body=bytes(body))

    page.route("**/lib/startup-packages.bin", spoil)
    page.route("**/numpy-*.whl", tamper)
    start = time.monotonic()
    page.goto(base_url)
    page.wait_for_selector("#error:not([hidden])", timeout=LOAD_TIMEOUT_MS)
    assert time.monotonic() - start < 30
    text = page.inner_text("#error")
    assert "Python could not start in this page." in text
    assert "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl is not the file this site was built with" in text
    assert lock["packages"]["numpy"]["sha256"] in text
    assert page.locator("#loading").is_hidden() and page.locator("#demo").is_hidden()
    # Chromium itself may report the refused integrity check (from the worker); nothing else may appear.
    errors = watch.take_console_errors()
    assert all("integrity" in e or "SRI" in e for e in errors), errors
    watch.assert_clean()
    context.close()


def test_soak_no_leaks_and_a_flat_heap(api):
    stats = api.evaluate(
        """() => {
          const model = new mm.MiniModel(128, 10);
          const x = new Float32Array(128);
          const a = new Float32Array(384), b = new Float32Array(384);
          for (let i = 0; i < 1000; i++) { x[0] = i; model.predict(x); a[0] = i; mm.cosineSimilarity(a, b); } // warm-up
          const before = mm.debugStats();
          const t0 = performance.now();
          for (let i = 0; i < 100000; i++) { x[i % 128] = (i % 97) / 97; model.predict(x); }
          const t1 = performance.now();
          for (let i = 0; i < 10000; i++) { a[i % 384] = i % 13; b[i % 384] = i % 7; mm.cosineSimilarity(a, b); }
          const t2 = performance.now();
          const after = mm.debugStats();
          model.dispose();
          return { before, after, predictUsPerCall: (t1 - t0) / 100, cosineUsPerCall: (t2 - t1) / 10 };
        }"""
    )
    print(f"\nsoak: {stats}")
    assert stats["after"]["liveProxies"] == stats["before"]["liveProxies"]
    assert stats["after"]["heapBytes"] - stats["before"]["heapBytes"] < 2**20


def test_memory_error_becomes_a_clear_js_error_and_the_page_goes_on(browser, base_url):
    context, page, watch = open_app(browser, base_url)
    result = page.evaluate(
        """async () => {
          const mm = await import('./lib/minimodel.js');
          await mm.init();
          const proxiesBefore = mm.debugStats().liveProxies;
          const models = [];
          let error = null;
          try { for (let i = 0; i < 40; i++) models.push(new mm.MiniModel(8192, 8192)); }
          catch (e) { error = { name: e.constructor.name, message: e.message, type: e.pythonType }; }
          const made = models.length;
          for (const m of models) m.dispose();
          const m = new mm.MiniModel(4, 2);
          const y = Array.from(m.predict([1, 2, 3, 4]));
          m.dispose();
          return { error, made, y, proxies: [proxiesBefore, mm.debugStats().liveProxies] };
        }"""
    )
    error = result["error"]
    assert error is not None and 5 < result["made"] < 40
    assert error["name"] == "RangeError"
    assert error["message"].startswith("new MiniModel: out of memory: the browser could not give Python more")
    assert "Unable to allocate 256. MiB" in error["message"] and "Traceback" not in error["message"]
    np.testing.assert_allclose(result["y"], [0.1, 0.1], rtol=1e-6)
    assert result["proxies"][0] == result["proxies"][1]
    watch.assert_clean()
    context.close()


def test_fatal_error_on_the_main_thread_fails_clearly_and_a_new_init_recovers(browser, base_url):
    context, page, watch = open_blank(browser, base_url)
    result = page.evaluate(
        """async () => {
          const mm = await import('./lib/minimodel.js');
          await mm.init();
          const heard = [];
          mm.onFatalError((e) => heard.push(e.message));
          const old = new mm.MiniModel(4, 2);
          let crash;
          // A wasm trap inside Python: Pyodide declares a fatal error.
          try { mm.getPyodide().runPython("import ctypes; ctypes.string_at(0xFFFFFFF0, 64)"); } catch (e) { crash = e.message; }
          const after = [];
          for (const call of [() => old.predict([1, 2, 3, 4]), () => mm.cosineSimilarity([1], [1]), () => new mm.MiniModel(2, 2)]) {
            try { call(); after.push('no error'); } catch (e) { after.push(e.constructor.name + ': ' + e.message); }
          }
          const info = await mm.init();              // a fresh runtime
          const fresh = Array.from(new mm.MiniModel(2, 1).predict([50, 50]));
          let stale;
          try { old.predict([1, 2, 3, 4]); } catch (e) { stale = e.message; }
          old.dispose();
          return { crash, after, heard, info, fresh, stale, stats: mm.debugStats() };
        }"""
    )
    assert "memory access out of bounds" in result["crash"]
    assert result["heard"] and "the Python runtime stopped after a fatal error" in result["heard"][0]
    assert result["after"][0].startswith("Error: MiniModel.predict: the Python runtime stopped after a fatal error")
    assert result["after"][1].startswith("Error: cosineSimilarity: the Python runtime stopped after a fatal error")
    assert "await init() to start a new one" in result["after"][2]
    assert result["info"]["pyodideVersion"] == "0.27.7"
    assert result["fresh"] == pytest.approx([1.0])
    assert "belongs to a Python runtime that stopped after a fatal error" in result["stale"]
    assert result["stats"]["kernels"] is True
    errors = watch.take_console_errors()  # Pyodide reports its fatal error on the console
    assert any("fatal error" in e for e in errors)
    watch.assert_clean()
    context.close()


def test_a_fatal_error_in_the_demo_worker_is_shown_and_survived(browser, base_url):
    context, page, watch = open_app(browser, base_url)
    crash = page.evaluate("() => window.demo.worker._crashForTest().then(() => 'no error', (e) => e.message)")
    assert "the minimodel worker stopped (a fatal Python error: memory access out of bounds)" in crash
    error = page.locator("#error")
    assert error.is_visible() and "Python stopped after a fatal error in the worker" in error.inner_text()
    # The next computation starts a new worker with the page's model restored.
    page.click("#reset")
    page.wait_for_function("() => document.getElementById('chart').dataset.version !== undefined")
    deadline = time.monotonic() + 20
    x = np.array(page.eval_on_selector_all("#sliders input", "els => els.map(e => Number(e.value))"), np.float32)
    expected = max(0.0, 0.01 * float(x.astype(np.float64).sum()))
    while time.monotonic() < deadline:
        shown = [float(t) for t in page.locator("#chart .bar-value").all_inner_texts()]
        if np.allclose(shown, expected, atol=6e-4):
            break
        page.wait_for_timeout(50)
    assert np.allclose(shown, expected, atol=6e-4)
    assert error.is_hidden()  # the model ran again: the crash notice is over
    assert page.evaluate("window.demo.worker.stats().crashes") == 1
    errors = watch.take_console_errors()
    assert any("fatal error" in e for e in errors)
    watch.assert_clean()
    context.close()


def test_requests_off_the_machine_are_blocked_twice(browser):
    """The route blocks them, and Chromium's resolver would not find the host anyway."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context()
    page = context.new_page()
    watch = watch_page(context, page)
    with pytest.raises(PlaywrightError, match="ERR_BLOCKED_BY_CLIENT"):
        page.goto("http://example.com/")
    assert watch.foreign_requests == ["http://example.com/"]
    watch.foreign_requests.clear()
    context.unroute("**/*")
    with pytest.raises(PlaywrightError, match="ERR_NAME_NOT_RESOLVED"):
        page.goto("http://cdn.jsdelivr.net/")
    watch.foreign_requests.clear()
    watch.take_console_errors()
    context.close()
