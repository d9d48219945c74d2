# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A lock file held by one named holder, with a reason and an expiry.

Taking the lock is a hard link of a complete temp file to the lock path: link(2) fails when the lock
exists, so two takers can never both win and nobody ever reads a half-written lock.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from collections.abc import Mapping

from ansible_collections.fleetops.release.plugins.module_utils._atomic import atomic_write_json, fsync_dir, read_json
from ansible_collections.fleetops.release.plugins.module_utils._release_store import (
    FleetError,
    isoformat,
    parse_isoformat,
    utc_now,
)


class LockHeld(FleetError):
    """Another holder has the lock; ``held`` is the lock record the refusal describes."""

    def __init__(self, message, held=None):
        super().__init__(message)
        self.held = held


def describe(lock):
    return "%s (%sreason: %s) since %s, expires %s" % (
        lock.get("holder"), "run %s, " % lock["run_id"] if lock.get("run_id") else "", lock.get("reason") or "none given",
        lock.get("since"), lock.get("expires_at") or "never")


def how_to_break(lock):
    """What an operator can do about a lock that is held and not expired (yet)."""
    ways = []
    if lock.get("run_id"):
        ways.append("if run %s has ended without releasing it, break it with break_run=%s (fleet_break_lock_of_run=%s)"
                    % (lock["run_id"], lock["run_id"], lock["run_id"]))
    if lock.get("expires_at"):
        ways.append("once it has expired (%s), break it with break_expired=true (fleet_break_stale_lock=true)" % lock["expires_at"])
    ways.append("or release it with state=absent force=true once you are sure that run is gone")
    return "; ".join(ways)


def holder_gone(lock, here, probe):
    """``(gone, why)``: whether the process that holds ``lock`` is provably gone.

    ``here`` is the caller's own process identity (``controller``, ``boot_id``, ``pid_ns``), ``probe(pid)`` returns
    ``(alive, start)`` from the caller's process table. Proof needs the lock's ``process`` (controller, pid, start,
    boot, pid namespace) to name this controller in this boot and pid namespace: only there does the caller see the
    holder's process table. Then the holder is gone when its pid no longer exists, or now belongs to a process that
    started at another time (the pid was reused). Anything less (another controller, another boot or namespace, a live
    pid whose start cannot be read, a lock without a process) is no proof: the lock stays.
    """
    process = lock.get("process") if isinstance(lock, Mapping) else None
    if not isinstance(process, Mapping):
        return False, "the lock records no process"
    pid = process.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or not process.get("controller"):
        return False, "the lock records no usable process"
    controller = process["controller"]
    if controller != here.get("controller"):
        return False, "held from controller %s, whose processes cannot be seen from %s" % (controller, here.get("controller"))
    for key, what in (("boot_id", "boot"), ("pid_ns", "pid namespace")):
        if process.get(key) != here.get(key):
            return False, "held by pid %d in another %s of %s (another machine or container of that name?)" % (pid, what, controller)
    alive, start = probe(pid)
    if not alive:
        return True, "the lock of run %s held by pid %d on %s was broken: that process is gone" % (lock.get("run_id"), pid, controller)
    if start is not None and process.get("start") is not None and start != process["start"]:
        return True, ("the lock of run %s held by pid %d on %s was broken: that process is gone (pid %d now belongs to "
                      "another process, started at another time)" % (lock.get("run_id"), pid, controller, pid))
    return False, "pid %d on %s is still running" % (pid, controller)


def same_process_lock(lock, gone):
    """Whether ``lock`` is the lock found gone (``gone``: its ``run_id`` and ``process``)."""
    return (isinstance(lock, Mapping) and isinstance(gone, Mapping) and isinstance(lock.get("process"), Mapping)
            and lock.get("run_id") == gone.get("run_id") and lock.get("process") == gone.get("process"))


def is_expired(lock, now):
    expires = lock.get("expires_at")
    return bool(expires) and parse_isoformat(expires) <= now


class FileLock:
    def __init__(self, path, dir_mode=0o755):
        self.path = path
        # The directory is created with this mode when missing (a fleet-wide lock's directory is not world-readable).
        self.dir_mode = dir_mode

    def read(self):
        try:
            return read_json(self.path)
        except ValueError:
            # A lock we cannot read is still a lock: report it rather than pretend it is free.
            return {"holder": "<unreadable lock file %s>" % self.path, "since": None, "expires_at": None}

    def acquire(self, holder, reason=None, ttl=None, run_id=None, break_expired=False, check_mode=False, now=None,
                break_run=None, process=None, break_gone=None):
        """Take the lock. Returns ``(changed, lock, broken)``; ``broken`` is the lock that was replaced: an expired one
        (``break_expired``), the lock of the run named by ``break_run`` (a run known to have ended), or the lock
        ``break_gone`` names (its ``run_id`` and ``process``), whose process the caller found gone (:func:`holder_gone`).
        ``process`` (the holder's controller, pid, start, boot and pid namespace) is kept in the lock for that proof."""
        if not holder:
            raise FleetError("a lock holder name is required")
        now = now or utc_now()
        record = {
            "holder": holder, "reason": reason, "run_id": run_id, "since": isoformat(now),
            "expires_at": isoformat(now + datetime.timedelta(seconds=ttl)) if ttl else None,
        }
        if process:
            record["process"] = dict(process)
        existing = self.read()
        broken = None
        if existing is not None:
            if existing.get("holder") == holder:
                return False, existing, None
            if break_run and existing.get("run_id") == break_run:
                broken = existing
            elif break_gone is not None and same_process_lock(existing, break_gone):
                broken = existing
            elif not is_expired(existing, now):
                raise LockHeld("%s is locked by %s; wait for that run to finish; %s"
                               % (self.path, describe(existing), how_to_break(existing)), held=existing)
            elif not break_expired:
                raise LockHeld("%s holds an expired lock of %s; set break_expired=true (fleet_break_stale_lock=true) to break it"
                               % (self.path, describe(existing)), held=existing)
            broken = existing
        if check_mode:
            return True, record, broken
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            os.makedirs(directory, self.dir_mode, exist_ok=True)
            os.chmod(directory, self.dir_mode)  # makedirs' mode is filtered by the umask
        if broken is not None:
            record["broke"] = broken
            # Replace only the lock we judged breakable: re-read right before, so a fresh lock is never clobbered.
            current = self.read()
            if current != broken:
                raise LockHeld("%s changed while breaking the expired lock; run again" % self.path, held=current or {})
            atomic_write_json(self.path, record)
            return True, record, broken
        fd, tmp = tempfile.mkstemp(prefix=".tmp-lock-", dir=directory)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(record, sort_keys=True) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                current = self.read() or {}
                raise LockHeld("%s was taken by %s a moment ago" % (self.path, describe(current)), held=current)
        finally:
            os.unlink(tmp)
        fsync_dir(directory)
        return True, record, None

    def release(self, holder, force=False, check_mode=False):
        """Drop the lock. Returns ``(changed, previous_lock)``. Another holder's lock needs ``force``."""
        existing = self.read()
        if existing is None:
            return False, None
        if existing.get("holder") != holder and not force:
            raise LockHeld("%s is held by %s, not by %s; set force=true to release somebody else's lock"
                           % (self.path, describe(existing), holder), held=existing)
        if not check_mode:
            os.unlink(self.path)
            fsync_dir(os.path.dirname(self.path))
        return True, existing
