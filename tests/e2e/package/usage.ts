// A user's program against the installed npm package: the whole documented API, on the
// main thread and in a worker. tests/e2e/test_e2e_package.py compiles it with
// `tsc --strict` against the package's own types (so a wrong or missing declaration fails),
// then runs the emitted JavaScript in Chromium through an import map.
import {
  EmbeddingIndex,
  FeedForward,
  MAX_WEIGHT_FILE_BYTES,
  MiniModel,
  TextEmbedder,
  cosineSimilarity,
  createWorker,
  debugStats,
  getPyodide,
  init,
  limits,
  normalizeRows,
  onFatalError,
  softmax,
} from "minimodel-web";
import type { CallOptions, FileSource, Limits, NumericInput, Remote, RemoteIndex, RuntimeInfo } from "minimodel-web";

declare global {
  interface Window {
    usageResult?: unknown;
    usageError?: string;
  }
}

async function main(): Promise<Record<string, unknown>> {
  const stages: string[] = [];
  const info = await init({ onProgress: (p) => stages.push(p.stage), cache: true });
  const versions: string[] = [info.pyodideVersion, info.pythonVersion, info.numpyVersion];
  const fromCache: boolean = info.fromCache;
  const startedFrom: "cache" | "site" | "boot" = info.startedFrom;
  const unsubscribe: () => void = onFatalError((error: Error) => console.error(error.message));

  // Main thread
  const model = new MiniModel(4, 2);
  model.loadWeights([1, 0, 0, 0, 0, 1, 0, 0], [0.5, -0.5]);
  const y: Float32Array = model.predict(new Float32Array([1, 2, 3, 4]));
  const ys: Float32Array = model.predictBatch([1, 2, 3, 4, 4, 3, 2, 1], 2);
  const sizes: [number, number] = [model.inputSize, model.outputSize];
  model.dispose();

  const net = new FeedForward([3, 4, 2]);
  net.loadLayer(0, new Float64Array(12).fill(0.5));
  net.loadLayer(1, [1, 0, 0, 0, 0, 0, 0, 1], null);
  const netOut: Float32Array = net.predict([1, 2, 3]);
  const netBatch: Float32Array = net.predictBatch(new Float32Array(6).fill(1), 2);
  const netSizes: number[] = net.sizes;
  net.dispose();

  const source: FileSource = "digits.safetensors";
  const loaded: FeedForward = await FeedForward.load(source);
  const loadedSizes = loaded.sizes;
  loaded.dispose();
  const single: MiniModel = await MiniModel.load(new URL("digits-hidden.safetensors", location.href));
  const hidden = single.outputSize;
  single.dispose();

  const index = new EmbeddingIndex(3);
  const rows: NumericInput = [1, 0, 0, 0, 1, 0, 1, 1, 0];
  index.add(rows);
  const found: { indices: Int32Array; scores: Float32Array } = index.search([1, 0.1, 0], 2);
  const indexShape: [number, number] = [index.dim, index.size];
  const saved = index.toBytes(); // Uint8Array<ArrayBuffer>: a Blob part
  const reloaded: EmbeddingIndex = EmbeddingIndex.fromBytes(saved);
  const fromBlob: EmbeddingIndex = await EmbeddingIndex.load(new Blob([saved]));
  const reloadedSame = reloaded.search([1, 0.1, 0], 2).indices[0] === found.indices[0] && fromBlob.size === 3;
  reloaded.dispose();
  fromBlob.dispose();
  index.dispose();

  const embedder: TextEmbedder = await TextEmbedder.load();
  const embedded: Float32Array = embedder.embed(["The weather is lovely today.", "It's so sunny outside!"]);
  const one: Float32Array = embedder.embed("He drove to the stadium.");
  const tokens: Int32Array = embedder.tokenize("Hello world");
  const embedderShape: [number, number] = [embedder.dim, embedder.maxTokens];
  let similarity = 0;
  for (let d = 0; d < embedder.dim; d++) similarity += embedded[d] * embedded[embedder.dim + d];
  embedder.dispose();

  const cos: number = cosineSimilarity([1, 0], [1, 1]);
  const unit: Float32Array = normalizeRows([3, 4], 2);
  const probabilities: Float32Array = softmax([0, 0]);
  const sizeLimits: { maxDim: number; maxParameters: number; maxValues: number } = limits();
  const stats = debugStats();
  const proxies: number | null = stats.liveProxies;
  const pyodideVersion: string = getPyodide().version;

  // Worker
  const worker = await createWorker({ maxBatchSize: 8, batchTimeoutMs: 0, cache: true, onCrash: () => {} });
  const remote: Remote<MiniModel> = await worker.createModel(4, 2); // the README's words for it
  const callOptions: CallOptions = {};
  const workerIndex: RemoteIndex = await worker.createIndex(4);
  await workerIndex.add([1, 0, 0, 0], callOptions);
  await workerIndex.dispose();
  const declaredLimits: Limits | null = worker.limits;
  const declaredInfo: RuntimeInfo | null = worker.info;
  if (!declaredLimits || !declaredInfo) throw new Error("the worker's limits and info are known once it started");
  await remote.loadWeights([1, 0, 0, 0, 0, 1, 0, 0], [0.5, -0.5]);
  const controller = new AbortController();
  const remoteY: Float32Array = await remote.predict([1, 2, 3, 4], { signal: controller.signal });
  const burst: Float32Array[] = await Promise.all([1, 2, 3].map((v) => remote.predict([v, v, v, v])));
  const taken = new Float32Array([1, 2, 3, 4]);
  await remote.predict(taken, { transfer: true });
  const remoteBatch: Float32Array = await remote.predictBatch(new Float32Array(8).fill(1), 2);
  const remoteSize: number = remote.inputSize + remote.outputSize;
  /** What must not compile (never run: the checks are tsc's). */
  const typeErrors = () => {
    // @ts-expect-error -- a worker MiniModel has no loadLayer (it is a FeedForward method)
    void remote.loadLayer;
    // @ts-expect-error -- properties of a remote object are read-only copies
    remote.inputSize = 3;
    // @ts-expect-error -- a string is not numeric input
    void new MiniModel(1, 1).predict("1");
    // @ts-expect-error -- a remote call takes options last, not a second input
    void remote.predict([1, 2, 3, 4], [5]);
    // @ts-expect-error -- a TextEmbedder is loaded, never constructed
    void new TextEmbedder();
    // @ts-expect-error -- texts are strings
    void embedder.embed([1, 2]);
  };
  void typeErrors;
  await remote.dispose();

  const remoteNet = await worker.createFeedForward([3, 2]);
  await remoteNet.loadLayer(0, [1, 1, 1, 0, 0, 0]);
  const remoteNetY: Float32Array = await remoteNet.predict([1, 2, 3]);
  const remoteNetSizes: number[] = remoteNet.sizes;
  await remoteNet.dispose();
  const remoteLoaded = await worker.loadFeedForward("digits.safetensors");
  const remoteLoadedSizes: number[] = remoteLoaded.sizes;
  await remoteLoaded.dispose();
  const remoteHidden = await worker.loadModel("digits-hidden.safetensors");
  await remoteHidden.dispose();

  const remoteIndex = await worker.createIndex(3);
  await remoteIndex.add(rows);
  const remoteFound: { indices: Int32Array; scores: Float32Array } = await remoteIndex.search([1, 0.1, 0], 2);
  const remoteIndexSize: number = remoteIndex.size;
  const remoteSaved = await remoteIndex.toBytes();
  const remoteReloaded = await worker.loadIndex(remoteSaved);
  const remoteReloadedSize: number = remoteReloaded.size;
  await remoteReloaded.dispose();
  await remoteIndex.dispose();

  const remoteEmbedder = await worker.loadTextEmbedder();
  const progress: number[] = [];
  const remoteEmbedded: Float32Array = await remoteEmbedder.embed(["The weather is lovely today.", "It's so sunny outside!"], {
    onProgress: ({ done, total }) => progress.push(done / total),
    signal: controller.signal,
  });
  const remoteTokens: Int32Array = await remoteEmbedder.tokenize("Hello world");
  const remoteEmbedderDim: number = remoteEmbedder.dim + remoteEmbedder.maxTokens;
  await remoteEmbedder.dispose();

  const remoteCos: number = await worker.cosineSimilarity([1, 0], [1, 1]);
  const remoteUnit: Float32Array = await worker.normalizeRows([3, 4], 2);
  const remoteSoftmax: Float32Array = await worker.softmax([0, 0], { signal: controller.signal });
  const counters: number = worker.stats().batches + worker.stats().requests;
  const workerStats = await worker.debugStats();
  const workerInfo: string | undefined = worker.info?.pyodideVersion;
  const workerLimits = worker.limits;
  const batching: boolean = worker.batching && worker.options.maxBatchSize === 8;
  await worker.terminate();

  unsubscribe();

  return {
    stages, versions, fromCache, startedFrom, y: [...y], ys: [...ys], sizes, netOut: [...netOut], netBatch: [...netBatch], netSizes,
    loadedSizes, hidden, found: [[...found.indices], [...found.scores]], indexShape, cos, unit: [...unit],
    probabilities: [...probabilities], maxDim: sizeLimits.maxDim, proxies, pyodideVersion,
    remoteY: [...remoteY], burst: burst.map((b) => [...b]), transferred: taken.byteLength === 0,
    remoteBatch: [...remoteBatch], remoteSize, remoteNetY: [...remoteNetY], remoteNetSizes, remoteLoadedSizes,
    remoteFound: [[...remoteFound.indices], [...remoteFound.scores]], remoteIndexSize, remoteCos,
    remoteUnit: [...remoteUnit], remoteSoftmax: [...remoteSoftmax], counters, workerObjects: workerStats.objects,
    workerInfo, workerMaxDim: workerLimits?.maxDim, batching, maxFileBytes: MAX_WEIGHT_FILE_BYTES,
    reloadedSame, similarity, oneLength: one.length, tokens: [...tokens], embedderShape,
    remoteReloadedSize, remoteSimilarity: [...remoteEmbedded.slice(0, 3)], embeddedStart: [...embedded.slice(0, 3)],
    progress, remoteTokens: [...remoteTokens], remoteEmbedderDim,
  };
}

main().then(
  (result) => {
    window.usageResult = result;
  },
  (error: unknown) => {
    window.usageError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  },
);
