"""The benchmark's workloads: seeded float32 data, float64 references, the ONNX models
for onnxruntime-web (built with the `onnx` package), and native numpy timings."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

SEED = 20261127
W4_ROWS, W4_DIM, W4_K = 100_000, 384, 10
#: Search workloads by name: the k of each (W4 is the original k = 10).
SEARCHES = {"w4": W4_K, "w4k100": 100}


def make_data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    f32 = lambda *shape, scale=1.0: (rng.standard_normal(shape) * scale).astype(np.float32)  # noqa: E731
    data = {
        "w1_x": f32(128), "w1_w": f32(10, 128, scale=0.1), "w1_b": f32(10, scale=0.1),
        "w2_x": f32(1024, 784), "w2_w1": f32(256, 784, scale=784**-0.5), "w2_b1": f32(256, scale=0.1),
        "w2_w2": f32(10, 256, scale=256**-0.5), "w2_b2": f32(10, scale=0.1),
        "w3_a": f32(384), "w3_b": f32(384),
        "w4_rows": f32(W4_ROWS, W4_DIM), "w4_q": f32(W4_DIM),
    }
    data["w3_b"] = (0.5 * data["w3_a"] + data["w3_b"]).astype(np.float32)
    rows64 = data["w4_rows"].astype(np.float64)
    data["w4_unit"] = (rows64 / np.linalg.norm(rows64, axis=1, keepdims=True)).astype(np.float32)
    return data


def references(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """float64 results every contender is checked against before it is timed."""
    f = lambda a: a.astype(np.float64)  # noqa: E731
    w1 = np.maximum(f(d["w1_w"]) @ f(d["w1_x"]) + f(d["w1_b"]), 0)
    h = np.maximum(f(d["w2_x"]) @ f(d["w2_w1"]).T + f(d["w2_b1"]), 0)
    w2 = h @ f(d["w2_w2"]).T + f(d["w2_b2"])
    a, b = f(d["w3_a"]), f(d["w3_b"])
    w3 = np.array([a @ b / np.linalg.norm(a) / np.linalg.norm(b)])
    q = f(d["w4_q"]) / np.linalg.norm(f(d["w4_q"]))
    scores = f(d["w4_unit"]) @ q
    refs = {"w1": w1, "w2": w2, "w3": w3}
    for name, k in SEARCHES.items():
        top = np.argsort(-scores, kind="stable")[:k]
        refs[f"{name}_indices"], refs[f"{name}_scores"] = top.astype(np.float64), scores[top]
    return refs


def check(name: str, got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> None:
    got = np.asarray(got, dtype=np.float64).reshape(want.shape)
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got - want)))
        raise AssertionError(f"{name}: wrong result (max abs error {worst:.3g}); not timing it")


TOLERANCE = {"w1": (1e-5, 1e-5), "w2": (1e-4, 1e-4), "w3": (1e-6, 1e-6),
             **{f"{name}_scores": (1e-5, 1e-5) for name in SEARCHES}}


def check_all(contender: str, outputs: dict[str, list[float]], refs: dict[str, np.ndarray]) -> None:
    for key, (rtol, atol) in TOLERANCE.items():
        if key in outputs:
            check(f"{contender} {key}", np.asarray(outputs[key]), refs[key], rtol, atol)
    for name in SEARCHES:
        if f"{name}_indices" in outputs:
            # Equal-score neighbours may swap; the scores above prove the ranking.
            got = set(int(i) for i in outputs[f"{name}_indices"][:3])
            if got != set(int(i) for i in refs[f"{name}_indices"][:3]):
                raise AssertionError(f"{contender} {name}: wrong top results {sorted(got)}")


def write_data(data: dict[str, np.ndarray], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in data.items():
        (folder / f"{name}.bin").write_bytes(np.ascontiguousarray(array, dtype=np.float32).tobytes())


# --------------------------------------------------------------------------- ONNX models


def onnx_models(d: dict[str, np.ndarray]) -> dict[str, bytes]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def model(nodes, inputs, outputs, initializers) -> bytes:
        graph = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in initializers.items()])
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.checker.check_model(m)
        return m.SerializeToString()

    fl = TensorProto.FLOAT
    tensor = lambda name, shape, t=fl: helper.make_tensor_value_info(name, t, shape)  # noqa: E731
    axes = lambda: np.array([-1], dtype=np.int64)  # noqa: E731
    return {
        "w1": model(
            [helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["y"])],
            [tensor("x", [1, 128])], [tensor("y", [1, 10])], {"W": d["w1_w"], "b": d["w1_b"]},
        ),
        "w2": model(
            [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "W2", "b2"], ["y"], transB=1)],
            [tensor("x", [1024, 784])], [tensor("y", [1024, 10])],
            {"W1": d["w2_w1"], "b1": d["w2_b1"], "W2": d["w2_w2"], "b2": d["w2_b2"]},
        ),
        "w3": model(
            [helper.make_node("Mul", ["a", "b"], ["ab"]), helper.make_node("Mul", ["a", "a"], ["aa"]),
             helper.make_node("Mul", ["b", "b"], ["bb"]),
             helper.make_node("ReduceSum", ["ab", "axes"], ["sab"], keepdims=0),
             helper.make_node("ReduceSum", ["aa", "axes"], ["saa"], keepdims=0),
             helper.make_node("ReduceSum", ["bb", "axes"], ["sbb"], keepdims=0),
             helper.make_node("Mul", ["saa", "sbb"], ["p"]), helper.make_node("Sqrt", ["p"], ["n"]),
             helper.make_node("Div", ["sab", "n"], ["y"])],
            [tensor("a", [384]), tensor("b", [384])], [tensor("y", [])], {"axes": axes()},
        ),
        **{
            name: model(
                [helper.make_node("Mul", ["q", "q"], ["qq"]),
                 helper.make_node("ReduceSum", ["qq", "axes"], ["sq"], keepdims=1),
                 helper.make_node("Sqrt", ["sq"], ["n"]), helper.make_node("Div", ["q", "n"], ["u"]),
                 helper.make_node("MatMul", ["E", "u"], ["s"]),
                 helper.make_node("TopK", ["s", "k"], ["scores", "indices"], largest=1, sorted=1)],
                [tensor("q", [W4_DIM])], [tensor("scores", [k]), tensor("indices", [k], TensorProto.INT64)],
                {"E": d["w4_unit"], "axes": axes(), "k": np.array([k], dtype=np.int64)},
            )
            for name, k in SEARCHES.items()
        },
    }


# --------------------------------------------------------------------------- native numpy


def _time(fn: Callable[[], object], calls: int, rounds: int) -> dict[str, float]:
    per_call = []
    fn()
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call.append((time.perf_counter() - start) / calls)
    return {"median": statistics.median(per_call), "min": min(per_call)}


def numpy_timings(d: dict[str, np.ndarray], refs: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """The same workloads in CPython numpy on this machine (seconds per call)."""
    w1 = lambda: np.maximum(d["w1_w"] @ d["w1_x"] + d["w1_b"], 0)  # noqa: E731
    w2 = lambda: np.maximum(d["w2_x"] @ d["w2_w1"].T + d["w2_b1"], 0) @ d["w2_w2"].T + d["w2_b2"]  # noqa: E731

    def w3():
        a64, b64 = d["w3_a"].astype(np.float64), d["w3_b"].astype(np.float64)
        return np.array([a64 @ b64 / np.sqrt((a64 @ a64) * (b64 @ b64))])

    q = (d["w4_q"] / np.linalg.norm(d["w4_q"])).astype(np.float32)
    unit = d["w4_unit"]

    def search(k):
        scores = unit @ q
        top = np.argpartition(-scores, k)[:k]
        top = top[np.lexsort((top, -scores[top]))]
        return top, scores[top]

    outputs = {"w1": w1(), "w2": w2(), "w3": w3()}
    for name, k in SEARCHES.items():
        outputs[f"{name}_indices"], outputs[f"{name}_scores"] = search(k)
    check_all("numpy", outputs, refs)
    return {
        "W1": _time(w1, 2000, 15), "W2": _time(w2, 1, 10), "W3": _time(w3, 2000, 15),
        "W4": _time(lambda: search(W4_K), 1, 20), "W4 k=100": _time(lambda: search(100), 1, 20),
    }
