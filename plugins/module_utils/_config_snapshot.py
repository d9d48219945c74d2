# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Configuration snapshots: the exact configuration a release ran with, kept beside the release.

    <app_root>/snapshots/<id>/                       one per release, mode 0700 (secrets stay secret)
    <app_root>/snapshots/<id>/.fleet-snapshot.json   the manifest: roots and entries (path, type, sha256, size,
                                                     mode, owner, group, symlink target) and a digest of them
    <app_root>/snapshots/<id>/files/<absolute path>  copies of the files, with their modes and owners
    <app_root>/snapshots/.tmp-*                      a snapshot being written: never a snapshot
    <app_root>/snapshots/<id>.drift-<utc time>/      live files a restore was about to overwrite although they
                                                     differed from the current release's snapshot

A root is a path the snapshot is responsible for: a file, a symlink, a directory (everything below it, and
nothing else, is the configuration) or ``absent`` (it did not exist, so a restore removes it).

A path is *secret* (see :class:`Secrecy`) when others cannot read it where it lives: the file is not readable by
others, or a directory above it (up to ``/``, on the host or as the snapshot records it) is not readable and
searchable by others, or it matches one of the operator's ``secret_paths``. A secret's content, size and checksum
never appear in a diff, a result or a message; a diff shows a placeholder that says whether its sha256 changed.
"""

from __future__ import annotations

import datetime
import difflib
import fnmatch
import grp
import hashlib
import json
import os
import pwd
import shutil
import stat
import tempfile

from ansible_collections.fleetops.release.plugins.module_utils._atomic import (
    atomic_symlink,
    atomic_write_json,
    fsync_dir,
    read_json,
)
from ansible_collections.fleetops.release.plugins.module_utils._release_store import (
    FleetError,
    validate_release_id,
)

SNAPSHOT_MANIFEST = ".fleet-snapshot.json"
DRIFT_MANIFEST = ".fleet-drift.json"
# The folder (with a time stamp) that keeps the live configuration a first release replaced.
BEFORE_FIRST_RELEASE = "before-first-release"
SNAPSHOT_FORMAT = 1
FILES_DIR = "files"
DIFF_MAX_BYTES = 64 * 1024

# The option of every module that shows configuration (doc fragment fleetops.release.secrets).
SECRET_PATHS_SPEC = {"secret_paths": {"type": "list", "elements": "str", "default": [], "no_log": False}}
SECRET_HIDDEN = "<secret: content not shown>"
SECRET_CHANGED = "<secret: content not shown; sha256 changed>"
SECRET_UNCHANGED = "<secret: content not shown; sha256 unchanged>"


class SnapshotError(FleetError):
    pass


class SnapshotNotFound(SnapshotError):
    pass


class SnapshotCorrupt(SnapshotError):
    """The snapshot does not match its manifest; ``problems`` lists each path and what is wrong."""

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.problems = list(problems)


class SnapshotConflict(SnapshotError):
    pass


# -- small pure helpers ----------------------------------------------------------------------------------

def validate_config_path(path, what="configuration path"):
    """An absolute, normalised path that is not ``/``."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise SnapshotError("%s %r must be an absolute path" % (what, path))
    parts = path.split("/")[1:]
    if path.endswith("/") and len(path) > 1:
        parts = parts[:-1]
    if any(part in ("", ".", "..") for part in parts) or not parts:
        raise SnapshotError("%s %r must be a normalised absolute path below / without '.', '..' or '//'" % (what, path))
    return "/" + "/".join(parts)


def is_under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def check_roots(roots, forbidden=()):
    """Roots must not repeat, nest in each other, or overlap ``forbidden`` (the app root's snapshots)."""
    ordered = sorted(set(roots))
    if len(ordered) != len(roots):
        raise SnapshotError("configuration paths %s are listed more than once" % ", ".join(
            sorted(path for path in ordered if roots.count(path) > 1)))
    for index, root in enumerate(ordered):
        for other in ordered[index + 1:]:
            if is_under(other, root):
                raise SnapshotError("configuration path %s lies inside %s; list only %s" % (other, root, root))
        for place in forbidden:
            if is_under(root, place) or is_under(place, root):
                raise SnapshotError("configuration path %s overlaps %s, where the snapshots themselves live" % (root, place))
    return ordered


def format_mode(mode):
    return "%04o" % stat.S_IMODE(mode)


def parse_mode(value, what):
    """Octal string (``'0600'``, ``'600'``) or int as given by a user; symbolic modes are not accepted."""
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        if not text or any(char not in "01234567" for char in text):
            raise SnapshotError("%s mode %r must be octal digits such as '0640' (quote it in YAML)" % (what, value))
        mode = int(text, 8)
    if mode < 0 or mode > 0o7777:
        raise SnapshotError("%s mode %r is out of range" % (what, value))
    return format_mode(mode)


def is_secret(entry):
    """A file entry that is not readable by others (its own mode only; :class:`Secrecy` decides from the whole path)."""
    return entry is not None and entry.get("type") == "file" and not int(entry["mode"], 8) & 0o004


def validate_secret_patterns(patterns):
    """``secret_paths`` as given: absolute paths or glob patterns (``*``, ``?``, ``[...]``; ``*`` also matches ``/``)."""
    checked = []
    for pattern in patterns or ():
        if not isinstance(pattern, str) or not pattern.startswith("/") or "\n" in pattern:
            raise SnapshotError("secret path %r must be an absolute path or glob pattern such as /etc/app/conf.d/*.key" % (pattern,))
        checked.append(pattern.rstrip("/") or "/")
    return checked


def _ancestors(path):
    """The directories above ``path``, nearest first, ending with ``/``."""
    found = []
    parent = os.path.dirname(path)
    while True:
        found.append(parent)
        if parent == "/" or not parent:
            return found
        parent = os.path.dirname(parent)


def _others_can_list(mode):
    return mode & 0o005 == 0o005


class Secrecy:
    """Decides whether a configuration path is secret, from the whole path and not only the file's own mode.

    A file in a 0700 directory is as secret as a 0600 file: ``--diff`` must not print it either. A path is secret when

    - the file is not readable by others: its live mode, or the mode the snapshot records for it;
    - a directory above it, up to ``/``, is not readable and searchable by others: live (followed through symlinks, and
      the real path's directories too) or as the snapshot records it (``entries``: the directories a restore creates);
    - it, or a directory above it, matches one of ``patterns`` (``secret_paths``: exact paths or fnmatch globs).

    ``stat_fn`` is injectable for tests; live modes are looked up once per directory.
    """

    def __init__(self, patterns=(), entries=(), stat_fn=os.stat):
        self.patterns = validate_secret_patterns(patterns)
        self.recorded = {}
        self._stat = stat_fn
        self._live = {}
        self.add_entries(entries)

    def add_entries(self, entries):
        """Entries of a manifest (or plan) whose recorded modes count too; several manifests may be added."""
        for entry in entries or ():
            if entry is not None:
                self.recorded.setdefault(entry["path"], []).append(entry)

    def _live_mode(self, path):
        if path not in self._live:
            try:
                self._live[path] = stat.S_IMODE(self._stat(path).st_mode)
            except OSError:
                self._live[path] = None  # not there (yet): the snapshot's record of it decides
        return self._live[path]

    def reason(self, path, *entries):
        """Why ``path`` is secret (a short text), or None. ``entries`` are what the caller holds for the path itself."""
        for entry in entries + tuple(self.recorded.get(path, ())):
            if is_secret(entry):
                return "%s is not readable by others (mode %s)" % (path, entry["mode"])
        for candidate in [path] + _ancestors(path):
            for pattern in self.patterns:
                if fnmatch.fnmatchcase(candidate, pattern):
                    return "%s matches the secret path %s" % (path, pattern)
        try:
            info = os.lstat(path)
        except OSError:
            info = None
        if info is not None and stat.S_ISREG(info.st_mode) and not info.st_mode & 0o004:
            return "%s is not readable by others (mode %s)" % (path, format_mode(info.st_mode))
        parents = _ancestors(path)
        real_parent = os.path.realpath(os.path.dirname(path))
        parents += [real_parent] + _ancestors(real_parent) if real_parent != os.path.dirname(path) else []
        for parent in parents:
            for recorded in self.recorded.get(parent, ()):
                if recorded.get("type") == "directory" and not _others_can_list(int(recorded["mode"], 8)):
                    return "directory %s is not readable and searchable by others (mode %s in the snapshot)" % (parent, recorded["mode"])
            live = self._live_mode(parent)
            if live is not None and not _others_can_list(live):
                return "directory %s is not readable and searchable by others (mode %04o)" % (parent, live)
        return None

    def is_secret(self, path, *entries):
        return self.reason(path, *entries) is not None


def secret_reason(path, patterns=(), entries=()):
    """Why ``path`` is secret on this host, or None (see :class:`Secrecy`)."""
    return Secrecy(patterns, entries).reason(path)


def entries_digest(roots, entries):
    """Checksum of what the manifest says, so a flipped byte in the manifest itself is found too."""
    canonical = json.dumps({"roots": roots, "entries": entries}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def utc_stamp(now=None):
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def resolve_uid(name, fallback=None):
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        if str(name).isdigit():
            return int(name)
        if fallback is not None:
            return fallback
        raise SnapshotError("owner %r does not exist on this host; create the user or pick another owner" % (name,))


def resolve_gid(name, fallback=None):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if str(name).isdigit():
            return int(name)
        if fallback is not None:
            return fallback
        raise SnapshotError("group %r does not exist on this host; create the group or pick another group" % (name,))


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_path(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


# -- reading the live system -----------------------------------------------------------------------------

def describe(path, with_hash=True):
    """The manifest entry of one live path (not following symlinks), or None when it does not exist."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    entry = {"path": path, "mode": format_mode(info.st_mode), "owner": user_name(info.st_uid), "group": group_name(info.st_gid),
             "uid": info.st_uid, "gid": info.st_gid}
    if stat.S_ISLNK(info.st_mode):
        entry.update(type="link", target=os.readlink(path), mode="0777")
    elif stat.S_ISDIR(info.st_mode):
        entry["type"] = "directory"
    elif stat.S_ISREG(info.st_mode):
        entry.update(type="file", size=info.st_size)
        if with_hash:
            entry["sha256"], entry["size"] = sha256_path(path)
    else:
        raise SnapshotError("%s is a device, fifo or socket; configuration snapshots hold only files, directories and symlinks" % path)
    return entry


def walk_live(root):
    """Entries of ``root`` and, for a directory, of everything below it (symlinks are not followed)."""
    top = describe(root)
    if top is None:
        return None, []
    found = [top]
    if top["type"] == "directory":
        for dirpath, dirnames, filenames in os.walk(root, topdown=True, followlinks=False):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                entry = describe(os.path.join(dirpath, name))
                if entry is not None:
                    found.append(entry)
    found.sort(key=lambda item: item["path"])
    return top, found


# -- comparing ------------------------------------------------------------------------------------------

def _same_owner(want, have):
    # Names are what people mean; numeric ids decide when a name does not exist on this host.
    return resolve_uid(want["owner"], want.get("uid")) == have["uid"] and resolve_gid(want["group"], want.get("gid")) == have["gid"]


def differences(want, have):
    """What differs between a wanted entry and a live one: a list like ['content', 'mode']; [] when equal."""
    if have is None:
        return ["missing"]
    if want is None:
        return ["extra"]
    if want["type"] != have["type"]:
        return ["type"]
    changes = []
    if want["type"] == "link":
        if want["target"] != have["target"]:
            changes.append("target")
        return changes
    if want["type"] == "file" and (want["sha256"] != have.get("sha256") or want["size"] != have.get("size")):
        changes.append("content")
    if want["mode"] != have["mode"]:
        changes.append("mode")
    if resolve_uid(want["owner"], want.get("uid")) != have["uid"]:
        changes.append("owner")
    if resolve_gid(want["group"], want.get("gid")) != have["gid"]:
        changes.append("group")
    return changes


def plan(manifest):
    """The changes that would make the live system equal to a snapshot: a list of actions, parents first.

    Each action: {"path", "action": create|update|remove, "changes": [...], "want": entry|None, "have": entry|None}.
    """
    actions = []
    entries = {entry["path"]: entry for entry in manifest["entries"]}
    for root in manifest["roots"]:
        path = root["path"]
        if root["type"] == "absent":
            have = describe(path)
            if have is not None:
                actions.append({"path": path, "action": "remove", "changes": ["extra"], "want": None, "have": have})
            continue
        wanted = sorted((entry for entry in manifest["entries"] if is_under(entry["path"], path)), key=lambda item: item["path"])
        top, live = walk_live(path)
        live_by_path = {entry["path"]: entry for entry in live}
        if top is not None and top["type"] != entries[path]["type"]:
            live_by_path = {path: top}  # the whole live tree is replaced
        removed_under = []
        for want in wanted:
            have = live_by_path.get(want["path"])
            if any(is_under(want["path"], gone) for gone in removed_under):
                have = None
            changes = differences(want, have)
            if changes:
                kind = "create" if have is None else "update"
                actions.append({"path": want["path"], "action": kind, "changes": changes, "want": want, "have": have})
                if "type" in changes:
                    removed_under.append(want["path"])
        extra = [have for have_path, have in live_by_path.items() if have_path not in entries
                 and not any(is_under(have_path, gone) and have_path != gone for gone in removed_under)]
        # Remove only the top of an extra subtree; everything below goes with it.
        extra_tops = []
        for have in sorted(extra, key=lambda item: item["path"]):
            if not any(is_under(have["path"], done) for done in extra_tops):
                extra_tops.append(have["path"])
                actions.append({"path": have["path"], "action": "remove", "changes": ["extra"], "want": None, "have": have})
    return actions


def drift_candidates(actions, current_manifest, current=None):
    """Live files (and links) that ``actions`` would overwrite or remove and that are not held, exactly as they are,
    by the current release's snapshot: they would be lost, so a restore saves them first. Each gets a ``reason``.
    """
    recorded = {entry["path"]: entry for entry in (current_manifest or {}).get("entries", [])}
    found = []
    for action in actions:
        have = action["have"]
        if have is None:
            continue
        replaced = action["action"] == "remove" or "type" in action["changes"]
        candidates = walk_live(have["path"])[1] if replaced and have["type"] == "directory" else [have]
        for live in candidates:
            if live["type"] == "directory":
                continue
            want = recorded.get(live["path"])
            if want is None:
                why = "no snapshot of the current release" if current_manifest is None else \
                    "not in the snapshot of release %s" % current
            else:
                changes = differences(want, live)
                if not changes:
                    continue
                why = "differs from the snapshot of release %s (%s)" % (current, ", ".join(changes))
            found.append(dict(live, reason=why))
    return found


def public_change(action, release=None, secrecy=None):
    """An action as reported to the user: metadata only, never a secret's content, size or checksum."""
    want, have = action["want"], action["have"]
    secret = (secrecy or Secrecy()).is_secret(action["path"], want, have)
    row = {"path": action["path"], "action": action["action"], "changes": list(action["changes"]), "secret": secret}
    for side, entry in (("live", have), ("snapshot", want)):
        if entry is None:
            row[side] = None
            continue
        shown = {key: entry[key] for key in ("type", "mode", "owner", "group", "target") if key in entry}
        if entry["type"] == "file" and not secret:
            shown.update(sha256=entry.get("sha256"), size=entry.get("size"))
        row[side] = shown
    if release is not None:
        row["release"] = release
    return row


def _meta(entry):
    if entry is None:
        return "absent"
    if entry["type"] == "link":
        return "symlink -> %s" % entry["target"]
    return "%s %s %s:%s" % (entry["type"], entry["mode"], entry["owner"], entry["group"])


def _text_of(path, entry):
    if entry is None or entry["type"] != "file":
        return ""
    if entry.get("size", 0) > DIFF_MAX_BYTES:
        return "(%d bytes: too large to show)\n" % entry["size"]
    try:
        with open(path, "rb") as handle:
            data = handle.read(DIFF_MAX_BYTES + 1)
    except OSError as exc:
        return "(cannot read: %s)\n" % exc.strerror
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "(binary content, sha256 %s)\n" % sha256_bytes(data)


def diff_entry(action, snapshot_file, live_label, snapshot_label, secrecy=None):
    """One Ansible diff dict for an action: the first line of each side is the type, mode and owner, then the content.

    ``snapshot_file`` is where the snapshot's copy of the file is (None when there is none). The content of a secret
    (see :class:`Secrecy`) is never read: each side shows a placeholder, the new side says whether the sha256 changed.
    """
    want, have = action["want"], action["have"]
    secret = (secrecy or Secrecy()).is_secret(action["path"], want, have)
    content_differs = "content" in action["changes"] or "type" in action["changes"] or action["action"] != "update"
    if secret:
        before = SECRET_HIDDEN + "\n" if have is not None and have["type"] == "file" else ""
        after = "" if want is None or want["type"] != "file" else (SECRET_CHANGED if content_differs else SECRET_UNCHANGED) + "\n"
    else:
        before = _text_of(action["path"], have)
        after = _text_of(snapshot_file, want) if want is not None and want["type"] == "file" and snapshot_file else ""
    return {
        "before_header": "%s (%s)" % (action["path"], live_label),
        "after_header": "%s (%s)" % (action["path"], snapshot_label),
        "before": "# %s\n%s" % (_meta(have), before),
        "after": "# %s\n%s" % (_meta(want), after),
    }


def diff_text(action, snapshot_file, secrecy=None):
    """A unified diff of a non-secret file's content (used in messages); '' for secrets."""
    secrecy = secrecy or Secrecy()
    if secrecy.is_secret(action["path"], action["want"], action["have"]):
        return ""
    entry = diff_entry(action, snapshot_file, "live", "snapshot", secrecy)
    return "".join(difflib.unified_diff(entry["before"].splitlines(True), entry["after"].splitlines(True),
                                        entry["before_header"], entry["after_header"]))


# -- the store ------------------------------------------------------------------------------------------

class SnapshotStore:
    """Snapshots under ``<app_root>/snapshots``."""

    def __init__(self, app_root):
        if not app_root or not os.path.isabs(app_root):
            raise SnapshotError("app_root must be an absolute path, got %r" % (app_root,))
        self.root = os.path.normpath(app_root)
        self.dir = os.path.join(self.root, "snapshots")

    def path(self, release_id):
        return os.path.join(self.dir, validate_release_id(release_id))

    def manifest_path(self, release_id):
        return os.path.join(self.path(release_id), SNAPSHOT_MANIFEST)

    def file_path(self, release_id, path):
        return os.path.join(self.path(release_id), FILES_DIR, path.lstrip("/"))

    def exists(self, release_id):
        return os.path.isfile(self.manifest_path(release_id))

    def snapshots(self):
        """Ids of complete snapshots, and the drift folders, sorted by name."""
        ids, drifts = [], []
        if os.path.isdir(self.dir):
            for name in sorted(os.listdir(self.dir)):
                if os.path.isfile(os.path.join(self.dir, name, SNAPSHOT_MANIFEST)):
                    ids.append(name)
                elif os.path.isfile(os.path.join(self.dir, name, DRIFT_MANIFEST)):
                    drifts.append(name)
        return ids, drifts

    # -- reading and verifying -----------------------------------------------------------------------

    def load(self, release_id):
        """The manifest of a complete snapshot; SnapshotNotFound or SnapshotCorrupt otherwise."""
        path = self.manifest_path(release_id)
        if not os.path.isdir(self.path(release_id)):
            raise SnapshotNotFound("release %s has no configuration snapshot under %s" % (release_id, self.dir))
        try:
            manifest = read_json(path)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SnapshotCorrupt("the snapshot manifest %s is not valid JSON (%s); the snapshot of release %s cannot be trusted"
                                  % (path, exc, release_id), ["%s: not valid JSON" % path])
        if manifest is None:
            raise SnapshotCorrupt("the snapshot of release %s is incomplete: %s is missing" % (release_id, path), ["%s: missing" % path])
        problems = []
        if not isinstance(manifest, dict) or not isinstance(manifest.get("roots"), list) or not isinstance(manifest.get("entries"), list):
            problems.append("%s: not a snapshot manifest" % path)
        elif manifest.get("release") != release_id:
            problems.append("%s: belongs to release %r, not %s" % (path, manifest.get("release"), release_id))
        elif manifest.get("digest") != entries_digest(manifest["roots"], manifest["entries"]):
            problems.append("%s: its entries do not match its digest (the manifest was changed or damaged)" % path)
        if problems:
            raise SnapshotCorrupt("the snapshot of release %s is corrupt: %s" % (release_id, "; ".join(problems)), problems)
        return manifest

    def verify(self, release_id, manifest=None):
        """Every file of the snapshot against the manifest. Returns the manifest; SnapshotCorrupt lists each bad path."""
        manifest = manifest or self.load(release_id)
        problems = []
        for entry in manifest["entries"]:
            if entry["type"] != "file":
                continue
            copy = self.file_path(release_id, entry["path"])
            try:
                info = os.lstat(copy)
            except FileNotFoundError:
                problems.append("%s: the snapshot copy %s is missing" % (entry["path"], copy))
                continue
            if not stat.S_ISREG(info.st_mode):
                problems.append("%s: the snapshot copy %s is not a regular file" % (entry["path"], copy))
                continue
            digest, size = sha256_path(copy)
            if size != entry["size"] or digest != entry["sha256"]:
                # Never the checksums of a secret: they would help guess its content.
                problems.append("%s: the snapshot copy %s does not match the manifest (%s)" % (
                    entry["path"], copy, "size differs" if size != entry["size"] else "sha256 differs"))
        if problems:
            raise SnapshotCorrupt("the configuration snapshot of release %s is corrupt or incomplete; nothing was changed. %s"
                                  % (release_id, "; ".join(problems)), problems)
        return manifest

    # -- creating ----------------------------------------------------------------------------------

    def _ensure_dir(self):
        if not os.path.isdir(self.dir):
            os.makedirs(self.dir, 0o700, exist_ok=True)
            os.chmod(self.dir, 0o700)

    def capture_plan(self, roots):
        """Manifest roots and entries of the live paths ``roots`` (read only; nothing is copied)."""
        roots = check_roots([validate_config_path(path) for path in roots], forbidden=[self.dir])
        manifest_roots, entries = [], []
        for root in roots:
            top, found = walk_live(root)
            manifest_roots.append({"path": root, "type": top["type"] if top else "absent"})
            entries.extend(found)
        return manifest_roots, entries

    def rendered_plan(self, roots, files, default_owner, default_group):
        """Manifest roots and entries of rendered files ({"dest", "src", "mode", "owner", "group"}).

        ``roots`` are directories (or files) the snapshot is responsible for; each rendered file lies below one, or
        becomes a root of its own. A directory root takes its mode and owner from the live directory when there is one.
        """
        dests = [validate_config_path(item["dest"], "template dest") for item in files]
        if len(set(dests)) != len(dests):
            raise SnapshotError("template dest %s is listed more than once" % ", ".join(sorted({d for d in dests if dests.count(d) > 1})))
        roots = [validate_config_path(path) for path in roots]
        roots = check_roots(roots + [dest for dest in dests if not any(is_under(dest, root) for root in roots)], forbidden=[self.dir])
        entries = {}
        for root in roots:
            if root in dests:
                continue
            live = describe(root, with_hash=False)
            if live is not None and live["type"] == "directory":
                entries[root] = dict(live, path=root)
            else:
                entries[root] = {"path": root, "type": "directory", "mode": "0755", "owner": default_owner, "group": default_group}
        for item, dest in zip(files, dests):
            digest, size = sha256_path(item["src"])
            owner = item.get("owner") or default_owner
            group = item.get("group") or default_group
            entries[dest] = {"path": dest, "type": "file", "sha256": digest, "size": size, "mode": parse_mode(item.get("mode") or "0644", dest),
                             "owner": owner, "group": group, "uid": resolve_uid(owner), "gid": resolve_gid(group), "src": item["src"]}
            # Directories between a root and the file: as they are live, else 0755 like the root.
            parent = os.path.dirname(dest)
            while parent not in roots and any(is_under(parent, root) for root in roots):
                if parent not in entries:
                    live = describe(parent, with_hash=False)
                    if live is not None and live["type"] == "directory":
                        entries[parent] = dict(live)
                    else:
                        entries[parent] = {"path": parent, "type": "directory", "mode": "0755", "owner": default_owner, "group": default_group}
                parent = os.path.dirname(parent)
        for entry in entries.values():
            if entry["type"] == "directory":
                entry.setdefault("uid", resolve_uid(entry["owner"]))
                entry.setdefault("gid", resolve_gid(entry["group"]))
        manifest_roots = [{"path": root, "type": entries[root]["type"]} for root in roots]
        return manifest_roots, [entries[path] for path in sorted(entries)]

    def same_content(self, release_id, roots, entries):
        """Whether an existing snapshot holds exactly these roots and entries (sources compared by checksum)."""
        manifest = self.verify(release_id)
        return (manifest["roots"] == roots
                and [_comparable(entry) for entry in manifest["entries"]] == [_comparable(entry) for entry in entries])

    def create(self, release_id, roots, entries, source, created_by=None, run_id=None, now=None):
        """Write snapshots/<id> from planned entries: copies into a temp dir, manifest last, then one rename.

        File entries are copied from ``entry['src']`` when given (rendered templates), else from the live path. The
        checksum is taken of the bytes copied, so a file changing while it is captured cannot slip past the manifest.
        """
        self._ensure_dir()
        self.clean_temp()
        final = self.path(release_id)
        tmp = tempfile.mkdtemp(prefix=".tmp-%s-" % release_id, dir=self.dir)  # 0700
        try:
            files_root = os.path.join(tmp, FILES_DIR)
            os.mkdir(files_root, 0o700)
            written = []
            for entry in entries:
                copy = os.path.join(files_root, entry["path"].lstrip("/"))
                parent = os.path.dirname(copy)
                if not os.path.isdir(parent):
                    os.makedirs(parent, 0o700)
                record = {key: value for key, value in entry.items() if key != "src"}
                if entry["type"] == "directory":
                    if not os.path.isdir(copy):
                        os.mkdir(copy, 0o700)
                elif entry["type"] == "link":
                    os.symlink(entry["target"], copy)
                else:
                    record["sha256"], record["size"] = _copy_file(entry.get("src") or entry["path"], copy, entry)
                    if entry.get("src") and (record["sha256"], record["size"]) != (entry["sha256"], entry["size"]):
                        raise SnapshotError("rendered file for %s changed while it was written into the snapshot" % entry["path"])
                written.append(record)
            manifest = {
                "format": SNAPSHOT_FORMAT, "release": release_id, "source": source, "created_at": _iso(now),
                "created_by": created_by, "run_id": run_id, "roots": roots, "entries": written,
                "digest": entries_digest(roots, written),
            }
            atomic_write_json(os.path.join(tmp, SNAPSHOT_MANIFEST), manifest, mode=0o600)
            if os.path.lexists(final):
                doomed = tempfile.mkdtemp(prefix=".tmp-replaced-%s-" % release_id, dir=self.dir)
                os.rename(final, os.path.join(doomed, "old"))
                os.rename(tmp, final)
                shutil.rmtree(doomed)
            else:
                os.rename(tmp, final)
            fsync_dir(self.dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return manifest

    def clean_temp(self):
        for name in os.listdir(self.dir):
            if name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)

    # -- drift and restore ------------------------------------------------------------------------

    def drift(self, release_id):
        """Live paths that differ from release_id's (verified) snapshot: (manifest, actions)."""
        manifest = self.verify(release_id)
        return manifest, plan(manifest)

    def save_drift(self, current, actions, current_manifest, now=None, run_id=None):
        """Copy the live files that ``actions`` would overwrite or remove, and that the current release's snapshot
        does not hold as they are, into snapshots/<current>.drift-<time>/. Returns (folder or None, saved entries).
        """
        doomed = drift_candidates(actions, current_manifest, current)
        if not doomed:
            return None, []
        self._ensure_dir()
        # Before the first release there is nothing to call drift: what was in place is kept, named for what it is.
        base = "%s.drift-%s" % (current, utc_stamp(now)) if current else "%s-%s" % (BEFORE_FIRST_RELEASE, utc_stamp(now))
        folder = os.path.join(self.dir, base)
        suffix = 1
        while os.path.lexists(folder):
            suffix += 1
            folder = os.path.join(self.dir, "%s-%d" % (base, suffix))
        tmp = tempfile.mkdtemp(prefix=".tmp-drift-", dir=self.dir)  # 0700
        rows = []
        try:
            for have in doomed:
                copy = os.path.join(tmp, FILES_DIR, have["path"].lstrip("/"))
                if not os.path.isdir(os.path.dirname(copy)):
                    os.makedirs(os.path.dirname(copy), 0o700)
                record = dict(have)
                if have["type"] == "link":
                    os.symlink(have["target"], copy)
                else:
                    record["sha256"], record["size"] = _copy_file(have["path"], copy, have)
                rows.append(record)
            atomic_write_json(os.path.join(tmp, DRIFT_MANIFEST), {
                "format": SNAPSHOT_FORMAT, "release": current, "saved_at": _iso(now), "run_id": run_id, "entries": rows}, mode=0o600)
            os.rename(tmp, folder)
            fsync_dir(self.dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder, rows

    def restore(self, release_id, current=None, check_mode=False, now=None, run_id=None):
        """Make the live configuration equal to release_id's snapshot.

        The whole snapshot is verified first (nothing is written when any file is bad), drifted live files are saved,
        each file is written to a temp file in its own directory and renamed into place, then every written file is
        checked again. Returns a dict: manifest, actions, drift_folder, drift_saved.
        """
        manifest = self.verify(release_id)
        actions = plan(manifest)
        current_manifest = None
        if current and current != release_id and self.exists(current):
            try:
                current_manifest = self.load(current)
            except SnapshotCorrupt:
                current_manifest = None  # then every live file that would change is saved
        result = {"manifest": manifest, "actions": actions, "drift_folder": None, "drift_saved": []}
        if not actions or check_mode:
            if actions and check_mode:
                result["drift_saved"] = drift_candidates(actions, current_manifest, current)
            return result
        folder, rows = self.save_drift(current, actions, current_manifest, now=now, run_id=run_id)
        result["drift_folder"], result["drift_saved"] = folder, rows
        for action in actions:
            self._apply(release_id, action)
        after = plan(manifest)
        if after:
            raise SnapshotError("after restoring the snapshot of release %s these paths still differ: %s" % (
                release_id, ", ".join("%s (%s)" % (item["path"], ", ".join(item["changes"])) for item in after)))
        return result

    def _apply(self, release_id, action):
        path, want, have = action["path"], action["want"], action["have"]
        if have is not None and (want is None or "type" in action["changes"]):
            _remove_live(have)
            have = None
        if want is None:
            fsync_dir(os.path.dirname(path))
            return
        uid, gid = resolve_uid(want["owner"], want.get("uid")), resolve_gid(want["group"], want.get("gid"))
        if want["type"] == "directory":
            if have is None:
                os.mkdir(path, 0o700)
            _set_meta(path, want, uid, gid)
        elif want["type"] == "link":
            atomic_symlink(want["target"], path)
        elif have is not None and action["changes"] and "content" not in action["changes"]:
            _set_meta(path, want, uid, gid)  # mode or owner only: no need to rewrite the content
        else:
            _write_from(self.file_path(release_id, path), path, want, uid, gid)


def _comparable(entry):
    """An entry without what may differ between the plan and the record (numeric ids, rendered source)."""
    return {key: value for key, value in entry.items() if key not in ("src", "uid", "gid")}


def _iso(now=None):
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_meta(path, entry, uid, gid):
    info = os.lstat(path)
    if (info.st_uid, info.st_gid) != (uid, gid):
        try:
            os.chown(path, uid, gid)
        except PermissionError:
            raise SnapshotError("cannot give %s to %s:%s (permission denied); run the task as root (become: true)"
                                % (path, entry["owner"], entry["group"]))
    if format_mode(info.st_mode) != entry["mode"]:
        os.chmod(path, int(entry["mode"], 8))


def _copy_file(source, dest, entry):
    """Copy ``source`` to a new file ``dest`` created 0600, then give it the entry's owner and mode; (sha256, size)."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
            fd = None
            for block in iter(lambda: src.read(1024 * 1024), b""):
                digest.update(block)
                size += len(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
    finally:
        if fd is not None:
            os.close(fd)
    uid = resolve_uid(entry["owner"], entry.get("uid"))
    gid = resolve_gid(entry["group"], entry.get("gid"))
    _set_meta(dest, entry, uid, gid)
    return digest.hexdigest(), size


def _write_from(copy, path, entry, uid, gid):
    """Write the snapshot copy to ``path``: temp file beside it (0600 while it fills), owner, mode, fsync, rename."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-fleet-" + os.path.basename(path) + "-", dir=directory)
    try:
        digest = hashlib.sha256()
        with open(copy, "rb") as src, os.fdopen(fd, "wb") as out:
            for block in iter(lambda: src.read(1024 * 1024), b""):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != entry["sha256"]:
            raise SnapshotCorrupt("the snapshot copy %s changed while it was restored; %s was left as it was" % (copy, path),
                                  ["%s: changed during restore" % path])
        _set_meta(tmp, entry, uid, gid)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def _remove_live(have):
    if have["type"] == "directory":
        shutil.rmtree(have["path"])
    else:
        os.unlink(have["path"])
