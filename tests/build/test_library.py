"""The shipped library (sitebuild/library.py): lib/minimodel.js and lib/worker.js are web/lib's
two entry points bundled, each one module that imports nothing, and the page's bundle exports
exactly what web/lib/minimodel.js exports (read by Node from both). That they run is what
every e2e test checks: the pages and workers there load the bundles."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from sitebuild import config, library

# Prints the sorted export names and their kinds of each module given.
EXPORTS = """
const out = [];
for (const path of process.argv.slice(1)) {
  const module = await import(path);
  out.push(Object.keys(module).sort().map((name) => `${name}:${typeof module[name]}`));
}
console.log(JSON.stringify(out));
"""


def test_the_bundles_are_the_only_scripts_and_import_nothing(dist: Path):
    lib = dist / "lib"
    ours = sorted(path.name for path in lib.glob("*.js") if not path.name.startswith("pyodide"))
    assert ours == sorted(library.ENTRIES)
    for entry in library.ENTRIES:
        code = (lib / entry).read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|export)\s[^;]*\sfrom\s", code, re.M), entry
        # The one dynamic import left (outside comments, where JSDoc names types by import()) is
        # Pyodide's loader, by the URL the loader computes.
        uncommented = re.sub(r"^\s*//.*$", "", re.sub(r"/\*.*?\*/", "", code, flags=re.S), flags=re.M)
        assert re.findall(r"\bimport\(([^)]*)\)", uncommented) == ["loaderURL.href"], entry


def test_the_page_bundle_exports_what_the_source_does(dist: Path):
    node = shutil.which("node")
    assert node, "Node.js is needed for this test"
    source, bundle = config.WEB / "lib" / "minimodel.js", dist / "lib" / "minimodel.js"
    result = subprocess.run([node, "--input-type=module", "-e", EXPORTS, source.as_uri(), bundle.as_uri()],
                            capture_output=True, text=True, timeout=60, check=True)
    from_source, from_bundle = json.loads(result.stdout)
    assert from_bundle == from_source
    assert {"init:function", "MiniModel:function", "TextEmbedder:function", "createWorker:function"} <= set(from_bundle)
