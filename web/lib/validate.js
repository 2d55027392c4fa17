// Argument checks for the JS API. They run before anything is allocated or sent to
// Python, and each error names the function, the parameter, what was expected and what
// was received: TypeError for the wrong kind of value, RangeError for a wrong size,
// length or value.

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * A short description of a value for error messages ("Int32Array(3)", 'string "8"').
 * @param {unknown} value
 * @returns {string}
 */
export function describe(value) {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "number":
      return `number ${value}`;
    case "string":
      return `string ${JSON.stringify(value.length > 20 ? value.slice(0, 17) + "..." : value)}`;
    case "boolean":
    case "bigint":
      return `${typeof value} ${String(value)}`;
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  if (ArrayBuffer.isView(value)) {
    const view = /** @type {any} */ (value);
    return `${view[Symbol.toStringTag] ?? "DataView"}(${view.length ?? view.byteLength})`;
  }
  if (Array.isArray(value)) return `an Array of length ${value.length}`;
  const name = value.constructor?.name;
  return name && name !== "Object" ? `a ${name} object` : "an object";
}

/**
 * The folder the library's files are served from: `baseURL` (a string or URL, resolved
 * against the page; a missing final "/" is added), or by default this module's own folder.
 * Bundlers that move the module (Vite, webpack) need it: see README "Install from npm".
 * @param {unknown} baseURL
 * @param {string} where
 * @returns {URL}
 */
export function libraryFolder(baseURL, where) {
  if (baseURL === undefined) return new URL("./", MODULE_URL);
  if (typeof baseURL !== "string" && !(baseURL instanceof URL)) {
    throw new TypeError(`${where}: baseURL must be a string or a URL (the folder of the library's files); received ${describe(baseURL)}`);
  }
  const url = new URL(String(baseURL), globalThis.location?.href);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

// This module's URL (not written as new URL("...", import.meta.url), which bundlers rewrite).
const MODULE_URL = import.meta.url;

/**
 * Check a size argument: a positive integer Number no larger than `max`.
 * @param {unknown} value
 * @param {string} name   e.g. "inputSize"
 * @param {string} where  e.g. "new MiniModel"
 * @param {number} max
 * @returns {number}
 */
export function checkSize(value, name, where, max) {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${where}: ${name} must be a positive integer Number; received ${describe(value)}`);
  }
  if (value > max) {
    throw new RangeError(`${where}: ${name} must be at most ${max}; received ${value}`);
  }
  return value;
}

/**
 * Check a numeric vector: a Float32Array, Float64Array or Array of numbers, of the
 * expected length (any length >= 1 when `expected` is null), every value finite and
 * representable as float32. Returns its length. The input is never modified.
 * @param {unknown} value
 * @param {string} name
 * @param {string} where
 * @param {number|null} expected
 * @param {string} [expectedWhy]  why that length, e.g. "the model's inputSize"
 * @returns {number}
 */
export function checkVector(value, name, where, expected, expectedWhy) {
  const tag = ArrayBuffer.isView(value) ? /** @type {any} */ (value)[Symbol.toStringTag] : undefined;
  const isArray = Array.isArray(value);
  if (tag !== "Float32Array" && tag !== "Float64Array" && !isArray) {
    throw new TypeError(
      `${where}: ${name} must be a Float32Array, a Float64Array or an Array of numbers; received ${describe(value)}`,
    );
  }
  const vector = /** @type {ArrayLike<unknown>} */ (value);
  const length = vector.length;
  if (expected !== null && length !== expected) {
    const why = expectedWhy ? ` (${expectedWhy})` : "";
    throw new RangeError(`${where}: ${name} must have length ${expected}${why}; received length ${length}`);
  }
  if (length === 0) {
    throw new RangeError(`${where}: ${name} must have at least 1 element; received an empty ${tag ?? "Array"}`);
  }
  if (tag === "Float32Array") {
    const i = firstNonFinite32(/** @type {Float32Array} */ (value));
    if (i >= 0) throw nonFinite(where, name, i, /** @type {Float32Array} */ (value)[i]);
    return length;
  }
  for (let i = 0; i < length; i++) {
    const v = vector[i];
    if (typeof v !== "number") {
      if (!(i in vector)) {
        throw new TypeError(`${where}: ${name}[${i}] is missing (a sparse Array); expected a number`);
      }
      throw new TypeError(`${where}: ${name}[${i}] is ${describe(v)}; expected a number`);
    }
    if (v - v !== 0) throw nonFinite(where, name, i, v);
    if (v > FLOAT32_MAX || v < -FLOAT32_MAX) {
      // Values just above FLOAT32_MAX still round to it; only true overflow is an error.
      if (!Number.isFinite(Math.fround(v))) {
        throw new RangeError(
          `${where}: ${name}[${i}] = ${v} is outside the float32 range (magnitude at most 3.4028235e+38)`,
        );
      }
    }
  }
  return length;
}

/**
 * The index of the first NaN or infinity of a Float32Array, or -1. It reads the values'
 * bits: a float32 is not finite exactly when its 8 exponent bits are all ones. Eight at a
 * time, on integers (no conversion to double): about twice as fast as testing v - v !== 0
 * value by value (W2's 800,000 inputs: 0.6-1.0 against 1.4-2.1 ms in V8 here), and this
 * scan is on the path of every large call, before its worker starts.
 * @param {Float32Array} values
 * @returns {number}
 */
export function firstNonFinite32(values) {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const e = 0x7f800000;
  const n = bits.length;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    if (((bits[i] & e) === e) || ((bits[i + 1] & e) === e) || ((bits[i + 2] & e) === e) || ((bits[i + 3] & e) === e) ||
        ((bits[i + 4] & e) === e) || ((bits[i + 5] & e) === e) || ((bits[i + 6] & e) === e) || ((bits[i + 7] & e) === e)) break;
  }
  for (; i < n; i++) if ((bits[i] & e) === e) return i;
  return -1;
}

/** @param {string} where @param {string} name @param {number} index @param {number} value */
function nonFinite(where, name, index, value) {
  return new RangeError(`${where}: ${name}[${index}] is ${value}; expected a finite number`);
}

/**
 * Throw if a result overflowed float32 (finite inputs, too large a product): Python
 * leaves +-Infinity or NaN there rather than a silently clamped number.
 * @param {Float32Array} values
 * @param {string} where
 * @param {number} [first]  index of values[0] in the caller's output (for messages)
 */
export function checkFiniteOutput(values, where, first = 0) {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) {
      throw new RangeError(
        `${where}: output[${first + i}] is ${v}: the result overflows float32 (magnitude above 3.4028235e+38); ` +
          "the weights or inputs are too large",
      );
    }
  }
  return values;
}

/**
 * Check the layer sizes of a model: each a positive integer Number up to limits.maxDim,
 * and no layer with more than limits.maxParameters weights. `names` gives the size
 * parameters' names (MiniModel: inputSize, outputSize); otherwise they are sizes[i].
 * @param {unknown[]} values
 * @param {string} where
 * @param {{ maxDim: number, maxParameters: number }} limits
 * @param {string[] | null} [names]
 */
export function checkLayerSizes(values, where, limits, names = null) {
  const sizes = values.map((size, i) => checkSize(size, names ? names[i] : `sizes[${i}]`, where, limits.maxDim));
  for (let i = 0; i + 1 < sizes.length; i++) {
    const count = sizes[i] * sizes[i + 1];
    if (count > limits.maxParameters) {
      throw new RangeError(
        `${where}: a ${sizes[i + 1]} x ${sizes[i]} ${names ? "model" : "layer"} has ${count} weights; ` +
          `at most ${limits.maxParameters} (${(limits.maxParameters * 4) / 2 ** 20} MiB) fit in browser memory`,
      );
    }
  }
}

/**
 * FeedForward's sizes: an Array of at least two layer sizes (see checkLayerSizes).
 * @param {unknown} sizes @param {string} where @param {{ maxDim: number, maxParameters: number }} limits
 */
export function checkFeedForwardSizes(sizes, where, limits) {
  if (!Array.isArray(sizes)) {
    throw new TypeError(`${where}: sizes must be an Array of layer sizes; received ${describe(sizes)}`);
  }
  if (sizes.length < 2) {
    throw new RangeError(`${where}: sizes must list at least 2 sizes (inputs and outputs); received ${sizes.length}`);
  }
  checkLayerSizes(sizes, where, limits);
}
