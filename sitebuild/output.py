"""Write the assembled site into dist/: only files whose bytes changed, stale files removed."""

from __future__ import annotations

from pathlib import Path

from .common import log


def write_tree(files: dict[str, bytes], target: Path) -> tuple[int, int]:
    """Make ``target`` hold exactly ``files``; returns (written, removed)."""
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    for rel, data in files.items():
        path = target / rel
        if path.exists() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        written += 1
        log(f"wrote {target.name}/{rel} ({len(data):,} bytes)")
    removed = 0
    for path in sorted(target.rglob("*"), reverse=True):
        rel = path.relative_to(target).as_posix()
        if path.is_file() and rel not in files:
            path.unlink()
            removed += 1
            log(f"removed stale {target.name}/{rel}")
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    total = sum(len(d) for d in files.values())
    log(f"{target.name}/ has {len(files)} files ({total / 2**20:.1f} MiB): {written} written, {removed} removed, "
        f"{len(files) - written} unchanged")
    return written, removed
