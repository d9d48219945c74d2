# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Activate a release on one host in one call: its configuration, the ``current`` switch, the restart, the host's
own health check, and (optionally) closing the operation.

One call instead of four module round trips per host is what keeps a wave's cost flat as the fleet grows. Each step
is the crash-safe step of its own store (ReleaseStore, SnapshotStore); the operation stays pending in the host's
state until it is confirmed, so an interrupted activation is finished (or reverted) by the next run.
"""

from __future__ import annotations

import time

from ansible_collections.fleetops.release.plugins.module_utils import _command
from ansible_collections.fleetops.release.plugins.module_utils._health import (
    evaluate_http,
    normalize_check,
    wait_message,
    wait_settings,
    wait_until_healthy,
)
from ansible_collections.fleetops.release.plugins.module_utils._health_probe import http_probe
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError

CONFIG_MODES = ("auto", "required", "skip")
DEFAULT_RESTART_TIMEOUT = 120.0
# The option of every module that runs the restart command (doc fragment fleetops.release.restart).
RESTART_TIMEOUT_SPEC = {"restart_timeout": {"type": "float", "default": DEFAULT_RESTART_TIMEOUT}}
RESTART_OUTPUT_LIMIT = 16 * 1024


class ActivationFailed(FleetError):
    """A step failed after the host may have changed; ``result`` says how far the activation got."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


class RestartFailed(FleetError):
    """The restart command failed or ran out of time; ``restart`` is its (capped) result."""

    def __init__(self, message, restart):
        super().__init__(message)
        self.restart = restart


def check_restart_timeout(value):
    if value is None or value <= 0:
        raise FleetError("restart_timeout must be a number of seconds above 0, not %r" % (value,))
    return value


def run_restart(command, timeout, env_update, after, runner=_command.run):
    """Run the restart command in its own process group for at most ``timeout`` seconds.

    Returns ``{"rc", "stdout", "stderr", "elapsed"}``. Raises RestartFailed when it exits non-zero, or when it did not
    finish in time: then it was killed with everything it started (see _command), and the message names the command
    and the timeout. ``after`` says what had happened before the restart (``after r2 became current``).
    """
    ran = runner(command, check_restart_timeout(timeout), shell=True, env=_command.child_environment(env_update),
                 output_limit=RESTART_OUTPUT_LIMIT)
    shown = {"rc": ran["rc"], "stdout": ran["stdout"], "stderr": ran["stderr"], "elapsed": ran["elapsed"]}
    if ran["timed_out"]:
        shown["timed_out"] = True
        raise RestartFailed(
            "restart command %r did not finish within %g s and was killed with its whole process group (%s) %s; the operation "
            "stays pending, so a re-run restarts again. Make the command return once the app has started, or give it longer "
            "with restart_timeout (fleet_restart_timeout). Output so far: %s"
            % (command, ran["timeout"], ran["killed_with"], after, (ran["stderr"] or ran["stdout"]).strip()[-2000:] or "(none)"), shown)
    if ran["rc"] != 0:
        raise RestartFailed("restart command %r failed with exit code %d %s; the operation stays pending, so a re-run restarts "
                            "again. stderr: %s" % (command, ran["rc"], after, (ran["stderr"] or ran["stdout"]).strip()[-2000:]), shown)
    return shown


def restart_environment(run_id, release_id, previous, app_root):
    """What the restart command sees, so that the app's logs before and after a switch can be joined with the run."""
    return {"FLEET_RUN_ID": run_id or "", "FLEET_RELEASE": release_id, "FLEET_PREVIOUS_RELEASE": previous or "",
            "FLEET_APP_ROOT": app_root}


def health_check_spec(url, release_field="release", expected_release=None):
    """The http check (see _health) that proves a host healthy, and on the expected release when one is given."""
    check = {"type": "http", "url": url, "status_codes": [200]}
    if expected_release is not None:
        check.update(json_field=release_field, json_value=expected_release)
    return normalize_check(check, 0)


def wait_healthy(check, wait=None, probe=http_probe, clock=time.monotonic, sleep=time.sleep):
    """The health wait (_health.wait_until_healthy) of one http check probed from here; its result with ``msg``."""
    settings = wait_settings(wait)

    def run_round():
        return [evaluate_http(check, probe(check["url"], timeout=settings["request_timeout"]))]
    result = wait_until_healthy(run_round, settings, clock=clock, sleep=sleep)
    result["msg"] = wait_message(None, result)
    return result


def is_rollback_away(store, from_release, to_release):
    """Whether going from ``from_release`` to ``to_release`` goes back (to a release older in the ledger)."""
    if not from_release or from_release == to_release:
        return False
    old, new = store.manifest(to_release), store.manifest(from_release)
    return old is not None and new is not None and old.get("sequence", 0) < new.get("sequence", 0)


def activate(store, snapshots, release_id, operation="deploy", config="auto", restart=None, health=None,
             confirmed=False, run_id=None, actor=None, reason=None, check_mode=False, mark_left_bad=False):
    """Put ``release_id`` live on this host: configuration snapshot, switch, restart, health, confirmation.

    ``store`` is a ReleaseStore, ``snapshots`` a SnapshotStore. ``config``: ``auto`` restores the release's snapshot
    when it has one, ``required`` refuses a release without one, ``skip`` leaves the live configuration alone.
    ``restart(previous)`` runs the restart command; ``health()`` returns a wait_healthy result (``passed``, ``msg``...).
    The restart runs when the switch or the configuration changed anything (or an earlier run left the operation pending).
    Raises ActivationFailed (with the partial result) when the restart or the health check fails: the operation then
    stays pending, so a re-run finishes it and a revert knows where the host came from.
    ``mark_left_bad``: once a rollback to an older release is confirmed, the release it left is marked bad (who,
    when, why), so that no later rollback picks it and deploying it again needs an explicit override.
    """
    if config not in CONFIG_MODES:
        raise FleetError("config must be one of %s, not %r" % (", ".join(CONFIG_MODES), config))
    before = store.status()
    result = {"changed": False, "from": before["current"], "to": release_id, "switched": False, "restarted": False,
              "config_restored": False, "config_changes": [], "drift_folder": None, "drift_saved": [], "health": None, "pending": False,
              "marked_bad": None}
    if store.manifest(release_id) is None:
        # Let switch() word the refusal (missing or unfinished, and which releases exist) before anything changes.
        store.switch(release_id, check_mode=True)

    has_snapshot = config != "skip" and snapshots.exists(release_id)
    if config == "required" and not has_snapshot:
        raise FleetError("release %s has no configuration snapshot under %s; nothing was changed. Create it first "
                         "(fleetops.release.config_snapshot) or use config=auto" % (release_id, snapshots.dir))
    if has_snapshot:
        restored = snapshots.restore(release_id, current=before["current"], check_mode=check_mode, run_id=run_id)
        result["config_changes"] = [action["path"] for action in restored["actions"]]
        result["config_restored"] = bool(restored["actions"])
        result["drift_folder"] = restored["drift_folder"]
        result["drift_saved"] = [row["path"] for row in restored["drift_saved"]]

    switched = store.switch(release_id, operation=operation, run_id=run_id, actor=actor, reason=reason, confirmed=False,
                            check_mode=check_mode)
    result.update({"from": switched["from"], "switched": switched["switched"]})
    result["changed"] = switched["changed"] or result["config_restored"]
    result["pending"] = switched["changed"] or bool(before["pending"])
    if check_mode:
        result["pending"] = result["pending"] and not confirmed
        return result

    if restart is not None and (result["changed"] or before["pending"]):
        try:
            result["restart"] = restart(switched["from"])
        except FleetError as exc:
            # A failed or timed-out restart is a failed activation: the host counts as failed, with the command named.
            if getattr(exc, "restart", None) is not None:
                result["restart"] = exc.restart
            raise ActivationFailed(str(exc), result)
        result["restarted"] = True
    if health is not None:
        result["health"] = health()
        if not result["health"]["passed"]:
            raise ActivationFailed(
                "release %s is live on this host but did not become healthy: %s. The operation stays pending; revert the host "
                "or re-run once it is fixed." % (release_id, result["health"]["msg"]), result)
    if confirmed and result["pending"]:
        store.switch(release_id, operation=operation, run_id=run_id, actor=actor, confirmed=True)
        result["pending"] = False
        result["changed"] = True
    left = switched["from"] if switched["switched"] else (before["pending"] or {}).get("from")
    if mark_left_bad and confirmed and operation == "rollback" and is_rollback_away(store, left, release_id):
        marked, _mark = store.mark_bad(left, actor=actor, reason=reason or "rolled back to %s" % release_id, run_id=run_id)
        result["marked_bad"] = left
        result["changed"] = result["changed"] or marked
    return result
