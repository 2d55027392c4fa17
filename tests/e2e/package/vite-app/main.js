// A Vite app using the npm package. The one step README documents for bundlers: the
// library's folder is copied into public/minimodel/ (Vite serves it as it is), and init()
// and createWorker() are told where it is with `baseURL`.
import { MiniModel, createWorker, init } from "minimodel-web";

const baseURL = "/minimodel/";

async function main() {
  await init({ baseURL });
  const model = new MiniModel(128, 10);
  const y = model.predict(new Float32Array(128).fill(0.5));
  model.dispose();
  const worker = await createWorker({ baseURL });
  const remote = await worker.createModel(128, 10);
  const remoteY = await remote.predict(new Float32Array(128).fill(0.5));
  await worker.terminate();
  return { y: Array.from(y), remoteY: Array.from(remoteY) };
}

main().then(
  (result) => {
    window.viteResult = result;
    document.getElementById("out").textContent = `predict: ${result.y[0].toFixed(4)}`;
  },
  (error) => {
    window.viteError = `${error.name}: ${error.message}`;
  },
);
