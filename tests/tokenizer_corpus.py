"""A deterministic corpus of awkward text for tokenizer tests, generated without downloads.

``corpus()`` returns the same list of str on every run and every Python 3.12 (CPython or
Pyodide): each line comes from a ``random.Random`` seeded with the line's kind and number,
so any prefix or slice (``corpus()[:500]``) is stable too. ``KINDS`` names the generators;
``corpus_by_kind()`` gives the lines of each.

It covers ordinary English, accents (composed and decomposed), CJK, kana, hangul, emoji (ZWJ
sequences, skin tones, flags, keycaps), Arabic, Hebrew, Devanagari, Thai, zero-width and
control characters, odd spaces, words longer than 100 characters, literal special tokens,
punctuation of every kind, digits, mixed case, Greek final sigma, Turkish dotted I, German
sharp s, ligatures, fullwidth forms, math symbols, text longer than 256 tokens, and random
code points from every plane (no surrogates: ``tokenizers`` cannot take them).
"""

from __future__ import annotations

import random
import unicodedata

_WORDS = (
    "the a an this that every some no model token text vector search engine browser python "
    "numpy embedding sentence meaning query answer document page user cat dog house river "
    "city mountain computer keyboard language science music history friend teacher student "
    "morning evening weather coffee bread window garden library question problem solution "
    "quickly slowly never always often really quite very rather almost unbelievably "
    "run runs running ran walk walked jump jumping read reads wrote writing think thought "
    "is are was were be been has have had do does did can could will would should might "
    "small large happy sad bright dark quick lazy brown red green blue old new strange "
    "tokenization unaffordable internationalization transformers hugging face minilm "
    "and or but because although while if then so of in on at by for with about into over"
).split()

_ACCENTED = (
    "café naïve über Müller niño señor Ångström København øre Ørsted smörgåsbord façade "
    "crème brûlée déjà vu résumé Zürich Málaga São Paulo Kraków Łódź Dvořák Škoda Ærø "
    "jalapeño piñata coöperate Noël Chloë Brontë Citroën Hôtel Garçon Œuvre œuf Æsir "
    "Ñandú ÉCOLE ÎLE Ÿ ĳ Ǆ ǅ ǆ Ȁ ǰ ṩ ẞ Ạ ầ ỹ Ǻ"
).split()

_CJK = (
    "我爱自然语言处理。", "今天天气很好，我们去公园散步吧！", "北京是中国的首都",
    "機械学習はとても面白いです。", "ひらがなとカタカナとかんじ", "東京タワーに行きました",
    "ｶﾀｶﾅ半角です", "한국어 형태소 분석기", "안녕하세요, 세계!", "대한민국의 수도는 서울입니다",
    "「引用」と『書名』【注意】", "野口里佳 Noguchi Rika", "豈更車賈滑串句龜", "𠀀𠀁𪜀𫝀𫠠𬺰",
    "漢字かな交じり文", "ㄅㄆㄇㄈ注音符號", "〇一二三四五六七八九十", "丨丶丿乙亅",
    "中文English混合text", "각 한 글", "﨎﨏﨑﨓", "㐀㐁㐂",
)

_EMOJI = (
    "😀", "😂", "🥰", "🫠", "🤣", "👍", "👍🏻", "👍🏽", "👍🏿", "👋🏼", "👨‍👩‍👧‍👦", "👩‍💻",
    "🧑🏽‍🚀", "🏳️‍🌈", "🏴‍☠️", "❤️", "❤", "♥", "☺️", "🇫🇷", "🇯🇵", "🇺🇸", "1️⃣", "#️⃣",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "✨", "🔥", "💯", "🙏", "🎉", "🤖", "🦄", "🍕", "⚽", "✅", "❌", "⭐",
    "👨🏾‍🦱", "🧔‍♀️", "👁️‍🗨️", "😶‍🌫️", "🐈‍⬛",
)

_SCRIPTS = (
    "مرحبا بالعالم", "اللُّغَةُ العَرَبِيَّةُ", "كتاب ٱلْقُرْآن", "٠١٢٣٤٥٦٧٨٩", "السلام عليكم!",
    "שלום עולם", "עִבְרִית", "בְּרֵאשִׁית בָּרָא", "ש״ח", "नमस्ते दुनिया", "हिन्दी भाषा", "क्षत्रिय",
    "०१२३४५६७८९", "संस्कृतम्।", "สวัสดีครับ", "ภาษาไทย", "กรุงเทพมหานคร", "๐๑๒๓",
    "Привет, мир!", "Ёлка ёжик", "Ελληνικά", "Ქართული", "ⴀⴁ ა ბ", "Հայերեն", "ᚠᛇᚻ", "ꦗꦮ",
    "ᠮᠣᠩᠭᠣᠯ", "ትግርኛ", "ᏣᎳᎩ", "ߒߞߏ", "𐎀𐎁", "𞤀𞤢", "𑐀𑐁", "ᜃ᜴", "ꦧꦽ", "ᢅᢆ",
)

_GREEK = (
    "ΣΊΣΥΦΟΣ", "Σίσυφος", "ΟΔΥΣΣΕΥΣ", "ΌΣΟΣ", "σοφός", "ΣΟΦΟΣ ΑΝΘΡΩΠΟΣ", "Σ", "ΑΣ.", "ΑΣ Σ",
    "ΐ", "ΰ", "Ὀδυσσεύς", "ᾼ", "ᾳ", "ϐ ϑ ϕ ϖ ϰ ϱ ϵ", "ΩΜΕΓΑ Ω Ω", "µ μ Μ", "ͅ",
)

_SPECIAL = (
    "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[SEP] x [MASK]", "x[CLS]y", "[cls]",
    "[Cls]", "[ CLS ]", "[[CLS]]", "[CLS", "CLS]", "[MASK][MASK]", "［CLS］", "[CLS]\u0301",
    "\u00a0[SEP]\u00a0", "[UNK]nown", "un[UNK]", "[PAD][PAD] [PAD]", "[CLS][SEP]",
    "[MASK]ed", "##", "##ing", "[SEP]\t[CLS]\n", "<s> </s> <unk> <mask>", "[ＣＬＳ]",
)

_PUNCT = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "«»„“”‘’‚‹›", "—–‒―‐‑", "…‥‧", "‽⸘¿¡", "·•‣⁃※",
    "†‡§¶‰‱′″‴", "、。〃〈〉《》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟", "！＂＃＄％＆＇（）＊＋，－．／",
    "：；＜＝＞？＠［＼］＾＿｀｛｜｝～", "｟｠｡｢｣､･", "⁅⁆⁽⁾₍₎", "❨❩❪❫❬❭❮❯❰❱❲❳❴❵",
    "⟦⟧⟨⟩⟪⟫", "⦃⦄⦅⦆", "⸂⸃⸄⸅⸉⸊⸌⸍⸜⸝⸠⸡⸢⸣⸤⸥⸦⸧⸨⸩", "⸮⸰⸱⸲⸳⸴⸵⸶⸷⸸⸹⸺⸻", "⹀⹁⹂⹃⹄⹅⹆⹇⹈⹉⹊⹋⹌⹍⹎⹏⹒⹓",
    "؟،؛٪", "।॥", "׃״׳", "፡።፣", "჻", "᠀᠁᠂᠃", "꧁꧂", "𑁇𑁈", "\u166d\u166e", "\U000111c9",
    "€£¥₹₩₽¢©®™°±×÷¬¦¨¯´¸", "^`|~$+<=>", "_‿⁀⁔", "﹏﹍", "＿",
)

_MATH = (
    "∑ ∫ ∮ √ ∛ ∞ ∂ ∇ ∆", "≤ ≥ ≠ ≈ ≡ ≅ ∝ ∈ ∉ ⊂ ⊃ ∪ ∩", "ℕ ℤ ℚ ℝ ℂ", "𝔸𝔹ℂ 𝕏𝕐𝕫 𝒜ℬ 𝐀𝐁𝐂 𝑎𝑏𝑐",
    "α+β=γ", "E=mc²", "x² + y³ = z⁴", "½ ⅓ ¼ ¾ ⅞", "∀x∃y: x<y", "f(x) = 3x^2 - 2", "π≈3.14159",
    "∮ E⋅da = Q/ε₀", "a ⊕ b ⊗ c", "¬(p ∧ q) ⇔ (¬p ∨ ¬q)", "→ ← ↑ ↓ ↔ ⇒ ⇐", "°C °F K",
    "ⅠⅡⅢⅣ ⅰⅱⅲ", "①②③ ⑴⑵ ⒜ ⓐⓑ ⒶⒷ", "🄰🄱 🅐🅑 🅰🅱",
)

_ODD_SPACES = (
    "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\xa0", "\u1680", "\u2000", "\u2001", "\u2002",
    "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028",
    "\u2029", "\u202f", "\u205f", "\u3000", "\x85", "\x1c", "\x1d", "\x1e", "\x1f", "\u180e",
    "  ", "\t\t",
)

_INVISIBLE = (
    "\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad", "\u200e", "\u200f", "\u2066",
    "\u2067", "\u2068", "\u2069", "\u202a", "\u202e", "\u034f", "\ufe0f", "\ufe0e", "\u061c",
    "\U000e0001", "\U000e0041", "\u2061", "\u2062", "\u2063", "\u2064", "\u0600", "\u06dd",
    "\u070f", "\u08e2", "\U000110bd", "\U000110cd", "\U0001bca0", "\U0001d173", "\u0890",
)

_CONTROLS = tuple(chr(c) for c in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0))) + (
    "\ufffd", "\ue000", "\uf8ff", "\U000f0000", "\U0010fffd", "\ufffe", "\uffff", "\U0001fffe",
)

_TRICKY = (
    "İstanbul", "DİYARBAKIR", "ıi Iİ", "ISTANBUL", "i̇", "Straße", "STRASSE", "ẞ", "ß",
    "ﬁne ﬂow ﬀ ﬃ ﬄ ﬅ ﬆ", "ǅ ǈ ǋ ǲ", "ﬓ ﬔ", "Ａｂｃ ＨＥＬＬＯ ｗｏｒｌｄ", "０１２３４５６７８９",
    "ℌ ℑ ℜ ℨ", "K Å Ω", "ǰ ǅ ǈ", "ŉ", "ΐ", "և", "Ꭰ ꭰ", "Ᏸ", "ꟸ ꟹ", "ꞵ Ꞵ", "Ᲊ ᲊ", "ᲀ",
    "\u1c89\ua7cb\ua7dc\ua7da", "\U00010d50\U00010d65", "\U00016ea0", "Ⴀ ⴀ Ა ა",
    "e\u0301 e\u0300\u0323 a\u0308\u0304", "\u1e69 s\u0323\u0307 s\u0307\u0323", "\u0344 \u0958",
    "\u1734 \u1885\u1886 \ua9bd \u1cf2", "\u0f73 \u0f75 \u0f81", "\U0001d15e \U0001d160",
    "\u2126 \u212a \u212b", "\u0340\u0341\u0343", "\u0374 \u037e \u0387", "\u1fee \u1fef",
)

_LONG_PIECES = (
    "a", "b", "ab", "é", "ñ", "x", "0", "9", "ü", "ß", "z", "e\u0301", "ﬁ", "ä", "q", "zz",
)

_SENTENCE_END = (".", "!", "?", "...", "", ";", ":", "?!", " :)", ".\n")


def _case(rng: random.Random, word: str) -> str:
    roll = rng.random()
    if roll < 0.12:
        return word.upper()
    if roll < 0.3:
        return word.capitalize()
    if roll < 0.33:
        return "".join(c.upper() if rng.random() < 0.5 else c for c in word)
    return word


def _number(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:
        return str(rng.randrange(10**rng.randrange(1, 12)))
    if kind == 1:
        return f"{rng.uniform(-1000, 1000):.{rng.randrange(0, 6)}f}"
    if kind == 2:
        return f"{rng.randrange(10**7):,}"
    if kind == 3:
        return f"+1 ({rng.randrange(100, 999)}) {rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}"
    if kind == 4:
        return f"{rng.randrange(1, 31)}/{rng.randrange(1, 12)}/{rng.randrange(1900, 2100)}"
    if kind == 5:
        return f"{rng.randrange(100)}%"
    if kind == 6:
        return f"v{rng.randrange(10)}.{rng.randrange(30)}.{rng.randrange(100)}"
    return f"0x{rng.randrange(16**6):x}"


def _english(rng: random.Random) -> str:
    words = []
    for _ in range(rng.randrange(3, 25)):
        roll = rng.random()
        if roll < 0.06:
            words.append(_number(rng))
        elif roll < 0.1:
            words.append(rng.choice(_WORDS) + rng.choice((",", "'s", "n't", "-based", ")", "!")))
        else:
            words.append(_case(rng, rng.choice(_WORDS)))
    text = " ".join(words) + rng.choice(_SENTENCE_END)
    return text[0].upper() + text[1:]


def _accents(rng: random.Random) -> str:
    words = [rng.choice(_ACCENTED) if rng.random() < 0.5 else rng.choice(_WORDS)
             for _ in range(rng.randrange(2, 12))]
    text = " ".join(_case(rng, w) for w in words)
    form = rng.choice(("NFC", "NFD", "NFKC", "NFKD", None))
    return unicodedata.normalize(form, text) if form else text


def _pick_join(rng: random.Random, pool, low: int, high: int, sep=(" ", "", ", ")) -> str:
    return rng.choice(sep).join(rng.choice(pool) for _ in range(rng.randrange(low, high)))


def _cjk(rng: random.Random) -> str:
    return _pick_join(rng, _CJK + tuple(_WORDS[:20]), 1, 6)


def _emoji(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randrange(1, 10)):
        parts.append(rng.choice(_EMOJI) if rng.random() < 0.6 else rng.choice(_WORDS))
    return rng.choice((" ", "", "!")).join(parts)


def _scripts(rng: random.Random) -> str:
    return _pick_join(rng, _SCRIPTS + _GREEK + tuple(_WORDS[:30]), 1, 6)


def _invisible(rng: random.Random) -> str:
    pool = _INVISIBLE + _CONTROLS + _ODD_SPACES
    out = []
    for _ in range(rng.randrange(2, 10)):
        out.append(rng.choice(_WORDS + list(_ACCENTED[:5]) + list(_EMOJI[:12])))
        out.append("".join(rng.choice(pool) for _ in range(rng.randrange(0, 3))))
    return "".join(out)


def _long_word(rng: random.Random) -> str:
    length = rng.choice((99, 100, 101, 102, 120, 150, 300, rng.randrange(90, 110)))
    word = ""
    while len(word) < length:
        word += rng.choice(_LONG_PIECES)
    word = word[:length]
    kind = rng.randrange(6)
    if kind == 0:
        return word
    if kind == 1:
        return f"{rng.choice(_WORDS)} {word} {rng.choice(_WORDS)}"
    if kind == 2:  # punctuation splits it into shorter words
        cut = rng.randrange(1, length)
        return word[:cut] + rng.choice("-.,/!") + word[cut:]
    if kind == 3:  # 100 characters that NFD makes longer
        return "é" * rng.choice((50, 51, 99, 100, 101))
    if kind == 4:  # CJK characters stand alone, so the word is short
        return "".join(rng.choice("中文字a") for _ in range(length))
    return "http://example.com/" + word + "?q=" + word[:20]


def _special(rng: random.Random) -> str:
    parts = [rng.choice(_SPECIAL) if rng.random() < 0.5 else rng.choice(_WORDS)
             for _ in range(rng.randrange(1, 8))]
    return rng.choice((" ", "", "  ", "\t")).join(parts)


def _punct(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randrange(1, 10)):
        roll = rng.random()
        if roll < 0.4:
            chunk = rng.choice(_PUNCT)
            i = rng.randrange(len(chunk))
            parts.append(chunk[i:i + rng.randrange(1, 5)])
        elif roll < 0.6:
            parts.append(rng.choice(_MATH))
        else:
            parts.append(_case(rng, rng.choice(_WORDS)))
    return rng.choice((" ", "")).join(parts)


def _tricky(rng: random.Random) -> str:
    return _pick_join(rng, _TRICKY + _GREEK + tuple(_WORDS[:10]), 1, 6, (" ", "", "-"))


def _mixed(rng: random.Random) -> str:
    makers = (_english, _accents, _cjk, _emoji, _scripts, _punct, _tricky, _special)
    return rng.choice(("", " ", "\n", " | ")).join(
        rng.choice(makers)(rng) for _ in range(rng.randrange(2, 5))
    )


def _long_text(rng: random.Random) -> str:
    """Long enough to need truncation at 256 tokens (or to come close to it)."""
    target = rng.choice((200, 250, 254, 255, 256, 300, 600, 2000))
    parts = []
    total = 0
    while total < target:
        part = rng.choice((_english, _english, _accents, _cjk, _punct, _emoji))(rng)
        parts.append(part)
        total += len(part.split()) + part.count(",") + part.count(".")
    return " ".join(parts)


_PLANES = ((0x20, 0x3000), (0x3000, 0x10000), (0x10000, 0x20000), (0x20000, 0x32000),
           (0xE0000, 0xE0200), (0xF0000, 0x110000))


def _random_code_points(rng: random.Random) -> str:
    """Any code point but surrogates: assigned or not, every category."""
    out = []
    for _ in range(rng.randrange(1, 40)):
        if rng.random() < 0.25:
            out.append(" ")
        first, last = _PLANES[rng.randrange(len(_PLANES))] if rng.random() < 0.8 else (0, 0x250)
        cp = rng.randrange(first, last)
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0xFFFD
        out.append(chr(cp))
    return "".join(out)


def _edge(rng: random.Random) -> str:
    return rng.choice((
        "", " ", "  ", "\n", "\t \n", ".", "...", "a", "A", "\x00", "\ufffd", "\u200b",
        "[CLS]", "#", "##", "###a", "'", "''", "don't", "can't", "I'm", "--", "a-b", "a.b.c",
        "e.g.", "U.S.A.", "C++", "C#", ".NET", "node.js", "@user", "#hashtag", "x@y.z",
        "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
        "<html><body>hi</body></html>", '{"json": [1, 2.5, null]}', "snake_case_name",
        "camelCaseName", "SCREAMING_CASE", "kebab-case-name", "   leading", "trailing   ",
        "\x00\x01\x02", "\u3000\u3000", "\xa0", "\u2028\u2029", "\U0001f600" * 3,
    ))


#: The generators, with how many lines each contributes.
KINDS = {
    "english": (_english, 3000),
    "accents": (_accents, 900),
    "cjk": (_cjk, 700),
    "emoji": (_emoji, 700),
    "scripts": (_scripts, 700),
    "invisible": (_invisible, 900),
    "long_word": (_long_word, 400),
    "special": (_special, 600),
    "punct": (_punct, 900),
    "tricky": (_tricky, 700),
    "mixed": (_mixed, 700),
    "long_text": (_long_text, 150),
    "code_points": (_random_code_points, 1200),
    "edge": (_edge, 150),
}


def corpus_by_kind() -> dict[str, list[str]]:
    """The corpus lines of each kind, in KINDS order."""
    out = {}
    for kind, (make, count) in KINDS.items():
        out[kind] = [make(random.Random(f"{kind}:{i}")) for i in range(count)]
    return out


def corpus() -> list[str]:
    """All corpus lines (11,700), kinds interleaved so that any prefix holds every kind."""
    by_kind = corpus_by_kind()
    lines = []
    longest = max(len(v) for v in by_kind.values())
    for i in range(longest):
        for kind_lines in by_kind.values():
            if i < len(kind_lines):
                lines.append(kind_lines[i])
    return lines


if __name__ == "__main__":
    lines = corpus()
    print(len(lines), "lines,", sum(map(len, lines)), "characters")
