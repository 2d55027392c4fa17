"""Step "types": the library's TypeScript declarations (lib/*.d.ts), generated from the
JSDoc in web/lib by TypeScript's compiler (npm typescript, pinned in package.json), never
written by hand. Cached in .cache/types/<key>/, keyed by the sources, the tsconfig files
and the compiler's version, so a build where nothing changed does not run tsc.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from . import config
from .common import BuildError, Site, log, npm_tool_version, sha256

TSC = config.ROOT / "node_modules" / ".bin" / "tsc"
TSCONFIGS = [config.ROOT / "tsconfig.json", config.ROOT / "tsconfig.types.json"]
CACHE = config.CACHE / "types"


def compiler_version() -> str:
    return npm_tool_version("typescript")


def cache_key(sources: list[Path], version: str) -> str:
    parts = [f"typescript {version}".encode()]
    for path in [*TSCONFIGS, *sources]:
        parts += [path.relative_to(config.ROOT).as_posix().encode(), path.read_bytes()]
    return sha256(b"\0".join(parts))[:16]


def declarations(sources: list[Path]) -> dict[str, bytes]:
    """{file name: .d.ts bytes} for the library, from the cache or from tsc now."""
    version = compiler_version()
    cached = CACHE / cache_key(sources, version)
    if not cached.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run(
                [str(TSC), "-p", str(config.ROOT / "tsconfig.types.json"), "--outDir", tmp],
                cwd=config.ROOT, capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise BuildError(f"TypeScript could not generate the declarations:\n{result.stdout}{result.stderr}")
            staging = Path(tempfile.mkdtemp(dir=CACHE.parent if CACHE.parent.exists() else None))
            shutil.copytree(tmp, staging / "out")
            CACHE.mkdir(parents=True, exist_ok=True)
            try:
                (staging / "out").rename(cached)
            except OSError:  # another build made it meanwhile: the same inputs, the same files
                if not cached.is_dir():
                    raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        log(f"generated the TypeScript declarations with TypeScript {version}")
    return {path.name: path.read_bytes() for path in sorted(cached.glob("*.d.ts"))}


def step(site: Site) -> None:
    sources = sorted((config.WEB / "lib").glob("*.js"))
    version = compiler_version()
    generated = declarations(sources)
    if "minimodel.d.ts" not in generated:
        raise BuildError("TypeScript wrote no minimodel.d.ts; check tsconfig.types.json")
    site.add(
        {config.LIB + name: data for name, data in generated.items()},
        {config.LIB + name: f"generated from web/lib/{name[:-5]}.js's JSDoc by TypeScript {version}" for name in generated},
    )
