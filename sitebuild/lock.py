"""Step "lock": lib/pyodide-lock.json, the official lock filtered to the shipped packages,
plus the minimodel wheel, each with the sha256 of the file we ship.

Read, checked and written with the `pyodide-lock` package (PyPI), pinned at 0.1.2: later
versions leave out info.version, and Pyodide 0.27.7 refuses such a lock ("Lock file version
doesn't match Pyodide version"). Its add_wheels_to_spec() is not used for minimodel: it
only knows emscripten_* platform tags, not pyodide_2024_0_wasm32, so the entry is made here.
More wheels are added the same way: their entries go into ``extra``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from . import config, minimodel_wheel
from .common import BuildError, Site, sha256


def _lock_module():
    try:
        import packaging.requirements  # noqa: F401 (pyodide-lock uses it to check file names)
        import pyodide_lock
    except ModuleNotFoundError:
        raise BuildError(
            "the build needs the pyodide-lock package: `pip install -r requirements-build.txt` "
            "(./dev.sh serve installs it into .venv; run build.py with .venv/bin/python)"
        ) from None
    return pyodide_lock


def minimodel_entry(file_name: str, data: bytes, meta: dict) -> dict:
    _lock_module()
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return {
        "name": meta["name"],
        "version": meta["version"],
        "file_name": file_name,
        "install_dir": "site",
        "sha256": sha256(data),
        "package_type": "package",
        "imports": [minimodel_wheel.TOP_LEVEL],
        "depends": sorted(canonicalize_name(Requirement(d).name) for d in meta["dependencies"]),
        "unvendored_tests": False,
    }


def render(official_lock: dict, packages: list[str], shipped: dict[str, bytes], extra: list[dict] = ()) -> bytes:
    """The lock of ``packages`` (from the official lock) plus the ``extra`` entries.

    ``shipped`` maps each official package's file name to the bytes we ship (precompiled,
    so its sha256 differs from the official one).
    """
    pyodide_lock = _lock_module()
    official = pyodide_lock.PyodideLockSpec(**official_lock)  # validated against the spec
    entries = {}
    for name in packages:
        if name not in official.packages:
            raise BuildError(f"the official pyodide-lock.json has no package {name!r}")
        package = official.packages[name]
        if package.file_name not in shipped:
            raise BuildError(f"the lock lists {package.file_name}, which the site does not ship")
        entries[name] = package.model_copy(update={"sha256": sha256(shipped[package.file_name])})
    for entry in extra:
        entries[entry["name"]] = pyodide_lock.PackageSpec(**entry)
    lock = pyodide_lock.PyodideLockSpec(info=official.info, packages=entries)
    lock.check_wheel_filenames()
    for name, package in lock.packages.items():
        missing = [d for d in package.depends if d not in lock.packages]
        if missing:
            raise BuildError(f"{name} depends on {', '.join(missing)}, which the lock does not ship")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pyodide-lock.json"
        lock.to_json(path, indent=2)
        return path.read_bytes()


def step(site: Site) -> None:
    meta = minimodel_wheel.project()
    wheel = minimodel_wheel.wheel_name(meta)
    shipped = {rel[len(config.LIB):]: data for rel, data in site.files.items()
               if rel.startswith(config.LIB) and rel.endswith(".whl")}
    data = render(site.official_lock, config.OFFICIAL_PACKAGES, shipped,
                  [minimodel_entry(wheel, shipped[wheel], meta)])
    rel = config.LIB + "pyodide-lock.json"
    site.add({rel: data}, {rel: f"official pyodide-lock.json of {site.pyodide_version} filtered to the "
                                "shipped packages, plus minimodel (written with pyodide-lock)"})
