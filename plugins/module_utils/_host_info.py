# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a host's release layout says about itself: the result of release_info, also returned by release_lock's read."""

from __future__ import annotations

import os
import stat

from ansible_collections.fleetops.release.plugins.module_utils._config_snapshot import SnapshotCorrupt, SnapshotError, SnapshotStore
from ansible_collections.fleetops.release.plugins.module_utils._audit import history_line
from ansible_collections.fleetops.release.plugins.module_utils._lock import FileLock, LockHeld, describe, is_expired
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, ReleaseStore, run_effects, utc_now

# The runs a read reports (the newest ones), and how many history lines it reads to find them: enough for an
# interrupted run to be among them (a run leaves at most a few lines per host: switch, revert, mark, run).
RUNS_REPORTED = 5
RUNS_HISTORY_LINES = 200


def snapshot_status(app_root, release_ids):
    """``{release: {exists, valid, problems}}``: each release's configuration snapshot, every file checked against its
    manifest (what a rollback to it would restore)."""
    snapshots = SnapshotStore(app_root)
    status = {}
    for release_id in release_ids:
        row = {"exists": snapshots.exists(release_id), "valid": False, "problems": []}
        if row["exists"]:
            try:
                snapshots.verify(release_id)
                row["valid"] = True
            except SnapshotCorrupt as exc:
                row["problems"] = exc.problems or [str(exc)]
            except SnapshotError as exc:
                row["problems"] = [str(exc)]
        status[release_id] = row
    return status


def host_info(app_root, release=None, allow_bad=False, history_lines=0, config_paths=(), snapshots=False):
    """Releases, state, lock, rollback target (``release`` names one to check), the newest history lines, what the
    newest runs did on this host (``runs``, see _release_store.run_effects) and which of ``config_paths`` do not
    exist (``config_missing``: a deploy refuses them before any change, a typo would snapshot nothing). With
    ``snapshots``, the configuration snapshot of every release, verified (``snapshots``): a rollback's preflight then
    checks the snapshot of whichever release it picks, in the same round trip."""
    store = ReleaseStore(app_root)
    status = store.status()
    releases = store.releases()
    for item in releases:
        item["current"] = item["id"] == status["current"]
        item["pinned"] = item["id"] in status["pinned"]
        item["bad"] = item["id"] in status["bad"]
    target, reason = store.rollback_target(release, allow_bad=allow_bad)
    lock = FileLock(store.lock_path).read()
    history = store.history(limit=max(history_lines, RUNS_HISTORY_LINES))
    return {
        "exists": store.current() is not None or bool(releases),
        "current": status["current"],
        "previous": status["previous"],
        "releases": releases,
        "release_ids": [item["id"] for item in releases],
        "pinned": status["pinned"],
        "bad": status["bad"],
        "pending": status["pending"],
        "lock": lock,
        "lock_expired": bool(lock) and is_expired(lock, utc_now()),
        "rollback_target": target,
        "rollback_target_reason": reason,
        "history": history[-history_lines:] if history_lines > 0 else [],
        # What the newest runs did here, and whether each finished: an interrupted run is undone from this.
        "runs": run_effects(history, status["pending"])[-RUNS_REPORTED:],
        "config_missing": [path for path in config_paths or () if not os.path.lexists(path)],
        "snapshots": snapshot_status(app_root, [item["id"] for item in releases]) if snapshots else None,
    }


def release_host(app_root, holder, run_summary=None, force=False, check_mode=False):
    """Release the host lock of ``holder`` and leave the run's line (``run_summary``) in the host's history.
    Returns ``(changed, previous lock, history line or None)``; LockHeld when another holder has it (unless ``force``)."""
    store = ReleaseStore(app_root)
    changed, previous = FileLock(store.lock_path).release(holder, force=force, check_mode=check_mode)
    line = None
    if run_summary is not None:
        line = history_line(run_summary)
        if not check_mode:
            store.append_history(line)
    return changed, previous, line


# The option of the modules whose call may also close the host's part of a run (doc fragment fleetops.release.unlock).
UNLOCK_SPEC = {"unlock": {"type": "dict", "options": {"holder": {"type": "str"}, "run_summary": {"type": "dict"}}}}


def check_unlock(unlock, module_name, app_root=None):
    """Refuse an O(unlock) before the module changes anything: without its holder, or (given ``app_root``) on a host
    whose lock another run holds. A lock this run already released is free: a deploy's host unlocks at its activation,
    and the revert of that deploy puts the host back under the same O(unlock)."""
    if unlock is None:
        return
    if not unlock.get("holder"):
        raise FleetError("unlock.holder is required (the action plugin of %s sets it)" % module_name)
    if app_root is not None:
        held = FileLock(ReleaseStore(app_root).lock_path).read()
        if held is not None and held.get("holder") != unlock["holder"]:
            raise FleetError("%s: the host lock is held by %s, not by this run, so nothing was changed; another run took "
                             "the host after this run released it: let that run finish, then run again"
                             % (module_name, describe(held)))


def unlock_after(module, module_name, done, result):
    """O(unlock) of ``module_name`` once its change succeeded: release the run's host lock and leave its run line,
    recorded in ``result`` (``unlocked``, ``history``). A lock that cannot be released fails the task, saying what was
    ``done`` all the same (``"v2 is live"``). Returns ``result``."""
    result.update(unlocked=False, history=None)
    unlock = module.params["unlock"]
    if unlock is None:
        return result
    try:
        check_unlock(unlock, module_name)
        result["unlocked"], _previous, result["history"] = release_host(
            module.params["app_root"], unlock["holder"], unlock.get("run_summary"), check_mode=module.check_mode)
    except LockHeld as exc:
        module.fail_json(msg="%s, but the host lock could not be released: %s" % (done, exc), held=exc.held, **result)
    except (FleetError, OSError) as exc:
        module.fail_json(msg="%s, but the host lock could not be released: %s" % (done, exc), **result)
    return result


# The fleet policy (guard rails) lives on the fleet, in a file only root may change; see module_utils/_guard.py.
POLICY_PATH = "/etc/fleetops/policy.yml"
POLICY_MAX_BYTES = 64 * 1024


def _check_root_owned(path, info, what):
    if info.st_uid != 0:
        raise FleetError("%s %s is owned by uid %d, not by root: the fleet policy is refused. Make it root's "
                         "(chown root:root %s) so that only root can change the guard rails" % (what, path, info.st_uid, path))
    if info.st_mode & 0o022:
        raise FleetError("%s %s is group- or other-writable (mode %04o): the fleet policy is refused. Make it writable by "
                         "root only (chmod go-w %s)" % (what, path, stat.S_IMODE(info.st_mode), path))


def read_policy_file(path=POLICY_PATH):
    """The fleet policy file as text, checked: ``{path, exists, text}``; ``exists`` false (text None) when it is missing.

    Refused (FleetError) unless the file is a regular file owned by root and writable by root only, in a directory
    with the same properties, and at most POLICY_MAX_BYTES long. Parsing (YAML) happens on the controller, which has
    PyYAML; hosts may not.
    """
    directory = os.path.dirname(path)
    try:
        dir_info = os.stat(directory)
    except FileNotFoundError:
        return {"path": path, "exists": False, "text": None}
    _check_root_owned(directory, dir_info, "the directory of the fleet policy")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return {"path": path, "exists": False, "text": None}
    except OSError as exc:
        raise FleetError("cannot open the fleet policy %s: %s (a symlink is refused: put the file itself there)" % (path, exc))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FleetError("the fleet policy %s is not a regular file" % path)
        _check_root_owned(path, info, "the fleet policy")
        data = handle.read(POLICY_MAX_BYTES + 1)
    if len(data) > POLICY_MAX_BYTES:
        raise FleetError("the fleet policy %s is larger than %d bytes" % (path, POLICY_MAX_BYTES))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FleetError("the fleet policy %s is not UTF-8 text" % path)
    return {"path": path, "exists": True, "text": text}
