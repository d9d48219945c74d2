# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release store: the on-host layout that makes every host its own source of truth.

    <app_root>/releases/<id>/            complete releases (each holds .fleet-release.json)
    <app_root>/releases/.tmp-*           unpacking in progress: never a release
    <app_root>/shared/                   data linked into every release
    <app_root>/snapshots/<id>/           configuration snapshots (removed with their release)
    <app_root>/current -> releases/<id>  switched by rename(2)
    <app_root>/.fleet/state.json         current, previous, pinned, known-bad releases, pending operation
    <app_root>/.fleet/history.jsonl      one line per switch and per known-bad mark
    <app_root>/.fleet/lock               the per-host lock

Releases are ordered by the ``sequence`` number stored in their manifest when they were created (the
ledger), never by mtime or ctime.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile

from ansible_collections.fleetops.release.plugins.module_utils._atomic import (
    append_line,
    atomic_symlink,
    atomic_write_json,
    read_json,
)
from ansible_collections.fleetops.release.plugins.module_utils._safe_tar import ArchiveError, validate_max_unpacked
from ansible_collections.fleetops.release.plugins.module_utils._safe_tar import extract as safe_extract

MANIFEST_NAME = ".fleet-release.json"
STATE_FORMAT = 1
RELEASE_ID_MAX = 128
_RELEASE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@-]*")


class FleetError(Exception):
    """A problem the user can act on; the message says what is wrong and what to do."""


class ReleaseIdError(FleetError):
    pass


class ReleaseNotFound(FleetError):
    pass


class ReleaseConflict(FleetError):
    pass


class ArtifactError(FleetError):
    pass


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def isoformat(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_isoformat(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


# What the playbooks call the module option allow_bad; named in refusals so the operator knows what to pass.
ALLOW_BAD_HINT = "allow_bad=true (-e fleet_allow_bad_release=true)"


def describe_bad(release_id, mark):
    """Who marked ``release_id`` bad, when, in which run and why: for refusals and reasons."""
    mark = mark or {}
    return "%s was marked bad by %s at %s%s (reason: %s)" % (
        release_id, mark.get("by") or "an unknown actor", mark.get("at") or "an unknown time",
        " in run %s" % mark["run_id"] if mark.get("run_id") else "", mark.get("reason") or "none given")


def validate_release_id(release_id):
    """Return ``release_id`` when it is safe to use as a directory name, else raise ReleaseIdError."""
    if not isinstance(release_id, str) or release_id == "":
        raise ReleaseIdError("release id must be a non-empty string, got %r" % (release_id,))
    if len(release_id) > RELEASE_ID_MAX:
        raise ReleaseIdError("release id %r is %d characters long; the limit is %d" % (release_id, len(release_id), RELEASE_ID_MAX))
    if "/" in release_id or "\\" in release_id or ".." in release_id:
        raise ReleaseIdError("release id %r must not contain '/', '\\' or '..' (path traversal)" % (release_id,))
    if release_id.startswith("."):
        raise ReleaseIdError("release id %r must not start with a dot" % (release_id,))
    if not _RELEASE_ID_RE.fullmatch(release_id):
        raise ReleaseIdError(
            "release id %r may only contain letters, digits and . _ + @ - and must start with a letter or digit" % (release_id,))
    return release_id


def validate_relative_path(path, what):
    """A path inside a release (shared paths): relative, normalised, no traversal."""
    if not path or os.path.isabs(path):
        raise FleetError("%s %r must be a non-empty relative path" % (what, path))
    parts = path.strip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise FleetError("%s %r must not contain empty, '.' or '..' components" % (what, path))
    return "/".join(parts)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_tarball(path, dest, name=None, max_unpacked=None):
    """Unpack the tarball ``path`` into the fresh, private directory ``dest`` without writing anything outside it
    (module_utils._safe_tar: the same checks on every Python, with or without ``tarfile.data_filter``).

    ``name`` is the artifact as the operator gave it (the module may only see a temporary copy); ``max_unpacked``
    None means the default limit. Returns the summary of the members. The caller removes ``dest`` on an error.
    """
    name = name or path
    try:
        return safe_extract(path, dest, max_unpacked=max_unpacked)
    except ArchiveError as exc:
        raise ArtifactError("cannot unpack %s: %s" % (name, exc))
    except (tarfile.TarError, EOFError, OSError) as exc:
        # One line: tarfile lists every compression it tried, over several lines.
        raise ArtifactError("cannot unpack %s: %s (is it a complete .tar.gz?)" % (name, " ".join(str(exc).split())))


# -- runs that did not finish ----------------------------------------------------------------------------------

# History lines that are not switches although they carry a run id (known-bad marks).
_MARK_OPERATIONS = ("mark_bad", "mark_good")


def run_effects(history, pending=None):
    """What each run did on one host, from its history (oldest first) and its unfinished operation ``pending``.

    Returns a list, oldest run first, of ``{run_id, operation, time, from, to, switched, finished}``: ``from`` is the
    release the run's first switch left (where the run found the host), ``to`` the one its last switch reached,
    ``finished`` whether the run's line (event "run", written when it released the host's lock) is there, ``time`` the
    run's newest line. A pending operation whose run left no line (killed before its switch) is a run too.
    """
    runs = {}
    for line in history or ():
        if not isinstance(line, dict) or not line.get("run_id"):
            continue
        run = runs.setdefault(line["run_id"], {"run_id": line["run_id"], "operation": None, "time": None, "from": None, "to": None,
                                               "switched": False, "finished": False})
        run["time"] = line.get("time") or run["time"]
        if line.get("event") == "run":
            run["finished"] = True
            # The run line names the run's own operation ("deploy"); a deploy's revert switches as "rollback".
            run["operation"] = line.get("operation") or run["operation"]
        elif "to" in line and line.get("operation") not in _MARK_OPERATIONS:
            if not run["switched"]:
                run["from"] = line.get("from")
                run["operation"] = run["operation"] or line.get("operation")
            run["switched"] = True
            run["to"] = line.get("to")
    if isinstance(pending, dict) and pending.get("run_id") and pending["run_id"] not in runs:
        runs[pending["run_id"]] = {"run_id": pending["run_id"], "operation": pending.get("operation"), "time": pending.get("since"),
                                   "from": None, "to": None, "switched": False, "finished": False}
    return sorted(runs.values(), key=lambda run: (run["time"] or "", run["run_id"]))


# A run's operation, spelled as run_guard records it (module_utils/_guard.py OPERATIONS) in the run record, the run
# report, the audit record and the hosts' history: the rollbacks among them, matched exactly.
ROLLBACK_OPERATIONS = ("rollback", "automatic_rollback")


def is_rollback(operation):
    return operation in ROLLBACK_OPERATIONS


def interrupted_run(reads, unfinished=None):
    """The run that last touched these hosts, when it did not finish: ``{run_id, operation}``, else None.

    ``reads`` maps each host to its read (module_utils._host_info.host_info: ``runs``). The last run is the one with
    the newest history line on any host; it did not finish when a host has its switch (or its pending operation) but
    not its run line: it was killed, or lost the host, before it released that host's lock. ``unfinished`` names a run
    known not to have finished (its fleet-wide lock was broken because its process was gone or the lock expired): as
    the last run it is interrupted even when every host it reached has its run line (a rollback writes a host's line
    as soon as the host is done, so a run killed between two batches leaves no host half done).
    """
    newest = {}
    for read in reads.values():
        for run in (read or {}).get("runs") or ():
            known = newest.get(run["run_id"])
            if known is None or (run["time"] or "") > (known["time"] or ""):
                newest[run["run_id"]] = dict(run, operation=run.get("operation") or (known or {}).get("operation"))
            elif not known.get("operation"):
                known["operation"] = run.get("operation")
    if not newest:
        return None
    last = max(newest.values(), key=lambda run: (run["time"] or "", run["run_id"]))
    if unfinished and last["run_id"] == unfinished:
        return {"run_id": last["run_id"], "operation": last["operation"]}
    for read in reads.values():
        for run in (read or {}).get("runs") or ():
            if run["run_id"] == last["run_id"] and not run["finished"]:
                return {"run_id": last["run_id"], "operation": last["operation"]}
    return None


def interrupted_run_targets(reads, unfinished=None):
    """The automatic rollback target of each host after an interrupted run, or None when the last run finished.

    Returns ``{run_id, operation, to, targets: {host: {target, reason}}}``. An interrupted deploy (any run but a
    rollback) is undone: each host it switched goes back to where that run found it (the ``from`` of its first switch
    there), each host it did not switch stays where it is. An interrupted rollback is finished instead of undone (going
    back would put the release it left, marked bad, live again): the hosts it switched stay on what it reached, the
    others go to the same release when the hosts it switched agree on one, else to their own automatic target.
    A target that is marked bad or missing on a host leaves that host without a target, and the reason says why.
    """
    run = interrupted_run(reads, unfinished)
    if run is None:
        return None
    run_id, rollback = run["run_id"], is_rollback(run["operation"])
    effects = {host: next((item for item in (read or {}).get("runs") or () if item["run_id"] == run_id), None) for host, read in reads.items()}
    reached = sorted({effect["to"] for effect in effects.values() if effect and effect["switched"] and effect["to"]})
    resume = reached[0] if rollback and len(reached) == 1 else None
    targets = {}
    for host, read in reads.items():
        read = read or {}
        effect = effects[host] or {}
        current = read.get("current")
        if rollback:
            if effect.get("switched"):
                target, reason = effect["to"], "the interrupted rollback run %s already brought this host to %s" % (run_id, effect["to"])
            elif resume is not None:
                target, reason = resume, "finishing the interrupted rollback run %s (it brought other hosts to %s)" % (run_id, resume)
            else:
                target, reason = read.get("rollback_target"), read.get("rollback_target_reason")
        elif effect.get("switched"):
            target, reason = effect["from"], "where the interrupted %s run %s found this host" % (run["operation"] or "", run_id)
            if target is None:
                reason = "the interrupted run %s installed this host's first release; there is nothing to go back to" % run_id
        else:
            target, reason = current, "the interrupted %s run %s did not switch this host; it stays on %s" % (
                run["operation"] or "", run_id, current)
            if current is None:
                reason = "no release is current on this host"
        bad = read.get("bad") or {}
        if target is not None and target in bad and target != current:
            target, reason = None, "%s; name a target with fleet_release (and allow it with %s)" % (describe_bad(target, bad[target]), ALLOW_BAD_HINT)
        elif target is not None and read.get("release_ids") is not None and target not in read["release_ids"]:
            target, reason = None, "%s (%s) does not exist or is unfinished on this host; name a target with fleet_release" % (target, reason)
        targets[host] = {"target": target, "reason": reason}
    return {"run_id": run_id, "operation": run["operation"], "to": resume, "targets": targets}


class ReleaseStore:
    """Read and change the release layout under one ``app_root``."""

    def __init__(self, app_root):
        if not app_root or not os.path.isabs(app_root):
            raise FleetError("app_root must be an absolute path, got %r" % (app_root,))
        self.root = os.path.normpath(app_root)
        self.releases_dir = os.path.join(self.root, "releases")
        self.shared_dir = os.path.join(self.root, "shared")
        self.snapshots_dir = os.path.join(self.root, "snapshots")
        self.fleet_dir = os.path.join(self.root, ".fleet")
        self.current_link = os.path.join(self.root, "current")
        self.state_path = os.path.join(self.fleet_dir, "state.json")
        self.history_path = os.path.join(self.fleet_dir, "history.jsonl")
        self.lock_path = os.path.join(self.fleet_dir, "lock")

    # -- layout -------------------------------------------------------------------------------

    def ensure_layout(self):
        for path in (self.root, self.releases_dir, self.shared_dir, self.fleet_dir):
            if not os.path.isdir(path):
                os.makedirs(path, 0o755, exist_ok=True)

    def release_path(self, release_id):
        return os.path.join(self.releases_dir, validate_release_id(release_id))

    def manifest(self, release_id):
        """The manifest of a complete release, or None when the release does not exist or is unfinished."""
        data = None
        try:
            data = read_json(os.path.join(self.release_path(release_id), MANIFEST_NAME))
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("id") != release_id:
            return None
        return data

    def releases(self):
        """Every complete release, oldest first by ledger sequence."""
        found = []
        if os.path.isdir(self.releases_dir):
            for name in os.listdir(self.releases_dir):
                try:
                    validate_release_id(name)
                except ReleaseIdError:
                    continue  # temp dirs (.tmp-*) and foreign names are never releases
                data = self.manifest(name)
                if data is not None:
                    found.append(data)
        found.sort(key=lambda item: (item.get("sequence", 0), item["id"]))
        return found

    # -- state ----------------------------------------------------------------------------------

    def read_state(self):
        try:
            state = read_json(self.state_path, default={})
        except ValueError as exc:
            raise FleetError("%s is not valid JSON (%s); restore it from .fleet/history.jsonl or remove it" % (self.state_path, exc))
        state = dict(state or {})
        state.setdefault("format", STATE_FORMAT)
        state.setdefault("current", None)
        state.setdefault("previous", None)
        state.setdefault("pinned", [])
        state.setdefault("pending", None)
        state.setdefault("bad", {})
        if not isinstance(state["bad"], dict):
            raise FleetError("%s: 'bad' must map release ids to marks, got %r; fix or remove that key"
                             % (self.state_path, state["bad"]))
        return state

    def write_state(self, state, now=None):
        state = dict(state)
        state["updated_at"] = isoformat(now or utc_now())
        atomic_write_json(self.state_path, state)

    def current(self):
        """The release ``current`` points at (the symlink is the truth), or None."""
        try:
            target = os.readlink(self.current_link)
        except (FileNotFoundError, OSError):
            return None
        return os.path.basename(os.path.normpath(target))

    def status(self):
        """State reconciled with the symlink: a crash between switch and state write is resolved here."""
        state = self.read_state()
        current = self.current()
        previous = state.get("previous")
        pending = state.get("pending")
        if current != state.get("current"):
            if pending and pending.get("to") == current:
                previous = pending.get("from")
            elif state.get("current"):
                previous = state.get("current")
        return {
            "current": current,
            "previous": previous,
            "pinned": sorted(state.get("pinned") or []),
            "pending": pending,
            "bad": dict(state["bad"]),
        }

    def append_history(self, record):
        append_line(self.history_path, json.dumps(record, sort_keys=True))

    def history(self, limit=None):
        lines = []
        try:
            with open(self.history_path, "rb") as handle:
                for raw in handle:
                    try:
                        lines.append(json.loads(raw.decode("utf-8")))
                    except ValueError:
                        continue  # a torn last line after a crash is skipped, not fatal
        except FileNotFoundError:
            pass
        return lines[-limit:] if limit else lines

    # -- rollback target ------------------------------------------------------------------------

    def rollback_target(self, named=None, allow_bad=False):
        """Return ``(target, reason)``; ``target`` is None when there is none, and ``reason`` says why.

        A release marked bad is never chosen automatically; a named one only with ``allow_bad``.
        """
        status = self.status()
        current = status["current"]
        bad = status["bad"]
        known = [item["id"] for item in self.releases()]
        if named is not None:
            validate_release_id(named)
            if named not in known:
                return None, "release %s does not exist (or is unfinished) under %s" % (named, self.releases_dir)
            if named in bad:
                if not allow_bad:
                    return None, "%s; roll back to it anyway with %s, or name another release" % (
                        describe_bad(named, bad[named]), ALLOW_BAD_HINT)
                return named, "named release, allowed by allow_bad although %s" % describe_bad(named, bad[named])
            return named, "named release"
        skipped = []
        pending = status["pending"]
        if pending:
            candidate = None
            if pending.get("operation") == "rollback" and pending.get("to") in known:
                candidate = pending["to"], "resuming the interrupted rollback of run %s" % pending.get("run_id")
            elif current == pending.get("to") and pending.get("from") in known:
                candidate = pending["from"], "the release this host had before the unfinished %s" % pending.get("operation")
            elif current == pending.get("from"):
                candidate = current, "the unfinished %s never switched this host" % pending.get("operation")
            if candidate is not None:
                if candidate[0] not in bad:
                    return candidate
                skipped.append(candidate[0])  # fall through to the newest older release that is not bad
        if current is None:
            return None, "no release is current under %s" % self.root
        if current not in known:
            return None, "current release %s has no manifest; name the target with fleet_release" % current
        older = known[:known.index(current)]
        if not older:
            return None, "%s is the oldest release on this host; there is nothing older to roll back to" % current
        good = [release_id for release_id in older if release_id not in bad]
        if not good:
            return None, "every release older than %s is marked bad: %s; name a target with fleet_release and allow it with %s" % (
                current, "; ".join(describe_bad(item, bad[item]) for item in reversed(older)), ALLOW_BAD_HINT)
        target = good[-1]
        skipped += [item for item in older[older.index(target) + 1:] if item not in skipped]
        if not skipped:
            return target, "newest release older than %s" % current
        return target, "newest release older than %s that is not marked bad (skipped: %s)" % (
            current, "; ".join(describe_bad(item, bad[item]) for item in skipped))

    # -- known-bad releases ---------------------------------------------------------------------

    def _unknown_release(self, release_id):
        return ReleaseNotFound("release %s does not exist under %s; installed releases: %s" % (
            release_id, self.releases_dir, ", ".join(item["id"] for item in self.releases()) or "none"))

    def mark_bad(self, release_id, actor=None, reason=None, run_id=None, check_mode=False, now=None):
        """Mark an installed release bad. Returns ``(changed, mark)``; an existing mark is kept as it is (the first
        mark is the one to audit), so marking again changes nothing."""
        validate_release_id(release_id)
        state = self.read_state()
        if release_id in state["bad"]:
            return False, state["bad"][release_id]
        if self.manifest(release_id) is None:
            raise self._unknown_release(release_id)
        now = now or utc_now()
        mark = {"by": actor, "at": isoformat(now), "reason": reason, "run_id": run_id}
        if not check_mode:
            state["bad"] = dict(state["bad"], **{release_id: mark})
            self.write_state(state, now)
            self.append_history({"time": isoformat(now), "operation": "mark_bad", "release": release_id,
                                 "actor": actor, "run_id": run_id, "reason": reason})
        return True, mark

    def clear_bad(self, release_id, actor=None, reason=None, run_id=None, check_mode=False, now=None):
        """Clear the bad mark of a release. Returns ``(changed, old_mark)``. A mark of a release that was removed
        since can be cleared; a release that is neither installed nor marked is an error."""
        validate_release_id(release_id)
        state = self.read_state()
        if release_id not in state["bad"]:
            if self.manifest(release_id) is None:
                raise self._unknown_release(release_id)
            return False, None
        old = state["bad"][release_id]
        if not check_mode:
            now = now or utc_now()
            state["bad"] = {key: value for key, value in state["bad"].items() if key != release_id}
            self.write_state(state, now)
            self.append_history({"time": isoformat(now), "operation": "mark_good", "release": release_id,
                                 "actor": actor, "run_id": run_id, "reason": reason})
        return True, old

    # -- create / remove ------------------------------------------------------------------------

    def create_release(self, release_id, artifact=None, sha256=None, shared_paths=(), created_by=None, check_mode=False, now=None,
                       artifact_name=None, max_unpacked=None, schema=None):
        """Create ``releases/<id>`` from a tarball. Returns ``(changed, manifest)``.

        Same id and same artifact: nothing to do. Same id, different artifact: ReleaseConflict. ``artifact_name`` is
        how messages name the artifact (as the operator gave it; ``artifact`` may be a temporary copy);
        ``max_unpacked`` limits the members' total size (None: 10x the artifact, at least 4 GiB).
        """
        path = self.release_path(release_id)
        shared_paths = [validate_relative_path(item, "shared path") for item in shared_paths or ()]
        try:
            validate_max_unpacked(max_unpacked)
        except ArchiveError as exc:
            raise ArtifactError(str(exc))
        shown = artifact_name or artifact
        artifact_sha = None
        if artifact is not None:
            if not os.path.isfile(artifact):
                raise ArtifactError("artifact %s does not exist or is not a file" % shown)
            artifact_sha = sha256_file(artifact)
            if sha256 and artifact_sha != sha256.lower():
                raise ArtifactError("checksum mismatch for %s: expected sha256 %s, got %s; nothing was created"
                                    % (shown, sha256.lower(), artifact_sha))
        existing = self.manifest(release_id)
        if existing is not None:
            wanted = artifact_sha or (sha256.lower() if sha256 else None)
            if wanted and existing.get("artifact_sha256") != wanted:
                raise ReleaseConflict(
                    "release %s already exists with artifact sha256 %s, not %s; a release id is never reused for a different "
                    "artifact: pick a new id, or remove the release first (state=absent)" % (release_id, existing.get("artifact_sha256"), wanted))
            return False, existing
        if os.path.lexists(path):
            raise ReleaseConflict("%s exists but is not a complete release (no valid %s); remove it by hand after checking what it is"
                                  % (path, MANIFEST_NAME))
        if artifact is None:
            raise ArtifactError("release %s does not exist on this host and no artifact was given to create it" % release_id)
        manifest = {
            "id": release_id,
            "artifact_sha256": artifact_sha,
            "created_at": isoformat(now or utc_now()),
            "created_by": created_by,
            "sequence": max([item.get("sequence", 0) for item in self.releases()] + [0]) + 1,
            "shared_paths": shared_paths,
        }
        if schema:
            manifest["schema"] = schema  # the release's schema declaration (issue 17), judged by rollbacks
        if check_mode:
            return True, manifest
        self.ensure_layout()
        self._clean_temp_dirs()
        tmp = tempfile.mkdtemp(prefix=".tmp-%s-" % release_id, dir=self.releases_dir)
        try:
            os.chmod(tmp, 0o755)
            extract_tarball(artifact, tmp, name=shown, max_unpacked=max_unpacked)
            for shared in shared_paths:
                self._link_shared(tmp, shared)
            atomic_write_json(os.path.join(tmp, MANIFEST_NAME), manifest)
            # The id appears only once the release is complete: a half-unpacked release never exists under its id.
            os.rename(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return True, manifest

    def _link_shared(self, release_dir, shared):
        inside = os.path.join(release_dir, shared)
        if os.path.lexists(inside):
            if os.path.isdir(inside) and not os.path.islink(inside):
                shutil.rmtree(inside)
            else:
                os.unlink(inside)
        parent = os.path.dirname(inside)
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        target = os.path.join(self.shared_dir, shared)
        if not os.path.exists(target):
            os.makedirs(target, 0o755)
        os.symlink(target, inside)

    def _clean_temp_dirs(self):
        for name in os.listdir(self.releases_dir):
            if name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(self.releases_dir, name), ignore_errors=True)

    def protected(self):
        """Releases that must never be removed, with the reason for each."""
        status = self.status()
        reasons = {}
        for release_id in status["pinned"]:
            reasons.setdefault(release_id, "pinned")
        if status["previous"]:
            reasons.setdefault(status["previous"], "previous release")
        target, dummy = self.rollback_target()
        if target:
            reasons.setdefault(target, "rollback target")
        pending = status["pending"] or {}
        for key in ("from", "to"):
            if pending.get(key):
                reasons.setdefault(pending[key], "part of an unfinished %s" % pending.get("operation"))
        if status["current"]:
            reasons[status["current"]] = "current release"
        return reasons

    def remove_release(self, release_id, check_mode=False):
        """Remove a release (and its config snapshot). Returns True when something was removed."""
        path = self.release_path(release_id)
        reason = self.protected().get(release_id)
        if reason in ("current release", "pinned"):
            raise ReleaseConflict("release %s is the %s and cannot be removed%s" % (
                release_id, reason, "; unpin it first (pinned=false)" if reason == "pinned" else "; switch to another release first"))
        snapshot = os.path.join(self.snapshots_dir, release_id)
        if not os.path.lexists(path) and not os.path.isdir(snapshot):
            return False
        if not check_mode:
            self._remove_tree(path)
        return True

    def _remove_tree(self, path):
        """Remove a release directory (if any) and its configuration snapshot (if any)."""
        if os.path.lexists(path):
            # Rename first so a half-deleted directory never carries a release id.
            doomed = os.path.join(self.releases_dir, ".tmp-removing-%s-%d" % (os.path.basename(path), os.getpid()))
            os.rename(path, doomed)
            shutil.rmtree(doomed)
        snapshot = os.path.join(self.snapshots_dir, os.path.basename(path))
        if os.path.isdir(snapshot):
            shutil.rmtree(snapshot)

    def prune_candidates(self, keep, incoming=0, spare=()):
        """Releases ``keep`` would remove: the oldest by ledger order beyond the ``keep`` newest, never a protected one
        and never one of ``spare`` (the release a deploy is about to switch to, which may be an older one).

        ``incoming`` counts releases about to be created (newer than all existing ones).
        """
        if keep < 1:
            raise FleetError("keep must be at least 1, got %d" % keep)
        protected = set(self.protected()) | set(spare)
        ordered = [item["id"] for item in self.releases()]
        surplus = ordered[:max(len(ordered) + incoming - keep, 0)]
        return [release_id for release_id in surplus if release_id not in protected]

    def prune(self, keep, incoming=0, check_mode=False, spare=()):
        removed = self.prune_candidates(keep, incoming, spare)
        if not check_mode:
            for release_id in removed:
                self._remove_tree(self.release_path(release_id))
        return removed

    def set_pinned(self, release_id, pinned, check_mode=False):
        state = self.read_state()
        pins = set(state.get("pinned") or [])
        if (release_id in pins) == pinned:
            return False
        if not check_mode:
            if pinned:
                pins.add(release_id)
            else:
                pins.discard(release_id)
            state["pinned"] = sorted(pins)
            self.write_state(state)
        return True

    # -- switch ---------------------------------------------------------------------------------

    def switch(self, release_id, operation="switch", run_id=None, actor=None, reason=None, confirmed=True,
               restart=None, check_mode=False, now=None):
        """Point ``current`` at ``release_id``.

        Order (each step crash-safe): record the pending operation -> rename the symlink -> record current/previous and
        a history line -> ``restart()`` -> close the pending operation (when ``confirmed``).
        Returns a dict with changed, from, to, switched, restarted, pending.
        """
        if self.manifest(release_id) is None:
            if os.path.lexists(self.release_path(release_id)):
                raise ReleaseNotFound("release %s under %s is unfinished (no valid %s); it cannot become current. Re-create it."
                                      % (release_id, self.releases_dir, MANIFEST_NAME))
            raise ReleaseNotFound("release %s does not exist under %s; create it first (fleetops.release.release) "
                                  "or pick one of: %s" % (release_id, self.releases_dir, ", ".join(r["id"] for r in self.releases()) or "none"))
        now = now or utc_now()
        status = self.status()
        current = status["current"]
        pending = status["pending"]
        result = {"from": current, "to": release_id, "switched": current != release_id, "restarted": False,
                  "changed": False, "pending": bool(pending)}
        if current == release_id and not pending:
            return result
        finishing = current == release_id and pending and pending.get("to") == release_id
        result["changed"] = True
        if finishing:
            result["from"] = pending.get("from")
        if check_mode:
            result["pending"] = not confirmed
            return result
        state = self.read_state()
        if finishing:
            # Keep the interrupted operation (its from, to and reason); note who finishes it.
            record = dict(pending)
            record.update((key, value) for key, value in (("run_id", run_id), ("actor", actor)) if value)
        else:
            record = {"operation": operation, "from": current, "to": release_id, "run_id": run_id,
                      "actor": actor, "reason": reason, "since": isoformat(now)}
        state["pending"] = record
        self.write_state(state, now)
        if current != release_id:
            atomic_symlink(os.path.join("releases", release_id), self.current_link)
            state["previous"] = current
            state["current"] = release_id
            self.write_state(state, now)
            self.append_history({
                "time": isoformat(now), "from": current, "to": release_id, "operation": operation,
                "actor": actor, "run_id": run_id, "reason": reason,
            })
        elif state.get("current") != release_id:  # repair a crash between symlink and state write
            state["previous"] = state.get("current") or pending.get("from")
            state["current"] = release_id
            self.write_state(state, now)
        if restart is not None:
            restart()
            result["restarted"] = True
        if confirmed:
            state["pending"] = None
            self.write_state(state, now)
        result["pending"] = not confirmed
        return result
