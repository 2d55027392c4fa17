#!/usr/bin/env python3
"""Train the demo's digit classifier: FeedForward([64, 32, 10]) on scikit-learn's digits.

    python models/train_digits.py OUT_DIR

Deterministic (fixed seeds, float64 arithmetic) and quick (a few seconds). The data set is
the one scikit-learn ships (1,797 8x8 images, intensities 0..16; no download). 20% of it,
chosen by a seeded shuffle, is held out and never trained on. Writes to OUT_DIR:

  digits.safetensors         fc1 [32, 64], fc2 [10, 32]: logits from raw 0..16 pixels
  digits-hidden.safetensors  fc1 alone: with MiniModel's ReLU, the 32-d hidden activations
  digits-data.json           the images and labels of both splits, and the test accuracy

Refuses to write anything if the held-out accuracy is below 95%.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "py"))

from minimodel import FeedForward, MiniModel  # noqa: E402

SEED = 1797
HIDDEN = 32
EPOCHS = 60
BATCH = 32
LEARNING_RATE = 3e-3
MIN_ACCURACY = 0.95


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.data.astype(np.uint8)  # 0..16
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(images))
    test = order[: len(images) // 5]
    train = order[len(images) // 5 :]
    return images[train], labels[train], images[test], labels[test]


def train(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """A 64-32-10 ReLU network, Adam on cross-entropy, in float64."""
    rng = np.random.default_rng(SEED)
    x = x / 16.0
    params = [
        rng.standard_normal((HIDDEN, 64)) * np.sqrt(2 / 64), np.zeros(HIDDEN),
        rng.standard_normal((10, HIDDEN)) * np.sqrt(1 / HIDDEN), np.zeros(10),
    ]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(EPOCHS):
        for start in range(0, len(x), BATCH):
            idx = np.arange(start, min(start + BATCH, len(x)))
            xb, yb = x[idx], y[idx]
            w1, b1, w2, b2 = params
            h_pre = xb @ w1.T + b1
            h = np.maximum(h_pre, 0)
            logits = h @ w2.T + b2
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            g_logits = p / len(yb)
            grads = [None, None, g_logits.T @ h, g_logits.sum(axis=0)]
            g_h = (g_logits @ w2) * (h_pre > 0)
            grads[0], grads[1] = g_h.T @ xb, g_h.sum(axis=0)
            step += 1
            for i, (param, grad) in enumerate(zip(params, grads)):
                moments[i] = 0.9 * moments[i] + 0.1 * grad
                squares[i] = 0.999 * squares[i] + 0.001 * grad * grad
                m_hat = moments[i] / (1 - 0.9**step)
                v_hat = squares[i] / (1 - 0.999**step)
                param -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + 1e-8)
        order = rng.permutation(len(x))
        x, y = x[order], y[order]
    w1, b1, w2, b2 = params
    # Fold the /16 scaling into the first layer: the network takes the data set's 0..16.
    return [((w1 / 16.0).astype(np.float32), b1.astype(np.float32)), (w2.astype(np.float32), b2.astype(np.float32))]


def main(out_dir: str) -> int:
    x_train, y_train, x_test, y_test = load_split()
    layers = train(x_train, y_train)
    net = FeedForward.from_layers(layers)
    predicted = net.predict_batch(x_test.astype(np.float32)).argmax(axis=1)
    accuracy = float((predicted == y_test).mean())
    print(f"held-out accuracy {accuracy:.4f} ({int((predicted == y_test).sum())}/{len(y_test)})")
    if accuracy < MIN_ACCURACY:
        print(f"error: below the required {MIN_ACCURACY:.0%}; nothing written", file=sys.stderr)
        return 1
    hidden = MiniModel._from_layers([layers[0]])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "digits.safetensors").write_bytes(net.save_safetensors())
    (out / "digits-hidden.safetensors").write_bytes(hidden.save_safetensors())
    (out / "digits-data.json").write_text(json.dumps({
        "accuracy": round(accuracy, 4),
        "train": {"images": x_train.tolist(), "labels": y_train.tolist()},
        "test": {"images": x_test.tolist(), "labels": y_test.tolist()},
    }, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
