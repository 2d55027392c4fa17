#!/usr/bin/env python3
"""The benchmark: minimodel vs plain JS vs onnxruntime-web vs native numpy (W1-W6), and
minimodel's TextEmbedder vs transformers.js (E1-E3), one run.

    ./dev.sh bench            (or: .venv/bin/python bench/run.py [--quick] [--only W|E] [--json PATH])

Builds the site, serves it with the benchmark pages on 127.0.0.1, drives headless
Chromium, checks every contender's output against a reference before timing it (float64
numpy for W, sentence-transformers' own vectors for E: see text_workloads.py), prints a
table of medians (and minimums) with ratios from this same run, and writes the numbers to
bench/results.json (with --only, the other part's numbers already there are kept).

The E peer is transformers.js (npm @huggingface/transformers, pinned in package.json; its
dependency onnxruntime-node, which the browser never loads and whose install script
downloads binaries from outside the npm registry, is overridden there by
onnxruntime-common): its bundled build (dist/transformers.min.js) with the onnxruntime-web
.wasm files of the version it depends on, remote models off, one thread, the wasm device,
its other settings at their defaults, the fp32 (bench/minilm_onnx.py), int8 "q8" and
dynamic "int8" (bench/minilm_q8.py) models from this origin. Every request the pages make
is recorded (one to any other origin fails the run) and the server counts the bytes of
every response (E3's download sizes).

    E1  one short query (10 tokens), ms per call: 15 rounds of 20 calls
    E2  64 passages of 40-53 tokens as one batch per call, ms per passage: 7 rounds
    E3  a fresh visit (new browser profile) to the first embedding, s: 3 visits each
    (E1 and E2 rounds and E3 visits take turns across the contenders; then the GEMM
    kernel alone, and a profile of minimodel's E1 and E2 calls by part)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))

import build  # noqa: E402
import text_workloads  # noqa: E402
import workloads  # noqa: E402
from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from static_server import CONTENT_SECURITY_POLICY, Server, StaticHandler, start_in_thread  # noqa: E402

SITE = ROOT / ".cache" / "bench-site"
ORT_DIR = ROOT / "node_modules" / "onnxruntime-web" / "dist"
ORT_FILES = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]
# Cross-origin isolation: 5 µs timers instead of 100 µs, and SharedArrayBuffer for ORT threads.
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}

TARGETS = {  # workload: (unit, target description, check(minimodel, ort) -> bool)
    "W1": ("µs/call", "<= 3 µs", lambda m, o: m <= 3.0),
    "W2": ("ms/batch", "<= onnxruntime-web (1 thread)", lambda m, o: m <= o),
    "W3": ("µs/call", "<= 4 µs", lambda m, o: m <= 4.0),
    "W4": ("ms/query", "<= 10 ms", lambda m, o: m <= 10.0),
    "W4 k=100": ("ms/query", "(reported)", lambda m, o: True),
    "W5 first": ("s", "<= 2.0x onnxruntime-web", lambda m, o: m <= 2.0 * o),
    "W5 repeat": ("s", "<= onnxruntime-web", lambda m, o: m <= o),
}
SCALE = {"µs/call": 1e3, "ms/batch": 1.0, "ms/query": 1.0, "s": 1e-3, "ms/call": 1.0, "ms/passage": 1.0}  # from ms

# The text-embedding workloads: minimodel against transformers.js with its fp32 model, its
# int8 "q8" one (weight-only int8, bench/minilm_q8.py) and, for comparison, the "int8" one
# its own quantize script makes (dynamic int8, much less accurate: no target).
# Targets: minimodel's time / the peer's time at most this ratio (None: reported only).
TEXT_CONTENDERS = ["minimodel", "tjs-fp32", "tjs-q8", "tjs-int8"]
TEXT_LABELS = {"minimodel": "minimodel", "tjs-fp32": "transformers.js fp32", "tjs-q8": "transformers.js q8",
               "tjs-int8": "transformers.js int8 (dynamic)"}
TEXT_TARGETS = {  # workload: (unit, {peer: max ratio})
    "E1": ("ms/call", {"tjs-fp32": 0.67, "tjs-q8": 1.0, "tjs-int8": None}),
    "E2": ("ms/passage", {"tjs-fp32": 0.67, "tjs-q8": 1.0, "tjs-int8": None}),
    "E3": ("s", {"tjs-fp32": 1.0, "tjs-q8": 1.0, "tjs-int8": None}),
}
GEMM_SHAPE = (1024, 384, 1536)  # M x K by N x K: the intermediate layer of 1024 tokens


# transformers.js (with its default env.useWasmCache) fetches onnxruntime-web's .mjs, edits
# it and imports it from a blob: URL, which the site's strict policy refuses: the pages
# that load it get the same policy plus blob: scripts (the minimodel-only pages keep it).
# With threads (text.html?threads=2) it also starts its thread workers from that blob: URL,
# hence blob: workers too; without them the page waits forever for threads that never start.
TJS_PAGES = ("/bench/text.html", "/bench/cold-text-tjs.html")
TJS_CSP = (CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' blob:")
           .replace("worker-src 'self'", "worker-src 'self' blob:"))
assert TJS_CSP != CONTENT_SECURITY_POLICY


class CountingHandler(StaticHandler):
    """The project's static handler, noting the body bytes of every response it sends."""

    def end_headers(self) -> None:
        if self.path.split("?")[0] in TJS_PAGES:
            self.csp = TJS_CSP
        super().end_headers()

    def copyfile(self, source, outputfile) -> None:  # noqa: ANN001
        super().copyfile(source, outputfile)
        self.server.note(self.path, os.fstat(source.fileno()).st_size, 200)

    def send_error(self, code, message=None, explain=None) -> None:  # noqa: ANN001
        self.server.note(self.path, 0, code)
        super().send_error(code, message, explain)


class CountingServer(Server):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.log: list[tuple[str, int, int]] = []

    def note(self, path: str, size: int, status: int) -> None:
        with self.lock:
            self.log.append((path, size, status))

    def take(self) -> list[tuple[str, int, int]]:
        """The (path, body bytes, status) sent since the last take()."""
        with self.lock:
            log, self.log = self.log, []
        return log


def start_server(root: Path) -> tuple[CountingServer, str]:
    return start_in_thread(root, extra_headers=ISOLATION, handler_class=CountingHandler, server_class=CountingServer)


def assemble_site(parts: str, log) -> dict:
    build.build()
    if SITE.exists():
        shutil.rmtree(SITE)
    shutil.copytree(build.DIST, SITE)
    shutil.copytree(ROOT / "bench" / "site", SITE / "bench")
    (SITE / "ort").mkdir()
    for name in ORT_FILES:
        shutil.copy2(ORT_DIR / name, SITE / "ort" / name)
    (SITE / "models").mkdir()
    compile_peak(SITE / "bench")
    return text_workloads.assemble(SITE, log) if "E" in parts or "P" in parts else {}


def compile_peak(folder: Path) -> None:
    """bench/peak.c as peak_relaxed.wasm (clang-19) and peak_simd128.wasm (clang 14)."""
    common = ["--target=wasm32", "-O3", "-msimd128", "-nostdlib", "-Wl,--no-entry", "-Wl,--export=peak"]
    for name, cc, extra in (("relaxed", "clang-19", ["-mrelaxed-simd", "-DRELAXED"]), ("simd128", "clang", [])):
        if not shutil.which(cc):
            raise SystemExit(f"bench: {cc} is needed to compile bench/peak.c (./dev.sh test installs it)")
        subprocess.run([cc, *common, *extra, "-o", str(folder / f"peak_{name}.wasm"), str(ROOT / "bench" / "peak.c")],
                       check=True)


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "runs": values}


# Every step (a load, one round) takes seconds, or a few minutes for the slowest plain-JS
# rounds; a step that takes this long is stuck (a blocked worker, a peer waiting for threads
# that never start): fail with its name rather than hang.
STEP_TIMEOUT_MS = 300_000


def open_bench_page(browser, url: str, path: str, ready: str, log, listener=None):  # noqa: ANN001, ANN201
    """A new browser context and page at `path` of the bench site, once `window[ready]` is
    true; cross-origin isolated (checked), page errors and console errors logged, every
    step timed out. Returns (context, page)."""
    context = browser.new_context()
    if listener is not None:
        context.on("request", listener)
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.on("pageerror", lambda e: log(f"page error: {e}"))
    page.on("console", lambda m: m.type == "error" and log(f"console error: {m.text}"))
    page.goto(url + path)
    page.wait_for_function(f"() => window.{ready} === true", timeout=120_000)
    assert page.evaluate("crossOriginIsolated"), "the benchmark page should be cross-origin isolated"
    return context, page


def run_browser(url: str, quick: bool, refs, log) -> tuple[dict, dict]:
    """W1-W6 in Chromium."""
    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, dict]] = {}
    cold: dict[str, dict[str, list[float]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context, page = open_bench_page(browser, url, "bench/bench.html", "benchReady", log)
        for workload in ["W1", "W2", "W3", "W4", "W4 k=100"]:
            for contender in ["minimodel", "js", "ort"]:
                if quick and contender == "js" and workload in ("W2", "W4", "W4 k=100"):
                    continue
                log(f"{workload} {contender} ...")
                r = page.evaluate("([w, c]) => window.bench(w, c)", [workload, contender])
                workloads.check_all(f"{contender} {workload}", r.pop("outputs"), refs)
                results.setdefault(workload, {})[contender] = r
        log("W6 worker: 1000 concurrent predict calls, batching on / off / sequential ...")
        for mode, r in page.evaluate("() => window.benchWorker()").items():
            workloads.check_all(f"worker {mode}", r.pop("outputs"), refs)
            results.setdefault("W6", {})[mode] = r
        context.close()

        # onnxruntime-web with 2 threads, for the search workloads.
        context, page = open_bench_page(browser, url, "bench/bench.html?threads=2", "benchReady", log)
        for workload in ["W4", "W4 k=100"]:
            log(f"{workload} ort (2 threads) ...")
            r = page.evaluate("(w) => window.bench(w, 'ort')", workload)
            workloads.check_all(f"ort-2-threads {workload}", r.pop("outputs"), refs)
            results[workload]["ort2"] = r
        context.close()

        browser.close()

        # W5: each first visit in a new browser profile (empty disk cache), then a repeat
        # visit in the same profile, as a returning user would have it.
        visits = 2 if quick else 5
        for name, page_name, expected in [("minimodel", "cold-minimodel.html", 0.64), ("ort", "cold-ort.html", None)]:
            first, repeat = [], []
            for _ in range(visits):
                with tempfile.TemporaryDirectory() as profile:
                    context = p.chromium.launch_persistent_context(
                        profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                    )
                    context.pages[0].goto("about:blank")  # a running browser, as a visitor has
                    for attempt in range(2):
                        page = context.new_page()
                        page.goto(url + "bench/" + page_name)
                        page.wait_for_function("() => window.coldResult !== undefined", timeout=120_000)
                        result = page.evaluate("window.coldResult")
                        if expected is not None and abs(result["value"] - expected) > 1e-5:
                            raise AssertionError(f"{name} cold start computed {result['value']}, expected {expected}")
                        (first if attempt == 0 else repeat).append(result["ms"])
                        # A later visit: Chromium writes its cache of compiled wasm a few
                        # seconds after the code is optimised, not at once.
                        time.sleep(5)
                        page.close()
                    context.close()
            log(f"W5 {name}: first {[round(v) for v in first]} ms, repeat {[round(v) for v in repeat]} ms")
            cold[name] = {"first": first, "repeat": repeat}
    for name, runs in cold.items():
        for kind in ("first", "repeat"):
            results.setdefault(f"W5 {kind}", {})[name] = {"median": statistics.median(runs[kind]), "min": min(runs[kind])}
    return results, cold


# The "every core" part (P): minimodel's worker pool against onnxruntime-web and
# transformers.js with 2 threads. Each row: (label, unit, minimodel's key, peer's key,
# max ratio of minimodel's time to the peer's).
POOL_TARGETS = [
    ("W2, 2 workers vs onnxruntime-web 2 threads", "ms/batch", ("W2", "2w"), ("W2", "ort2"), 0.75),
    ("W2, 1 worker: relaxed SIMD vs SIMD128 (at least 1.3x faster)", "ms/batch", ("W2", "1w"), ("W2", "1w-simd128"), 1 / 1.3),
    ("W4, 2 workers vs onnxruntime-web 2 threads", "ms/query", ("W4", "2w"), ("W4", "ort2"), 0.5),
    ("E2, 2 workers vs transformers.js fp32 2 threads", "ms/passage", ("E2", "minimodel-2w"), ("E2", "tjs-fp32"), 0.67),
    ("E2, 2 workers vs transformers.js q8 2 threads", "ms/passage", ("E2", "minimodel-2w"), ("E2", "tjs-q8"), None),
]
POOL_TEXT_CONTENDERS = ["minimodel-1w", "minimodel-2w", "tjs-fp32", "tjs-q8"]
# Idle time before each timed round of P: onnxruntime-web's threads keep spinning for 20-40 ms
# after a run (measured: a 2-worker W2 call right after one of its rounds took 31 ms, 21 ms
# with 100 ms between them), which took a core from whichever contender came next.
POOL_IDLE_MS = 100


def run_pool(url: str, quick: bool, refs, log) -> dict:
    """P in Chromium: W2 and W4 through createWorker({ workers }) and onnxruntime-web with
    2 threads; E2 through two workers and transformers.js with 2 threads; the FMA peak of
    one and two cores (bench/peak.c) to set the GFLOP/s against."""
    from playwright.sync_api import sync_playwright

    out: dict = {"W2": {}, "W4": {}, "E2": {}, "E2 ms/call": {}, "peak": {}, "checks": {}}
    t = text_workloads.texts()
    outside, listener = outside_requests(url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context, page = open_bench_page(browser, url, "bench/bench.html?threads=2", "benchReady", log, listener)
        for kind in ("relaxed", "simd128"):
            for threads in (1, 2):
                out["peak"][f"{kind} {threads}"] = page.evaluate("([b, n]) => window.fmaPeak(b, n)", [kind, threads])
        log("FMA peak, GFLOP/s: " + ", ".join(f"{k} thread(s) {v:.1f}" for k, v in out["peak"].items()))
        # (key, how): "ort" is onnxruntime-web with the page's 2 threads.
        contenders = {"W2": [("ort2", "ort"), ("1w-simd128", {"workers": 1, "kernels": "simd128"}),
                             ("1w", {"workers": 1, "kernels": "auto"}), ("2w", {"workers": 2, "kernels": "auto"})],
                      "W4": [("ort2", "ort"), ("1w", {"workers": 1, "kernels": "auto"}),
                             ("2w", {"workers": 2, "kernels": "auto"})]}
        for workload, keys in contenders.items():
            for key, how in keys:
                log(f"{workload} loading {key} ...")
                r = page.evaluate("([id, w, how]) => window.poolLoad(id, w, how)", [key, workload, how])
                workloads.check_all(f"{key} {workload}", r["outputs"], refs)
                if how != "ort":
                    expected = "simd128" if how["kernels"] == "simd128" else "relaxed-simd"
                    assert r["kernelBuild"] == expected, f"{workload} {key} ran {r['kernelBuild']}, not {expected}"
            rounds = {"W2": 5 if quick else 15, "W4": 10 if quick else 30}[workload]
            log(f"{workload}: {rounds} rounds, contenders interleaved ...")
            times: dict[str, list[float]] = {key: [] for key, _ in keys}
            for r in range(rounds):
                shift = r % len(keys)
                for key, _ in keys[shift:] + keys[:shift]:
                    page.wait_for_timeout(POOL_IDLE_MS)
                    times[key].append(page.evaluate("(id) => window.poolRound(id)", key))
            for key, _ in keys:
                page.evaluate("(id) => window.poolRelease(id)", key)
                out[workload][key] = summary(times[key])
        context.close()

        context, page = open_bench_page(browser, url, "bench/text.html?threads=2", "textReady", log, listener)
        times: dict[str, list[float]] = {c: [] for c in POOL_TEXT_CONTENDERS}
        for c in POOL_TEXT_CONTENDERS:
            log(f"E2 loading {c} ...")
            page.evaluate("(c) => window.textLoad(c)", c)
            got = page.evaluate("(c) => window.textOutput(c, 'E2')", c)
            bound = text_workloads.MIN_COSINE[c if c.startswith("tjs") else "minimodel"]
            out["checks"][c] = text_workloads.check(f"{c} E2 (P)", got, t["e2"]["refs"], bound)
        rounds = 3 if quick else 7
        log(f"E2: {rounds} rounds, 2 threads / workers, contenders interleaved ...")
        for r in range(rounds):
            shift = r % len(POOL_TEXT_CONTENDERS)
            for c in POOL_TEXT_CONTENDERS[shift:] + POOL_TEXT_CONTENDERS[:shift]:
                page.wait_for_timeout(POOL_IDLE_MS)
                times[c].append(page.evaluate("([c, w, n]) => window.textRound(c, w, n)", [c, "E2", 1]))
        for c in POOL_TEXT_CONTENDERS:
            page.evaluate("(c) => window.textRelease(c)", c)
            out["E2"][c] = summary([x / len(t["e2"]["texts"]) for x in times[c]])
            out["E2 ms/call"][c] = summary(times[c])
        context.close()
        browser.close()
    if outside:
        raise AssertionError(f"requests outside the bench server: {sorted(set(outside))[:10]}")
    return out


def pool_table(pool: dict, e2_tokens: list[int]) -> str:
    lines = ["| comparison | unit | minimodel | peer | ratio | target | met |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for label, unit, (w, mine), (w2, peer), limit in POOL_TARGETS:
        m, o = pool[w][mine], pool[w2][peer]
        ratio = m["median"] / o["median"]
        cell = lambda r: f"{fmt(r['median'], unit)} (min {fmt(r['min'], unit)})"  # noqa: E731
        lines.append(f"| {label} | {unit} | {cell(m)} | {cell(o)} | {ratio:.2f}x | "
                     + ("(reported) | - |" if limit is None else f"<= {limit:.2f}x | {'yes' if ratio <= limit else 'no'} |"))
    w2_flops = 2 * 1024 * (784 * 256 + 256 * 10)
    e2_flops = text_workloads.encoder_flops(e2_tokens)
    peak = pool["peak"]
    lines += ["", "GFLOP/s (medians) against the measured peak of the same instruction mix "
              "(bench/peak.c: 12 independent multiply-add chains per core, in 1 or 2 workers at once):", "",
              "| | 1 worker | 2 workers |", "| --- | --- | --- |",
              f"| peak, relaxed SIMD (f32x4.relaxed_madd) | {peak['relaxed 1']:.1f} | {peak['relaxed 2']:.1f} |",
              f"| peak, SIMD128 (mul + add) | {peak['simd128 1']:.1f} | {peak['simd128 2']:.1f} |"]
    for label, flops, ones, twos in (("W2 predictBatch (relaxed SIMD)", w2_flops, pool["W2"]["1w"], pool["W2"]["2w"]),
                                     ("E2 embed, encoder FLOPs (relaxed SIMD)", e2_flops, pool["E2 ms/call"]["minimodel-1w"],
                                      pool["E2 ms/call"]["minimodel-2w"])):
        r1, r2 = flops / (ones["median"] * 1e-3) / 1e9, flops / (twos["median"] * 1e-3) / 1e9
        lines.append(f"| {label} | {r1:.1f} ({r1 / peak['relaxed 1']:.0%} of peak) | {r2:.1f} ({r2 / peak['relaxed 2']:.0%} of peak) |")
    w2s = pool["W2"]["1w-simd128"]["median"]
    r = w2_flops / (w2s * 1e-3) / 1e9
    lines.append(f"| W2 predictBatch (SIMD128) | {r:.1f} ({r / peak['simd128 1']:.0%} of peak) | - |")
    return "\n".join(lines)


def outside_requests(url: str):
    """A request listener noting every URL not on the bench server (there must be none)."""
    seen: list[str] = []

    def listener(request) -> None:  # noqa: ANN001
        if not request.url.startswith((url, "data:", "blob:")):
            seen.append(request.url)

    return seen, listener


def gemm_peak(page, m: int, k: int, n: int) -> dict:  # noqa: ANN001
    gemm = page.evaluate("([m, k, n]) => window.gemmPeak(m, k, n, 3, 10)", [m, k, n])
    flops = text_workloads.gemm_flops(m, k, n)
    rates = [flops / (ms * 1e-3) / 1e9 for ms in gemm["perCall"]]
    return {"shape": [m, k, n], "kernel_build": gemm["kernelBuild"], "ms": summary(gemm["perCall"]),
            "gflops_median": statistics.median(rates), "gflops_best": max(rates)}


def run_text(url: str, quick: bool, server: CountingServer, log) -> dict:
    """E1-E3 in Chromium: every contender checked against sentence-transformers' vectors
    first; E1 and E2 rounds interleaved across contenders (the machine is noisy)."""
    from playwright.sync_api import sync_playwright

    t = text_workloads.texts()
    refs = {"E1": t["e1"]["ref"], "E2": t["e2"]["refs"]}
    e1_calls, e1_rounds = (10, 5) if quick else (20, 15)
    e2_rounds = 3 if quick else 7
    out: dict = {"checks": {}, "load_ms": {}, "texts": {"E1": t["e1"]["text"], "E1 tokens": t["e1"]["tokens"],
                                                         "E2 golden indices": t["e2"]["golden_indices"],
                                                         "E2 tokens": t["e2"]["tokens"]}}
    outside, listener = outside_requests(url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context, page = open_bench_page(browser, url, "bench/text.html", "textReady", log, listener)
        for c in TEXT_CONTENDERS:
            out["load_ms"][c] = page.evaluate("(c) => window.textLoad(c)", c)
            for w in ("E1", "E2"):
                got = page.evaluate("([c, w]) => window.textOutput(c, w)", [c, w])
                worst = text_workloads.check(f"{c} {w}", got, refs[w], text_workloads.MIN_COSINE[c])
                out["checks"][f"{c} {w}"] = worst
            log(f"{c}: loaded in {out['load_ms'][c]:.0f} ms; min cosine with sentence-transformers "
                f"E1 {out['checks'][f'{c} E1']:.6f}, E2 {out['checks'][f'{c} E2']:.6f}")
            page.evaluate("([c, n]) => window.textRound(c, 'E1', n)", [c, 5])  # warm up
        times: dict[str, dict[str, list[float]]] = {w: {c: [] for c in TEXT_CONTENDERS} for w in ("E1", "E2")}
        for w, calls, rounds in (("E1", e1_calls, e1_rounds), ("E2", 1, e2_rounds)):
            log(f"{w}: {rounds} rounds of {calls} call(s), contenders interleaved ...")
            for r in range(rounds):
                shift = r % len(TEXT_CONTENDERS)
                order = TEXT_CONTENDERS[shift:] + TEXT_CONTENDERS[:shift]
                for c in order:
                    times[w][c].append(page.evaluate("([c, w, n]) => window.textRound(c, w, n)", [c, w, calls]))
        for c in TEXT_CONTENDERS:
            page.evaluate("(c) => window.textRelease(c)", c)
        out["E1"] = {c: summary(v) for c, v in times["E1"].items()}
        out["E2"] = {c: summary([x / len(t["e2"]["texts"]) for x in v]) for c, v in times["E2"].items()}
        out["E2 ms/call"] = {c: summary(v) for c, v in times["E2"].items()}

        m, k, n = GEMM_SHAPE
        log(f"GEMM kernel alone: {m}x{k} by {n}x{k}, 10 rounds of 3 ...")
        out["gemm"] = gemm_peak(page, m, k, n)
        out["gemm K=1536"] = gemm_peak(page, m, n, k)  # the output layer's shape, for comparison
        log("profiling minimodel's E1 and E2 calls ...")
        for w, calls in (("E1", 5 if quick else 15), ("E2", 1 if quick else 3)):
            runs = page.evaluate("([w, n]) => window.profileMinimodel(w, n)", [w, calls])
            # Per part, the median over the calls (the machine is noisy).
            names = runs[0]["parts"]
            out[f"profile {w}"] = {
                "calls": calls, "totalMs": statistics.median(r["totalMs"] for r in runs),
                "parts": {k: [statistics.median(r["parts"][k][0] for r in runs), *names[k][1:]] for k in names},
            }
        context.close()
        browser.close()

        # E3: a new browser profile for every visit (empty HTTP cache, Cache Storage and
        # compiled-wasm cache), navigation to the first embedding; contenders take turns.
        visits = 2 if quick else 3
        pages = {"minimodel": "cold-text-minimodel.html?", "tjs-fp32": "cold-text-tjs.html?dtype=fp32&",
                 "tjs-q8": "cold-text-tjs.html?dtype=q8&", "tjs-int8": "cold-text-tjs.html?dtype=int8&"}
        cold: dict[str, list[float]] = {c: [] for c in TEXT_CONTENDERS}
        downloads: dict[str, list[dict]] = {c: [] for c in TEXT_CONTENDERS}
        marks: dict[str, list[dict]] = {c: [] for c in TEXT_CONTENDERS}
        for visit in range(visits):
            for c in TEXT_CONTENDERS:
                with tempfile.TemporaryDirectory() as profile:
                    context = p.chromium.launch_persistent_context(
                        profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                    )
                    context.on("request", listener)
                    context.pages[0].goto("about:blank")  # a running browser, as a visitor has
                    server.take()
                    page = context.new_page()
                    page.goto(url + "bench/" + pages[c] + "text=" + quote(t["e1"]["text"]))
                    page.wait_for_function("() => window.coldResult !== undefined", timeout=180_000)
                    result = page.evaluate("window.coldResult")
                    text_workloads.check(f"{c} E3", result["vector"], refs["E1"], text_workloads.MIN_COSINE[c])
                    cold[c].append(result["ms"])
                    marks[c].append(result["marks"])
                    sent = server.take()
                    downloads[c].append({"bytes": sum(b for _, b, _ in sent), "files": len(sent),
                                         "errors": sorted({f"{st} {path}" for path, _, st in sent if st != 200}),
                                         "largest": sorted(((b, path) for path, b, _ in sent), reverse=True)[:5]})
                    context.close()
            log(f"E3 visit {visit + 1}: " + ", ".join(f"{c} {cold[c][-1]:.0f} ms ({downloads[c][-1]['bytes']:,} bytes)"
                                                      for c in TEXT_CONTENDERS))
        out["E3"] = {c: summary(v) for c, v in cold.items()}
        out["E3 marks"] = marks
        out["E3 downloads"] = downloads
    if outside:
        raise AssertionError(f"requests outside the bench server: {sorted(set(outside))[:10]}")
    out["outside_requests"] = 0
    return out


def fmt(value_ms: float | None, unit: str) -> str:
    if value_ms is None:
        return "-"
    v = value_ms * SCALE[unit]
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


def table(results: dict) -> str:
    lines = [
        "| workload | unit | minimodel | plain JS | onnxruntime-web 1T | ORT 2T | numpy (CPython) | minimodel vs ORT 1T | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for workload, (unit, target, ok) in TARGETS.items():
        row = results.get(workload, {})
        get = lambda c, k="median": row.get(c, {}).get(k)  # noqa: E731
        cell = lambda c: "-" if get(c) is None else f"{fmt(get(c), unit)} (min {fmt(get(c, 'min'), unit)})"  # noqa: E731
        m, o = get("minimodel"), get("ort")
        ratio = f"{o / m:.2f}x faster" if m and o and o >= m else (f"{m / o:.2f}x slower" if m and o else "-")
        met = "yes" if m is not None and ok(m * SCALE[unit], (o or 0) * SCALE[unit]) else "no"
        lines.append(f"| {workload} | {unit} | {cell('minimodel')} | {cell('js')} | {cell('ort')} | {cell('ort2')} | {cell('numpy')} | {ratio} | {target} | {met} |")
    return "\n".join(lines)


def worker_table(results: dict) -> str:
    rows = results.get("W6", {})
    if not rows:
        return ""
    rate = lambda mode, k="median": 1000 / (rows[mode][k] / 1000)  # noqa: E731 (ms per 1000 calls -> calls/s)
    lines = [
        "| worker, 1000 predict(128 -> 10) calls | calls/s (median) | best round | messages per round |",
        "| --- | --- | --- | --- |",
    ]
    labels = {
        "batched": "concurrent, batching on (maxBatchSize 64, batchTimeoutMs 0: the defaults)",
        "batched2": "concurrent, batching on (maxBatchSize 64, batchTimeoutMs 2)",
        "unbatched": "concurrent, batching off (maxBatchSize 1)",
        "sequential": "awaited one by one (defaults)",
    }
    for mode, label in labels.items():
        messages = rows[mode]["stats"]["messages"] / 11  # 1 checked + 10 timed rounds (plus set-up)
        lines.append(f"| {label} | {rate(mode):,.0f} | {rate(mode, 'min'):,.0f} | {messages:,.0f} |")
    lines.append("")
    for mode in ("batched", "batched2"):
        ratio = rate(mode) / rate("unbatched")
        lines.append(f"Batching on ({labels[mode].split('(')[1][:-1]}) vs off: {ratio:.1f}x the throughput "
                     f"(target >= 5x: {'met' if ratio >= 5 else 'not met'}).")
    return "\n".join(lines)


def text_table(e: dict) -> str:
    peers = [c for c in TEXT_CONTENDERS if c != "minimodel"]
    head = "| workload | unit | " + " | ".join(TEXT_LABELS[c] for c in TEXT_CONTENDERS)
    rule = "| --- | --- |" + " --- |" * len(TEXT_CONTENDERS)
    for c in peers:
        head += f" | vs {TEXT_LABELS[c].removeprefix('transformers.js ')} | target | met"
        rule += " --- | --- | --- |"
    lines = [head + " |", rule]
    for workload, (unit, targets) in TEXT_TARGETS.items():
        row = e.get(workload)
        if not row:
            continue
        cells = [f"{fmt(row[c]['median'], unit)} (min {fmt(row[c]['min'], unit)})" for c in TEXT_CONTENDERS]
        for peer in peers:
            ratio = row["minimodel"]["median"] / row[peer]["median"]
            limit = targets[peer]
            shown = f"{ratio:.3f}x" if limit is not None and round(ratio, 2) == limit else f"{ratio:.2f}x"
            cells += [shown, "(reported)" if limit is None else f"<= {limit:.2f}x",
                      "-" if limit is None else ("yes" if ratio <= limit else "no")]
        lines.append(f"| {workload} | {unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_notes(e: dict) -> str:
    t = e["texts"]
    n_tokens = sum(t["E2 tokens"])
    flops = text_workloads.encoder_flops(t["E2 tokens"])
    lines = [
        f"E1: one query, {t['E1 tokens']} tokens ({t['E1']!r}); E2: 64 passages of "
        f"{min(t['E2 tokens'])}-{max(t['E2 tokens'])} tokens ({n_tokens:,} in all) as one batch per call; "
        "E3: a new browser profile, navigation to the first embedding of the E1 query.",
        "Min cosine with sentence-transformers' vectors (checked before timing): "
        + ", ".join(f"{TEXT_LABELS[c]} {min(e['checks'][f'{c} E1'], e['checks'][f'{c} E2']):.6f}" for c in TEXT_CONTENDERS)
        + " (bounds " + " / ".join(str(text_workloads.MIN_COSINE[c]) for c in TEXT_CONTENDERS) + ").",
        "",
        f"Encoder FLOPs of E2 (6 layers' matrix products and attention, true token counts): {flops / 1e9:.2f} GFLOP per call.",
    ]
    for c in TEXT_CONTENDERS:
        ms = e["E2 ms/call"][c]
        lines.append(f"- {TEXT_LABELS[c]}: {ms['median']:.0f} ms per call (min {ms['min']:.0f}): "
                     f"{flops / (ms['median'] * 1e-3) / 1e9:.2f} GFLOP/s (best {flops / (ms['min'] * 1e-3) / 1e9:.2f})")
    g = e["gemm"]
    m, k, n = g["shape"]
    mm_rate = flops / (e["E2 ms/call"]["minimodel"]["median"] * 1e-3) / 1e9
    lines.append(f"- the GEMM kernel alone ({g['kernel_build']}, _kernels.active().linear, 10 rounds of 3 products): "
                 f"{m}x{k} by {n}x{k}: {g['ms']['median']:.1f} ms per product, {g['gflops_median']:.2f} GFLOP/s "
                 f"(best {g['gflops_best']:.2f})")
    g2 = e.get("gemm K=1536")
    if g2:
        m2, k2, n2 = g2["shape"]
        lines.append(f"  (and {m2}x{k2} by {n2}x{k2}: {g2['gflops_median']:.2f} GFLOP/s, best {g2['gflops_best']:.2f})")
    lines.append(f"- minimodel's E2 rate / the kernel's ({m}x{k} by {n}x{k}, medians): {mm_rate / g['gflops_median']:.0%}")
    for w in ("E1", "E2"):
        prof = e.get(f"profile {w}")
        if not prof:
            continue
        lines += ["", f"minimodel's {w} call, profiled (medians of {prof['calls']} calls; {prof['totalMs']:.1f} ms per "
                  "call in all, wrappers included):", "",
                  "| part | ms | share | calls | GFLOP/s |", "| --- | --- | --- | --- | --- |"]
        parts = prof["parts"]
        for name, (sec, fl, calls, _rows) in sorted(parts.items(), key=lambda kv: -kv[1][0]):
            rate = f"{fl / sec / 1e9:.2f}" if fl and sec else "-"
            lines.append(f"| {name} | {sec * 1e3:.1f} | {sec * 1e3 / prof['totalMs']:.0%} | {calls} | {rate} |")
        enc = parts.get("encoder (whole, per bucket)", (0, 0, 0, 0))
        tok = parts.get("tokenize", (0, 0, 0, 0))
        rest = prof["totalMs"] - (enc[0] + tok[0]) * 1e3
        lines.append(f"| outside the encoder and the tokenizer (JS/Python bridge, bucketing, pooling, copies) | "
                     f"{rest:.1f} | {rest / prof['totalMs']:.0%} | - | - |")
        if w == "E2":
            lines.append(f"\nEncoder rows (padded tokens) in E2: {enc[3]:,} for {n_tokens:,} true tokens.")
    lines += ["", "First visit (E3): bytes the server sent (the first visit's; every visit's were the same), "
              "and when each stage ended (medians, s after navigation start):", ""]
    for c in TEXT_CONTENDERS:
        d = e["E3 downloads"][c][0]
        largest = ", ".join(f"{path.split('?')[0].rsplit('/', 1)[-1]} {b / 1e6:.1f} MB" for b, path in d["largest"][:3])
        errors = f"; not found: {', '.join(d['errors'])}" if d["errors"] else ""
        same = all(x["bytes"] == d["bytes"] for x in e["E3 downloads"][c])
        stages = ", ".join(f"{k} {statistics.median(m[k] for m in e['E3 marks'][c]) / 1e3:.2f}"
                           for k in e["E3 marks"][c][0])
        lines.append(f"- {TEXT_LABELS[c]}: {d['bytes'] / 1e6:.1f} MB in {d['files']} responses"
                     f"{'' if same else ' (visits differed)'} ({largest}){errors}; {stages}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and visits, skip the slowest plain-JS runs")
    parser.add_argument("--only", choices=["W", "E", "P"],
                        help="only the W workloads (W1-W6), the text ones (E1-E3) or the worker pool's (P)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    parts = args.only or "WEP"
    log = lambda message: print(f"[bench] {message}", flush=True)  # noqa: E731

    started = time.monotonic()
    load_before = os.getloadavg()[0]  # the machine is shared: how busy it was, with the results
    log("building the site and the benchmark data")
    text_info = assemble_site(parts, log)
    if "W" in parts or "P" in parts:
        data = workloads.make_data()
        refs = workloads.references(data)
        workloads.write_data(data, SITE / "data")
        for name, blob in workloads.onnx_models(data).items():
            (SITE / "models" / f"{name}.onnx").write_bytes(blob)
    if "E" in parts or "P" in parts:
        text_workloads.write_data(text_workloads.texts(), SITE / "data")

    server, url = start_server(SITE)
    results, cold, text, pool = {}, {}, {}, {}
    try:
        if "W" in parts:
            results, cold = run_browser(url, args.quick, refs, log)
        if "E" in parts:
            text = run_text(url, args.quick, server, log)
        if "P" in parts:
            pool = run_pool(url, args.quick, refs, log)
    finally:
        server.shutdown()
        server.server_close()
    if "W" in parts:
        log("native numpy in CPython ...")
        for workload, timing in workloads.numpy_timings(data, refs).items():
            results[workload]["numpy"] = {k: v * 1e3 for k, v in timing.items()}  # s -> ms

    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()
    machine = f"{platform.processor() or platform.machine()}, {shutil.os.cpu_count()} cores, {chromium}"
    print()
    load = {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)}
    print(f"Results ({time.strftime('%Y-%m-%d')}, {machine}; 1-minute load average {load['start']} at the start, "
          f"{load['end']} at the end); medians, minimum in brackets:")
    if "W" in parts:
        print()
        print(table(results))
        print()
        print(worker_table(results))
    if "E" in parts:
        v = text_info["versions"]
        print()
        print(f"Text embeddings, all-MiniLM-L6-v2 (transformers.js {v['transformers.js']}, its onnxruntime-web "
              f"{v['onnxruntime-web']}, wasm, 1 thread; q8 = {text_info['q8']['package']}):")
        print()
        print(text_table(text))
        print()
        print(text_notes(text))
    if "P" in parts:
        print()
        print("Every core: minimodel's worker pool (createWorker({ workers })) against onnxruntime-web and "
              "transformers.js with 2 threads (a cross-origin-isolated page):")
        print()
        print(pool_table(pool, text_workloads.texts()["e2"]["tokens"]))

    date = time.strftime("%Y-%m-%d %H:%M")
    record = json.loads(args.json.read_text()) if args.only and args.json.exists() else {}
    record.update({"date": date, "machine": machine, "unit_of_raw_numbers": "ms", "load_average": load})
    record.setdefault("results", {})
    record.setdefault("parts", {})
    if "W" in parts:
        record["results"] = {k: v for k, v in record["results"].items() if not k.startswith("W")} | results
        record["cold_runs_ms"] = cold
        record["parts"]["W"] = date
    if "E" in parts:
        for w in TEXT_TARGETS:
            record["results"][w] = text[w]
        record["results"]["E2 ms/call"] = text["E2 ms/call"]
        record["text"] = {k: v for k, v in text.items() if k not in TEXT_TARGETS and k != "E2 ms/call"} | text_info
        record["parts"]["E"] = date
    if "P" in parts:
        record["pool"] = pool
        record["parts"]["P"] = date
    args.json.write_text(json.dumps(record, indent=2) + "\n")
    log(f"wrote {args.json} ({time.monotonic() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
