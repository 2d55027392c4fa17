"""The kernels step: compiled into a cache with clang, the committed build without it, and
`python build.py kernels` as the only writer of the committed files."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest

import build
from sitebuild import kernels
from sitebuild.common import BuildError, sha256

VARIANT = kernels.VARIANTS[0]  # SIMD128, the one Pyodide loads itself; the step's logic is the same for all
HAVE_CLANG = kernels.toolchain(VARIANT) is not None


def copy_variant(tmp_path, source_suffix: str = "") -> kernels.Variant:
    """The variant with its source, committed build and record copied into tmp_path."""
    (tmp_path / "k.c").write_text(VARIANT.source.read_text() + source_suffix)
    shutil.copyfile(VARIANT.committed, tmp_path / "k.wasm")
    shutil.copyfile(VARIANT.record, tmp_path / "k.wasm.json")
    return dataclasses.replace(VARIANT, source=tmp_path / "k.c", committed=tmp_path / "k.wasm")


@pytest.mark.parametrize("variant", kernels.VARIANTS, ids=[v.name for v in kernels.VARIANTS])
def test_committed_kernel_build_matches_its_source(variant):
    record = json.loads(variant.record.read_text())
    assert record["source_sha256"] == sha256(variant.source.read_bytes())
    assert record["wasm_sha256"] == sha256(variant.committed.read_bytes())
    assert record["flags"] == list(variant.flags)
    wasm = variant.committed.read_bytes()
    assert wasm[:4] == b"\0asm" and b"dylink.0" in wasm[:64]  # an Emscripten side module
    relaxed_madd = b"\xfd\x85\x02"  # f32x4.relaxed_madd
    assert (relaxed_madd in wasm) == (variant.name == "relaxed-simd")
    if kernels.toolchain(variant) is None:
        pytest.skip(f"{variant.compiler} and {variant.linker} are not installed: cannot recompile the kernels here")
    compiler, version = kernels.toolchain(variant)
    if version != record["compiler"]:
        pytest.skip(f"recorded with {record['compiler']}, this machine has {version}")
    assert kernels.compile_variant(variant, compiler) == wasm


def test_without_clang_the_committed_build_is_used(tmp_path):
    variant = copy_variant(tmp_path)
    data, source = kernels.kernel(variant, tmp_path / "cache", which=lambda name: None)
    assert data == VARIANT.committed.read_bytes()
    assert "committed" in source
    assert not (tmp_path / "cache").exists()


def test_kernel_source_change_without_compiler_is_refused(tmp_path):
    variant = copy_variant(tmp_path, "\n/* changed */\n")
    with pytest.raises(BuildError, match="changed since .* was built; install clang and wasm-ld"):
        kernels.kernel(variant, tmp_path / "cache", which=lambda name: None)


def test_tampered_committed_build_is_refused(tmp_path):
    variant = copy_variant(tmp_path)
    (tmp_path / "k.wasm").write_bytes(b"\0asm tampered")
    with pytest.raises(BuildError, match="does not match the sha256 in its record"):
        kernels.kernel(variant, tmp_path / "cache", which=lambda name: None)


@pytest.mark.skipif(not HAVE_CLANG, reason="clang and lld are not installed")
def test_with_clang_it_compiles_into_the_cache_and_never_writes_the_committed_files(tmp_path):
    variant = copy_variant(tmp_path, "\n/* changed */\n")
    committed = (tmp_path / "k.wasm").read_bytes(), (tmp_path / "k.wasm.json").read_bytes()
    data, source = kernels.kernel(variant, tmp_path / "cache")
    assert data[:4] == b"\0asm" and "at build time" in source
    (cached,) = (tmp_path / "cache").iterdir()
    assert cached.read_bytes() == data
    assert ((tmp_path / "k.wasm").read_bytes(), (tmp_path / "k.wasm.json").read_bytes()) == committed
    # a second build takes it from the cache (no compiler run)
    ran = []
    original = kernels.compile_variant
    kernels.compile_variant = lambda *a: ran.append(a) or original(*a)
    try:
        assert kernels.kernel(variant, tmp_path / "cache")[0] == data
    finally:
        kernels.compile_variant = original
    assert ran == []


def test_cache_key_depends_on_source_flags_and_compiler():
    key = kernels.cache_key(VARIANT, b"int x;", "clang 14")
    assert kernels.cache_key(VARIANT, b"int x;", "clang 14") == key
    assert kernels.cache_key(VARIANT, b"int y;", "clang 14") != key
    assert kernels.cache_key(VARIANT, b"int x;", "clang 19") != key
    assert kernels.cache_key(dataclasses.replace(VARIANT, flags=(*VARIANT.flags, "-mrelaxed-simd")), b"int x;",
                             "clang 14") != key


@pytest.mark.skipif(not HAVE_CLANG, reason="clang and lld are not installed")
def test_refresh_rewrites_the_committed_build_and_record(tmp_path):
    variant = copy_variant(tmp_path, "\n/* changed */\n")
    assert kernels.refresh_committed(variant) is True
    record = json.loads((tmp_path / "k.wasm.json").read_text())
    assert record["source_sha256"] == sha256((tmp_path / "k.c").read_bytes())
    assert record["wasm_sha256"] == sha256((tmp_path / "k.wasm").read_bytes())
    assert record["compiler"] == kernels.toolchain(variant)[1]
    assert kernels.refresh_committed(variant) is False  # nothing left to do
    # without clang the build now accepts it
    assert kernels.kernel(variant, tmp_path / "cache", which=lambda name: None)[0] == (tmp_path / "k.wasm").read_bytes()


def test_refresh_without_clang_says_what_to_install(tmp_path):
    with pytest.raises(BuildError, match="needs clang and wasm-ld"):
        kernels.refresh_committed(copy_variant(tmp_path), which=lambda name: None)


def test_kernels_command_is_documented():
    result = subprocess.run([sys.executable, str(build.ROOT / "build.py"), "--help"], capture_output=True, text=True,
                            check=True)
    assert "kernels" in result.stdout and "kernels/*.wasm" in result.stdout
