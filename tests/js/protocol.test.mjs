// The protocol alone: every kind of error crosses postMessage (structured clone, as a
// real worker does) and comes back as the same class, name, message and Python details.
import assert from "node:assert/strict";
import { test } from "node:test";

import { abortError, decodeError, encodeError, transferablesOf } from "../../web/lib/protocol.js";

/** Encode, clone as postMessage would, decode. */
const roundTrip = (error) => decodeError(structuredClone(encodeError(error)));

function pythonError(Class, name, message, type) {
  const error = new Class(message);
  if (name !== error.name) error.name = name;
  error.pythonType = type;
  error.pythonTraceback = `Traceback (most recent call last):\n  ...\n${type}: ${message}`;
  return error;
}

const CASES = [
  ["TypeError", new TypeError("MiniModel.predict: x must be a Float32Array, a Float64Array or an Array of numbers; received string \"a\"")],
  ["RangeError", new RangeError("MiniModel.predict: x must have length 4 (the model's inputSize); received length 2")],
  ["Error", new Error("MiniModel.predict: this model has been disposed")],
  ["WeightsFileError", pythonError(Error, "WeightsFileError", "FeedForward.load: the weight file cannot be loaded: holds no tensors", "WeightsFileError")],
  ["RangeError from Python", pythonError(RangeError, "RangeError", "EmbeddingIndex.add: vectors[3] is nan; expected a finite number", "ValueError")],
  ["MemoryError", pythonError(RangeError, "RangeError", "X: out of memory: the browser could not give Python more (...)", "MemoryError")],
  ["other Python error", pythonError(Error, "Error", "X: Python raised KeyError: 'a'", "KeyError")],
];

for (const [label, error] of CASES) {
  test(`${label} round-trips`, () => {
    const back = roundTrip(error);
    assert.equal(back.constructor, error.constructor);
    assert.equal(back.name, error.name);
    assert.equal(back.message, error.message);
    assert.equal(back.pythonType, error.pythonType);
    assert.equal(back.pythonTraceback, error.pythonTraceback);
  });
}

test("an AbortError comes back as a DOMException named AbortError", () => {
  const back = roundTrip(abortError(AbortSignal.abort()));
  assert.ok(back instanceof DOMException);
  assert.equal(back.name, "AbortError");
});

test("a thrown non-Error becomes an Error with its text", () => {
  const back = roundTrip("plain string");
  assert.ok(back instanceof Error);
  assert.equal(back.message, "plain string");
});

test("an abort's reason is the signal's own reason when it has one", () => {
  const controller = new AbortController();
  const reason = new Error("stop");
  controller.abort(reason);
  assert.equal(abortError(controller.signal), reason);
});

test("typed arrays in a result are transferred, nothing else", () => {
  const y = new Float32Array(3);
  const found = { indices: new Int32Array(2), scores: new Float32Array(2) };
  assert.deepEqual(transferablesOf(y), [y.buffer]);
  assert.deepEqual(transferablesOf(found), [found.indices.buffer, found.scores.buffer]);
  assert.deepEqual(transferablesOf(0.5), []);
  assert.deepEqual(transferablesOf(null), []);
});
