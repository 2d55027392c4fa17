"""Replace the .py files of a zip archive or wheel by their compiled .pyc (sourceless).

Pyodide then imports bytecode instead of compiling source in the browser at every visit,
which is most of its start-up time. This does what `pyodide py-compile` (pyodide-build)
does, with the standard library only: the bytecode must come from the same minor Python
as Pyodide's (3.12), so run this with CPython 3.12:

    python3.12 tools/pycompile.py IN OUT

The .pyc files use unchecked source hashes (PEP 552), so the output is reproducible.
A wheel's RECORD is rewritten to list the new files with their hashes.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import sys
import zipfile

PYTHON = (3, 12)


def _compile(source: bytes, display_name: str) -> bytes:
    code = compile(source, display_name, "exec", dont_inherit=True)
    source_hash = importlib.util.source_hash(source)
    from importlib._bootstrap_external import _code_to_hash_pyc  # noqa: PLC0415 (private, stable in 3.12)

    return bytes(_code_to_hash_pyc(code, source_hash, checked=False))


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def compile_archive(data: bytes) -> bytes:
    if sys.version_info[:2] != PYTHON:
        raise RuntimeError(f"bytecode for Pyodide needs CPython {PYTHON[0]}.{PYTHON[1]}; this is {sys.version.split()[0]}")
    entries: list[tuple[zipfile.ZipInfo, bytes]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            body = archive.read(info)
            if info.filename.endswith(".py"):
                try:
                    body = _compile(body, info.filename)
                except SyntaxError:  # e.g. test files of other Python versions: keep the source
                    entries.append((info, body))
                    continue
                new = zipfile.ZipInfo(info.filename + "c", date_time=info.date_time)
                new.external_attr = info.external_attr
                entries.append((new, body))
            else:
                entries.append((info, body))
    record = [i for i, (info, _) in enumerate(entries) if info.filename.endswith(".dist-info/RECORD")]
    if record:
        (index,) = record
        lines = [_record_line(info.filename, body) for info, body in entries if not info.filename.endswith("RECORD")]
        lines.append(f"{entries[index][0].filename},,")
        entries[index] = (entries[index][0], ("\n".join(lines) + "\n").encode())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, body in entries:
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, body)
    return out.getvalue()


if __name__ == "__main__":
    source, target = sys.argv[1:3]
    with open(source, "rb") as f:
        result = compile_archive(f.read())
    with open(target, "wb") as f:
        f.write(result)
