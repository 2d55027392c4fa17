// Objects spread over several workers (createWorker({ workers: n })), made from api.js's
// table like the single-worker remote objects (remote.js) they are made of:
//   - a model or an embedder lives in every worker (a replica each): calls that change it
//     (loadWeights, loadLayer) go to every replica; calls that can split (predictBatch's
//     rows, embed's texts) are split across the workers and their results joined in order;
//     other calls (predict, tokenize) go to one worker in turn, so concurrent calls spread;
//   - an EmbeddingIndex is sharded: each worker holds part of the rows, a search asks every
//     shard for its top k and merges them (ShardedIndex, below).
// With one worker every call goes to the one replica, exactly as before.

import { CLASSES, checkArraySize, float32Part } from "./api.js";
import { abortError, unlessAborted } from "./protocol.js";
import { checkOptions, classesFromTable } from "./remote.js";

/** @typedef {import("./remote.js").RemoteObject} RemoteObject */
/** @typedef {import("./api.js").Operation} Operation */
/** @typedef {import("./api.js").Limits} Limits */

/**
 * What a pooled object needs of its client.
 * @typedef {Object} PoolClient
 * @property {(where: string) => Limits} live  throws once terminated
 */

/**
 * Split n weighted items into `parts` contiguous ranges of about equal weight.
 * @param {number[]} weights @param {number} parts
 * @returns {[number, number][]}  [start, end) of each non-empty range
 */
export function balancedRanges(weights, parts) {
  const total = weights.reduce((a, b) => a + b, 0);
  /** @type {[number, number][]} */
  const ranges = [];
  let start = 0;
  let sum = 0;
  for (let part = 1; part <= parts && start < weights.length; part++) {
    let end = start;
    const goal = (total * part) / parts;
    while (end < weights.length && (part === parts || sum + weights[end] / 2 <= goal)) sum += weights[end++];
    if (end === start && part === parts) end = weights.length;
    if (end > start) ranges.push([start, end]);
    start = end;
  }
  return ranges;
}

/**
 * The results of a change sent to every worker. When it failed in some workers and went
 * through in others (a cancelled or crashed call), the workers no longer hold the same
 * object, and no later result could be trusted: `outOfStep` is told why, and the call
 * rejects with the first failure. When it failed everywhere, nothing changed.
 * @param {Promise<any>[]} parts @param {string} name @param {(why: string) => void} outOfStep
 * @returns {Promise<any[]>}
 */
async function everyOrNone(parts, name, outOfStep) {
  const settled = await Promise.allSettled(parts);
  const failed = /** @type {PromiseRejectedResult[]} */ (settled.filter((s) => s.status === "rejected"));
  if (failed.length === 0) return settled.map((s) => /** @type {PromiseFulfilledResult<any>} */ (s).value);
  if (failed.length < settled.length) {
    const reason = failed[0].reason;
    outOfStep(`${name} failed in ${failed.length} of its ${settled.length} workers and went through in the others ` +
      `(${reason?.name ?? "Error"}: ${reason?.message ?? reason})`);
  }
  throw failed[0].reason;
}

/** @param {string} where @param {string} noun @param {string} why */
function outOfStepError(where, noun, why) {
  return new Error(`${where}: this ${noun} no longer agrees across its workers: ${why}. ` +
    `Dispose of it and make it again.`);
}

/** A model or embedder with a replica in every worker. */
export class PooledObject {
  /** @param {PoolClient} client @param {string} kind @param {RemoteObject[]} replicas */
  constructor(client, kind, replicas) {
    /** @private */
    this._client = client;
    /** The kind of object. @type {string} */
    this.kind = kind;
    /** @private */
    this._replicas = replicas;
    /** @private */
    this._next = 0;
    /** @private */
    this._disposed = false;
    /** @private @type {string | null} why the replicas no longer agree (a change that failed in some) */
    this._outOfStep = null;
  }

  /** @private @returns {any} the replica whose turn it is */
  _take() {
    const replica = this._replicas[this._next];
    this._next = (this._next + 1) % this._replicas.length;
    return replica;
  }

  /**
   * @private
   * @param {string} name @param {any[]} params
   * @returns {Promise<any>}
   */
  _invoke(name, params) {
    const op = /** @type {Operation} */ (CLASSES[this.kind].methods[name]);
    const where = `${this.kind}.${name}`;
    const noun = CLASSES[this.kind].noun;
    if (this._disposed) throw new Error(`${where}: this ${noun} has been disposed`);
    if (this._replicas.length === 1) return /** @type {any} */ (this._replicas[0])[name](...params);
    if (this._outOfStep) throw outOfStepError(where, noun, this._outOfStep);
    const limits = this._client.live(where);
    const args = op.check(this, params.slice(0, op.args.length), where, limits);
    const options = params[op.args.length];
    // Checked once here: the replicas are sent the checked arguments (RemoteObject._send).
    if (op.restore) {
      return everyOrNone(this._replicas.map((r) => r._send(name, args, options)), name, (why) => {
        this._outOfStep = why;
      }).then((all) => all[0]);
    }
    if (op.split) return this._split(name, op, args, options, where);
    return this._take()._send(name, args, options);
  }

  /**
   * One call split across the replicas, its parts' results joined in order.
   * @private
   * @param {string} name @param {Operation} op @param {any[]} args @param {any} options @param {string} where
   */
  async _split(name, op, args, options, where) {
    const split = /** @type {import("./api.js").Splitting} */ (op.split);
    const { signal, onProgress } = checkOptions(options ?? {}, where, op.transfer, Boolean(op.progress));
    if (signal?.aborted) throw abortError(signal);
    const ranges = balancedRanges(split.weights(args), this._replicas.length);
    if (ranges.length <= 1) return this._take()._send(name, args, options);
    const done = ranges.map(() => 0);
    const total = ranges.reduce((n, [start, end]) => n + end - start, 0);
    const parts = ranges.map(([start, end], i) => {
      /** @type {Record<string, any>} */
      const partOptions = { signal };
      if (onProgress) {
        partOptions.onProgress = (/** @type {{ done: number }} */ p) => {
          done[i] = p.done;
          onProgress({ done: done.reduce((a, b) => a + b, 0), total });
        };
      }
      return this._replicas[i]._send(name, split.slice(this, args, start, end), partOptions);
    });
    return split.join(await Promise.all(parts));
  }

  /** Free the object in every worker. Safe to call twice; later calls reject. */
  async dispose() {
    if (this._disposed) return;
    this._disposed = true;
    await Promise.all(this._replicas.map((r) => r.dispose()));
  }
}

/**
 * One pooled class per kind but the index (sharded, below), made from the same table.
 * @type {Record<string, typeof PooledObject>}
 */
export const POOLED_CLASSES = classesFromTable(PooledObject, "Pooled", (object, name) => object._replicas[0][name],
  ["EmbeddingIndex"]);

const FORMAT = "minimodel.EmbeddingIndex";

/**
 * The header of a saved index (the bytes Python's EmbeddingIndex.to_bytes writes), for
 * `rows` rows of `dim`: the same JSON, the same padding.
 * @param {number} rows @param {number} dim
 */
function indexHeader(rows, dim) {
  const json = JSON.stringify({
    __metadata__: { format: FORMAT, version: "1", dim: String(dim) },
    vectors: { dtype: "F32", shape: [rows, dim], data_offsets: [0, rows * dim * 4] },
  });
  const padded = json + " ".repeat((8 - (json.length % 8)) % 8);
  return new TextEncoder().encode(padded);
}

/**
 * A saved index's bytes for the rows given as float32 bytes.
 * @param {Uint8Array} rowBytes @param {number} rows @param {number} dim
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function savedIndex(rowBytes, rows, dim) {
  const header = indexHeader(rows, dim);
  const out = new Uint8Array(8 + header.length + rowBytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(rowBytes, 8 + header.length);
  return out;
}

/**
 * The rows of a saved index, read leniently (Python checks the file strictly): null when
 * the bytes are not the simple layout savedIndex writes.
 * @param {Uint8Array} bytes
 * @returns {{ rows: number, dim: number, data: Uint8Array } | null}
 */
export function readSavedIndex(bytes) {
  try {
    const length = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
    const [rows, dim] = header.vectors.shape;
    const [begin, end] = header.vectors.data_offsets;
    const data = bytes.subarray(8 + length + begin, 8 + length + end);
    if (data.length !== rows * dim * 4) return null;
    return { rows, dim, data };
  } catch {
    return null;
  }
}

/**
 * An EmbeddingIndex sharded over the workers. Each add() splits its rows into contiguous
 * parts, one per shard, so within a shard rows keep their global order. A search asks each
 * shard for its k best and merges them by score, then by global index.
 *
 * Why the merge is exactly the one-worker result, ties included: a row's score does not
 * depend on which index holds it (the kernels' scores are position-independent), so each
 * shard scores its rows as one index would; a row among the global k best is among its own
 * shard's k best (fewer than k rows of that shard beat it, or tie with it at a lower index,
 * and a shard's order is the global order); and merging the candidates by (score desc,
 * global index asc) is the global ranking restricted to them.
 */
export class ShardedIndex {
  /**
   * @param {PoolClient} client @param {RemoteObject[]} shards
   * @param {Int32Array[]} [globals]  each shard's rows' global indices
   */
  constructor(client, shards, globals) {
    /** @private */
    this._client = client;
    /** The kind of object. */
    this.kind = "EmbeddingIndex";
    /** @private @type {any[]} */
    this._shards = shards;
    /** @private @type {Int32Array[]} */
    this._globals = globals ?? shards.map(() => new Int32Array(0));
    /** @private */
    this._disposed = false;
    /** @private @type {string | null} */
    this._outOfStep = null;
    /**
     * The line that keeps calls in call order, as one worker's index does: an add takes
     * its turn after every call before it was sent and every add before it answered (it
     * numbers its rows from the size those left); a search or a save after every call
     * before it was sent. This settles when the last call's turn is over. @private @type {Promise<void>}
     */
    this._line = Promise.resolve();
    /** Calls whose turn is not over. At 0, a call is sent at once. @private */
    this._inLine = 0;
  }

  /** The vector length. @type {number} */
  get dim() {
    return this._shards[0].dim;
  }

  /** How many vectors were added. @type {number} */
  get size() {
    return this._shards.reduce((n, shard) => n + shard.size, 0);
  }

  /**
   * @private @param {string} name @param {any[]} params
   * @returns {{ where: string, args: any[], options: any }}
   */
  _enter(name, params) {
    const op = CLASSES.EmbeddingIndex.methods[name];
    const where = `EmbeddingIndex.${name}`;
    this._checkUsable(name);
    const args = op.check(this, params.slice(0, op.args.length), where, this._client.live(where));
    return { where, args, options: params[op.args.length] ?? {} };
  }

  /**
   * Add vectors: n * dim values, row-major, split over the shards.
   * @param {import("./types.js").NumericInput} vectors @param {import("./remote.js").CallOptions} [options]
   * @returns {Promise<void>}
   */
  async add(vectors, options) {
    const { where, args: [rows], options: opts } = this._enter("add", [vectors, options]);
    checkOptions(opts, where);
    const own = this._inLine === 0 ? rows : rows.slice(); // as of the call, when it must wait
    return this._inTurn("add", opts, true, () => {
      // After waiting, the adds before it may have filled the index (its values were checked at the call).
      if (own !== rows) checkArraySize((this.size + own.length / this.dim) * this.dim, this._client.live(where), where, "the index");
      return this._addInTurn(own, opts, where);
    });
  }

  /**
   * Send a call in its turn (see _line): at once when no call is in line, else when the
   * calls before it are sent (and their adds answered), then checked again (disposed, or
   * out of step: see _checkUsable). `send` sends
   * its call before it returns; an abort while waiting rejects at once, and the call
   * keeps its place in line, which moves on without it.
   * @private
   * @template T
   * @param {string} name  the method, for the check after waiting
   * @param {import("./remote.js").CallOptions} opts @param {boolean} untilAnswered  an add
   * @param {() => Promise<T>} send
   * @returns {Promise<T>}
   */
  _inTurn(name, opts, untilAnswered, send) {
    const previous = this._line;
    const waits = this._inLine > 0;
    this._inLine++;
    /** @type {() => void} */
    let sent = () => {};
    const wasSent = new Promise((resolve) => (sent = () => resolve(undefined)));
    const sendNow = () => {
      try {
        return send();
      } finally {
        sent();
      }
    };
    /** @type {Promise<T>} */
    let result;
    try {
      result = waits
        ? unlessAborted(previous, opts.signal ?? null).then(() => {
          this._checkUsable(name);
          return sendNow();
        })
        : sendNow(); // _enter has just checked
    } catch (error) {
      result = Promise.reject(error);
    }
    result.catch(() => sent()); // aborted or refused while waiting: the line moves on
    const over = untilAnswered ? result.then(() => {}, () => {}) : wasSent;
    this._line = previous.then(() => over).finally(() => this._inLine--);
    return result;
  }

  /**
   * @private
   * @param {Float32Array} rows @param {import("./remote.js").CallOptions} opts @param {string} where
   */
  async _addInTurn(rows, opts, where) {
    const dim = this.dim;
    const count = rows.length / dim;
    const base = this.size;
    const ranges = balancedRanges(new Array(count).fill(1), this._shards.length);
    await everyOrNone(ranges.map(([start, end], i) => {
      const part = float32Part(rows, start * dim, end * dim);
      return this._shards[i]._send("add", [part], opts).then(() => {
        const globals = new Int32Array(this._globals[i].length + end - start);
        globals.set(this._globals[i]);
        for (let r = start; r < end; r++) globals[this._globals[i].length + r - start] = base + r;
        this._globals[i] = globals;
      });
    }), "add", (why) => {
      this._outOfStep = why;
    });
  }

  /**
   * The k best rows over every shard: exactly what one index holding them all returns.
   * @param {import("./types.js").NumericInput} query @param {number} k
   * @param {import("./remote.js").CallOptions} [options]
   * @returns {Promise<{ indices: Int32Array, scores: Float32Array }>}
   */
  async search(query, k, options) {
    const { args, options: opts } = this._enter("search", [query, k, options]);
    if (this._inLine > 0) args[0] = Float32Array.from(args[0]); // its query as of the call
    /** @type {number} */
    let size = 0;
    const results = await this._inTurn("search", opts, false, () => {
      size = this.size;
      const globals = [...this._globals]; // as of now: a later add extends them
      return Promise.all(this._shards.map((shard, i) =>
        shard.size === 0 ? null : shard.search(args[0], Math.min(args[1], shard.size), opts).then(
          (/** @type {{ indices: Int32Array, scores: Float32Array }} */ found) => ({ found, globals: globals[i] }),
        )));
    });
    /** @type {[number, number][]} */
    const candidates = [];
    for (const result of results) {
      if (result === null) continue;
      const { found, globals } = result;
      for (let j = 0; j < found.indices.length; j++) candidates.push([found.scores[j], globals[found.indices[j]]]);
    }
    candidates.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const best = candidates.slice(0, Math.min(args[1], size));
    return { indices: Int32Array.from(best, (c) => c[1]), scores: Float32Array.from(best, (c) => c[0]) };
  }

  /**
   * The whole index as bytes (the same bytes one worker's index would give).
   * @param {import("./remote.js").CallOptions} [options]
   * @returns {Promise<Uint8Array<ArrayBuffer>>}
   */
  async toBytes(options) {
    const { options: opts } = this._enter("toBytes", [options]);
    const dim = this.dim;
    let size = 0;
    /** @type {Int32Array[]} */
    let globals = [];
    const saved = await this._inTurn("toBytes", opts, false, () => {
      size = this.size;
      globals = [...this._globals]; // as of now: a later add extends them
      return Promise.all(this._shards.map((shard) => shard.toBytes(opts)));
    });
    const rows = new Uint8Array(size * dim * 4);
    saved.forEach((bytes, i) => {
      const shard = /** @type {{ data: Uint8Array }} */ (readSavedIndex(bytes));
      globals[i].forEach((global, local) => {
        rows.set(shard.data.subarray(local * dim * 4, (local + 1) * dim * 4), global * dim * 4);
      });
    });
    return savedIndex(rows, size, dim);
  }

  /** @private @param {string} name  throws when the index was disposed or broke while a call waited */
  _checkUsable(name) {
    const where = `EmbeddingIndex.${name}`;
    if (this._disposed) throw new Error(`${where}: this index has been disposed`);
    if (this._outOfStep) throw outOfStepError(where, "index", this._outOfStep);
  }

  /** Free every shard. Safe to call twice; later calls reject. */
  async dispose() {
    if (this._disposed) return;
    this._disposed = true;
    await Promise.all(this._shards.map((shard) => shard.dispose()));
  }
}
