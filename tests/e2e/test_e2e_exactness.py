"""The fast paths in the browser (WebAssembly kernels in Pyodide), on the main thread and
in the worker, against float64 references computed here in CPython: search on the data
that once made it miss true neighbours (planted queries, non-negative rows, k = 100, rows
added in parts), predictions that must not depend on their batch, cosine(a, a) = 1.

The vectors are generated on both sides by the same hash (tests/adversarial.py) and
compared by SHA-256 before any result is judged.
"""

from __future__ import annotations

import pytest

from adversarial import JS_GENERATOR, SearchReference, planted_queries, rows, sha256
from conftest import open_blank

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def page(browser, base_url):
    context, page, watch = open_blank(browser, base_url)
    page.evaluate(
        "async () => { window.mm = await import('./lib/minimodel.js'); await mm.init(); window.w = await mm.createWorker(); }"
    )
    page.evaluate(f"window.gen = {JS_GENERATOR};")
    yield page
    page.evaluate("async () => { await window.w.terminate(); }")
    watch.assert_clean()
    context.close()


SEARCH = """async ({ kind, n, dim, seed, parts, queries, k, where }) => {
  const data = gen.rows(kind, n, dim, seed);
  const qs = gen.plantedQueries(data, n, dim, queries, seed + 1);
  const before = mm.debugStats().liveProxies;
  const index = where === "worker" ? await w.createIndex(dim) : new mm.EmbeddingIndex(dim);
  let start = 0;
  for (const size of [...parts, n]) {
    const end = Math.min(n, start + size);
    if (end > start) await index.add(data.subarray(start * dim, end * dim));
    start = end;
  }
  const results = [];
  for (let c = 0; c < queries; c++) {
    const { indices, scores } = await index.search(qs.subarray(c * dim, (c + 1) * dim), k);
    results.push([Array.from(indices), Array.from(scores)]);
  }
  const size = index.size;
  await index.dispose();
  return { results, size, digest: await gen.sha256(data), queryDigest: await gen.sha256(qs),
           leaked: mm.debugStats().liveProxies - before };
}"""

CASES = [
    # (kind, n, dim, k, queries, parts): the reports, and every other distribution
    ("normal", 60_000, 384, 100, 12, []),
    ("normal", 60_000, 384, 100, 6, [10_000, 17_001]),
    ("nonneg", 60_000, 384, 100, 8, []),
    ("normal", 100_000, 384, 10, 16, [25_000, 25_000, 25_000]),
    ("clustered", 8_193, 384, 256, 6, [4_095]),
    ("ties", 8_193, 384, 257, 4, []),
    ("zeros", 4_096, 256, 100, 6, [1, 2_000]),
    ("nonneg", 5_000, 264, 256, 4, [2_500]),
]


@pytest.mark.parametrize("where", ["main", "worker"])
@pytest.mark.parametrize(("kind", "n", "dim", "k", "queries", "parts"), CASES)
def test_search_finds_the_true_neighbours(page, where, kind, n, dim, k, queries, parts):
    seed = n + dim + k
    got = page.evaluate(SEARCH, dict(kind=kind, n=n, dim=dim, seed=seed, parts=parts, queries=queries, k=k, where=where))
    data = rows(kind, n, dim, seed)
    qs = planted_queries(data, queries, seed + 1)
    assert got["digest"] == sha256(data) and got["queryDigest"] == sha256(qs), "the generators disagree"
    assert got["size"] == n and got["leaked"] == 0
    reference = SearchReference(data)
    for c, (indices, scores) in enumerate(got["results"]):
        reference.check(qs[c], k, indices, scores, f"{where} {kind} query {c}")


def test_predictions_never_depend_on_the_batch(page):
    """predict = every row of predictBatch = worker bursts, bit for bit, with cancelling
    weights (the issue's MiniModel(3, 1) example and a 784-256-10 network)."""
    got = page.evaluate(
        """async () => {
          const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
          const rng = (i) => Math.sin(i * 12.9898) * 43758.5453 % 1;  // any fixed numbers
          const out = {};
          const mini = new mm.MiniModel(3, 1);
          mini.loadWeights([1e8, 1, -1e8]);
          const remote = await w.createModel(3, 1);
          await remote.loadWeights([1e8, 1, -1e8]);
          const one = [1, 1, 1];
          out.mini = {
            predict: bits(mini.predict(one)),
            batches: [1, 2, 3, 4, 5, 8, 9].map((b) => bits(mini.predictBatch(new Float32Array(3 * b).fill(1), b))),
            workerLone: bits(await remote.predict(one)),
            workerBurst: (await Promise.all([0, 1, 2, 3].map(() => remote.predict(one)))).map(bits),
            workerBatch: bits(await remote.predictBatch(new Float32Array(15).fill(1), 5)),
          };
          mini.dispose(); await remote.dispose();
          const sizes = [784, 256, 10];
          const net = new mm.FeedForward(sizes), rnet = await w.createFeedForward(sizes);
          for (let i = 0; i < 2; i++) {
            const wts = Float32Array.from({ length: sizes[i] * sizes[i + 1] }, (_, j) => rng(j + i) * (j % 2 ? 1e4 : 1));
            const b = Float32Array.from({ length: sizes[i + 1] }, (_, j) => rng(j + 7));
            net.loadLayer(i, wts, b); await rnet.loadLayer(i, wts, b);
          }
          const xs = Float32Array.from({ length: 6 * 784 }, (_, j) => rng(j + 99));
          const row = (r) => xs.subarray(r * 784, (r + 1) * 784);
          out.net = {
            singles: [0, 1, 2, 3, 4, 5].map((r) => bits(net.predict(row(r)))),
            batch6: bits(net.predictBatch(xs, 6)),
            batch5: bits(net.predictBatch(xs.subarray(784), 5)),
            workerBurst: (await Promise.all([0, 1, 2, 3, 4, 5].map((r) => rnet.predict(row(r))))).map(bits),
            workerLone: bits(await rnet.predict(row(3))),
          };
          net.dispose(); await rnet.dispose();
          return out;
        }"""
    )
    mini = got["mini"]
    for b, batch in zip([1, 2, 3, 4, 5, 8, 9], mini["batches"]):
        assert batch == mini["predict"] * b, f"a batch of {b} differs from predict"
    assert mini["workerLone"] == mini["predict"] and mini["workerBurst"] == [mini["predict"]] * 4
    assert mini["workerBatch"] == mini["predict"] * 5
    net = got["net"]
    flat = [bit for single in net["singles"] for bit in single]
    assert net["batch6"] == flat and net["batch5"] == flat[10:]
    assert net["workerBurst"] == net["singles"] and net["workerLone"] == net["singles"][3]


VECTORS = ["[1e30, 1e30]", "[-1e30, 1e30]", "[1e-30, -1e-30, 1e-30]",
           "Array.from({ length: 384 }, (_, i) => (i % 2 ? -3e38 : 3e38))", "[1e-45, 0, 1e-45]"]


def test_cosine_of_a_vector_with_itself_is_exactly_one(page):
    results = page.evaluate(
        f"""async () => {{
          const vectors = [{", ".join(VECTORS)}];
          const out = [];
          for (const a of vectors) {{
            const neg = a.map((v) => -v);
            out.push([mm.cosineSimilarity(a, a), mm.cosineSimilarity(a, neg),
                      await w.cosineSimilarity(a, a), await w.cosineSimilarity(a, neg)]);
          }}
          return out;
        }}"""
    )
    for vector, values in zip(VECTORS, results):
        assert values == [1, -1, 1, -1], (vector, values)
