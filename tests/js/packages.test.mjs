// The PackageSet encoding (web/lib/packages.js) that the startup cache stores and the site
// ships (lib/startup-packages.bin): it round-trips, decodes without copying, and anything
// that is not one is refused with a plain error, never a set with files outside its data.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodePackageSet, encodePackageSet } from "../../web/lib/packages.js";

const SET = {
  packages: [
    { name: "a", fileName: "a-1.whl", files: [["a/x.py", 0, 3], ["a/y.so", 3, 5]], dynlibs: ["a/y.so"] },
    { name: "b", fileName: "b-1.whl", files: [["b/z.txt", 8, 0]], dynlibs: [] },
  ],
  data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
};

/** An encoded set whose header JSON is replaced by `header`. */
function withHeader(header) {
  return encodePackageSet({ packages: header, data: SET.data }).buffer;
}

test("a set round-trips, its data a view of the buffer", () => {
  const buffer = encodePackageSet(SET).buffer;
  const decoded = decodePackageSet(buffer);
  assert.deepEqual(decoded.packages, SET.packages);
  assert.deepEqual(decoded.data, SET.data);
  assert.equal(decoded.data.buffer, buffer);
});

test("bytes that are not a set are refused", () => {
  const whole = encodePackageSet(SET);
  assert.throws(() => decodePackageSet(new ArrayBuffer(0)), /header is cut short/);
  assert.throws(() => decodePackageSet(whole.slice(0, 10).buffer), /header is cut short/);
  assert.throws(() => decodePackageSet(new Uint32Array([0xffffffff]).buffer), /header is cut short/);
  assert.throws(() => decodePackageSet(new Uint32Array([4, 0]).buffer), SyntaxError); // not JSON
});

test("a header whose files reach outside the data, or that lists no packages, is refused", () => {
  const file = (entry) => withHeader([{ ...SET.packages[0], files: [entry] }]);
  for (const entry of [["a/x.py", 0, 9], ["a/x.py", 5, 4], ["a/x.py", -1, 2], ["a/x.py", 0.5, 1], [7, 0, 1], "a/x.py"]) {
    assert.throws(() => decodePackageSet(file(entry)), /files within it/, JSON.stringify(entry));
  }
  assert.throws(() => decodePackageSet(withHeader(null)), /files within it/);
  assert.throws(() => decodePackageSet(withHeader([{ name: "a", files: [] }])), /files within it/);
  assert.deepEqual(decodePackageSet(file(["a/x.py", 0, 8])).packages[0].files, [["a/x.py", 0, 8]]); // the edge fits
});
