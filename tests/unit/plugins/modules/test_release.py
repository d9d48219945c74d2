# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release module refuses to deploy a release marked bad again unless allowed."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._release_store import ReleaseStore


@pytest.fixture(name="store")
def fixture_store(tmp_path, tarball):
    store = ReleaseStore(str(tmp_path / "app"))
    for release in ("v1", "v2"):
        store.create_release(release, artifact=tarball(tmp_path / (release + ".tar.gz"), release))
        store.switch(release)
    store.mark_bad("v2", actor="alice", reason="5xx after deploy", run_id="r7")
    return store


def snapshot(store):
    return sorted(os.listdir(store.releases_dir)), open(store.state_path).read()


@pytest.mark.parametrize("pruned", [False, True])
def test_deploying_a_bad_release_again_is_refused(run_module, store, tmp_path, pruned, tarball):
    if pruned:
        store.switch("v1", operation="rollback")
        store.remove_release("v2")
    before = snapshot(store)
    args = {"app_root": store.root, "release": "v2", "artifact": tarball(tmp_path / "v2-again.tar.gz", "v2"), "keep": 1, "pinned": True}
    result = run_module("release", args)
    assert result["failed"] and not result["changed"] and not result["created"] and result["pruned"] == []
    assert "release v2 is known bad on this host: v2 was marked bad by alice at" in result["msg"]
    assert "in run r7 (reason: 5xx after deploy)" in result["msg"] and "Nothing was changed" in result["msg"]
    assert "allow_bad=true (-e fleet_allow_bad_release=true)" in result["msg"] and "release_mark state=good" in result["msg"]
    assert snapshot(store) == before


def test_allow_bad_lets_it_through_and_says_so(run_module, store, tmp_path, tarball):
    store.switch("v1", operation="rollback")
    store.remove_release("v2")
    result = run_module("release", {"app_root": store.root, "release": "v2", "artifact": tarball(tmp_path / "v2.tar.gz", "v2"),
                                    "allow_bad": True})
    assert result["changed"] and result["created"] and result["bad"]["by"] == "alice"
    assert store.manifest("v2") is not None and "v2" in store.status()["bad"]  # the mark stays until cleared


def test_good_releases_and_other_states_are_not_affected(run_module, store, tmp_path, tarball):
    fresh = run_module("release", {"app_root": store.root, "release": "v3", "artifact": tarball(tmp_path / "v3.tar.gz", "v3")})
    assert fresh["created"] and fresh["bad"] is None
    pin = run_module("release", {"app_root": store.root, "release": "v1", "pinned": True})
    assert pin["changed"] and not pin.get("failed")
    prune = run_module("release", {"app_root": store.root, "state": "pruned", "keep": 1})
    assert not prune.get("failed") and "bad" not in prune
    removed = run_module("release", {"app_root": store.root, "release": "v3", "state": "absent"})
    assert removed["removed"] and "v2" in store.status()["bad"]


def _inline(path):
    with open(path, "rb") as handle:
        data = handle.read()
    return base64.b64encode(data).decode(), hashlib.sha256(data).hexdigest()


def test_an_inline_artifact_creates_the_release_and_is_not_echoed_back(run_module, store, tmp_path, tarball):
    content, digest = _inline(tarball(tmp_path / "v3.tar.gz", "v3"))
    result = run_module("release", {"app_root": store.root, "release": "v3", "sha256": digest, "artifact_content": content})
    assert result["created"] and result["release"]["artifact_sha256"] == digest
    with open(os.path.join(store.release_path("v3"), "VERSION")) as handle:
        assert handle.read() == "v3"
    assert content not in json.dumps(result)
    again = run_module("release", {"app_root": store.root, "release": "v3", "sha256": digest, "artifact_content": content})
    assert not again["changed"] and not again["created"]


def test_an_inline_artifact_that_differs_from_the_existing_release_is_refused(run_module, store, tmp_path, tarball):
    content, digest = _inline(tarball(tmp_path / "other.tar.gz", "something else"))
    before = snapshot(store)
    result = run_module("release", {"app_root": store.root, "release": "v1", "sha256": digest, "artifact_content": content})
    assert result["failed"] and not result["changed"] and "v1" in result["msg"]
    assert snapshot(store) == before


def test_broken_inline_content_is_refused(run_module, store):
    before = snapshot(store)
    result = run_module("release", {"app_root": store.root, "release": "v3", "sha256": "0" * 64, "artifact_content": "not base64!"})
    assert result["failed"] and "artifact_content is not valid base64" in result["msg"]
    assert snapshot(store) == before


def test_keep_never_prunes_the_release_being_deployed_again(run_module, store, tmp_path, tarball):
    for release in ("v3", "v4", "v5"):
        store.create_release(release, artifact=tarball(tmp_path / (release + ".tar.gz"), release))
        store.switch(release)
    # v1 is the oldest: keep=2 would remove it, but it is the release this task deploys again.
    result = run_module("release", {"app_root": store.root, "release": "v1", "keep": 2})
    assert not result.get("failed") and "v1" not in result["pruned"] and store.manifest("v1") is not None
    assert result["pruned"] == ["v2", "v3"]  # v4 is previous (and the rollback target), v5 current


def _chain(path):
    """Issue 14's chain: ``a -> .``, ``esc`` through it out of the release, then a file through ``esc``."""
    with tarfile.open(str(path), "w:gz") as archive:
        for name, kind, link in (("a", tarfile.SYMTYPE, "."), ("esc", tarfile.SYMTYPE, "a/a/a/a/a/a/../../../../../../tmp")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            archive.addfile(info)
        info = tarfile.TarInfo("esc/pwned")
        info.size = 6
        archive.addfile(info, io.BytesIO(b"pwned\n"))
    return str(path)


@pytest.mark.parametrize("named", [True, False])
def test_refusals_name_the_artifact_as_given_never_the_temporary_copy(run_module, store, tmp_path, named):
    """The action plugin passes artifact_name: the module only sees the inline content (or a temporary copy)."""
    before = snapshot(store)
    args = {"app_root": store.root, "release": "v3", "artifact_content": _inline(_chain(tmp_path / "chain.tar.gz"))[0]}
    if named:
        args["artifact_name"] = "dist/chain.tar.gz"
    result = run_module("release", args)
    assert result["failed"] and not result["changed"] and not result["created"]
    shown = "dist/chain.tar.gz" if named else "the artifact sent inline (artifact_content)"
    assert result["msg"].startswith("cannot unpack %s: archive member 'esc' is a symlink pointing outside the release" % shown)
    assert "artifact.tar.gz" not in result["msg"]
    assert snapshot(store) == before and not os.path.exists("/tmp/pwned")
    empty = run_module("release", {"app_root": store.root, "release": "v3", "artifact_content": "", "artifact_name": "dist/empty.tar.gz"})
    assert empty["failed"] and empty["msg"].startswith("cannot unpack dist/empty.tar.gz:"), empty["msg"]


def test_max_unpacked_is_applied_and_validated(run_module, store, tmp_path, tarball):
    content, digest = _inline(tarball(tmp_path / "v3.tar.gz", "v3"))
    args = {"app_root": store.root, "release": "v3", "sha256": digest, "artifact_content": content, "artifact_name": "v3.tar.gz"}
    before = snapshot(store)
    for limit, message in ((0, "max_unpacked (fleet_artifact_max_unpacked) must be a positive number of bytes, got 0"),
                           (1, "cannot unpack v3.tar.gz: the archive unpacks to 2 bytes, more than max_unpacked allows (1 bytes)")):
        result = run_module("release", dict(args, max_unpacked=limit))
        assert result["failed"] and message in result["msg"], result["msg"]
        assert snapshot(store) == before
    assert run_module("release", dict(args, max_unpacked=2))["created"]
