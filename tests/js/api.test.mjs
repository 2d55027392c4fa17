// The API table's checks (api.js) where they shape what is sent, not only what is refused.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CLASSES } from "../../web/lib/api.js";

const LIMITS = { maxDim: 16_777_216, maxParameters: 67_108_864, maxValues: 268_435_456 };

test("embed's check hands on the texts as a new Array, as they were when checked", () => {
  const embed = CLASSES.TextEmbedder.methods.embed;
  const texts = ["a", "b"];
  const [checked] = embed.check({ dim: 384 }, [texts], "TextEmbedder.embed", LIMITS);
  assert.notEqual(checked, texts);
  texts[0] = 42; // a later change by the caller does not reach the call
  assert.deepEqual(checked, ["a", "b"]);
  assert.deepEqual(embed.check({ dim: 384 }, ["one"], "w", LIMITS)[0], ["one"]);
  assert.throws(() => embed.check({ dim: 384 }, [["a", 1]], "TextEmbedder.embed", LIMITS),
    { name: "TypeError", message: "TextEmbedder.embed: texts[1] is number 1; expected a string" });
});
