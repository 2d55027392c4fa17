// What a replacement worker replays, alone.
import assert from "node:assert/strict";
import { test } from "node:test";

import { RestoreLog } from "../../web/lib/restore.js";

const step = (label) => ["call", () => [[label], []]];
const labels = (log) => log.steps().map(([, make]) => make()[0][0]);

test("the object is made first, then its changes in order", () => {
  const log = new RestoreLog(step("create"));
  log.record(null, step("add 1"));
  log.record(null, step("add 2"));
  assert.deepEqual(labels(log), ["create", "add 1", "add 2"]);
});

test("a keyed change replaces the earlier one with its key, and counts as the latest", () => {
  const log = new RestoreLog(step("create"));
  log.record("layer 0", step("layer 0 = A"));
  log.record("layer 1", step("layer 1 = B"));
  log.record("layer 0", step("layer 0 = C"));
  assert.deepEqual(labels(log), ["create", "layer 1 = B", "layer 0 = C"]);
});

test("a thousand reloads of one layer keep one copy", () => {
  const log = new RestoreLog(step("create"));
  for (let i = 0; i < 1000; i++) log.record("weights", step(`weights ${i}`));
  assert.deepEqual(labels(log), ["create", "weights 999"]);
});

test("clear forgets the changes", () => {
  const log = new RestoreLog(step("load"));
  log.record(null, step("add"));
  log.clear();
  assert.deepEqual(labels(log), ["load"]);
});
