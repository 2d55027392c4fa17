"""web/lib/wheel.js and packages.js, which unpack the wheels in JavaScript before Python
starts, against Python's own zipfile: archives written by zipfile (stored, deflated, with
folders and a comment, and the site's real wheels) unpack to the same files, byte for
byte; damaged or hostile archives are refused with a message naming the problem."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Unpacks each archive given on the command line; prints, per archive, either the files
# (path -> sha256, in order) or the error message.
SCRIPT = """
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { unzip } from "%(lib)s/wheel.js";
import { packagesFromWheels, isLoadedLibrary } from "%(lib)s/packages.js";
const out = [];
for (const path of process.argv.slice(2)) {
  const bytes = new Uint8Array(readFileSync(path));
  try {
    const files = await unzip(bytes, path.split("/").pop());
    out.push({ files: files.map((f) => [f.path, createHash("sha256").update(f.data).digest("hex")]) });
  } catch (err) {
    out.push({ error: `${err.constructor.name}: ${err.message}` });
  }
}
if (process.env.AS_WHEEL) {
  const name = process.argv[2].split("/").pop();
  const set = await packagesFromWheels([{ name: "pkg", fileName: name, bytes: new Uint8Array(readFileSync(process.argv[2])) }]);
  const [pkg] = set.packages;
  const text = (p) => { const [, o, n] = pkg.files.find((f) => f[0] === p); return new TextDecoder().decode(set.data.subarray(o, o + n)); };
  const dist = pkg.files.map((f) => f[0]).find((p) => p.endsWith("/INSTALLER")).split("/")[0];
  out.push({ dynlibs: pkg.dynlibs, installer: text(`${dist}/INSTALLER`), source: text(`${dist}/PYODIDE_SOURCE`),
             rule: ["a.so", "a.so.1", "x/b.cpython-312-wasm32-emscripten.so", "c.abi3.so", "d.cpython-311-x86_64-linux-gnu.so",
                    "e.txt", "f.so.txt"].filter(isLoadedLibrary) });
}
console.log(JSON.stringify(out));
"""


def unpack(tmp_path: Path, archives: dict[str, bytes], as_wheel: bool = False) -> list[dict]:
    node = shutil.which("node")
    assert node, "Node.js is needed for the JavaScript unit tests"
    script = tmp_path / "unpack.mjs"
    script.write_text(SCRIPT % {"lib": (ROOT / "web" / "lib").as_posix()})
    paths = []
    for name, data in archives.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    env = {"PATH": shutil.os.environ["PATH"], **({"AS_WHEEL": "1"} if as_wheel else {})}
    result = subprocess.run([node, str(script), *paths], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def reference(data: bytes) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [[info.filename, hashlib.sha256(archive.read(info)).hexdigest()]
                for info in archive.infolist() if not info.is_dir()]


def make_zip(entries: list[tuple[str, bytes, int]], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, method in entries:
            if name.endswith("/"):
                archive.writestr(zipfile.ZipInfo(name), b"")
            else:
                archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
        archive.comment = comment
    return buffer.getvalue()


def sample_zip() -> bytes:
    rng = __import__("random").Random(7)
    noise = bytes(rng.getrandbits(8) for _ in range(70_000))  # does not compress
    return make_zip([
        ("pkg/", b"", zipfile.ZIP_STORED),
        ("pkg/__init__.py", b"x = 1\n" * 1000, zipfile.ZIP_DEFLATED),
        ("pkg/empty.txt", b"", zipfile.ZIP_DEFLATED),
        ("pkg/stored.bin", noise, zipfile.ZIP_STORED),
        ("pkg/deflated.bin", noise + bytes(100_000), zipfile.ZIP_DEFLATED),
        ("pkg/\u00e9t\u00e9 \u6f22\u5b57.txt", "caf\u00e9".encode(), zipfile.ZIP_DEFLATED),
        ("pkg-1.0.dist-info/METADATA", b"Name: pkg\n", zipfile.ZIP_DEFLATED),
        ("pkg/lib.so", b"\0asm" + bytes(100), zipfile.ZIP_DEFLATED),
        ("pkg/other.cpython-311-x86_64-linux-gnu.so", b"ELF", zipfile.ZIP_DEFLATED),
    ], comment=b"a comment that moves the end record" * 50)


def test_archives_written_by_zipfile_unpack_to_the_same_files(tmp_path, dist):
    lib = dist / "lib"
    wheels = {p.name: p.read_bytes() for p in sorted(lib.glob("*.whl"))}
    assert {"numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl", "minimodel-0.1.0-py3-none-pyodide_2024_0_wasm32.whl"} <= set(wheels)
    archives = {"sample.zip": sample_zip(), **wheels}
    for (name, data), result in zip(archives.items(), unpack(tmp_path, archives)):
        assert result == {"files": reference(data)}, name


def test_a_wheel_gets_the_installer_files_and_the_libraries_pyodide_loads(tmp_path):
    wheel = {"pkg-1.0-py3-none-any.whl": sample_zip()}
    _, info = unpack(tmp_path, wheel, as_wheel=True)
    assert info["dynlibs"] == ["pkg/lib.so"]  # the x86_64 one is another platform's
    assert info["installer"] == "pyodide.loadPackage" and info["source"] == "pyodide"
    assert info["rule"] == ["a.so", "a.so.1", "x/b.cpython-312-wasm32-emscripten.so", "c.abi3.so"]


@pytest.mark.parametrize("case", ["empty", "random", "truncated", "unsafe path", "absolute path", "bzip2", "bad deflate"])
def test_damaged_or_hostile_archives_are_refused_clearly(tmp_path, case):
    good = make_zip([("a/b.txt", b"hello " * 100, zipfile.ZIP_DEFLATED)])
    data = {
        "empty": b"",
        "random": bytes(__import__("random").Random(1).getrandbits(8) for _ in range(5000)),
        "truncated": good[: len(good) // 2],
        "unsafe path": make_zip([("a/../../etc/passwd", b"x", zipfile.ZIP_STORED)]),
        "absolute path": make_zip([("/etc/passwd", b"x", zipfile.ZIP_STORED)]),
        "bzip2": make_zip([("a.txt", b"x" * 100, zipfile.ZIP_BZIP2)]),
        "bad deflate": _corrupt_deflate(good),
    }[case]
    [result] = unpack(tmp_path, {"x.whl": data})
    expected = {
        "empty": "no end-of-central-directory record",
        "random": "no end-of-central-directory record",
        "truncated": "no end-of-central-directory record",
        "unsafe path": 'unsafe path "a/../../etc/passwd"',
        "absolute path": 'unsafe path "/etc/passwd"',
        "bzip2": "a.txt uses compression method 12 (only stored and deflated are supported)",
        "bad deflate": "a/b.txt does not inflate",
    }[case]
    assert "error" in result, result
    assert result["error"].startswith("Error: x.whl is not a readable zip archive: "), result
    assert expected in result["error"], result


def _corrupt_deflate(good: bytes) -> bytes:
    """The archive with its one deflated stream's bytes replaced by an invalid block type."""
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(good)
    data[start] = 0xFF  # BFINAL=1, BTYPE=11: a reserved block type
    return bytes(data)
