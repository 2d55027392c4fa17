// The page's connection to one module worker: requests and their answers (protocol.js),
// starting the worker (again after a crash or a replacement), and what happens to the
// calls in flight when a call is aborted, the worker dies or is terminated.
//
// - An aborted call rejects at once; the worker may be busy with it, so it is replaced
//   (terminated, restarted, its objects restored) and the other calls it had are posted
//   again to the new one: nobody else notices.
// - A worker that dies fails the calls it had with an error that says so; the next call
//   starts a new one.
// - terminate() fails everything pending; later calls reject.

import { abortError, decodeError, unlessAborted } from "./protocol.js";
import { keepSpare } from "./spare-buffers.js";

/**
 * The Worker interface this needs (a real Worker, or a fake in the unit tests).
 * @typedef {Object} WorkerLike
 * @property {(message: any, transfer?: Transferable[]) => void} postMessage
 * @property {() => void} terminate
 * @property {((event: { data: any }) => void) | null} onmessage
 * @property {((event: any) => void) | null} onerror
 */

/**
 * What a request posts: `[args, transfer]`, made again each time it is posted (after a
 * restart the arrays of the first post are detached), or null when nothing is left to
 * compute (then the request resolves with null).
 * @typedef {() => ([any[], Transferable[]] | null)} MakeArgs
 */

/**
 * @typedef {Object} Pending
 * @property {number} id
 * @property {string} where
 * @property {string} op
 * @property {MakeArgs} makeArgs
 * @property {(value: any) => void} resolve
 * @property {(error: any) => void} reject
 * @property {WorkerLike | null} worker  the worker it was posted to
 * @property {((worker: WorkerLike) => void) | null} onPost
 * @property {((progress: any) => void) | null} onProgress
 * @property {(() => void) | undefined} [cleanup]
 */

/**
 * How one request travels: its AbortSignal, a callback each time it is posted (with the
 * worker it went to), and one for the progress the worker reports while computing it.
 * @typedef {Object} RequestOptions
 * @property {AbortSignal | null} [signal]
 * @property {((worker: WorkerLike) => void) | null} [onPost]
 * @property {((progress: any) => void) | null} [onProgress]
 */

/**
 * @typedef {Object} TransportOptions
 * @property {() => WorkerLike} spawn  a new worker
 * @property {(transport: Transport, worker: WorkerLike) => Promise<void>} start  what a new
 *   worker must do before taking calls (init, restore the objects), using `requestTo`
 * @property {(progress: any) => void} [onProgress]
 * @property {(error: Error) => void} [onCrash]
 * @property {string} [scriptURL]  the worker's script, named when it cannot start
 */

/** The counters stats() reports. */
export class Counters {
  requests = 0;
  messages = 0;
  batches = 0;
  batchedRequests = 0;
  restarts = 0;
  crashes = 0;
}

export class Transport {
  /** @param {TransportOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {WorkerLike | null} */
    this.worker = null;
    /** @type {Promise<void> | null} */
    this.starting = null;
    /** @type {Map<number, Pending>} */
    this.pending = new Map();
    this.nextId = 1;
    this.terminated = false;
    /** Calls waiting in call() for the worker, and the last one's turn (they go in order). */
    this.waiting = 0;
    /** @type {Promise<void>} */
    this.queueTail = Promise.resolve();
    this.counters = new Counters();
    /** Whether any worker of this transport has answered (else none ever started). */
    this.heardFrom = false;
  }

  /**
   * Start (or restart) the worker if there is none.
   * @param {string} where
   * @returns {Promise<void>}
   */
  ensure(where) {
    if (this.terminated) return Promise.reject(new Error(`${where}: the worker has been terminated`));
    if (this.worker && !this.starting) return Promise.resolve();
    this.starting ??= this.boot().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  /** @private */
  async boot() {
    const worker = this.options.spawn();
    worker.onmessage = ({ data }) => this.onMessage(worker, data);
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.lost(worker, event.message || "the worker script failed");
    };
    this.worker = worker;
    try {
      await this.options.start(this, worker);
    } catch (error) {
      if (this.worker === worker) this.worker = null;
      worker.terminate();
      throw error;
    }
  }

  /** @private @param {WorkerLike} worker @param {any} data */
  onMessage(worker, data) {
    if (worker !== this.worker) return;
    this.heardFrom = true;
    if (data.type === "progress") {
      // A request's own progress (it names the request), or the worker's start-up's.
      if (data.id === undefined) this.options.onProgress?.(data.progress);
      else this.pending.get(data.id)?.onProgress?.(data.progress);
      return;
    }
    if (data.type === "fatal") {
      this.lost(worker, data.message);
      return;
    }
    if (data.spent) keepSpare(data.spent);
    const entry = this.pending.get(data.id);
    if (!entry) return;
    this.settle(entry);
    if (data.ok) entry.resolve({ result: data.result, state: data.state });
    else entry.reject(decodeError(data.error));
  }

  /** @private @param {Pending} entry */
  settle(entry) {
    this.pending.delete(entry.id);
    entry.cleanup?.();
  }

  /**
   * Post one request to `worker` (used by `start` before the worker takes other calls).
   * Resolves with the answer's `{ result, state }`.
   * @param {WorkerLike} worker @param {string} where @param {string} op @param {MakeArgs} makeArgs
   * @param {RequestOptions} [options]
   * @returns {Promise<{ result: any, state?: any }>}
   */
  requestTo(worker, where, op, makeArgs, { signal = null, onPost = null, onProgress = null } = {}) {
    return new Promise((resolve, reject) => {
      /** @type {Pending} */
      const entry = { id: this.nextId++, where, op, makeArgs, resolve, reject, worker, onPost, onProgress };
      if (signal) {
        const onAbort = () => this.abort(entry, signal);
        signal.addEventListener("abort", onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener("abort", onAbort);
      }
      this.pending.set(entry.id, entry);
      this.post(entry, worker);
    });
  }

  /** @private @param {Pending} entry @param {WorkerLike} worker */
  post(entry, worker) {
    const made = entry.makeArgs();
    if (made === null) {
      this.settle(entry); // nothing left to compute (every caller aborted)
      entry.resolve(null);
      return;
    }
    entry.worker = worker;
    this.counters.messages++;
    worker.postMessage({ id: entry.id, op: entry.op, args: made[0] }, made[1]);
    entry.onPost?.(worker);
  }

  /**
   * A call from the API: start the worker if needed, then send. Resolves with `{ result, state }`,
   * or null when makeArgs had nothing left to send.
   * @param {string} where @param {string} op @param {MakeArgs} makeArgs
   * @param {RequestOptions} [options]
   * @returns {Promise<any>}
   */
  async call(where, op, makeArgs, options = {}) {
    const signal = options.signal ?? null;
    // With the worker up and no call waiting for it, post now, before returning: a pool's
    // split call then starts its first worker while it copies the next worker's part
    // (W2's 2-worker call: the first part went out 1-1.5 ms sooner). Otherwise queue
    // behind the calls already waiting, so that calls are posted in the order they were
    // made, even one made in the very microtask the worker becomes ready.
    if (!signal?.aborted && this.ready() && this.waiting === 0) {
      return this.requestTo(/** @type {WorkerLike} */ (this.worker), where, op, makeArgs, options);
    }
    const previous = this.queueTail;
    /** @type {() => void} */
    let release = () => {};
    this.queueTail = new Promise((resolve) => (release = resolve));
    this.waiting++;
    try {
      await unlessAborted(previous, signal); // the calls queued before this one have been posted (or failed)
      for (;;) {
        if (signal?.aborted) throw abortError(signal);
        await unlessAborted(this.ensure(where), signal); // a restart can take seconds: an abort does not wait
        if (signal?.aborted) throw abortError(signal);
        if (this.terminated) throw new Error(`${where}: the worker was terminated`);
        if (this.ready()) return this.requestTo(/** @type {WorkerLike} */ (this.worker), where, op, makeArgs, options);
        // The worker was lost or replaced while this call waited for it: wait for the next one.
      }
    } finally {
      this.waiting--;
      // Not before the calls ahead of this one: an aborted call leaves the queue early,
      // and the call behind it must still go after them.
      previous.then(release);
    }
  }

  /** @private Whether a started worker takes calls now. */
  ready() {
    return this.worker !== null && this.starting === null && !this.terminated;
  }

  /** @private @param {Pending} entry @param {AbortSignal} signal */
  abort(entry, signal) {
    if (!this.pending.has(entry.id)) return;
    this.settle(entry);
    entry.reject(abortError(signal));
    if (entry.worker) this.replace(entry.worker);
  }

  /**
   * The worker may be busy with something nobody wants: replace it, keep the rest (the
   * calls it had are posted again to the new worker).
   * @param {WorkerLike} worker
   */
  replace(worker) {
    if (worker !== this.worker || this.terminated) return;
    const survivors = [...this.pending.values()].filter((e) => e.worker === worker);
    worker.terminate();
    this.worker = null;
    this.counters.restarts++;
    this.ensure("restart")
      .then(() => {
        for (const entry of survivors) if (this.pending.has(entry.id)) this.post(entry, /** @type {WorkerLike} */ (this.worker));
      })
      .catch((error) => {
        for (const entry of survivors) {
          if (!this.pending.has(entry.id)) continue;
          this.settle(entry);
          entry.reject(new Error(`${entry.where}: the worker could not be restarted (${error.message})`));
        }
      });
  }

  /**
   * The worker died: fail what it had, and let the next call start a new one.
   * @private @param {WorkerLike} worker @param {string} reason
   */
  lost(worker, reason) {
    if (worker !== this.worker) return;
    worker.terminate();
    this.worker = null;
    this.counters.crashes++;
    // When no worker ever answered, none started: most often the script did not load (a
    // wrong baseURL, a file not served), which a page can only fix by its own change.
    const why = this.heardFrom ? `the minimodel worker stopped (${reason}); the next call starts a new one`
      : `the minimodel worker could not start: its script ${this.options.scriptURL ?? ""} did not load or failed ` +
        `before answering (${reason}); check createWorker's baseURL and that the file is served`;
    for (const entry of [...this.pending.values()]) {
      if (entry.worker !== worker) continue;
      this.settle(entry);
      entry.reject(new Error(`${entry.where}: ${why}`));
    }
    try {
      this.options.onCrash?.(new Error(reason));
    } catch (error) {
      console.error("minimodel: an onCrash callback threw", error);
    }
  }

  /** Stop the worker; every waiting call rejects; later calls reject. Safe to call twice. */
  terminate() {
    if (this.terminated) return;
    this.terminated = true;
    this.worker?.terminate();
    this.worker = null;
    for (const entry of [...this.pending.values()]) {
      this.settle(entry);
      entry.reject(new Error(`${entry.where}: the worker was terminated`));
    }
  }
}
