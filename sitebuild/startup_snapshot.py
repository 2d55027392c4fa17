"""Step "snapshot": lib/startup-snapshot.bin and lib/startup-snapshot.json, the interpreter
with numpy and minimodel imported, which a first visit restores instead of booting Python and
importing numpy (web/lib/loader.js; README "Startup cache").

It is the snapshot every first visit used to take for its own startup cache, taken once by
the build: tools/make_startup_snapshot.py serves the library assembled so far on loopback
and lets headless Chromium (Debian's, driven by Playwright) take it, in a process of its own.
The .bin is the snapshot's non-zero pages (web/lib/sparse-heap.js), gzip-compressed (20 MB
become 7; the loader inflates it with the browser's DecompressionStream; not named .gz, which
some servers would send with a Content-Encoding the browser undoes first), the .json its
layout (the libraries it was taken over, the dlopen handles Python holds). The two are kept in
.cache/startup-snapshot/ under the sha256 of everything the start reads (every file of lib/
but the text model), so a build that changed none of them is quick.

Without Chromium or Playwright (a bare ``python build.py``), the site is built without them
and says so: every first visit then boots Python, about a second slower. ./dev.sh installs both.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from . import config, manifest
from .common import BuildError, Site, keep, log, sha256

SNAPSHOT = config.LIB + "startup-snapshot.bin"
LAYOUT = config.LIB + "startup-snapshot.json"
OUTPUTS = [SNAPSHOT, LAYOUT]
FORMAT = 2  # bump when the snapshot is taken differently with the same inputs
CACHE_DIR = config.CACHE / "startup-snapshot"
TOOL = config.ROOT / "tools" / "make_startup_snapshot.py"
MODELS = config.LIB + "models/"


def inputs(site: Site) -> dict[str, bytes]:
    """What the start reads: the library's files but the text model."""
    return {rel: data for rel, data in sorted(site.files.items()) if rel.startswith(config.LIB) and not rel.startswith(MODELS)}


def cache_key(site: Site) -> str:
    """The sha256 the snapshot is kept under: of its inputs' names and contents, and of the
    tools that take it."""
    tools = [f"{path.name} {sha256(path.read_bytes())}" for path in (TOOL, TOOL.parent / "chromium.py")]
    listed = [f"format {FORMAT}", *tools] + [f"{rel} {sha256(data)}" for rel, data in inputs(site).items()]
    return sha256("\n".join(listed).encode())


def browser_missing() -> str | None:
    """Why the snapshot cannot be taken here, or None."""
    if str(TOOL.parent) not in sys.path:
        sys.path.insert(0, str(TOOL.parent))
    from chromium import CHROMIUM

    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed"
    return None


def take(site: Site) -> tuple[bytes, bytes]:
    """Serve the library (with its manifest, and web/lib's modules for the tool) from a temporary
    folder and take the snapshot: its packed pages and its layout's JSON."""
    files = inputs(site)
    lib_manifest = manifest.render(files, site.provenance, site.pyodide_version, config.LIB)
    with tempfile.TemporaryDirectory(prefix="minimodel-snapshot-") as tmp:
        root = Path(tmp)
        for rel, data in {**files, config.LIB + "manifest.json": lib_manifest}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        shutil.copytree(config.WEB / "lib", root / "src")  # the tool reads the entry with runtime-cache.js
        out_bin, out_json = root / "snapshot.bin", root / "snapshot.json"
        # A process group of its own, so that a timeout also ends the browser it started.
        process = subprocess.Popen([sys.executable, str(TOOL), tmp, str(out_bin), str(out_json)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            _, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise BuildError("taking the interpreter snapshot in Chromium took over 10 minutes") from None
        if process.returncode != 0:
            raise BuildError(f"taking the interpreter snapshot in Chromium failed:\n{stderr.strip()[-4000:]}")
        return out_bin.read_bytes(), out_json.read_bytes()


def step(site: Site) -> None:
    key = cache_key(site)
    cached_bin, cached_json = CACHE_DIR / f"{key}.bin", CACHE_DIR / f"{key}.json"
    if not (cached_bin.exists() and cached_json.exists()):
        missing = browser_missing()
        if missing:
            log(f"warning: {missing}, so the site ships no interpreter snapshot: every first visit boots "
                "Python (about a second slower). ./dev.sh build installs Chromium and Playwright.")
            return
        log("taking the interpreter snapshot in headless Chromium (the library changed)")
        packed, layout = take(site)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        for old in CACHE_DIR.iterdir():  # older builds' snapshots (not another build's file in the making)
            if old.suffix in (".bin", ".json") and not old.name.startswith(key):
                old.unlink(missing_ok=True)
        keep(cached_json, layout)
        keep(cached_bin, gzip.compress(packed, compresslevel=9, mtime=0))
    source = (f"a snapshot of Pyodide's interpreter with numpy and minimodel imported, taken by headless Chromium "
              f"from this build's library (sitebuild/startup_snapshot.py, inputs {key[:16]}…)")
    site.add({SNAPSHOT: cached_bin.read_bytes(), LAYOUT: cached_json.read_bytes()},
             {SNAPSHOT: source, LAYOUT: source + ": its layout"})
