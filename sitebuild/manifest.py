"""Step "manifest": lib/manifest.json (the library's files, relative to lib/; the loader
reads sizes and hashes from it) and manifest.json (every file of the site, lib/ included)."""

from __future__ import annotations

import json

from . import config
from .common import Site, sha256

OUTPUTS = [config.LIB + "manifest.json", "manifest.json"]


def render(files: dict[str, bytes], provenance: dict[str, str], version: str, prefix: str = "") -> bytes:
    """The sha256, size and source of every file under ``prefix`` (paths relative to it)."""
    listed = {
        rel[len(prefix):]: {"sha256": sha256(data), "size": len(data), "source": provenance[rel]}
        for rel, data in sorted(files.items()) if rel.startswith(prefix)
    }
    return (json.dumps({"pyodide": version, "files": listed}, indent=2) + "\n").encode()


def step(site: Site) -> None:
    lib_manifest = config.LIB + "manifest.json"
    site.add({lib_manifest: render(site.files, site.provenance, site.pyodide_version, config.LIB)},
             {lib_manifest: "build.py: the library's files"})
    site.add({"manifest.json": render(site.files, site.provenance, site.pyodide_version)},
             {"manifest.json": "build.py: every file of the site"})
