"""Take the interpreter snapshot the site ships (sitebuild/startup_snapshot.py runs this in
a process of its own, so that it works from a caller that drives Playwright itself).

    python tools/make_startup_snapshot.py SITE_DIR OUT_BIN OUT_JSON

SITE_DIR holds lib/ (the library, its manifest.json included) and src/ (web/lib's modules,
which the bundled library holds but does not export: runtime-cache.js reads the entry back).
It is served on loopback and
opened in headless Chromium, where init() boots Python the normal way and stores the snapshot
of the interpreter with numpy and minimodel imported in Cache Storage, as every first visit
does; that entry is read back (checked, as a repeat visit reads it) and written out: its
packed bytes (web/lib/sparse-heap.js) to OUT_BIN, its layout as JSON to OUT_JSON.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from static_server import start_in_thread  # noqa: E402

TIMEOUT_MS = 180_000  # for init(), a cold start in a busy machine
SAVE_MS = 30_000  # for init()'s save of the snapshot, which follows it at once

TAKE = """async (saveMs) => {
  const mm = await import('./minimodel.js');
  const info = await mm.init();
  if (info.startedFrom !== 'boot') throw new Error(`Python did not boot (it started from: ${info.startedFrom})`);
  const { storedSnapshot } = await import('../src/runtime-cache.js');
  const deadline = performance.now() + saveMs;
  let stored;
  while (!(stored = await storedSnapshot(new URL('./', location.href)))) {
    if (performance.now() > deadline) throw new Error(`init() stored no snapshot in Cache Storage within ${saveMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const bytes = await stored.bytes;
  const dataURL = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(new Blob([bytes]));
  });
  return { layout: stored.layout, base64: dataURL.slice(dataURL.indexOf(',') + 1) };
}"""


def take(site: Path) -> tuple[bytes, dict]:
    from playwright.sync_api import sync_playwright

    server, url = start_in_thread(site)
    console: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e: console.append(f"uncaught: {e}"))
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(url + "lib/manifest.json")
                try:
                    taken = page.evaluate(TAKE, SAVE_MS)
                except Exception as err:
                    raise SystemExit(f"the snapshot could not be taken: {err}\nconsole:\n" + "\n".join(console)) from None
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    packed = base64.b64decode(taken["base64"])
    # The snapshot must not hold where it was taken: the site is served from anywhere.
    origin = url.split("//", 1)[1].rstrip("/").encode()
    if origin in packed:
        raise SystemExit(f"the snapshot holds this server's address ({origin.decode()}): it would not restore elsewhere")
    return packed, taken["layout"]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    site, out_bin, out_json = (Path(arg) for arg in argv)
    packed, layout = take(site)
    out_bin.write_bytes(packed)
    out_json.write_text(json.dumps(layout, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
