# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release_adopt module: arguments, check mode, diff, idempotence and refusals (layouts: test_adopt.py)."""

from __future__ import annotations

import json
import os

from ansible_collections.fleetops.release.plugins.module_utils._release_store import MANIFEST_NAME, ReleaseStore


def deployer(root):
    """Deployer's layout (recipe/deploy/release.php, symlink.php): .dep/releases_log, releases/<n>, relative current."""
    os.makedirs(os.path.join(root, ".dep"))
    with open(os.path.join(root, ".dep", "releases_log"), "w") as handle:
        for name in ("1", "2"):
            handle.write(json.dumps({"created_at": "2024-01-0%sT12:00:00+0000" % name, "release_name": name, "user": "deploy",
                                     "target": "HEAD"}, separators=(",", ":")) + "\n")
            os.makedirs(os.path.join(root, "releases", name))
            with open(os.path.join(root, "releases", name, "REVISION"), "w") as revision:
                revision.write("abc%s\n" % name)
    os.symlink("releases/2", os.path.join(root, "current"))


def test_adopt_check_mode_diff_then_idempotent(run_module, tmp_path):
    root = str(tmp_path / "app")
    deployer(root)
    check = run_module("release_adopt", {"app_root": root}, check_mode=True, diff=True)
    assert check["changed"] and check["written"] == ["1", "2"] and check["from"] == "deployer"
    assert not os.path.exists(os.path.join(root, ".fleet")) and not os.path.exists(os.path.join(root, "releases", "1", MANIFEST_NAME))
    after = json.loads(check["diff"]["after"])
    assert after["manifests"] == ["1", "2"] and after["state.json"]["current"] == "2" and after["state.json"]["adopted"]["from"] == "deployer"
    assert json.loads(check["diff"]["before"])["state.json"]["current"] is None

    result = run_module("release_adopt", {"app_root": root, "actor": "alice"})
    assert result["changed"] and result["release_ids"] == ["1", "2"] and result["previous"] == "1"
    assert [item["written"] for item in result["releases"]] == [True, True]
    state = ReleaseStore(root).read_state()
    assert state["adopted"]["by"] == "alice" and state["adopted"]["releases"] == ["1", "2"]

    again = run_module("release_adopt", {"app_root": root, "from": "deployer"}, diff=True)
    assert not again["changed"] and again["written"] == [] and again["diff"]["before"] == again["diff"]["after"]


def test_refusals_name_what_to_do(run_module, tmp_path):
    root = str(tmp_path / "app")
    os.makedirs(os.path.join(root, "releases", "a"))
    result = run_module("release_adopt", {"app_root": root})
    assert result["failed"] and "fleet_adopt_from" in result["msg"]
    result = run_module("release_adopt", {"app_root": root, "tool": "deploy_helper"})
    assert result["failed"] and "fleet_adopt_order" in result["msg"] and "a" in result["msg"]
    result = run_module("release_adopt", {"app_root": root, "from": "deploy_helper", "order": ["a"]})
    assert result["changed"] and result["release_ids"] == ["a"] and result["current"] is None
    result = run_module("release_adopt", {"app_root": root, "from": "mina"})
    assert result["failed"] and "value of from must be one of" in result["msg"]
