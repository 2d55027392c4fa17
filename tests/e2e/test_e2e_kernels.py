"""The kernel builds in Chromium: relaxed SIMD (fused multiply-adds) where the browser
validates it, SIMD128 otherwise or on request, numpy alone on request; each within the
documented tolerance of float64 references computed here, on the main thread and in the
worker; the fallback when relaxed SIMD is missing."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from conftest import FROM_B64, f32_b64, open_blank

pytestmark = pytest.mark.e2e

BUILDS = ["relaxed-simd", "simd128", "numpy"]

# A page whose WebAssembly does not validate relaxed SIMD (what an older browser says).
NO_RELAXED = """
const validate = WebAssembly.validate.bind(WebAssembly);
WebAssembly.validate = (bytes) => {
  const b = new Uint8Array(bytes.buffer ?? bytes);
  for (let i = 0; i + 2 < b.length; i++) if (b[i] === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02) return false;
  return validate(bytes);
};
"""


@pytest.fixture(scope="module")
def page(browser, base_url):
    context, page, watch = open_blank(browser, base_url)
    page.evaluate("async () => { window.mm = await import('./lib/minimodel.js'); }")
    yield page
    watch.assert_clean()
    context.close()


def test_auto_picks_relaxed_simd_and_every_build_can_be_chosen(page):
    got = page.evaluate(
        """async () => {
          const first = (await mm.init()).kernelBuild;
          const seen = [];
          for (const k of ['simd128', 'numpy', 'relaxed-simd', 'auto']) {
            const info = await mm.init({ kernels: k });
            seen.push([k, info.kernelBuild, mm.debugStats().kernelBuild]);
          }
          let bad = null;
          try { await mm.init({ kernels: 'fast' }); } catch (e) { bad = e.constructor.name + ': ' + e.message; }
          return { first, seen, bad };
        }"""
    )
    assert got["first"] == "relaxed-simd"
    assert got["seen"] == [["simd128", "simd128", "simd128"], ["numpy", "numpy", "numpy"],
                           ["relaxed-simd", "relaxed-simd", "relaxed-simd"], ["auto", "relaxed-simd", "relaxed-simd"]]
    assert got["bad"] == 'TypeError: init: kernels must be one of "auto", "relaxed-simd", "simd128", "numpy"; received string "fast"'


@pytest.mark.parametrize("build", BUILDS)
def test_each_build_matches_float64_references(page, build):
    rng = np.random.default_rng(7)
    w1 = (rng.standard_normal((256, 784)) / 28).astype(np.float32)
    b1 = rng.standard_normal(256).astype(np.float32) * 0.1
    w2 = (rng.standard_normal((10, 256)) / 16).astype(np.float32)
    x = rng.standard_normal((33, 784)).astype(np.float32)
    rows = rng.standard_normal((5000, 64)).astype(np.float32)
    q = rng.standard_normal(64).astype(np.float32)
    got = page.evaluate(
        """async ([build, w1, b1, w2, x, rows, q]) => {
          [w1, x, rows] = [w1, x, rows].map(""" + FROM_B64 + """);
          await mm.init({ kernels: build });
          const net = new mm.FeedForward([784, 256, 10]);
          net.loadLayer(0, w1, b1); net.loadLayer(1, w2);
          const batch = Array.from(net.predictBatch(x, 33));
          const single = Array.from(net.predict(x.slice(784 * 5, 784 * 6)));
          net.dispose();
          const index = new mm.EmbeddingIndex(64);
          index.add(rows);
          const found = index.search(q, 10);
          index.dispose();
          const a = x.slice(0, 784), b = x.slice(784, 1568);
          return { batch, single, indices: Array.from(found.indices), scores: Array.from(found.scores),
                   cos: mm.cosineSimilarity(a, b), self: mm.cosineSimilarity(a, a), build: mm.debugStats().kernelBuild };
        }""",
        [build, f32_b64(w1), b1.tolist(), w2.ravel().tolist(), f32_b64(x), f32_b64(rows), q.tolist()],
    )
    assert got["build"] == build
    f = lambda a: a.astype(np.float64)  # noqa: E731
    reference = np.maximum(f(x) @ f(w1).T + f(b1), 0) @ f(w2).T
    np.testing.assert_allclose(np.reshape(got["batch"], (33, 10)), reference, rtol=1e-4, atol=1e-4)
    assert np.array_equal(np.float32(got["single"]), np.float32(np.reshape(got["batch"], (33, 10))[5]))
    unit = f(rows) / np.linalg.norm(f(rows), axis=1, keepdims=True)
    scores = unit @ (f(q) / np.linalg.norm(f(q)))
    assert got["indices"] == np.argsort(-scores, kind="stable")[:10].tolist()
    np.testing.assert_allclose(got["scores"], np.sort(scores)[::-1][:10], atol=1e-5)
    a, b = f(x[0]), f(x[1])
    assert got["cos"] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), abs=1e-12)
    assert got["self"] == 1


@pytest.mark.parametrize("build", ["relaxed-simd", "simd128"])
def test_each_build_widens_every_float16_exactly_and_finds_the_first_non_finite(page, build):
    """The text model's float16 weights are checked and widened by the kernels (in the
    browser, always): every one of the 63,488 finite half patterns against numpy's astype
    in CPython, bit for bit, and the first inf/NaN found by its index."""
    got = page.evaluate(
        """async (build) => {
          await mm.init({ kernels: build });
          return JSON.parse(mm.getPyodide().runPython(`
import base64, json, numpy as np
from minimodel import _kernels
k = _kernels.active()
bits = np.arange(65536, dtype=np.uint16)
finite = np.ascontiguousarray(bits[(bits & 0x7C00) != 0x7C00][::-1])  # the tail and every lane see every kind
out = np.empty(finite.size, np.float32)
code = k.widen_halves(finite, out, finite.size)
json.dumps({"build": _kernels.build(), "code": code, "out": base64.b64encode(out.tobytes()).decode(),
            "first": [k.check_halves(bits[s:], bits.size - s) for s in range(4)], "tail": k.check_halves(bits[-5:], 5)})
`));
        }""",
        build,
    )
    assert got["build"] == build and got["code"] == -1
    bits = np.arange(65536, dtype=np.uint16)
    finite = bits[(bits & 0x7C00) != 0x7C00][::-1]
    expected = finite.view(np.float16).astype(np.float32)
    assert np.array_equal(np.frombuffer(base64.b64decode(got["out"]), np.uint32), expected.view(np.uint32))
    assert got["first"] == [0x7C00 - s for s in range(4)]  # +inf met in each of the 4 lanes
    assert got["tail"] == 0  # 0xFFFB, a NaN, is the first of the last five


def test_the_worker_runs_the_build_the_page_chose(page):
    got = page.evaluate(
        """async () => {
          const out = [];
          for (const k of ['auto', 'simd128', 'numpy']) {
            const w = await mm.createWorker({ kernels: k });
            const model = await w.createModel(4, 2);
            await model.loadWeights([1, 2, 3, 4, 5, 6, 7, 8]);
            out.push([k, (await w.debugStats()).kernelBuild, w.info.kernelBuild, Array.from(await model.predict([1, 1, 1, 1]))]);
            await w.terminate();
          }
          let bad = null;
          try { await mm.createWorker({ kernels: 'avx' }); } catch (e) { bad = e.constructor.name; }
          return { out, bad };
        }"""
    )
    assert [row[:3] for row in got["out"]] == [["auto", "relaxed-simd", "relaxed-simd"], ["simd128", "simd128", "simd128"],
                                               ["numpy", "numpy", "numpy"]]
    assert all(row[3] == [10, 26] for row in got["out"])
    assert got["bad"] == "TypeError"


def test_without_relaxed_simd_the_simd128_build_runs(browser, base_url):
    context, page, watch = open_blank(browser, base_url)
    context.add_init_script(NO_RELAXED)
    page.reload()
    got = page.evaluate(
        """async () => {
          const mm = await import('./lib/minimodel.js');
          const info = await mm.init();
          const model = new mm.MiniModel(3, 1);
          model.loadWeights([1, 2, 3]);
          const y = Array.from(model.predict([1, 1, 1]));
          const w = await mm.createWorker();
          const workerBuild = (await w.debugStats()).kernelBuild;
          await w.terminate();
          let forced = null;
          try { await mm.init({ kernels: 'relaxed-simd' }); } catch (e) { forced = e.message; }
          return { build: info.kernelBuild, y, workerBuild, forced };
        }"""
    )
    assert got["build"] == "simd128" and got["workerBuild"] == "simd128" and got["y"] == [6]
    assert got["forced"] == 'init: this browser\'s WebAssembly has no relaxed SIMD; use kernels: "auto" or "simd128"'
    watch.assert_clean()
    context.close()
