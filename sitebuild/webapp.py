"""Steps "webapp" and "offline": what makes the site an installable app that works offline.

* "webapp" (before "package"): the app icons, icons/icon-192.png and icons/icon-512.png,
  drawn here with numpy (a magnifying glass on the site's blue; the same picture as
  web/demo/icon.svg), the same bytes at every build. The web app manifest
  (web/demo/manifest.webmanifest) and the SVG icon are copied by the "demo" step.
* "offline" (after "package", before "manifest"): sw.js, the service worker, from
  web/demo/sw.js with the build's hash written into it. The hash covers every file of the
  site with its sha256 and source (all of manifest.json but sw.js itself and
  lib/manifest.json, which follows from the rest), so any change to the site makes a new
  sw.js: the browser sees a new worker, which re-caches what changed. The worker computes
  the same hash from the manifest.json it fetches, to be sure it caches the build it was
  made for (``build_hash`` and sw.js's buildHash are one definition).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

import numpy as np

from . import config
from .common import BuildError, Site, sha256

SW_SOURCE = config.WEB / "demo" / "sw.js"
SW = "sw.js"
PLACEHOLDER = "__MINIMODEL_BUILD__"
NOT_HASHED = {SW, config.LIB + "manifest.json", "manifest.json"}
ICON_SIZES = (192, 512)
ICON_FILES = tuple(f"icons/icon-{size}.png" for size in ICON_SIZES)
BLUE = (0x2B, 0x6C, 0xB0)


# ----------------------------------------------------------------------------- icons


def png(rgba: np.ndarray) -> bytes:
    """An RGBA image (h, w, 4) uint8 as a PNG file (no filter, zlib level 9: deterministic)."""
    height, width, _ = rgba.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgba.reshape(height, width * 4)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + chunk(b"IEND", b"")


def icon(size: int) -> np.ndarray:
    """The app icon at ``size`` pixels: a rounded blue square, a white magnifying glass.
    Shapes are signed distances in a 0..1 square; edges are anti-aliased over one pixel."""
    centers = (np.arange(size) + 0.5) / size
    x, y = np.meshgrid(centers, centers)
    pixel = 1.0 / size

    def cover(distance: np.ndarray) -> np.ndarray:  # distance < 0 inside
        return np.clip(0.5 - distance / pixel, 0.0, 1.0)

    # rounded square, corner radius 0.18
    qx, qy = np.abs(x - 0.5) - 0.5 + 0.18, np.abs(y - 0.5) - 0.5 + 0.18
    square = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - 0.18
    # ring: centre (0.43, 0.43), radius 0.2, stroke 0.075
    ring = np.abs(np.hypot(x - 0.43, y - 0.43) - 0.2) - 0.0375
    # handle: a capsule from (0.575, 0.575) to (0.76, 0.76), half-width 0.05
    (ax, ay), (dx, dy) = (0.575, 0.575), (0.185, 0.185)
    t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    handle = np.hypot(x - (ax + t * dx), y - (ay + t * dy)) - 0.05
    background = cover(square)
    glass = np.maximum(cover(ring), cover(handle)) * background
    rgb = np.empty((size, size, 3))
    for c in range(3):
        rgb[..., c] = BLUE[c] * (1 - glass) + 255 * glass
    alpha = background
    out = np.empty((size, size, 4), np.uint8)
    out[..., :3] = np.rint(rgb).astype(np.uint8)
    out[..., 3] = np.rint(alpha * 255).astype(np.uint8)
    return out


def app_step(site: Site) -> None:
    site.add({name: png(icon(size)) for name, size in zip(ICON_FILES, ICON_SIZES)},
             {name: f"sitebuild/webapp.py: the app icon drawn at {size}x{size}" for name, size in zip(ICON_FILES, ICON_SIZES)})


# ----------------------------------------------------------------------------- service worker


def build_hash(pyodide_version: str, entries: Iterable[tuple[str, str, str]]) -> str:
    """sha256 of "pyodide\\t<version>\\n" and "<path>\\t<sha256>\\t<source>\\n" for each
    (path, sha256, source) but sw.js and the manifests, in path order (sw.js's buildHash)."""
    text = f"pyodide\t{pyodide_version}\n" + "".join(
        f"{path}\t{digest}\t{source}\n" for path, digest, source in sorted(entries) if path not in NOT_HASHED)
    return sha256(text.encode("utf-8"))


def manifest_hash(manifest: dict) -> str:
    """build_hash of a dist/manifest.json (what the service worker checks)."""
    return build_hash(manifest["pyodide"], ((p, e["sha256"], e["source"]) for p, e in manifest["files"].items()))


def service_worker(source: str, build: str) -> bytes:
    if source.count(PLACEHOLDER) != 1:
        raise BuildError(f"{SW_SOURCE.relative_to(config.ROOT)} must contain {PLACEHOLDER} exactly once")
    return source.replace(PLACEHOLDER, build).encode("utf-8")


def offline_step(site: Site) -> None:
    build = build_hash(site.pyodide_version, ((rel, sha256(data), site.provenance[rel]) for rel, data in site.files.items()))
    site.add({SW: service_worker(SW_SOURCE.read_text(encoding="utf-8"), build)},
             {SW: f"web/demo/sw.js, with the build's hash {build[:16]}… written by sitebuild/webapp.py"})
