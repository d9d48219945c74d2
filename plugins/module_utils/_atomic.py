# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Crash-safe file operations: every change is a rename(2) of a complete, fsynced file."""

from __future__ import annotations

import json
import os
import tempfile


def fsync_dir(path):
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path, data, mode=0o644):
    """Replace ``path`` with ``data``: temp file in the same directory, fsync, rename.

    A reader (or a crash) sees either the old or the new content, never a partial file.
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def atomic_write_json(path, data, mode=0o644):
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"), mode)


def append_line(path, line):
    """Append one line (a JSON record) with O_APPEND, so concurrent writers never interleave within a line."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_symlink(target, link_path):
    """Point ``link_path`` at ``target`` by renaming a freshly made symlink over it.

    rename(2) replaces the old link in one step, so ``link_path`` is never missing or dangling
    (unlike ``ln -sfn``, which unlinks first on older coreutils).
    """
    directory = os.path.dirname(link_path) or "."
    for attempt in range(100):
        tmp = os.path.join(directory, ".tmp-%s-%d-%d" % (os.path.basename(link_path), os.getpid(), attempt))
        try:
            os.symlink(target, tmp)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 stale temp links of our own pid
        raise OSError("cannot create a temporary symlink in %s" % directory)
    try:
        os.replace(tmp, link_path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def read_json(path, default=None):
    """Read a JSON file; ``default`` when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return default
