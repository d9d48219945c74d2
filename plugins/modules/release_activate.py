#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_activate
short_description: Put a release live on a host in one step (configuration, switch, restart, health)
version_added: 0.1.0
description:
  - Does on the host, in this order, what a deploy or rollback does to each host between draining it and putting it
    back in its load balancer pool.
  - 1. Restores the release's configuration snapshot (see M(fleetops.release.config_snapshot)); live files that were
    edited by hand are saved to a drift folder first.
  - 2. Points C(current) at the release (one rename, see M(fleetops.release.release_switch)).
  - 3. Runs O(restart_command) once, when the switch or the configuration changed anything.
  - 4. Probes O(health_url) from the host itself until it answers HTTP 200 (and, by default, names the release), as
    O(wait) says; a wrong answer (a 5xx, another release) or an app that does not answer after O(wait.start_period) fails
    it after O(wait.failure_limit) more rounds, without waiting out O(wait.timeout).
  - 5. Closes the operation when O(confirmed=true).
  - One module call per host instead of four keeps a wave's cost flat as the fleet grows.
  - The operation is recorded as pending before C(current) moves and stays pending until confirmed. When the restart
    or the health check fails the task fails, the host stays on the release, and the pending record names the
    release it came from, so a revert (or a re-run) knows where to go.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.actor
  - fleetops.release.common.switch
  - fleetops.release.restart
  - fleetops.release.wait
  - fleetops.release.unlock
  - fleetops.release.common.attributes
attributes:
  check_mode:
    details: Nothing is changed, nothing is restarted or probed; C(changed) says whether a real run would change the host.
  diff_mode:
    support: none
  idempotent:
    details: When the release is current, confirmed and its configuration is live, nothing changes and nothing restarts.
options:
  config:
    description:
      - V(auto) restores the release's configuration snapshot when it has one; V(required) refuses (before anything
        changes) a release without one; V(skip) leaves the live configuration alone.
    type: str
    choices: [auto, required, skip]
    default: auto
  restart_command:
    description:
      - Shell command run after the change (for example V(systemctl restart myapp)), with E(FLEET_RUN_ID),
        E(FLEET_RELEASE), E(FLEET_PREVIOUS_RELEASE) and E(FLEET_APP_ROOT) in its environment.
      - Skipped when nothing changed. A non-zero exit, or running longer than O(restart_timeout), fails the task and
        leaves the operation pending.
    type: str
  health_url:
    description:
      - URL the host probes (from the host itself) after the restart. Without it nothing is probed.
    type: str
  health_check_release:
    description: Also require the answer's JSON field O(health_release_field) to equal O(release).
    type: bool
    default: true
  health_release_field:
    description: Dotted path of the JSON field that names the running release.
    type: str
    default: release
  confirmed:
    description:
      - Close the operation once the host is healthy. The playbooks of this collection keep it open (V(false)) until
        the host is back in its pool and the whole run succeeded, then confirm with M(fleetops.release.release_switch).
    type: bool
    default: true
  mark_left_bad:
    description:
      - Once a V(rollback) to a release older than the one the host ran is confirmed, mark the release it left as
        known-bad (who, when, why; see M(fleetops.release.release_mark)). No later rollback picks a release marked
        bad, and deploying it again needs an explicit override. The playbooks set it for rollbacks and for the
        automatic revert of a failed deploy.
      - Nothing is marked in check mode, for a deploy, or for a rollback to a newer release.
    type: bool
    default: false
notes:
  - The playbooks set O(unlock) when a host's outcome is final at its activation (a rollback, the revert of a failed
    deploy), so that such a host costs two round trips (the preflight's lock and read, and this call). A failed
    activation releases nothing; the host stays locked, with the operation pending.
  - The probe comes from the host, so it proves the app answers where it runs; checks through the load balancer and
    error-rate gates are separate (M(fleetops.release.health_check), M(fleetops.release.traffic_gate)).
seealso:
  - module: fleetops.release.release_switch
  - module: fleetops.release.config_snapshot
  - module: fleetops.release.health_check
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Put release 2026.11.26-1 live with its configuration and wait until the host reports it
  fleetops.release.release_activate:
    release: "2026.11.26-1"
    operation: deploy
    restart_command: systemctl restart shop
    health_url: "http://{{ ansible_host }}:8000/health"
    confirmed: false
    run_id: "{{ fleet_run_id }}"

- name: An app that needs up to 30 s to start listening, checked 3 times in a row
  fleetops.release.release_activate:
    release: "2026.11.26-1"
    restart_command: systemctl restart shop
    health_url: "http://{{ ansible_host }}:8000/health"
    wait:
      start_period: 30
      successes: 3
      timeout: 90

- name: Roll one host back, code and configuration, and close the operation
  fleetops.release.release_activate:
    release: "2026.11.20-3"
    operation: rollback
    config: required
    restart_command: systemctl restart shop
    health_url: "http://{{ ansible_host }}:8000/health"
    reason: checkout errors after 2026.11.26-1
"""

RETURN = r"""
from:
  description: Release that was current before (for a pending operation, the release it started from).
  returned: always
  type: str
  sample: "2026.11.20-3"
to:
  description: Release that is current now (or would be, in check mode).
  returned: always
  type: str
  sample: "2026.11.26-1"
switched:
  description: Whether C(current) moved.
  returned: always
  type: bool
config_restored:
  description: Whether live configuration files were changed.
  returned: always
  type: bool
config_changes:
  description: Live configuration paths that were changed (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["/etc/shop/app.conf"]
drift_folder:
  description: Where live files edited by hand were saved before the restore, if any were.
  returned: always
  type: str
drift_saved:
  description: The live paths that differed from the snapshot of the release the host came from and were saved (a warning names them).
  returned: always
  type: list
  elements: str
  sample: ["/etc/shop/app.conf"]
restarted:
  description: Whether the restart command ran.
  returned: always
  type: bool
restart:
  description:
    - Exit code, stdout and stderr (each capped to 16 KiB, its first and last halves) of the restart command and the
      seconds it took. C(rc) is V(null) and C(timed_out) V(true) when it was killed after O(restart_timeout).
  returned: when the restart command ran
  type: dict
  sample: {"rc": 0, "stdout": "started pid 4242", "stderr": "", "elapsed": 1.2, "timed_out": false}
health:
  description: The health wait (V(null) when no O(health_url) or in check mode).
  returned: always
  type: dict
  contains:
    passed:
      description: Whether the host became healthy.
      type: bool
    reason:
      description: Why the wait ended, V(passed), V(failure_limit) or V(timeout).
      type: str
    msg:
      description: The verdict in words, naming the URL, what was expected and seen, and the O(wait) suboption to change.
      type: str
    elapsed:
      description: Seconds the wait took.
      type: float
    probes:
      description: Rounds run.
      type: int
    successes:
      description: Passing rounds.
      type: int
    streak:
      description: Passing rounds in a row at the end.
      type: int
    failures:
      description: Failed rounds counted against O(wait.failure_limit).
      type: int
    not_up:
      description: Rounds without an answer during O(wait.start_period), not counted.
      type: int
    last_failures:
      description: The last (up to 10) counted failures, each with C(at) (seconds since the start), C(seen) and C(not_up).
      type: list
      elements: dict
    checks:
      description: The verdict of the check in the last round (C(name), C(type), C(ok), C(expected), C(seen), C(latency_ms), C(not_up)).
      type: list
      elements: dict
    wait:
      description: The O(wait) settings used.
      type: dict
  sample: {"passed": true, "reason": "passed", "elapsed": 0.6, "probes": 2, "successes": 1, "streak": 1, "failures": 0,
           "not_up": 1, "last_failures": [], "msg": "1 check passed 1 time in a row after 2 probes (0.6 s)",
           "checks": [{"name": "http http://127.0.1.1:8000/health", "type": "http", "ok": true,
                       "expected": "HTTP 200, release=2026.11.26-1", "seen": "HTTP 200, release=2026.11.26-1",
                       "latency_ms": 2.1, "not_up": false}],
           "wait": {"timeout": 60.0, "interval": 0.5, "successes": 1, "failure_limit": 3, "start_period": 10.0,
                    "request_timeout": 5.0}}
pending:
  description: Whether the operation is still open (not confirmed).
  returned: always
  type: bool
marked_bad:
  description: The release this call marked known-bad (O(mark_left_bad)), or V(null).
  returned: always
  type: str
  sample: "2026.11.26-1"
kept_before_first_release:
  description:
    - On a host's first release, the folder that keeps the live configuration that was in place before it and that the
      release's snapshot replaced (C(<app_root>/snapshots/before-first-release-<time>)); V(null) otherwise.
  returned: always
  type: str
unlocked:
  description: Whether this call released the host lock (O(unlock)).
  returned: always
  type: bool
history:
  description: The run's line this call appended to the host's history (O(unlock.run_summary)), or V(null).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._activate import (
    RESTART_TIMEOUT_SPEC,
    ActivationFailed,
    activate,
    check_restart_timeout,
    health_check_spec,
    restart_environment,
    run_restart,
    wait_healthy,
)
from ansible_collections.fleetops.release.plugins.module_utils._health import WAIT_SPEC, wait_settings
from ansible_collections.fleetops.release.plugins.module_utils._config_snapshot import SnapshotCorrupt, SnapshotStore
from ansible_collections.fleetops.release.plugins.module_utils._host_info import UNLOCK_SPEC, check_unlock, unlock_after
from ansible_collections.fleetops.release.plugins.module_utils._module_common import (
    ACTOR_SPEC,
    APP_ROOT_SPEC,
    SWITCH_SPEC,
    actor_of,
    argument_spec,
)
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, ReleaseStore, validate_release_id


def restarter(module, store, release_id):
    command = module.params["restart_command"]

    def restart(previous):
        env = restart_environment(module.params["run_id"], release_id, previous, store.root)
        return run_restart(command, module.params["restart_timeout"], env, "after %s became current" % release_id)
    return restart


def health_waiter(params, release_id):
    check = health_check_spec(params["health_url"], params["health_release_field"],
                              release_id if params["health_check_release"] else None)

    def health():
        return wait_healthy(check, params["wait"])
    return health


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC, ACTOR_SPEC, SWITCH_SPEC, RESTART_TIMEOUT_SPEC, WAIT_SPEC, UNLOCK_SPEC,
            config={"type": "str", "default": "auto", "choices": ["auto", "required", "skip"]},
            restart_command={"type": "str"},
            health_url={"type": "str"},
            health_check_release={"type": "bool", "default": True},
            health_release_field={"type": "str", "default": "release"},
            confirmed={"type": "bool", "default": True},
            mark_left_bad={"type": "bool", "default": False},
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        release_id = validate_release_id(params["release"])
        check_unlock(params["unlock"], "fleetops.release.release_activate", params["app_root"])
        wait_settings(params["wait"])  # a bad wait is refused before anything changes
        check_restart_timeout(params["restart_timeout"])
        store = ReleaseStore(params["app_root"])
        result = activate(
            store, SnapshotStore(params["app_root"]), release_id, operation=params["operation"], config=params["config"],
            restart=restarter(module, store, release_id) if params["restart_command"] else None,
            health=health_waiter(params, release_id) if params["health_url"] else None,
            confirmed=params["confirmed"], run_id=params["run_id"], actor=actor_of(module), reason=params["reason"],
            check_mode=module.check_mode, mark_left_bad=params["mark_left_bad"])
    except ActivationFailed as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except SnapshotCorrupt as exc:
        module.fail_json(msg=str(exc), problems=exc.problems)
    except (FleetError, OSError) as exc:
        module.fail_json(msg=str(exc))
    # The activation is confirmed and healthy: with unlock, the host's part of the run is over.
    unlock_after(module, "fleetops.release.release_activate", "%s is live" % release_id, result)
    # Before a host's first release there is no snapshot to differ from: what was in place is kept, which the run's
    # summary says once for all hosts (run ledger), not as a warning per host.
    result["kept_before_first_release"] = result["drift_folder"] if result["drift_saved"] and not result["from"] else None
    if result["drift_saved"] and result["from"]:
        module.warn("%d live configuration file(s) differed from the snapshot of release %s (edited by hand?) and %s saved to %s "
                    "before the restore: %s" % (len(result["drift_saved"]), result["from"] or "(none)",
                                                "would be" if module.check_mode else "were", result["drift_folder"] or "a drift folder",
                                                ", ".join(result["drift_saved"])))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
