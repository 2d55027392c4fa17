"""TextEmbedder in CPython, with numpy alone and with the C kernels compiled natively,
against references that are not ours: vectors computed by sentence-transformers itself
(tests/data/minilm_golden.npz, made by tools/reference/make_golden.py) and the published
similarities of the sentence-transformers README. Also: a batch equals one text at a
time, bit for bit; the model files are checked strictly; a saved index loads exactly."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from references import PUBLISHED, load_golden

from minimodel import EmbeddingIndex, WeightsFileError
from minimodel.text import TextEmbedder
from minimodel.weights import read_safetensors, write_tensors

pytestmark = pytest.mark.usefixtures("backend")

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "dist" / "lib" / "models" / "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def golden():
    return load_golden()


@pytest.fixture(scope="module")
def embedder(dist):
    """The model the library ships (float16 weights), as the build wrote it."""
    return TextEmbedder.from_pretrained(MODEL)


def test_the_published_example(embedder):
    v = embedder.embed(PUBLISHED)
    assert v.shape == (3, 384) and v.dtype == np.float32
    similarities = v @ v.T
    np.testing.assert_allclose([similarities[0, 1], similarities[0, 2], similarities[1, 2]], [0.6660, 0.1046, 0.1411],
                               atol=5e-4)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-6)


def test_embeddings_match_sentence_transformers(embedder, golden, backend):
    texts, vectors, _ = golden
    # Every text with the kernels; a spread of them (short, passages, long, unusual) with numpy alone.
    picks = list(range(len(texts))) if backend == "kernels" else list(range(0, len(texts), 10))
    got = embedder.embed([texts[i] for i in picks])
    cosines = (got * vectors[picks]).sum(axis=1)
    assert cosines.min() >= 0.9999, f"text {picks[int(np.argmin(cosines))]}: cosine {cosines.min()}"


def test_token_ids_match_the_reference_tokenizer(embedder, golden):
    texts, _, ids = golden
    for i, text in enumerate(texts):
        assert embedder.tokenize(text) == ids[i], f"text {i}: {text[:60]!r}"


def test_a_batch_equals_one_text_at_a_time_bit_for_bit(embedder, golden):
    texts, _, _ = golden
    sample = [texts[i] for i in (0, 5, 40, 41, 120, 200)] + ["", "a", "short text"]
    together = embedder.embed(sample)
    alone = np.concatenate([embedder.embed([text]) for text in sample])
    assert together.tobytes() == alone.tobytes()
    assert embedder.embed(sample[2]).tobytes() == alone[2:3].tobytes()  # a string is one text


def test_bad_texts_are_refused_clearly(embedder):
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(TypeError, match=r"texts\[1\] must be a string; received int"):
        embedder.embed(["a", 5])
    with pytest.raises(TypeError, match="texts must be a string or a list of strings; received int"):
        embedder.embed(5)
    assert embedder.tokenize("x" * 5000)[-1] == 102 and len(embedder.tokenize("word " * 1000)) == 256


@pytest.fixture(scope="module")
def model_files(dist):
    return {name: (MODEL / name).read_bytes() for name in ("config.json", "tokenizer.json", "model.safetensors")}


def test_the_browser_sessions_warm_up_changes_no_vector(model_files, golden):
    """The browser's TextSession embeds one text before load() returns; the encoder must
    keep nothing from it (scratch buffers sized for its 4 tokens, say): the texts after it,
    shorter, longer and batched, give the bits of an embedder that never ran before."""
    from minimodel.jsbridge import TextSession, outputs

    files = [model_files[name] for name in ("config.json", "tokenizer.json", "model.safetensors")]
    session = TextSession.from_files(files[0], len(files[0]), files[1], len(files[1]), files[2], len(files[2]))
    fresh = TextEmbedder.from_files(*files)
    texts, _, _ = golden
    sample = ["a", texts[0], texts[120], "warm up", texts[200]]
    outputs.reserve(len(sample) * session.dim)  # as the JS facade does before the call
    n = session.embed_json(json.dumps(sample))
    got = outputs.take(n * session.dim).reshape(n, session.dim).copy()
    assert got.tobytes() == fresh.embed(sample).tobytes()
    assert session.embedder.embed(sample[1]).tobytes() == fresh.embed(sample[1]).tobytes()


def _with_vocab_entry(tokenizer: bytes, token: str, token_id: int) -> bytes:
    """tokenizer.json with model.vocab[token] = token_id."""
    data = json.loads(tokenizer)
    data["model"]["vocab"][token] = token_id
    return json.dumps(data).encode()


def test_broken_model_files_are_refused_with_the_file_named(model_files):
    config, tokenizer, weights = model_files["config.json"], model_files["tokenizer.json"], model_files["model.safetensors"]
    tensors = read_safetensors(weights)
    missing = dict(tensors)
    del missing["encoder.layer.3.output.dense.weight"]
    wrong = dict(tensors)
    wrong["encoder.layer.0.attention.self.query.weight"] = np.zeros((384, 383), np.float32)
    cases = [
        ((b"{not json", tokenizer, weights), "config.json is not valid JSON"),
        ((b"[" * 100_000 + b"]" * 100_000, tokenizer, weights), "config.json is not a model's JSON"),  # RecursionError
        ((config, b"[" * 100_000 + b"]" * 100_000, weights), "tokenizer.json is not a tokenizer's JSON"),
        ((json.dumps({**json.loads(config), "hidden_act": "relu"}).encode(), tokenizer, weights), "hidden_act 'relu'"),
        ((config, tokenizer, write_tensors(missing)), "'encoder.layer.3.output.dense.weight' is missing"),
        ((config, tokenizer, write_tensors(wrong)), r"has shape \[384, 383\]; the config needs \[384, 384\]"),
        ((config, tokenizer, weights[: len(weights) // 2]), "lie outside"),
        ((config, tokenizer, struct.pack("<Q", 2**40) + b"{}"), "at most 104,857,600 are accepted"),
        ((config, b"[]", weights), "tokenizer.json"),
        ((json.dumps({**json.loads(config), "vocab_size": 30000}).encode(), tokenizer, weights),
         "tokenizer.json has 30522 tokens; the model's vocab_size is 30000"),
        ((config, _with_vocab_entry(tokenizer, "[unused0]", 40000), weights),
         r"tokenizer.json gives token id 40000; the model's vocab_size is 30522 \(ids 0 to 30521\)"),
    ]
    for files, message in cases:
        with pytest.raises((WeightsFileError, ValueError), match=message):
            TextEmbedder.from_files(*files)


MEAN_POOLING = {"word_embedding_dimension": 384, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}


@pytest.mark.parametrize(("change", "message"), [
    ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, "this model pools by cls_token; TextEmbedder"),
    ({"pooling_mode_max_tokens": True}, "this model pools by max_tokens, mean_tokens;"),
    ({"pooling_mode_mean_tokens": False}, "this model pools by nothing;"),
    ({"word_embedding_dimension": 768}, "word_embedding_dimension is 768; config.json's hidden_size is 384"),
])
def test_a_model_pooled_otherwise_than_by_the_mean_is_refused(model_files, tmp_path, change, message):
    """Its vectors would not be its own: the embedder computes the mean over the tokens only."""
    for name, data in model_files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({**MEAN_POOLING, **change}))
    with pytest.raises(WeightsFileError, match="^1_Pooling/config.json: " + message):
        TextEmbedder.from_pretrained(tmp_path)
    files = [model_files[name] for name in ("config.json", "tokenizer.json", "model.safetensors")]
    with pytest.raises(WeightsFileError, match=message):
        TextEmbedder.from_files(*files, pooling_config=json.dumps({**MEAN_POOLING, **change}).encode())


def test_the_shipped_models_pooling_config_is_read_and_accepted(model_files):
    assert (MODEL / "1_Pooling" / "config.json").exists()
    TextEmbedder.from_pretrained(MODEL)  # reads it: mean pooling
    files = [model_files[name] for name in ("config.json", "tokenizer.json", "model.safetensors")]
    TextEmbedder.from_files(*files, pooling_config=json.dumps(MEAN_POOLING).encode())


def test_a_missing_weights_file_is_named_once(model_files, tmp_path):
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes(model_files[name])
    with pytest.raises(WeightsFileError) as info:
        TextEmbedder.from_pretrained(tmp_path)
    assert str(info.value).startswith("model.safetensors: cannot read ")  # once, not "model.safetensors: model.safetensors: ..."


def test_the_original_float32_weights_load_too(backend, genuine_minilm):
    """The genuine model.safetensors (float32, with position_ids and the pooler) loads as it
    is, and the shipped float16 weights stay within cosine 0.99999 of it."""
    full = TextEmbedder.from_pretrained(genuine_minilm)
    half = TextEmbedder.from_pretrained(MODEL)
    assert full.encoder.word.dtype == np.float32 and half.encoder.word.dtype == np.float16
    kinds = ("qkv", "out", "up", "down")
    assert {layer[n].weights.dtype for layer in full.encoder.layers for n in kinds} == {np.dtype(np.float32)}
    assert {layer[n].weights.dtype for layer in half.encoder.layers for n in kinds} == {np.dtype(np.float16)}
    cosines = (full.embed(PUBLISHED) * half.embed(PUBLISHED)).sum(axis=1)
    assert cosines.min() >= 0.99999


def test_the_kept_float16_tables_give_the_vectors_of_the_widened_file_bit_for_bit(golden, model_files):
    """The shipped file's word table and layer weights stay float16 in memory (23 and 21 MB,
    not 47 and 42); they are widened exactly where they are used, so the vectors are those
    of an encoder built from the whole file widened to float32 in advance."""
    from minimodel.text import BertConfig, BertEncoder

    half = TextEmbedder.from_pretrained(MODEL)
    assert half.encoder.word.flags.owndata  # a copy: it does not hold the file's 45 MB alive
    widened = read_safetensors(model_files["model.safetensors"], integers=True)  # half=False: every tensor float32
    assert {t.dtype for t in widened.values()} == {np.dtype(np.float32)}
    wide_encoder = BertEncoder(BertConfig(json.loads(model_files["config.json"])), widened)
    assert wide_encoder.word.dtype == np.float32 and wide_encoder.layers[0]["up"].weights.dtype == np.float32
    wide = TextEmbedder(half.config, half.tokenizer, wide_encoder)
    texts = golden[0][:40]
    assert np.array_equal(half.embed(texts).view(np.uint32), wide.embed(texts).view(np.uint32))


# ------------------------------------------------------------------ saved indexes


def test_a_saved_index_searches_exactly_the_same():
    rng = np.random.default_rng(4)
    index = EmbeddingIndex(64)
    index.add(rng.standard_normal((5000, 64)).astype(np.float32))
    index.add(np.zeros((3, 64), np.float32))
    again = EmbeddingIndex.from_bytes(index.to_bytes())
    assert again.size == index.size and again.rows.tobytes() == index.rows.tobytes()
    for q in rng.standard_normal((5, 64)).astype(np.float32):
        for k in (1, 10, 100, 300):
            a, b = index.search(q, k), again.search(q, k)
            assert a[0].tolist() == b[0].tolist() and a[1].tobytes() == b[1].tobytes()


def header_only(meta: dict, shape: list[int], length: int) -> bytes:
    """A saved index's header claiming a 'vectors' tensor of that shape, with no data."""
    header = json.dumps({"__metadata__": meta, "vectors": {
        "dtype": "F32", "shape": shape, "data_offsets": [0, length]}}).encode()
    return struct.pack("<Q", len(header)) + header


def hostile_index_files() -> list[tuple[bytes, str]]:
    good = EmbeddingIndex(4)
    good.add([[1, 0, 0, 0], [0, 2, 0, 0]])
    data = good.to_bytes()
    meta = {"format": "minimodel.EmbeddingIndex", "version": "1", "dim": "4"}
    rows = np.eye(4, dtype=np.float32)[:2]
    return [
        (b"", "shorter than its 8-byte header length"),
        (data[:-1], "lie outside"),
        (bytes(np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8)), "at most|header|not valid JSON|lie outside"),
        (write_tensors({"vectors": rows}, {**meta, "format": "other"}), "not a saved EmbeddingIndex"),
        (write_tensors({"vectors": rows}, {**meta, "version": "2"}), "version '2' is not supported"),
        (write_tensors({"vectors": rows}, {**meta, "dim": "5"}), "metadata gives dim '5'"),
        (write_tensors({"vectors": rows[0]}, meta), r"shape \[4\]"),
        (write_tensors({"vectors": rows * 2}, meta), "row 0 of 'vectors' has norm 2"),
        (write_tensors({"vectors": rows, "extra": rows}, meta), "holds one tensor 'vectors'"),
        (write_tensors({"vectors": np.array([[np.nan, 0, 0, 0]], np.float32)}, meta), "not a finite number"),
        (write_tensors({"vectors": rows}, {**meta, "dim": "\u00b2"}), "metadata gives dim '\u00b2'"),  # isdigit(), not int()
        (write_tensors({"vectors": np.eye(4, dtype=np.float32)[[0] * 5000 + [1, 1]] * [1, 3, 1, 1]}, meta),
         "row 5000 of 'vectors' has norm 3"),  # past the first chunk of the norm check
        # more values than an index may hold (2**28), claimed by a header alone
        (header_only({**meta, "dim": "64"}, [2**22 + 1, 64], 0), "268,435,520 values; at most 268,435,456 are accepted"),
    ]


@pytest.mark.parametrize(("data", "message"), hostile_index_files())
def test_hostile_saved_indexes_are_refused(data, message):
    with pytest.raises(WeightsFileError, match=message):
        EmbeddingIndex.from_bytes(data)


def test_a_saved_index_may_hold_more_values_than_a_model_layer():
    """An index may hold up to MAX_INDEX_VALUES (2**28) values, a model's tensor 2**26: a
    file of 2**26 + 64 values gets past the count check (to the missing data), not refused
    as too large, without the 256 MiB a real one would need here."""
    meta = {"format": "minimodel.EmbeddingIndex", "version": "1", "dim": "64"}
    with pytest.raises(WeightsFileError, match="lie outside the 0 bytes of data"):
        EmbeddingIndex.from_bytes(header_only(meta, [2**20 + 1, 64], (2**20 + 1) * 256))


def test_every_truncation_of_a_saved_index_is_refused():
    index = EmbeddingIndex(8)
    index.add(np.arange(1, 25, dtype=np.float32))
    data = index.to_bytes()
    for end in range(len(data)):
        with pytest.raises(WeightsFileError):
            EmbeddingIndex.from_bytes(data[:end])
