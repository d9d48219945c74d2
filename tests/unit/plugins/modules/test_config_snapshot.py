# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""config_snapshot and config_snapshot_info with --diff: a file in a private directory, or listed in secret_paths, is
never printed (issue 14: a 0644 file inside a 0700 directory was shown in full)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest


@pytest.fixture(name="tree")
def fixture_tree():
    """/tmp/<x>/etc/app/{private (0700)/db.conf, public/{plain,token}.conf} (all files 0644) and /tmp/<x>/srv."""
    base = tempfile.mkdtemp(prefix="fleet-module-test-", dir="/tmp")
    os.chmod(base, 0o755)
    etc = os.path.join(base, "etc", "app")
    for rel, text in (("private/db.conf", "password = hunter2-first\n"), ("public/plain.conf", "plain = shown-first\n"),
                      ("public/token.conf", "token = tok-first\n")):
        path = os.path.join(etc, rel)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o644)
    os.chmod(os.path.join(etc, "private"), 0o700)
    yield base, etc
    shutil.rmtree(base)


def edit(etc, word):
    for rel, key in (("private/db.conf", "password = hunter2-"), ("public/plain.conf", "plain = shown-"), ("public/token.conf", "token = tok-")):
        with open(os.path.join(etc, rel), "w") as handle:
            handle.write(key + word + "\n")


def test_diffs_and_results_never_show_a_secret(run_module, tree):
    base, etc = tree
    args = {"app_root": os.path.join(base, "srv"), "paths": [os.path.join(etc, "private"), os.path.join(etc, "public")],
            "secret_paths": [os.path.join(etc, "public", "token*")]}
    first = run_module("config_snapshot", dict(args, release="v1"), diff=True)
    text = json.dumps(first)
    assert first["changed"] and "shown-first" in text  # a public file's content is shown
    for needle in ("hunter2", "tok-first"):
        assert needle not in text
    diffs = {item["after_header"].split(" ")[0]: item for item in first["diff"]}
    assert diffs[os.path.join(etc, "private", "db.conf")]["after"].endswith("\n<secret: content not shown; sha256 changed>\n")
    entries = {entry["path"]: entry for entry in first["entries"]}
    assert entries[os.path.join(etc, "private", "db.conf")]["secret"] and "sha256" not in entries[os.path.join(etc, "private", "db.conf")]
    assert entries[os.path.join(etc, "public", "token.conf")]["secret"]
    assert not entries[os.path.join(etc, "public", "plain.conf")]["secret"]

    edit(etc, "second")
    forced = run_module("config_snapshot", dict(args, release="v1", force=True), diff=True)
    info = run_module("config_snapshot_info", {"app_root": args["app_root"], "release": "v1", "secret_paths": args["secret_paths"]})
    edit(etc, "third")
    restored = run_module("config_snapshot", dict(args, release="v1", state="restored"), diff=True)
    drift = run_module("config_snapshot_info", {"app_root": args["app_root"], "release": "v1", "secret_paths": args["secret_paths"]})
    text = json.dumps([forced, info, restored, drift])
    assert "shown-second" in text and "shown-third" in text
    plain = next(item for item in restored["diff"] if "plain.conf" in item["before_header"])
    assert plain["before"].endswith("plain = shown-third\n") and plain["after"].endswith("plain = shown-second\n")
    for needle in ("hunter2", "tok-first", "tok-second", "tok-third"):
        assert needle not in text
    with open(os.path.join(etc, "private", "db.conf")) as handle:
        assert handle.read() == "password = hunter2-second\n"
    for row in drift["drift"]:
        if "private" in row["path"] or "token" in row["path"]:
            assert row["secret"] and "sha256" not in row["live"]


def test_a_relative_secret_path_is_refused(run_module, tree):
    base, etc = tree
    result = run_module("config_snapshot", {"app_root": os.path.join(base, "srv"), "release": "v1", "paths": [etc],
                                            "secret_paths": ["conf.d/*"]})
    assert result["failed"] and "absolute path or glob pattern" in result["msg"]
