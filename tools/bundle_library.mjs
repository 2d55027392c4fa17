// The library's JavaScript as the site and the npm package ship it: each entry point of
// web/lib (minimodel.js, which pages import; worker.js, which createWorker() starts) bundled
// with every module it imports, the dynamically imported worker-client.js included, into one
// ES module. A browser then fetches one file where it used to follow web/lib's imports level
// by level (five levels, each a request that a repeat visit revalidates). Not minified: the
// modules keep their code and comments, each under a "// web/lib/<module>.js" line, so a
// stack trace is read without a source map. Run by the build (sitebuild/library.py):
//
//     node tools/bundle_library.mjs OUT_DIR
//
// writes OUT_DIR/<entry> for each entry point.

import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { rolldown } from "rolldown";

const LIB = join(dirname(fileURLToPath(import.meta.url)), "..", "web", "lib");
const ENTRIES = ["minimodel.js", "worker.js"];

const [outDir] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node tools/bundle_library.mjs OUT_DIR");
  process.exit(2);
}

for (const entry of ENTRIES) {
  const bundle = await rolldown({
    input: join(LIB, entry),
    platform: "browser",
    // Every warning is a build error: an unresolved import or a dynamic import left behind
    // would fail in the visitor's browser, not here.
    onLog(level, log) {
      if (level === "warn") throw new Error(`bundling ${entry}: ${log.message}`);
    },
  });
  try {
    const { output } = await bundle.write({
      dir: outDir,
      entryFileNames: entry,
      format: "esm",
      codeSplitting: false,
    });
    const chunks = output.filter((item) => item.type === "chunk");
    if (chunks.length !== 1) throw new Error(`bundling ${entry} made ${chunks.length} files, not one`);
  } finally {
    await bundle.close();
  }
}
// The bundles must not import anything but what the loader imports at run time (Pyodide's
// pyodide.mjs, by a URL it computes).
for (const entry of ENTRIES) {
  const code = await readFile(join(outDir, entry), "utf8");
  const left = code.match(/^\s*(import|export)\s[^;]*\sfrom\s/m);
  if (left) throw new Error(`${entry} still imports a module: ${left[0].trim()}`);
}
