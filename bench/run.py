#!/usr/bin/env python3
"""The benchmark: minimodel vs plain JS vs onnxruntime-web vs native numpy, one run.

    ./dev.sh bench            (or: .venv/bin/python bench/run.py [--quick] [--json PATH])

Builds the site, serves it with the benchmark pages on 127.0.0.1, drives headless
Chromium, checks every contender's output against a float64 numpy reference before
timing it, prints a table of medians (and minimums) with ratios from this same run, and
writes the numbers to bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import tempfile
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))

import build  # noqa: E402
import workloads  # noqa: E402
from static_server import start_in_thread  # noqa: E402

SITE = ROOT / ".cache" / "bench-site"
ORT_DIR = ROOT / "node_modules" / "onnxruntime-web" / "dist"
ORT_FILES = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
# Cross-origin isolation: 5 µs timers instead of 100 µs, and SharedArrayBuffer for ORT threads.
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}

TARGETS = {  # workload: (unit, target description, check(minimodel, ort) -> bool)
    "W1": ("µs/call", "<= 3 µs", lambda m, o: m <= 3.0),
    "W2": ("ms/batch", "<= onnxruntime-web (1 thread)", lambda m, o: m <= o),
    "W3": ("µs/call", "<= 4 µs", lambda m, o: m <= 4.0),
    "W4": ("ms/query", "<= 10 ms", lambda m, o: m <= 10.0),
    "W4 k=100": ("ms/query", "(reported)", lambda m, o: True),
    "W5 first": ("s", "<= 1.5 s", lambda m, o: m <= 1.5),
    "W5 repeat": ("s", "<= 0.8 s", lambda m, o: m <= 0.8),
}
SCALE = {"µs/call": 1e3, "ms/batch": 1.0, "ms/query": 1.0, "s": 1e-3}  # from ms


def assemble_site() -> None:
    build.build()
    if SITE.exists():
        shutil.rmtree(SITE)
    shutil.copytree(build.DIST, SITE)
    shutil.copytree(ROOT / "bench" / "site", SITE / "bench")
    (SITE / "ort").mkdir()
    for name in ORT_FILES:
        shutil.copy2(ORT_DIR / name, SITE / "ort" / name)


def run_browser(url: str, quick: bool, refs, log) -> tuple[dict, dict]:
    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, dict]] = {}
    cold: dict[str, dict[str, list[float]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.on("pageerror", lambda e: log(f"page error: {e}"))
        page.goto(url + "bench/bench.html")
        page.wait_for_function("() => window.benchReady === true", timeout=120_000)
        assert page.evaluate("crossOriginIsolated"), "the benchmark page should be cross-origin isolated"
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
        context = browser.new_context()
        page = context.new_page()
        page.goto(url + "bench/bench.html?threads=2")
        page.wait_for_function("() => window.benchReady === true", timeout=120_000)
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
                        profile, executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer visits, skip the slowest plain-JS runs")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    log = lambda message: print(f"[bench] {message}", flush=True)  # noqa: E731

    log("building the site and the benchmark data")
    assemble_site()
    data = workloads.make_data()
    refs = workloads.references(data)
    workloads.write_data(data, SITE / "data")
    (SITE / "models").mkdir()
    for name, blob in workloads.onnx_models(data).items():
        (SITE / "models" / f"{name}.onnx").write_bytes(blob)

    server, url = start_in_thread(SITE, extra_headers=ISOLATION)
    try:
        results, cold = run_browser(url, args.quick, refs, log)
    finally:
        server.shutdown()
        server.server_close()
    log("native numpy in CPython ...")
    for workload, timing in workloads.numpy_timings(data, refs).items():
        results[workload]["numpy"] = {k: v * 1e3 for k, v in timing.items()}  # s -> ms

    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()
    machine = f"{platform.processor() or platform.machine()}, {shutil.os.cpu_count()} cores, {chromium}"
    print()
    print(f"Results ({time.strftime('%Y-%m-%d')}, {machine}); medians, minimum in brackets:")
    print()
    print(table(results))
    print()
    print(worker_table(results))
    args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine,
                                     "unit_of_raw_numbers": "ms", "results": results, "cold_runs_ms": cold}, indent=2) + "\n")
    log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
