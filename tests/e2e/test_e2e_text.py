"""TextEmbedder and saved indexes in Chromium, on the main thread and in the worker,
against sentence-transformers' own vectors and token ids (tests/data/minilm_golden.npz)
and the published similarities; errors in plain words; no proxy growth."""

from __future__ import annotations


import numpy as np
import pytest
from references import PUBLISHED, load_golden

from conftest import open_blank

pytestmark = pytest.mark.e2e



@pytest.fixture(scope="module")
def golden():
    return load_golden()


@pytest.fixture(scope="module")
def opened(browser, base_url):
    context, page, watch = open_blank(browser, base_url)
    page.evaluate(
        """async () => {
          window.mm = await import('./lib/minimodel.js');
          await mm.init();
          window.embedder = await mm.TextEmbedder.load();
          window.w = await mm.createWorker();
          window.remote = await w.loadTextEmbedder();
        }"""
    )
    yield page, watch
    page.evaluate("async () => { await w.terminate(); embedder.dispose(); }")
    watch.assert_clean()
    context.close()


@pytest.fixture
def page(opened):
    """The shared page; each test leaves it clean (no console error, nothing off-host)."""
    yield opened[0]
    opened[1].assert_clean()


def vectors(page, expression: str, arg=None) -> np.ndarray:
    """A Float32Array of embeddings computed in the page, as (n, 384)."""
    flat = page.evaluate(f"async (arg) => Array.from(await {expression})", arg)
    return np.asarray(flat, np.float32).reshape(-1, 384)


def test_the_published_example_on_the_main_thread_and_in_the_worker(page):
    for expression in ("embedder.embed(arg)", "remote.embed(arg)"):
        v = vectors(page, expression, PUBLISHED)
        s = v @ v.T
        np.testing.assert_allclose([s[0, 1], s[0, 2], s[1, 2]], [0.6660, 0.1046, 0.1411], atol=5e-4)
    assert page.evaluate("[embedder.dim, embedder.maxTokens, remote.dim, remote.maxTokens]") == [384, 256, 384, 256]


def test_embeddings_and_token_ids_match_sentence_transformers(page, golden):
    texts, reference, ids = golden
    got = page.evaluate("(texts) => texts.map((t) => Array.from(embedder.tokenize(t)))", texts)
    mismatches = [i for i in range(len(texts)) if got[i] != ids[i]]
    assert not mismatches, f"token ids differ for texts {mismatches[:10]}"
    picks = list(range(0, len(texts), 3))  # a third of them: short, passages, long, unusual
    v = vectors(page, "embedder.embed(arg)", [texts[i] for i in picks])
    cosines = (v * reference[picks]).sum(axis=1)
    assert cosines.min() >= 0.9999, f"text {picks[int(np.argmin(cosines))]}: cosine {cosines.min()}"


def test_batches_bursts_and_single_texts_give_the_same_bits(page, golden):
    texts = [golden[0][i] for i in (0, 3, 60, 200, 250)] + ["", "a"]
    got = page.evaluate(
        """async (texts) => {
          const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
          const before = w.stats();
          const burst = await Promise.all(texts.map((t) => remote.embed(t)));
          const after = w.stats();
          return {
            batch: bits(embedder.embed(texts)),
            singles: texts.map((t) => bits(embedder.embed([t]))),
            burst: burst.map(bits),
            workerBatch: bits(await remote.embed(texts)),
            merged: after.batches - before.batches,
            empty: [embedder.embed([]).length, (await remote.embed([])).length],
          };
        }""",
        texts,
    )
    flat = [bit for single in got["singles"] for bit in single]
    assert got["batch"] == flat == got["workerBatch"]
    assert got["burst"] == got["singles"]
    assert got["merged"] == 1, "a burst of embed() calls travels as one batch"
    assert got["empty"] == [0, 0]


def test_progress_and_cancellation_in_the_worker(page, golden):
    texts = golden[0][:120]
    got = page.evaluate(
        """async (texts) => {
          const progress = [];
          const v = await remote.embed(texts, { onProgress: (p) => progress.push(p) });
          const restarts = w.stats().restarts;
          const controller = new AbortController();
          const long = remote.embed([...texts, ...texts], { signal: controller.signal, onProgress: () => controller.abort() });
          const outcome = await long.then(() => 'resolved', (e) => e.name);
          const after = await remote.embed(texts.slice(0, 2));  // the embedder was rebuilt in a new worker
          return { progress, n: v.length, outcome, restarts: w.stats().restarts - restarts, after: Array.from(after),
                   main: Array.from(embedder.embed(texts.slice(0, 2))) };
        }""",
        texts,
    )
    done = [p["done"] for p in got["progress"]]
    assert len(done) >= 2 and done == sorted(done) and done[-1] == 120 and all(p["total"] == 120 for p in got["progress"])
    assert got["n"] == 120 * 384
    assert got["outcome"] == "AbortError" and got["restarts"] == 1
    assert got["after"] == got["main"]


def test_errors_are_clear_and_dispose_is_safe(opened):
    page, watch = opened
    got = page.evaluate(
        """async () => {
          const out = {};
          const grab = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.constructor.name + ': ' + e.message; } };
          out.element = await grab(() => embedder.embed(['a', 5]));
          out.kind = await grab(() => embedder.embed(5));
          out.sparse = await grab(() => embedder.embed(['a', , 'b']));
          out.remoteElement = await grab(() => remote.embed(['a', 5]));
          out.tokenize = await grab(() => embedder.tokenize(null));
          out.construct = await grab(() => new mm.TextEmbedder());
          out.folder = await grab(() => mm.TextEmbedder.load('lib/models/all-MiniLM-L6-v2'));
          out.missing = await grab(() => mm.TextEmbedder.load('lib/models/nothing-here/'));
          const files = { config: 'lib/models/all-MiniLM-L6-v2/config.json', tokenizer: 'lib/models/all-MiniLM-L6-v2/tokenizer.json' };
          const weights = new Uint8Array(await (await fetch('lib/models/all-MiniLM-L6-v2/model.safetensors')).arrayBuffer());
          out.truncated = await grab(() => mm.TextEmbedder.load({ ...files, weights: weights.subarray(0, 1000) }));
          out.hostile = await grab(() => mm.TextEmbedder.load({ ...files, weights: new Uint8Array([255, 255, 255, 255, 0, 0, 0, 0]) }));
          out.noWeights = await grab(() => mm.TextEmbedder.load(files));
          out.remoteMissing = await grab(() => w.loadTextEmbedder('lib/models/nothing-here/'));
          const cls = new TextEncoder().encode(JSON.stringify({ word_embedding_dimension: 384, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false }));
          out.clsPooling = await grab(() => mm.TextEmbedder.load({ ...files, weights, pooling: cls }));
          out.remoteClsPooling = await grab(() => w.loadTextEmbedder({ ...files, weights: 'lib/models/all-MiniLM-L6-v2/model.safetensors', pooling: cls }));
          const extra = await mm.TextEmbedder.load({ ...files, weights });
          extra.dispose(); extra.dispose();
          out.afterDispose = await grab(() => extra.embed('a'));
          return out;
        }"""
    )
    assert got["element"] == "TypeError: TextEmbedder.embed: texts[1] is number 5; expected a string"
    assert got["remoteElement"] == got["element"]
    assert got["kind"] == "TypeError: TextEmbedder.embed: texts must be a string or an Array of strings; received number 5"
    assert got["sparse"].startswith("TypeError: TextEmbedder.embed: texts[1] is missing")
    assert got["tokenize"] == "TypeError: TextEmbedder.tokenize: text must be a string; received null"
    assert got["construct"].startswith("TypeError: new TextEmbedder: use await TextEmbedder.load")
    assert got["folder"].startswith('TypeError: TextEmbedder.load: a model folder\'s URL must end with "/"')
    assert "could not fetch" in got["missing"] and "nothing-here/config.json: HTTP 404" in got["missing"]
    assert got["truncated"].startswith("Error: TextEmbedder.load: the model cannot be loaded: model.safetensors: the header claims")
    assert "model.safetensors" in got["hostile"] and "header" in got["hostile"]
    assert got["noWeights"] == "TypeError: TextEmbedder.load: source.weights is missing (config.json, tokenizer.json, model.safetensors)"
    assert "nothing-here/config.json: HTTP 404" in got["remoteMissing"]
    assert got["clsPooling"] == ("Error: TextEmbedder.load: the model cannot be loaded: 1_Pooling/config.json: this model "
                                 "pools by cls_token; TextEmbedder computes the mean over the tokens only "
                                 "(pooling_mode_mean_tokens alone true)")
    assert got["remoteClsPooling"].endswith(got["clsPooling"].removeprefix("Error: TextEmbedder.load: "))
    assert got["afterDispose"] == "Error: TextEmbedder.embed: this embedder has been disposed"
    # The browser reports the 404s of the missing folder (on the page and in the worker): nothing else.
    errors = watch.take_console_errors()
    assert errors and all("404 (Not Found)" in e for e in errors), errors


def test_no_proxy_growth_over_1000_embed_calls(page):
    got = page.evaluate(
        """() => {
          embedder.embed('warm up');
          const before = mm.debugStats();
          for (let i = 0; i < 1000; i++) embedder.embed(i % 2 ? 'a' : ['b', 'c d']);
          const after = mm.debugStats();
          return [before.liveProxies, after.liveProxies, after.heapBytes - before.heapBytes];
        }"""
    )
    assert got[0] == got[1]


def test_saved_indexes_search_exactly_the_same(page):
    got = page.evaluate(
        """async () => {
          const texts = ['cats purr', 'dogs bark', 'the stock market fell', 'a kitten sleeps', 'bonds and shares'];
          const index = new mm.EmbeddingIndex(384);
          index.add(embedder.embed(texts));
          const query = embedder.embed('a sleepy cat');
          const bytes = index.toBytes();
          const again = mm.EmbeddingIndex.fromBytes(bytes);
          const loaded = await mm.EmbeddingIndex.load(new Blob([bytes]));
          const remoteIndex = await w.loadIndex(bytes);
          const remoteBytes = await remoteIndex.toBytes();
          const result = (r) => [Array.from(r.indices), Array.from(r.scores)];
          const out = {
            first: result(index.search(query, 3)), again: result(again.search(query, 3)),
            loaded: result(loaded.search(query, 3)), remote: result(await remoteIndex.search(query, 3)),
            sameBytes: remoteBytes.length === bytes.length && remoteBytes.every((b, i) => b === bytes[i]),
            size: [again.size, again.dim, remoteIndex.size, remoteIndex.dim],
          };
          const grab = (f) => { try { f(); return 'no error'; } catch (e) { return e.constructor.name + ': ' + e.message; } };
          out.empty = grab(() => mm.EmbeddingIndex.fromBytes(new Uint8Array(0)));
          out.truncated = grab(() => mm.EmbeddingIndex.fromBytes(bytes.subarray(0, bytes.length - 5)));
          out.random = grab(() => mm.EmbeddingIndex.fromBytes(Uint8Array.from({ length: 300 }, (_, i) => (i * 7919) % 256)));
          out.notBytes = grab(() => mm.EmbeddingIndex.fromBytes([1, 2, 3]));
          out.remoteBad = await w.loadIndex(new Uint8Array(8)).then(() => 'no error', (e) => e.constructor.name + ': ' + e.message);
          for (const x of [index, again, loaded]) x.dispose();
          await remoteIndex.dispose();
          return out;
        }"""
    )
    assert got["first"] == got["again"] == got["loaded"] == got["remote"]
    assert got["first"][0][:2] == [3, 0]  # the kitten, then the cats
    assert got["sameBytes"] and got["size"] == [5, 384, 5, 384]
    assert got["empty"].startswith("Error: EmbeddingIndex.fromBytes: not a saved index: not a safetensors file")
    assert got["truncated"].startswith("Error: EmbeddingIndex.fromBytes") and "lie outside" in got["truncated"]
    assert got["random"].startswith("Error: EmbeddingIndex.fromBytes")
    assert got["notBytes"] == "TypeError: EmbeddingIndex.fromBytes: bytes must be a Uint8Array (from toBytes()); received an Array of length 3"
    assert got["remoteBad"].startswith("Error: EmbeddingIndex.load")
