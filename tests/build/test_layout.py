"""The test suite's own layout: every level is collected by the README's test command
(pytest's default norecursedirs would skip a folder named build)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_level_is_collected():
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folders = {line.split("::")[0].rsplit("/", 1)[0] for line in result.stdout.splitlines() if "::" in line}
    assert {"tests/py", "tests/build", "tests/js", "tests/e2e", "py/minimodel"} <= folders, folders
