"""What every step shares: the Site being assembled, BuildError, log, sha256, keep, npm_tool_version, run_node."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class BuildError(Exception):
    """A build that cannot go on; the message says what to do."""


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npm_tool_version(package: str) -> str:
    """The version of an npm build tool in node_modules (package.json pins it), or BuildError."""
    from . import config  # here: config imports this module

    manifest = config.ROOT / "node_modules" / package / "package.json"
    try:
        return json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError) as err:
        raise BuildError(f"{package} is not installed ({err}); run `npm ci` (./dev.sh does)") from err


def run_node(tool: Path, *args: str, doing: str) -> None:
    """Run one of the build's Node scripts (tools/*.mjs), which use the library's own code or
    npm tools; BuildError, saying what it was `doing`, if Node is missing or the script fails."""
    from . import config  # here: config imports this module

    node = shutil.which("node")
    if node is None:
        raise BuildError(f"Node.js is needed for {doing} (./dev.sh installs it)")
    result = subprocess.run([node, str(tool), *args], cwd=config.ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise BuildError(f"{doing} failed:\n{result.stderr.strip()[-4000:]}")


def keep(path: Path, data: bytes) -> None:
    """Write a cache file whole or not at all (another build may be reading the folder)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


@dataclass
class Site:
    """dist/ as it is being assembled: every file as {relative path: bytes}, where each
    came from, and the values that one step hands to a later one."""

    pyodide_version: str
    files: dict[str, bytes] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)
    official_lock: dict | None = None  # the runtime step's pinned pyodide-lock.json
    kernels: dict[str, bytes] = field(default_factory=dict)  # path inside the minimodel wheel -> bytes
    kernels_provenance: dict[str, str] = field(default_factory=dict)

    def add(self, files: Mapping[str, bytes], provenance: Mapping[str, str]) -> None:
        """Add new files, each with its provenance (a step cannot silently overwrite another's)."""
        for rel, data in files.items():
            if rel in self.files:
                raise BuildError(f"two steps write dist/{rel}")
            if not provenance.get(rel):
                raise BuildError(f"dist/{rel} has no provenance")
            self.files[rel] = data
            self.provenance[rel] = provenance[rel]

    def replace(self, rel: str, data: bytes, provenance: str) -> None:
        """Replace a file an earlier step added (e.g. the bytecode step), with its new provenance."""
        if rel not in self.files:
            raise BuildError(f"dist/{rel} is not in the site")
        self.files[rel] = data
        self.provenance[rel] = provenance
