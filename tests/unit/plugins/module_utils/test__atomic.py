# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

from ansible_collections.fleetops.release.plugins.module_utils._atomic import (
    append_line,
    atomic_symlink,
    atomic_write_bytes,
    atomic_write_json,
    read_json,
)


def test_atomic_write_replaces_content_and_sets_mode(tmp_path):
    path = str(tmp_path / "state.json")
    atomic_write_json(path, {"a": 1})
    atomic_write_bytes(path, b"{\"a\": 2}", mode=0o600)
    assert read_json(path) == {"a": 2}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ["state.json"]


def test_read_json_default(tmp_path):
    assert read_json(str(tmp_path / "missing"), default={}) == {}


def test_append_line(tmp_path):
    path = str(tmp_path / "h.jsonl")
    append_line(path, "one")
    append_line(path, "two\n")
    assert open(path).read() == "one\ntwo\n"


def test_atomic_symlink_leaves_no_temp_links(tmp_path):
    (tmp_path / "releases" / "a").mkdir(parents=True)
    (tmp_path / "releases" / "b").mkdir()
    link = str(tmp_path / "current")
    atomic_symlink("releases/a", link)
    atomic_symlink("releases/b", link)
    assert os.readlink(link) == "releases/b"
    assert sorted(os.listdir(str(tmp_path))) == ["current", "releases"]


READER = """
import os, sys
link, stop = sys.argv[1], sys.argv[2]
reads = problems = 0
while not os.path.exists(stop):
    try:
        with open(os.path.join(link, "VERSION")) as handle:
            if handle.read() not in ("a", "b"):
                problems += 1
    except OSError:
        problems += 1
    reads += 1
print(reads, problems)
"""


def test_current_is_never_missing_or_dangling_while_switching(tmp_path):
    """1000 switches while another process reads through the link: it always resolves to a complete release."""
    for name in ("a", "b"):
        (tmp_path / "releases" / name).mkdir(parents=True)
        (tmp_path / "releases" / name / "VERSION").write_text(name)
    link = str(tmp_path / "current")
    stop = tmp_path / "stop"
    atomic_symlink("releases/a", link)
    reader = subprocess.Popen([sys.executable, "-c", READER, link, str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.2)  # let the reader start before the first switch
        for index in range(1000):
            atomic_symlink("releases/%s" % ("b" if index % 2 == 0 else "a"), link)
    finally:
        stop.write_text("")
        out, dummy = reader.communicate(timeout=60)
    reads, problems = (int(value) for value in out.split())
    assert problems == 0
    assert reads > 0
