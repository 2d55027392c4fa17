"""Step "demo": the demo pages (web/demo, at the top of dist/: index.html, search.html and
their modules, the web app manifest) and the digit classifier. web/demo/sw.js, the service
worker, is not copied here: the "offline" step writes it with the build's hash
(sitebuild/webapp.py).

The classifier is trained by models/train_digits.py (numpy and scikit-learn), once per
version of its sources: the result is cached in .cache/digits/<key>/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import config
from .common import BuildError, Site, log, sha256

TRAINING_SCRIPT = config.ROOT / "models" / "train_digits.py"
DIGITS_FILES = ["digits.safetensors", "digits-hidden.safetensors", "digits-data.json"]
CACHE = config.CACHE / "digits"


def copy_tree(folder: Path, prefix: str) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every file under ``folder`` as {prefix + relative path: bytes}, with its source."""
    files, provenance = {}, {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            rel = prefix + path.relative_to(folder).as_posix()
            files[rel] = path.read_bytes()
            provenance[rel] = path.relative_to(config.ROOT).as_posix() if path.is_relative_to(config.ROOT) else str(path)
    return files, provenance


def training_python() -> str | None:
    """A Python with numpy and scikit-learn (`./dev.sh serve` puts them in .venv)."""
    candidates = [os.environ.get("MINIMODEL_TRAIN_PYTHON"), str(config.ROOT / ".venv" / "bin" / "python"), sys.executable]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and subprocess.run(
            [candidate, "-c", "import numpy, sklearn"], capture_output=True, check=False
        ).returncode == 0:
            return candidate
    return None


def training_key(sources: list[Path]) -> str:
    return sha256(b"".join(path.read_bytes() for path in sources))[:16]


def digits_model(cache: Path = CACHE) -> dict[str, bytes]:
    """The demo's trained digit classifier, trained once per version of its sources."""
    sources = [TRAINING_SCRIPT, *sorted((config.PY / "minimodel").glob("*.py"))]
    cached = cache / training_key(sources)
    if not all((cached / name).exists() for name in DIGITS_FILES):
        python = training_python()
        if python is None:
            raise BuildError(
                "training the demo's digit classifier needs numpy and scikit-learn; "
                "`./dev.sh serve` installs them into .venv (or set MINIMODEL_TRAIN_PYTHON)"
            )
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run([python, str(TRAINING_SCRIPT), tmp], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise BuildError(f"training the digit classifier failed:\n{result.stdout}{result.stderr}")
            log(f"trained the digit classifier: {result.stdout.strip()}")
            cached.mkdir(parents=True, exist_ok=True)
            for name in DIGITS_FILES:
                shutil.copyfile(Path(tmp) / name, cached / name)
    return {name: (cached / name).read_bytes() for name in DIGITS_FILES}


SERVICE_WORKER = "sw.js"  # written by the "offline" step


def step(site: Site) -> None:
    files, provenance = copy_tree(config.WEB / "demo", "")
    files.pop(SERVICE_WORKER, None)
    site.add(files, provenance)
    digits = digits_model()
    accuracy = json.loads(digits["digits-data.json"])["accuracy"]
    site.add(digits, {name: f"trained by models/train_digits.py (held-out accuracy {accuracy:.1%})" for name in digits})
