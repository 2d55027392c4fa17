"""Step "kernels": the WebAssembly kernel libraries that go into the minimodel wheel.

A kernel *variant* is one C source compiled by one compiler with one set of flags into one
library inside the wheel, with a committed copy and its record (kernels/*.wasm and
*.wasm.json) for machines without that compiler. Two variants: SIMD128 (clang 14, the
one Pyodide loads with the package, as every .so of it), and relaxed SIMD (clang-19
-mrelaxed-simd: fused multiply-adds), shipped as minimodel/kernels_relaxed.wasm — not a
.so, so Pyodide does not load it on its own: the library loads it when the browser
validates relaxed SIMD (init's `kernels` option).

A normal build never writes a tracked file:
  * with the variant's compiler and wasm-ld, it compiles into .cache/kernels/, keyed by the
    source's sha256, the flags and the compiler's version, and uses that;
  * without them, it uses the committed copy, but only if the record says it was built from
    exactly this source (and the copy has the recorded sha256).
`python build.py kernels` (after changing the C source) recompiles every variant and
rewrites the committed copies and records, to be committed with the source.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import config
from .common import BuildError, Site, log, sha256


@dataclass(frozen=True)
class Variant:
    name: str
    source: Path  # the C file
    compiler: str  # command name, looked up on PATH
    flags: tuple[str, ...]
    committed: Path  # the committed build; its record is this path + ".json"
    wheel_path: str  # where the wheel carries it (Pyodide loads every .so of a package)
    linker: str = "wasm-ld"  # clang calls it; it must be on PATH too

    @property
    def record(self) -> Path:
        return self.committed.with_name(self.committed.name + ".json")


KERNELS_DIR = config.ROOT / "kernels"
# An Emscripten-style side module (dylink.0): Pyodide links it into its own memory, so
# ctypes can pass it pointers to numpy data. Nothing from libc is used.
SIMD128_FLAGS = (
    "--target=wasm32", "-O3", "-msimd128", "-fPIC", "-fno-math-errno", "-fvisibility=hidden",
    "-nostdlib", "-Wl,-shared", "-Wl,--experimental-pic",
)
VARIANTS = [
    Variant(
        name="simd128",
        source=KERNELS_DIR / "minimodel_kernels.c",
        compiler="clang",
        flags=SIMD128_FLAGS,
        committed=KERNELS_DIR / "minimodel_kernels.wasm",
        # The name is not importable, so it never shadows the module _kernels.py.
        wheel_path="minimodel/libminimodel_kernels.so",
    ),
    Variant(
        name="relaxed-simd",
        source=KERNELS_DIR / "minimodel_kernels.c",
        compiler="clang-19",
        # clang 19 calls memcpy/memset for small arrays unless bulk memory does it inline.
        flags=(*SIMD128_FLAGS, "-mrelaxed-simd", "-mbulk-memory"),
        committed=KERNELS_DIR / "minimodel_kernels_relaxed.wasm",
        wheel_path="minimodel/kernels_relaxed.wasm",
        linker="wasm-ld-19",
    ),
]
CACHE = config.CACHE / "kernels"

Which = Callable[[str], str | None]


def shown(path: Path) -> str:
    try:
        return path.relative_to(config.ROOT).as_posix()
    except ValueError:
        return str(path)


def compiler_version(compiler: str) -> str | None:
    """The first line of `compiler --version` (e.g. "Debian clang version 14.0.6")."""
    try:
        out = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.splitlines()[0].strip() if out else None


def toolchain(variant: Variant, which: Which = shutil.which) -> tuple[str, str] | None:
    """(compiler path, compiler version) when the variant's compiler and linker are installed."""
    compiler = which(variant.compiler)
    if not compiler or not which(variant.linker):
        return None
    version = compiler_version(compiler)
    return (compiler, version) if version else None


def compile_variant(variant: Variant, compiler: str, source: Path | None = None) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kernels.so"
        subprocess.run([compiler, *variant.flags, "-o", str(out), str(source or variant.source)], check=True)
        return out.read_bytes()


def cache_key(variant: Variant, source: bytes, compiler_version: str) -> str:
    return sha256(json.dumps([variant.name, sha256(source), list(variant.flags), compiler_version]).encode())[:24]


def read_record(variant: Variant) -> dict:
    try:
        return json.loads(variant.record.read_text())
    except (OSError, ValueError):
        return {}


def kernel(variant: Variant, cache: Path = CACHE, which: Which = shutil.which) -> tuple[bytes, str]:
    """The variant's library and where it came from, proven to come from the current source.

    Writes only into ``cache``, never the committed files.
    """
    source = variant.source.read_bytes()
    record = read_record(variant)
    tools = toolchain(variant, which)
    if tools:
        compiler, version = tools
        cached = cache / f"{variant.name}-{cache_key(variant, source, version)}.wasm"
        if not cached.exists():
            data = compile_variant(variant, compiler)
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(cached.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(cached)
            log(f"compiled {shown(variant.source)} ({variant.name}, {len(data):,} bytes) with {version}")
        if record.get("source_sha256") != sha256(source):
            log(f"note: {shown(variant.committed)} is older than {shown(variant.source)}: "
                "run `python build.py kernels` and commit both")
        return cached.read_bytes(), f"compiled from {shown(variant.source)} by {version} at build time"
    if not variant.committed.exists() or record.get("source_sha256") != sha256(source):
        raise BuildError(
            f"{shown(variant.source)} changed since {shown(variant.committed)} was built; "
            f"install {variant.compiler} and {variant.linker} (apt-get install clang lld clang-19 lld-19) "
            "and run `python build.py kernels`"
        )
    data = variant.committed.read_bytes()
    if sha256(data) != record.get("wasm_sha256"):
        raise BuildError(f"{shown(variant.committed)} does not match the sha256 in its record")
    return data, f"committed {shown(variant.committed)}, built from this source by {record.get('compiler')}"


def refresh_committed(variant: Variant, which: Which = shutil.which) -> bool:
    """`python build.py kernels`: recompile and rewrite the committed copy and record if they differ."""
    tools = toolchain(variant, which)
    if not tools:
        raise BuildError(f"`build.py kernels` needs {variant.compiler} and {variant.linker} "
                         "(apt-get install clang lld clang-19 lld-19)")
    compiler, version = tools
    data = compile_variant(variant, compiler)
    source = variant.source.read_bytes()
    record = {
        "source": shown(variant.source),
        "source_sha256": sha256(source),
        "wasm_sha256": sha256(data),
        "compiler": version,
        "flags": list(variant.flags),
    }
    text = json.dumps(record, indent=2) + "\n"
    if variant.committed.exists() and variant.committed.read_bytes() == data and \
            variant.record.exists() and variant.record.read_text() == text:
        log(f"{shown(variant.committed)} is up to date ({version})")
        return False
    variant.committed.write_bytes(data)
    variant.record.write_text(text)
    log(f"wrote {shown(variant.committed)} ({len(data):,} bytes) and its record with {version}; commit them")
    return True


def step(site: Site) -> None:
    for variant in VARIANTS:
        site.kernels[variant.wheel_path], site.kernels_provenance[variant.wheel_path] = kernel(variant)
