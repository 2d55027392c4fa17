"""Step "runtime": the Pyodide runtime files from the pinned npm package.

node_modules/pyodide must be the version package.json names (`npm ci` installs it, and
checks the tarball's sha512 against package-lock.json); each file we ship must also have
the sha256 pinned in config.RUNTIME_PINS. pyodide.mjs gets one audited patch so that it
names no CDN (see patch_loader). python_stdlib.zip is compiled to bytecode later (bytecode
step); pyodide-lock.json is not shipped as it is but read here for the lock and wheels steps.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from . import config
from .common import BuildError, Site, log, sha256

# The one change to pyodide.mjs: it would record the jsDelivr CDN as a fallback package
# source (used only under Node.js); point it at the local indexURL (variable `t`) instead.
LOADER_PATCH = (
    "n.setCdnUrl(`https://cdn.jsdelivr.net/pyodide/v${d.version}/full/`)",
    "n.setCdnUrl(t)",
)
SOURCE_MAP_LINE = "//# sourceMappingURL=pyodide.mjs.map"
SHIPPED = ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip"]


def installed_version(pyodide_dir: Path) -> str | None:
    try:
        return json.loads((pyodide_dir / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_node_modules(version: str, pyodide_dir: Path = config.PYODIDE_DIR, root: Path = config.ROOT) -> None:
    """node_modules/pyodide at `version`: `npm ci` when missing or another version, then checked."""
    if installed_version(pyodide_dir) == version:
        return
    log(f"node_modules/pyodide missing or not {version}: running `npm ci`")
    try:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=root, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise BuildError(f"`npm ci` failed ({err}); it installs pyodide@{version} into node_modules/") from err
    found = installed_version(pyodide_dir)
    if found != version:
        raise BuildError(
            f"node_modules/pyodide is {found}, but package.json pins {version}: "
            "package-lock.json disagrees with package.json (run `npm install` and commit both)"
        )


def read_pinned(name: str, version: str, pyodide_dir: Path = config.PYODIDE_DIR) -> bytes:
    """A file of the npm package, refused unless its sha256 is the pinned one."""
    pins = config.runtime_pins(version)
    data = (pyodide_dir / name).read_bytes()
    if sha256(data) != pins[name]:
        raise BuildError(
            f"node_modules/pyodide/{name} has sha256 {sha256(data)}, expected the pinned "
            f"{pins[name]} of pyodide@{version}; run `npm ci` to restore it"
        )
    return data


def patch_loader(source: bytes) -> bytes:
    text = source.decode("utf-8")
    old, new = LOADER_PATCH
    if text.count(old) != 1 or text.count(SOURCE_MAP_LINE) != 1:
        raise BuildError("pyodide.mjs does not have the expected shape; cannot patch it")
    return text.replace(old, new).replace(SOURCE_MAP_LINE, "").encode("utf-8")


def runtime_files(version: str, pyodide_dir: Path = config.PYODIDE_DIR) -> tuple[dict[str, bytes], dict[str, str], dict]:
    """The shipped runtime files (under lib/), their provenance, and the official lock."""
    pins = config.runtime_pins(version)
    files: dict[str, bytes] = {}
    provenance: dict[str, str] = {}
    for name in SHIPPED:
        data = read_pinned(name, version, pyodide_dir)
        source = f"npm pyodide@{version} (sha256 {pins[name]})"
        if name == "pyodide.mjs":
            data = patch_loader(data)
            source += ", CDN fallback patched out"
        files[config.LIB + name] = data
        provenance[config.LIB + name] = source
    official_lock = json.loads(read_pinned("pyodide-lock.json", version, pyodide_dir))
    if official_lock.get("info", {}).get("version") != version:
        raise BuildError(f"node_modules/pyodide/pyodide-lock.json is not the lock of pyodide {version}")
    return files, provenance, official_lock


def step(site: Site) -> None:
    ensure_node_modules(site.pyodide_version)
    files, provenance, site.official_lock = runtime_files(site.pyodide_version)
    site.add(files, provenance)
