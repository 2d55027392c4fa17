"""Step "bytecode": python_stdlib.zip and every shipped wheel with .pyc instead of .py.

Importing bytecode instead of compiling source is most of what makes a visit start fast.
tools/pycompile.py does the compiling; it must run on CPython 3.12, the minor version of
Pyodide 0.27's Python (3.12.7). Its output is reproducible, so it is cached in .cache/pyc
by the input's sha256 and the tool's. Without a CPython 3.12, archives ship as they are.

(pyodide-build's `pyodide py-compile` loads fine in Pyodide but is not used: its archives
change at every run — entry timestamps are the wall clock, and its .pyc are timestamp-based
unless SOURCE_DATE_EPOCH is set —, it leaves each wheel's RECORD listing the removed .py
files, renames py3 wheels to cp312, and compiles with whatever Python runs it.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import config
from .common import Site, log, sha256

TOOL = config.ROOT / "tools" / "pycompile.py"
CACHE = config.CACHE / "pyc"
COMPILED = "py-compiled with CPython 3.12"


def find_python312() -> list[str] | None:
    """A command running CPython 3.12, whose bytecode Pyodide 0.27 (Python 3.12.7) loads."""
    if sys.version_info[:2] == (3, 12):
        return [sys.executable]
    candidates = [shutil.which("python3.12"), *sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python"))]
    for candidate in candidates:
        if candidate and subprocess.run([str(candidate), "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
                                        capture_output=True, check=False).returncode == 0:
            return [str(candidate)]
    return None


def precompile(name: str, data: bytes, cache: Path = CACHE) -> tuple[bytes, str]:
    """(the archive with sourceless .pyc instead of .py, how it was made), cached by input hash."""
    cached = cache / f"{sha256(data)}-{sha256(TOOL.read_bytes())[:12]}.zip"
    if cached.exists():
        return cached.read_bytes(), COMPILED
    python = find_python312()
    if python is None:
        log(f"warning: no CPython 3.12 found; shipping {name} without precompiled bytecode (slower start-up)")
        return data, "not precompiled (no CPython 3.12 at build time)"
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.zip", Path(tmp) / "out.zip"
        source.write_bytes(data)
        subprocess.run([*python, str(TOOL), str(source), str(target)], check=True)
        result = target.read_bytes()
    cache.mkdir(parents=True, exist_ok=True)
    tmp_path = cached.with_name(cached.name + ".tmp")
    tmp_path.write_bytes(result)
    tmp_path.replace(cached)
    log(f"precompiled {name} to bytecode ({len(data):,} -> {len(result):,} bytes)")
    return result, COMPILED


def archives(files: dict[str, bytes]) -> list[str]:
    """The site's files that get bytecode: the stdlib archive and the library's wheels."""
    return [rel for rel in files
            if rel == config.LIB + "python_stdlib.zip" or (rel.startswith(config.LIB) and rel.endswith(".whl"))]


def step(site: Site) -> None:
    for rel in archives(site.files):
        data, how = precompile(rel.rsplit("/", 1)[-1], site.files[rel])
        site.replace(rel, data, f"{site.provenance[rel]}, {how}")
