"""The JavaScript below the browser level, run by pytest so the README's one test command
runs it: Node's own test runner over tests/js/*.test.mjs (the worker client's pieces with
a fake Worker), and TypeScript's checker over the library's JSDoc."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_node_unit_tests():
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the JavaScript unit tests (it also runs npm)")
    result = run([node, "--test", "--test-reporter=spec", *sorted(str(p) for p in (ROOT / "tests" / "js").glob("*.test.mjs"))])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " fail 0" in result.stdout, result.stdout[-2000:]


def test_the_library_type_checks():
    """tsc --checkJs --noEmit over web/lib (tsconfig.json): a type error fails the suite."""
    tsc = ROOT / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "npm ci installs typescript (a devDependency)"
    result = run([str(tsc), "-p", "tsconfig.json", "--checkJs", "--noEmit"])
    assert result.returncode == 0, result.stdout + result.stderr
