// Type declarations for minimodel.js (an ES module served next to this file).

/** A numeric vector: every value finite and representable as float32. */
export type NumericInput = Float32Array | Float64Array | number[];

/** Loading progress reported by init(). */
export interface Progress {
  /** What is loading: the Pyodide runtime, then numpy and minimodel, then done. */
  stage: "runtime" | "packages" | "ready";
  /** Bytes received so far in this stage. */
  loaded: number;
  /** Bytes expected in this stage (0 when unknown). */
  total: number;
  /** The file whose bytes just arrived, when known. */
  file?: string;
}

export interface InitOptions {
  /** Called with each progress step; a late caller first receives the latest step. */
  onProgress?: (progress: Progress) => void;
  /**
   * Use this browser's startup cache (default true): a repeat visit restores the booted
   * interpreter and the unpacked packages from Cache Storage (about 35 MB, replaced when the
   * site or the browser changes); a first visit stores them. false neither reads nor writes.
   */
  cache?: boolean;
}

export interface RuntimeInfo {
  pyodideVersion: string;
  pythonVersion: string;
  numpyVersion: string;
  /** true when this start restored both the interpreter and the packages from the cache. */
  fromCache: boolean;
}

/**
 * Load Pyodide, numpy and minimodel from this module's own directory. Idempotent;
 * concurrent calls share one load. Rejects with an Error that says what failed.
 */
export function init(options?: InitOptions): Promise<RuntimeInfo>;

/**
 * One Linear layer + ReLU computed by numpy in Python: relu(W @ x + b), W of shape
 * outputSize x inputSize (row-major). Weights start at 0.01, the bias at 0.
 * @throws {Error} before init() resolved
 * @throws {RangeError} if a size is not a positive integer Number or the model is too large
 */
export class MiniModel {
  constructor(inputSize: number, outputSize: number);
  /** From a one-layer .safetensors or .npz file. */
  static load(source: WeightSource): Promise<MiniModel>;
  readonly inputSize: number;
  readonly outputSize: number;
  /** A new Float32Array of outputSize values; x must have inputSize finite values. */
  predict(x: NumericInput): Float32Array;
  /** batch * inputSize values, row-major -> batch * outputSize values. */
  predictBatch(inputs: NumericInput, batch: number): Float32Array;
  /** Replace weights (outputSize*inputSize, row-major) and bias (omitted/null: zeros). Atomic. */
  loadWeights(weights: NumericInput, bias?: NumericInput | null): void;
  /** Free the Python model; safe to call twice; later calls throw. */
  dispose(): void;
}

/** Cosine similarity in [-1, 1]; 0 if either vector is all zeros. Same lengths >= 1. */
export function cosineSimilarity(a: NumericInput, b: NumericInput): number;

/** Linear + ReLU between layers, none after the last: new FeedForward([784, 256, 10]). */
export class FeedForward {
  constructor(sizes: number[]);
  /** From .safetensors or .npz: fc1.weight [out, in], fc1.bias [out], ... (strictly checked). */
  static load(source: WeightSource): Promise<FeedForward>;
  readonly sizes: number[];
  readonly inputSize: number;
  readonly outputSize: number;
  /** Layer `index`: sizes[index+1] x sizes[index] weights, row-major; bias omitted/null: zeros. */
  loadLayer(index: number, weights: NumericInput, bias?: NumericInput | null): void;
  predict(x: NumericInput): Float32Array;
  predictBatch(inputs: NumericInput, batch: number): Float32Array;
  dispose(): void;
}

/** Cosine top-k search; rows are normalised once, on add. */
export class EmbeddingIndex {
  constructor(dim: number);
  readonly dim: number;
  readonly size: number;
  /** n * dim values, row-major. */
  add(vectors: NumericInput): void;
  /** Best first; ties to the lower index; min(k, size) results. */
  search(query: NumericInput, k: number): { indices: Int32Array; scores: Float32Array };
  dispose(): void;
}

/** A weight file: a URL, a Blob or File, an ArrayBuffer or a Uint8Array. */
export type WeightSource = string | URL | Blob | ArrayBuffer | Uint8Array;

/** Class probabilities from logits (computed in float64), summing to 1. */
export function softmax(logits: NumericInput): Float32Array;

/** Largest weight file accepted, in bytes. */
export const MAX_WEIGHT_FILE_BYTES: number;

/** Each row scaled to unit L2 norm; zero rows stay zero. */
export function normalizeRows(vectors: NumericInput, dim: number): Float32Array;

/** Called if Pyodide reports a fatal error; returns a function that unsubscribes. */
export function onFatalError(listener: (error: Error) => void): () => void;

/** The Pyodide API object (e.g. for micropip). Throws before init(). */
export function getPyodide(): any;

/** Live PyProxy count (as Pyodide's tests count them), wasm heap size, SIMD kernels in use. */
export function debugStats(): { liveProxies: number; heapBytes: number; kernels: boolean };

export interface WorkerOptions {
  onProgress?: (progress: Progress) => void;
  /** Told when the worker died (a fatal Python error); the next call starts a new one. */
  onCrash?: (error: Error) => void;
  /** Most predict() calls merged into one message; 1 turns batching off. Default 64. */
  maxBatchSize?: number;
  /** How long a predict() waits for company; 0 (default) merges same-task bursts. */
  batchTimeoutMs?: number;
  /** The worker's startup cache, as InitOptions.cache (default true). */
  cache?: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface RemoteModel {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly sizes: number[];
  /** transfer: take over x's memory instead of copying it (x is detached). */
  predict(x: NumericInput, options?: CallOptions & { transfer?: boolean }): Promise<Float32Array>;
  predictBatch(inputs: NumericInput, batch: number, options?: CallOptions): Promise<Float32Array>;
  loadWeights(weights: NumericInput, bias?: NumericInput | null): Promise<void>;
  loadLayer(index: number, weights: NumericInput, bias?: NumericInput | null): Promise<void>;
  dispose(): Promise<void>;
}

export interface RemoteIndex {
  readonly dim: number;
  readonly size: number;
  add(vectors: NumericInput, options?: CallOptions): Promise<void>;
  search(query: NumericInput, k: number, options?: CallOptions): Promise<{ indices: Int32Array; scores: Float32Array }>;
  dispose(): Promise<void>;
}

export interface WorkerClient {
  readonly info: RuntimeInfo;
  createModel(inputSize: number, outputSize: number): Promise<RemoteModel>;
  createFeedForward(sizes: number[]): Promise<RemoteModel>;
  createIndex(dim: number): Promise<RemoteIndex>;
  loadFeedForward(source: WeightSource): Promise<RemoteModel>;
  loadModel(source: WeightSource): Promise<RemoteModel>;
  softmax(logits: NumericInput, options?: CallOptions): Promise<Float32Array>;
  cosineSimilarity(a: NumericInput, b: NumericInput, options?: CallOptions): Promise<number>;
  normalizeRows(vectors: NumericInput, dim: number, options?: CallOptions): Promise<Float32Array>;
  stats(): {
    requests: number; messages: number; batches: number; batchedRequests: number;
    restarts: number; crashes: number; pending: number;
  };
  debugStats(): Promise<{ liveProxies: number; heapBytes: number; kernels: boolean; objects: number }>;
  terminate(): Promise<void>;
}

/** Start a module worker that owns Pyodide; resolves once Python is ready in it. */
export function createWorker(options?: WorkerOptions): Promise<WorkerClient>;

/** The size limits the API enforces (after init()). */
export function limits(): { maxDim: number; maxParameters: number; maxValues: number };
