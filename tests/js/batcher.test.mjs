// The micro-batcher alone, with a fake transport: merging, maxBatchSize, batchTimeoutMs,
// a bad row failing alone, aborts of queued and of sent calls.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Batcher } from "../../web/lib/batcher.js";

/** A batcher whose batches are recorded and answered by `answer(inputs)` (rows doubled). */
function recording({ maxBatchSize = 64, batchTimeoutMs = 0, answer = (inputs) => (i) => inputs[i] * 2 } = {}) {
  const batches = [];
  const aborted = [];
  const batcher = new Batcher({
    maxBatchSize,
    batchTimeoutMs,
    send: async (inputs, onPost, count) => {
      await Promise.resolve(); // posted later, as a message would be
      const sent = inputs();
      if (sent === null) return null;
      onPost(`worker-${batches.length}`);
      batches.push({ sent, count });
      return answer(sent);
    },
    abortRunning: (token) => aborted.push(token),
  });
  return { batcher, batches, aborted };
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

test("calls made in the same task travel as one batch, each gets its own result", async () => {
  const { batcher, batches } = recording();
  const results = await Promise.all([1, 2, 3, 4, 5].map((x) => batcher.push(x)));
  assert.deepEqual(results, [2, 4, 6, 8, 10]);
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0], { sent: [1, 2, 3, 4, 5], count: 5 });
});

test("maxBatchSize splits a burst", async () => {
  const { batcher, batches } = recording({ maxBatchSize: 3 });
  const results = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((x) => batcher.push(x)));
  assert.deepEqual(results, [2, 4, 6, 8, 10, 12, 14]);
  assert.deepEqual(batches.map((b) => b.sent), [[1, 2, 3], [4, 5, 6], [7]]);
});

test("maxBatchSize 1 sends every call alone", async () => {
  const { batcher, batches } = recording({ maxBatchSize: 1 });
  await Promise.all([1, 2, 3].map((x) => batcher.push(x)));
  assert.equal(batches.length, 3);
});

test("batchTimeoutMs 0 does not wait for calls of a later task", async () => {
  const { batcher, batches } = recording();
  const a = batcher.push(1);
  await tick(5);
  const b = batcher.push(2);
  assert.deepEqual([await a, await b], [2, 4]);
  assert.deepEqual(batches.map((x) => x.sent), [[1], [2]]);
});

test("a positive batchTimeoutMs merges calls of later tasks within the window", async () => {
  const { batcher, batches } = recording({ batchTimeoutMs: 40 });
  const a = batcher.push(1);
  await tick(5);
  const b = batcher.push(2);
  assert.deepEqual([await a, await b], [2, 4]);
  assert.deepEqual(batches.map((x) => x.sent), [[1, 2]]);
});

test("a bad row fails alone; the others of its batch succeed", async () => {
  const { batcher } = recording({
    answer: (inputs) => (i) => {
      if (inputs[i] < 0) throw new RangeError(`row ${i} overflows`);
      return inputs[i];
    },
  });
  const settled = await Promise.allSettled([1, -1, 3].map((x) => batcher.push(x)));
  assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal(settled[1].reason.message, "row 1 overflows");
  assert.ok(settled[1].reason instanceof RangeError);
});

test("a failed batch fails every call in it", async () => {
  const batcher = new Batcher({
    maxBatchSize: 8,
    batchTimeoutMs: 0,
    send: async () => {
      throw new Error("the worker stopped");
    },
    abortRunning: () => {},
  });
  const settled = await Promise.allSettled([1, 2].map((x) => batcher.push(x)));
  assert.deepEqual(settled.map((s) => s.reason.message), ["the worker stopped", "the worker stopped"]);
});

test("an aborted queued call leaves its batch at once; the others go on", async () => {
  const { batcher, batches, aborted } = recording();
  const controller = new AbortController();
  const queued = batcher.push(1, controller.signal);
  const sibling = batcher.push(2);
  controller.abort();
  await assert.rejects(queued, { name: "AbortError" });
  assert.equal(await sibling, 4);
  assert.deepEqual(batches.map((b) => b.sent), [[2]]);
  assert.deepEqual(aborted, []); // nothing was running: no worker to replace
});

test("an aborted call that was already sent asks for its computation to be abandoned", async () => {
  let release;
  const aborted = [];
  const batcher = new Batcher({
    maxBatchSize: 8,
    batchTimeoutMs: 0,
    send: async (inputs, onPost) => {
      const sent = inputs();
      onPost("busy-worker");
      await new Promise((resolve) => (release = resolve));
      return (i) => sent[i];
    },
    abortRunning: (token) => aborted.push(token),
  });
  const controller = new AbortController();
  const running = batcher.push(7, controller.signal);
  const other = batcher.push(8);
  await tick();
  controller.abort();
  await assert.rejects(running, { name: "AbortError" });
  assert.deepEqual(aborted, ["busy-worker"]);
  release();
  assert.equal(await other, 8);
});

test("a batch whose every call was aborted sends nothing", async () => {
  const { batcher, batches } = recording();
  const controller = new AbortController();
  const calls = [batcher.push(1, controller.signal), batcher.push(2, controller.signal)];
  controller.abort();
  for (const call of calls) await assert.rejects(call, { name: "AbortError" });
  await tick();
  assert.equal(batches.length, 0);
});

test("rejectWaiting fails the calls that were not sent", async () => {
  const { batcher, batches } = recording({ batchTimeoutMs: 1000 });
  const waiting = batcher.push(1);
  batcher.rejectWaiting(new Error("X.predict: the worker was terminated"));
  await assert.rejects(waiting, { message: "X.predict: the worker was terminated" });
  assert.equal(batches.length, 0);
});
