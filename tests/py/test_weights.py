"""Weight files (.safetensors, .npz): interop with the safetensors package, exact round
trips, and strict refusal of damaged or hostile files."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from minimodel import FeedForward, MiniModel, WeightsFileError
from minimodel.weights import read_layers, read_safetensors
from references import BAD_FILES, GOOD, random_layers, reference_network, safetensors_bytes


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_file_written_by_the_safetensors_package_loads_and_predicts_the_same(dtype):
    from safetensors.numpy import save

    layers = random_layers([64, 32, 10], seed=1, dtype=dtype)
    data = save({f"fc{i + 1}.{kind}": array for i, layer in enumerate(layers) for kind, array in zip(("weight", "bias"), layer)})
    net = FeedForward.from_safetensors(data)
    assert net.sizes == [64, 32, 10]
    x = np.random.default_rng(2).standard_normal((5, 64)).astype(np.float32)
    as32 = [(w.astype(np.float32), b.astype(np.float32)) for w, b in layers]
    np.testing.assert_allclose(net.predict_batch(x), reference_network(as32, x), rtol=1e-4, atol=1e-4)


def test_round_trip_is_exact_and_readable_by_the_safetensors_package():
    from safetensors.numpy import load

    net = FeedForward([7, 5, 3])
    for i, (w, b) in enumerate(random_layers([7, 5, 3], seed=3)):
        net.load_layer(i, w, b)
    data = net.save_safetensors()
    again = FeedForward.from_safetensors(data)
    for a, b in zip(net.layers, again.layers, strict=True):
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.bias, b.bias)
    theirs = load(data)
    np.testing.assert_array_equal(theirs["fc2.weight"], net.layers[1].weights)
    model = MiniModel(4, 2)
    model.load_weights(np.arange(8), [1, -1])
    np.testing.assert_array_equal(MiniModel.from_safetensors(model.save_safetensors()).predict([1, 1, 1, 1]), model.predict([1, 1, 1, 1]))


def test_layers_follow_the_natural_order_of_their_names():
    layers = random_layers([3] * 12, seed=4)
    tensors = {}
    for i, (w, b) in enumerate(layers):
        tensors[f"layers.{i}.weight"], tensors[f"layers.{i}.bias"] = w, b
    buffer = io.BytesIO()
    np.savez(buffer, **dict(reversed(list(tensors.items()))))
    net = FeedForward.from_npz(buffer.getvalue())
    x = np.ones(3, np.float32)
    np.testing.assert_allclose(net.predict(x), reference_network(layers, x[None])[0], rtol=1e-5, atol=1e-5)


def test_bfloat16_tensors():
    w = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    bits = (w.view(np.uint32) >> 16).astype("<u2")
    data = safetensors_bytes({"fc1.weight": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}, bits.tobytes())
    net = FeedForward.from_safetensors(data)
    np.testing.assert_array_equal(net.layers[0].weights, w)
    assert not net.layers[0].bias.any()


def test_pickled_npz_is_refused():
    buffer = io.BytesIO()
    np.savez(buffer, **{"fc1.weight": np.array([{"evil": 1}], dtype=object)})
    with pytest.raises(WeightsFileError, match="fc1.weight.*pickled objects are never loaded"):
        FeedForward.from_npz(buffer.getvalue())


@pytest.mark.parametrize(("data", "message"), BAD_FILES, ids=[m for _, m in BAD_FILES])
def test_damaged_or_hostile_files_are_refused_with_a_clear_message(data, message):
    with pytest.raises(WeightsFileError) as info:
        read_layers(data)
    assert message in str(info.value)


def test_every_truncation_of_a_good_file_is_refused():
    assert len(read_layers(GOOD)) == 1
    for length in range(len(GOOD)):
        with pytest.raises(WeightsFileError):
            read_layers(GOOD[:length])


def test_random_garbage_never_crashes():
    rng = np.random.default_rng(5)
    for _ in range(300):
        data = rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        if rng.random() < 0.5:
            data = struct.pack("<Q", len(data)) + data
        with pytest.raises(WeightsFileError):
            read_layers(data)


def test_minimodel_needs_exactly_one_layer():
    with pytest.raises(WeightsFileError, match="a MiniModel has one layer; the file has 2"):
        MiniModel.from_safetensors(FeedForward([3, 2, 1]).save_safetensors())
    assert read_safetensors(GOOD)["fc1.bias"].tolist() == [6, 7]


def _reference_json_depth(text: str) -> int:
    """Character by character: the deepest [ or { outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def test_json_nesting_is_measured_outside_strings():
    """The check that keeps json.loads from overflowing Pyodide's stack (a fatal error in
    the browser) must not count brackets in strings, escaped quotes and backslash runs
    included: against a character-by-character scan, on random JSON."""
    import json
    import random

    from minimodel._checks import json_depth

    rng = random.Random(1)
    pieces = ["a", "[", "]", "{", "}", "\\", '"', "\\\\", '\\"', "é"]

    def value(level: int) -> str:
        roll = rng.random()
        if level > rng.randint(0, 9) or roll < 0.3:
            return json.dumps("".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))), ensure_ascii=False)
        if roll < 0.65:
            return "[" + ",".join(value(level + 1) for _ in range(rng.randint(0, 3))) + "]"
        return "{" + ",".join(f'"{k}":' + value(level + 1) for k in range(rng.randint(0, 3))) + "}"

    for _ in range(3000):
        text = value(0)
        assert json_depth(text.encode()) == _reference_json_depth(text), text
    assert json_depth(b"[" * 100_000 + b"]" * 100_000) == 100_000
    assert json_depth(b'["' + b"[" * 1000 + b'"]') == 1
