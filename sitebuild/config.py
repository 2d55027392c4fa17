"""Where things are, and the Pyodide version, written in one place: package.json.

npm needs the version in package.json's ``devDependencies.pyodide`` (a build tool: the
library ships the runtime files themselves, so the npm package depends on nothing); the
build reads it from there, and the npm lock follows it.
The sha256 pins of the runtime files are keyed to that version: a new version needs new
pins here (and new wheels, which the official lock of that version names).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .common import BuildError

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
LIB = "lib/"  # the library's folder inside dist/ (the rest is the demo)
WEB = ROOT / "web"
PY = ROOT / "py"
PYODIDE_DIR = ROOT / "node_modules" / "pyodide"
CACHE = ROOT / ".cache"
WHEEL_CACHE = Path(os.environ.get("MINIMODEL_WHEEL_CACHE", CACHE / "pyodide-wheels"))

# sha256 of the npm package's files we ship (npm ci checks the tarball's sha512 too).
RUNTIME_PINS = {
    "0.27.7": {
        "pyodide.mjs": "04c052c815abb0bf2981fa38c2dfa58e3120ee5288c956df2b2a15e301782c5f",
        "pyodide.asm.js": "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51",
        "pyodide.asm.wasm": "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f",
        "python_stdlib.zip": "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16",
        "pyodide-lock.json": "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c",
    },
}

# Packages taken from the official lock: numpy, and micropip with its dependency.
OFFICIAL_PACKAGES = ["numpy", "micropip", "packaging"]


def pyodide_version(root: Path = ROOT) -> str:
    """The Pyodide version, from package.json's devDependencies.pyodide (its one home)."""
    try:
        version = json.loads((root / "package.json").read_text())["devDependencies"]["pyodide"]
    except (OSError, ValueError, KeyError) as err:
        raise BuildError(f"cannot read devDependencies.pyodide from {root / 'package.json'}: {err}") from err
    if not all(part.isdigit() for part in version.split(".")):
        raise BuildError(f"package.json must pin an exact Pyodide version (like 0.27.7), not {version!r}")
    return version


def runtime_pins(version: str) -> dict[str, str]:
    try:
        return RUNTIME_PINS[version]
    except KeyError:
        raise BuildError(
            f"package.json asks for pyodide {version}, but sitebuild/config.py has RUNTIME_PINS for "
            f"{', '.join(RUNTIME_PINS)} only: add the sha256 of that version's files"
        ) from None
