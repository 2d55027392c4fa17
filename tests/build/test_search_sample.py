"""The search page's build code: the sample corpus (passages and their saved index, checked
against what TextEmbedder computes now), the passage splitter, the app icons and the service
worker's build hash."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from sitebuild import config, model, search_sample, webapp
from sitebuild.search_sample import hard_split, paragraphs, sentences, split_passages


def words(text: str) -> int:
    """A stand-in tokenizer: one token a word, plus [CLS] and [SEP]."""
    return len(text.split()) + 2


def sentence(n: int, word: str = "word") -> str:
    return " ".join([word] * (n - 1) + [f"{word}."])


# ----------------------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def sample(dist):
    passages = json.loads((dist / search_sample.PASSAGES_FILE).read_bytes())
    index = (dist / search_sample.INDEX_FILE).read_bytes()
    source = json.loads((dist / "manifest.json").read_text())["files"][search_sample.INDEX_FILE]["source"]
    return passages, index, source


def test_sample_passages_come_from_the_stdlib_and_fit_the_model(sample, dist):
    from minimodel.tokenizer import WordPieceTokenizer

    data, _, _ = sample
    assert data["format"] == "minimodel-search-passages" and data["version"] == 1 and data["model"] == model.NAME
    passages = data["passages"]
    assert 150 <= len(passages) <= 500  # a few hundred: quick to download
    modules = {p["file"] for p in passages} & set(search_sample.MODULES)
    assert len(modules) >= 35 and {"csv", "json", "re", "argparse"} <= modules
    assert {p["file"].split(".")[0] for p in passages} <= {m.split(".")[0] for m in search_sample.MODULES}
    files = {}
    for p in passages:  # positions count up within each file, in order
        assert p["position"] == files.get(p["file"], -1) + 1
        files[p["file"]] = p["position"]
        assert p["text"].strip() == p["text"] and p["text"]
        assert ">>>" not in p["text"] and ":func:`" not in p["text"]
    tokenizer = WordPieceTokenizer.from_json((dist / model.FOLDER / "tokenizer.json").read_bytes(), max_length=1024)
    assert max(len(tokenizer.encode(p["text"])) for p in passages) < 256  # nothing is cut by the embedder
    import csv

    reader = next(p for p in passages if p["file"] == "csv.reader")
    assert reader["text"].startswith("csv.reader: ")
    assert search_sample.clean_docstring(csv.reader.__doc__).split("\n\n")[0].split()[0] in reader["text"]


def test_sample_index_has_a_row_per_passage_equal_to_what_textembedder_computes_now(sample, dist, native_kernels):
    from minimodel import EmbeddingIndex, TextEmbedder, _kernels, normalize_rows
    from minimodel.weights import read_safetensors

    data, index_bytes, source = sample
    passages = data["passages"]
    index = EmbeddingIndex.from_bytes(index_bytes)
    assert index.size == len(passages) and index.dim == 384
    rows = read_safetensors(index_bytes)["vectors"]
    assert rows.shape == (len(passages), 384)

    previous = _kernels.active()
    _kernels.use(native_kernels if "C kernels compiled natively" in source else None)
    try:
        embedder = TextEmbedder.from_pretrained(dist / model.FOLDER)
        picks = [0, 1, len(passages) // 2, len(passages) - 1]
        now = normalize_rows(embedder.embed([passages[i]["text"] for i in picks]))
    finally:
        _kernels._active = previous
    # the same code on the same inputs: the same bits (a text's vector does not depend on its batch)
    np.testing.assert_array_equal(rows[picks], now)
    found, scores = index.search(now[2], 3)
    assert found[0] == picks[2] and scores[0] == pytest.approx(1.0, abs=1e-6)


def test_sample_is_cached_by_its_inputs(tmp_path, monkeypatch, dist):
    files = {name: (dist / model.FOLDER / name).read_bytes()
             for name in ["config.json", "tokenizer.json", "sentence_bert_config.json", "model.safetensors"]}
    docs = [{"module": "m", "file": "m", "text": "A tiny module.\n\nIt reads files and writes them.", "limit": 3},
            {"module": "m", "file": "m.f", "text": "m.f: Return the answer.", "limit": 2}]
    first = search_sample.sample(files, cache=tmp_path, docs=docs)
    assert [p["text"] for p in json.loads(first[0])["passages"]] == [
        "A tiny module.\n\nIt reads files and writes them.", "m.f: Return the answer."]

    def no_embedding(*args, **kwargs):
        raise AssertionError("embedded again although nothing changed")

    monkeypatch.setattr(search_sample, "embed_passages", no_embedding)
    assert search_sample.sample(files, cache=tmp_path, docs=docs) == first  # from .cache/, the same bytes
    changed = [docs[0], {**docs[1], "text": "m.f: Return another answer."}]
    with pytest.raises(AssertionError, match="embedded again"):
        search_sample.sample(files, cache=tmp_path, docs=changed)


def test_clean_docstring_keeps_prose_and_drops_markup_and_examples():
    doc = """Summary line.

        Use :func:`os.path.join` or ``Path`` to build :class:`~pathlib.Path` paths.

        >>> 1 + 1
        2
        """
    assert search_sample.clean_docstring(doc) == "Summary line.\n\nUse os.path.join or Path to build pathlib.Path paths."


# ----------------------------------------------------------------------------- splitting


def test_paragraphs_and_sentences():
    assert paragraphs("a\r\nb\n \t\nc  d\n\n\n\ne") == ["a b", "c d", "e"]
    assert paragraphs(" \n\n ") == []
    assert sentences('One. "Two!" Three? e.g. no (four.) 五。六！end') == [
        "One.", '"Two!"', "Three?", "e.g.", "no (four.)", "五。", "六！", "end"]


def test_short_paragraphs_merge_forward_and_a_short_last_one_backward():
    heading, body, tail = "# Title", sentence(100), "The end."
    assert split_passages(f"{heading}\n\n{body}\n\n{body}\n\n{tail}", words, 256) == [
        f"{heading}\n\n{body}", f"{body}\n\n{tail}"]
    # neither is short: no merge; merged passages stay within the target
    assert split_passages(f"{sentence(60)}\n\n{sentence(60)}", words, 256) == [sentence(60), sentence(60)]
    assert split_passages(f"{sentence(40)}\n\n{sentence(100)}", words, 256) == [f"{sentence(40)}\n\n{sentence(100)}"]
    assert split_passages(f"{sentence(40)}\n\n{sentence(110)}", words, 256) == [sentence(40), sentence(110)]


def test_long_paragraphs_are_cut_at_sentences_then_by_tokens():
    long_paragraph = " ".join([sentence(100)] * 5)  # 500 words
    parts = split_passages(long_paragraph, words, 256)
    assert parts == [sentence(100)] * 5  # two do not fit in 150 tokens together
    mixed = " ".join([sentence(30)] * 12)
    assert split_passages(mixed, words, 256) == [" ".join([sentence(30)] * 4)] * 3  # 4 x 32 - 3 x 2 = 122 tokens
    giant = sentence(700)  # one sentence past maxTokens: cut by words, each piece within 150 tokens
    pieces = split_passages(giant, words, 256)
    assert " ".join(pieces) == giant and all(words(p) <= 150 for p in pieces) and len(pieces) == 5
    # a "word" longer than the limit (no spaces) is cut between characters
    chars = lambda text: len(text) + 2  # noqa: E731
    assert hard_split("x" * 400, chars, 150) == ["x" * 148, "x" * 148, "x" * 104]


def test_cutting_a_long_text_without_sentence_ends_reads_it_about_once(monkeypatch):
    """A log or a word list is one long "sentence": each passage's end is found by probing
    ends 1, 2, 4, ... words past its start, so the tokenizer sees about twice the text in
    all, not the rest of the document for every passage (4.7 GB for a 2.6 MB log, once);
    and the passages are those of a binary search over the whole rest."""
    text = " ".join(f"w{i % 997}" for i in range(60_000))
    seen = []

    def count(piece: str) -> int:
        seen.append(len(piece))
        return len(piece.split(" ")) + 2

    pieces = hard_split(text, count, 150)

    def bisect_end(parts, start, joiner, count, limit):  # the search it replaced
        lo, hi = start + 1, len(parts)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if count(joiner.join(parts[start:mid])) <= limit else (lo, mid - 1)
        return lo

    assert sum(seen) < 20 * len(text), f"{sum(seen):,} characters counted for a text of {len(text):,}"
    monkeypatch.setattr(search_sample, "_longest_prefix", bisect_end)
    assert hard_split(text, count, 150) == pieces and len(pieces) == 406  # 60,000 words, 148 a piece


def test_no_passage_is_cut_by_the_embedder_with_the_real_tokenizer(dist):
    count, max_tokens = search_sample.tokenizer_counter(
        {name: (dist / model.FOLDER / name).read_bytes() for name in ["tokenizer.json", "sentence_bert_config.json"]})
    text = ("Short heading\n\n" + "This sentence goes on and on, " * 80 + "and ends.\n\n"
            + "日本語の文章です。" * 60 + "\n\n" + "Ünïcödé wörds, mixed with CJK 中文 and emoji 🙂. " * 20)
    passages = split_passages(text, count, max_tokens)
    assert all(count(p) < max_tokens for p in passages)
    assert "".join(p.replace(" ", "").replace("\n", "") for p in passages) == "".join(text.split())


# ----------------------------------------------------------------------------- web app and service worker


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and zlib.crc32(data[12:16 + length]) == struct.unpack(">I", data[16 + length:20 + length])[0]
    return struct.unpack(">II", data[16:24])


def test_icons_are_pngs_of_their_size_drawn_the_same_every_time(dist):
    manifest = json.loads((dist / "manifest.webmanifest").read_text())
    for entry in manifest["icons"]:
        path = dist / entry["src"]
        assert path.exists(), entry
        if entry["type"] == "image/png":
            size = int(entry["sizes"].split("x")[0])
            assert png_size(path.read_bytes()) == (size, size)
            assert webapp.png(webapp.icon(size)) == path.read_bytes()
    assert manifest["start_url"] == "./search.html" and manifest["display"] == "standalone"


def test_service_worker_carries_the_hash_of_the_manifest_it_serves(dist):
    manifest = json.loads((dist / "manifest.json").read_text())
    sw = (dist / "sw.js").read_text()
    build = webapp.manifest_hash(manifest)
    assert f'const BUILD = "{build}";' in sw and webapp.PLACEHOLDER not in sw
    assert sw == (config.WEB / "demo" / "sw.js").read_text().replace(webapp.PLACEHOLDER, build)
    # any change to a file, or to where it comes from, makes another hash
    changed = json.loads(json.dumps(manifest))
    changed["files"]["style.css"]["sha256"] = "0" * 64
    assert webapp.manifest_hash(changed) != build
    changed = json.loads(json.dumps(manifest))
    changed["files"]["sw.js"]["sha256"] = "0" * 64  # sw.js itself is not part of it
    assert webapp.manifest_hash(changed) == build
    assert json.loads((dist / "manifest.json").read_text())["files"]["sw.js"]["source"].startswith("web/demo/sw.js, with")


def test_service_worker_source_needs_its_placeholder_once():
    from sitebuild.common import BuildError

    with pytest.raises(BuildError, match="exactly once"):
        webapp.service_worker("const BUILD = 'x';", "abc")
    assert webapp.service_worker(f'const BUILD = "{webapp.PLACEHOLDER}";', "abc") == b'const BUILD = "abc";'
