"""createWorker(): the worker runtime in headless Chromium, against numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_responsive
from test_e2e_api import f32

pytestmark = pytest.mark.e2e


@pytest.fixture
def wpage(api):
    """The shared page with a fresh worker in `window.w` (terminated afterwards)."""
    api.evaluate("async () => { window.w = await mm.createWorker(); }")
    yield api
    api.evaluate("async () => { await window.w.terminate(); }")


def test_1000_concurrent_predicts_each_get_their_own_row(wpage):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((10, 128)).astype(np.float32)
    b = rng.standard_normal(10).astype(np.float32)
    xs = rng.standard_normal((1000, 128)).astype(np.float32)
    got = wpage.evaluate(
        """async ([w, b, xs]) => {
          const model = await w_.createModel(128, 10);
          await model.loadWeights(w, b);
          const inputs = xs.map((x) => new Float32Array(x));
          const before = w_.stats();
          const ys = await Promise.all(inputs.map((x) => model.predict(x)));
          const after = w_.stats();
          await model.dispose();
          return { ys: ys.map((y) => Array.from(y)), types: [...new Set(ys.map((y) => y.constructor.name))],
                   distinct: new Set(ys.map((y) => y.buffer)).size, batches: after.batches - before.batches,
                   requests: after.requests - before.requests, messages: after.messages - before.messages,
                   inputsIntact: inputs[7][0] === xs[7][0] && inputs[7].length === 128 };
        }""".replace("w_", "window.w"),
        [f32(w.ravel()), f32(b), [f32(x) for x in xs]],
    )
    expected = np.maximum(xs.astype(np.float64) @ w.T.astype(np.float64) + b, 0)
    np.testing.assert_allclose(np.array(got["ys"]), expected, rtol=1e-5, atol=1e-5)
    assert got["types"] == ["Float32Array"] and got["distinct"] == 1000 and got["inputsIntact"]
    assert got["requests"] == 1000 and 1000 / 64 <= got["batches"] < 100 and got["messages"] == got["batches"]


@pytest.mark.parametrize("size", [128, 1500, 3000])
def test_a_batched_call_takes_its_input_as_of_the_call(wpage, size):
    """One array, refilled before each of 300 concurrent calls: every call gets the result of
    the values it was given, though its batch is sent after the loop. (A batched call's copy
    shares a slab with others of its batch when small: 128 and 1500 values; 3000 have their
    own buffer. 300 calls fill several slabs.)"""
    rng = np.random.default_rng(size)
    w = rng.standard_normal((10, size)).astype(np.float32) / np.sqrt(size)
    b = rng.standard_normal(10).astype(np.float32)
    xs = rng.standard_normal((300, size)).astype(np.float32)
    got = wpage.evaluate(
        """async ([w, b, xs, size]) => {
          const model = await window.w.createModel(size, 10);
          await model.loadWeights(w, b);
          const x = new Float32Array(size);
          const pending = xs.map((row) => { x.set(row); return model.predict(x); });
          x.fill(NaN);
          const ys = await Promise.all(pending);
          const stats = window.w.stats();
          await model.dispose();
          return { ys: ys.map((y) => Array.from(y)), batches: stats.batches };
        }""",
        [f32(w.ravel()), f32(b), [f32(x) for x in xs], size],
    )
    expected = np.maximum(xs.astype(np.float64) @ w.T.astype(np.float64) + b, 0)
    np.testing.assert_allclose(np.array(got["ys"]), expected, rtol=1e-5, atol=1e-5)
    assert got["batches"] >= 300 / 64


# The same bad calls, on the main thread and through the worker: same type, same message.
BAD = [
    ("m.predict(new Float32Array(3))", "RangeError"),
    ("m.predict([1, 'a', 3, 4])", "TypeError"),
    ("m.predict([1, 2, NaN, 4])", "RangeError"),
    ("m.predict(new Int32Array(4))", "TypeError"),
    ("m.loadWeights(new Float32Array(7))", "RangeError"),
    ("m.predictBatch(new Float32Array(8), 3)", "RangeError"),
    ("m.predictBatch(new Float32Array([1, 2, 3, 4, 5, NaN, 7, 8]), 2)", "RangeError"),
    ("m.predictBatch(new Float64Array([1, 2, 3, 4, 5, 6, 7, 1e39]), 2)", "RangeError"),
    ("mm.cosineSimilarity([1, 2], [1])", "RangeError"),
]


def test_errors_match_the_main_thread_and_a_bad_request_fails_alone(wpage):
    # The page's CSP forbids new Function, so each call is pasted into its own function.
    for call, error in BAD:
        remote_call = call.replace("mm.cosineSimilarity", "window.w.cosineSimilarity").replace("m.", "r.")
        pair = wpage.evaluate(
            f"""async () => {{
              const m = new mm.MiniModel(4, 2);
              const r = await window.w.createModel(4, 2);
              let a = null, b = null;
              try {{ {call}; }} catch (e) {{ a = [e.constructor.name, e.message]; }}
              try {{ await {remote_call}; }} catch (e) {{ b = [e.constructor.name, e.message]; }}
              m.dispose(); await r.dispose();
              return [a, b];
            }}"""
        )
        assert pair[0] is not None and pair[0][0] == error, pair
        assert pair[0] == pair[1], pair
    burst = wpage.evaluate(
        """async () => {
          const r = await window.w.createModel(4, 2);
          await r.loadWeights([1, 0, 0, 0, 0, 1, 0, 0]);
          const burst = await Promise.allSettled([r.predict([1, 2, 3, 4]), r.predict([1, 2]), r.predict([4, 3, 2, 1])]);
          await r.dispose();
          return burst.map((s) => s.status === 'fulfilled' ? Array.from(s.value) : s.reason.constructor.name + ': ' + s.reason.message);
        }"""
    )
    assert burst[0] == [1, 2] and burst[2] == [4, 3]
    assert burst[1] == "RangeError: MiniModel.predict: x must have length 4 (the model's inputSize); received length 2"


def test_abort_of_a_queued_and_of_a_running_call(wpage):
    got = wpage.evaluate(
        """async () => {
          const w = window.w;
          const model = await w.createModel(3, 2);
          await model.loadWeights([1, 0, 0, 0, 2, 0], [0.5, 0]);
          const net = await w.createFeedForward([2, 3, 1]);
          await net.loadLayer(0, [1, 0, 0, 1, 1, 1], [0, 0, 0]);
          await net.loadLayer(1, [1, 1, 1], [-1]);
          const index = await w.createIndex(2);
          await index.add([1, 0, 0, 1, 1, 1]);

          // queued: aborted before its batch leaves
          const c1 = new AbortController();
          const queued = model.predict([1, 1, 1], { signal: c1.signal });
          const sibling = model.predict([2, 2, 2]);
          c1.abort();
          const r1 = await queued.then(() => 'resolved', (e) => e.name);
          const s1 = Array.from(await sibling);
          const restartsBefore = w.stats().restarts;

          // running: a long computation in the worker, aborted midway
          const c2 = new AbortController();
          const big = await w.createFeedForward([4096, 4096]);
          const long = big.predictBatch(new Float32Array(4096 * 1536), 1536, { signal: c2.signal });
          const other = model.predict([3, 3, 3]);    // waits behind it, must survive
          await new Promise((r) => setTimeout(r, 150));
          const t0 = performance.now();
          c2.abort();
          const r2 = await long.then(() => 'resolved', (e) => e.name);
          const abortMs = performance.now() - t0;
          const o2 = Array.from(await other);
          const after = {
            model: Array.from(await model.predict([4, 5, 6])),
            net: Array.from(await net.predict([1, 2])),
            search: Array.from((await index.search([0, 1], 2)).indices),
          };
          const stats = w.stats();
          const alreadyAborted = await model.predict([1, 1, 1], { signal: AbortSignal.abort() }).then(() => 'resolved', (e) => e.name);
          await big.dispose(); await model.dispose(); await net.dispose(); await index.dispose();
          return { r1, s1, r2, abortMs, o2, after, restarts: stats.restarts - restartsBefore, alreadyAborted };
        }"""
    )
    assert got["r1"] == "AbortError" and got["s1"] == [2.5, 4]
    assert got["r2"] == "AbortError" and got["abortMs"] < 100
    assert got["restarts"] == 1
    assert got["o2"] == [3.5, 6]
    assert got["after"]["model"] == [4.5, 10]
    assert got["after"]["net"] == pytest.approx([1 + 2 + 3 - 1])
    assert got["after"]["search"] == [1, 2]
    assert got["alreadyAborted"] == "AbortError"


def test_a_crashed_worker_fails_its_calls_clearly_and_the_next_call_starts_a_new_one(wpage, app):
    got = wpage.evaluate(
        """async () => {
          const w = window.w;
          const model = await w.createModel(2, 1);
          await model.loadWeights([2, 3], [1]);
          const crash = w._crashForTest().then(() => 'resolved', (e) => e.message);
          const waiting = w.cosineSimilarity([1, 1], [1, 0]).then((v) => v, (e) => e.message); // sent at once, behind the crash
          const [c, p] = [await crash, await waiting];
          const again = Array.from(await model.predict([1, 2]));
          const stats = w.stats();
          await model.dispose();
          return { c, p, again, crashes: stats.crashes };
        }"""
    )
    assert got["c"].startswith("crash: the minimodel worker stopped (a fatal Python error: memory access out of bounds)")
    assert got["c"].endswith("the next call starts a new one")
    assert isinstance(got["p"], str) and "the minimodel worker stopped" in got["p"]
    assert got["again"] == [9]
    assert got["crashes"] == 1
    errors = app[1].take_console_errors()  # Pyodide reports its fatal error on the console
    assert any("fatal error" in e for e in errors), errors


def test_terminate_rejects_everything_and_is_idempotent(wpage):
    got = wpage.evaluate(
        """async () => {
          const w = window.w;
          const model = await w.createModel(2, 1);
          const busy = w._busyForTest(2000).then(() => 'resolved', (e) => e.message);
          const queued = model.predict([1, 1]).then(() => 'resolved', (e) => e.message);
          await new Promise((r) => setTimeout(r, 50));
          await w.terminate();
          await w.terminate();
          const later = await model.predict([1, 1]).then(() => 'resolved', (e) => e.message);
          const create = await w.createModel(2, 2).then(() => 'resolved', (e) => e.message);
          return { busy: await busy, queued: await queued, later, create, disposeTwice: await model.dispose().then(() => model.dispose()).then(() => 'ok') };
        }"""
    )
    assert got["busy"] == "busy: the worker was terminated"
    assert got["queued"] in ("MiniModel.predict: the worker was terminated",)
    assert got["later"] == "MiniModel.predict: the worker has been terminated"
    assert got["create"] == "new MiniModel: the worker has been terminated"
    assert got["disposeTwice"] == "ok"


def test_main_thread_stays_responsive_during_a_long_computation(wpage):
    """While the worker computes for a second, the page keeps drawing frames. The call's
    own synchronous part (its checks and copies of the 8 MB input, on the page's thread by
    design: the values are taken as of the call) is timed apart and must stay a small part
    of the call: on the loaded CI runs of 2026-11-30 it and the other processes' load gave
    single frame gaps of 133-150 ms, which said nothing about the worker."""
    results = []

    def measure() -> float:
        results.append(wpage.evaluate(LONG_COMPUTATION))
        return results[-1]["maxGap"]

    assert_responsive(wpage, measure)
    got = results[-1]
    print(f"\nworker computation {got['ms']:.0f} ms (its synchronous part {got['sync']:.0f} ms), {got['frames']} frames, "
          f"longest frame gap {got['maxGap']:.1f} ms")
    assert got["ms"] >= 500, "the computation should be long enough to matter"
    assert got["frames"] >= 5, "frames were drawn while the worker computed"
    assert got["sync"] <= 0.25 * got["ms"], f"the call's synchronous part took {got['sync']:.0f} of {got['ms']:.0f} ms"
    assert got["y0"] == pytest.approx(4096 * 0.01, rel=1e-4)


LONG_COMPUTATION = """async () => {
          // 512 rows of 4096: a second of work in the worker for an 8 MB input.
          const net = await window.w.createFeedForward([4096, 4096]);
          const input = new Float32Array(4096 * 512).fill(1);  // made before measuring: the test's, not the library's
          const frames = [];  // [gap, time the frame was drawn]
          let last = performance.now(), running = true;
          const tick = (t) => { frames.push([t - last, t]); last = t; if (running) requestAnimationFrame(tick); };
          requestAnimationFrame(tick);
          const t0 = performance.now();
          const pending = net.predictBatch(input, 512);
          const called = performance.now();  // the call's synchronous part is over: the worker computes
          const y = await pending;
          const ms = performance.now() - t0;
          running = false;
          await net.dispose();
          // The frames whose whole gap fell while the worker computed.
          const during = frames.slice(1).filter(([gap, t]) => t - gap >= called).map(([gap]) => gap);
          return { ms, sync: called - t0, maxGap: Math.max(...during), frames: during.length, y0: y[0] };
        }"""


def test_no_proxy_growth_in_the_worker_over_10000_calls(wpage):
    got = wpage.evaluate(
        """async () => {
          const w = window.w;
          const model = await w.createModel(128, 10);
          const x = new Float32Array(128).fill(0.5);
          await Promise.all(Array.from({ length: 200 }, () => model.predict(x)));   // warm-up
          const before = await w.debugStats();
          for (let round = 0; round < 10; round++) {
            await Promise.all(Array.from({ length: 900 }, () => model.predict(x)));
            for (let i = 0; i < 100; i++) await model.predict(x);
          }
          await Promise.all(Array.from({ length: 100 }, () => w.cosineSimilarity(x, x)));
          const after = await w.debugStats();
          await model.dispose();
          return { before, after };
        }"""
    )
    assert got["after"]["liveProxies"] == got["before"]["liveProxies"]
    assert got["after"]["heapBytes"] - got["before"]["heapBytes"] < 2**20


def test_feed_forward_index_cosine_and_transfer_through_the_worker(wpage):
    rng = np.random.default_rng(9)
    w1 = rng.standard_normal((16, 8)).astype(np.float32)
    w2 = rng.standard_normal((3, 16)).astype(np.float32)
    x = rng.standard_normal((5, 8)).astype(np.float32)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    got = wpage.evaluate(
        """async ([w1, w2, x, vectors]) => {
          const w = window.w;
          const net = await w.createFeedForward([8, 16, 3]);
          await net.loadLayer(0, w1); await net.loadLayer(1, w2);
          const batch = Array.from(await net.predictBatch(x, 5));
          const one = new Float32Array(x.slice(0, 8));
          const single = Array.from(await net.predict(one, { transfer: true }));
          const index = await w.createIndex(8);
          await index.add(vectors.slice(0, 200)); await index.add(vectors.slice(200));
          const found = await index.search(vectors.slice(16, 24), 3);
          const cos = await w.cosineSimilarity([1, 0], [1, 1]);
          const unit = Array.from(await w.normalizeRows([3, 4], 2));
          await net.dispose(); await index.dispose();
          return { batch, single, transferred: one.byteLength === 0, size: index.size, indices: Array.from(found.indices),
                   types: [found.indices.constructor.name, found.scores.constructor.name], cos, unit };
        }""",
        [f32(w1.ravel()), f32(w2.ravel()), f32(x.ravel()), f32(vectors.ravel())],
    )
    h = np.maximum(x.astype(np.float64) @ w1.T.astype(np.float64), 0) @ w2.T.astype(np.float64)
    np.testing.assert_allclose(np.reshape(got["batch"], (5, 3)), h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["single"], h[0], rtol=1e-5, atol=1e-5)
    assert (got["transferred"], got["size"], got["indices"][0]) == (True, 50, 2)
    assert got["types"] == ["Int32Array", "Float32Array"]
    assert got["cos"] == pytest.approx(2**-0.5) and got["unit"] == pytest.approx([0.6, 0.8])


def test_calls_within_the_batch_window_travel_together(api):
    got = api.evaluate(
        """async () => {
          const w = await mm.createWorker({ maxBatchSize: 3, batchTimeoutMs: 40 });
          const model = await w.createModel(2, 1);
          await model.loadWeights([1, 1]);
          const before = w.stats();
          const a = model.predict([1, 2]);                      // opens the window
          await new Promise((r) => setTimeout(r, 5));
          const b = model.predict([3, 4]);                      // another task, same window
          const [ya, yb] = [Array.from(await a), Array.from(await b)];
          const mid = w.stats();
          const burst = await Promise.all([1, 2, 3, 4].map((v) => model.predict([v, v])));  // 3 + 1
          const after = w.stats();
          await w.terminate();
          return { ya, yb, window: [mid.batches - before.batches, mid.batchedRequests - before.batchedRequests],
                   burst: burst.map((y) => y[0]), burstBatches: after.batches - mid.batches };
        }"""
    )
    assert got["ya"] == [3] and got["yb"] == [7]
    assert got["window"] == [1, 2]
    assert got["burst"] == [2, 4, 6, 8] and got["burstBatches"] == 2
    with pytest.raises(Exception, match="maxBatchSize must be a positive integer Number; received number 0"):
        api.evaluate("() => mm.createWorker({ maxBatchSize: 0 })")
    with pytest.raises(Exception, match="batchTimeoutMs must be a Number from 0 to 60000; received number -1"):
        api.evaluate("() => mm.createWorker({ batchTimeoutMs: -1 })")


def test_the_worker_checks_the_sizes_of_rows_the_page_has_checked(wpage):
    """The page checks predictBatch's values before sending them, so the worker checks only
    the sizes: rows that do not match (a bug between page and worker) are refused there,
    never computed from stale or missing rows."""
    got = wpage.evaluate(
        """async () => {
          const r = await window.w.createFeedForward([4, 2]);
          const transport = window.w._members[0].transport;
          const raw = (method, args) => transport.call("test", "call", () => [[r._id, method, args], []])
            .then(() => null, (e) => [e.constructor.name, e.message]);
          const out = [await raw("predictBatch", [new Float32Array(6), 2]), await raw("_predictRows", [new Float32Array(8), 3]),
                       await raw("predictBatch", [[1, 2, 3, 4], 1])];
          const fine = Array.from(await r.predictBatch(new Float32Array(8), 2));
          await r.dispose();
          return [out, fine];
        }"""
    )
    expected = "expected a Float32Array of batch x inputSize = batch x 4 values"
    assert got[0][0] == ["RangeError", f"FeedForward.predictBatch: the worker got Float32Array(6) and batch number 2; {expected}"]
    assert got[0][1][0] == "RangeError" and got[0][1][1].startswith("FeedForward.predict: the worker got")
    assert got[0][2][0] == "RangeError" and "the worker got" in got[0][2][1]
    assert got[1] == [0, 0, 0, 0]
