// The worker's objects as seen from the page: one class per kind of api.js's CLASSES,
// made from the table. Each method runs the main thread's checks here first (so one bad
// request never fails the others of its batch, and the errors are the same), copies its
// vector arguments (the caller's arrays stay untouched) and sends them; batched methods
// go through a Batcher; calls that change the object are remembered for a replacement
// worker (restore.js). Properties mirror the object's state, as the worker reports it.

import { CLASSES } from "./api.js";
import { Batcher } from "./batcher.js";
import { abortError } from "./protocol.js";
import { RestoreLog } from "./restore.js";
import { float32Copy, float32Snapshot, keepSpare } from "./spare-buffers.js";
import { describe } from "./validate.js";

/** @typedef {import("./api.js").Operation} Operation */
/** @typedef {import("./restore.js").Step} Step */

/**
 * Options every remote call takes last.
 * @typedef {Object} CallOptions
 * @property {AbortSignal} [signal]  rejects the call at once with an AbortError
 * @property {boolean} [transfer]  predict: take over x's memory instead of copying it (x
 *   must be a Float32Array; it is detached)
 * @property {(progress: { done: number, total: number }) => void} [onProgress]  embed: told
 *   as the texts are embedded (the call then travels alone, not merged into a batch)
 */

/**
 * What a remote object needs of its client (worker-client.js).
 * @typedef {Object} Client
 * @property {(where: string) => import("./api.js").Limits} live  throws once terminated
 * @property {(where: string, op: string, makeArgs: import("./transport.js").MakeArgs,
 *   options?: import("./transport.js").RequestOptions) => Promise<any>} call
 * @property {(worker: any) => void} replace
 * @property {(requests: number, batched: boolean) => void} count
 * @property {(object: RemoteObject) => void} forget
 * @property {{ maxBatchSize: number, batchTimeoutMs: number }} options
 */

/**
 * Check a call's options.
 * @param {unknown} options @param {string} where @param {boolean} [transferable]
 * @param {boolean} [progress]  onProgress is allowed
 * @returns {CallOptions}
 */
export function checkOptions(options, where, transferable = false, progress = false) {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${where}: options must be an object; received ${describe(options)}`);
  }
  const { signal, transfer, onProgress } = /** @type {CallOptions} */ (options);
  if (onProgress !== undefined && (!progress || typeof onProgress !== "function")) {
    throw new TypeError(`${where}: options.onProgress ${progress ? "must be a function" : "is not supported here"}; received ${describe(onProgress)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${where}: options.signal must be an AbortSignal; received ${describe(signal)}`);
  }
  if (transfer !== undefined && (!transferable || typeof transfer !== "boolean")) {
    throw new TypeError(`${where}: options.transfer ${transferable ? "must be true or false" : "is not supported here"}; received ${describe(transfer)}`);
  }
  return /** @type {CallOptions} */ (options);
}

/**
 * The arguments as they are sent: each vector argument copied into a new Float32Array
 * (or taken over, with `transfer`); `retain` keeps the copies for a replacement worker
 * (then they are sent by copy each time, never transferred). With `snapshot` (a batched
 * call, whose copies are only merged into its batch's buffer) small copies share slabs
 * (float32Snapshot); their buffers are not listed for transfer.
 * @param {Operation & { args: string[] }} op @param {any[]} args @param {string} where
 * @param {{ transfer?: boolean, retain?: boolean, snapshot?: boolean }} how
 * @returns {{ values: any[], transfer: Transferable[] }}
 */
export function prepareArgs(op, args, where, { transfer = false, retain = false, snapshot = false }) {
  const vectors = op.vectors ?? [];
  /** @type {Transferable[]} */
  const buffers = [];
  const values = args.map((value, i) => {
    const name = op.args[i];
    if (!vectors.includes(name) || value === null || value === undefined) return value;
    if (transfer) {
      if (!(value instanceof Float32Array)) {
        throw new TypeError(`${where}: options.transfer needs ${name} to be a Float32Array; received ${describe(value)}`);
      }
      const { byteOffset, length } = value; // read before the transfer detaches it
      return new Float32Array(structuredClone(value.buffer, { transfer: [value.buffer] }), byteOffset, length);
    }
    if (snapshot) return float32Snapshot(value);
    const copy = float32Copy(value);
    if (!retain) buffers.push(copy.buffer);
    return copy;
  });
  return { values, transfer: buffers };
}

/**
 * The buffers of the Float32Array vector arguments among `values`.
 * @param {Operation & { args: string[] }} op @param {any[]} values
 * @returns {ArrayBuffer[]}
 */
function vectorBuffers(op, values) {
  const vectors = op.vectors ?? [];
  return values.filter((value, i) => vectors.includes(op.args[i]) && value instanceof Float32Array).map((v) => v.buffer);
}

/** The shared behaviour of every remote object. */
export class RemoteObject {
  /**
   * @param {Client} client @param {string} kind @param {number} id @param {any} state
   * @param {Step} origin  the request that made it (replayed by a replacement worker)
   */
  constructor(client, kind, id, state, origin) {
    /** @private */
    this._client = client;
    /** The kind of object ("MiniModel", "FeedForward", "EmbeddingIndex"). @type {string} */
    this.kind = kind;
    /** @private */
    this._id = id;
    /** @private */
    this._state = state;
    /** @private */
    this._disposed = false;
    /** @private @type {Map<string, Batcher>} */
    this._batchers = new Map();
    /** @private */
    this._log = new RestoreLog(origin);
  }

  /** @returns {Step[]} what rebuilds it in a new worker */
  _restoreSteps() {
    return this._log.steps();
  }

  /**
   * @private
   * @param {string} where
   * @returns {import("./api.js").Limits}
   */
  _live(where) {
    if (this._disposed) throw new Error(`${where}: this ${CLASSES[this.kind].noun} has been disposed`);
    return this._client.live(where);
  }

  /**
   * A method call, as every generated method makes it.
   * @param {string} name @param {any[]} params  the arguments, then the options
   * @returns {Promise<any>}
   */
  _invoke(name, params) {
    const op = /** @type {Operation & { args: string[] }} */ (CLASSES[this.kind].methods[name]);
    const where = `${this.kind}.${name}`;
    const args = op.check(this, params.slice(0, op.args.length), where, this._live(where));
    return this._send(name, args, params[op.args.length]);
  }

  /**
   * A call whose arguments op.check has passed, to a live object: _invoke's, or a pool's,
   * which checks a call once and hands it, or its parts, to its workers' objects (checking
   * each part again would read every value twice on the main thread, with the workers
   * waiting: about 2 ms for W2's 800,000 inputs).
   * @internal
   * @param {string} name @param {any[]} args @param {unknown} [rawOptions]
   * @returns {Promise<any>}
   */
  _send(name, args, rawOptions) {
    const op = /** @type {Operation & { args: string[] }} */ (CLASSES[this.kind].methods[name]);
    const where = `${this.kind}.${name}`;
    const options = checkOptions(rawOptions ?? {}, where, op.transfer, Boolean(op.progress));
    const signal = options.signal ?? null;
    if (signal?.aborted) throw abortError(signal);
    const onProgress = options.onProgress ?? null;
    const batching = Boolean(op.batch) && this._client.options.maxBatchSize > 1 && onProgress === null;
    // The vector arguments as of this call, copied: every post of the call sends these
    // values, never the caller's arrays as they are by then (a call still in flight is
    // posted again when its worker is replaced). When they must stay (for a batch, for a
    // replacement worker's replay, or taken over with `transfer`) they are sent by copy;
    // otherwise each post transfers a copy of them, and they go back to the spare
    // buffers once the call settles.
    const retain = Boolean(op.restore) || batching || Boolean(options.transfer);
    const { values } = prepareArgs(op, args, where, { transfer: options.transfer, retain: true, snapshot: batching });
    if (batching) return this._batcher(name, op).push(values, signal);
    this._flush(); // calls made before this one (waiting in a batch) go first
    this._client.count(1, false);
    // With onProgress the worker calls the method's progress form, which reports to it.
    const method = onProgress ? /** @type {string} */ (op.progress) : name;
    const makeArgs = () => {
      const made = retain ? { values, transfer: [] } : prepareArgs(op, values, where, {});
      return /** @type {[any[], Transferable[]]} */ ([[this._id, method, made.values, Boolean(onProgress)], made.transfer]);
    };
    const settled = () => {
      if (!retain) keepSpare(vectorBuffers(op, values));
    };
    return this._client.call(where, "call", makeArgs, { signal, onProgress }).then((answer) => {
      settled();
      if (op.changesState) this._state = answer.state;
      if (op.restore) {
        this._log.record(op.restore(args), ["call", () => [[this._id, name, values], []]]);
      }
      return answer.result;
    }, (error) => {
      settled();
      throw error;
    });
  }

  /**
   * @private
   * @param {string} name @param {Operation} op
   * @returns {Batcher}
   */
  _batcher(name, op) {
    let batcher = this._batchers.get(name);
    if (batcher) return batcher;
    const batch = /** @type {import("./api.js").Batching} */ (op.batch);
    const where = `${this.kind}.${name}`;
    batcher = new Batcher({
      ...this._client.options,
      send: (inputs, onPost, count) => {
        /** @type {any[][]} the calls of the batch as last posted */
        let sent = [];
        this._client.count(count, true);
        return this._client
          .call(
            where,
            "call",
            () => {
              const calls = inputs();
              if (calls === null) return null;
              sent = calls;
              const merged = batch.merge(this, calls);
              return [[this._id, batch.method, merged], merged.filter((v) => ArrayBuffer.isView(v)).map((v) => v.buffer)];
            },
            { onPost },
          )
          .then((answer) => answer && ((/** @type {number} */ i) => batch.split(this, answer.result, i, where, sent)));
      },
      abortRunning: (worker) => this._client.replace(worker),
    });
    this._batchers.set(name, batcher);
    return batcher;
  }

  /** @private */
  _flush() {
    for (const batcher of this._batchers.values()) batcher.flush();
  }

  /** The worker was terminated: calls still waiting in a batch fail. */
  _terminated() {
    for (const [name, batcher] of this._batchers) {
      batcher.rejectWaiting(new Error(`${this.kind}.${name}: the worker was terminated`));
    }
  }

  /** Free the object in the worker. Safe to call twice; later calls reject. */
  async dispose() {
    if (this._disposed) return;
    this._flush();
    this._disposed = true;
    this._log.clear();
    this._client.forget(this);
    try {
      await this._client.call(`${this.kind}.dispose`, "dispose", () => [[this._id], []]);
    } catch {
      // a terminated or lost worker has freed it already
    }
  }
}

/**
 * One subclass of `Base` per kind of api.js's table (all but `skip`): every method of the
 * kind calls `this._invoke(name, params)` (a synchronous throw becomes a rejected promise;
 * not an async function, so a batched call hands back its own promise, one tick less), and
 * every property reads `property(this, name, getter)`.
 * @template {new (...args: any[]) => any} B
 * @param {B} Base @param {string} prefix  of the classes' names
 * @param {(object: any, name: string, getter: (state: any) => any) => any} property
 * @param {string[]} [skip]  kinds left out
 * @returns {Record<string, B>}
 */
export function classesFromTable(Base, prefix, property, skip = []) {
  return Object.fromEntries(
    Object.entries(CLASSES).filter(([kind]) => !skip.includes(kind)).map(([kind, spec]) => {
      const Made = class extends Base {};
      Object.defineProperty(Made, "name", { value: `${prefix}${kind}` });
      for (const name of Object.keys(spec.methods)) {
        Object.defineProperty(Made.prototype, name, {
          value: function (/** @type {any[]} */ ...params) {
            try {
              return this._invoke(name, params);
            } catch (error) {
              return Promise.reject(error);
            }
          },
          writable: true,
          configurable: true,
        });
      }
      for (const [name, getter] of Object.entries(spec.properties)) {
        Object.defineProperty(Made.prototype, name, {
          get() {
            return property(this, name, getter);
          },
          configurable: true,
        });
      }
      return [kind, Made];
    }),
  );
}

/**
 * One class per kind, with the kind's methods and properties from api.js's table.
 * @type {Record<string, typeof RemoteObject>}
 */
export const REMOTE_CLASSES = classesFromTable(RemoteObject, "Remote", (object, _, getter) => getter(object._state));
