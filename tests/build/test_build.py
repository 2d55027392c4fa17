"""build.py: where every byte of dist/ comes from, and that it is what it claims to be."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import build

OFFICIAL_NUMPY_SHA256 = "ebb61241d962b98b21597d7ce43b67668a6d5bab3acec4fbe958657320d7cd08"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest_lists_every_file_with_its_sha256(dist):
    manifest = json.loads((dist / "manifest.json").read_text())
    on_disk = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, entry in manifest["files"].items():
        path = dist / name
        assert entry["sha256"] == sha256_file(path), name
        assert entry["size"] == path.stat().st_size, name
        assert entry["source"], name
    # the library's own manifest lists lib/ alone, relative to it
    lib = json.loads((dist / "lib" / "manifest.json").read_text())["files"]
    assert set(lib) == {n[len("lib/"):] for n in manifest["files"] if n.startswith("lib/")} - {"manifest.json"}
    assert all(lib[n]["sha256"] == manifest["files"]["lib/" + n]["sha256"] for n in lib)


def test_lock_lists_exactly_the_shipped_packages_with_their_hashes(dist):
    lock = json.loads((dist / "lib" / "pyodide-lock.json").read_text())
    assert lock["info"]["version"] == "0.27.7"
    assert lock["info"]["abi_version"] == "2024_0"
    assert lock["info"]["python"] == "3.12.7"
    assert set(lock["packages"]) == {"numpy", "micropip", "packaging", "minimodel"}
    for name, package in lock["packages"].items():
        wheel = dist / "lib" / package["file_name"]
        assert wheel.exists(), name
        assert package["sha256"] == sha256_file(wheel), name
    assert lock["packages"]["numpy"]["file_name"] == "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"
    assert lock["packages"]["minimodel"]["depends"] == ["numpy"]
    assert lock["packages"]["micropip"]["depends"] == ["packaging"]


def test_shipped_wheels_are_the_official_ones_precompiled(dist):
    """Each official wheel (sha256 from the official lock) with its .py turned into .pyc."""
    official = json.loads((build.PYODIDE_DIR / "pyodide-lock.json").read_text())["packages"]
    assert official["numpy"]["sha256"] == OFFICIAL_NUMPY_SHA256
    manifest = json.loads((dist / "lib" / "manifest.json").read_text())["files"]
    for name in build.OFFICIAL_PACKAGES:
        file_name = official[name]["file_name"]
        source = (build.CACHE / file_name).read_bytes()
        assert build.sha256(source) == official[name]["sha256"]
        assert build.precompile(file_name, source)[0] == (dist / "lib" / file_name).read_bytes()
        assert official[name]["sha256"] in manifest[file_name]["source"]
        with zipfile.ZipFile(dist / "lib" / file_name) as shipped, zipfile.ZipFile(build.CACHE / file_name) as original:
            py = {n for n in original.namelist() if n.endswith(".py")}
            assert {n + "c" for n in py} <= set(shipped.namelist())
            others = {n for n in original.namelist() if not n.endswith((".py", "RECORD"))}
            assert all(shipped.read(n) == original.read(n) for n in others)  # .so files untouched


def test_bytecode_is_for_python_312(dist):
    import importlib.util

    with zipfile.ZipFile(dist / "lib" / "python_stdlib.zip") as stdlib:
        pyc = [n for n in stdlib.namelist() if n.endswith(".pyc")]
        assert len(pyc) > 400 and not [n for n in stdlib.namelist() if n.endswith(".py")]
        magic = stdlib.read(pyc[0])[:4]
    if sys.version_info[:2] == (3, 12):
        assert magic == importlib.util.MAGIC_NUMBER


def test_runtime_files_are_the_pinned_npm_files(dist):
    for name, pin in build.RUNTIME_PINS.items():
        assert sha256_file(build.PYODIDE_DIR / name) == pin
        if name not in ("pyodide.mjs", "pyodide-lock.json", "python_stdlib.zip"):
            assert sha256_file(dist / "lib" / name) == pin
    stdlib = (build.PYODIDE_DIR / "python_stdlib.zip").read_bytes()
    assert (dist / "lib" / "python_stdlib.zip").read_bytes() == build.precompile("python_stdlib.zip", stdlib)[0]
    patched = (dist / "lib" / "pyodide.mjs").read_text()
    original = (build.PYODIDE_DIR / "pyodide.mjs").read_text()
    assert patched == build.patch_loader(original.encode()).decode()
    assert len(original) - len(patched) < 200  # one small, audited change


def test_nothing_in_dist_references_a_cdn(dist):
    cdn = re.compile(rb"jsdelivr|unpkg\.com|cdnjs|cdn\.|googleapis|sourceMappingURL")
    for path in dist.rglob("*"):
        if path.suffix in (".whl", ".zip", ".wasm") or not path.is_file():
            continue
        match = cdn.search(path.read_bytes())
        assert match is None, f"{path.name} mentions {match.group(0)!r}"


def test_minimodel_wheel_is_reproducible_and_complete(dist):
    name, data = build.build_minimodel_wheel()
    assert name == "minimodel-0.1.0-py3-none-pyodide_2024_0_wasm32.whl"
    assert build.build_minimodel_wheel()[1] == data
    assert (dist / "lib" / name).read_bytes() == build.precompile(name, data)[0]
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        names = set(wheel.namelist())
        assert {"minimodel/__init__.py", "minimodel/model.py", "minimodel/similarity.py", "minimodel/jsbridge.py",
                "minimodel/_checks.py", "minimodel/layers.py", "minimodel/index.py", "minimodel/_kernels.py"} <= names
        assert "Requires-Dist: numpy>=1.24" in wheel.read("minimodel-0.1.0.dist-info/METADATA").decode()
        assert wheel.read("minimodel/libminimodel_kernels.so") == build.KERNELS_WASM.read_bytes()
        record = wheel.read("minimodel-0.1.0.dist-info/RECORD").decode()
        assert all(n in record for n in names)


def test_second_build_writes_nothing(dist):
    result = subprocess.run([sys.executable, str(build.ROOT / "build.py")], capture_output=True, text=True, check=True)
    assert "0 written, 0 removed" in result.stdout
    assert "wrote" not in result.stdout


def test_tampered_runtime_file_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "pyodide"
    fake.mkdir()
    for name in build.RUNTIME_PINS:
        (fake / name).write_bytes((build.PYODIDE_DIR / name).read_bytes())
    (fake / "pyodide.asm.js").write_bytes(b"// not pyodide")
    monkeypatch.setattr(build, "PYODIDE_DIR", fake)
    with pytest.raises(build.BuildError, match="pyodide.asm.js has sha256 .* expected the pinned"):
        build.read_pinned_runtime_file("pyodide.asm.js")


def test_wheel_with_wrong_hash_in_cache_is_not_used(tmp_path, monkeypatch):
    official = json.loads((build.PYODIDE_DIR / "pyodide-lock.json").read_text())
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in build.OFFICIAL_PACKAGES:
        file_name = official["packages"][name]["file_name"]
        (cache / file_name).write_bytes(b"tampered")
    monkeypatch.setattr(build, "CACHE", cache)
    monkeypatch.setenv("MINIMODEL_NO_CDN", "1")
    monkeypatch.setattr(build, "_from_pypi_carrier", lambda names: {n: b"also wrong" for n in names})
    with pytest.raises(build.BuildError) as info:
        build.fetch_wheels(official)
    message = str(info.value)
    assert OFFICIAL_NUMPY_SHA256 in message
    assert "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl" in message
    assert "does not match" in message and str(cache) in message


def test_committed_kernel_build_matches_its_source():
    record = json.loads(build.KERNELS_RECORD.read_text())
    assert record["source_sha256"] == sha256_file(build.KERNELS_SOURCE)
    assert record["wasm_sha256"] == sha256_file(build.KERNELS_WASM)
    assert record["flags"] == build.KERNELS_FLAGS
    wasm = build.KERNELS_WASM.read_bytes()
    assert wasm[:4] == b"\0asm" and b"dylink.0" in wasm[:64]  # an Emscripten side module
    clang = shutil.which("clang")
    if not clang or not shutil.which("wasm-ld"):
        pytest.skip("clang and lld are not installed: cannot recompile the kernels here")
    if build._clang_version(clang) != record["compiler"]:
        pytest.skip(f"recorded with {record['compiler']}, this machine has {build._clang_version(clang)}")
    assert build.compile_kernels(clang) == wasm


def test_kernel_source_change_without_compiler_is_refused(tmp_path, monkeypatch):
    source = tmp_path / "k.c"
    source.write_text(build.KERNELS_SOURCE.read_text() + "\n/* changed */\n")
    monkeypatch.setattr(build, "KERNELS_SOURCE", source)
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    with pytest.raises(build.BuildError, match="changed since .* was built; install clang and lld"):
        build.kernels_wasm()
