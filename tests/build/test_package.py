"""The package step: THIRD_PARTY_LICENSES.md lists every shipped file with its license and
the license texts, and refuses a file that has no entry."""

from __future__ import annotations

import io
import zipfile

import pytest

from sitebuild import config, package
from sitebuild.common import BuildError

PARTS = [
    package.Component("Ours", "MIT", ("lib/*.js", "index.html"), (package.Text("MIT", "LICENSE", "MIT text"),)),
    package.Component("Runtime", "MPL-2.0", ("lib/runtime.wasm",), (package.Text("MPL", "x.whl", "MPL text"),),
                      "A note."),
    package.Component("Also runtime", "MIT OR NCSA", ("lib/runtime.wasm",), (package.Text("MIT", "y", "MIT text"),)),
]


def test_a_file_without_a_license_entry_fails_the_build():
    with pytest.raises(BuildError, match="without a license entry: lib/new-thing.wasm, other.bin"):
        package.render(["lib/a.js", "lib/new-thing.wasm", "other.bin"], PARTS, "T")


def test_notice_lists_each_file_its_licenses_and_each_text_once():
    text = package.render(["lib/a.js", "lib/runtime.wasm"], PARTS, "Title", strip="lib/").decode()
    assert text.startswith("# Title\n")
    assert "| a.js | Ours | MIT |" in text
    assert "| runtime.wasm | Runtime; Also runtime | MPL-2.0; MIT OR NCSA |" in text
    assert text.count("````text\nMIT text\n````") == 1  # the same text twice is appended once
    assert "MPL text" in text and "A note." in text
    assert "index.html" not in text  # only the listed files


def test_star_stays_inside_one_folder():
    assert package.matches("lib/a.js", "lib/*.js")
    assert not package.matches("lib/pyodide.asm.js", "*.js")


def test_wheel_license_texts_are_every_license_file_it_carries():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr("x-1.0.dist-info/LICENSE", "X license")
        wheel.writestr("x/_vendored/y/LICENSE.BSD", "Y license")
        wheel.writestr("x/licenses/__init__.py", "not a license")
        wheel.writestr("x/core.py", "pass")
    texts = package.wheel_license_texts("x-1.0-py3-none-any.whl", buffer.getvalue())
    assert [(t.title, t.body) for t in texts] == [("x-1.0.dist-info/LICENSE", "X license"),
                                                   ("x/_vendored/y/LICENSE.BSD", "Y license")]
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as wheel:
        wheel.writestr("x/core.py", "pass")
    with pytest.raises(BuildError, match="carries no license file"):
        package.wheel_license_texts("x.whl", empty.getvalue())


def test_shipped_notices_cover_every_file(dist):
    lib_notice = (dist / "lib" / package.NOTICE).read_text()
    site_notice = (dist / package.NOTICE).read_text()
    for path in dist.rglob("*"):
        if path.is_file():
            rel = path.relative_to(dist).as_posix()
            assert f"| {rel} |" in site_notice, rel
            if rel.startswith(config.LIB):
                assert f"| {rel[len(config.LIB):]} |" in lib_notice, rel
    assert "| pyodide.asm.js | Pyodide 0.27.7; Emscripten runtime | MPL-2.0; MIT OR NCSA |" in lib_notice
    assert "| python_stdlib.zip | CPython 3.12.7 | PSF-2.0 |" in lib_notice
    assert "Mozilla Public License Version 2.0" in lib_notice
    assert "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" in lib_notice
    assert "Copyright (c) 2005-2024, NumPy Developers." in lib_notice
    assert "Emscripten is available under 2 licenses" in lib_notice
    assert "LICENSE.APACHE" in lib_notice and "digits-data.json" not in lib_notice
    assert "| digits-data.json | UCI ML hand-written digits" in site_notice


def test_project_license_is_in_the_notice(dist):
    assert (config.ROOT / "LICENSE").read_text().strip() in (dist / "lib" / package.NOTICE).read_text()
