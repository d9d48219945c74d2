# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Hostile and faulty artifacts over real SSH against the test fleet (issue 14, sections 1 and 4).

A release tarball whose symlinks, made earlier in the same archive, lead out of the release must write nothing outside
it; a file that is not a tarball must be refused on the controller, named as the operator gave it, before any host
is locked or changed.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid

import pytest

pytestmark = pytest.mark.fleet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "playbooks", "deploy.yml")
APP_SOURCE = os.path.join(REPO, "tests", "fleet", "app.py")
SECRET = "/srv/hostile-secret"      # a 0600 file outside the release that the hardlink chain aims at
PWNED = "/srv/pwned"                # where the symlink chain would write on each host


def names(fleet):
    return [host.name if hasattr(host, "name") else host["name"] for host in fleet.hosts]


def currents(fleet):
    result = {}
    for name in names(fleet):
        link = fleet.host_path(name, "/srv/app/current")
        result[name] = os.path.basename(os.readlink(link)) if os.path.islink(link) else None
    return result


def histories(fleet):
    """Every line of every host's history (switches, marks and run lines)."""
    result = {}
    for name in names(fleet):
        path = fleet.host_path(name, "/srv/app/.fleet/history.jsonl")
        result[name] = open(path).read() if os.path.exists(path) else ""
    return result


def releases(fleet):
    return {name: sorted(os.listdir(fleet.host_path(name, "/srv/app/releases"))) for name in names(fleet)}


def _add(archive, name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 1700000000
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def chain_archive(path, release_id, tmp_target):
    """The demo app plus the chains of issue 14: ``a -> .`` and links through it that climb out of the release.

    ``esc`` resolves to the host's /srv (per host, in its own mount namespace), ``esctmp`` to ``tmp_target`` (the
    issue's /tmp/x), and ``h`` is first a hard link to /srv/hostile-secret through ``esc``, then a regular file
    written over it. None of these links points outside the release when resolved before anything is extracted.
    """
    up = "a/a/a/a/a/a/" + "../" * 6
    with tarfile.open(path, "w:gz") as archive:
        _add(archive, "app.py", data=open(APP_SOURCE, "rb").read())
        _add(archive, "VERSION", data=("%s\n" % release_id).encode())
        _add(archive, "a", tarfile.SYMTYPE, linkname=".")
        _add(archive, "esc", tarfile.SYMTYPE, linkname=up + "srv")
        _add(archive, "esctmp", tarfile.SYMTYPE, linkname=up + tmp_target.lstrip("/"))
        _add(archive, "esc/pwned", data=b"written through a symlink chain\n")
        _add(archive, "esctmp/pwned", data=b"written through a symlink chain\n")
        _add(archive, "h", tarfile.LNKTYPE, linkname="esc/" + os.path.basename(SECRET))
        _add(archive, "h", data=b"overwritten through a hard link\n", mode=0o644)
    return str(path)


def on_host(fleet, name, command):
    """Run ``command`` on the host over SSH (inside its own mount namespace)."""
    return fleet.ssh(name, command, timeout=60)


def deploy(fleet, release_id, artifact, **extra):
    extra_vars = {"fleet_release": release_id, "fleet_artifact": artifact}
    extra_vars.update(extra)
    proc = fleet.ansible_playbook(DEPLOY, extra_vars=extra_vars, timeout=900)
    return proc, proc.stdout + proc.stderr


@pytest.fixture(scope="module", name="baseline")
def fixture_baseline(fleet, on_base, base_artifacts):
    """Every host on a normal release (the session's base state, conftest.py on_base), with a 0600 secret beside the app
    root; yields the artifact of that release."""
    for name in names(fleet):
        secret = fleet.host_path(name, SECRET)
        secret.write_text("secret\n")
        os.chmod(secret, 0o600)
    yield base_artifacts[on_base][0]
    for name in names(fleet):
        fleet.ssh(name, "rm -rf %s %s" % (SECRET, PWNED))


@pytest.fixture(name="tmp_target")
def fixture_tmp_target():
    """The issue's /tmp/x: a directory that exists (so that a write through the chain would succeed), unique per test."""
    path = "/tmp/fleetops-hostile-%s" % uuid.uuid4().hex[:12]
    os.mkdir(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def assert_nothing_outside_changed(fleet, tmp_target):
    for name in names(fleet):
        check = on_host(fleet, name, "test -e %s || test -e %s/pwned; echo $?; stat -c '%%a %%s' %s; cat %s" % (
            PWNED, tmp_target, SECRET, SECRET))
        lines = check.stdout.split("\n")
        assert lines[0] == "1", "%s: something was written outside the release: %s" % (name, check.stdout)
        assert lines[1] == "600 7" and lines[2] == "secret", "%s: %s changed: %s" % (name, SECRET, check.stdout)
    assert not os.path.exists(os.path.join(tmp_target, "pwned"))


def test_chain_archive_writes_nothing_outside_the_release(fleet, baseline, tmp_path, tmp_target):
    artifact = chain_archive(tmp_path / "evil1.tar.gz", "evil1", tmp_target)
    before_current, before_history = currents(fleet), histories(fleet)
    proc, out = deploy(fleet, "evil1", artifact)
    assert_nothing_outside_changed(fleet, tmp_target)
    assert proc.returncode != 0, out
    assert "archive member 'esc' is a symlink pointing outside the release" in out and artifact in out, out
    assert currents(fleet) == before_current
    assert all("evil1" not in found for found in releases(fleet).values())
    # Refused on the controller, before any host was locked: no host's files changed at all.
    assert histories(fleet) == before_history


def test_chain_archive_is_refused_on_the_host_too(fleet, baseline, tmp_path, tmp_target):
    """The module itself (no controller check in between, e.g. remote_src) refuses the chain and writes nothing."""
    artifact = chain_archive(tmp_path / "evil2.tar.gz", "evil2", tmp_target)
    before_current = currents(fleet)
    result, proc = fleet.ansible_module("fleet", "fleetops.release.release", {"release": "evil2", "artifact": artifact})
    assert_nothing_outside_changed(fleet, tmp_target)
    for name in names(fleet):
        assert result[name]["failed"], proc.stdout
        assert "cannot unpack %s: archive member 'esc' is a symlink pointing outside" % artifact in result[name]["msg"], result[name]["msg"]
        assert "/.ansible/tmp" not in result[name]["msg"], result[name]["msg"]
    assert currents(fleet) == before_current
    assert all("evil2" not in found for found in releases(fleet).values())
    assert all(not item.startswith(".tmp-") for found in releases(fleet).values() for item in found)


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"this is not a tarball\n" * 40, "not a tar archive")])
def test_a_file_that_is_no_tarball_is_refused_on_the_controller(fleet, baseline, tmp_path, content, message):
    artifact = tmp_path / "notatar.tar.gz"
    artifact.write_bytes(content)
    before_current, before_history = currents(fleet), histories(fleet)
    # The message names the artifact as given, not a temporary copy on a host.
    given = str(artifact)
    proc, out = deploy(fleet, "bogus1", given)
    assert proc.returncode != 0, out
    assert given in out and message in out, out
    assert "/.ansible/tmp" not in out and "artifact.tar.gz" not in out, out
    assert currents(fleet) == before_current and histories(fleet) == before_history
    assert all("bogus1" not in found for found in releases(fleet).values())


def test_checksum_of_the_artifact_is_checked_on_the_controller(fleet, baseline):
    before_history = histories(fleet)
    proc, out = deploy(fleet, "h9", str(baseline), fleet_artifact_sha256="0" * 64)
    assert proc.returncode != 0 and "checksum mismatch" in out and str(baseline) in out, out
    assert histories(fleet) == before_history
    assert all("h9" not in found for found in releases(fleet).values())  # no release directory created anywhere
