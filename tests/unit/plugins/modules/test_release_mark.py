# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import getpass
import json

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._release_store import ReleaseStore


@pytest.fixture(name="store")
def fixture_store(tmp_path, tarball):
    store = ReleaseStore(str(tmp_path / "app"))
    for release in ("v1", "v2", "v3"):
        store.create_release(release, artifact=tarball(tmp_path / (release + ".tar.gz"), release))
        store.switch(release)
    return store


def mark(store, **args):
    return dict({"app_root": store.root, "release": "v3", "reason": "5xx after deploy", "actor": "alice", "run_id": "r7"}, **args)


def test_mark_bad_then_again_is_idempotent(run_module, store):
    result = run_module("release_mark", mark(store), diff=True)
    assert result["changed"] and result["previous"] is None
    assert (result["mark"]["by"], result["mark"]["reason"], result["mark"]["run_id"]) == ("alice", "5xx after deploy", "r7")
    assert result["bad"] == {"v3": result["mark"]} == store.status()["bad"]
    assert json.loads(result["diff"]["before"]) == {} and json.loads(result["diff"]["after"]) == result["bad"]
    assert store.history()[-1]["operation"] == "mark_bad"
    again = run_module("release_mark", mark(store, actor="bob", reason="other"))
    assert not again["changed"] and again["mark"] == result["mark"] == again["previous"]


def test_mark_bad_in_check_mode_writes_nothing(run_module, store):
    before = open(store.state_path).read()
    result = run_module("release_mark", mark(store), check_mode=True, diff=True)
    assert result["changed"] and result["mark"]["by"] == "alice" and list(result["bad"]) == ["v3"]
    assert json.loads(result["diff"]["after"]) == result["bad"]
    assert open(store.state_path).read() == before


def test_clear_and_clear_again(run_module, store):
    run_module("release_mark", mark(store))
    check = run_module("release_mark", mark(store, state="good"), check_mode=True)
    assert check["changed"] and check["mark"] is None and check["bad"] == {} and "v3" in store.status()["bad"]
    result = run_module("release_mark", mark(store, state="good", reason="false alarm"))
    assert result["changed"] and result["previous"]["by"] == "alice" and result["bad"] == {} == store.status()["bad"]
    assert store.history()[-1]["operation"] == "mark_good" and store.history()[-1]["reason"] == "false alarm"
    again = run_module("release_mark", mark(store, state="good"))
    assert not again["changed"] and again["previous"] is None


def test_actor_defaults_to_the_user(run_module, store):
    result = run_module("release_mark", {"app_root": store.root, "release": "v2"})
    assert result["mark"]["by"] == getpass.getuser() and result["mark"]["reason"] is None


@pytest.mark.parametrize("state", ["bad", "good"])
def test_unknown_release_fails_naming_the_installed_ones_and_changes_nothing(run_module, store, state):
    before = open(store.state_path).read()
    result = run_module("release_mark", mark(store, release="v9", state=state))
    assert result["failed"] and "release v9 does not exist" in result["msg"] and "installed releases: v1, v2, v3" in result["msg"]
    assert open(store.state_path).read() == before


def test_invalid_release_id(run_module, store):
    result = run_module("release_mark", mark(store, release="../etc"))
    assert result["failed"] and "path traversal" in result["msg"]


def test_mark_with_unlock_releases_the_run_s_host_lock_and_writes_its_run_line(run_module, store):
    from ansible_collections.fleetops.release.plugins.module_utils._lock import FileLock
    holder = "alice@ctl run r7"
    FileLock(store.lock_path).acquire(holder, run_id="r7")
    summary = {"run_id": "r7", "from": "v3", "to": "v2", "outcome": "serving now", "actor": "alice", "operation": "rollback"}
    result = run_module("release_mark", mark(store, unlock={"holder": holder, "run_summary": summary}))
    assert result["changed"] and result["unlocked"] is True and result["history"]["outcome"] == "serving now"
    assert store.history()[-1]["event"] == "run" and store.history()[-2]["operation"] == "mark_bad"
    # A lock this run released already is free: the call goes on and writes the (corrected) run line.
    result = run_module("release_mark", mark(store, release="v1", unlock={"holder": holder, "run_summary": dict(summary, outcome="idle")}))
    assert result["changed"] and result["unlocked"] is False and store.history()[-1]["outcome"] == "idle"
    assert "v1" in store.status()["bad"]
    # Another run's lock is never released, and the call changes nothing under it: refused naming the holder.
    run_module("release_mark", mark(store, release="v1", state="good"))
    FileLock(store.lock_path).acquire("bob@ctl run r8", run_id="r8")
    before = open(store.state_path).read(), store.history()
    result = run_module("release_mark", mark(store, release="v1", unlock={"holder": holder}))
    assert result["failed"] and "host lock is held by bob@ctl run r8 (run r8" in result["msg"], result["msg"]
    assert "nothing was changed" in result["msg"] and (open(store.state_path).read(), store.history()) == before
    assert FileLock(store.lock_path).read()["holder"] == "bob@ctl run r8"
    FileLock(store.lock_path).release("bob@ctl run r8")
    # An unlock without its holder is refused before anything is marked.
    result = run_module("release_mark", mark(store, release="v2", unlock={}))
    assert result["failed"] and "unlock.holder is required" in result["msg"] and "v2" not in store.status()["bad"]
