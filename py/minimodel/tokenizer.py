"""BERT WordPiece tokenization in pure Python, equal to Hugging Face ``tokenizers``.

``WordPieceTokenizer.from_json(data, max_length=256)`` reads a ``tokenizer.json`` (such as
all-MiniLM-L6-v2's) and turns text into the token ids ``tokenizers`` produces for it, with
``[CLS]`` and ``[SEP]`` around them. It runs on the standard library alone (``unicodedata``,
``re``, ``json``), so it works unchanged in Pyodide.

Only what that file describes is implemented, and anything else is refused with a
``ValueError`` naming the field:

* ``normalizer`` ``BertNormalizer`` (clean_text, handle_chinese_chars, strip_accents,
  lowercase), ``pre_tokenizer`` ``BertPreTokenizer``, ``model`` ``WordPiece``,
  ``post_processor`` ``TemplateProcessing`` of the form ``<special> $A <special>``;
* ``added_tokens`` are matched in the text before normalization (``normalized: false``) or
  in the normalized text (``normalized: true``), leftmost-longest, with their
  ``single_word`` / ``lstrip`` / ``rstrip`` flags, as ``tokenizers`` does: a literal
  ``[CLS]`` in the text becomes the ``[CLS]`` id, ``[cls]`` does not;
* ``truncation`` and ``padding`` in the file are ignored (sentence-transformers does not use
  them): ``max_length`` counts every id, ``[CLS]`` and ``[SEP]`` included, and a longer text
  is cut, never refused. Padding is left to the caller.

Unicode versions. ``tokenizers`` (0.23.3, the version the tests compare with) takes its
character properties from three sources, and this module reproduces each of them on top of
Python 3.12's ``unicodedata`` (Unicode 15.0; Pyodide 0.27 has the same):

* the crate ``unicode_categories`` 0.1.1 (tables of Unicode 8.0) for "control" (Cc, Cf, Co
  only: unassigned Cn and surrogates Cs are *not* removed, despite the comment in the Rust
  code), "non-spacing mark" (Mn, dropped by strip_accents) and "punctuation" (P*);
  ``_OTHER_ADDED``, ``_MN_ADDED``, ``_PUNCT_ADDED`` list the code points that Unicode 15.0
  puts in those categories and the crate does not (20, 419 and 127 code points: characters
  encoded after 8.0, and U+1885, U+1886, U+A9BD whose category changed), ``_MN_REMOVED`` and
  ``_PUNCT_REMOVED`` the reverse (U+1734; U+166D and U+111C9);
* the crate ``unicode-normalization-alignments`` 0.1.12 (Unicode 9.0) for the NFD of
  strip_accents: characters encoded later have no decomposition and combining class 0 there,
  so the 109 code points of ``_NFD_LATER`` (later characters with a canonical decomposition
  or a non-zero combining class) are kept out of ``unicodedata.normalize``;
* Rust's standard library (Unicode 17.0 in the 0.23.3 wheels) for ``char::to_lowercase``
  and ``char::is_whitespace``: lowercasing is done character by character, as Rust does,
  so a final sigma is lowercased to ``σ`` like every other sigma (Python's ``str.lower`` on a
  whole string would give ``ς``), and ``_LOWER_ADDED`` adds the 55 lowercase mappings of
  letters that Unicode 16.0/17.0 encoded and Python 3.12 does not know (U+1C89, U+A7CB-A7DC,
  Garay U+10D50-10D65, Beria Erfe U+16EA0-16EB8). White_Space is the same in every version.

With these, every code point gives the ids ``tokenizers`` gives it (all 1,112,064 were
compared once; tests/py/test_tokenizer.py compares planes 0-3 and 14 whole and a sample of
the unassigned and private-use planes), so no code point has to be excluded from the tests.

Python strings may hold lone surrogates, which ``tokenizers`` cannot receive at all; here
the text is read as UTF-16 (a surrogate pair becomes its character) and a lone surrogate
counts as U+FFFD, which clean_text removes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable

from ._checks import parse_json

__all__ = ["WordPieceTokenizer"]

# --- character properties ----------------------------------------------------------------

#: Rust's ``char::is_whitespace`` (the White_Space property).
_WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Rust's ``char::is_ascii_punctuation`` (includes the ASCII symbols $ + < = > ^ ` | ~).
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
#: The ranges of ``is_chinese_char`` in tokenizers/src/normalizers/bert.rs, as written there
#: (they leave out U+2B820-2B91F, unlike Google's original BERT code).
_CHINESE_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)

# Unicode 15.0 Cc/Cf/Co code points that are not Cc/Cf/Co in unicode_categories 0.1.1.
_OTHER_ADDED = ((0x00890, 0x00891), (0x008E2, 0x008E2), (0x110CD, 0x110CD), (0x13430, 0x1343F))

# Unicode 15.0 Mn code points that are not Mn in unicode_categories 0.1.1.
_MN_ADDED = (
    (0x007FD, 0x007FD), (0x00898, 0x0089F), (0x008CA, 0x008E1), (0x009FE, 0x009FE),
    (0x00AFA, 0x00AFF), (0x00B55, 0x00B55), (0x00C04, 0x00C04), (0x00C3C, 0x00C3C),
    (0x00D00, 0x00D00), (0x00D3B, 0x00D3C), (0x00D81, 0x00D81), (0x00EBA, 0x00EBA),
    (0x00ECE, 0x00ECE), (0x0180F, 0x0180F), (0x01885, 0x01886), (0x01ABF, 0x01ACE),
    (0x01DF6, 0x01DFB), (0x0A82C, 0x0A82C), (0x0A8C5, 0x0A8C5), (0x0A8FF, 0x0A8FF),
    (0x0A9BD, 0x0A9BD), (0x10D24, 0x10D27), (0x10EAB, 0x10EAC), (0x10EFD, 0x10EFF),
    (0x10F46, 0x10F50), (0x10F82, 0x10F85), (0x11070, 0x11070), (0x11073, 0x11074),
    (0x110C2, 0x110C2), (0x111C9, 0x111C9), (0x111CF, 0x111CF), (0x1123E, 0x1123E),
    (0x11241, 0x11241), (0x1133B, 0x1133B), (0x11438, 0x1143F), (0x11442, 0x11444),
    (0x11446, 0x11446), (0x1145E, 0x1145E), (0x1182F, 0x11837), (0x11839, 0x1183A),
    (0x1193B, 0x1193C), (0x1193E, 0x1193E), (0x11943, 0x11943), (0x119D4, 0x119D7),
    (0x119DA, 0x119DB), (0x119E0, 0x119E0), (0x11A01, 0x11A0A), (0x11A33, 0x11A38),
    (0x11A3B, 0x11A3E), (0x11A47, 0x11A47), (0x11A51, 0x11A56), (0x11A59, 0x11A5B),
    (0x11A8A, 0x11A96), (0x11A98, 0x11A99), (0x11C30, 0x11C36), (0x11C38, 0x11C3D),
    (0x11C3F, 0x11C3F), (0x11C92, 0x11CA7), (0x11CAA, 0x11CB0), (0x11CB2, 0x11CB3),
    (0x11CB5, 0x11CB6), (0x11D31, 0x11D36), (0x11D3A, 0x11D3A), (0x11D3C, 0x11D3D),
    (0x11D3F, 0x11D45), (0x11D47, 0x11D47), (0x11D90, 0x11D91), (0x11D95, 0x11D95),
    (0x11D97, 0x11D97), (0x11EF3, 0x11EF4), (0x11F00, 0x11F01), (0x11F36, 0x11F3A),
    (0x11F40, 0x11F40), (0x11F42, 0x11F42), (0x13440, 0x13440), (0x13447, 0x13455),
    (0x16F4F, 0x16F4F), (0x16FE4, 0x16FE4), (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46),
    (0x1E000, 0x1E006), (0x1E008, 0x1E018), (0x1E01B, 0x1E021), (0x1E023, 0x1E024),
    (0x1E026, 0x1E02A), (0x1E08F, 0x1E08F), (0x1E130, 0x1E136), (0x1E2AE, 0x1E2AE),
    (0x1E2EC, 0x1E2EF), (0x1E4EC, 0x1E4EF), (0x1E944, 0x1E94A),
)
# Mn in unicode_categories 0.1.1, Mc in Unicode 15.0.
_MN_REMOVED = ((0x01734, 0x01734),)

# Unicode 15.0 P* code points that are not P* in unicode_categories 0.1.1.
_PUNCT_ADDED = (
    (0x0061D, 0x0061D), (0x009FD, 0x009FD), (0x00A76, 0x00A76), (0x00C77, 0x00C77),
    (0x00C84, 0x00C84), (0x01B7D, 0x01B7E), (0x02E43, 0x02E4F), (0x02E52, 0x02E5D),
    (0x10EAD, 0x10EAD), (0x10F55, 0x10F59), (0x10F86, 0x10F89), (0x1144B, 0x1144F),
    (0x1145A, 0x1145B), (0x1145D, 0x1145D), (0x11660, 0x1166C), (0x116B9, 0x116B9),
    (0x1183B, 0x1183B), (0x11944, 0x11946), (0x119E2, 0x119E2), (0x11A3F, 0x11A46),
    (0x11A9A, 0x11A9C), (0x11A9E, 0x11AA2), (0x11B00, 0x11B09), (0x11C41, 0x11C45),
    (0x11C70, 0x11C71), (0x11EF7, 0x11EF8), (0x11F43, 0x11F4F), (0x11FFF, 0x11FFF),
    (0x12FF1, 0x12FF2), (0x16E97, 0x16E9A), (0x16FE2, 0x16FE2), (0x1E95E, 0x1E95F),
)
# Po in unicode_categories 0.1.1; So and Mn in Unicode 15.0.
_PUNCT_REMOVED = ((0x0166D, 0x0166D), (0x111C9, 0x111C9))

# Characters encoded after Unicode 9.0 that Unicode 15.0 gives a canonical decomposition
# (U+11938) or a non-zero canonical combining class: NFD must leave them, and their place in
# the text, alone.
_NFD_LATER = (
    (0x007FD, 0x007FD), (0x00898, 0x0089F), (0x008CA, 0x008D3), (0x009FE, 0x009FE),
    (0x00C3C, 0x00C3C), (0x00D3B, 0x00D3C), (0x00EBA, 0x00EBA), (0x01715, 0x01715),
    (0x01ABF, 0x01ACE), (0x01DF6, 0x01DFA), (0x0A82C, 0x0A82C), (0x10D24, 0x10D27),
    (0x10EAB, 0x10EAC), (0x10EFD, 0x10EFF), (0x10F46, 0x10F50), (0x10F82, 0x10F85),
    (0x11070, 0x11070), (0x1133B, 0x1133B), (0x1145E, 0x1145E), (0x11839, 0x1183A),
    (0x11938, 0x11938), (0x1193D, 0x1193E), (0x11943, 0x11943), (0x119E0, 0x119E0),
    (0x11A34, 0x11A34), (0x11A47, 0x11A47), (0x11A99, 0x11A99), (0x11D42, 0x11D42),
    (0x11D44, 0x11D45), (0x11D97, 0x11D97), (0x11F41, 0x11F42), (0x16FF0, 0x16FF1),
    (0x1E08F, 0x1E08F), (0x1E130, 0x1E136), (0x1E2AE, 0x1E2AE), (0x1E2EC, 0x1E2EF),
    (0x1E4EC, 0x1E4EF),
)

# Lowercase mappings of Rust's char::to_lowercase (Unicode 17.0) for letters that are
# unassigned in Python 3.12's Unicode 15.0: (first, last, offset to the lowercase letter).
_LOWER_ADDED = (
    (0x01C89, 0x01C89, 0x1C8A - 0x1C89), (0x0A7CB, 0x0A7CB, 0x0264 - 0xA7CB),
    (0x0A7CC, 0x0A7CC, 1), (0x0A7CE, 0x0A7CE, 1), (0x0A7D2, 0x0A7D2, 1), (0x0A7D4, 0x0A7D4, 1),
    (0x0A7DA, 0x0A7DA, 1), (0x0A7DC, 0x0A7DC, 0x019B - 0xA7DC),
    (0x10D50, 0x10D65, 0x20), (0x16EA0, 0x16EB8, 0x1B),
)


def _expand(ranges: Iterable[tuple[int, int]]) -> frozenset[int]:
    return frozenset(cp for first, last in ranges for cp in range(first, last + 1))


_OTHER_ADDED_SET = _expand(_OTHER_ADDED)
_MN_ADDED_SET = _expand(_MN_ADDED)
_MN_REMOVED_SET = _expand(_MN_REMOVED)
_PUNCT_ADDED_SET = _expand(_PUNCT_ADDED)
_PUNCT_REMOVED_SET = _expand(_PUNCT_REMOVED)
_LOWER_ADDED_MAP = {
    cp: chr(cp + offset) for first, last, offset in _LOWER_ADDED for cp in range(first, last + 1)
}
_NFD_LATER_RE = re.compile(
    "([" + "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in _NFD_LATER) + "])"
)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _is_control(c: str) -> bool:
    """``is_control`` of normalizers/bert.rs: Cc, Cf or Co in unicode_categories, but not
    tab, newline or carriage return."""
    if c in "\t\n\r":
        return False
    cp = ord(c)
    if unicodedata.category(c) in ("Cc", "Cf", "Co"):
        return cp not in _OTHER_ADDED_SET
    return False


def _is_nonspacing_mark(c: str) -> bool:
    cp = ord(c)
    if unicodedata.category(c) == "Mn":
        return cp not in _MN_ADDED_SET
    return cp in _MN_REMOVED_SET


def _is_bert_punc(c: str) -> bool:
    """``is_bert_punc`` of pre_tokenizers/bert.rs: ASCII punctuation or P* in
    unicode_categories."""
    if c in _ASCII_PUNCT:
        return True
    cp = ord(c)
    if unicodedata.category(c)[0] == "P":
        return cp not in _PUNCT_ADDED_SET
    return cp in _PUNCT_REMOVED_SET


def _is_chinese_char(cp: int) -> bool:
    if cp < 0x3400:
        return False
    if cp < 0x20000:
        return cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF
    return any(first <= cp <= last for first, last in _CHINESE_RANGES)


def _rust_lowercase(c: str) -> str:
    """``char::to_lowercase``: the full, context-free lowercase mapping of one character."""
    added = _LOWER_ADDED_MAP.get(ord(c))
    return added if added is not None else c.lower()


def _is_word_char(c: str) -> bool:
    """``\\w`` of Rust's regex crate (Alphabetic, marks, decimal digits, connector
    punctuation, joiners), for the ``single_word`` flag of added tokens (from Unicode 15.0:
    a version difference here could only matter next to an added token with single_word)."""
    category = unicodedata.category(c)
    if category[0] in "LM" or category in ("Nd", "Nl", "Pc") or c in "\u200c\u200d":
        return True
    cp = ord(c)  # the circled and squared Latin letters are Alphabetic too
    return (
        0x24B6 <= cp <= 0x24E9 or 0x1F130 <= cp <= 0x1F149 or 0x1F150 <= cp <= 0x1F169
        or 0x1F170 <= cp <= 0x1F189
    )


def _nfd(text: str) -> str:
    """NFD as unicode-normalization-alignments 0.1.12 (Unicode 9.0) computes it."""
    if _NFD_LATER_RE.search(text) is None:
        return unicodedata.normalize("NFD", text)
    parts = _NFD_LATER_RE.split(text)  # odd items are the later characters themselves
    return "".join(
        part if i % 2 else unicodedata.normalize("NFD", part) for i, part in enumerate(parts)
    )


class _CharMap(dict):
    """A ``str.translate`` table filled in on first sight of each character."""

    __slots__ = ("_compute",)

    def __init__(self, compute):
        super().__init__()
        self._compute = compute

    def __missing__(self, cp: int) -> str:
        value = self._compute(chr(cp))
        self[cp] = value
        return value


def _describe(value: Any) -> str:
    if isinstance(value, (bool, int, float)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, (bytes, bytearray)):
        return f"{type(value).__name__} of length {len(value)}"
    return type(value).__name__


# --- added tokens ----------------------------------------------------------------------


class _AddedToken:
    __slots__ = ("id", "content", "single_word", "lstrip", "rstrip", "normalized", "special")

    def __init__(self, entry: Any, where: str):
        if not isinstance(entry, dict):
            raise ValueError(f"tokenizer.json: {where} must be an object")
        self.id = _field(entry, "id", int, where)
        self.content = _field(entry, "content", str, where)
        self.single_word = _field(entry, "single_word", bool, where, False)
        self.lstrip = _field(entry, "lstrip", bool, where, False)
        self.rstrip = _field(entry, "rstrip", bool, where, False)
        self.special = _field(entry, "special", bool, where, False)
        self.normalized = _field(entry, "normalized", bool, where, not self.special)
        if self.id < 0:
            raise ValueError(f"tokenizer.json: {where}.id must be >= 0, not {self.id}")


class _AddedMatcher:
    """The split of ``AddedVocabulary::find_matches`` (tokenizer/added_vocabulary.rs):
    leftmost-longest matches, a ``single_word`` token only between non-word characters,
    ``lstrip``/``rstrip`` taking the whitespace next to it."""

    def __init__(self, tokens: dict[str, _AddedToken]):
        self.tokens = tokens
        alternatives = sorted(tokens, key=len, reverse=True)  # longest first: leftmost-longest
        self.pattern = re.compile("|".join(re.escape(content) for content in alternatives))

    def split(self, sentence: str) -> list[tuple[str, int | None]]:
        """(piece, None) for text, (piece, id) for an added token, in order, none empty."""
        splits: list[tuple[str, int | None]] = []
        start_offset = 0
        end = len(sentence)
        for match in self.pattern.finditer(sentence):
            start, stop = match.span()
            token = self.tokens[match.group()]
            if token.single_word:
                start_space = start == 0 or not _is_word_char(sentence[start - 1])
                stop_space = stop == end or not _is_word_char(sentence[stop])
                if not (start_space and stop_space):
                    continue
            if token.lstrip:
                new_start = start
                while new_start > 0 and sentence[new_start - 1] in _WHITE_SPACE:
                    new_start -= 1
                start = max(new_start, start_offset)
            if token.rstrip:
                while stop < end and sentence[stop] in _WHITE_SPACE:
                    stop += 1
            if start_offset < start:
                splits.append((sentence[start_offset:start], None))
            splits.append((sentence[start:stop], token.id))
            start_offset = stop
        if start_offset != end:
            splits.append((sentence[start_offset:], None))
        return splits


# --- reading tokenizer.json ------------------------------------------------------------

_MISSING = object()


def _field(obj: dict, key: str, kind: type, where: str, default: Any = _MISSING) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        if default is _MISSING:
            raise ValueError(f"tokenizer.json: {where}.{key} is missing")
        return default
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ValueError(
            f"tokenizer.json: {where}.{key} must be {kind.__name__}, not {_describe(value)}"
        )
    return value


def _section(config: dict, key: str, expected: str) -> dict:
    section = config.get(key)
    if not isinstance(section, dict):
        raise ValueError(
            f"tokenizer.json: {key} must be an object of type {expected!r}, not "
            f"{'null' if section is None else _describe(section)}"
        )
    kind = section.get("type")
    if kind != expected:
        raise ValueError(
            f"tokenizer.json: {key}.type is {kind!r}; only {expected!r} is supported"
        )
    return section


def _template_special(item: Any, specials: dict, where: str) -> int:
    token = item.get("SpecialToken") if isinstance(item, dict) else None
    if not isinstance(token, dict) or not isinstance(token.get("id"), str):
        raise ValueError(f"tokenizer.json: {where} must be a SpecialToken")
    entry = specials.get(token["id"])
    ids = entry.get("ids") if isinstance(entry, dict) else None
    if not (isinstance(ids, list) and len(ids) == 1 and isinstance(ids[0], int)):
        raise ValueError(
            f"tokenizer.json: post_processor.special_tokens[{token['id']!r}].ids must be "
            f"one id"
        )
    return ids[0]


# --- the tokenizer ---------------------------------------------------------------------


class WordPieceTokenizer:
    """BERT uncased WordPiece tokenization (normalizer, pre-tokenizer, model, template),
    giving the ids of Hugging Face ``tokenizers``. Build it with :meth:`from_json`."""

    #: Words remembered by the word -> ids cache before it starts afresh.
    CACHE_SIZE = 200_000

    def __init__(self, config: dict, max_length: int | None = None):
        if not isinstance(config, dict):
            raise ValueError(f"tokenizer.json must hold an object, not {_describe(config)}")
        if max_length is not None and (
            not isinstance(max_length, int) or isinstance(max_length, bool)
        ):
            raise TypeError(f"max_length must be an int or None, received {_describe(max_length)}")

        normalizer = _section(config, "normalizer", "BertNormalizer")
        self._clean_text = _field(normalizer, "clean_text", bool, "normalizer", True)
        self._chinese = _field(normalizer, "handle_chinese_chars", bool, "normalizer", True)
        self._lowercase = _field(normalizer, "lowercase", bool, "normalizer", True)
        strip = normalizer.get("strip_accents")
        if strip is not None and not isinstance(strip, bool):
            raise ValueError(
                f"tokenizer.json: normalizer.strip_accents must be bool or null, not "
                f"{_describe(strip)}"
            )
        self._strip_accents = self._lowercase if strip is None else strip  # None: as lowercase

        # str.translate tables, filled in as characters are seen.
        self._before_nfd = _CharMap(self._map_before_nfd)
        self._after_nfd = _CharMap(self._map_after_nfd)
        self._pretokenize = _CharMap(self._map_pretokenize)
        self._after_nfd_pretokenize = _CharMap(self._map_after_nfd_pretokenize)
        self._cache: dict[str, list[int]] = {}

        _section(config, "pre_tokenizer", "BertPreTokenizer")

        model = _section(config, "model", "WordPiece")
        vocab = _field(model, "vocab", dict, "model")
        # One pass over the 30,522 ids to check them all (exact ints, not bools: type is int),
        # a second only to name a bad one: the per-entry isinstance checks took 15-20 ms.
        ids = vocab.values()
        if not ({type(i) for i in ids} <= {int} and min(ids, default=0) >= 0):
            token, token_id = next((t, i) for t, i in vocab.items() if type(i) is not int or i < 0)
            raise ValueError(
                f"tokenizer.json: model.vocab[{token!r}] must be an id >= 0, not {_describe(token_id)}"
            )
        self._vocab: dict[str, int] = dict(vocab)
        unk_token = _field(model, "unk_token", str, "model")
        if unk_token not in vocab:
            raise ValueError(f"tokenizer.json: model.unk_token {unk_token!r} is not in model.vocab")
        self._unk = [vocab[unk_token]]
        self._prefix = _field(model, "continuing_subword_prefix", str, "model", "##")
        self._max_chars = _field(model, "max_input_chars_per_word", int, "model", 100)
        # The longest vocabulary entry (in characters) bounds the WordPiece search; the same
        # ids come out, sooner.
        self._longest_start = max(map(len, vocab), default=0)
        self._longest_cont = max(
            (len(t) - len(self._prefix) for t in vocab if t.startswith(self._prefix)), default=0
        )

        added = config.get("added_tokens", [])
        if not isinstance(added, list):
            raise ValueError(f"tokenizer.json: added_tokens must be a list, not {_describe(added)}")
        raw: dict[str, _AddedToken] = {}
        normalized: dict[str, _AddedToken] = {}
        self._added_ids: dict[str, int] = {}
        for i, entry in enumerate(added):
            token = _AddedToken(entry, f"added_tokens[{i}]")
            if not token.content:
                continue  # tokenizers ignores empty added tokens
            self._added_ids[token.content] = token.id
            if token.normalized:
                key = self._normalize(token.content)
                if key:
                    normalized[key] = token
            else:
                raw[token.content] = token
        self._raw_added = _AddedMatcher(raw) if raw else None
        self._normalized_added = _AddedMatcher(normalized) if normalized else None

        post = _section(config, "post_processor", "TemplateProcessing")
        single = post.get("single")
        specials = post.get("special_tokens")
        if not isinstance(specials, dict):
            raise ValueError("tokenizer.json: post_processor.special_tokens must be an object")
        if not (
            isinstance(single, list)
            and len(single) == 3
            and isinstance(single[1], dict)
            and isinstance(single[1].get("Sequence"), dict)
            and single[1]["Sequence"].get("id") == "A"
        ):
            raise ValueError(
                "tokenizer.json: post_processor.single must be [SpecialToken, Sequence A, "
                "SpecialToken]"
            )
        self._cls_id = _template_special(single[0], specials, "post_processor.single[0]")
        self._sep_id = _template_special(single[2], specials, "post_processor.single[2]")

        pad_id = self._added_ids.get("[PAD]", vocab.get("[PAD]"))
        if pad_id is None:
            raise ValueError("tokenizer.json: no [PAD] token in added_tokens or model.vocab")
        self._pad_id = pad_id
        self._vocab_size = len(set(vocab) | set(self._added_ids))
        self._largest_id = max(max(vocab.values()), max(self._added_ids.values(), default=0), self._cls_id, self._sep_id)

        if max_length is not None and max_length < 2:
            raise ValueError(
                f"max_length must be at least 2 ([CLS] and [SEP]), received {max_length}"
            )
        self._max_length = max_length
        self._limit = None if max_length is None else max_length - 2


    @classmethod
    def from_json(
        cls, data: str | bytes | bytearray | memoryview, max_length: int | None = None
    ) -> "WordPieceTokenizer":
        """The tokenizer a tokenizer.json (its text or bytes) describes, cutting encodings
        to ``max_length`` ids (``[CLS]`` and ``[SEP]`` included; None: never cut)."""
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            raise TypeError(
                f"data must be the str or bytes of a tokenizer.json, received {_describe(data)}"
            )
        config = parse_json(data, "tokenizer.json", ValueError, "a tokenizer's JSON")
        return cls(config, max_length)

    # --- properties ---

    @property
    def vocab_size(self) -> int:
        """Number of distinct tokens (model vocabulary and added tokens)."""
        return self._vocab_size

    @property
    def pad_id(self) -> int:
        return self._pad_id

    @property
    def largest_id(self) -> int:
        """The largest token id this tokenizer can give (a model needs a row for each)."""
        return self._largest_id

    @property
    def cls_id(self) -> int:
        return self._cls_id

    @property
    def sep_id(self) -> int:
        return self._sep_id

    @property
    def unk_id(self) -> int:
        return self._unk[0]

    @property
    def max_length(self) -> int | None:
        return self._max_length

    def __repr__(self) -> str:
        return f"WordPieceTokenizer(vocab_size={self._vocab_size}, max_length={self._max_length})"

    # --- per-character steps ---

    def _map_before_nfd(self, c: str) -> str:
        """clean_text, then handle_chinese_chars, for one character."""
        if self._clean_text:
            if c == "\x00" or c == "\ufffd" or _is_control(c):
                return ""
            if c in _WHITE_SPACE:
                c = " "
        if self._chinese and _is_chinese_char(ord(c)):
            return f" {c} "
        return c

    def _map_after_nfd(self, c: str) -> str:
        """The Mn filter of strip_accents, then lowercase, for one character."""
        if self._strip_accents and _is_nonspacing_mark(c):
            return ""
        return _rust_lowercase(c) if self._lowercase else c

    def _map_after_nfd_pretokenize(self, c: str) -> str:
        mapped = self._map_after_nfd(c)
        if len(mapped) == 1:
            return self._map_pretokenize(mapped)
        return "".join(map(self._map_pretokenize, mapped))

    @staticmethod
    def _map_pretokenize(c: str) -> str:
        """BertPreTokenizer: whitespace separates words, punctuation is a word of its own."""
        if c in _WHITE_SPACE:
            return " "
        if _is_bert_punc(c):
            return f" {c} "
        return c

    def _normalize(self, text: str) -> str:
        """BertNormalizer."""
        text = text.translate(self._before_nfd)
        if self._strip_accents and not text.isascii():
            text = _nfd(text)
        return text.translate(self._after_nfd)

    # --- encoding ---

    def _wordpiece(self, word: str) -> list[int]:
        """Greedy longest-match-first WordPiece of one word (models/wordpiece/mod.rs)."""
        if len(word) > self._max_chars:
            return self._unk
        vocab = self._vocab
        prefix = self._prefix
        ids = []
        start = 0
        length = len(word)
        while start < length:
            if start == 0:
                end = min(length, self._longest_start)
            else:
                end = min(length, start + self._longest_cont)
            while end > start:
                piece = word[start:end] if start == 0 else prefix + word[start:end]
                token_id = vocab.get(piece)
                if token_id is not None:
                    ids.append(token_id)
                    break
                end -= 1
            else:
                return self._unk
            start = end
        return ids

    def _encode_text(self, text: str, out: list[int], limit: int | None) -> None:
        """Normalize, pre-tokenize and WordPiece one piece of text outside added tokens."""
        text = text.translate(self._before_nfd)
        if self._strip_accents and not text.isascii():
            text = _nfd(text)
        if self._normalized_added is None:
            words = text.translate(self._after_nfd_pretokenize).split(" ")
        else:
            words = []
            for piece, token_id in self._normalized_added.split(text.translate(self._after_nfd)):
                if token_id is None:
                    words.extend(piece.translate(self._pretokenize).split(" "))
                else:
                    words.append(token_id)
        cache = self._cache
        for word in words:
            if not word:
                continue
            if isinstance(word, int):
                out.append(word)
            else:
                ids = cache.get(word)
                if ids is None:
                    if len(cache) >= self.CACHE_SIZE:
                        cache.clear()
                    ids = cache[word] = self._wordpiece(word)
                out.extend(ids)
            if limit is not None and len(out) >= limit:
                return

    def _content_ids(self, text: str, limit: int | None) -> list[int]:
        if not text.isascii() and _SURROGATE_RE.search(text) is not None:
            text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        out: list[int] = []
        if self._raw_added is None:
            self._encode_text(text, out, limit)
        else:
            for piece, token_id in self._raw_added.split(text):
                if token_id is None:
                    self._encode_text(piece, out, limit)
                else:
                    out.append(token_id)
                if limit is not None and len(out) >= limit:
                    break
        if limit is not None and len(out) > limit:
            del out[limit:]
        return out

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``: ``[CLS]``, the text's ids (cut to ``max_length`` in all),
        ``[SEP]``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, received {_describe(text)}")
        return [self._cls_id, *self._content_ids(text, self._limit), self._sep_id]

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """:meth:`encode` of every text of a list (or other iterable) of str."""
        if isinstance(texts, (str, bytes, bytearray)) or not hasattr(texts, "__iter__"):
            raise TypeError(f"texts must be a list of str, received {_describe(texts)}")
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be a str, received {_describe(text)}")
        return [self.encode(text) for text in texts]
