"""The npm package as a web developer gets it: `npm pack` in the project, the tarball
installed into a fresh folder, then
  - what it holds (the library, README, LICENSE, the license list; nothing of the demo);
  - a strict TypeScript program over the whole API, compiled against the package's own
    types, run in Chromium from a plain page with an import map;
  - a Vite app built with Vite, with the one step README documents, in Chromium.
Installing a local tarball with no dependencies needs no registry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from conftest import LOAD_TIMEOUT_MS, ROOT, watch_page

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent / "package"
NPM = ["npm", "--no-audit", "--no-fund", "--loglevel=error"]
DEMO_FILES = {"index.html", "app.js", "boot.js", "style.css", "favicon.svg", "digits-demo.js", "bar-chart.js",
              "digits.safetensors", "digits-hidden.safetensors", "digits-data.json"}


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def tarball(dist, tmp_path_factory) -> Path:
    """`npm pack` of the project, after the build (as README says)."""
    out = tmp_path_factory.mktemp("pack")
    name = json.loads(run([*NPM, "pack", "--json", "--pack-destination", str(out)], ROOT))[0]["filename"]
    return out / name


@pytest.fixture(scope="module")
def app(tarball, dist, tmp_path_factory) -> Path:
    """A fresh folder with the tarball installed, and two weight files to load."""
    folder = tmp_path_factory.mktemp("app")
    (folder / "package.json").write_text(json.dumps({"name": "app", "private": True, "type": "module"}))
    run([*NPM, "install", "--offline", str(tarball)], folder)
    for name in ("digits.safetensors", "digits-hidden.safetensors"):
        shutil.copyfile(dist / name, folder / name)
    return folder


def result_in_chromium(browser, folder: Path, name: str, csp: str | None = None):
    """Serve ``folder`` on loopback, open it in a watched page and wait for the page's
    ``window[name + "Result"]`` (or fail with its ``window[name + "Error"]``)."""
    from static_server import CONTENT_SECURITY_POLICY, start_in_thread

    server, url = start_in_thread(folder, csp=csp or CONTENT_SECURITY_POLICY)
    try:
        context = browser.new_context()
        page = context.new_page()
        watch = watch_page(context, page)
        page.goto(url)
        page.wait_for_function(f"() => window.{name}Result || window.{name}Error", timeout=LOAD_TIMEOUT_MS)
        error = page.evaluate(f"window.{name}Error")
        assert error is None, error
        result = page.evaluate(f"window.{name}Result")
        watch.assert_clean()
        context.close()
        return result
    finally:
        server.shutdown()
        server.server_close()


def test_the_package_holds_the_library_and_its_licenses_only(tarball, dist):
    with tarfile.open(tarball) as archive:
        names = {member.name.removeprefix("package/") for member in archive.getmembers() if member.isfile()}
        manifest = json.load(archive.extractfile("package/package.json"))
    library = {f"dist/lib/{p.relative_to(dist / 'lib').as_posix()}" for p in (dist / "lib").rglob("*") if p.is_file()}
    assert names == {"package.json", "README.md", "LICENSE"} | library
    assert "dist/lib/THIRD_PARTY_LICENSES.md" in names and "dist/lib/minimodel.d.ts" in names
    assert not {Path(n).name for n in names} & DEMO_FILES, "a demo file is in the package"
    assert manifest["name"] == "minimodel-web" and manifest["type"] == "module"
    assert manifest["exports"]["."] == {"types": "./dist/lib/minimodel.d.ts", "default": "./dist/lib/minimodel.js"}
    assert not manifest.get("dependencies"), "the package ships the runtime itself and needs nothing else"


def test_a_strict_typescript_program_over_the_whole_api_compiles_and_runs(app, browser):
    shutil.copyfile(HERE / "usage.ts", app / "usage.ts")
    tsc = ROOT / "node_modules" / ".bin" / "tsc"
    run([str(tsc), "--strict", "--noUnusedLocals", "--target", "es2022", "--module", "es2022",
         "--moduleResolution", "bundler", "--lib", "es2023,dom,dom.iterable", "--skipLibCheck", "false",
         "--outDir", ".", "usage.ts"], app)
    import_map = json.dumps({"imports": {"minimodel-web": "./node_modules/minimodel-web/dist/lib/minimodel.js"}})
    (app / "index.html").write_text(
        f'<!doctype html><meta charset="utf-8"><title>app</title>\n'
        f'<script type="importmap">{import_map}</script>\n<script type="module" src="usage.js"></script>\n'
    )
    # The strict policy of the site, plus the hash of the page's one inline script (the import map).
    from static_server import CONTENT_SECURITY_POLICY

    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    csp = CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src 'self' 'sha256-{digest}'")
    got = result_in_chromium(browser, app, "usage", csp)
    assert got["stages"][-1] == "ready" and got["versions"][0] == "0.27.7"
    # The npm package ships the site's snapshot: a first visit restores it.
    assert got["startedFrom"] == "site" and got["fromCache"] is False
    assert got["y"] == pytest.approx([1.5, 1.5]) and got["remoteY"] == got["y"]
    assert got["ys"] == pytest.approx([1.5, 1.5, 4.5, 2.5])
    assert got["netOut"] == pytest.approx([3.0, 3.0]) and got["netSizes"] == [3, 4, 2]
    assert got["loadedSizes"] == [64, 32, 10] == got["remoteLoadedSizes"] and got["hidden"] == 32
    assert got["found"][0] == [0, 2] == got["remoteFound"][0]
    assert got["cos"] == pytest.approx(2**-0.5) == got["remoteCos"]
    assert got["unit"] == pytest.approx([0.6, 0.8]) == got["remoteUnit"]
    assert got["probabilities"] == [0.5, 0.5] == got["remoteSoftmax"]
    assert [b[0] for b in got["burst"]] == pytest.approx([1.5, 2.5, 3.5]) and got["transferred"]
    assert got["remoteNetY"] == pytest.approx([6.0, 0.0]) and got["remoteIndexSize"] == 3
    assert got["batching"] and got["workerInfo"] == "0.27.7" and got["maxFileBytes"] == 2**30
    assert got["reloadedSame"] and got["remoteReloadedSize"] == 3
    assert got["similarity"] == pytest.approx(0.666, abs=1e-3) and got["oneLength"] == 384
    assert got["tokens"] == got["remoteTokens"] == [101, 7592, 2088, 102]
    assert got["embedderShape"] == [384, 256] and got["remoteEmbedderDim"] == 384 + 256
    assert got["remoteSimilarity"] == got["embeddedStart"] and got["progress"][-1] == 1


def test_a_vite_app_builds_and_runs_with_the_documented_step(app, browser):
    project = app.parent / "vite-app"
    shutil.copytree(HERE / "vite-app", project, dirs_exist_ok=True)
    shutil.copytree(app / "node_modules", project / "node_modules", dirs_exist_ok=True, symlinks=True)
    # The one step (README, "Install from npm"): the library's folder, served as it is.
    shutil.copytree(project / "node_modules" / "minimodel-web" / "dist" / "lib", project / "public" / "minimodel")
    vite = ROOT / "node_modules" / ".bin" / "vite"
    run([str(vite), "build", "--logLevel", "warn"], project)
    got = result_in_chromium(browser, project / "dist", "vite")
    np.testing.assert_allclose(got["y"], np.full(10, 0.64), rtol=1e-5)
    assert got["remoteY"] == got["y"]
