"""FeedForward.load / MiniModel.load (and the worker's) in Chromium: every kind of source,
outputs against numpy, damaged files refused with clear errors and never a hang."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from minimodel import FeedForward
from references import BAD_FILES, random_layers, reference_network

pytestmark = pytest.mark.e2e


def safetensors_of(layers) -> bytes:
    net = FeedForward([layers[0][0].shape[1]] + [w.shape[0] for w, _ in layers])
    for i, (w, b) in enumerate(layers):
        net.load_layer(i, w, b)
    return net.save_safetensors()


LOAD_JS = """async ([b64, how, x]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const source = how === 'buffer' ? bytes.buffer : how === 'blob' ? new Blob([bytes]) : how === 'url' ? 'extra/model.safetensors' : bytes;
  const net = await mm.FeedForward.load(source);
  try {
    return { sizes: net.sizes, y: Array.from(net.predictBatch(new Float32Array(x), x.length / net.inputSize)) };
  } finally { net.dispose(); }
}"""


@pytest.mark.parametrize("how", ["uint8array", "buffer", "blob", "url"])
def test_feed_forward_load_from_every_kind_of_source(api, how):
    layers = random_layers([64, 32, 10], seed=11)
    data = safetensors_of(layers)
    api.route("**/extra/model.safetensors", lambda route: route.fulfill(status=200, body=data, content_type="application/octet-stream"))
    x = np.random.default_rng(1).standard_normal((4, 64)).astype(np.float32)
    got = api.evaluate(LOAD_JS, [base64.b64encode(data).decode(), how, x.ravel().tolist()])
    api.unroute("**/extra/model.safetensors")
    assert got["sizes"] == [64, 32, 10]
    np.testing.assert_allclose(np.reshape(got["y"], (4, 10)), reference_network(layers, x), rtol=1e-4, atol=1e-4)


def test_npz_and_minimodel_load(api):
    layers = random_layers([5, 3], seed=2)
    buffer = io.BytesIO()
    np.savez(buffer, **{"layers.0.weight": layers[0][0], "layers.0.bias": layers[0][1]})
    got = api.evaluate(
        """async ([b64]) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const m = await mm.MiniModel.load(bytes);
          try { return { io: [m.inputSize, m.outputSize], y: Array.from(m.predict([1, 2, 3, 4, 5])) }; } finally { m.dispose(); }
        }""",
        [base64.b64encode(buffer.getvalue()).decode()],
    )
    assert got["io"] == [5, 3]
    np.testing.assert_allclose(got["y"], np.maximum(reference_network(layers, np.arange(1, 6, dtype=np.float32)[None])[0], 0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("data", "message"), BAD_FILES[:12] + BAD_FILES[15:], ids=[m for _, m in BAD_FILES[:12] + BAD_FILES[15:]])
def test_damaged_files_are_refused_clearly(api, data, message):
    got = api.evaluate(
        """async ([b64]) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          try { await mm.FeedForward.load(bytes); return null; }
          catch (e) { return { name: e.name, type: e.constructor.name, message: e.message }; }
        }""",
        [base64.b64encode(data).decode()],
    )
    assert got is not None
    assert got["type"] == "Error" and got["name"] == "WeightsFileError"
    assert got["message"].startswith("FeedForward.load: the weight file cannot be loaded: ")
    assert message in got["message"] and "Traceback" not in got["message"]


def test_bad_sources(api, app):
    got = api.evaluate(
        """async () => {
          const out = [];
          for (const source of [42, null, new Float32Array(4), { url: 'x' }, 'extra/missing.safetensors']) {
            try { await mm.FeedForward.load(source); out.push(null); } catch (e) { out.push(e.constructor.name + ': ' + e.message); }
          }
          try { await mm.MiniModel.load(new Uint8Array(0)); } catch (e) { out.push(e.message); }
          return out;
        }"""
    )
    assert got[0] == "TypeError: FeedForward.load: source must be a URL, a Blob or File, an ArrayBuffer or a Uint8Array; received number 42"
    assert got[1].endswith("received null") and got[2].endswith("received Float32Array(4)") and got[3].endswith("received an object")
    assert got[4].startswith("Error: FeedForward.load: could not fetch http://127.0.0.1:") and got[4].endswith("HTTP 404 Not Found")
    assert "shorter than its 8-byte header length" in got[5]
    assert app[1].take_console_errors() == ["Failed to load resource: the server responded with a status of 404 (Not Found)"]


def test_worker_loads_a_file_and_keeps_it_across_a_restart(api):
    layers = random_layers([8, 4, 2], seed=5)
    data = safetensors_of(layers)
    x = np.arange(8, dtype=np.float32)
    got = api.evaluate(
        """async ([b64, x]) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const w = await mm.createWorker();
          const net = await w.loadFeedForward(new Blob([bytes]));
          const first = Array.from(await net.predict(x));
          const c = new AbortController();
          const busy = w._busyForTest(2000, { signal: c.signal }).catch((e) => e.name);
          await new Promise((r) => setTimeout(r, 50));
          c.abort();
          await busy;
          const second = Array.from(await net.predict(x));     // from the rebuilt worker
          let bad;
          try { await w.loadFeedForward(new Uint8Array([1, 2, 3])); } catch (e) { bad = e.name + ': ' + e.message; }
          const stats = w.stats();
          await w.terminate();
          return { sizes: net.sizes, first, second, restarts: stats.restarts, bad };
        }""",
        [base64.b64encode(data).decode(), x.tolist()],
    )
    assert got["sizes"] == [8, 4, 2] and got["restarts"] == 1
    np.testing.assert_allclose(got["first"], reference_network(layers, x[None])[0], rtol=1e-5, atol=1e-5)
    assert got["second"] == got["first"]
    assert got["bad"].startswith("WeightsFileError: FeedForward.load: the weight file cannot be loaded: not a safetensors file")
