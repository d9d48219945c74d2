# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a release artifact of the fleet demo app: a deterministic .tar.gz with its members at the root.

    python3 tests/fleet/build_release.py --id ID --out PATH [--behaviour key=value ...] [--pad-bytes N]

Members, in this order: app.py, VERSION (the id), behaviour.json (only with --behaviour), pad.bin (only
with --pad-bytes, N pseudo-random bytes so that the artifact has a known, incompressible size).  Fixed
mtimes, owners, modes and order and a gzip header without name or time make the same inputs give the same
sha256.  Prints a JSON line: {"path": ..., "sha256": ..., "size": ...}.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import re
import sys
import tarfile
from pathlib import Path

APP_SOURCE = Path(__file__).resolve().parent / "app.py"
MEMBER_MTIME = 1700000000  # 2023-11-14, any fixed value does
PAD_BLOCK = 65536
RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
BEHAVIOUR_DEFAULTS = {"health": "ok", "report_release": None, "delay_seconds": 0, "error_rate": 0.0, "crash": False,
                      "cpu_load": 0.0}


class BehaviourError(ValueError):
    pass


def validate_behaviour(behaviour: dict) -> dict:
    """Check a behaviour mapping (see app.py); return it unchanged."""
    for key, value in behaviour.items():
        if key not in BEHAVIOUR_DEFAULTS:
            raise BehaviourError(f"unknown behaviour {key!r}; known: {', '.join(BEHAVIOUR_DEFAULTS)}")
        if key == "health" and value not in ("ok", "fail"):
            raise BehaviourError(f"health must be 'ok' or 'fail', not {value!r}")
        if key == "report_release" and value is not None and not isinstance(value, str):
            raise BehaviourError(f"report_release must be null or a string, not {value!r}")
        if key in ("delay_seconds", "error_rate", "cpu_load") and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise BehaviourError(f"{key} must be a number >= 0, not {value!r}")
        if key == "crash" and not isinstance(value, bool):
            raise BehaviourError(f"crash must be true or false, not {value!r}")
        if key == "error_rate" and value > 1:
            raise BehaviourError(f"error_rate must be between 0 and 1, not {value!r}")
        if key == "cpu_load" and value > 0.5:
            raise BehaviourError(f"cpu_load is a fraction of one core, at most 0.5, not {value!r}")
    return behaviour


def parse_behaviour(items) -> dict:
    """key=value strings to a mapping; values are JSON when they parse as JSON (0.5, null), else strings (fail)."""
    behaviour = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise BehaviourError(f"--behaviour wants key=value, not {item!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        behaviour[key.strip()] = value
    return validate_behaviour(behaviour)


class _PadReader:
    """A file-like source of N deterministic pseudo-random bytes, produced in fixed blocks whatever the read sizes."""

    def __init__(self, seed: str, size: int):
        self._rng = random.Random(seed)
        self._left = size
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._left + len(self._buffer)
        while len(self._buffer) < size and self._left > 0:
            block = min(PAD_BLOCK, self._left)
            self._buffer += self._rng.randbytes(PAD_BLOCK)[:block]
            self._left -= block
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def _member(name: str, size: int, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = MEMBER_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.type = tarfile.REGTYPE
    return info


def build(release_id: str, out, behaviour: dict | None = None, pad_bytes: int = 0) -> str:
    """Write the artifact to out (atomically) and return its sha256 (hex)."""
    if not RELEASE_ID.match(release_id):
        raise ValueError(f"release id {release_id!r} must be 1-128 of [A-Za-z0-9._-], starting with a letter or digit")
    if pad_bytes < 0:
        raise ValueError("pad_bytes must be >= 0")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    members = [("app.py", APP_SOURCE.read_bytes()), ("VERSION", f"{release_id}\n".encode())]
    if behaviour:
        members.append(("behaviour.json", (json.dumps(validate_behaviour(dict(behaviour)), indent=2, sort_keys=True) + "\n").encode()))
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for name, data in members:
                    tar.addfile(_member(name, len(data)), io.BytesIO(data))
                if pad_bytes:
                    tar.addfile(_member("pad.bin", pad_bytes), _PadReader(f"{release_id}:{pad_bytes}", pad_bytes))
    os.replace(tmp, out)
    digest = hashlib.sha256()
    with open(out, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build a release artifact (.tar.gz) of the fleet demo app.")
    parser.add_argument("--id", required=True, dest="release_id", help="release id, written to VERSION")
    parser.add_argument("--out", required=True, help="path of the .tar.gz to write")
    parser.add_argument("--behaviour", action="append", default=[], metavar="KEY=VALUE",
                        help="test behaviour written to behaviour.json: health=ok|fail, report_release=ID|null, delay_seconds=N, error_rate=F, "
                             "crash=true|false, cpu_load=F (fraction of one core, at most 0.5)")
    parser.add_argument("--pad-bytes", type=int, default=0, metavar="N", help="add pad.bin with N pseudo-random bytes")
    args = parser.parse_args(argv)
    try:
        behaviour = parse_behaviour(args.behaviour)
        digest = build(args.release_id, args.out, behaviour=behaviour, pad_bytes=args.pad_bytes)
    except ValueError as exc:
        print(f"build_release: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"path": str(Path(args.out).absolute()), "sha256": digest, "size": os.path.getsize(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
