#!/usr/bin/env python3
"""Measure the search page (search.html) in headless Chromium on this machine:

* first visit in a new profile: bytes the server sent until the page was ready, time from
  navigation to the first answer on the sample, then the bytes of the service worker's
  install (the rest of the site, for offline use) and how long it took;
* repeat visit (the service worker serves the files; Python starts from the startup cache):
  time to the first answer;
* embedding speed in the worker: passages per second for a made-up document of about
  100-token paragraphs, as the page reports it.

    .venv/bin/python tools/measure_search_page.py [--passages 48]

It builds nothing: run `.venv/bin/python build.py` first. The numbers go to stdout.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))

from static_server import StaticHandler, start_in_thread  # noqa: E402

READY = "body[data-ready=true], #error:not([hidden])"


class CountingServer:
    """dist/ served on loopback, counting the body bytes of the 200 responses."""

    def __init__(self, root: Path) -> None:
        self.sent = 0
        self.before_sw: int | None = None  # bytes sent before the first request for sw.js
        outer = self

        class Counting(StaticHandler):
            def send_head(self):  # noqa: ANN201
                if outer.before_sw is None and self.path.split("?")[0].endswith("/sw.js"):
                    outer.before_sw = outer.sent
                handle = super().send_head()
                if handle is not None:
                    outer.sent += Path(handle.name).stat().st_size
                return handle

        self.server, self.url = start_in_thread(root, handler_class=Counting)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def first_answer(page, url: str, query: str, server: CountingServer) -> tuple[float, float, int]:
    """(seconds to ready, seconds to the first answer, bytes sent until ready: the page's own,
    as the service worker registers once the page is ready)."""
    start = time.monotonic()
    page.goto(url)
    page.wait_for_selector(READY, timeout=120_000)
    ready, sent = time.monotonic() - start, server.sent
    if page.locator("#error").is_visible():
        raise SystemExit(f"the page shows an error: {page.inner_text('#error')}")
    page.fill("#query", query)
    page.wait_for_function("(q) => document.getElementById('results').dataset.query === q", arg=query, timeout=60_000)
    answered = time.monotonic() - start
    print("  in the page (ms from the module's start):", page.evaluate("window.searchApp.timings"), page.inner_text("#ready-text"))
    return ready, answered, sent


def document(paragraphs: int) -> str:
    rng = random.Random(7)
    words = ("river mountain engine ledger harvest violin orbit lantern copper meadow signal bakery "
             "harbour glacier compass theatre pepper canyon station museum").split()
    return "\n\n".join(
        " ".join(f"{' '.join(rng.choice(words) for _ in range(rng.randint(9, 14))).capitalize()}." for _ in range(8))
        for _ in range(paragraphs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=48, help="paragraphs of the made-up document (default 48)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from conftest import CHROMIUM, CHROMIUM_ARGS

    server = CountingServer(ROOT / "dist")
    try:
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            context = playwright.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = context.new_page()
            ready, seconds, page_bytes = first_answer(page, server.url + "search.html", "read a CSV file", server)
            page_bytes = server.before_sw if server.before_sw is not None else page_bytes
            print(f"first visit: ready {ready:.1f} s, first answer on the sample {seconds:.1f} s after navigation; "
                  f"the page downloaded {page_bytes / 1e6:.1f} MB (before it registered the service worker)")
            start = time.monotonic()
            page.wait_for_selector("#offline-status[data-state=ready]", timeout=300_000)
            page.wait_for_timeout(500)
            print(f"service worker install: {(server.sent - page_bytes) / 1e6:.1f} MB more "
                  f"({server.sent / 1e6:.1f} MB in all), stored in {time.monotonic() - start:.1f} s")
            before = server.sent
            ready, seconds, _ = first_answer(page, server.url + "search.html", "parse command line arguments", server)
            print(f"repeat visit: ready {ready:.1f} s, first answer {seconds:.1f} s after navigation; "
                  f"{(server.sent - before) / 1e6:.2f} MB downloaded")

            text = document(args.passages)
            page.set_input_files("#files", [{"name": "made-up.txt", "mimeType": "text/plain", "buffer": text.encode()}])
            page.wait_for_selector("#add-status[data-outcome=done]", timeout=600_000)
            tokens = page.evaluate("""async () => { const app = window.searchApp; let n = 0;
              for (const p of app.collections.mine.passages) n += (await app.embedder.tokenize(p.text)).length;
              return [n, app.collections.mine.passages.length]; }""")
            print(f"embedding in the worker: {page.inner_text('#add-status')} "
                  f"({tokens[1]} passages, {tokens[0] / tokens[1]:.0f} tokens each on average)")
            context.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
