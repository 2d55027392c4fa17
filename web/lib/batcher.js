// Micro-batching: concurrent calls of one method on one object wait briefly for company
// and travel as one message (one Python call), and each caller gets its own result.
//
// A call waits at most `batchTimeoutMs` (0: until the current task ends, so a burst such
// as Promise.all merges and a lone call gets no added latency) or until `maxBatchSize`
// calls are waiting. An aborted call that is still waiting just leaves its batch; one that
// may already be computing asks for the computation to be abandoned (abortRunning).

import { abortError } from "./protocol.js";

/**
 * @typedef {Object} BatcherOptions
 * @property {number} maxBatchSize
 * @property {number} batchTimeoutMs
 * @property {(inputs: () => any[] | null, onPost: (token: any) => void, count: number) => Promise<((index: number) => any) | null>} send
 *   sends a batch of `count` calls. `inputs()` gives the inputs of the calls still wanted, in order, or null
 *   when none is left; the transport calls it each time it posts the batch (again after a
 *   restart), and calls `onPost(token)` then. Resolves with each call's result by its index
 *   in the last `inputs()` (the function may throw: that call alone fails), or null when
 *   nothing was sent.
 * @property {(token: any) => void} abortRunning  a sent call was aborted: abandon what the
 *   token (from onPost) stands for
 */

/**
 * @typedef {Object} Waiting  one call in a batch
 * @property {any} input
 * @property {(value: any) => void} resolve
 * @property {(error: any) => void} reject
 * @property {boolean} settled
 * @property {any} token  where it was posted (null: still queued)
 * @property {AbortSignal | null} signal
 * @property {(() => void) | null} onAbort
 */

export class Batcher {
  /** @param {BatcherOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {Waiting[]} */
    this.queue = [];
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
  }

  /**
   * Add one call; resolves with its own result.
   * @param {any} input
   * @param {AbortSignal | null} [signal]
   * @returns {Promise<any>}
   */
  push(input, signal = null) {
    return new Promise((resolve, reject) => {
      /** @type {Waiting} */
      const call = { input, resolve, reject, settled: false, token: null, signal, onAbort: null };
      if (signal) {
        call.onAbort = () => {
          if (call.settled) return;
          call.settled = true;
          reject(abortError(signal));
          const queued = this.queue.indexOf(call);
          if (queued >= 0) this.queue.splice(queued, 1);
          else if (call.token !== null) this.options.abortRunning(call.token); // it may be running
        };
        signal.addEventListener("abort", call.onAbort, { once: true });
      }
      this.queue.push(call);
      if (this.queue.length >= this.options.maxBatchSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.batchTimeoutMs);
    });
  }

  /** Send every waiting call now, as one batch. */
  flush() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const calls = this.queue.splice(0);
    if (calls.length === 0) return;
    /** @type {Waiting[]} */
    let sent = [];
    const inputs = () => {
      sent = calls.filter((c) => !c.settled);
      return sent.length ? sent.map((c) => c.input) : null;
    };
    const onPost = (/** @type {any} */ token) => calls.forEach((c) => (c.token = token));
    this.options.send(inputs, onPost, calls.length).then(
      (resultOf) => {
        if (resultOf === null) return;
        sent.forEach((call, i) => {
          if (call.settled) return;
          settle(call);
          try {
            call.resolve(resultOf(i));
          } catch (error) {
            call.reject(error);
          }
        });
      },
      (error) => {
        for (const call of calls) {
          if (call.settled) continue;
          settle(call);
          call.reject(error);
        }
      },
    );
  }

  /**
   * Fail every call still waiting (they were never sent).
   * @param {Error} error
   */
  rejectWaiting(error) {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const call of this.queue.splice(0)) {
      settle(call);
      call.reject(error);
    }
  }
}

/** @param {Waiting} call */
function settle(call) {
  call.settled = true;
  if (call.onAbort && call.signal) call.signal.removeEventListener("abort", call.onAbort);
}
