# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json
import os
import stat

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._release_store import isoformat, utc_now


@pytest.fixture(name="fleet_lock")
def fixture_fleet_lock(tmp_path):
    return str(tmp_path / "var" / "lib" / "fleetops" / "fleet.lock")


def take(path, holder="alice run r1", **args):
    return dict({"path": path, "holder": holder, "reason": "deploy v2", "run_id": holder.split()[-1], "ttl": 600}, **args)


def write_lock(path, **record):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(record, handle)


def test_fleet_lock_at_a_path(run_module, fleet_lock):
    result = run_module("release_lock", take(fleet_lock), diff=True)
    assert result["changed"] and result["path"] == fleet_lock and result["broken"] is None and result["previous"] is None
    assert result["lock"]["holder"] == "alice run r1" and result["lock"]["expires_at"]
    assert json.load(open(fleet_lock)) == result["lock"]
    assert stat.S_IMODE(os.stat(os.path.dirname(fleet_lock)).st_mode) == 0o750
    assert result["diff"]["before"] == "" and result["diff"]["after_header"] == fleet_lock
    again = run_module("release_lock", take(fleet_lock))
    assert not again["changed"]


def test_fleet_lock_held_names_holder_reason_times_and_how_to_break(run_module, fleet_lock):
    run_module("release_lock", take(fleet_lock))
    before = open(fleet_lock).read()
    refused = run_module("release_lock", take(fleet_lock, holder="bob run r2"))
    record = json.loads(before)
    assert refused["failed"] and fleet_lock in refused["msg"]
    assert "alice run r1 (run r1, reason: deploy v2) since %s, expires %s" % (record["since"], record["expires_at"]) in refused["msg"]
    assert "fleet_break_lock_of_run=r1" in refused["msg"] and "fleet_break_stale_lock=true" in refused["msg"]
    assert open(fleet_lock).read() == before


def test_breaking_a_stale_fleet_lock_is_reported_for_the_audit(run_module, fleet_lock):
    past = utc_now() - datetime.timedelta(hours=3)
    stale = {"holder": "carol run r0", "reason": "deploy v1", "run_id": "r0", "since": isoformat(past),
             "expires_at": isoformat(past + datetime.timedelta(hours=1))}
    write_lock(fleet_lock, **stale)
    refused = run_module("release_lock", take(fleet_lock))
    assert refused["failed"] and "expired lock of carol run r0" in refused["msg"] and "break_expired=true" in refused["msg"]
    check = run_module("release_lock", take(fleet_lock, break_expired=True), check_mode=True)
    assert check["changed"] and check["broken"] == stale and json.load(open(fleet_lock)) == stale
    result = run_module("release_lock", take(fleet_lock, break_expired=True))
    assert result["changed"] and result["broken"] == stale == result["previous"]
    assert json.load(open(fleet_lock))["broke"] == stale and json.load(open(fleet_lock))["holder"] == "alice run r1"


def test_breaking_the_lock_of_an_ended_run(run_module, fleet_lock):
    run_module("release_lock", take(fleet_lock, holder="carol run r0"))
    result = run_module("release_lock", take(fleet_lock, break_run="r0"))
    assert result["changed"] and result["broken"]["holder"] == "carol run r0"


def test_release_the_fleet_lock(run_module, fleet_lock):
    run_module("release_lock", take(fleet_lock))
    refused = run_module("release_lock", take(fleet_lock, holder="bob run r2", state="absent"))
    assert refused["failed"] and "not by bob run r2" in refused["msg"] and os.path.exists(fleet_lock)
    result = run_module("release_lock", take(fleet_lock, state="absent"), diff=True)
    assert result["changed"] and result["lock"] is None and result["broken"] is None and result["previous"]["holder"] == "alice run r1"
    assert not os.path.exists(fleet_lock) and result["diff"]["after"] == ""


def test_check_mode_creates_nothing(run_module, fleet_lock):
    result = run_module("release_lock", take(fleet_lock), check_mode=True)
    assert result["changed"] and not os.path.exists(os.path.dirname(fleet_lock))


def test_path_and_app_root_are_mutually_exclusive(run_module, fleet_lock, tmp_path):
    result = run_module("release_lock", take(fleet_lock, app_root=str(tmp_path / "app")))
    assert result["failed"] and "mutually exclusive: app_root|path" in result["msg"]


@pytest.mark.parametrize("bad, fragment", [("relative/fleet.lock", "absolute path"), ("DIR", "is a directory")])
def test_path_must_be_an_absolute_file_path(run_module, tmp_path, bad, fragment):
    path = str(tmp_path) if bad == "DIR" else bad
    result = run_module("release_lock", take(path))
    assert result["failed"] and fragment in result["msg"]
    if bad == "DIR":
        assert os.path.join(str(tmp_path), "fleet.lock") in result["msg"]


def test_host_lock_under_app_root_as_before(run_module, tmp_path):
    app_root = str(tmp_path / "app")
    result = run_module("release_lock", {"app_root": app_root, "holder": "alice", "ttl": 0})
    assert result["changed"] and result["path"] == os.path.join(app_root, ".fleet", "lock") and result["lock"]["expires_at"] is None
    assert stat.S_IMODE(os.stat(os.path.join(app_root, ".fleet")).st_mode) == 0o755
    negative = run_module("release_lock", {"app_root": app_root, "holder": "alice", "ttl": -1})
    assert negative["failed"] and "ttl must be 0" in negative["msg"]


def test_releasing_the_host_lock_leaves_the_runs_line_in_the_history(run_module, tmp_path):
    root = str(tmp_path / "app")
    holder = {"app_root": root, "holder": "alice@ctl run r9"}
    assert run_module("release_lock", dict(holder, run_id="r9"))["changed"]
    summary = {"run_id": "r9", "operation": "rollback", "actor": "alice", "from": "v2", "to": "v1", "outcome": "switched",
               "started": 1795000000, "finished": 1795000060, "wave": 1}
    checked = run_module("release_lock", dict(holder, state="absent", run_summary=summary), check_mode=True)
    assert checked["history"]["run_id"] == "r9" and not os.path.exists(os.path.join(root, ".fleet", "history.jsonl"))
    result = run_module("release_lock", dict(holder, state="absent", run_summary=summary))
    assert result["changed"] and result["history"]["event"] == "run" and result["history"]["outcome"] == "switched"
    with open(os.path.join(root, ".fleet", "history.jsonl")) as handle:
        lines = [json.loads(line) for line in handle]
    assert lines == [result["history"]] and "wave" not in lines[0] and lines[0]["started"] == "2026-11-18T11:06:40Z"
    # A host whose lock is already gone still gets its line; taking a lock with a summary is refused.
    again = run_module("release_lock", dict(holder, state="absent", run_summary=summary))
    assert not again["changed"] and again["history"]["run_id"] == "r9"
    refused = run_module("release_lock", dict(holder, run_summary=summary))
    assert refused["failed"] and "state=absent" in refused["msg"] and not os.path.exists(os.path.join(root, ".fleet", "lock"))


def test_taking_the_host_lock_can_read_the_host_in_the_same_call(run_module, tmp_path, tarball):
    from ansible_collections.fleetops.release.plugins.module_utils._release_store import ReleaseStore
    store = ReleaseStore(str(tmp_path / "app"))
    for release in ("v1", "v2"):
        store.create_release(release, artifact=tarball(tmp_path / (release + ".tar.gz"), release))
        store.switch(release)
    args = {"app_root": store.root, "holder": "alice@ctl run r9", "run_id": "r9"}
    checked = run_module("release_lock", dict(args, read={}), check_mode=True)
    assert checked["info"]["rollback_target"] == "v1" and checked["info"]["lock"] is None
    assert not os.path.exists(store.lock_path)
    result = run_module("release_lock", dict(args, read={"release": "v2"}))
    info = run_module("release_info", {"app_root": store.root, "release": "v2", "history_lines": 0})
    assert result["info"] == {key: value for key, value in info.items() if key not in ("changed", "invocation")}
    assert result["info"]["lock"]["holder"] == "alice@ctl run r9" and result["info"]["current"] == "v2"
    # Somebody else is refused, with the holder's record to build a table from.
    refused = run_module("release_lock", {"app_root": store.root, "holder": "bob run r10", "read": {}})
    assert refused["failed"] and refused["held"]["holder"] == "alice@ctl run r9" and "info" not in refused


def test_a_host_that_cannot_be_read_is_not_left_locked(run_module, tmp_path):
    root = tmp_path / "app"
    (root / ".fleet").mkdir(parents=True)
    (root / ".fleet" / "state.json").write_text("{not json")
    result = run_module("release_lock", {"app_root": str(root), "holder": "alice run r1", "read": {}})
    assert result["failed"] and "state.json" in result["msg"]
    assert not os.path.exists(root / ".fleet" / "lock")
    refused = run_module("release_lock", {"app_root": str(root), "holder": "alice run r1", "state": "absent", "read": {}})
    assert refused["failed"] and "state=present" in refused["msg"]
