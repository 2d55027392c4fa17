"""Weight files (.safetensors, .npz): interop with the safetensors package, exact round
trips, and strict refusal of damaged or hostile files."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest

from minimodel import FeedForward, MiniModel, WeightsFileError
from minimodel.weights import read_layers, read_safetensors


def reference(layers, x):
    h = x.astype(np.float64)
    for i, (w, b) in enumerate(layers):
        h = h @ w.astype(np.float64).T + b.astype(np.float64)
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


def random_layers(sizes, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((sizes[i + 1], sizes[i])).astype(dtype), rng.standard_normal(sizes[i + 1]).astype(dtype))
            for i in range(len(sizes) - 1)]


def safetensors_bytes(header: dict, body: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + body


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_file_written_by_the_safetensors_package_loads_and_predicts_the_same(dtype):
    from safetensors.numpy import save

    layers = random_layers([64, 32, 10], seed=1, dtype=dtype)
    data = save({f"fc{i + 1}.{kind}": array for i, layer in enumerate(layers) for kind, array in zip(("weight", "bias"), layer)})
    net = FeedForward.from_safetensors(data)
    assert net.sizes == [64, 32, 10]
    x = np.random.default_rng(2).standard_normal((5, 64)).astype(np.float32)
    as32 = [(w.astype(np.float32), b.astype(np.float32)) for w, b in layers]
    np.testing.assert_allclose(net.predict_batch(x), reference(as32, x), rtol=1e-4, atol=1e-4)


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
    np.testing.assert_allclose(net.predict(x), reference(layers, x[None])[0], rtol=1e-5, atol=1e-5)


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


GOOD = safetensors_bytes(
    {"fc1.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
     "fc1.bias": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]}},
    np.arange(8, dtype="<f4").tobytes(),
)


def entry(dtype="F32", shape=(2, 3), offsets=(0, 24)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


BAD_FILES = [
    (b"", "shorter than its 8-byte header length"),
    (struct.pack("<Q", 2**40) + b"{}", "at most 104,857,600 are accepted"),
    (struct.pack("<Q", 50) + b"{}", "but the file has only 2 after its length"),
    (struct.pack("<Q", 3) + b"{x}", "not valid JSON"),
    (struct.pack("<Q", 2) + b"[]", "must be a JSON object"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "not valid JSON"),
    (safetensors_bytes({}, b""), "holds no tensors"),
    (safetensors_bytes({"fc1.weight": entry(dtype="I64")}, bytes(24)), "dtype 'I64' is not supported"),
    (safetensors_bytes({"fc1.weight": entry(shape=(2, -3))}, bytes(24)), "is not a list of sizes"),
    (safetensors_bytes({"fc1.weight": entry(shape=(2, 3.0))}, bytes(24)), "is not a list of sizes"),
    (safetensors_bytes({"fc1.weight": entry(offsets=(0, 24, 1))}, bytes(24)), "is not [begin, end]"),
    (safetensors_bytes({"fc1.weight": entry(offsets=(8, 32))}, bytes(24)), "lie outside the 24 bytes"),
    (safetensors_bytes({"fc1.weight": entry(offsets=(0, 20))}, bytes(24)), "needs 24 bytes; data_offsets give 20"),
    (safetensors_bytes({"fc1.weight": {"dtype": "F32", "shape": [2, 3]}}, bytes(24)), "exactly dtype, shape and data_offsets"),
    (safetensors_bytes({"fc1.weight": entry(), "fc2.weight": entry(shape=(1, 2), offsets=(16, 24))}, bytes(24)), "overlap"),
    (safetensors_bytes({"fc1.weight": entry(shape=(2, 3))}, np.array([0, 1, np.nan, 0, 0, 0], "<f4").tobytes()), "'fc1.weight': value 2 is not a finite number"),
    (safetensors_bytes({"fc1.weight": entry(dtype="F64", shape=(1, 1), offsets=(0, 8))}, np.array([1e300]).tobytes()), "value 0 is outside the float32 range"),
    (safetensors_bytes({"fc1.weight": entry(shape=(6,))}, bytes(24)), "shape [6] is not [out, in]"),
    (safetensors_bytes({"fc1.bias": entry(shape=(2,), offsets=(0, 8))}, bytes(8)), "has a bias but no 'fc1.weight'"),
    (safetensors_bytes({"fc1.weight": entry(), "fc1.bias": entry(shape=(3,), offsets=(24, 36))}, bytes(36)), "does not match [2] of its weight"),
    (safetensors_bytes({"fc1.weight": entry(), "fc2.weight": entry(shape=(1, 3), offsets=(24, 36))}, bytes(36)), "takes 3 inputs but 'fc1.weight' gives 2 outputs"),
    (safetensors_bytes({"weights": entry()}, bytes(24)), "expected names like 'fc1.weight'"),
    (safetensors_bytes({"__metadata__": {"a": 1}, "fc1.weight": entry()}, bytes(24)), "__metadata__ must map names to strings"),
    (b"PK\x03\x04garbage", "not a readable .npz file"),
]


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
