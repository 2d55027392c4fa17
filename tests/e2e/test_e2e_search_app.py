"""The search page (search.html): the sample answers as you type; your own documents are
split, embedded in the worker with progress, searched with the scores CPython computes,
kept in IndexedDB across visits and forgotten on request; a cancelled run keeps what it
embedded; the service worker makes the site work offline (server unreachable or gone) and
re-caches only what a new build changed; the web app manifest makes it installable."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import IDLE_FRAME_GAPS, LOAD_TIMEOUT_MS, assert_responsive, frame_gap_limit, open_from_disk, watch_page

pytestmark = pytest.mark.e2e

MODEL = Path("lib/models/all-MiniLM-L6-v2")
LIVE_PROXIES = "async () => (await window.searchApp.worker.debugStats()).liveProxies"
READY = "body[data-ready=true], #error:not([hidden])"

GARDEN = """# Notes from the allotment

Tomatoes need deep watering two or three times a week in summer. Water the soil in the early
morning, not the leaves, so the plants do not catch blight.

The compost heap should be turned every month. Mix green cuttings with brown cardboard and dry
leaves to keep it from smelling.

## Pests

Slugs come out after rain. A ring of crushed eggshells or copper tape around the lettuces keeps
most of them away.
"""

INVOICES = """Invoices are sent on the first working day of each month. Payment is due within thirty
days; after that a reminder goes out automatically.

To correct an invoice, cancel it with a credit note and issue a new one with the right amounts.
Never edit an invoice that has already been sent.

Travel expenses are refunded with the next salary if the receipts arrive before the 20th of the month.
"""


def open_search(context, url: str):
    page = context.new_page()
    watch = watch_page(context, page)
    page.goto(url)
    wait_ready(page)
    return page, watch


def wait_ready(page) -> None:
    page.wait_for_selector(READY, timeout=LOAD_TIMEOUT_MS)
    error = page.locator("#error")
    assert error.is_hidden(), f"the page shows an error: {error.inner_text()}"


def search(page, query: str, collection: str | None = None) -> list[dict]:
    """Type the query (no Enter: the page answers as you type); the results shown for it."""
    if collection:
        page.check(f"#use-{collection}")
    page.fill("#query", "")
    page.type("#query", query, delay=15)
    page.wait_for_function(
        "(q) => document.getElementById('results').dataset.query === q", arg=query, timeout=60_000)
    return page.eval_on_selector_all(
        "#results li",
        """items => items.map((li) => ({ file: li.dataset.file, position: Number(li.dataset.position),
             score: Number(li.dataset.score), shown: li.querySelector('.score').textContent,
             text: li.querySelector('.passage').textContent }))""",
    )


def wait_offline_ready(page) -> None:
    page.wait_for_selector("#offline-status[data-state=ready]", timeout=LOAD_TIMEOUT_MS)


@pytest.fixture(scope="module")
def tokenizer_count(dist):
    from minimodel.tokenizer import WordPieceTokenizer

    tokenizer = WordPieceTokenizer.from_json((dist / MODEL / "tokenizer.json").read_bytes(), max_length=256)
    return lambda text: len(tokenizer.encode(text))


@pytest.fixture(scope="module")
def embedder(dist):
    from minimodel import TextEmbedder

    return TextEmbedder.from_pretrained(dist / MODEL)


# ----------------------------------------------------------------------------- the sample


RECORD_LOADING = """document.addEventListener('DOMContentLoaded', () => {
  window.loadingTexts = [];
  for (const id of ['load-text', 'model-text']) {
    const element = document.getElementById(id);
    new MutationObserver(() => window.loadingTexts.push(element.textContent))
      .observe(element, { childList: true, characterData: true, subtree: true });
  }
});"""


def test_the_sample_answers_as_you_type(browser, base_url, dist):
    context = browser.new_context()
    context.add_init_script(RECORD_LOADING)
    start = time.monotonic()
    page, watch = open_search(context, base_url + "search.html")
    # Loading showed where it was: Python's download, then the model's, in megabytes.
    texts = page.evaluate("window.loadingTexts")
    weights_mb = (dist / MODEL / "model.safetensors").stat().st_size / 1e6
    assert any(t.startswith("Downloading the Python runtime… ") and " MB of " in t for t in texts), texts
    assert any(t.startswith("Downloading the model… ") and t.endswith(f" of {weights_mb:.1f} MB") for t in texts), texts
    assert texts.index("Preparing the model in Python…") < texts.index(
        "all-MiniLM-L6-v2 is ready (384 dimensions, up to 256 tokens a passage).")
    page.fill("#query", "read a CSV file")  # as soon as it is ready: the first answer
    page.wait_for_function("() => document.getElementById('results').dataset.query === 'read a CSV file'")
    first_result = time.monotonic() - start
    before = page.evaluate(LIVE_PROXIES)

    # Typed key by key, no button and no Enter: intermediate queries are overtaken.
    results = search(page, "how do I read rows from a CSV file")
    assert len(results) == 10
    assert [r["file"].split(".")[0] for r in results[:3]] == ["csv"] * 3, results[:3]
    assert all(r["shown"] == f"{r['score']:.3f}" for r in results)
    assert results == sorted(results, key=lambda r: -r["score"])
    assert "The 10 best of" in page.inner_text("#search-status")
    top = search(page, "parse command line arguments")[0]
    assert top["file"].startswith("argparse")
    assert page.is_checked("#use-sample") and page.is_disabled("#use-mine")  # no documents of your own yet

    after = page.evaluate(LIVE_PROXIES)
    assert after == before, f"live PyProxies went from {before} to {after}"
    watch.assert_clean()
    print(f"\nfirst visit: first answer {first_result:.1f} s after navigation")
    context.close()


# ----------------------------------------------------------------------------- own documents


def test_own_documents_are_embedded_searched_kept_and_forgotten(browser, base_url, tokenizer_count, embedder):
    from sitebuild.search_sample import split_passages

    context = browser.new_context()
    page, watch = open_search(context, base_url + "search.html")
    without_documents = page.evaluate(LIVE_PROXIES)
    # Watch the bar from the page itself: every value it shows, and the rate.
    page.evaluate("""() => { window.barValues = []; new MutationObserver(() => window.barValues.push(
        document.getElementById('embed-bar').value)).observe(document.getElementById('embed-text'),
        { childList: true, characterData: true, subtree: true }); }""")
    page.set_input_files("#files", [
        {"name": "garden.md", "mimeType": "text/markdown", "buffer": GARDEN.encode()},
        {"name": "invoices.txt", "mimeType": "text/plain", "buffer": INVOICES.encode()},
        {"name": "photo.txt", "mimeType": "text/plain", "buffer": bytes(range(256))},
    ])
    page.wait_for_selector("#add-status[data-outcome=done]", timeout=60_000)
    values = page.evaluate("window.barValues")
    assert values[-1] == 1 and values == sorted(values), values
    assert "photo.txt was skipped: it is not a text file" in page.inner_text("#add-problems")
    status = page.inner_text("#add-status")
    assert "passages/s" in status and "saved in this browser" in status, status
    assert float(page.get_attribute("#embed-text", "data-rate")) > 0

    # The page's passages are the ones the build's splitter makes (the same algorithm).
    stored = page.evaluate("window.searchApp.collections.mine.passages")
    expected = [{"file": name, "position": i, "text": t}
                for name, doc in (("garden.md", GARDEN), ("invoices.txt", INVOICES))
                for i, t in enumerate(split_passages(doc, tokenizer_count, 256))]
    assert stored == expected

    query = "when should I water the tomatoes?"
    results = search(page, query, "mine")
    before = page.evaluate(LIVE_PROXIES)  # with the new index
    assert results[0]["file"] == "garden.md" and "Tomatoes need deep watering" in results[0]["text"]
    vectors = embedder.embed([results[0]["text"], query]).astype(np.float64)
    cosine = vectors[0] @ vectors[1] / np.linalg.norm(vectors[0]) / np.linalg.norm(vectors[1])
    assert abs(results[0]["score"] - cosine) <= 1e-4, (results[0]["score"], cosine)
    assert search(page, "how do I fix a wrong invoice")[0]["file"] == "invoices.txt"
    assert "credit note" in page.inner_text("#results li >> nth=0")

    page.click("#add-paste")  # an empty paste
    assert page.inner_text("#add-status") == "The pasted text is empty: paste some text into the box first."
    assert page.evaluate(LIVE_PROXIES) == before
    watch.assert_clean()

    # A later visit searches at once: from IndexedDB, no embedding.
    page.reload()
    wait_ready(page)
    assert page.is_checked("#use-mine")
    assert page.locator("#embedding").is_hidden()
    assert "2 documents" in page.inner_text("#mine-summary")
    assert search(page, query)[0]["file"] == "garden.md"
    assert page.evaluate("window.searchApp.collections.mine.passages") == expected

    page.click("#forget")
    page.wait_for_function("() => document.getElementById('forget-status').textContent.startsWith('Your documents')")
    assert page.inner_text("#forget-status") == "Your documents were deleted from this browser."
    assert page.evaluate(LIVE_PROXIES) == without_documents  # the index is freed
    assert page.is_checked("#use-sample") and page.is_disabled("#use-mine")
    page.reload()
    wait_ready(page)
    assert page.is_checked("#use-sample") and "None yet" in page.inner_text("#mine-summary")

    # A damaged record is dropped with a notice; the page works on.
    page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open('minimodel-search', 1);
        open.onsuccess = () => {
          const tx = open.result.transaction('documents', 'readwrite');
          tx.objectStore('documents').put({ version: 1, model: 'all-MiniLM-L6-v2', dim: 384,
            passages: [{ file: 'a.txt', position: 0, text: 'x' }], index: new Uint8Array([1, 2, 3]), savedAt: 0 }, 'mine');
          tx.oncomplete = () => { open.result.close(); resolve(); };
          tx.onerror = () => reject(tx.error);
        };
        open.onerror = () => reject(open.error);
      })""")
    page.reload()
    wait_ready(page)
    notice = page.inner_text("#storage-notice")
    assert notice.startswith("Your saved documents could not be read back (") and "were removed" in notice, notice
    assert page.is_checked("#use-sample")
    assert search(page, "read a CSV file")[0]["file"].startswith("csv")

    # Storage full: the documents stay searchable for the session, and the page says so.
    page.evaluate("""() => { IDBObjectStore.prototype.put = function () {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };
      // And Web Locks refused, as where site data is blocked: changes run without the lock.
      navigator.locks.request = () => Promise.reject(new DOMException('denied by the test', 'SecurityError')); }""")
    page.fill("#paste", "Bees visit the lavender hedge all through July.")
    page.click("#add-paste")
    page.wait_for_selector("#add-status[data-outcome=done]", timeout=60_000)
    assert "kept for this session" in page.inner_text("#add-status")
    notice = page.inner_text("#storage-notice")
    assert "storage for this site is full" in notice and "stay searchable until you close this page" in notice, notice
    assert "kept until you close this page" in page.inner_text("#mine-summary"), "not 'kept in this browser'"
    assert search(page, "which flowers do bees like", "mine")[0]["file"] == "Pasted text"
    watch.assert_clean()
    context.close()


def long_document(paragraphs: int) -> str:
    rng = random.Random(7)
    words = ("river mountain engine ledger harvest violin orbit lantern copper meadow signal bakery "
             "harbour glacier compass theatre pepper canyon station museum").split()
    return "\n\n".join(
        " ".join(f"{' '.join(rng.choice(words) for _ in range(rng.randint(9, 14))).capitalize()}." for _ in range(6))
        for _ in range(paragraphs)
    )


def test_cancel_keeps_what_was_embedded_and_the_page_stays_responsive(browser, base_url):
    context = browser.new_context()
    # This browser refuses storage: the page says so and works for the session.
    context.add_init_script(
        "Object.defineProperty(window, 'indexedDB', { get() { throw new DOMException('denied by the test', 'SecurityError'); } });"
        "navigator.locks.request = () => Promise.reject(new DOMException('denied by the test', 'SecurityError'));")
    page, watch = open_search(context, base_url + "search.html")
    notice = page.inner_text("#storage-notice")
    assert "does not let this page store data" in notice and "forgotten when you close this page" in notice, notice

    page.set_input_files("#files", [{"name": "long.txt", "mimeType": "text/plain", "buffer": long_document(48).encode()}])
    page.wait_for_function("() => /Embedding (8|9|\\d\\d) of/.test(document.getElementById('embed-text').textContent)",
                           timeout=60_000)
    # Embedding runs in the worker: the page keeps drawing frames meanwhile.
    assert_responsive(page, lambda: max(page.evaluate(IDLE_FRAME_GAPS)), limit=max(50.0, frame_gap_limit(page)))
    page.click("#embed-cancel")
    page.wait_for_selector("#add-status[data-outcome=cancelled]", timeout=10_000)
    status = page.inner_text("#add-status")
    kept = int(status.split("Kept the ")[1].split(" ")[0])
    assert status.startswith("Cancelled. Kept the ") and "kept for this session" in status, status
    assert kept % 8 == 0 and 8 <= kept < 48
    assert page.locator("#embedding").is_hidden(), "no frozen progress bar or time estimate left behind"
    assert page.evaluate("window.searchApp.collections.mine.passages.length") == kept
    assert page.evaluate("window.searchApp.collections.mine.index.size") == kept
    # The page answers at once, and searching works again (the worker was replaced).
    assert page.evaluate("() => { const t = performance.now(); document.getElementById('query').focus(); return performance.now() - t; }") < 100
    results = search(page, "harbour glacier compass", "mine")
    assert results and all(r["file"] == "long.txt" for r in results)
    assert "kept until you close this page" in page.inner_text("#mine-summary")
    before = page.evaluate(LIVE_PROXIES)  # in the new worker, with the index restored
    search(page, "copper lantern museum")
    search(page, "read a CSV file", "sample")
    assert page.evaluate(LIVE_PROXIES) == before
    # Adding the same file again adds the rest of it; a third time, nothing.
    page.set_input_files("#files", [{"name": "long.txt", "mimeType": "text/plain", "buffer": long_document(48).encode()}])
    page.wait_for_selector("#add-status[data-outcome=done]", timeout=60_000)
    assert page.inner_text("#add-problems") == f"long.txt: adding the {48 - kept} passages not embedded before."
    positions = page.evaluate("window.searchApp.collections.mine.passages.map((p) => p.position)")
    assert positions == list(range(48)) and page.evaluate("window.searchApp.collections.mine.index.size") == 48
    page.set_input_files("#files", [{"name": "long.txt", "mimeType": "text/plain", "buffer": long_document(48).encode()}])
    page.wait_for_function("() => document.getElementById('add-status').textContent === 'Nothing was added.'")
    assert page.inner_text("#add-problems") == "long.txt was skipped: it is already in your documents."
    page.set_input_files("#files", [{"name": "long.txt", "mimeType": "text/plain", "buffer": b"Another text altogether."}])
    page.wait_for_function("() => document.getElementById('add-problems').textContent.includes('different')")
    assert page.inner_text("#add-problems") == "long.txt was skipped: a different document of that name is already in your documents."
    watch.assert_clean()
    context.close()


def test_other_encodings_drops_beside_the_box_and_forget_during_a_run(browser, base_url):
    context = browser.new_context()
    page, watch = open_search(context, base_url + "search.html")
    garden = "The rose garden opens in spring. Its gardeners prune the hedges in March."
    page.set_input_files("#files", [
        {"name": "notepad.txt", "mimeType": "text/plain", "buffer": b"\xff\xfe" + garden.encode("utf-16-le")},
        {"name": "old.txt", "mimeType": "text/plain", "buffer": "Café crème, déjà vu: naïve façades.".encode("cp1252")},
    ])
    page.wait_for_selector("#add-status[data-outcome=done]", timeout=60_000)
    assert page.inner_text("#add-problems") == "old.txt: read as Windows-1252 (Latin-1) text, since it is not UTF-8."
    texts = page.evaluate("window.searchApp.collections.mine.passages.map((p) => p.text)")
    assert texts == [garden, "Café crème, déjà vu: naïve façades."]

    # A file dropped beside the box is added too; the page stays (the browser would open the file).
    page.evaluate("""() => {
      const data = new DataTransfer();
      data.items.add(new File([document.querySelector('h1').textContent + ' ' + 'the lighthouse keeper. '.repeat(3000)], 'long.txt', { type: 'text/plain' }));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }""")
    page.wait_for_function("() => /Embedding (8|9|\\d\\d) of/.test(document.getElementById('embed-text').textContent)",
                           timeout=60_000)
    assert page.url.endswith("search.html")
    # Forget during the run: the run stops at once and everything is forgotten.
    page.click("#forget")
    assert page.inner_text("#forget-status") == "Forgetting your documents…"
    page.wait_for_selector("#add-status[data-outcome=cancelled]", timeout=10_000)
    page.wait_for_function("() => document.getElementById('forget-status').textContent.startsWith('Your documents were')")
    assert page.evaluate("window.searchApp.collections.mine.passages.length") == 0
    assert page.locator("#embedding").is_hidden()
    watch.assert_clean()
    context.close()


def test_a_paste_after_a_reload_gets_a_name_of_its_own(browser, base_url):
    context = browser.new_context()
    page, watch = open_search(context, base_url + "search.html")
    for text, name in (("Bees visit the lavender hedge all through July.", "Pasted text"),
                       ("Swallows nest under the barn roof every May.", "Pasted text 2")):
        page.fill("#paste", text)
        page.click("#add-paste")
        page.wait_for_selector("#add-status[data-outcome=done]", timeout=60_000)
        assert page.evaluate("window.searchApp.collections.mine.passages.map((p) => p.file)")[-1] == name
        page.reload()  # the stored documents come back; the next paste must not reuse a name
        wait_ready(page)
    assert "2 documents" in page.inner_text("#mine-summary")
    watch.assert_clean()
    context.close()


def test_tabs_share_my_documents_and_never_save_over_each_other(browser, base_url):
    context = browser.new_context()  # its tabs share one origin's storage, as a browser's do
    try:
        first, first_watch = open_search(context, base_url + "search.html")
        second, second_watch = open_search(context, base_url + "search.html")
        mine = "window.searchApp.collections.mine.passages"
        files = lambda page: page.evaluate(f"{mine}.map((p) => p.file)")  # noqa: E731

        def paste(page, text, wait=True):
            page.evaluate("document.getElementById('add-status').removeAttribute('data-outcome')")
            page.fill("#paste", text)
            page.click("#add-paste")
            if wait:
                page.wait_for_selector("#add-status[data-outcome=done]", timeout=60_000)

        # The second tab does not hear of the first's save (as if the message were lost)...
        second.evaluate("() => { const channel = window.searchApp.store.channel; if (channel) channel.onmessage = null; }")
        paste(first, "Bees visit the lavender hedge all through July.")
        assert files(second) == []
        # ...so its paste adopts the stored documents first (it saved over them before).
        paste(second, "Swallows nest under the barn roof every May.")
        assert files(second) == ["Pasted text", "Pasted text 2"]
        # The first tab hears of the second's save and shows both.
        first.wait_for_function(f"() => {mine}.length === 2")
        assert files(first) == files(second) and "2 documents" in first.inner_text("#mine-summary")

        # While another tab changes the documents, a change waits its turn, and says so.
        first.evaluate("""() => new Promise((held) => navigator.locks.request('minimodel-search-documents',
            () => { held(); return new Promise((release) => (window.releaseLock = release)); }))""")
        paste(second, "Frogspawn appears in the pond in March.", wait=False)
        second.wait_for_function(
            "() => document.getElementById('add-status').textContent.startsWith('Waiting for another tab of this page')")
        assert files(second) == ["Pasted text", "Pasted text 2"]
        # The first tab's worker fails to load the new record: a failure, not damage, so
        # nothing is deleted (a damaged record is; test_own_documents...).
        first.evaluate("() => { window.searchApp.worker.loadIndex = () => Promise.reject(new Error('worker trouble (test)')); }")
        first.evaluate("window.releaseLock()")
        second.wait_for_selector("#add-status[data-outcome=done]", timeout=60_000)
        first.wait_for_function("() => document.getElementById('add-status').textContent.includes('worker trouble (test)')")
        assert files(first) == ["Pasted text", "Pasted text 2"] and first.inner_text("#storage-notice") == ""
        first.evaluate("delete window.searchApp.worker.loadIndex")  # the class's own again

        # A later visit finds all three and searches them; the first tab adopts them before its next change.
        third, third_watch = open_search(context, base_url + "search.html")
        assert files(third) == ["Pasted text", "Pasted text 2", "Pasted text 3"]
        assert search(third, "when does frogspawn appear", "mine")[0]["text"] == "Frogspawn appears in the pond in March."
        # Forget in one tab stops a run in another first (long enough not to end by itself);
        # a tab that hears of it follows, and one that did not hear adopts it before its next
        # change (its old documents do not come back).
        first.evaluate("document.getElementById('add-status').removeAttribute('data-outcome')")
        first.set_input_files("#files", [{"name": "long.txt", "mimeType": "text/plain", "buffer": long_document(200).encode()}])
        first.wait_for_function(r"() => /Embedding (8|9|\d\d+) of/.test(document.getElementById('embed-text').textContent)",
                                timeout=60_000)
        third.click("#forget")
        first.wait_for_selector("#add-status[data-outcome=cancelled]", timeout=60_000)
        third.wait_for_function("() => document.getElementById('forget-status').textContent.includes('deleted')")
        first.wait_for_function(f"() => {mine}.length === 0")
        assert first.is_checked("#use-sample") and "None yet" in first.inner_text("#mine-summary")
        paste(second, "Hedgehogs wake from hibernation in April.")
        assert files(second) == ["Pasted text 4"]  # a paste's number is not reused within a visit
        first.wait_for_function(f"() => {mine}.length === 1")
        for watch in (first_watch, second_watch, third_watch):
            watch.assert_clean()
    finally:
        context.close()


def test_a_worker_crash_is_shown_and_the_next_search_clears_it(browser, base_url):
    context = browser.new_context()
    page, watch = open_search(context, base_url + "search.html")
    first = search(page, "how do I read a file line by line", "sample")
    search(page, "random numbers")
    crash = page.evaluate("() => window.searchApp.worker._crashForTest().then(() => 'no error', (e) => e.message)")
    assert "a fatal Python error" in crash
    error = page.locator("#error")
    assert error.is_visible() and "It restarts with your documents on the next search" in error.inner_text()
    # The next search restarts the worker with the model and the sample's index restored:
    # the same results as before the crash, and the notice is gone.
    assert search(page, "how do I read a file line by line") == first
    assert error.is_hidden()
    assert page.evaluate("window.searchApp.worker.stats().crashes") == 1
    errors = watch.take_console_errors()  # Pyodide reports its fatal error on the console
    assert any("fatal error" in e for e in errors)
    watch.assert_clean()
    context.close()


def test_file_url_explains_how_to_serve(browser, dist):
    context, page, errors = open_from_disk(browser, dist / "search.html")
    assert "./dev.sh serve" in page.inner_text("#file-warning")
    assert page.locator("#loading").is_hidden() and page.locator("#app").is_hidden()
    assert errors == []
    context.close()


# ----------------------------------------------------------------------------- offline and updates


class RecordingServer:
    """The project's static server on a folder, recording the paths it is asked for."""

    def __init__(self, root: Path) -> None:
        from static_server import StaticHandler, start_in_thread

        paths = self.paths = []

        class Recording(StaticHandler):
            def send_head(self):  # noqa: ANN201
                paths.append(self.path)
                return super().send_head()

        self.server, self.url = start_in_thread(root, handler_class=Recording)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_offline_after_the_first_visit(browser, dist):
    server = RecordingServer(dist)
    context = browser.new_context()
    try:
        page, watch = open_search(context, server.url + "search.html")
        wait_offline_ready(page)
        page.reload()
        wait_ready(page)
        assert page.evaluate("navigator.serviceWorker.controller !== null")

        context.set_offline(True)  # the network is gone
        page.reload()
        wait_ready(page)
        assert search(page, "read a CSV file")[0]["file"].startswith("csv")
        context.set_offline(False)

        server.stop()  # the server is gone
        server = None
        page.reload()
        wait_ready(page)
        assert search(page, "split a string with a regular expression")[0]["file"].startswith("re")
        # The browser may say that it could not check for a newer sw.js; nothing else may appear.
        errors = watch.take_console_errors()
        assert all("ServiceWorker" in e or "sw.js" in e or "Failed to load resource" in e for e in errors), errors
        watch.assert_clean()
    finally:
        context.close()
        if server:
            server.stop()


def installability_errors(browser, url: str, profile: Path) -> list[str]:
    """Chromium's installability errors for a page, in a normal (not incognito) profile."""
    from conftest import CHROMIUM, CHROMIUM_ARGS

    context = browser.browser_type.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        page = context.new_page()
        watch = watch_page(context, page)
        page.goto(url)
        page.wait_for_load_state("load")
        errors = context.new_cdp_session(page).send("Page.getInstallabilityErrors")["installabilityErrors"]
        page.goto("about:blank")  # before Python starts: nothing more is needed from the page
        watch.assert_clean()
        return [e["errorId"] for e in errors]
    finally:
        context.close()


def test_web_app_manifest_and_an_update_recaches_only_what_changed(browser, dist, tmp_path):
    from sitebuild import webapp

    site = tmp_path / "site"
    shutil.copytree(dist, site)
    server = RecordingServer(site)
    context = browser.new_context()
    try:
        # The manifest: served as a web app manifest, linked from both pages, installable.
        page, watch = open_search(context, server.url + "index.html")
        response = page.request.get(server.url + "manifest.webmanifest")
        assert response.headers["content-type"] == "application/manifest+json"
        manifest = response.json()
        assert manifest["display"] == "standalone" and manifest["start_url"] == "./search.html" and manifest["name"]
        for icon in manifest["icons"]:
            got = page.request.get(server.url + icon["src"])
            assert got.ok and got.headers["content-type"] == icon["type"]
        for name in ("index.html", "search.html"):
            assert '<link rel="manifest" href="manifest.webmanifest" />' in (site / name).read_text()
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getAppManifest")["errors"] == []
        # Chromium would offer to install it: no installability error (a test context is
        # incognito, which is one; a normal profile has none).
        installability = [e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]]
        assert installability == ["in-incognito"], installability
        assert installability_errors(browser, server.url + "search.html", tmp_path / "profile") == []

        # The service worker installs from the demo page too, and then controls it.
        wait_offline_ready(page)
        page.reload()
        wait_ready(page)
        assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")
        old_build = json.loads((site / "manifest.json").read_text())

        # A new build that changed one file: its bytes, its manifest entry, and sw.js's hash.
        css = (site / "style.css").read_bytes() + b"\n/* a new build */\n"
        (site / "style.css").write_bytes(css)
        new_build = json.loads((site / "manifest.json").read_text())
        new_build["files"]["style.css"].update(sha256=hashlib.sha256(css).hexdigest(), size=len(css))
        old_hash, new_hash = webapp.manifest_hash(old_build), webapp.manifest_hash(new_build)
        sw = (site / "sw.js").read_text().replace(old_hash, new_hash)
        assert new_hash in sw
        (site / "sw.js").write_text(sw)
        new_build["files"]["sw.js"].update(sha256=hashlib.sha256(sw.encode()).hexdigest(), size=len(sw.encode()))
        (site / "manifest.json").write_text(json.dumps(new_build, indent=2) + "\n")

        server.paths.clear()
        page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
        page.wait_for_selector("#update:not([hidden])", timeout=60_000)
        assert "1 changed file downloaded" in page.inner_text("#update")
        fetched = sorted({p.split("?")[0] for p in server.paths})
        assert fetched == ["/manifest.json", "/style.css", "/sw.js"], fetched

        # Another tab of the site, embedding when the switch comes: it keeps going, then reloads.
        other, other_watch = open_search(context, server.url + "search.html")
        other.evaluate("window.survives = true")
        other.set_input_files("#files", [{"name": "long.txt", "mimeType": "text/plain", "buffer": long_document(48).encode()}])
        other.wait_for_function("() => /Embedding (8|9|\\d\\d) of/.test(document.getElementById('embed-text').textContent)",
                                timeout=60_000)
        # Work queued behind the run, held until released: the tab is still busy when the
        # switch comes however fast the run goes (on a quick machine it ended first).
        other.evaluate("""() => { const app = window.searchApp; app.jobs++;
            app.queue = app.queue.then(() => new Promise((resolve) => (window.release = resolve))).finally(() => app.jobs--); }""")

        with page.expect_navigation(timeout=30_000):
            page.click("#update-now")  # the new version takes over; the page reloads onto it
        wait_ready(page)
        other.wait_for_function(
            "() => document.querySelector('#update [data-update-text]').textContent.includes('when its work in progress ends')")
        assert other.evaluate("window.survives"), "reloaded in the middle of its run"
        other.wait_for_function("() => window.release !== undefined", timeout=120_000)  # the run and its save are over
        other.evaluate("window.release()")
        # Once the run and its save are done, it reloads by itself, and the documents come back whole.
        other.wait_for_function("() => !window.survives && window.searchApp?.collections.mine.passages.length === 48",
                                timeout=120_000)
        caches = page.evaluate("caches.keys()")
        ours = [c for c in caches if c.startswith("minimodel-site ")]
        assert ours == [f"minimodel-site {server.url} {new_hash}"], caches
        assert page.evaluate("fetch('style.css').then((r) => r.text())").endswith("/* a new build */\n")
        status = page.evaluate("""() => new Promise((resolve) => { const c = new MessageChannel();
            c.port1.onmessage = (e) => resolve(e.data);
            navigator.serviceWorker.controller.postMessage({ type: 'status' }, [c.port2]); })""")
        assert status["build"] == new_hash and status["complete"] and status["fetched"] == 1
        assert status["copied"] == status["files"] - 2  # all but style.css (and the manifest)
        watch.assert_clean()
    finally:
        context.close()
        server.stop()
