"""The benchmark's hand-built ONNX export of all-MiniLM-L6-v2 (bench/minilm_onnx.py) against
the golden vectors that sentence-transformers itself made (tests/data/minilm_golden.npz,
written by tools/reference/make_golden.py).

The model is not downloaded here: the tests take the genuine folder that conftest's
genuine_minilm unpacks from the wheel the build verified and keeps in .cache/minilm/.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import minilm_onnx  # the project root is on sys.path (conftest)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "minilm_golden.npz"


@pytest.fixture(scope="module")
def golden() -> dict:
    return minilm_onnx.load_golden(GOLDEN)


@pytest.fixture(scope="module")
def onnx_bytes(genuine_minilm: Path) -> bytes:
    pytest.importorskip("onnx")
    pytest.importorskip("safetensors")
    return minilm_onnx.build_model(genuine_minilm)


def test_golden_file_is_whole(golden):
    """What the numpy port and the ONNX export are judged by: sane before it is used."""
    texts, ids, emb = golden["texts"], golden["ids"], golden["embeddings"]
    assert len(texts) == len(ids) == emb.shape[0] >= 250 and emb.shape[1] == 384
    assert emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb.astype(np.float64), axis=1), 1.0, atol=1e-5)
    assert texts[:3] == ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    assert "" in texts and "[CLS]" in texts and "[SEP]" in texts
    lengths = np.array([len(t) for t in ids])
    assert all(t[0] == 101 and t[-1] == 102 for t in ids)  # [CLS] ... [SEP]
    assert lengths.max() == minilm_onnx.MAX_SEQ_LENGTH  # long texts cut at 256 ...
    assert (lengths > 128).sum() >= 5  # ... not at tokenizer.json's 128
    meta = golden["meta"]
    assert meta["model_safetensors_sha256"] == minilm_onnx.MODEL_SHA256
    assert meta["max_seq_length"] == 256 and meta["n_texts"] == len(texts)
    assert meta["single_vs_batch_min_cosine"] >= 0.99999
    for (i, j), want in minilm_onnx.PUBLISHED_SIMILARITY.items():
        assert abs(float(golden["published_similarity"][i, j]) - want) < 5e-4


def test_onnx_export_matches_sentence_transformers(onnx_bytes, golden):
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    assert model.opset_import[0].version == minilm_onnx.OPSET
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in model.graph.output] == ["last_hidden_state"]
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.INT64 for i in model.graph.input)
    ops = {n.op_type for n in model.graph.node}
    assert "Erf" in ops and "Tanh" not in ops  # exact GELU

    result = minilm_onnx.verify(onnx_bytes, golden)  # raises below cosine 0.99999
    assert result["n_texts"] == len(golden["texts"])
    assert result["min_cosine"] >= minilm_onnx.MIN_COSINE

    sim = np.array(result["published_similarity"])
    for (i, j), want in minilm_onnx.PUBLISHED_SIMILARITY.items():
        assert abs(sim[i, j] - want) < 5e-4, ((i, j), sim[i, j], want)
        assert abs(sim[i, j] - float(golden["published_similarity"][i, j])) < 1e-5


def test_padding_does_not_change_a_vector(onnx_bytes, golden):
    """A short text alone, and padded to 256 beside the longest one: the same vector."""
    sess = minilm_onnx.session(onnx_bytes)
    short = golden["ids"][0]
    longest = max(golden["ids"], key=len)
    alone = minilm_onnx.encode(sess, [short])[0]
    padded = minilm_onnx.encode(sess, [longest, short])[1]
    assert float(alone @ padded) >= 0.9999999


def test_model_folder_for_transformers_js(onnx_bytes, genuine_minilm, tmp_path):
    minilm_onnx.write_model_folder(genuine_minilm, tmp_path, onnx_bytes)
    assert (tmp_path / "onnx" / "model.onnx").read_bytes() == onnx_bytes
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "bert" and config["transformers.js_config"] == {"dtype": "fp32"}
    tok_config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert tok_config["model_max_length"] == 256  # where transformers.js truncates
    for name in minilm_onnx.COPIED:
        assert (tmp_path / name).read_bytes() == (genuine_minilm / name).read_bytes()
