"""Step "packages": lib/startup-packages.bin, the installed files of numpy and minimodel as
one gzip stream, which a first visit inflates instead of unpacking the two wheels (338
files, each through its own DecompressionStream: 335-576 ms of an idle page in Chromium,
against 115-190 ms for this one stream; web/lib/loader.js, README "Startup cache").

The file is the PackageSet the library's own unpacking makes from the shipped wheels
(tools/make_startup_packages.mjs runs web/lib/packages.js in Node), in the startup cache's
encoding, gzip-compressed (level 9, no timestamp: the same wheels give the same bytes). It is
kept in .cache/startup-packages/ under the sha256 of the wheels and of the code that makes
it, so a build that changed none of them does not run Node.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

from . import config
from .common import Site, keep, log, run_node, sha256

PACKAGES = config.LIB + "startup-packages.bin"
NAMES = ["numpy", "minimodel"]  # the packages the loader installs before Python starts (loader.js PACKAGES)
TOOL = config.ROOT / "tools" / "make_startup_packages.mjs"
CODE = [TOOL, config.WEB / "lib" / "packages.js", config.WEB / "lib" / "wheel.js"]
CACHE_DIR = config.CACHE / "startup-packages"


def wheels(site: Site) -> dict[str, tuple[str, bytes]]:
    """{package: (wheel file name, bytes)} as pyodide-lock.json lists them."""
    lock = json.loads(site.files[config.LIB + "pyodide-lock.json"])
    found = {}
    for name in NAMES:
        file_name = lock["packages"][name]["file_name"]
        found[name] = (file_name, site.files[config.LIB + file_name])
    return found


def make(found: dict[str, tuple[str, bytes]]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="minimodel-packages-") as tmp:
        specs = []
        for name, (file_name, data) in found.items():
            (Path(tmp) / file_name).write_bytes(data)
            specs.append(f"{name}={Path(tmp) / file_name}")
        out = Path(tmp) / "packages"
        run_node(TOOL, str(out), *specs, doing="unpacking the wheels for lib/startup-packages.bin")
        return out.read_bytes()


def step(site: Site) -> None:
    found = wheels(site)
    parts = [f"{path.name} {sha256(path.read_bytes())}" for path in CODE]
    parts += [f"{name} {file_name} {sha256(data)}" for name, (file_name, data) in found.items()]
    key = sha256("\n".join(parts).encode())
    cached = CACHE_DIR / f"{key}.bin"
    if not cached.exists():
        log("unpacking the wheels into lib/startup-packages.bin (the wheels or the unpacking changed)")
        packed = gzip.compress(make(found), compresslevel=9, mtime=0)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        for old in CACHE_DIR.glob("*.bin"):
            old.unlink(missing_ok=True)
        keep(cached, packed)
    wheels_named = " and ".join(file_name for file_name, _ in found.values())
    site.add({PACKAGES: cached.read_bytes()},
             {PACKAGES: f"the installed files of {wheels_named}, unpacked by web/lib/packages.js "
                        f"(sitebuild/startup_packages.py, inputs {key[:16]}…), gzip-compressed"})
