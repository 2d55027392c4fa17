// The visitor's documents, kept in this browser (IndexedDB) so a later visit searches at
// once: one record with the passages and the saved EmbeddingIndex (index.toBytes()).
// What is read back is checked here (shape, types, sizes) and by loadIndex (the index's
// bytes, strictly); a record that fails is deleted and the page says so. Where IndexedDB is
// unavailable (blocked, private modes, storage denied) the page still works for the session.
//
// Several tabs share the one record. Each write names a new revision and tells the other
// tabs (BroadcastChannel); changes run one tab at a time (Web Locks, withDocumentsLock), and
// a tab adopts the stored record first when its revision is not the one it last read or
// wrote, so a tab never saves over documents another tab added.

const DB_NAME = "minimodel-search";
const STORE = "documents";
const KEY = "mine";
const LOCK = "minimodel-search-documents";
export const RECORD_VERSION = 1;

/**
 * @typedef {{ file: string, position: number, text: string }} Passage
 * @typedef {{ version: number, model: string, dim: number, passages: Passage[], index: Uint8Array, savedAt: number,
 *   revision?: string }} StoredRecord  revision: new on every save (records of older builds have none)
 */

/** A name for a new revision of the record: unique enough across the tabs of one browser. */
export function newRevision() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/**
 * The revision of a stored record as read (null: no record; a record of an older build,
 * which has none, goes by the time it was saved).
 * @param {unknown} raw @returns {string | null}
 */
export function revisionOf(raw) {
  if (raw === null || typeof raw !== "object") return raw === null ? null : "unreadable";
  const { revision, savedAt } = /** @type {{ revision?: unknown, savedAt?: unknown }} */ (raw);
  return typeof revision === "string" ? revision : `saved at ${String(savedAt)}`;
}

/**
 * Run `job` while no other tab of this site runs one (Web Locks: held until `job` settles,
 * let go if the tab closes); `onWait` is called first when another tab holds it. Where the
 * browser has no Web Locks (an insecure origin), `job` runs at once.
 * @template T
 * @param {() => Promise<T>} job @param {() => void} [onWait] @returns {Promise<T>}
 */
export async function withDocumentsLock(job, onWait) {
  const locks = globalThis.navigator?.locks;
  if (!locks) return job();
  let ran = false;
  /** @type {T | undefined} */
  let result;
  try {
    await locks.request(LOCK, { ifAvailable: true }, async (lock) => {
      if (lock === null) return;
      ran = true;
      result = await job();
    });
  } catch (err) {
    // Refused (SecurityError: site data blocked, a sandboxed frame), not the job's own failure.
    if (ran) throw err;
    return job();
  }
  if (ran) return /** @type {T} */ (result);
  onWait?.();
  return locks.request(LOCK, job);
}

/** A failure to use storage, in plain words (`kind`: "unavailable", "full", "failed"). */
export class StorageError extends Error {
  /** @param {string} message @param {"unavailable" | "full" | "failed"} kind */
  constructor(message, kind) {
    super(message);
    this.name = "StorageError";
    this.kind = kind;
  }
}

/** @param {unknown} err @returns {StorageError} */
function explain(err) {
  const name = err instanceof DOMException || err instanceof Error ? err.name : "";
  const detail = err instanceof Error ? err.message : String(err);
  if (name === "QuotaExceededError") {
    return new StorageError("This browser's storage for this site is full", "full");
  }
  if (name === "SecurityError" || name === "InvalidStateError" || name === "NotAllowedError") {
    return new StorageError(`This browser does not let this page store data (${detail || name})`, "unavailable");
  }
  return new StorageError(`The browser's storage failed (${detail || name || "unknown error"})`, "failed");
}

/**
 * @template T
 * @param {IDBRequest<T>} request @returns {Promise<T>}
 */
function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** @param {IDBTransaction} tx @returns {Promise<void>} */
function committed(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    // A failed request's error reaches the transaction before tx.error is set: take the request's.
    tx.onerror = (event) => reject(/** @type {IDBRequest | null} */ (event.target)?.error ?? tx.error);
    tx.onabort = () => reject(tx.error ?? new DOMException("The transaction was aborted", "AbortError"));
  });
}

export class DocumentStore {
  /** @param {IDBDatabase} db */
  constructor(db) {
    this.db = db;
    // Tells the other tabs of this site that the record changed (not this one: a channel
    // does not hear its own messages).
    this.channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(DB_NAME) : null;
  }

  /**
   * Tell the other tabs that the record changed, or is about to be forgotten (a failure to
   * tell them does not undo the change).
   * @param {"changed" | "forgetting"} [kind]
   */
  announce(kind = "changed") {
    try {
      this.channel?.postMessage(kind);
    } catch (err) {
      console.warn("search page: could not tell the other tabs that the documents changed", err);
    }
  }

  /**
   * Call `listener` whenever another tab of this site saved or forgot the documents
   * ("changed"), or is about to forget them ("forgetting").
   * @param {(kind: "changed" | "forgetting") => void} listener
   */
  onChange(listener) {
    if (this.channel) {
      this.channel.onmessage = (event) => listener(event.data === "forgetting" ? "forgetting" : "changed");
    }
  }

  /**
   * Open the store; rejects with a StorageError when IndexedDB cannot be used here.
   * @returns {Promise<DocumentStore>}
   */
  static async open() {
    try {
      if (typeof indexedDB === "undefined" || indexedDB === null) throw new DOMException("no IndexedDB", "SecurityError");
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
      };
      const db = await Promise.race([
        done(request),
        new Promise((_, reject) => {
          request.onblocked = () => reject(new DOMException("another tab holds an older version open", "InvalidStateError"));
        }),
      ]);
      return new DocumentStore(/** @type {IDBDatabase} */ (db));
    } catch (err) {
      throw explain(err);
    }
  }

  /**
   * The stored record as it is (check it with checkRecord), or null when there is none.
   * @returns {Promise<unknown>}
   */
  async read() {
    try {
      const tx = this.db.transaction(STORE, "readonly");
      return (await done(tx.objectStore(STORE).get(KEY))) ?? null;
    } catch (err) {
      throw explain(err);
    }
  }

  /** @param {StoredRecord} record */
  async save(record) {
    try {
      const tx = this.db.transaction(STORE, "readwrite");
      tx.objectStore(STORE).put(record, KEY);
      await committed(tx);
    } catch (err) {
      throw explain(err);
    }
    this.announce();
  }

  async forget() {
    try {
      const tx = this.db.transaction(STORE, "readwrite");
      tx.objectStore(STORE).delete(KEY);
      await committed(tx);
    } catch (err) {
      throw explain(err);
    }
    this.announce();
  }
}

/**
 * The record if it has the shape this page writes, else an Error saying what is wrong
 * (the index's bytes themselves are checked by loadIndex).
 * @param {unknown} value @param {{ model: string, dim: number }} expected
 * @returns {StoredRecord}
 */
export function checkRecord(value, expected) {
  const fail = (/** @type {string} */ why) => {
    throw new Error(why);
  };
  if (value === null || typeof value !== "object") fail("the record is not an object");
  const record = /** @type {Record<string, unknown>} */ (value);
  if (record.version !== RECORD_VERSION) fail(`it has version ${String(record.version)}, this page reads version ${RECORD_VERSION}`);
  if (record.model !== expected.model) fail(`it was embedded with ${String(record.model)}, not ${expected.model}`);
  if (record.dim !== expected.dim) fail(`its vectors have ${String(record.dim)} values, not ${expected.dim}`);
  if (!(record.index instanceof Uint8Array) || record.index.length === 0) fail("its saved index is missing");
  if (!Array.isArray(record.passages) || record.passages.length === 0) fail("it has no passages");
  const passages = /** @type {unknown[]} */ (record.passages);
  passages.forEach((p, i) => {
    const passage = /** @type {Record<string, unknown>} */ (p);
    if (
      p === null ||
      typeof p !== "object" ||
      typeof passage.file !== "string" ||
      passage.file === "" ||
      typeof passage.text !== "string" ||
      passage.text === "" ||
      !Number.isInteger(passage.position) ||
      /** @type {number} */ (passage.position) < 0
    ) {
      fail(`passage ${i + 1} is damaged`);
    }
  });
  return /** @type {StoredRecord} */ (/** @type {unknown} */ (record));
}
