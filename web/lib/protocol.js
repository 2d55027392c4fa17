// The one protocol between the page (worker-client.js) and the module worker (worker.js).
//
// Page -> worker:  { id, op, args }            op: a key of the worker's handlers
// Worker -> page:  { id, ok: true, result, state, spent }  or { id, ok: false, error: EncodedError }
//                  spent: the buffers of the call's input vectors, handed back (transferred)
//                  when the method copied them into Python and kept no reference, for the
//                  page to reuse (spare-buffers.js)
//                  { type: "progress", progress }   while init() loads
//                  { type: "fatal", message }       the worker's Python runtime died
// Only plain data and typed arrays cross; typed arrays in a result are transferred.

/**
 * An error as it crosses postMessage: structured clone keeps neither a subclass nor our
 * extra fields, so both sides agree on this shape.
 * @typedef {Object} EncodedError
 * @property {string} name        "TypeError", "RangeError", "Error", "WeightsFileError", "AbortError", ...
 * @property {string} message
 * @property {string} [pythonType]       the Python exception's type, when Python raised it
 * @property {string} [pythonTraceback]  the Python traceback, when Python raised it
 */

/** The built-in error classes that are rebuilt as themselves; any other name is an Error with that name. */
const BUILT_IN = { TypeError, RangeError, Error };

/**
 * @param {unknown} error
 * @returns {EncodedError}
 */
export function encodeError(error) {
  const e = /** @type {any} */ (error);
  /** @type {EncodedError} */
  const encoded = { name: typeof e?.name === "string" ? e.name : "Error", message: e?.message ?? String(error) };
  if (typeof e?.pythonType === "string") encoded.pythonType = e.pythonType;
  if (typeof e?.pythonTraceback === "string") encoded.pythonTraceback = e.pythonTraceback;
  return encoded;
}

/**
 * The error an EncodedError stands for: same class (TypeError, RangeError, Error; an
 * AbortError is a DOMException), same name, message and Python details.
 * @param {EncodedError} data
 * @returns {Error}
 */
export function decodeError(data) {
  if (data.name === "AbortError") return new DOMException(data.message, "AbortError");
  const Class = Object.hasOwn(BUILT_IN, data.name) ? BUILT_IN[/** @type {keyof BUILT_IN} */ (data.name)] : Error;
  /** @type {Error & { pythonType?: string, pythonTraceback?: string }} */
  const error = new Class(data.message);
  if (error.name !== data.name) error.name = data.name; // e.g. WeightsFileError
  if (data.pythonType !== undefined) error.pythonType = data.pythonType;
  if (data.pythonTraceback !== undefined) error.pythonTraceback = data.pythonTraceback;
  return error;
}

/**
 * The buffers of the typed arrays in a result (itself, or the values of a plain object),
 * to transfer instead of copy.
 * @param {unknown} result
 * @returns {Transferable[]}
 */
export function transferablesOf(result) {
  if (ArrayBuffer.isView(result)) return [result.buffer];
  if (result && typeof result === "object") {
    return Object.values(result).filter((v) => ArrayBuffer.isView(v)).map((v) => v.buffer);
  }
  return [];
}

/**
 * The AbortError a signal's abort stands for (its reason, or a fresh AbortError).
 * @param {AbortSignal} signal
 * @returns {any}
 */
export function abortError(signal) {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/**
 * `promise`, or an AbortError as soon as `signal` aborts, whichever comes first.
 * @template T @param {Promise<T>} promise @param {AbortSignal | null} signal
 * @returns {Promise<T>}
 */
export function unlessAborted(promise, signal) {
  // Always a new promise, with or without a signal, so that callers waiting on one
  // promise resume in the order they began to wait (each takes the same steps).
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      promise.catch(() => {}); // settled later, unheard
      return;
    }
    const onAbort = () => reject(abortError(/** @type {AbortSignal} */ (signal)));
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal?.removeEventListener("abort", onAbort));
  });
}
