"""Step "minimodel": a reproducible wheel of py/minimodel with the kernel libraries.

Fixed timestamps and modes, sorted entries, a complete RECORD: the same sources give the
same bytes on any machine. The kernels step provides the libraries.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tomllib
import zipfile
from pathlib import Path

from . import config
from .common import Site

TOP_LEVEL = "minimodel"
WHEEL_TAG = "py3-none-pyodide_2024_0_wasm32"  # pure Python plus wasm32 kernel libraries


def project(py_dir: Path = config.PY) -> dict:
    """The [project] table of py/pyproject.toml."""
    return tomllib.loads((py_dir / "pyproject.toml").read_text())["project"]


def wheel_name(meta: dict) -> str:
    return f"{meta['name']}-{meta['version']}-{WHEEL_TAG}.whl"


def record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(kernels: dict[str, bytes], py_dir: Path = config.PY) -> tuple[str, bytes]:
    """(file name, bytes) of the wheel: py/minimodel/*.py plus ``kernels`` ({path in wheel: bytes})."""
    meta = project(py_dir)
    name, version = meta["name"], meta["version"]
    dist_info = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for path in sorted((py_dir / TOP_LEVEL).rglob("*.py")):
        files[path.relative_to(py_dir).as_posix()] = path.read_bytes()
    files.update(sorted(kernels.items()))
    requires = "".join(f"Requires-Dist: {d}\n" for d in meta["dependencies"])
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: {meta['description']}\nRequires-Python: {meta['requires-python']}\n{requires}"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: minimodel build.py\nRoot-Is-Purelib: true\nTag: {WHEEL_TAG}\n"
    ).encode()
    files[f"{dist_info}/top_level.txt"] = f"{TOP_LEVEL}\n".encode()
    lines = [record_line(path, data) for path, data in files.items()]
    lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(lines) + "\n").encode()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return wheel_name(meta), buffer.getvalue()


def step(site: Site) -> None:
    name, data = build_wheel(site.kernels)
    kernels = "; ".join(f"{path}: {how}" for path, how in sorted(site.kernels_provenance.items()))
    site.add({config.LIB + name: data}, {config.LIB + name: f"built from py/ by build.py (kernels: {kernels})"})
