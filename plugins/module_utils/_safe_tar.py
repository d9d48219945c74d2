# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unpack a release tarball without letting it write anything outside the release, on every Python 3.8+.

What ``tarfile``'s ``data`` filter does, in one code path whether the host's Python has ``tarfile.data_filter`` or
not (Debian 12's 3.11.2 has not), and stricter where that costs a release nothing:

* Before anything is written, the whole member list is checked on a simulated tree (``check_members``): absolute
  names, ``..`` components, devices, fifos and other special members are refused; every symlink is resolved through
  the links the archive itself makes (``a -> .`` then ``esc -> a/a/../../..``) and refused when it leaves the
  release; members are never written through a symlink; hard links must name a regular file unpacked before them.
  The members' total size is compared with ``max_unpacked`` and with the free space of the filesystem.
* Then each member is written against the real filesystem with directory file descriptors: every parent is opened
  with ``O_NOFOLLOW`` (a symlinked parent is refused, never followed), files are created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW`` after an earlier member of the same name was unlinked (so a hard link made
  earlier is never written through), hard links are made with ``follow_symlinks=False``. Each symlink is checked
  with ``realpath`` as soon as it exists, and every symlink again once all members are written.
* The archive's owners are never applied (everything belongs to the user that unpacks); setuid, setgid and sticky
  bits and group/other write bits are dropped: files get ``mode & 0o755 | 0o600`` (execute bits only when the owner
  may execute), directories ``0o755``.

The destination must be a fresh directory private to the caller (the release store's ``releases/.tmp-*``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tarfile

GIB = 1024 ** 3
# Default size limit of the unpacked members: 10x the artifact, but at least 4 GiB (a release that compresses better
# than 10:1 is common, a 4 GiB release is not a gzip bomb); fleet_artifact_max_unpacked overrides it.
MAX_UNPACKED_FACTOR = 10
MAX_UNPACKED_FLOOR = 4 * GIB
DIR_MODE = 0o755
SYMLINK_HOPS_MAX = 40
_CHUNK = 1024 * 1024
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
_SPACE_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))

_DIR, _FILE, _SYMLINK = "directory", "file", "symlink"


class ArchiveError(Exception):
    """The archive is refused or could not be unpacked; the message names the member and what to do."""


def format_bytes(count):
    """``1.5 GiB (1610612736 bytes)``: readable, and exact for the operator who sets a limit from it."""
    if count < 1024:
        return "%d bytes" % count
    value = float(count)
    shown = "bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value /= 1024
        shown = unit
    return "%.1f %s (%d bytes)" % (value, shown, count)


def default_max_unpacked(artifact_size):
    return max(MAX_UNPACKED_FACTOR * artifact_size, MAX_UNPACKED_FLOOR)


def validate_max_unpacked(value):
    """``None`` (the default applies) or a positive number of bytes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArchiveError("max_unpacked (fleet_artifact_max_unpacked) must be a positive number of bytes, got %r; "
                           "leave it unset for the default (%dx the artifact, at least %s)"
                           % (value, MAX_UNPACKED_FACTOR, format_bytes(MAX_UNPACKED_FLOOR)))
    return value


def _kind_of_special(member):
    if member.ischr():
        return "character device"
    if member.isblk():
        return "block device"
    if member.isfifo():
        return "fifo"
    return "special file (tar type %r)" % (member.type,)


def member_parts(name, refusal=None):
    """The components of a member name (or hard link target) inside the release: ``./`` and ``.`` dropped; absolute
    names and ``..`` components refused with ``refusal`` (default: the member would land outside the release).
    ``()`` is the release directory itself (a member ``./``)."""
    refusal = refusal or "archive member %r would be written outside the release directory" % (name,)
    if not name or name.startswith("/"):
        raise ArchiveError(refusal + " (an absolute or empty name)")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise ArchiveError(refusal + " (a '..' component)")
    return parts


def _show(parts):
    return "/".join(parts) or "."


class _Tree:
    """The tree an archive makes, simulated from its member list (the destination starts empty)."""

    def __init__(self):
        self.nodes = {(): (_DIR, None)}

    def kind(self, parts):
        node = self.nodes.get(parts)
        return node[0] if node else None

    def resolve(self, parts):
        """Where ``parts`` leads through the archive's own symlinks, like ``os.path.realpath`` does on disk: a tuple
        inside the release, or None when it leaves the release (a ``..`` above the top). Missing components are
        taken as they are (``realpath`` does the same)."""
        pending = list(parts)
        resolved = ()
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not resolved:
                    return None
                resolved = resolved[:-1]
                continue
            candidate = resolved + (part,)
            node = self.nodes.get(candidate)
            if node and node[0] == _SYMLINK:
                hops += 1
                if hops > SYMLINK_HOPS_MAX:
                    raise ArchiveError("archive member %r is part of a symlink loop" % _show(candidate))
                target = node[1]
                if target.startswith("/"):
                    return None
                pending = target.split("/") + pending
                continue  # relative to the link's own directory, which is ``resolved``
            resolved = candidate
        return resolved


def check_members(members, max_unpacked=None):
    """Check a member list (``TarInfo`` objects, in archive order) before anything is written.

    Returns ``{"members", "unpacked_size", "files", "directories", "symlinks", "hardlinks"}``; raises ArchiveError
    naming the first member that is refused. ``max_unpacked`` None skips the size limit (the caller applies it).
    """
    tree = _Tree()
    summary = {"members": 0, "unpacked_size": 0, "files": 0, "directories": 0, "symlinks": 0, "hardlinks": 0}
    symlinks = []
    for member in members:
        summary["members"] += 1
        name = member.name
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise ArchiveError("archive member %r is a %s; releases may only hold files, directories and links "
                               "(special files such as devices and fifos are refused)" % (name, _kind_of_special(member)))
        parts = member_parts(name)
        if not parts:
            if not member.isdir():
                raise ArchiveError("archive member %r would replace the release directory itself" % name)
            continue  # "./": the release directory, which keeps its own mode
        for depth in range(1, len(parts)):
            parent = parts[:depth]
            kind = tree.kind(parent)
            if kind is None:
                tree.nodes[parent] = (_DIR, None)
            elif kind == _SYMLINK:
                raise ArchiveError("archive member %r would be written through the symlink %r; links are never followed "
                                   "while unpacking (put the member at its real path)" % (name, _show(parent)))
            elif kind != _DIR:
                raise ArchiveError("archive member %r would be written below %r, which is a file" % (name, _show(parent)))
        existing = tree.kind(parts)
        if member.isdir():
            if existing not in (None, _DIR):
                raise ArchiveError("archive member %r is a directory, but an earlier member made it a %s" % (name, existing))
            tree.nodes[parts] = (_DIR, None)
            summary["directories"] += 1
            continue
        if existing == _DIR:
            raise ArchiveError("archive member %r would replace the directory an earlier member made" % name)
        if member.issym():
            link = member.linkname
            if not link or link.startswith("/"):
                raise ArchiveError("archive member %r is a symlink pointing outside the release (%r)" % (name, link))
            tree.nodes[parts] = (_SYMLINK, link)
            symlinks.append((name, parts, link))
            summary["symlinks"] += 1
            # Checked now (the first refusal names the member that escapes) and again below, when every link exists.
            if tree.resolve(parts) is None:
                raise ArchiveError("archive member %r is a symlink pointing outside the release (%r)" % (name, link))
        elif member.islnk():
            target = member_parts(member.linkname, "archive member %r is a hard link pointing outside the release (%r)"
                                  % (name, member.linkname))
            for depth in range(1, len(target)):
                if tree.kind(target[:depth]) == _SYMLINK:
                    raise ArchiveError("archive member %r is a hard link through the symlink %r (%r); links are never "
                                       "followed while unpacking" % (name, _show(target[:depth]), member.linkname))
            if not target or tree.kind(target) != _FILE:
                raise ArchiveError("archive member %r is a hard link to %r, which is not a regular file unpacked before it"
                                   % (name, member.linkname))
            tree.nodes[parts] = (_FILE, None)
            summary["hardlinks"] += 1
        else:
            tree.nodes[parts] = (_FILE, None)
            summary["files"] += 1
            summary["unpacked_size"] += max(member.size, 0)
    # A link that was inside when it was made can leave through a link made later (``l -> m/../x``, then ``m -> .``).
    for name, parts, link in symlinks:
        if tree.nodes.get(parts) == (_SYMLINK, link) and tree.resolve(parts) is None:
            raise ArchiveError("archive member %r is a symlink pointing outside the release (%r) through the links "
                               "the archive makes" % (name, link))
    if max_unpacked is not None and summary["unpacked_size"] > max_unpacked:
        raise ArchiveError("the archive unpacks to %s, more than max_unpacked allows (%s); nothing was unpacked. "
                           "Raise max_unpacked (fleet_artifact_max_unpacked) if the release is really that large"
                           % (format_bytes(summary["unpacked_size"]), format_bytes(max_unpacked)))
    return summary


def free_space(path):
    """Bytes an unprivileged write may still use on the filesystem of ``path`` (root's reserve is not counted)."""
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


def _inside(path, top):
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def _open_dir(name, dir_fd, member, create):
    """Open directory ``name`` below ``dir_fd`` without following a symlink; create it (0755) when missing."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if not create:
            raise ArchiveError("archive member %r: %r does not exist" % (member.name, name))
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ArchiveError("archive member %r would be written through %r, which is a symlink or a file on disk; "
                               "links are never followed while unpacking" % (member.name, name))
        raise
    os.mkdir(name, 0o700, dir_fd=dir_fd)
    handle = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    os.fchmod(handle, DIR_MODE)
    return handle


def _walk(root_fd, parts, member, create=True):
    """A descriptor of the directory ``parts`` below ``root_fd``, opened component by component with O_NOFOLLOW."""
    current = os.dup(root_fd)
    try:
        for part in parts:
            following = _open_dir(part, current, member, create)
            os.close(current)
            current = following
    except BaseException:
        os.close(current)
        raise
    return current


def _clear(name, dir_fd, member):
    """Unlink an earlier member of the same name (file, link), so that nothing is ever written through it."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        raise ArchiveError("archive member %r would replace a directory" % member.name)
    os.unlink(name, dir_fd=dir_fd)


def file_mode(mode):
    """The data filter's mode for a file: no setuid/setgid/sticky, no group/other write, execute only with the owner's."""
    mode &= 0o755
    if not mode & 0o100:
        mode &= ~0o111
    return mode | 0o600


def _write_file(archive, member, name, dir_fd):
    source = archive.extractfile(member)
    handle = os.open(name, _FILE_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        while True:
            block = source.read(_CHUNK)
            if not block:
                break
            view = memoryview(block)
            while view:
                written = os.write(handle, view)
                view = view[written:]
        os.fchmod(handle, file_mode(member.mode))
        os.utime(handle, (member.mtime, member.mtime))
    finally:
        os.close(handle)


def _extract_member(archive, member, root_fd, dest):
    parts = member_parts(member.name)
    if not parts:
        return
    parent_fd = _walk(root_fd, parts[:-1], member)
    try:
        last = parts[-1]
        if member.isdir():
            handle = _open_dir(last, parent_fd, member, create=True)
            try:
                os.fchmod(handle, DIR_MODE)
            finally:
                os.close(handle)
            return
        _clear(last, parent_fd, member)
        if member.issym():
            os.symlink(member.linkname, last, dir_fd=parent_fd)
            real = os.path.realpath(os.path.join(dest, *parts))
            if not _inside(real, dest):
                raise ArchiveError("archive member %r is a symlink pointing outside the release (%r leads to %s)"
                                   % (member.name, member.linkname, real))
        elif member.islnk():
            target = member_parts(member.linkname, "archive member %r is a hard link pointing outside the release (%r)"
                                  % (member.name, member.linkname))
            source_fd = _walk(root_fd, target[:-1], member, create=False)
            try:
                info = os.stat(target[-1], dir_fd=source_fd, follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):
                    raise ArchiveError("archive member %r is a hard link to %r, which is not a regular file"
                                       % (member.name, member.linkname))
                os.link(target[-1], last, src_dir_fd=source_fd, dst_dir_fd=parent_fd, follow_symlinks=False)
            finally:
                os.close(source_fd)
        else:
            _write_file(archive, member, last, parent_fd)
    finally:
        os.close(parent_fd)


def extract(path, dest, max_unpacked=None):
    """Unpack the tarball ``path`` (gzip, bzip2, xz or plain) into the empty directory ``dest``.

    ``max_unpacked`` None means the default (``default_max_unpacked`` of the artifact's size). Returns the summary
    of ``check_members``. Raises ArchiveError (refused member, size limit, no space) or ``tarfile.TarError`` /
    ``EOFError`` / ``OSError`` (an unreadable or truncated archive). On an error, what was written stays in ``dest``:
    the caller removes the directory.
    """
    limit = validate_max_unpacked(max_unpacked)
    if limit is None:
        limit = default_max_unpacked(os.path.getsize(path))
    dest = os.path.realpath(dest)
    with tarfile.open(path, "r:*") as archive:
        members = archive.getmembers()
        summary = check_members(members, limit)
        free = free_space(dest)
        if summary["unpacked_size"] > free:
            raise ArchiveError("not enough space to unpack: the archive unpacks to %s, but only %s are free on the "
                               "filesystem of %s; nothing was unpacked. Free some space (fewer kept releases: "
                               "fleet_keep_releases) and deploy again"
                               % (format_bytes(summary["unpacked_size"]), format_bytes(free), dest))
        root_fd = os.open(dest, _DIR_FLAGS)
        try:
            for member in members:
                try:
                    _extract_member(archive, member, root_fd, dest)
                except OSError as exc:
                    if exc.errno in _SPACE_ERRNOS:
                        raise ArchiveError("no space left while unpacking archive member %r (%s free on the filesystem "
                                           "of %s, %s needed in all); nothing was kept. Free some space and deploy again"
                                           % (member.name, format_bytes(free_space(dest)), dest,
                                              format_bytes(summary["unpacked_size"])))
                    raise
        finally:
            os.close(root_fd)
    # Every symlink again, now that all links exist: the tree checked above is the tree on disk.
    for member in members:
        if member.issym():
            real = os.path.realpath(os.path.join(dest, *member_parts(member.name)))
            if not _inside(real, dest):
                raise ArchiveError("archive member %r is a symlink pointing outside the release (%r leads to %s)"
                                   % (member.name, member.linkname, real))
    return summary


def inspect_artifact(path, name=None, max_unpacked=None, sha256=None):
    """The controller's check of an artifact before anything is sent: readable, not empty, a tar archive whose
    members pass ``check_members`` (size limit included), and its sha256 equal to ``sha256`` when given.

    ``name`` is how the operator gave the artifact, used in every message. Returns
    ``{"sha256", "size", "members", "unpacked_size", "max_unpacked", ...}``.
    """
    name = name or path
    limit = validate_max_unpacked(max_unpacked)
    try:
        # stat first: opening a fifo given by mistake would block the run.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ArchiveError("artifact %s is not a regular file" % name)
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            digest = hashlib.sha256()
            for block in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(block)
    except FileNotFoundError:
        raise ArchiveError("artifact %s does not exist on the controller (or is not a file)" % name)
    except OSError as exc:
        raise ArchiveError("artifact %s cannot be read on the controller: %s" % (name, exc.strerror or exc))
    if size == 0:
        raise ArchiveError("artifact %s is empty (0 bytes); give the release's .tar.gz" % name)
    actual = digest.hexdigest()
    if sha256 and sha256.lower() != actual:
        raise ArchiveError("checksum mismatch for %s: expected sha256 %s, got %s; nothing was sent to any host"
                           % (name, sha256.lower(), actual))
    if limit is None:
        limit = default_max_unpacked(size)
    try:
        archive = tarfile.open(path, "r:*")
    except (tarfile.TarError, EOFError, OSError):
        # tarfile's message lists every compression it tried, over several lines: say it once.
        raise ArchiveError("artifact %s is not a tar archive (plain, or compressed with gzip, bzip2 or xz)" % name)
    try:
        with archive:
            summary = check_members(archive.getmembers(), limit)
    except ArchiveError as exc:
        raise ArchiveError("artifact %s is refused: %s" % (name, exc))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError("artifact %s is not a complete tar archive (truncated or corrupt): %s"
                           % (name, " ".join(str(exc).split())))
    summary.update(sha256=actual, size=size, max_unpacked=limit)
    return summary
