"""Step "library": our JavaScript library (web/lib) into dist/lib/, one file per entry point.

tools/bundle_library.mjs bundles each entry point (minimodel.js, which pages import; worker.js,
which createWorker() starts) with every module it imports into one ES module (not minified),
using rolldown (npm, pinned in package.json). A page then fetches one file where it followed
web/lib's imports five levels deep: first and repeat visits were 20-125 ms faster in two
interleaved A/Bs on the loopback server (README, W5), and each level is a round trip on a
real network.
The bundles are kept in .cache/library/ under the sha256 of the sources, the tool and
rolldown's version, so a build where nothing changed does not run Node.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from . import config
from .common import BuildError, Site, keep, log, npm_tool_version, run_node, sha256

TOOL = config.ROOT / "tools" / "bundle_library.mjs"
ENTRIES = ["minimodel.js", "worker.js"]
CACHE_DIR = config.CACHE / "library"


def sources() -> list[Path]:
    return sorted((config.WEB / "lib").glob("*.js"))


def bundle(version: str) -> dict[str, bytes]:
    """{file name: bytes} of the bundled entry points, made by the tool now."""
    with tempfile.TemporaryDirectory(prefix="minimodel-library-") as tmp:
        run_node(TOOL, tmp, doing="bundling the library (web/lib)")
        made = {name: (Path(tmp) / name).read_bytes() for name in ENTRIES}
        extra = sorted({path.name for path in Path(tmp).iterdir()} - set(ENTRIES))
        if extra:
            raise BuildError(f"bundling the library made files it should not have: {', '.join(extra)}")
    log(f"bundled the library's {len(ENTRIES)} entry points with rolldown {version}")
    return made


def step(site: Site) -> None:
    version = npm_tool_version("rolldown")
    parts = [f"rolldown {version}"] + [f"{path.name} {sha256(path.read_bytes())}" for path in [TOOL, *sources()]]
    cached = CACHE_DIR / f"{sha256(chr(10).join(parts).encode())[:16]}.json"
    if cached.exists():
        made = {name: text.encode() for name, text in json.loads(cached.read_text(encoding="utf-8")).items()}
    else:
        made = bundle(version)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        for old in CACHE_DIR.glob("*.json"):
            old.unlink(missing_ok=True)
        keep(cached, json.dumps({name: data.decode() for name, data in made.items()}).encode())
    site.add(
        {config.LIB + name: data for name, data in made.items()},
        {config.LIB + name: f"web/lib/{name} and the modules it imports, bundled by rolldown {version} (tools/bundle_library.mjs)"
         for name in made},
    )
