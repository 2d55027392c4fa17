// One thread of window.fmaPeak (bench.js): { url } instantiates peak.wasm and answers when
// ready; { run: n } runs n iterations of its 12 chains 5 times and answers the best GFLOP/s.
let peak;
self.onmessage = async ({ data }) => {
  if (data.url) {
    ({ instance: { exports: { peak } } } = await WebAssembly.instantiateStreaming(fetch(data.url)));
    peak(1000, 1); // warm up (and tier up)
    postMessage("ready");
    return;
  }
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    peak(data.run, 1);
    best = Math.min(best, performance.now() - t0);
  }
  // Each iteration: 12 chains x 4 lanes x (one multiply + one add).
  postMessage((data.run * 12 * 4 * 2) / (best * 1e-3) / 1e9);
};
