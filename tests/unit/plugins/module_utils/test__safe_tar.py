# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The safe extractor against hostile archives built here: chains of links made by the archive itself, escapes,
special files, modes and owners, and sizes (issue 14)."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import tarfile

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _safe_tar
from ansible_collections.fleetops.release.plugins.module_utils._release_store import ArtifactError, ReleaseStore
from ansible_collections.fleetops.release.plugins.module_utils._safe_tar import (
    GIB,
    ArchiveError,
    check_members,
    default_max_unpacked,
    extract,
    file_mode,
    format_bytes,
    inspect_artifact,
    validate_max_unpacked,
)


class Zeros:
    """A file object of ``size`` zero bytes, produced lazily (a large member without a large buffer)."""

    def __init__(self, size):
        self.left = size

    def read(self, size=-1):
        size = self.left if size is None or size < 0 else min(size, self.left)
        self.left -= size
        return b"\0" * size


def entry(name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644, uid=0, gid=0, uname="root", gname="root"):
    return {"name": name, "kind": kind, "data": data, "linkname": linkname, "mode": mode, "uid": uid, "gid": gid,
            "uname": uname, "gname": gname}


def build(path, entries, mode="w:gz"):
    """Write an archive of ``entries`` (see ``entry``) in this order, duplicates and all."""
    with tarfile.open(str(path), mode, format=tarfile.GNU_FORMAT) as archive:
        for item in entries:
            info = tarfile.TarInfo(item["name"])
            info.type = item["kind"]
            info.mode = item["mode"]
            info.mtime = 1700000000
            info.linkname = item["linkname"]
            info.uid, info.gid, info.uname, info.gname = item["uid"], item["gid"], item["uname"], item["gname"]
            data = item["data"]
            if item["kind"] == tarfile.REGTYPE:
                if isinstance(data, int):
                    info.size = data
                    archive.addfile(info, Zeros(data))
                else:
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(info)
    return str(path)


def members_of(entries):
    """TarInfo objects of ``entries`` without writing an archive (for the static check)."""
    result = []
    for item in entries:
        info = tarfile.TarInfo(item["name"])
        info.type = item["kind"]
        info.linkname = item["linkname"]
        info.size = item["data"] if isinstance(item["data"], int) else len(item["data"])
        result.append(info)
    return result


def tree(top):
    """Everything below ``top``: {relative path: (type, content or link target, permission bits)}."""
    found = {}
    for base, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, top)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path), None)
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", None, None)
            else:
                found[rel] = ("file", open(path, "rb").read(), stat.S_IMODE(info.st_mode))
    return found


@pytest.fixture(name="dest")
def fixture_dest(tmp_path):
    """A fresh destination a few levels deep, with a directory beside it that hostile archives aim at."""
    dest = tmp_path / "app" / "releases" / ".tmp-r1"
    dest.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    secret = tmp_path / "outside" / "secret"
    secret.write_bytes(b"secret\n")
    os.chmod(str(secret), 0o600)
    return str(dest)


def outside_untouched(tmp_path):
    outside = tmp_path / "outside"
    assert sorted(os.listdir(str(outside))) == ["secret"]
    secret = outside / "secret"
    assert secret.read_bytes() == b"secret\n" and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert secret.stat().st_nlink == 1


def climb(dest, tmp_path, through="a/a/a/a/a/a/"):
    """A link target that goes through ``a -> .`` and climbs out of ``dest`` to tmp_path/outside."""
    return through + os.path.relpath(str(tmp_path / "outside"), dest)


def chain(dest, tmp_path):
    """Issue 14's chain: ``a -> .``, ``esc`` through it out of the release, then a file and a hard link through esc."""
    return [entry("app.py", data=b"print('hi')\n"),
            entry("a", tarfile.SYMTYPE, linkname="."),
            entry("esc", tarfile.SYMTYPE, linkname=climb(dest, tmp_path)),
            entry("esc/pwned", data=b"pwned\n")]


def hardlink_chain(dest, tmp_path):
    return [entry("a", tarfile.SYMTYPE, linkname="."),
            entry("esc", tarfile.SYMTYPE, linkname=climb(dest, tmp_path)),
            entry("h", tarfile.LNKTYPE, linkname="esc/secret"),
            entry("h", data=b"overwritten\n", mode=0o644)]


# -- hostile archives: refused before anything is written ------------------------------------------------------

def test_symlink_chain_is_refused_before_anything_is_written(dest, tmp_path):
    path = build(tmp_path / "chain.tar.gz", chain(dest, tmp_path))
    with pytest.raises(ArchiveError, match=r"member 'esc' is a symlink pointing outside the release"):
        extract(path, dest)
    assert os.listdir(dest) == []
    outside_untouched(tmp_path)


def test_hardlink_chain_is_refused_and_the_target_keeps_its_content_and_mode(dest, tmp_path):
    path = build(tmp_path / "hard.tar.gz", hardlink_chain(dest, tmp_path))
    with pytest.raises(ArchiveError, match=r"member 'esc' is a symlink pointing outside the release"):
        extract(path, dest)
    assert os.listdir(dest) == []
    outside_untouched(tmp_path)


@pytest.mark.parametrize("entries, message", [
    # A file written through a symlink that stays inside is refused all the same: links are never followed.
    ([entry("d", tarfile.DIRTYPE, mode=0o755), entry("l", tarfile.SYMTYPE, linkname="d"), entry("l/f", data=b"x")],
     r"member 'l/f' would be written through the symlink 'l'"),
    ([entry("f", data=b"x"), entry("f/g", data=b"y")], r"member 'f/g' would be written below 'f', which is a file"),
    # The hard link chain without a symlink that escapes: a hard link through a link, to a link, to nothing.
    ([entry("d/f", data=b"x"), entry("l", tarfile.SYMTYPE, linkname="d"), entry("h", tarfile.LNKTYPE, linkname="l/f")],
     r"member 'h' is a hard link through the symlink 'l'"),
    ([entry("f", data=b"x"), entry("l", tarfile.SYMTYPE, linkname="f"), entry("h", tarfile.LNKTYPE, linkname="l")],
     r"member 'h' is a hard link to 'l', which is not a regular file"),
    ([entry("h", tarfile.LNKTYPE, linkname="missing")], r"member 'h' is a hard link to 'missing', which is not a regular file"),
    ([entry("h", tarfile.LNKTYPE, linkname="../outside/secret")], r"member 'h' is a hard link pointing outside the release"),
    ([entry("h", tarfile.LNKTYPE, linkname="/etc/passwd")], r"member 'h' is a hard link pointing outside the release"),
    # Relative and absolute escapes in names and symlinks.
    ([entry("../evil", data=b"x")], r"member '../evil' would be written outside the release directory"),
    ([entry("ok/../../evil", data=b"x")], r"would be written outside the release directory \(a '\.\.' component\)"),
    ([entry("/abs", data=b"x")], r"member '/abs' would be written outside the release directory \(an absolute"),
    ([entry("up", tarfile.SYMTYPE, linkname="../../etc/passwd")], r"member 'up' is a symlink pointing outside"),
    ([entry("abs", tarfile.SYMTYPE, linkname="/etc/passwd")], r"member 'abs' is a symlink pointing outside"),
    ([entry("sub/up", tarfile.SYMTYPE, linkname="../..")], r"member 'sub/up' is a symlink pointing outside"),
    # A link that is inside when it is made and leaves through a link made later.
    ([entry("l", tarfile.SYMTYPE, linkname="m/../x"), entry("m", tarfile.SYMTYPE, linkname=".")],
     r"member 'l' is a symlink pointing outside the release \('m/\.\./x'\) through the links"),
    ([entry("p", tarfile.SYMTYPE, linkname="q"), entry("q", tarfile.SYMTYPE, linkname="p"), entry("r", tarfile.SYMTYPE, linkname="p/x")],
     r"symlink loop"),
    # A later member replacing an earlier one of another kind.
    ([entry("d", tarfile.DIRTYPE), entry("d", data=b"x")], r"member 'd' would replace the directory"),
    ([entry("f", data=b"x"), entry("f", tarfile.DIRTYPE)], r"member 'f' is a directory, but an earlier member made it a file"),
])
def test_hostile_member_lists_are_refused(dest, tmp_path, entries, message):
    with pytest.raises(ArchiveError, match=message):
        check_members(members_of(entries))
    path = build(tmp_path / "evil.tar", entries, mode="w")
    with pytest.raises(ArchiveError, match=message):
        extract(path, dest)
    assert os.listdir(dest) == []
    outside_untouched(tmp_path)


@pytest.mark.parametrize("kind, what", [(tarfile.CHRTYPE, "character device"), (tarfile.BLKTYPE, "block device"),
                                        (tarfile.FIFOTYPE, "fifo")])
def test_devices_and_fifos_are_refused_naming_the_member(dest, tmp_path, kind, what):
    path = build(tmp_path / "special.tar.gz", [entry("app.py", data=b"x"), entry("dev/thing", kind)])
    with pytest.raises(ArchiveError, match=r"member 'dev/thing' is a %s; releases may only hold files" % what):
        extract(path, dest)
    assert os.listdir(dest) == []


# -- the second line: the real filesystem, with the static check out of the way -----------------------------------

@pytest.mark.parametrize("entries_of, message", [
    (chain, r"member 'esc' is a symlink pointing outside the release"),
    (hardlink_chain, r"member 'esc' is a symlink pointing outside the release"),
    (lambda dest, tmp_path: [entry("d/f", data=b"x"), entry("l", tarfile.SYMTYPE, linkname="d"), entry("l/g", data=b"y")],
     r"member 'l/g' would be written through 'l', which is a symlink or a file on disk"),
    (lambda dest, tmp_path: [entry("d/f", data=b"x"), entry("l", tarfile.SYMTYPE, linkname="d"), entry("h", tarfile.LNKTYPE, linkname="l/f")],
     r"member 'h' would be written through 'l', which is a symlink"),
    (lambda dest, tmp_path: [entry("f", data=b"x"), entry("l", tarfile.SYMTYPE, linkname="f"), entry("h", tarfile.LNKTYPE, linkname="l")],
     r"member 'h' is a hard link to 'l', which is not a regular file"),
])
def test_the_filesystem_checks_hold_without_the_static_check(dest, tmp_path, monkeypatch, entries_of, message):
    """Each member is checked against the disk as it is written, whatever the member list check let through."""
    monkeypatch.setattr(_safe_tar, "check_members", lambda members, limit: {"unpacked_size": 0})
    path = build(tmp_path / "evil.tar.gz", entries_of(dest, tmp_path))
    with pytest.raises(ArchiveError, match=message):
        extract(path, dest)
    outside_untouched(tmp_path)


def test_a_late_link_that_leaves_is_caught_on_disk_too(dest, tmp_path, monkeypatch):
    monkeypatch.setattr(_safe_tar, "check_members", lambda members, limit: {"unpacked_size": 0})
    path = build(tmp_path / "late.tar.gz", [entry("l", tarfile.SYMTYPE, linkname="m/../x"), entry("m", tarfile.SYMTYPE, linkname=".")])
    with pytest.raises(ArchiveError, match=r"member 'l' is a symlink pointing outside the release \('m/\.\./x' leads to"):
        extract(path, dest)


def test_a_file_member_never_writes_through_an_earlier_hard_link(dest, tmp_path):
    """``h`` first a hard link to ``f``, then a file of its own: ``f`` keeps its content (the link is replaced)."""
    path = build(tmp_path / "relink.tar.gz", [entry("f", data=b"original\n"), entry("h", tarfile.LNKTYPE, linkname="f"),
                                              entry("h", data=b"replaced\n")])
    extract(path, dest)
    assert open(os.path.join(dest, "f"), "rb").read() == b"original\n"
    assert open(os.path.join(dest, "h"), "rb").read() == b"replaced\n"
    assert os.stat(os.path.join(dest, "f")).st_nlink == 1


# -- modes and owners ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, expected", [(0o6755, 0o755), (0o4777, 0o755), (0o2644, 0o644), (0o1666, 0o644), (0o600, 0o600),
                                            (0o640, 0o640), (0o711, 0o711), (0o077, 0o644), (0o000, 0o600), (0o744, 0o744)])
def test_file_modes_are_masked_like_the_data_filter(dest, tmp_path, mode, expected):
    assert file_mode(mode) == expected
    path = build(tmp_path / "modes.tar.gz", [entry("bin/tool", data=b"#!/bin/sh\n", mode=mode)])
    extract(path, dest)
    assert stat.S_IMODE(os.stat(os.path.join(dest, "bin/tool")).st_mode) == expected
    if hasattr(tarfile, "data_filter"):  # the same as the standard library's filter, where it exists
        assert stat.S_IMODE(tarfile.data_filter(tarfile.TarInfo("x").replace(mode=mode), dest).mode) == expected


def test_directories_get_0755_and_no_special_bits(dest, tmp_path):
    path = build(tmp_path / "dirs.tar.gz", [entry("d", tarfile.DIRTYPE, mode=0o7777), entry("e", tarfile.DIRTYPE, mode=0o700),
                                            entry("e/f/g", data=b"x")])
    extract(path, dest)
    for name in ("d", "e", "e/f"):
        assert stat.S_IMODE(os.stat(os.path.join(dest, name)).st_mode) == 0o755, name


def test_the_archive_owners_are_not_applied(dest, tmp_path):
    path = build(tmp_path / "owners.tar.gz", [entry("d", tarfile.DIRTYPE, uid=4242, gid=4343, uname="mallory", gname="mallory"),
                                              entry("d/f", data=b"x", uid=4242, gid=4343, uname="mallory", gname="mallory"),
                                              entry("l", tarfile.SYMTYPE, linkname="d/f", uid=4242, gid=4343)])
    extract(path, dest)
    for name in ("d", "d/f", "l"):
        info = os.lstat(os.path.join(dest, name))
        assert (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid()), name


# -- a normal archive ------------------------------------------------------------------------------------------

def normal_entries():
    return [entry("./", tarfile.DIRTYPE, mode=0o755),
            entry("./app.py", data=b"print('hi')\n", mode=0o644),
            entry("./bin", tarfile.DIRTYPE, mode=0o755),
            entry("./bin/run", data=b"#!/bin/sh\nexec python3 app.py\n", mode=0o755),
            entry("./lib/v1/mod.py", data=b"X = 1\n", mode=0o644),
            entry("./lib/current", tarfile.SYMTYPE, linkname="v1"),
            entry("./lib/v1/self", tarfile.SYMTYPE, linkname="../../lib/v1/mod.py"),
            entry("./static", tarfile.SYMTYPE, linkname="."),
            entry("./copy.py", tarfile.LNKTYPE, linkname="./app.py"),
            entry("./empty", data=b"", mode=0o600),
            entry("./big.bin", data=3 * 1024 * 1024 + 5, mode=0o644)]


def test_a_normal_archive_extracts_like_the_data_filter(dest, tmp_path):
    path = build(tmp_path / "normal.tar.gz", normal_entries())
    summary = extract(path, dest)
    assert summary == {"members": 11, "unpacked_size": 12 + 30 + 6 + 3 * 1024 * 1024 + 5, "files": 5, "directories": 1,
                       "symlinks": 3, "hardlinks": 1}
    got = tree(dest)
    assert got["bin/run"] == ("file", b"#!/bin/sh\nexec python3 app.py\n", 0o755)
    assert got["lib/current"] == ("link", "v1", None) and got["static"] == ("link", ".", None)
    assert got["empty"] == ("file", b"", 0o600) and got["big.bin"][1] == b"\0" * (3 * 1024 * 1024 + 5)
    assert os.stat(os.path.join(dest, "copy.py")).st_ino == os.stat(os.path.join(dest, "app.py")).st_ino
    assert open(os.path.join(dest, "lib/current/mod.py")).read() == "X = 1\n"
    assert int(os.stat(os.path.join(dest, "app.py")).st_mtime) == 1700000000
    if hasattr(tarfile, "data_filter"):
        reference = tmp_path / "reference"
        reference.mkdir()
        with tarfile.open(path) as archive:
            archive.extractall(str(reference), filter="data")  # pylint: disable=unexpected-keyword-arg
        assert tree(str(reference)) == got


def test_plain_and_other_compressions_extract(dest, tmp_path):
    for mode in ("w", "w:bz2", "w:xz"):
        target = tmp_path / ("out-" + mode.replace(":", "-"))
        target.mkdir()
        extract(build(tmp_path / ("a.tar" + mode[1:].replace(":", ".")), [entry("f", data=b"x")], mode=mode), str(target))
        assert (target / "f").read_bytes() == b"x"


# -- sizes ---------------------------------------------------------------------------------------------------------

def sparse_tar(path, declared):
    """An uncompressed tar: ``first.txt`` (6 bytes), then ``huge.bin`` of ``declared`` bytes, written as a hole."""
    first = tarfile.TarInfo("first.txt")
    first.size = 6
    huge = tarfile.TarInfo("huge.bin")
    huge.size = declared
    with open(str(path), "wb") as handle:
        handle.write(first.tobuf(tarfile.GNU_FORMAT) + b"first\n".ljust(512, b"\0"))
        handle.write(huge.tobuf(tarfile.GNU_FORMAT))
        handle.seek(-(-declared // 512) * 512, os.SEEK_CUR)
        handle.write(b"\0" * 1024)
    return str(path)


def test_a_huge_sparse_member_is_refused_by_max_unpacked_before_anything_is_written(dest, tmp_path):
    path = sparse_tar(tmp_path / "huge.tar", 64 * GIB)
    assert os.stat(path).st_blocks * 512 < 1024 * 1024  # nothing of it is on disk
    with pytest.raises(ArchiveError, match=r"unpacks to 64\.0 GiB \(68719476742 bytes\), more than max_unpacked allows "
                                           r"\(1\.0 GiB \(1073741824 bytes\)\); nothing was unpacked"):
        extract(path, dest, max_unpacked=GIB)
    assert os.listdir(dest) == []


def test_a_member_larger_than_the_free_space_is_refused_naming_the_free_space(dest, tmp_path):
    declared = 8 * 1024 * GIB  # 8 TiB: more than this disk has free, and within ext4's file size limit
    free = _safe_tar.free_space(dest)
    if free >= declared:
        pytest.skip("this filesystem has more than 8 TiB free")
    path = sparse_tar(tmp_path / "huge.tar", declared)
    with pytest.raises(ArchiveError, match=r"not enough space to unpack: the archive unpacks to 8\.0 TiB .* but only .* are free "
                                           r"on the filesystem of %s; nothing was unpacked" % dest):
        extract(path, dest)  # the default limit (10x the artifact: the sparse tar is that large) lets it through
    assert os.listdir(dest) == []


def test_a_gzip_bomb_is_refused_by_the_limit(dest, tmp_path):
    path = build(tmp_path / "bomb.tar.gz", [entry("zeros", data=64 * 1024 * 1024)])
    assert os.path.getsize(path) < 1024 * 1024
    with pytest.raises(ArchiveError, match=r"unpacks to 64\.0 MiB"):
        extract(path, dest, max_unpacked=16 * 1024 * 1024)
    assert os.listdir(dest) == []


def test_default_and_invalid_limits():
    assert default_max_unpacked(1000) == 4 * GIB and default_max_unpacked(GIB) == 10 * GIB
    assert validate_max_unpacked(None) is None and validate_max_unpacked(1) == 1
    for bad in (0, -1, True, "10"):
        with pytest.raises(ArchiveError, match=r"must be a positive number of bytes"):
            validate_max_unpacked(bad)
    assert format_bytes(512) == "512 bytes" and format_bytes(3 * GIB // 2) == "1.5 GiB (1610612736 bytes)"


@pytest.fixture(name="small_fs")
def fixture_small_fs(tmp_path):
    """A 256 KiB tmpfs (root only): a real filesystem that fills up."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "fleetops-test", str(mount_point)],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % proc.stderr.decode().strip())
    try:
        yield str(mount_point)
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_fails_cleanly_naming_the_free_space(small_fs, tmp_path):
    """Small files whose total fits the free space, but not the blocks they take: ENOSPC while unpacking."""
    path = build(tmp_path / "many.tar.gz", [entry("f%03d" % index, data=b"x") for index in range(200)])
    with pytest.raises(ArchiveError, match=r"no space left while unpacking archive member 'f\d+' \(.* free on the filesystem of %s, "
                                           r"200 bytes needed in all\)" % small_fs):
        extract(path, small_fs)


def test_the_release_store_removes_what_a_full_disk_left(small_fs, tmp_path):
    store = ReleaseStore(os.path.join(small_fs, "app"))
    path = build(tmp_path / "many.tar.gz", [entry("f%03d" % index, data=b"x") for index in range(200)])
    with pytest.raises(ArtifactError, match=r"cannot unpack release-1\.tar\.gz: no space left"):
        store.create_release("r1", artifact=path, artifact_name="release-1.tar.gz")
    assert os.listdir(store.releases_dir) == []


# -- the controller's check --------------------------------------------------------------------------------------

def test_inspect_artifact_reports_what_it_checked(tmp_path):
    path = build(tmp_path / "normal.tar.gz", normal_entries())
    result = inspect_artifact(path, name="dist/normal.tar.gz")
    assert result["sha256"] == hashlib.sha256(open(path, "rb").read()).hexdigest()
    assert result["members"] == 11 and result["unpacked_size"] == 12 + 30 + 6 + 3 * 1024 * 1024 + 5
    assert result["size"] == os.path.getsize(path) and result["max_unpacked"] == 4 * GIB
    assert inspect_artifact(path, sha256=result["sha256"].upper())["sha256"] == result["sha256"]


@pytest.mark.parametrize("content, message", [
    (b"", r"artifact dist/x\.tar\.gz is empty \(0 bytes\)"),
    (b"not a tarball\n" * 100, r"artifact dist/x\.tar\.gz is not a tar archive"),
    (b"\x1f\x8b\x08\x00 truncated gzip", r"artifact dist/x\.tar\.gz is not a tar archive"),
])
def test_inspect_artifact_refuses_what_is_no_tarball_naming_it_as_given(tmp_path, content, message):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(content)
    with pytest.raises(ArchiveError, match=message):
        inspect_artifact(str(path), name="dist/x.tar.gz")


def test_inspect_artifact_refuses_a_truncated_archive(tmp_path):
    whole = build(tmp_path / "whole.tar.gz", [entry("a", data=os.urandom(300000)), entry("b", data=b"x")])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(open(whole, "rb").read()[:150000])
    with pytest.raises(ArchiveError, match=r"artifact dist/cut\.tar\.gz is not a complete tar archive \(truncated or corrupt\): "):
        inspect_artifact(str(cut), name="dist/cut.tar.gz")


def test_inspect_artifact_refusals(dest, tmp_path):
    with pytest.raises(ArchiveError, match=r"artifact nowhere\.tar\.gz does not exist on the controller"):
        inspect_artifact(str(tmp_path / "nowhere.tar.gz"), name="nowhere.tar.gz")
    with pytest.raises(ArchiveError, match=r"artifact somedir is not a regular file"):
        inspect_artifact(str(tmp_path), name="somedir")
    path = build(tmp_path / "chain.tar.gz", chain(dest, tmp_path))
    with pytest.raises(ArchiveError, match=r"artifact evil\.tar\.gz is refused: archive member 'esc' is a symlink pointing outside"):
        inspect_artifact(path, name="evil.tar.gz")
    with pytest.raises(ArchiveError, match=r"checksum mismatch for evil\.tar\.gz: expected sha256 0{64}"):
        inspect_artifact(path, name="evil.tar.gz", sha256="0" * 64)
    bomb = build(tmp_path / "bomb.tar.gz", [entry("zeros", data=8 * 1024 * 1024)])
    with pytest.raises(ArchiveError, match=r"artifact b\.tar\.gz is refused: the archive unpacks to 8\.0 MiB"):
        inspect_artifact(bomb, name="b.tar.gz", max_unpacked=1024 * 1024)
    with pytest.raises(ArchiveError, match=r"must be a positive number of bytes, got 0"):
        inspect_artifact(bomb, max_unpacked=0)


# -- through the release store -----------------------------------------------------------------------------------

def test_the_release_store_refuses_the_chain_naming_the_artifact_as_given(tmp_path):
    store = ReleaseStore(str(tmp_path / "app"))
    (tmp_path / "outside").mkdir()
    path = build(tmp_path / "copy.tar.gz", chain(str(tmp_path / "app" / "releases" / ".tmp-evil-x"), tmp_path))
    with pytest.raises(ArtifactError, match=r"cannot unpack dist/evil\.tar\.gz: archive member 'esc' is a symlink pointing outside"):
        store.create_release("evil", artifact=path, artifact_name="dist/evil.tar.gz")
    assert os.listdir(store.releases_dir) == [] and os.listdir(str(tmp_path / "outside")) == []
    with pytest.raises(ArtifactError, match=r"must be a positive number of bytes"):
        store.create_release("evil", artifact=path, max_unpacked=-1)


def test_the_release_store_applies_max_unpacked(tmp_path):
    store = ReleaseStore(str(tmp_path / "app"))
    path = build(tmp_path / "r.tar.gz", [entry("f", data=2048)])
    with pytest.raises(ArtifactError, match=r"unpacks to 2\.0 KiB \(2048 bytes\), more than max_unpacked allows \(1\.0 KiB \(1024 bytes\)\)"):
        store.create_release("r1", artifact=path, max_unpacked=1024)
    assert os.listdir(store.releases_dir) == []
    changed, manifest = store.create_release("r1", artifact=path, max_unpacked=2048)
    assert changed and manifest["id"] == "r1" and os.path.getsize(os.path.join(store.release_path("r1"), "f")) == 2048
