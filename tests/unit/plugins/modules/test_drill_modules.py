# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""drill_info (the drills kept beside the audit records, their freshness) and drill_host_info (a host's release and
keyed configuration digests), run in-process."""

from __future__ import annotations

import json
import time

from ansible_collections.fleetops.release.plugins.module_utils._release_store import ReleaseStore


def keep(directory, run_id, group, ok, finished):
    folder = directory / "drills"
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished))
    report = {"event": "drill", "run_id": run_id, "group": group, "ok": ok, "outcome": "ok" if ok else "failed",
              "started_at": stamp, "finished_at": stamp, "figures": {"time_to_recover_outside": 1.5}, "end_state": {"matched": ok}}
    (folder / (run_id + ".json")).write_text(json.dumps(report))


def test_drill_info_lists_and_judges_freshness(run_module, tmp_path):
    now = time.time()
    keep(tmp_path, "d1", "staging", True, now - 10 * 86400)
    keep(tmp_path, "d2", "staging", False, now - 86400)
    result = run_module("drill_info", {"directory": str(tmp_path), "max_age": "7d"})
    assert [item["run_id"] for item in result["drills"]] == ["d1", "d2"]
    assert result["last"]["staging"]["run_id"] == "d2" and result["last_ok"]["staging"]["run_id"] == "d1"
    assert result["freshness"]["fresh"] is False and "longer ago than fleet_drill_max_age" in result["freshness"]["message"]
    assert run_module("drill_info", {"directory": str(tmp_path), "max_age": "30d"})["freshness"]["fresh"] is True
    bad = run_module("drill_info", {"directory": str(tmp_path), "max_age": "a week"})
    assert bad["failed"] and "max_age" in bad["msg"]


def test_drill_host_info_digests_configuration(run_module, tmp_path, tarball):
    store = ReleaseStore(str(tmp_path / "app"))
    store.ensure_layout()
    store.create_release("r1", artifact=tarball(tmp_path / "r1.tar.gz", "r1"))
    store.switch("r1")
    conf = tmp_path / "etc"
    conf.mkdir()
    (conf / "app.conf").write_text("listen = 1\n")
    args = {"app_root": str(tmp_path / "app"), "config_paths": [str(conf)], "digest_key": "k"}
    first = run_module("drill_host_info", args)
    assert first["current"] == "r1" and not first["changed"] and set(first["config"]) == {str(conf)}
    assert run_module("drill_host_info", args)["config"] == first["config"]
    (conf / "app.conf").write_text("listen = 2\n")
    assert run_module("drill_host_info", args)["config"] != first["config"]
    assert "k" not in json.dumps(first.get("invocation", {}).get("module_args", {}).get("digest_key", ""))
