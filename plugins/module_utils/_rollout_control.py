# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Steering a running rollout: pause points, the control record, promote and abort (issue 19).

``fleet_wave_pause`` says what happens after each wave but the last: a number of seconds of bake time, ``manual`` (the
run holds until somebody promotes or aborts it, or the pause times out), or per wave a mapping ``{wave: value}`` (or a
list, one value per wave). A manual pause writes the control record next to the fleet-wide lock, on the fleet lock host:

    {"run_id", "operation", "release", "wave", "waves", "started_by", "controller", "reason",
     "since", "since_ts", "timeout", "timeout_at", "timeout_at_ts", "on_timeout",
     "state": "paused" | "promote" | "abort" | "promoted" | "aborted",
     "request": {"action", "by", "controller", "reason", "at"} | null, "decision": {...} | null}

``promote.yml`` / ``abort.yml`` turn ``paused`` into ``promote`` / ``abort`` (only while the fleet-wide lock is still
held by that run); the paused run polls the record and acknowledges the request (``promoted`` / ``aborted``), or, at
its timeout, decides itself (``on_timeout``). The record is written atomically (temp file, fsync, rename) under an
exclusive flock of its directory, so a request and a timeout never both win; it is read only from a root-owned file in
a root-owned directory, never from a variable.

Everything but the file functions at the end is pure and unit-tested.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import stat
import time
from collections.abc import Mapping

from ansible_collections.fleetops.release.plugins.module_utils._atomic import atomic_write_json
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError

MANUAL = "manual"
ON_TIMEOUT = ("abort", "promote")
ACTIONS = ("promote", "abort")
PAUSED = "paused"
# A request waiting for the run, and what the run made of it.
REQUESTED = {"promote": "promote", "abort": "abort"}
DONE = {"promote": "promoted", "abort": "aborted"}
RECORD_MAX_BYTES = 64 * 1024


class ControlError(FleetError):
    """A control request that cannot be carried out (nothing was changed)."""


def _iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- fleet_wave_pause --------------------------------------------------------------------------------------------


def _one(value, what):
    """One pause value: ``("bake", seconds)``, ``("manual", 0)`` or ``("none", 0)``."""
    if isinstance(value, bool):
        raise ControlError("%s is %r: give a number of seconds (bake time) or \"manual\"" % (what, value))
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lower() == MANUAL:
        return (MANUAL, 0)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ControlError("%s is %r: give a number of seconds (bake time) or \"manual\" (hold until promote.yml or "
                           "abort.yml)" % (what, value))
    if number < 0:
        raise ControlError("%s is %r: seconds of bake time must be 0 or more" % (what, value))
    return ("bake", number) if number else ("none", 0)


def _wave_number(key, what):
    if isinstance(key, int) and not isinstance(key, bool):
        number = key
    elif isinstance(key, str) and key.strip().isdigit():
        number = int(key.strip())
    else:
        raise ControlError("%s has the key %r: keys are wave numbers (1 is the first wave)" % (what, key))
    if number < 1:
        raise ControlError("%s has the key %r: waves are numbered from 1" % (what, key))
    return number


def normalize_pause(value, waves=None, what="fleet_wave_pause"):
    """``fleet_wave_pause`` as ``{"default": (kind, seconds), "waves": {wave: (kind, seconds)}}``; ControlError otherwise.

    ``value``: seconds (bake time after every wave but the last), ``"manual"``, a mapping ``{wave number: value}``
    (waves not named: no pause) or a list with one value per wave. With ``waves`` (the plan's number of waves), a
    wave number at or past the last wave is refused: nothing follows the last wave, so it has no pause."""
    if value is None or value == "":
        return {"default": ("none", 0), "waves": {}}
    if isinstance(value, Mapping):
        per_wave = {_wave_number(key, what): _one(item, "%s[%s]" % (what, key)) for key, item in value.items()}
        default = ("none", 0)
    elif isinstance(value, (list, tuple)):
        per_wave = {index: _one(item, "%s[%d]" % (what, index - 1)) for index, item in enumerate(value, 1)}
        default = ("none", 0)
    else:
        per_wave, default = {}, _one(value, what)
    if waves is not None:
        late = sorted(wave for wave, pause in per_wave.items() if wave >= waves and pause[0] != "none")
        if late:
            raise ControlError("%s names wave %d, but the plan has %d wave(s): a pause comes after a wave and before the "
                               "next, so the last wave (%d) has none" % (what, late[0], waves, waves))
    return {"default": default, "waves": per_wave}


def pause_for_wave(value, wave, waves):
    """What follows wave ``wave`` of ``waves``: ``{"kind": "none" | "bake" | "manual", "seconds": int}``."""
    if wave is None or waves is None or int(wave) >= int(waves):
        return {"kind": "none", "seconds": 0}
    parsed = normalize_pause(value)
    kind, seconds = parsed["waves"].get(int(wave), parsed["default"])
    return {"kind": kind, "seconds": seconds}


def any_pause(value):
    """Whether ``fleet_wave_pause`` asks for any pause (then the walk with extras is needed)."""
    parsed = normalize_pause(value)
    return any(kind != "none" for kind, _seconds in [parsed["default"]] + list(parsed["waves"].values()))


def normalize_timeout(value, what="fleet_wave_pause_timeout"):
    """The pause timeout: whole seconds, at least 1 (a pause without an end would hold the fleet's locks forever)."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise ControlError("%s is %r: give the seconds a manual pause may last (at least 1)" % (what, value))
    number = int(value)
    if number < 1:
        raise ControlError("%s is %r: a manual pause needs a timeout of at least 1 second" % (what, value))
    return number


def normalize_poll(value, what="fleet_wave_pause_poll"):
    """Seconds between two reads of the control record: 1 to 120 (each read is one task on the lock host)."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise ControlError("%s is %r: give the seconds between two reads of the control record (1 to 120)" % (what, value))
    number = int(value)
    if not 1 <= number <= 120:
        raise ControlError("%s is %r: give 1 to 120 seconds between two reads of the control record" % (what, value))
    return number


def normalize_on_timeout(value, what="fleet_wave_pause_on_timeout"):
    if value not in ON_TIMEOUT:
        raise ControlError("%s is %r: it must be one of %s (what a manual pause does when nobody decides in time)"
                           % (what, value, ", ".join(ON_TIMEOUT)))
    return value


# -- the locks while paused ------------------------------------------------------------------------------------


def lock_ttl_while_paused(started, run_timeout, paused_seconds, pause_timeout, lock_ttl, now):
    """Seconds from ``now`` the run's locks must last when a pause of at most ``pause_timeout`` starts.

    The run's deadline (issue 14) is its start plus ``run_timeout`` plus the time it spent paused, so that a pause does
    not eat the time its waves have left; the locks must outlive that deadline by ``lock_ttl``. The longest this pause
    can move the deadline is ``pause_timeout``. 0 means the locks never expire (``lock_ttl`` 0) and need nothing."""
    lock_ttl, run_timeout = int(lock_ttl or 0), int(run_timeout or 0)
    if lock_ttl <= 0:
        return 0
    if run_timeout > 0:
        deadline = float(started) + run_timeout + float(paused_seconds or 0)
        left = max(0.0, deadline - now)
    else:
        left = 0.0
    return int(left + int(pause_timeout) + lock_ttl + 0.999)


# -- the control record -----------------------------------------------------------------------------------------


def new_pause(run, wave, waves, timeout, on_timeout, now):
    """The record a run writes when it holds after ``wave``. ``run``: run_id, operation, release, started_by
    (the run's operator, as the controller determined it), controller, reason."""
    timeout = normalize_timeout(timeout)
    record = {key: run.get(key) for key in ("run_id", "operation", "release", "started_by", "controller", "reason")}
    record.update({
        "wave": int(wave), "waves": int(waves), "state": PAUSED, "since": _iso(now), "since_ts": now,
        "timeout": timeout, "timeout_at": _iso(now + timeout), "timeout_at_ts": now + timeout,
        "on_timeout": normalize_on_timeout(on_timeout), "request": None, "decision": None,
    })
    return record


def held_by(lock, run_id):
    """Whether the fleet-wide lock ``lock`` (its record, or None) is held by run ``run_id``."""
    return isinstance(lock, Mapping) and bool(run_id) and lock.get("run_id") == run_id


def request(record, lock, action, by, reason, now, run_id=None):
    """``promote``/``abort`` of the paused run by operator ``by`` (``{"name", ...}``, determined on the controller):
    the new record, or ControlError saying why nothing changes. A paused run must exist, still hold the fleet-wide
    lock ``lock`` (else it is gone: its lock was released or broken), and be ``run_id`` when one is named; an abort
    needs a reason."""
    if action not in ACTIONS:
        raise ControlError("action %r is not one of %s" % (action, ", ".join(ACTIONS)))
    reason = (reason or "").strip()
    if action == "abort" and not reason:
        raise ControlError("abort needs a reason: pass -e fleet_reason=\"...\" (it is recorded with who aborted); nothing "
                           "was changed")
    if not isinstance(record, Mapping):
        raise ControlError("no run is paused (there is no control record): nothing to %s; nothing was changed" % action)
    what = "run %s (%s of %s)" % (record.get("run_id"), record.get("operation"), record.get("release"))
    if run_id and record.get("run_id") != run_id:
        raise ControlError("the paused run is %s, not run %s: nothing was changed" % (what, run_id))
    if record.get("state") != PAUSED:
        raise ControlError("no run is paused: the last pause, of %s after wave %s, is %s; nothing was changed" % (
            what, record.get("wave"), describe_state(record)))
    if not held_by(lock, record.get("run_id")):
        raise ControlError("%s is recorded as paused after wave %s, but it no longer holds the fleet-wide lock (%s): "
                           "that run is gone; nothing was changed. Finish or undo it with rollback.yml "
                           "-e fleet_break_lock_of_run=%s if its hosts are not all on one release" % (
                               what, record.get("wave"), "held by run %s" % lock.get("run_id")
                               if isinstance(lock, Mapping) else "not held", record.get("run_id")))
    new = dict(record)
    new["state"] = REQUESTED[action]
    new["request"] = {"action": action, "by": dict(by or {}), "reason": reason, "at": _iso(now), "at_ts": now}
    return new


def describe_state(record):
    state = record.get("state")
    decision = record.get("decision") or {}
    if state in DONE.values():
        return "%s by %s at %s" % (state, decision.get("by_name") or "?", decision.get("at") or "?")
    if state in REQUESTED.values():
        return "%s requested by %s, not taken up by the run yet" % (state, ((record.get("request") or {}).get("by") or {}).get("name"))
    return str(state)


def decide(record, run_id, now):
    """The paused run's poll: ``(decision, new record or None, decided or None)``; decision ``wait``, ``promote`` or
    ``abort``; ``decided`` says who decided and why (``source``: operator, timeout or record).

    A request is taken up (``promoted``/``aborted``, with who and why); at the timeout the run decides ``on_timeout``
    itself. A record that is missing or names another run cannot be waited on: abort (the record is the only way to
    steer the run, so without it nobody could)."""
    if not isinstance(record, Mapping) or record.get("run_id") != run_id:
        other = record.get("run_id") if isinstance(record, Mapping) else None
        decided = {"action": "abort", "source": "record", "by": None, "by_name": "(run)", "at": _iso(now), "at_ts": now,
                   "reason": "the control record of this run %s" % ("names run %s now" % other if other else "is gone")}
        return "abort", None, decided
    state = record.get("state")
    if state in REQUESTED.values():
        requested = record.get("request") or {}
        action = requested.get("action") or state
        by = requested.get("by") or {}
        decided = {"action": action, "source": "operator", "by": by, "by_name": by.get("name"),
                   "reason": requested.get("reason") or "", "requested_at": requested.get("at"), "at": _iso(now), "at_ts": now}
        return action, dict(record, state=DONE[action], decision=decided), decided
    if state in DONE.values():
        decided = record.get("decision") or {}
        return decided.get("action") or ("promote" if state == "promoted" else "abort"), None, decided
    if now >= float(record.get("timeout_at_ts") or 0):
        action = record.get("on_timeout") if record.get("on_timeout") in ON_TIMEOUT else "abort"
        decided = {"action": action, "source": "timeout", "by": None, "by_name": "(timeout)",
                   "reason": "nobody promoted or aborted within fleet_wave_pause_timeout=%s s (fleet_wave_pause_on_timeout=%s)"
                   % (record.get("timeout"), action), "at": _iso(now), "at_ts": now}
        return action, dict(record, state=DONE[action], decision=decided), decided
    return "wait", None, None


def describe_lock(lock):
    if not isinstance(lock, Mapping):
        return "it is not held"
    return "held by %s%s" % (lock.get("holder"), ", run %s" % lock["run_id"] if lock.get("run_id") else "")


def how_to_continue(record):
    return ("continue: ansible-playbook playbooks/promote.yml -i <inventory> [-e fleet_reason=...]; stop and revert: "
            "ansible-playbook playbooks/abort.yml -i <inventory> -e fleet_reason=...; otherwise at %s it will %s "
            "(fleet_wave_pause_on_timeout)" % (record.get("timeout_at"), record.get("on_timeout")))


def status(record, lock, now):
    """What status.yml shows about steering: ``{"paused": bool, ...}``. A paused record whose run no longer holds the
    fleet-wide lock is shown as stale (that run is gone)."""
    if not isinstance(record, Mapping):
        return {"paused": False}
    row = {key: record.get(key) for key in ("run_id", "operation", "release", "wave", "waves", "started_by", "reason",
                                            "since", "timeout_at", "on_timeout", "state", "request", "decision")}
    row["started_by"] = (record.get("started_by") or {}).get("name") if isinstance(record.get("started_by"), Mapping) \
        else record.get("started_by")
    alive = held_by(lock, record.get("run_id"))
    row["paused"] = record.get("state") == PAUSED and alive
    row["waiting"] = record.get("state") in (PAUSED,) + tuple(REQUESTED.values()) and alive
    row["stale"] = record.get("state") in (PAUSED,) + tuple(REQUESTED.values()) and not alive
    if row["waiting"]:
        row["paused_for"] = int(max(0, now - float(record.get("since_ts") or now)))
        row["how_to_continue"] = how_to_continue(record)
    return row


# -- the pause in the run report (called by the run ledger) ---------------------------------------------------------


def paused_seconds(report):
    """Seconds the run spent paused so far (they move its deadline)."""
    return float((report or {}).get("paused_seconds") or 0)


def deadline(started, run_timeout, report):
    """The run's deadline: its start plus fleet_run_timeout plus the time it was paused; None without one."""
    run_timeout = int(run_timeout or 0)
    return float(started) + run_timeout + paused_seconds(report) if run_timeout else None


# -- the files, on the fleet lock host -------------------------------------------------------------------------------


def _check_root_owned(path, info, what, owner):
    if owner is not None and info.st_uid != owner:
        raise ControlError("%s %s is owned by uid %d, not by %s: the control record is refused (chown root:root %s)"
                           % (what, path, info.st_uid, "root" if owner == 0 else "uid %d" % owner, path))
    if info.st_mode & 0o022:
        raise ControlError("%s %s is group- or other-writable (mode %04o): the control record is refused (chmod go-w %s)"
                           % (what, path, stat.S_IMODE(info.st_mode), path))


def read_record(path, owner=0):
    """The control record at ``path`` (None when there is none). Only a regular file owned by ``owner`` (root) and
    writable by it only, in a directory with the same properties, is read: whoever else could write it could steer
    the fleet."""
    directory = os.path.dirname(path)
    try:
        _check_root_owned(directory, os.stat(directory), "the directory of the control record", owner)
    except FileNotFoundError:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ControlError("cannot open the control record %s: %s (a symlink is refused)" % (path, exc))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ControlError("the control record %s is not a regular file" % path)
        _check_root_owned(path, info, "the control record", owner)
        data = handle.read(RECORD_MAX_BYTES + 1)
    if len(data) > RECORD_MAX_BYTES:
        raise ControlError("the control record %s is larger than %d bytes" % (path, RECORD_MAX_BYTES))
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise ControlError("the control record %s is not JSON (%s): remove it once no run is paused" % (path, exc))
    if not isinstance(record, dict):
        raise ControlError("the control record %s is not a JSON object: remove it once no run is paused" % path)
    return record


def write_record(path, record):
    """Replace the record atomically (0644: status.yml reads it; only root writes it)."""
    atomic_write_json(path, record, mode=0o644)


@contextlib.contextmanager
def locked_directory(path, dir_mode=0o750, timeout=30.0):
    """An exclusive flock of the record's directory for a read-modify-write: a request and the run's own timeout
    decision never both win. Bounded: after ``timeout`` seconds ControlError."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, dir_mode, exist_ok=True)
        os.chmod(directory, dir_mode)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        end = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= end:
                    raise ControlError("the control record's directory %s stayed locked for %d s" % (directory, timeout))
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def read_lock(path):
    """The fleet-wide lock's record (None when free)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lock = json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:
        return {"holder": "<unreadable lock file %s>" % path}
    return lock if isinstance(lock, dict) else {"holder": "<unreadable lock file %s>" % path}


def extend_lock(path, run_id, ttl, now):
    """Make the lock at ``path`` held by run ``run_id`` last ``ttl`` seconds from ``now`` (never shorter than it
    already does). Returns ``(changed, lock)``; ControlError when the lock is not this run's."""
    lock = read_lock(path)
    if not held_by(lock, run_id):
        raise ControlError("%s is %s, not by run %s: its lock cannot be kept alive" % (
            path, "held by %s" % lock.get("holder") if lock else "not held", run_id))
    if not ttl or not lock.get("expires_at"):
        return False, lock
    wanted = now + int(ttl)
    current = datetime.datetime.strptime(lock["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    if current >= wanted:
        return False, lock
    new = dict(lock, expires_at=_iso(wanted), extended_at=_iso(now))
    # Re-read right before the rename: a lock that changed meanwhile (released, broken) is never clobbered.
    if read_lock(path) != lock:
        raise ControlError("%s changed while its expiry was extended; the run goes on without the extension" % path)
    atomic_write_json(path, new)
    return True, new
