"""createWorker({ workers: n }) in Chromium: the same API over several workers. Results
equal one worker's (search exactly, ties included; products and embeddings bit for bit:
every worker runs the same kernels), calls spread, and cancellation, crashes and restores
work per worker."""

from __future__ import annotations

import pytest

from adversarial import JS_GENERATOR
from conftest import open_blank

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def opened(browser, base_url):
    context, page, watch = open_blank(browser, base_url)
    page.evaluate(
        "async () => { window.mm = await import('./lib/minimodel.js');"
        " [window.one, window.two] = await Promise.all([mm.createWorker(), mm.createWorker({ workers: 2 })]); }"
    )
    page.evaluate(f"window.gen = {JS_GENERATOR};")
    yield page, watch
    page.evaluate("async () => { await one.terminate(); await two.terminate(); }")
    watch.assert_clean()
    context.close()


@pytest.fixture
def page(opened):
    yield opened[0]
    opened[1].assert_clean()


def test_products_are_split_and_equal_one_workers(page):
    got = page.evaluate(
        """async () => {
          const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
          const x = gen.rows('normal', 37, 784, 3);
          const out = {};
          for (const [name, w] of [['one', one], ['two', two]]) {
            const net = await w.createFeedForward([784, 256, 10]);
            await net.loadLayer(0, gen.rows('normal', 256, 784, 4).map((v) => v / 28), gen.rows('normal', 1, 256, 5));
            await net.loadLayer(1, gen.rows('normal', 10, 256, 6).map((v) => v / 16));
            const before = w.stats();
            const batch = bits(await net.predictBatch(x, 37));
            const burst = (await Promise.all(Array.from({ length: 37 }, (_, r) => net.predict(x.subarray(r * 784, (r + 1) * 784))))).map(bits);
            const after = w.stats();
            out[name] = { batch, burst, perWorker: after.workers.map((s, i) => s.requests - before.workers[i].requests),
                          sizes: net.sizes, inputSize: net.inputSize };
            await net.dispose();
          }
          return out;
        }"""
    )
    assert got["two"]["batch"] == got["one"]["batch"]
    assert got["two"]["burst"] == got["one"]["burst"]
    assert [bit for row in got["two"]["burst"] for bit in row] == got["two"]["batch"]
    assert len(got["two"]["perWorker"]) == 2 and all(n > 0 for n in got["two"]["perWorker"]), got["two"]["perWorker"]
    assert got["two"]["sizes"] == [784, 256, 10] and got["two"]["inputSize"] == 784


def test_a_bad_value_is_named_by_its_index_in_the_callers_array(page):
    """A bad value in any worker's part is named as the caller's array holds it (with bad
    values in both parts, the first, as one worker reports it), with the message one
    worker gives, and the pool works on after each."""
    got = page.evaluate(
        """async () => {
          const net = await two.createFeedForward([4, 3, 2]);
          const error = async (x, rows) => net.predictBatch(x, rows).then(() => null, (e) => [e.constructor.name, e.message]);
          const x = new Float32Array(4 * 10).fill(0.5);
          const secondPart = x.slice(); secondPart[4 * 7 + 2] = NaN;
          const firstPart = x.slice(); firstPart[1] = -Infinity;
          const both = x.slice(); both[3] = Infinity; both[30] = NaN;
          const wide = new Float64Array(x); wide[33] = -1e39;
          const out = [await error(secondPart, 10), await error(firstPart, 10), await error(both, 10), await error(wide, 10)];
          const fine = Array.from(await net.predictBatch(x, 10));
          await net.dispose();
          return { out, fine };
        }"""
    )
    where = "FeedForward.predictBatch"
    assert got["out"][0] == ["RangeError", f"{where}: inputs[30] is NaN; expected a finite number"]
    assert got["out"][1] == ["RangeError", f"{where}: inputs[1] is -Infinity; expected a finite number"]
    assert got["out"][2] == ["RangeError", f"{where}: inputs[3] is Infinity; expected a finite number"]  # the first
    assert got["out"][3][0] == "RangeError" and "inputs[33] = -1e+39 is outside the float32 range" in got["out"][3][1]
    assert len(got["fine"]) == 20 and got["fine"] == got["fine"][:2] * 10


def test_inputs_are_taken_when_the_call_is_made_and_buffers_are_reused(page):
    """A split call's rows are copied when it is made: overwriting the array right after
    the call changes nothing. Repeated calls go through the buffers the workers hand back
    (64 KiB and more) and give the same bits as one worker every time."""
    got = page.evaluate(
        """async () => {
          const bits = (a) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
          const x = gen.rows('normal', 64, 784, 7); // 32 rows a worker: 100 KB parts
          const nets = {};
          for (const [name, w] of [['one', one], ['two', two]]) {
            nets[name] = await w.createFeedForward([784, 16, 10]);
            await nets[name].loadLayer(0, gen.rows('normal', 16, 784, 8).map((v) => v / 28));
          }
          const reference = bits(await nets.one.predictBatch(x, 64));
          const runs = [];
          for (let i = 0; i < 4; i++) {
            const y = Float32Array.from(x);
            const pending = nets.two.predictBatch(y, 64);
            y.fill(Number.NaN); // the caller reuses its array at once
            runs.push(bits(await pending));
          }
          for (const net of Object.values(nets)) await net.dispose();
          return { reference, runs };
        }"""
    )
    assert all(run == got["reference"] for run in got["runs"])


@pytest.mark.parametrize("kind", ["ties", "normal", "clustered"])
def test_a_sharded_index_searches_exactly_as_one(page, kind):
    got = page.evaluate(
        """async (kind) => {
          const n = 9000, dim = 384;
          const data = gen.rows(kind, n, dim, 21);
          const queries = gen.plantedQueries(data, n, dim, 6, 22);
          const out = {};
          for (const [name, w] of [['one', one], ['two', two]]) {
            const index = await w.createIndex(dim);
            for (const [start, end] of [[0, 1], [1, 4001], [4001, 4100], [4100, n]]) await index.add(data.subarray(start * dim, end * dim));
            const results = [];
            for (let c = 0; c < 6; c++) {
              for (const k of [1, 10, 100, 257]) {
                const r = await index.search(queries.subarray(c * dim, (c + 1) * dim), k);
                results.push([Array.from(r.indices), Array.from(r.scores)]);
              }
            }
            out[name] = { results, size: index.size, bytes: Array.from(await index.toBytes()) };
            await index.dispose();
          }
          const reloaded = await two.loadIndex(new Uint8Array(out.one.bytes));
          const again = await reloaded.search(queries.subarray(0, dim), 100);
          out.reloaded = [Array.from(again.indices), Array.from(again.scores), reloaded.size];
          await reloaded.dispose();
          out.bytesSame = out.one.bytes.length === out.two.bytes.length && out.one.bytes.every((b, i) => b === out.two.bytes[i]);
          delete out.one.bytes; delete out.two.bytes;
          return out;
        }""",
        kind,
    )
    assert got["two"]["size"] == got["one"]["size"] == 9000
    assert got["two"]["results"] == got["one"]["results"]
    assert got["bytesSame"], "a sharded index saves the same bytes as one index"
    assert got["reloaded"] == [*got["one"]["results"][2], 9000]


def test_embeddings_are_split_and_equal_one_workers(page):
    got = page.evaluate(
        """async () => {
          const texts = Array.from({ length: 23 }, (_, i) => 'passage ' + i + ' '.repeat(i % 5) + 'word '.repeat(i * 3));
          const out = {};
          for (const [name, w] of [['one', one], ['two', two]]) {
            const embedder = await w.loadTextEmbedder();
            const progress = [];
            const v = await embedder.embed(texts, { onProgress: (p) => progress.push(p) });
            out[name] = { v: Array.from(new Uint32Array(v.buffer)), progress, dim: embedder.dim };
            await embedder.dispose();
          }
          return out;
        }"""
    )
    assert got["two"]["v"] == got["one"]["v"] and got["two"]["dim"] == 384
    last = got["two"]["progress"][-1]
    assert last == {"done": 23, "total": 23}


def test_cancellation_and_crashes_stay_with_their_worker(opened):
    page, watch = opened
    got = page.evaluate(
        """async () => {
          const w = await mm.createWorker({ workers: 2 });
          const model = await w.createModel(3, 1);
          await model.loadWeights([1, 2, 3], [1]);
          // a long call on the first worker, aborted: that worker alone is replaced
          const controller = new AbortController();
          const long = w._busyForTest(5000, { signal: controller.signal });
          await new Promise((r) => setTimeout(r, 100));
          controller.abort();
          const aborted = await long.then(() => 'resolved', (e) => e.name);
          const afterAbort = await Promise.all([1, 2, 3, 4].map(() => model.predict([1, 1, 1])));
          const restarts = w.stats().workers.map((s) => s.restarts);
          // a crash in the first worker: its calls fail clearly, the next call restores it
          const crash = await w._crashForTest().then(() => 'resolved', (e) => e.message);
          const afterCrash = await Promise.all([1, 2, 3, 4].map(() => model.predict([1, 1, 1])));
          const crashes = w.stats().workers.map((s) => s.crashes);
          const objects = (await w.debugStats()).workers.map((s) => s.objects);
          await w.terminate();
          const terminated = await model.predict([1, 1, 1]).then(() => 'resolved', (e) => e.message);
          return { aborted, afterAbort: afterAbort.map((y) => y[0]), restarts, crash, afterCrash: afterCrash.map((y) => y[0]),
                   crashes, objects, terminated };
        }"""
    )
    assert got["aborted"] == "AbortError"
    assert got["afterAbort"] == [7, 7, 7, 7] and got["restarts"] == [1, 0]
    assert "the minimodel worker stopped" in got["crash"]
    assert got["afterCrash"] == [7, 7, 7, 7] and got["crashes"] == [1, 0]
    assert got["objects"] == [1, 1], "each worker holds a replica of the model"
    assert got["terminated"] == "MiniModel.predict: the worker has been terminated"
    errors = watch.take_console_errors()  # Pyodide reports its fatal error on the console
    assert any("fatal error" in e for e in errors), errors


def test_the_workers_option(page):
    got = page.evaluate(
        """async () => {
          const grab = async (options) => mm.createWorker(options).then((w) => { const n = w.workers; w.terminate(); return n; },
                                                                         (e) => e.constructor.name + ': ' + e.message);
          return { auto: await grab({ workers: 'auto' }), cores: navigator.hardwareConcurrency,
                   zero: await grab({ workers: 0 }), many: await grab({ workers: mm.MAX_WORKERS + 1 }),
                   text: await grab({ workers: 'two' }), max: mm.MAX_WORKERS };
        }"""
    )
    assert got["auto"] == max(1, min(got["max"], got["cores"]))
    assert got["zero"] == "RangeError: createWorker: workers must be a positive integer Number; received number 0"
    assert got["many"] == f"RangeError: createWorker: workers must be at most {got['max']}; received {got['max'] + 1}"
    assert got["text"].startswith("RangeError: createWorker: workers must be a positive integer Number")
