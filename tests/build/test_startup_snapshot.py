"""The site's interpreter snapshot (sitebuild/startup_snapshot.py): shipped with its layout,
listed in the manifest, in the packed format the loader reads, over the libraries the
loader loads before Python starts, and kept under a key that changes with what the start reads."""

from __future__ import annotations

import gzip
import json
import re
import struct
from pathlib import Path

from sitebuild import config, startup_snapshot
from sitebuild.common import Site, sha256

PAGE_SIZE = 4096  # web/lib/sparse-heap.js


def libraries_at_start() -> list[str]:
    """LIBRARIES_AT_START, read from the loader (its one definition)."""
    source = (config.WEB / "lib" / "loader.js").read_text(encoding="utf-8")
    block = re.search(r"const LIBRARIES_AT_START = \[(.*?)\];", source, re.S).group(1)
    return re.findall(r'"([^"]+)"', block)


def test_the_snapshot_and_its_layout_are_shipped_and_listed(dist: Path):
    lib = dist / "lib"
    listed = json.loads((lib / "manifest.json").read_text())["files"]
    for path in startup_snapshot.OUTPUTS:
        data = (dist / path).read_bytes()
        name = path.removeprefix(config.LIB)
        assert listed[name]["sha256"] == sha256(data) and listed[name]["size"] == len(data)
    layout = json.loads((dist / startup_snapshot.LAYOUT).read_text())
    prefixes = libraries_at_start()
    assert len(layout["libraries"]) == len(prefixes) == 4
    assert all(any(path.startswith(p) for path in layout["libraries"]) for p in prefixes)
    # Every dlopen handle Python holds names a library of site-packages, at an address in the heap.
    for handle, path in layout["dlopened"]:
        assert 0 < handle < layout["size"]
        assert path.startswith("/lib/python3.12/site-packages/") and path.endswith(".so")


def test_the_snapshot_is_the_packed_pages_of_its_heap_gzipped(dist: Path):
    data = gzip.decompress((dist / startup_snapshot.SNAPSHOT).read_bytes())
    size = json.loads((dist / startup_snapshot.LAYOUT).read_text())["size"]
    (count,) = struct.unpack_from("<I", data)
    pages = struct.unpack_from(f"<{count}I", data, 4)
    last = -(-size // PAGE_SIZE) - 1
    assert list(pages) == sorted(set(pages)) and pages[-1] <= last
    lengths = sum(PAGE_SIZE if page < last else size - last * PAGE_SIZE for page in pages)
    assert len(data) == 4 + 4 * count + lengths
    assert 0.4 * size < len(data) < size  # the zero pages were left out, and only those could be
    # No page kept is all zeros (the packer leaves those out).
    body = memoryview(data)[4 + 4 * count:]
    assert all(any(body[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]) for i in range(0, count, 97))


def test_the_key_changes_with_what_the_start_reads_and_not_with_the_model():
    site = Site("0.27.7")
    site.add({"lib/minimodel.js": b"a", "lib/models/m/model.safetensors": b"w", "index.html": b"h"},
             {"lib/minimodel.js": "t", "lib/models/m/model.safetensors": "t", "index.html": "t"})
    assert list(startup_snapshot.inputs(site)) == ["lib/minimodel.js"]
    key = startup_snapshot.cache_key(site)
    site.replace("lib/models/m/model.safetensors", b"other weights", "t")
    site.replace("index.html", b"another page", "t")
    assert startup_snapshot.cache_key(site) == key
    site.replace("lib/minimodel.js", b"b", "t")
    assert startup_snapshot.cache_key(site) != key
