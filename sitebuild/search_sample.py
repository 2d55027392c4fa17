"""Step "sample": the search page's sample corpus, ready to search with no work in the browser.

The corpus is the docstrings of about 40 well-known modules of the Python standard library,
read from the CPython that runs the build (module docstrings, plus those of a few public
functions and classes of each, chosen below), cleaned (reST roles and doctest examples
removed) and split into passages exactly as the search page splits a visitor's documents
(``split_passages`` here and web/demo/passages.js are the same algorithm; tests compare
them). It ships as two files:

* ``samples/python-stdlib.json``: the passages ({file, position, text}) and where they come from;
* ``samples/python-stdlib.safetensors``: their saved ``EmbeddingIndex`` (``to_bytes()``),
  embedded here in CPython by the project's own ``minimodel.TextEmbedder`` from the model
  bytes the "model" step put in the site, so the page loads it with ``worker.loadIndex``.

Embedding a few hundred passages takes a while in numpy, so kernels/minimodel_kernels.c is
compiled natively with the system C compiler (as tests/conftest.py's native_kernels does)
into .cache/search-sample/ and put behind numpy with ``minimodel._kernels.use``; on two or
more cores the passages are embedded by two processes (each text's vector does not depend on
its batch, so the result is the same bits). Without a C compiler numpy does the work, slower.
The passages are cached by the extracted text and the tokenizer, the index by the passages,
the model's files, the minimodel sources, the kernels source and this file: a build where
nothing changed reads both from .cache/ (the extraction itself, importing ~40 modules, is
the step's only work then).

The docstrings are CPython's: their license is the PSF license (sitebuild/package.py lists
both files with it). Different CPython versions have different docstrings; for one CPython
the files are the same at every build.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import operator
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import config, model
from .common import BuildError, Site, log, sha256

PASSAGES_FILE = "samples/python-stdlib.json"
INDEX_FILE = "samples/python-stdlib.safetensors"
CACHE = config.CACHE / "search-sample"
KERNELS_SOURCE = config.ROOT / "kernels" / "minimodel_kernels.c"
NATIVE_FLAGS = ("-O2", "-shared", "-fPIC", "-fno-math-errno", "-fvisibility=hidden")
FORMAT = "minimodel-search-passages"

# The modules, and the public functions and classes of each whose docstrings join the
# module's own. Chosen for what people search for; each a stable, documented name.
MODULES: dict[str, tuple[str, ...]] = {
    "csv": ("reader", "writer", "DictReader", "DictWriter", "Sniffer"),
    "json": ("dump", "dumps", "load", "loads"),
    "os": ("listdir", "makedirs", "remove", "rename", "walk", "getenv"),
    "os.path": ("join", "exists", "splitext", "getsize"),
    "pathlib": ("Path", "Path.read_text", "Path.glob", "PurePath.with_suffix"),
    "shutil": ("copyfile", "copytree", "rmtree", "move", "which"),
    "glob": ("glob",),
    "re": ("compile", "search", "match", "sub", "findall", "split"),
    "string": ("Template", "capwords"),
    "textwrap": ("wrap", "dedent", "shorten"),
    "datetime": ("datetime.strptime", "datetime.now", "timedelta"),
    "time": ("sleep", "time", "strftime"),
    "collections": ("Counter", "defaultdict", "deque", "namedtuple", "OrderedDict"),
    "heapq": ("heappush", "heappop", "nlargest"),
    "itertools": ("chain", "groupby", "permutations", "product"),
    "functools": ("lru_cache", "partial", "reduce", "wraps"),
    "math": ("sqrt", "gcd", "isclose", "log"),
    "statistics": ("mean", "median", "stdev"),
    "random": ("choice", "shuffle", "sample", "randint"),
    "hashlib": ("sha256", "pbkdf2_hmac"),
    "base64": ("b64encode", "b64decode"),
    "zipfile": ("ZipFile", "is_zipfile"),
    "gzip": ("open", "compress"),
    "sqlite3": ("connect",),
    "pickle": ("dump", "load"),
    "argparse": ("ArgumentParser", "ArgumentParser.add_argument"),
    "logging": ("basicConfig", "getLogger"),
    "subprocess": ("run", "Popen", "check_output"),
    "threading": ("Thread", "Lock"),
    "asyncio": ("run", "sleep", "gather"),
    "socket": ("create_connection",),
    "urllib.parse": ("urlparse", "urlencode", "quote"),
    "urllib.request": ("urlopen",),
    "http.server": ("HTTPServer", "SimpleHTTPRequestHandler"),
    "unittest": ("TestCase", "TestCase.assertEqual"),
    "tempfile": ("TemporaryDirectory", "NamedTemporaryFile", "mkstemp"),
    "uuid": ("uuid4",),
    "difflib": ("SequenceMatcher", "unified_diff"),
    "secrets": ("token_hex", "token_urlsafe"),
    "copy": ("copy", "deepcopy"),
    "timeit": ("timeit",),
    "struct": ("pack", "unpack"),
    "configparser": ("ConfigParser",),
    "xml.etree.ElementTree": ("parse", "fromstring"),
    "zlib": ("compress", "decompress"),
}
MODULE_PASSAGES = 3  # most passages taken from a module's docstring
OBJECT_PASSAGES = 2  # most passages taken from a function's or class's docstring

# ----------------------------------------------------------------------------- splitting
# The same algorithm as web/demo/passages.js (keep them in step: tests compare them).

TARGET_TOKENS = 150  # short paragraphs are merged, and long ones cut, up to about this many
SHORT_TOKENS = 50  # a passage shorter than this takes the next paragraph in (a heading, a line)
_WS = "[ \t\n\r\f\v\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
_BLANK_LINE = re.compile("\n[ \t\f\v\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*\n")
_SPACES = re.compile(_WS + "+")
_SENTENCE_END = re.compile("[.!?\u2026]+[\"'\u201d\u2019)\\]]*(?= )|[\u3002\uff01\uff1f]+")


def paragraphs(text: str) -> list[str]:
    """The text's paragraphs (separated by blank lines), each on one line, spaces collapsed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for block in _BLANK_LINE.split(text):
        line = _SPACES.sub(" ", block).strip(" ")
        if line:
            out.append(line)
    return out


def sentences(paragraph: str) -> list[str]:
    """A one-line paragraph cut after each sentence end (. ! ? … and CJK 。！？)."""
    out, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        piece = paragraph[start:match.end()].strip(" ")
        if piece:
            out.append(piece)
        start = match.end()
    rest = paragraph[start:].strip(" ")
    if rest:
        out.append(rest)
    return out


def _longest_prefix(parts: list[str], start: int, joiner: str, count: Callable[[str], int], limit: int) -> int:
    """The largest ``end`` > start such that parts[start:end] joined fits in ``limit`` tokens
    (parts[start] alone must fit): galloping (ends 1, 2, 4, ... past start), then binary
    search, as web/demo/passages.js's longestPrefix (see there why)."""
    lo, hi = start + 1, len(parts)
    step = 1
    while lo < hi:
        probe = min(lo + step, hi)
        if count(joiner.join(parts[start:probe])) <= limit:
            lo, step = probe, step * 2
        else:
            hi = probe - 1
            break
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(joiner.join(parts[start:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def hard_split(text: str, count: Callable[[str], int], limit: int) -> list[str]:
    """Cut a text into pieces of at most ``limit`` tokens: between words, or between the
    characters of a word that alone is longer (such as text without spaces)."""
    words, out, i = text.split(" "), [], 0
    while i < len(words):
        if count(words[i]) > limit:
            chars, j = list(words[i]), 0
            while j < len(chars):
                end = _longest_prefix(chars, j, "", count, limit)
                out.append("".join(chars[j:end]))
                j = end
            i += 1
            continue
        end = _longest_prefix(words, i, " ", count, limit)
        out.append(" ".join(words[i:end]))
        i = end
    return out


def paragraph_units(paragraph: str, count: Callable[[str], int], max_tokens: int,
                    target: int = TARGET_TOKENS) -> list[tuple[str, int]]:
    """A paragraph as (text, tokens): whole if it fits in ``max_tokens``, else its sentences
    packed up to ``target`` tokens, a sentence too long for ``max_tokens`` cut by tokens."""
    n = count(paragraph)
    if n < max_tokens:
        return [(paragraph, n)]
    out: list[tuple[str, int]] = []
    current, current_n = None, 0
    for sentence in sentences(paragraph):
        m = count(sentence)
        if m >= max_tokens:
            if current is not None:
                out.append((current, current_n))
                current = None
            out.extend((piece, count(piece)) for piece in hard_split(sentence, count, target))
        elif current is not None and current_n + m - 2 <= target:
            current, current_n = current + " " + sentence, current_n + m - 2
        else:
            if current is not None:
                out.append((current, current_n))
            current, current_n = sentence, m
    if current is not None:
        out.append((current, current_n))
    return out


def split_passages(text: str, count: Callable[[str], int], max_tokens: int, target: int = TARGET_TOKENS,
                   short: int = SHORT_TOKENS) -> list[str]:
    """A document's passages, in order: paragraph-sized, at most ``max_tokens`` tokens.

    ``count(text)`` is the number of token ids of a text, [CLS] and [SEP] included, as the
    embedder's tokenizer gives it (it may stop at ``max_tokens``). Paragraphs are separated
    by blank lines. A paragraph of ``max_tokens`` or more is cut at sentence ends (sentences
    packed up to ``target`` tokens), and a sentence that long by tokens (between words, or
    characters). A passage under ``short`` tokens takes in the next paragraph when both fit
    in ``target`` tokens (joined by a blank line); a short last passage joins the one
    before. Token counts of joined texts are sums (the tokenizer splits at whitespace).
    """
    passages: list[list] = []
    for paragraph in paragraphs(text):
        for unit, n in paragraph_units(paragraph, count, max_tokens, target):
            if passages and passages[-1][1] < short and passages[-1][1] + n - 2 <= target:
                passages[-1] = [passages[-1][0] + "\n\n" + unit, passages[-1][1] + n - 2]
            else:
                passages.append([unit, n])
    if len(passages) >= 2 and passages[-1][1] < short and passages[-2][1] + passages[-1][1] - 2 <= target:
        last = passages.pop()
        passages[-1] = [passages[-1][0] + "\n\n" + last[0], passages[-1][1] + last[1] - 2]
    return [text for text, _ in passages]


# ----------------------------------------------------------------------------- the corpus

_ROLE = re.compile(r":[a-zA-Z]+(?::[a-zA-Z]+)*:`~?!?([^`<]*?)(?:\s*<[^`>]*>)?`")
_LITERAL = re.compile(r"``([^`]+)``")


def clean_docstring(doc: str) -> str:
    """A docstring as plain paragraphs: indentation removed, reST roles and literals as
    their text, doctest examples (paragraphs with a ``>>>`` line) dropped."""
    kept = []
    for block in re.split(r"\n\s*\n", inspect.cleandoc(doc)):
        if any(line.lstrip().startswith(">>>") for line in block.splitlines()):
            continue
        block = _LITERAL.sub(r"\1", _ROLE.sub(r"\1", block))
        if block.strip():
            kept.append(block)
    return "\n\n".join(kept)


def documents(modules: dict[str, tuple[str, ...]] = MODULES) -> list[dict]:
    """The corpus's documents, in order: {"module", "file": "csv" or "csv.reader", "text", "limit"}.
    An object's text starts with its name (so "csv.reader: ..." is found by "csv")."""
    out = []
    for module_name, names in modules.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:  # a CPython built without it (sqlite3, zlib): leave it out
            log(f"search sample: this CPython has no {module_name} ({err}); left out")
            continue
        if module.__doc__:
            out.append({"module": module_name, "file": module_name, "text": clean_docstring(module.__doc__),
                        "limit": MODULE_PASSAGES})
        for name in names:
            doc = getattr(operator.attrgetter(name)(module), "__doc__", None)
            if doc:
                qualified = f"{module_name}.{name}"
                out.append({"module": module_name, "file": qualified, "text": f"{qualified}: {clean_docstring(doc)}",
                            "limit": OBJECT_PASSAGES})
    return out


def stdlib_fingerprint(modules: dict[str, tuple[str, ...]] = MODULES) -> str:
    """What the documents depend on, found without importing the modules: this CPython
    (version, executable) and each module's file (path, size, modification time)."""
    parts = [sys.version, os.path.realpath(sys.executable), json.dumps(modules), Path(__file__).read_text()]
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec and spec.origin else "?"
        try:
            stat = os.stat(origin)
            parts.append(f"{name} {origin} {stat.st_size} {stat.st_mtime_ns}")
        except OSError:
            parts.append(f"{name} {origin}")
    return sha256("\n".join(parts).encode())[:16]


def cached_documents(cache: Path = CACHE) -> list[dict]:
    """documents(), read from .cache/ when this CPython's modules are unchanged (importing
    ~40 modules is most of a warm build's time otherwise)."""
    path = cache / f"docs-{stdlib_fingerprint()}.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    docs = documents()
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
    return docs


def tokenizer_counter(files: dict[str, bytes]) -> tuple[Callable[[str], int], int]:
    """count(text) with the model's own tokenizer (the one TextEmbedder uses), and max tokens."""
    sys.path.insert(0, str(config.PY))
    try:
        from minimodel.tokenizer import WordPieceTokenizer
    finally:
        sys.path.remove(str(config.PY))
    max_tokens = json.loads(files["sentence_bert_config.json"])["max_seq_length"]
    tokenizer = WordPieceTokenizer.from_json(files["tokenizer.json"], max_length=max_tokens)
    return (lambda text: len(tokenizer.encode(text))), max_tokens


def passages_of(docs: list[dict], count: Callable[[str], int], max_tokens: int) -> list[dict]:
    out = []
    for doc in docs:
        for position, text in enumerate(split_passages(doc["text"], count, max_tokens)[: doc["limit"]]):
            out.append({"file": doc["file"], "position": position, "text": text})
    return out


# ----------------------------------------------------------------------------- embedding


def native_kernels(cache: Path = CACHE) -> Path | None:
    """kernels/minimodel_kernels.c compiled for this machine, or None without a C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return None
    source = KERNELS_SOURCE.read_bytes()
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False).stdout
    key = sha256(source + " ".join(NATIVE_FLAGS).encode() + version.encode())[:16]
    path = cache / f"kernels-{key}.so"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.so")
        result = subprocess.run([compiler, *NATIVE_FLAGS, "-o", str(tmp), str(KERNELS_SOURCE)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log(f"search sample: {compiler} could not compile the kernels ({result.stderr.strip()[:200]}); using numpy")
            return None
        tmp.replace(path)
    return path


_EMBEDDER = None  # set before forking: the children share it


def _embed_range(bounds: tuple[int, int]) -> bytes:
    start, stop = bounds
    return _EMBEDDER[0].embed(_EMBEDDER[1][start:stop]).tobytes()


def embed_passages(texts: list[str], files: dict[str, bytes], kernels: Path | None) -> bytes:
    """The passages' saved EmbeddingIndex (minimodel's to_bytes), computed by TextEmbedder."""
    global _EMBEDDER
    sys.path.insert(0, str(config.PY))
    try:
        import numpy as np
        from minimodel import EmbeddingIndex, TextEmbedder, _kernels
    finally:
        sys.path.remove(str(config.PY))
    previous = _kernels.active()
    _kernels.use(kernels)
    try:
        embedder = TextEmbedder.from_files(files["config.json"], files["tokenizer.json"], files["model.safetensors"],
                                           files["sentence_bert_config.json"])
        workers = min(2, os.cpu_count() or 1) if len(texts) > 16 else 1
        if workers > 1 and "fork" in __import__("multiprocessing").get_all_start_methods():
            import multiprocessing
            import warnings
            from concurrent.futures import ProcessPoolExecutor

            _EMBEDDER = (embedder, texts)
            half = (len(texts) + 1) // 2
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: none run here
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                    parts = list(pool.map(_embed_range, [(0, half), (half, len(texts))]))
            vectors = np.frombuffer(b"".join(parts), np.float32).reshape(len(texts), embedder.dim)
        else:
            vectors = embedder.embed(texts)
        index = EmbeddingIndex(embedder.dim)
        index.add(vectors)
        return index.to_bytes()
    finally:
        _EMBEDDER = None
        _kernels._active = previous


# ----------------------------------------------------------------------------- the step


def model_inputs(site: Site) -> dict[str, bytes]:
    names = ["config.json", "tokenizer.json", "sentence_bert_config.json", "model.safetensors"]
    try:
        return {name: site.files[model.FOLDER + name] for name in names}
    except KeyError as err:
        raise BuildError(f"the search sample needs the model step's {err.args[0]} (run the model step first)") from None


def sample(files: dict[str, bytes], cache: Path = CACHE, docs: list[dict] | None = None) -> tuple[bytes, bytes, str]:
    """(passages JSON, index bytes, how they were embedded), from .cache/ when the inputs are unchanged."""
    docs = cached_documents(cache) if docs is None else docs
    version = ".".join(map(str, sys.version_info[:3]))
    raw = json.dumps([version, docs], ensure_ascii=False, sort_keys=True).encode()
    code = Path(__file__).read_bytes()
    tokenizer_py = (config.PY / "minimodel" / "tokenizer.py").read_bytes()
    passages_path = cache / f"passages-{sha256(raw + files['tokenizer.json'] + files['sentence_bert_config.json'] + tokenizer_py + code)[:16]}.json"
    if not passages_path.exists():
        count, max_tokens = tokenizer_counter(files)
        passages = passages_of(docs, count, max_tokens)
        modules = sorted({d["module"] for d in docs})
        data = {
            "format": FORMAT,
            "version": 1,
            "title": f"Python {version} standard library docstrings",
            "source": f"the docstrings of {len(modules)} modules of the standard library of CPython {version} "
                      "(module docstrings and some public functions' and classes'), cleaned and split by "
                      "sitebuild/search_sample.py; PSF license",
            "model": model.NAME,
            "passages": passages,
        }
        cache.mkdir(parents=True, exist_ok=True)
        passages_path.write_bytes((json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode())
    passages_json = passages_path.read_bytes()
    texts = [p["text"] for p in json.loads(passages_json)["passages"]]

    kernels = native_kernels(cache)
    backend = "kernels" if kernels else "numpy"
    sources = b"".join(p.read_bytes() for p in sorted((config.PY / "minimodel").glob("*.py")))
    key = sha256(passages_json + b"".join(sha256(files[n]).encode() for n in sorted(files)) + sources
                 + KERNELS_SOURCE.read_bytes() + code + backend.encode())[:16]
    index_path = cache / f"index-{key}.safetensors"
    if not index_path.exists():
        log(f"search sample: embedding {len(texts)} passages with TextEmbedder in CPython "
            f"({'C kernels compiled natively' if kernels else 'numpy alone: no C compiler, slower'})")
        t0 = time.perf_counter()
        data = embed_passages(texts, files, kernels)
        index_path.write_bytes(data)
        log(f"search sample: embedded in {time.perf_counter() - t0:.1f} s")
    return passages_json, index_path.read_bytes(), backend


def step(site: Site) -> None:
    passages_json, index, backend = sample(model_inputs(site))
    count = len(json.loads(passages_json)["passages"])
    title = json.loads(passages_json)["title"]
    how = "C kernels compiled natively" if backend == "kernels" else "numpy"
    site.add(
        {PASSAGES_FILE: passages_json, INDEX_FILE: index},
        {PASSAGES_FILE: f"sitebuild/search_sample.py: {count} passages of the {title}",
         INDEX_FILE: f"sitebuild/search_sample.py: their EmbeddingIndex, embedded at build time by minimodel's "
                     f"TextEmbedder ({model.NAME}) in CPython ({how})"},
    )
