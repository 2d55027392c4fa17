"""The built dist/: where every byte comes from, and that it is what it claims to be.

Each step alone is tested in test_steps.py, test_kernels.py and test_package.py.
"""

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

import build
from sitebuild import bytecode, config, kernels, minimodel_wheel, runtime
from sitebuild.common import sha256

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
    assert lock["info"]["version"] == "0.27.7" == config.pyodide_version()  # Pyodide refuses a lock without it
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
    official = json.loads((config.PYODIDE_DIR / "pyodide-lock.json").read_text())["packages"]
    assert official["numpy"]["sha256"] == OFFICIAL_NUMPY_SHA256
    manifest = json.loads((dist / "lib" / "manifest.json").read_text())["files"]
    for name in config.OFFICIAL_PACKAGES:
        file_name = official[name]["file_name"]
        source = (config.WHEEL_CACHE / file_name).read_bytes()
        assert sha256(source) == official[name]["sha256"]
        assert bytecode.precompile(file_name, source)[0] == (dist / "lib" / file_name).read_bytes()
        assert official[name]["sha256"] in manifest[file_name]["source"]
        with zipfile.ZipFile(dist / "lib" / file_name) as shipped, \
                zipfile.ZipFile(config.WHEEL_CACHE / file_name) as original:
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
    for name, pin in config.runtime_pins(config.pyodide_version()).items():
        assert sha256_file(config.PYODIDE_DIR / name) == pin
        if name not in ("pyodide.mjs", "pyodide-lock.json", "python_stdlib.zip"):
            assert sha256_file(dist / "lib" / name) == pin
    stdlib = (config.PYODIDE_DIR / "python_stdlib.zip").read_bytes()
    assert (dist / "lib" / "python_stdlib.zip").read_bytes() == bytecode.precompile("python_stdlib.zip", stdlib)[0]
    patched = (dist / "lib" / "pyodide.mjs").read_text()
    original = (config.PYODIDE_DIR / "pyodide.mjs").read_text()
    assert patched == runtime.patch_loader(original.encode()).decode()
    assert len(original) - len(patched) < 200  # one small, audited change


def test_nothing_in_dist_references_a_cdn(dist):
    cdn = re.compile(rb"jsdelivr|unpkg\.com|cdnjs|cdn\.|googleapis|sourceMappingURL")
    for path in dist.rglob("*"):
        if path.suffix in (".whl", ".zip", ".wasm") or not path.is_file():
            continue
        match = cdn.search(path.read_bytes())
        assert match is None, f"{path.name} mentions {match.group(0)!r}"


def test_minimodel_wheel_is_reproducible_and_complete(dist):
    libraries = {variant.wheel_path: kernels.kernel(variant)[0] for variant in kernels.VARIANTS}
    name, data = minimodel_wheel.build_wheel(libraries)
    assert name == "minimodel-0.1.0-py3-none-pyodide_2024_0_wasm32.whl"
    assert minimodel_wheel.build_wheel(libraries)[1] == data
    assert (dist / "lib" / name).read_bytes() == bytecode.precompile(name, data)[0]
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        names = set(wheel.namelist())
        assert {"minimodel/__init__.py", "minimodel/model.py", "minimodel/similarity.py", "minimodel/jsbridge.py",
                "minimodel/_checks.py", "minimodel/layers.py", "minimodel/index.py", "minimodel/_kernels.py"} <= names
        assert "Requires-Dist: numpy>=1.24" in wheel.read("minimodel-0.1.0.dist-info/METADATA").decode()
        assert wheel.read("minimodel/libminimodel_kernels.so") == libraries["minimodel/libminimodel_kernels.so"]
        assert wheel.read("minimodel/kernels_relaxed.wasm") == libraries["minimodel/kernels_relaxed.wasm"]
        record = wheel.read("minimodel-0.1.0.dist-info/RECORD").decode()
        assert all(n in record for n in names)


def test_second_build_writes_nothing_and_no_tracked_file(dist):
    def kernels_state():
        status = subprocess.run(["git", "status", "--porcelain", "--", "kernels"], cwd=build.ROOT, check=False,
                                capture_output=True, text=True).stdout if shutil.which("git") else ""
        return status, {p.name: p.read_bytes() for p in (build.ROOT / "kernels").iterdir()}

    before = kernels_state()
    result = subprocess.run([sys.executable, str(build.ROOT / "build.py")], capture_output=True, text=True, check=True)
    assert "0 written, 0 removed" in result.stdout
    assert "wrote" not in result.stdout
    assert kernels_state() == before  # with or without clang, a build writes no tracked file


def test_dist_is_what_the_steps_assemble(dist):
    site = build.assemble()
    on_disk = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()}
    assert set(site.files) == on_disk
    assert [name for name, _ in build.STEPS] == [
        "library", "types", "runtime", "wheels", "kernels", "minimodel", "model", "bytecode", "lock", "packages", "snapshot", "demo", "sample",
        "webapp", "package", "offline", "manifest"]
