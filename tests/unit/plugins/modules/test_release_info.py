# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._release_store import ReleaseStore


@pytest.fixture(name="store")
def fixture_store(tmp_path, tarball):
    store = ReleaseStore(str(tmp_path / "app"))
    for release in ("v1", "v2", "v3"):
        store.create_release(release, artifact=tarball(tmp_path / (release + ".tar.gz"), release))
        store.switch(release)
    return store


def test_without_marks_nothing_changes(run_module, store):
    result = run_module("release_info", {"app_root": store.root})
    assert result["bad"] == {} and [item["bad"] for item in result["releases"]] == [False, False, False]
    assert (result["rollback_target"], result["rollback_target_reason"]) == ("v2", "newest release older than v3")
    assert result["previous"] == "v2" and not result["changed"]


def test_reports_bad_releases_and_skips_them(run_module, store):
    store.mark_bad("v2", actor="alice", reason="5xx", run_id="r7")
    result = run_module("release_info", {"app_root": store.root})
    assert list(result["bad"]) == ["v2"] and result["bad"]["v2"]["by"] == "alice"
    assert {item["id"]: item["bad"] for item in result["releases"]} == {"v1": False, "v2": True, "v3": False}
    assert result["rollback_target"] == "v1" and "v2 was marked bad by alice" in result["rollback_target_reason"]
    assert result["previous"] == "v2"  # the fact stays; only the target skips it
    assert result["history"][-1]["operation"] == "mark_bad"


def test_named_bad_target_needs_allow_bad(run_module, store):
    store.mark_bad("v1", actor="alice", reason="data loss", run_id="r3")
    refused = run_module("release_info", {"app_root": store.root, "release": "v1"})
    assert not refused.get("failed") and refused["rollback_target"] is None
    reason = refused["rollback_target_reason"]
    assert "v1 was marked bad by alice at" in reason and "in run r3 (reason: data loss)" in reason
    assert "fleet_allow_bad_release=true" in reason
    allowed = run_module("release_info", {"app_root": store.root, "release": "v1", "allow_bad": True})
    assert allowed["rollback_target"] == "v1" and "allowed by allow_bad" in allowed["rollback_target_reason"]


def test_no_target_left(run_module, store):
    store.mark_bad("v1")
    store.mark_bad("v2")
    result = run_module("release_info", {"app_root": store.root})
    assert result["rollback_target"] is None and result["rollback_target_reason"].startswith("every release older than v3 is marked bad")
