# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import io
import json
import os
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.module_utils._release_store import (
    MANIFEST_NAME,
    ArtifactError,
    FleetError,
    ReleaseConflict,
    ReleaseIdError,
    ReleaseNotFound,
    ReleaseStore,
    describe_bad,
    validate_relative_path,
    validate_release_id,
)


def make_tarball(path, files, links=None, extra=None):
    """Write a .tar.gz with ``files`` {name: bytes} and ``links`` {name: target}."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
        for name, target in sorted((links or {}).items()):
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
        for info in extra or ():
            archive.addfile(info)
    return str(path)


@pytest.fixture(name="store")
def fixture_store(tmp_path):
    return ReleaseStore(str(tmp_path / "app"))


@pytest.fixture(name="artifact")
def fixture_artifact(tmp_path):
    def build(name, content=b"print('hi')\n"):
        return make_tarball(tmp_path / ("%s.tar.gz" % name), {"app.py": content, "VERSION": name.encode()})
    return build


def create(store, artifact, release_id, **kwargs):
    return store.create_release(release_id, artifact=artifact(release_id), **kwargs)


# -- ids --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("good", ["v1", "2026.11.26-1", "a", "A_b+c@d", "x" * 128])
def test_valid_ids(good):
    assert validate_release_id(good) == good


@pytest.mark.parametrize("bad, fragment", [
    ("", "non-empty"),
    ("../etc", "path traversal"),
    ("a/b", "path traversal"),
    ("a..b", "path traversal"),
    (".hidden", "dot"),
    ("x" * 129, "limit is 128"),
    ("sp ace", "may only contain"),
    ("-dash", "may only contain"),
    (None, "non-empty string"),
])
def test_invalid_ids_name_the_problem(bad, fragment):
    with pytest.raises(ReleaseIdError, match=fragment):
        validate_release_id(bad)


@given(st.text(min_size=1, max_size=200))
@settings(max_examples=300)
def test_valid_ids_never_escape_the_releases_dir(text):
    try:
        validate_release_id(text)
    except ReleaseIdError:
        return
    joined = os.path.normpath(os.path.join("/srv/app/releases", text))
    assert os.path.dirname(joined) == "/srv/app/releases"


@pytest.mark.parametrize("bad", ["/abs", "a/../b", "..", "./x", ""])
def test_shared_paths_are_relative_and_normal(bad):
    with pytest.raises(FleetError):
        validate_relative_path(bad, "shared path")


# -- create ------------------------------------------------------------------------------------------

def test_create_release_with_manifest(store, artifact):
    changed, manifest = create(store, artifact, "v1", created_by="alice")
    assert changed
    assert manifest["id"] == "v1" and manifest["created_by"] == "alice" and manifest["sequence"] == 1
    path = store.release_path("v1")
    assert open(os.path.join(path, "VERSION")).read() == "v1"
    on_disk = json.load(open(os.path.join(path, MANIFEST_NAME)))
    assert on_disk == manifest
    assert not [name for name in os.listdir(store.releases_dir) if name.startswith(".tmp-")]


def test_same_id_same_artifact_is_a_no_op(store, artifact):
    create(store, artifact, "v1")
    changed, dummy = create(store, artifact, "v1")
    assert not changed


def test_same_id_other_artifact_is_an_error(store, artifact, tmp_path):
    create(store, artifact, "v1")
    other = make_tarball(tmp_path / "other.tar.gz", {"app.py": b"other"})
    with pytest.raises(ReleaseConflict, match="never reused"):
        store.create_release("v1", artifact=other)


def test_checksum_mismatch_creates_nothing(store, artifact):
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        store.create_release("v1", artifact=artifact("v1"), sha256="0" * 64)
    assert not os.path.exists(store.release_path("v1"))


def test_missing_artifact(store):
    with pytest.raises(ArtifactError, match="does not exist"):
        store.create_release("v1", artifact="/nonexistent.tar.gz")


def test_corrupt_artifact_leaves_no_release(store, tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ArtifactError, match="cannot unpack"):
        store.create_release("v1", artifact=str(broken))
    assert os.listdir(store.releases_dir) == []


@pytest.mark.parametrize("name, link", [("../evil", None), ("/abs", None), ("ok", "../../etc/passwd"), ("ok2", "/etc/passwd")])
def test_traversal_members_are_refused(store, tmp_path, name, link):
    path = make_tarball(tmp_path / "evil.tar.gz", {} if link else {name: b"x"}, {name: link} if link else None)
    with pytest.raises(ArtifactError, match="outside"):
        store.create_release("v1", artifact=path)
    assert not os.path.exists(store.release_path("v1"))


def test_special_files_are_refused(store, tmp_path):
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    path = make_tarball(tmp_path / "fifo.tar.gz", {}, extra=[fifo])
    with pytest.raises(ArtifactError, match="special file"):
        store.create_release("v1", artifact=path)


def test_shared_paths_are_linked(store, tmp_path):
    path = make_tarball(tmp_path / "a.tar.gz", {"app.py": b"x", "log/old.log": b"old"})
    store.create_release("v1", artifact=path, shared_paths=["log", "public/uploads"])
    release = store.release_path("v1")
    assert os.readlink(os.path.join(release, "log")) == os.path.join(store.shared_dir, "log")
    assert os.path.isdir(os.path.join(store.shared_dir, "public/uploads"))


def test_unfinished_directory_is_not_a_release(store, artifact):
    os.makedirs(store.release_path("v9"))
    assert store.manifest("v9") is None
    assert store.releases() == []
    with pytest.raises(ReleaseConflict, match="not a complete release"):
        create(store, artifact, "v9")


def test_stale_temp_dirs_are_cleaned(store, artifact):
    store.ensure_layout()
    os.makedirs(os.path.join(store.releases_dir, ".tmp-v1-crashed"))
    create(store, artifact, "v1")
    assert os.listdir(store.releases_dir) == ["v1"]


# -- switch ------------------------------------------------------------------------------------------

def test_switch_records_state_and_history(store, artifact):
    create(store, artifact, "v1")
    create(store, artifact, "v2")
    first = store.switch("v1", operation="deploy", run_id="r1", actor="alice")
    assert first["changed"] and first["from"] is None and first["to"] == "v1"
    second = store.switch("v2", operation="deploy", run_id="r2", actor="alice")
    assert second["from"] == "v1"
    assert os.readlink(store.current_link) == "releases/v2"
    state = store.read_state()
    assert state["current"] == "v2" and state["previous"] == "v1" and state["pending"] is None
    history = store.history()
    assert [(h["from"], h["to"], h["run_id"]) for h in history] == [(None, "v1", "r1"), ("v1", "v2", "r2")]


def test_switch_to_current_is_unchanged_and_skips_restart(store, artifact):
    create(store, artifact, "v1")
    store.switch("v1")
    calls = []
    result = store.switch("v1", restart=lambda: calls.append(1))
    assert not result["changed"] and calls == []


def test_switch_check_mode_touches_nothing(store, artifact):
    create(store, artifact, "v1")
    create(store, artifact, "v2")
    store.switch("v1")
    before = open(store.state_path).read()
    result = store.switch("v2", check_mode=True)
    assert result["changed"] and store.current() == "v1" and open(store.state_path).read() == before


@pytest.mark.parametrize("unfinished", [False, True])
def test_switch_to_missing_or_unfinished_release_changes_nothing(store, artifact, unfinished):
    create(store, artifact, "v1")
    store.switch("v1")
    if unfinished:
        os.makedirs(store.release_path("v2"))
    before = open(store.state_path).read()
    with pytest.raises(ReleaseNotFound, match="unfinished" if unfinished else "does not exist"):
        store.switch("v2")
    assert store.current() == "v1" and open(store.state_path).read() == before


def test_failed_restart_leaves_operation_pending_and_rerun_finishes(store, artifact):
    create(store, artifact, "v1")
    create(store, artifact, "v2")
    store.switch("v1")

    def boom():
        raise FleetError("restart failed")
    with pytest.raises(FleetError):
        store.switch("v2", operation="deploy", restart=boom)
    assert store.current() == "v2"
    assert store.status()["pending"]["to"] == "v2"
    calls = []
    again = store.switch("v2", operation="deploy", restart=lambda: calls.append(1))
    assert again["changed"] and calls == [1] and again["from"] == "v1"
    assert store.status()["pending"] is None and store.read_state()["previous"] == "v1"


def test_unconfirmed_switch_is_closed_by_a_confirming_call(store, artifact):
    create(store, artifact, "v1")
    create(store, artifact, "v2")
    store.switch("v2")
    result = store.switch("v1", operation="rollback", confirmed=False)
    assert result["pending"] and store.status()["pending"]["operation"] == "rollback"
    confirm = store.switch("v1", operation="rollback")
    assert confirm["changed"] and not confirm["switched"] and store.status()["pending"] is None
    assert not store.switch("v1", operation="rollback")["changed"]


def test_crash_between_symlink_and_state_is_reconciled(store, artifact):
    create(store, artifact, "v1")
    create(store, artifact, "v2")
    store.switch("v1")
    state = store.read_state()
    state["pending"] = {"operation": "deploy", "from": "v1", "to": "v2"}
    store.write_state(state)
    os.remove(store.current_link)
    os.symlink("releases/v2", store.current_link)  # the crash happened right after the rename
    status = store.status()
    assert status["current"] == "v2" and status["previous"] == "v1"


# -- rollback target ---------------------------------------------------------------------------------

def three_releases(store, artifact):
    for release_id in ("v1", "v2", "v3"):
        create(store, artifact, release_id)
        store.switch(release_id)


def test_rollback_target_is_the_next_older_not_a_toggle(store, artifact):
    three_releases(store, artifact)
    assert store.rollback_target() == ("v2", "newest release older than v3")
    store.switch("v2", operation="rollback")
    assert store.rollback_target()[0] == "v1"  # a second rollback goes one further back
    store.switch("v1", operation="rollback")
    target, reason = store.rollback_target()
    assert target is None and "oldest" in reason


def test_rollback_target_uses_ledger_not_mtime(store, artifact):
    three_releases(store, artifact)
    os.utime(store.release_path("v1"), (4102444800, 4102444800))  # v1 looks newest by mtime
    assert store.rollback_target()[0] == "v2"


def test_interrupted_rollback_resumes_to_same_target(store, artifact):
    three_releases(store, artifact)
    store.switch("v2", operation="rollback", run_id="r9", confirmed=False)
    target, reason = store.rollback_target()
    assert target == "v2" and "r9" in reason


def test_unfinished_deploy_rolls_back_to_where_the_host_was(store, artifact):
    for release_id in ("v1", "v2"):
        create(store, artifact, release_id)
    store.switch("v1")
    create(store, artifact, "v3")
    store.switch("v3", operation="deploy", confirmed=False)
    assert store.rollback_target()[0] == "v1"


def test_named_rollback_target(store, artifact):
    three_releases(store, artifact)
    assert store.rollback_target("v1") == ("v1", "named release")
    target, reason = store.rollback_target("v7")
    assert target is None and "does not exist" in reason


def test_no_current_means_no_target(store):
    assert store.rollback_target()[0] is None


# -- retention ---------------------------------------------------------------------------------------

def test_prune_keeps_current_previous_target_and_pinned(store, artifact):
    for index in range(1, 7):
        create(store, artifact, "v%d" % index)
    store.switch("v5")
    store.switch("v3")  # previous = v5, rollback target = v2
    store.set_pinned("v1", True)
    removed = store.prune(1)
    assert removed == ["v4"]
    assert [r["id"] for r in store.releases()] == ["v1", "v2", "v3", "v5", "v6"]


def test_prune_spares_the_release_about_to_be_deployed(store, artifact):
    for index in range(1, 7):
        create(store, artifact, "v%d" % index)
    store.switch("v5")
    store.switch("v6")  # previous = v5, rollback target = v5
    assert store.prune_candidates(1) == ["v1", "v2", "v3", "v4"]
    assert store.prune(1, spare=["v2"]) == ["v1", "v3", "v4"]  # v2 is what a deploy goes back to
    assert [r["id"] for r in store.releases()] == ["v2", "v5", "v6"]


@given(st.integers(min_value=2, max_value=9), st.integers(min_value=1, max_value=9), st.data())
@settings(max_examples=40, deadline=None)
def test_prune_property(tmp_path_factory, count, keep, data):
    store = ReleaseStore(str(tmp_path_factory.mktemp("prop") / "app"))
    base = tmp_path_factory.mktemp("art")
    ids = ["r%d" % i for i in range(count)]
    for release_id in ids:
        store.create_release(release_id, artifact=make_tarball(base / (release_id + ".tgz"), {"f": release_id.encode()}))
    current = data.draw(st.sampled_from(ids))
    store.switch(data.draw(st.sampled_from(ids)))
    store.switch(current)
    pinned = data.draw(st.lists(st.sampled_from(ids), max_size=2))
    for release_id in pinned:
        store.set_pinned(release_id, True)
    protected = set(store.protected())
    removed = store.prune(keep)
    remaining = [r["id"] for r in store.releases()]
    assert protected <= set(remaining)
    assert not set(removed) & protected
    assert set(ids[-keep:]) <= set(remaining)  # the newest `keep` by ledger always stay
    assert sorted(remaining + removed, key=ids.index) == ids


def test_remove_refuses_current_and_pinned(store, artifact):
    three_releases(store, artifact)
    with pytest.raises(ReleaseConflict, match="current"):
        store.remove_release("v3")
    store.set_pinned("v1", True)
    with pytest.raises(ReleaseConflict, match="unpin"):
        store.remove_release("v1")
    assert store.remove_release("v2")
    assert not os.path.exists(store.release_path("v2"))


def test_remove_takes_the_snapshot_along(store, artifact):
    three_releases(store, artifact)
    os.makedirs(os.path.join(store.snapshots_dir, "v1"))
    store.remove_release("v1")
    assert not os.path.exists(os.path.join(store.snapshots_dir, "v1"))


def test_remove_takes_an_orphan_snapshot(store, artifact):
    three_releases(store, artifact)
    os.makedirs(os.path.join(store.snapshots_dir, "v0"))
    assert store.remove_release("v0")
    assert not os.path.exists(os.path.join(store.snapshots_dir, "v0"))
    assert not store.remove_release("v0")


def test_corrupt_state_is_a_clear_error(store, artifact):
    create(store, artifact, "v1")
    store.switch("v1")
    with open(store.state_path, "w") as handle:
        handle.write("{not json")
    with pytest.raises(FleetError, match="not valid JSON"):
        store.read_state()


# -- known-bad releases ------------------------------------------------------------------------------

MOMENT = datetime.datetime(2026, 11, 26, 21, 9, 12, tzinfo=datetime.timezone.utc)


def test_mark_bad_records_who_when_why_and_a_history_line(store, artifact):
    three_releases(store, artifact)
    changed, mark = store.mark_bad("v3", actor="alice", reason="error rate 12%", run_id="r7", now=MOMENT)
    assert changed and mark == {"by": "alice", "at": "2026-11-26T21:09:12Z", "reason": "error rate 12%", "run_id": "r7"}
    assert store.read_state()["bad"] == {"v3": mark} and store.status()["bad"] == {"v3": mark}
    assert store.history()[-1] == {"time": "2026-11-26T21:09:12Z", "operation": "mark_bad", "release": "v3",
                                   "actor": "alice", "run_id": "r7", "reason": "error rate 12%"}
    assert store.status()["current"] == "v3" and store.read_state()["previous"] == "v2"  # nothing else changes


def test_marking_again_keeps_the_first_mark(store, artifact):
    three_releases(store, artifact)
    first = store.mark_bad("v3", actor="alice", reason="first", now=MOMENT)[1]
    lines = len(store.history())
    changed, mark = store.mark_bad("v3", actor="bob", reason="second")
    assert not changed and mark == first and len(store.history()) == lines


def test_mark_and_clear_in_check_mode_write_nothing(store, artifact):
    three_releases(store, artifact)
    before, lines = open(store.state_path).read(), len(store.history())
    changed, mark = store.mark_bad("v2", actor="alice", check_mode=True, now=MOMENT)
    assert changed and mark["at"] == "2026-11-26T21:09:12Z"
    assert open(store.state_path).read() == before and len(store.history()) == lines
    store.mark_bad("v2", actor="alice")
    before, lines = open(store.state_path).read(), len(store.history())
    changed, old = store.clear_bad("v2", check_mode=True)
    assert changed and old["by"] == "alice"
    assert open(store.state_path).read() == before and len(store.history()) == lines


def test_clear_bad(store, artifact):
    three_releases(store, artifact)
    store.mark_bad("v2", actor="alice", reason="bad", run_id="r1")
    store.mark_bad("v3", actor="alice")
    changed, old = store.clear_bad("v2", actor="bob", reason="false alarm", run_id="r2", now=MOMENT)
    assert changed and old["reason"] == "bad"
    assert list(store.status()["bad"]) == ["v3"]
    assert store.history()[-1] == {"time": "2026-11-26T21:09:12Z", "operation": "mark_good", "release": "v2",
                                   "actor": "bob", "run_id": "r2", "reason": "false alarm"}
    assert store.clear_bad("v2") == (False, None)  # installed, not marked: nothing to do


def test_unknown_release_names_the_installed_ones(store, artifact):
    three_releases(store, artifact)
    with pytest.raises(ReleaseNotFound, match="release v9 does not exist.*installed releases: v1, v2, v3"):
        store.mark_bad("v9")
    with pytest.raises(ReleaseNotFound, match="installed releases: v1, v2, v3"):
        store.clear_bad("v9")
    with pytest.raises(ReleaseIdError):
        store.mark_bad("../v1")
    assert store.status()["bad"] == {}


def test_unknown_release_on_an_empty_host(store):
    with pytest.raises(ReleaseNotFound, match="installed releases: none"):
        store.mark_bad("v1")
    assert not os.path.exists(store.state_path)


def test_the_mark_of_a_removed_release_stays_and_can_be_cleared(store, artifact):
    three_releases(store, artifact)
    store.mark_bad("v1", actor="alice")
    store.remove_release("v1")
    assert "v1" in store.status()["bad"]
    assert store.mark_bad("v1")[0] is False
    assert store.clear_bad("v1")[0] is True and store.status()["bad"] == {}


def test_switch_and_pins_keep_the_marks(store, artifact):
    three_releases(store, artifact)
    store.mark_bad("v3", actor="alice")
    store.switch("v2", operation="rollback")
    store.set_pinned("v1", True)
    assert list(store.status()["bad"]) == ["v3"]


def test_a_bad_map_that_is_not_a_map_is_a_clear_error(store, artifact):
    three_releases(store, artifact)
    state = store.read_state()
    state["bad"] = ["v3"]
    store.write_state(state)
    with pytest.raises(FleetError, match="'bad' must map release ids to marks"):
        store.status()


def test_describe_bad():
    assert describe_bad("v3", {"by": "alice", "at": "2026-11-26T21:09:12Z", "reason": "5xx", "run_id": "r7"}) == (
        "v3 was marked bad by alice at 2026-11-26T21:09:12Z in run r7 (reason: 5xx)")
    assert describe_bad("v3", {}) == "v3 was marked bad by an unknown actor at an unknown time (reason: none given)"
    assert describe_bad("v3", None).startswith("v3 was marked bad by an unknown actor")


# -- rollback target with known-bad releases ---------------------------------------------------------

def test_rollback_target_skips_a_bad_release(store, artifact):
    for release_id in ("v1", "v2", "v3", "v4"):
        create(store, artifact, release_id)
        store.switch(release_id)
    store.mark_bad("v3", actor="alice", reason="5xx", run_id="r7", now=MOMENT)
    target, reason = store.rollback_target()
    assert target == "v2"
    assert reason == ("newest release older than v4 that is not marked bad (skipped: v3 was marked bad by alice at "
                      "2026-11-26T21:09:12Z in run r7 (reason: 5xx))")
    store.mark_bad("v2", actor="bob")
    target, reason = store.rollback_target()
    assert target == "v1" and "v3 was marked bad" in reason and "v2 was marked bad by bob" in reason


def test_a_bad_current_release_does_not_matter_for_the_target(store, artifact):
    three_releases(store, artifact)
    store.mark_bad("v3")
    assert store.rollback_target() == ("v2", "newest release older than v3")


def test_no_target_when_every_older_release_is_bad(store, artifact):
    three_releases(store, artifact)
    store.mark_bad("v1", actor="alice", reason="old bug")
    store.mark_bad("v2", actor="bob", reason="5xx")
    target, reason = store.rollback_target()
    assert target is None
    assert reason.startswith("every release older than v3 is marked bad: v2 was marked bad by bob")
    assert "v1 was marked bad by alice" in reason and "fleet_release" in reason and "allow_bad=true" in reason
    assert "fleet_allow_bad_release=true" in reason


def test_a_named_bad_target_needs_allow_bad(store, artifact):
    three_releases(store, artifact)
    store.mark_bad("v1", actor="alice", reason="data loss", run_id="r3", now=MOMENT)
    target, reason = store.rollback_target("v1")
    assert target is None
    assert reason.startswith("v1 was marked bad by alice at 2026-11-26T21:09:12Z in run r3 (reason: data loss)")
    assert "allow_bad=true (-e fleet_allow_bad_release=true)" in reason
    target, reason = store.rollback_target("v1", allow_bad=True)
    assert target == "v1" and reason.startswith("named release, allowed by allow_bad although v1 was marked bad by alice")
    assert store.rollback_target("v2", allow_bad=True) == ("v2", "named release")
    assert store.rollback_target("v7", allow_bad=True)[0] is None


def test_interrupted_rollback_to_a_release_marked_bad_since_goes_further_back(store, artifact):
    three_releases(store, artifact)
    store.switch("v2", operation="rollback", run_id="r9", confirmed=False)
    store.mark_bad("v2", actor="alice", reason="also broken")
    target, reason = store.rollback_target()
    assert target == "v1" and "newest release older than v2 that is not marked bad" in reason
    assert "v2 was marked bad by alice" in reason


def test_unfinished_deploy_from_a_bad_release(store, artifact):
    three_releases(store, artifact)
    create(store, artifact, "v4")
    store.switch("v4", operation="deploy", confirmed=False)  # from v3
    store.mark_bad("v3")
    target, reason = store.rollback_target()
    assert target == "v2" and reason.count("v3 was marked bad") == 1


def test_unfinished_operation_that_never_switched_a_bad_current_release(store, artifact):
    three_releases(store, artifact)
    state = store.read_state()
    state["pending"] = {"operation": "deploy", "from": "v3", "to": "v4"}
    store.write_state(state)
    assert store.rollback_target() == ("v3", "the unfinished deploy never switched this host")
    store.mark_bad("v3")
    assert store.rollback_target()[0] == "v2"


def test_protected_follows_the_target_that_skips_bad_releases(store, artifact):
    for index in range(1, 6):
        create(store, artifact, "v%d" % index)
    store.switch("v4")
    store.switch("v5")
    store.mark_bad("v4")
    protected = store.protected()
    assert protected["v3"] == "rollback target" and protected["v4"] == "previous release"


@given(st.lists(st.booleans(), min_size=1, max_size=8), st.data())
@settings(max_examples=60, deadline=None)
def test_automatic_target_is_never_bad_and_is_the_newest_older_good_one(tmp_path_factory, bad_flags, data):
    store = ReleaseStore(str(tmp_path_factory.mktemp("badprop") / "app"))
    base = tmp_path_factory.mktemp("art")
    ids = ["r%d" % i for i in range(len(bad_flags))]
    for release_id in ids:
        store.create_release(release_id, artifact=make_tarball(base / (release_id + ".tgz"), {"f": release_id.encode()}))
    current = data.draw(st.sampled_from(ids))
    store.switch(current)
    for release_id, is_bad in zip(ids, bad_flags):
        if is_bad:
            store.mark_bad(release_id, actor="prop")
    bad = {release_id for release_id, is_bad in zip(ids, bad_flags) if is_bad}
    target, reason = store.rollback_target()
    good_older = [release_id for release_id in ids[:ids.index(current)] if release_id not in bad]
    assert target == (good_older[-1] if good_older else None), reason
    assert target not in bad
    named = data.draw(st.sampled_from(ids))
    assert store.rollback_target(named)[0] == (None if named in bad else named)
    assert store.rollback_target(named, allow_bad=True)[0] == named
