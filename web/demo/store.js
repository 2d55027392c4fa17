// The visitor's documents, kept in this browser (IndexedDB) so a later visit searches at
// once: one record with the passages and the saved EmbeddingIndex (index.toBytes()).
// What is read back is checked here (shape, types, sizes) and by loadIndex (the index's
// bytes, strictly); a record that fails is deleted and the page says so. Where IndexedDB is
// unavailable (blocked, private modes, storage denied) the page still works for the session.

const DB_NAME = "minimodel-search";
const STORE = "documents";
const KEY = "mine";
export const RECORD_VERSION = 1;

/**
 * @typedef {{ file: string, position: number, text: string }} Passage
 * @typedef {{ version: number, model: string, dim: number, passages: Passage[], index: Uint8Array, savedAt: number }} StoredRecord
 */

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
  }

  async forget() {
    try {
      const tx = this.db.transaction(STORE, "readwrite");
      tx.objectStore(STORE).delete(KEY);
      await committed(tx);
    } catch (err) {
      throw explain(err);
    }
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
