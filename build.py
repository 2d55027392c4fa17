#!/usr/bin/env python3
"""Assemble the servable static site in dist/ (and optionally serve it).

    python build.py            build dist/ (quick and idempotent when nothing changed)
    python build.py serve      build, then serve dist/ on http://127.0.0.1:8000/
    python build.py kernels    recompile kernels/*.c and rewrite the committed kernels/*.wasm
                               and their records (run it after changing the C source; commit
                               the result). A normal build never writes a tracked file.

dist/lib/ is the library (what `npm pack` ships), dist/ the demo around it. The steps
below run in order; each is a module of sitebuild/ (see its docstring for where every byte
comes from). The Pyodide version is package.json's devDependencies.pyodide.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sitebuild import (
    bytecode,
    config,
    demo,
    kernels,
    library,
    lock,
    manifest,
    minimodel_wheel,
    model,
    package,
    runtime,
    search_sample,
    startup_packages,
    startup_snapshot,
    types,
    webapp,
    wheels,
)
from sitebuild.common import BuildError, Site
from sitebuild.output import write_tree

ROOT: Path = config.ROOT
DIST: Path = config.DIST

STEPS = [
    ("library", library.step),  # web/lib -> lib/minimodel.js and lib/worker.js, each bundled (rolldown)
    ("types", types.step),  # lib/*.d.ts generated from web/lib's JSDoc by tsc
    ("runtime", runtime.step),  # pinned npm Pyodide files, pyodide.mjs patched; the official lock
    ("wheels", wheels.step),  # numpy, micropip, packaging: cache / CDN / PyPI, sha256-checked
    ("kernels", kernels.step),  # WebAssembly kernels: compiled into .cache/kernels, or the committed build
    ("minimodel", minimodel_wheel.step),  # the reproducible minimodel wheel, with the kernels
    ("model", model.step),  # lib/models/all-MiniLM-L6-v2: the verified model, weights as float16
    ("bytecode", bytecode.step),  # .py -> .pyc in python_stdlib.zip and every wheel
    ("lock", lock.step),  # lib/pyodide-lock.json: the shipped packages and their sha256
    ("packages", startup_packages.step),  # lib/startup-packages.bin: the wheels' files, unpacked, one gzip stream
    ("snapshot", startup_snapshot.step),  # lib/startup-snapshot.*: the interpreter, numpy imported, taken in Chromium
    ("demo", demo.step),  # web/demo and the trained digit classifier, at the top of dist/
    ("sample", search_sample.step),  # the search page's sample: stdlib docstrings, their passages and saved index
    ("webapp", webapp.app_step),  # the app icons (icons/*.png), drawn
    ("package", package.step),  # THIRD_PARTY_LICENSES.md in lib/ and at the top
    ("offline", webapp.offline_step),  # sw.js, the service worker, with the build's hash
    ("manifest", manifest.step),  # lib/manifest.json and manifest.json
]


def assemble() -> Site:
    """Run every step; the site as {path: bytes} with provenance, nothing written yet."""
    site = Site(config.pyodide_version())
    for _name, step in STEPS:
        step(site)
    return site


def build() -> None:
    write_tree(assemble().files, DIST)


def refresh_kernels() -> None:
    for variant in kernels.VARIANTS:
        kernels.refresh_committed(variant)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="commands: build (default) builds dist/; serve builds, then serves dist/; kernels recompiles "
               "kernels/*.c with clang and lld and rewrites the committed kernels/*.wasm and *.wasm.json "
               "(after changing the C source; commit them)",
    )
    parser.add_argument("command", nargs="?", choices=["build", "serve", "kernels"], default="build")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    args = parser.parse_args(argv)
    try:
        if args.command == "kernels":
            refresh_kernels()
            return 0
        build()
    except BuildError as err:
        print(f"[build] error: {err}", file=sys.stderr)
        return 1
    if args.command == "serve":
        sys.path.insert(0, str(ROOT / "tools"))
        from static_server import serve_forever

        serve_forever(DIST, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
