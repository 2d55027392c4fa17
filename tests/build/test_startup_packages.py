"""The site's unpacked packages (sitebuild/startup_packages.py): lib/startup-packages.bin,
listed in the manifest, holds exactly the files Python's zipfile reads from the shipped
numpy and minimodel wheels (with the two files pyodide.loadPackage adds), at the offsets its
header gives, the shared libraries Pyodide would load named, and the same bytes each build."""

from __future__ import annotations

import gzip
import json
import re
import struct
import zipfile
from pathlib import Path

from sitebuild import config, startup_packages
from sitebuild.common import sha256


def decode(packed: bytes) -> tuple[list[dict], bytes]:
    raw = gzip.decompress(packed)
    (length,) = struct.unpack_from("<I", raw)
    return json.loads(raw[4:4 + length])["packages"], raw[4 + length:]


def test_the_packages_are_the_wheels_files(dist: Path):
    lib = dist / "lib"
    packed = (dist / startup_packages.PACKAGES).read_bytes()
    listed = json.loads((lib / "manifest.json").read_text())["files"][startup_packages.PACKAGES.removeprefix(config.LIB)]
    assert listed["sha256"] == sha256(packed) and listed["size"] == len(packed)
    assert packed[4:8] == b"\0\0\0\0"  # no timestamp: the same wheels give the same bytes
    lock = json.loads((lib / "pyodide-lock.json").read_text())["packages"]
    packages, data = decode(packed)
    assert [(p["name"], p["fileName"]) for p in packages] == [(n, lock[n]["file_name"]) for n in ("numpy", "minimodel")]
    end = 0
    for package in packages:
        with zipfile.ZipFile(lib / package["fileName"]) as wheel:
            members = [m for m in wheel.infolist() if not m.is_dir()]
            dist_info = {m.filename.split("/")[0] for m in members if m.filename.split("/")[0].endswith(".dist-info")}.pop()
            expected = [(m.filename, wheel.read(m)) for m in members]
        expected += [(f"{dist_info}/INSTALLER", b"pyodide.loadPackage"), (f"{dist_info}/PYODIDE_SOURCE", b"pyodide")]
        got = [(path, data[offset:offset + size]) for path, offset, size in package["files"]]
        assert [p for p, _ in got] == [p for p, _ in expected]
        assert got == expected
        end = max(end, *(offset + size for _, offset, size in package["files"]))
        # Pyodide loads every .so of this platform (and versioned .so.N), none of another's.
        assert package["dynlibs"] == [p for p, _ in expected if p.endswith("-wasm32-emscripten.so") or p.endswith("libminimodel_kernels.so")]
    assert end == len(data)
    assert len(packages[0]["dynlibs"]) > 10 and packages[1]["dynlibs"] == ["minimodel/libminimodel_kernels.so"]


def test_the_build_unpacks_the_packages_the_loader_installs():
    """NAMES (the build) and PACKAGES (web/lib/loader.js, their one definition for the page)
    must agree, or every first visit would fall back to the wheels."""
    source = (config.WEB / "lib" / "loader.js").read_text(encoding="utf-8")
    loader = re.findall(r'"([^"]+)"', re.search(r"const PACKAGES = \[(.*?)\];", source).group(1))
    assert startup_packages.NAMES == loader
