"""web/lib/checksum.js, the check of this browser's cache entries: each lane is
MurmurHash3 (x86, 32-bit) of every fourth word of the zero-padded bytes, compared with the
reference implementation (the mmh3 package, C); and damage is caught: every single-bit
flip, every change of length, damaged runs anywhere in a large buffer, whatever the view's
alignment."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import mmh3

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344]

# Prints the checksum of each buffer in the JSON list of hex strings on stdin; with an odd
# "offset", the buffer is read through an unaligned view.
SCRIPT = """
import { checksum } from "%(lib)s/checksum.js";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map(({ hex, offset }) => {
  const bytes = Buffer.from(hex, "hex");
  const backing = new Uint8Array(bytes.length + offset);
  backing.set(bytes, offset);
  return checksum(offset ? backing.subarray(offset) : backing.buffer);
});
console.log(JSON.stringify(out));
"""


def checksums(tmp_path: Path, buffers: list[bytes], offset: int = 0) -> list[str]:
    node = shutil.which("node")
    assert node, "Node.js is needed for the JavaScript unit tests"
    script = tmp_path / "checksum.mjs"
    script.write_text(SCRIPT % {"lib": (ROOT / "web" / "lib").as_posix()})
    result = subprocess.run(
        [node, str(script)],
        input=json.dumps([{"hex": b.hex(), "offset": offset} for b in buffers]),
        capture_output=True, text=True, timeout=120, check=True,
    )
    return json.loads(result.stdout)


def reference(data: bytes) -> str:
    padded = data + bytes(-len(data) % 16)
    lanes = [b"".join(padded[j:j + 4] for j in range(4 * i, len(padded), 16)) for i in range(4)]
    return f"{len(data):x}-" + "".join(f"{mmh3.hash(lane, seed, signed=False):08x}" for lane, seed in zip(lanes, SEEDS))


def test_each_lane_is_murmurhash3_of_every_fourth_word(tmp_path):
    rng = random.Random(1)
    buffers = [bytes(rng.getrandbits(8) for _ in range(n)) for n in [*range(41), 1000, 4099]]
    buffers += [bytes(64), b"\xff" * 33]
    assert checksums(tmp_path, buffers) == [reference(b) for b in buffers]
    assert checksums(tmp_path, buffers, offset=1) == [reference(b) for b in buffers]  # unaligned views


def test_every_bit_flip_and_every_change_of_length_is_caught(tmp_path):
    rng = random.Random(2)
    data = bytes(rng.getrandbits(8) for _ in range(67))  # whole blocks, words and bytes left over
    flipped = [data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1:] for i in range(len(data)) for bit in range(8)]
    resized = [data[:n] for n in range(len(data))] + [data + bytes(n) for n in range(1, 20)]
    original, *others = checksums(tmp_path, [data, *flipped, *resized])
    assert original not in others
    assert len(set(others[:len(flipped)])) == len(flipped)


def test_damaged_runs_in_a_large_buffer_are_caught(tmp_path):
    rng = random.Random(3)
    data = rng.randbytes(1 << 20)
    damaged = []
    for _ in range(100):
        length = rng.choice([1, 4, 16, 32, 512, 4096])
        at = rng.randrange(len(data) - length)
        changed = data[:at] + rng.randbytes(length) + data[at + length:]
        if changed != data:
            damaged.append(changed)
    damaged.append(data[:4096] + bytes(4096) + data[8192:])  # a block zeroed
    damaged.append(data[16:32] + data[:16] + data[32:])  # two blocks swapped
    original, *others = checksums(tmp_path, [data, *damaged])
    assert original not in others
