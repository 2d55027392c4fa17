"""The trained digit classifier in the page: held-out images, mouse drawings, similar
digits, loading weight files by picker and drag and drop; softmax against numpy."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import open_app
from minimodel import FeedForward, softmax

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def digits_page(browser, base_url):
    context, page, watch = open_app(browser, base_url)
    yield page, watch
    watch.assert_clean()
    context.close()


@pytest.fixture(scope="module")
def cpython_model(dist):
    data = json.loads((dist / "digits-data.json").read_text())
    return FeedForward.from_safetensors((dist / "digits.safetensors").read_bytes()), data


def shown(page):
    return {
        "digit": int(page.get_attribute("#digit-answer", "data-digit")),
        "probabilities": [float(t) for t in page.locator("#digit-chart .bar-value").all_inner_texts()],
        "similar": [int(x) for x in page.eval_on_selector_all("#similar canvas", "els => els.map(e => e.dataset.label)")],
    }


def show_held_out(page, i):
    page.evaluate("(i) => window.demo.digits.showHeldOut(i)", i)
    return shown(page)


def test_held_out_images_get_the_classes_of_the_cpython_model(digits_page, cpython_model):
    page, _ = digits_page
    net, data = cpython_model
    images = np.array(data["test"]["images"], np.float32)
    expected = net.predict_batch(images).argmax(axis=1)
    accuracy = float((expected == np.array(data["test"]["labels"])).mean())
    assert accuracy >= 0.95 and round(accuracy, 4) == data["accuracy"]
    for i in range(0, len(images), 12):  # 30 of the 359 held-out images
        got = show_held_out(page, i)
        assert got["digit"] == expected[i], i
        want = softmax(net.predict(images[i]))
        np.testing.assert_allclose(got["probabilities"], want, atol=6e-4)


def test_similar_digits_are_of_the_predicted_class_for_clear_inputs(digits_page, cpython_model):
    page, _ = digits_page
    net, data = cpython_model
    images = np.array(data["test"]["images"], np.float32)
    clear = [i for i in range(60) if softmax(net.predict(images[i])).max() > 0.99][:10]
    assert len(clear) >= 5
    for i in clear:
        got = show_held_out(page, i)
        assert len(got["similar"]) == 8
        assert sum(label == got["digit"] for label in got["similar"]) >= 7, (i, got)


STROKES = {  # in pad pixels (256 x 256)
    1: [[(128, 30), (128, 226)]],
    0: [[(128 + 60 * math.sin(t / 40 * 2 * math.pi), 128 - 95 * math.cos(t / 40 * 2 * math.pi)) for t in range(41)]],
    7: [[(60, 40), (196, 40), (110, 226)]],
    4: [[(150, 30), (60, 160), (200, 160)], [(160, 90), (160, 226)]],
}


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_digits_drawn_with_the_mouse_are_classified_as_drawn(digits_page, digit):
    page, _ = digits_page
    page.click("#pad-clear")
    page.locator("#pad").scroll_into_view_if_needed()
    box = page.locator("#pad").bounding_box()
    version = page.get_attribute("#digits", "data-version")
    for stroke in STROKES[digit]:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
        page.mouse.up()
    # Each stroke's end classifies what is drawn so far; wait for the last one.
    final = str(int(version) + len(STROKES[digit]))
    page.wait_for_function("(v) => document.getElementById('digits').dataset.version === v", arg=final)
    got = shown(page)
    assert got["digit"] == digit, got
    assert max(got["probabilities"]) == got["probabilities"][digit]


def test_weight_files_by_picker_and_by_drag_and_drop(digits_page, dist):
    page, watch = digits_page

    def wait_info(action):
        version = page.get_attribute("#weights-zone", "data-version")
        action()
        page.wait_for_function("(v) => document.getElementById('weights-zone').dataset.version !== v", arg=version)
        return page.inner_text("#weights-info")

    good = (dist / "digits.safetensors").read_bytes()
    text = wait_info(lambda: page.set_input_files("#weights-file", files=[
        {"name": "digits.safetensors", "mimeType": "application/octet-stream", "buffer": good}]))
    assert text == "digits.safetensors: FeedForward 64 → 32 → 10, 2 layers, 2,410 weights and biases."
    bad = good[:100]
    text = wait_info(lambda: page.set_input_files("#weights-file", files=[
        {"name": "broken.safetensors", "mimeType": "application/octet-stream", "buffer": bad}]))
    assert text.startswith("broken.safetensors cannot be used: FeedForward.load: the weight file cannot be loaded: the header claims")

    def drop(name, data):
        handle = page.evaluate_handle(
            """([name, b64]) => {
              const t = new DataTransfer();
              t.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
              return t;
            }""",
            [name, base64.b64encode(data).decode()],
        )
        page.dispatch_event("#weights-zone", "drop", {"dataTransfer": handle})

    text = wait_info(lambda: drop("dropped.safetensors", FeedForward([5, 4, 3, 2]).save_safetensors()))
    assert text == "dropped.safetensors: FeedForward 5 → 4 → 3 → 2, 3 layers, 47 weights and biases."


def test_softmax_main_thread_and_worker_match_numpy(api):
    logits = [1.0, 2.0, -3.0, 88.0, 89.0, -1e30]
    got = api.evaluate(
        """async (z) => {
          const w = await mm.createWorker();
          const remote = Array.from(await w.softmax(z));
          await w.terminate();
          return { local: Array.from(mm.softmax(new Float64Array(z))), remote };
        }""",
        logits,
    )
    z = np.array(logits, np.float32).astype(np.float64)
    want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(got["local"], want, rtol=1e-6, atol=1e-12)
    assert got["remote"] == got["local"] and sum(got["local"]) == pytest.approx(1)


def test_training_is_deterministic_and_accurate(dist, tmp_path):
    result = subprocess.run([sys.executable, "models/train_digits.py", str(tmp_path)], capture_output=True, text=True,
                            cwd=dist.parent, check=True)
    accuracy = json.loads((dist / "digits-data.json").read_text())["accuracy"]
    assert f"held-out accuracy {accuracy:.4f}" in result.stdout and accuracy >= 0.95
    for name in ("digits.safetensors", "digits-hidden.safetensors", "digits-data.json"):
        assert (tmp_path / name).read_bytes() == (dist / name).read_bytes(), name
    data = json.loads((dist / "digits-data.json").read_text())
    assert len(data["train"]["labels"]) + len(data["test"]["labels"]) == 1797
    assert len(data["test"]["labels"]) == 359
