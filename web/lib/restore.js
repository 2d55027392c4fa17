// What a replacement worker must replay to rebuild one object: how it was made (created
// with its arguments, or loaded from a file's bytes), then the calls that changed it, in
// order. A call with a key (a layer's index, say) replaces the earlier call with the same
// key, so reloading a layer a thousand times keeps one copy; calls without a key (rows
// added to an index) are all kept.

/** @typedef {import("./transport.js").MakeArgs} MakeArgs */

/** @typedef {[op: string, makeArgs: MakeArgs]} Step */

export class RestoreLog {
  /** @param {Step} origin  the request that made the object */
  constructor(origin) {
    this.origin = origin;
    /** @type {Map<string | symbol, Step>} */
    this.changes = new Map();
  }

  /**
   * Remember a call that changed the object.
   * @param {string | null} key  null: keep every such call
   * @param {Step} step
   */
  record(key, step) {
    if (key === null) {
      this.changes.set(Symbol("kept"), step);
    } else {
      this.changes.delete(key); // a replaced call moves to the end: it happened last
      this.changes.set(key, step);
    }
  }

  /** Forget everything (the object was disposed). */
  clear() {
    this.changes.clear();
  }

  /** @returns {Step[]}  the requests that rebuild the object, in order */
  steps() {
    return [this.origin, ...this.changes.values()];
  }
}
