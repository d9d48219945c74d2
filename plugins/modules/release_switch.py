#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_switch
short_description: Atomically point a host's C(current) symlink at a release
version_added: 0.1.0
description:
  - Points C(<app_root>/current) at C(releases/<release>) by renaming a freshly made symlink over the old one
    (one rename system call), so the link is never missing or dangling, not even for a moment. C(ln -sfn) is not used.
  - Records current and previous release in C(.fleet/state.json) (temp file, fsync, rename) and appends a line
    (time, from, to, operation, actor, run id, reason) to C(.fleet/history.jsonl).
  - Runs O(restart_command) after the switch, with the environment variables E(FLEET_RUN_ID), E(FLEET_RELEASE),
    E(FLEET_PREVIOUS_RELEASE) and E(FLEET_APP_ROOT) set.
  - Before it switches, the operation is recorded as pending in the state. With O(confirmed=true) (the default) it is
    closed once the restart succeeded. With O(confirmed=false) it stays open until a second call with
    O(confirmed=true), typically after a health check; until then a re-run finishes the same operation (and restarts
    again), and M(fleetops.release.release_info) resolves an interrupted rollback to the same target.
  - A release that does not exist or is unfinished is refused with a clear error, and nothing changes.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.actor
  - fleetops.release.common.switch
  - fleetops.release.restart
  - fleetops.release.common.attributes
attributes:
  check_mode:
    details: Nothing is changed and the restart command is not run; C(changed) and the diff say what would happen.
  idempotent:
    details: When the release is already current and no operation is pending, nothing is done and the restart is skipped.
options:
  restart_command:
    description:
      - Shell command run after the switch (for example V(systemctl restart myapp)). Skipped when nothing changed.
      - A non-zero exit, or running longer than O(restart_timeout), fails the task; the switch has then happened and the
        operation stays pending, so a re-run restarts again.
    type: str
  confirmed:
    description:
      - Close the operation after this call. Set V(false) to keep it pending until verified, then call again with
        V(true) (and no O(restart_command)) to close it.
    type: bool
    default: true
seealso:
  - module: fleetops.release.release
  - module: fleetops.release.release_info
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Switch to release 2026.11.26-1 and restart the app
  fleetops.release.release_switch:
    release: "2026.11.26-1"
    operation: deploy
    restart_command: systemctl restart shop
    run_id: "{{ fleet_run_id }}"

- name: Roll back, keep the operation open until the health check passed
  fleetops.release.release_switch:
    release: "{{ target }}"
    operation: rollback
    confirmed: false
    restart_command: systemctl restart shop
    reason: checkout errors after 2026.11.26-1

- name: Close the rollback once the host is verified
  fleetops.release.release_switch:
    release: "{{ target }}"
    operation: rollback
"""

RETURN = r"""
from:
  description: Release that was current before (V(null) when none was).
  returned: always
  type: str
  sample: "2026.11.26-1"
to:
  description: Release that is current now (or would be, in check mode).
  returned: always
  type: str
  sample: "2026.11.20-3"
switched:
  description: Whether the symlink moved.
  returned: always
  type: bool
  sample: true
restarted:
  description: Whether the restart command ran.
  returned: always
  type: bool
  sample: true
pending:
  description: Whether the operation is still open (O(confirmed=false)).
  returned: always
  type: bool
  sample: false
restart:
  description: Result of the restart command.
  returned: when the restart command ran
  type: dict
  contains:
    rc:
      description: Exit code (V(null) when the command was killed after O(restart_timeout)).
      type: int
    stdout:
      description: Standard output (capped to 16 KiB, its first and last halves).
      type: str
    stderr:
      description: Standard error (capped to 16 KiB, its first and last halves).
      type: str
    elapsed:
      description: Seconds the command ran.
      type: float
    timed_out:
      description: Present and V(true) when the command was killed after O(restart_timeout).
      type: bool
  sample: {"rc": 0, "stdout": "started pid 4242", "stderr": "", "elapsed": 1.2}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._activate import (
    RESTART_TIMEOUT_SPEC,
    RestartFailed,
    check_restart_timeout,
    restart_environment,
    run_restart,
)
from ansible_collections.fleetops.release.plugins.module_utils._module_common import (
    ACTOR_SPEC,
    APP_ROOT_SPEC,
    SWITCH_SPEC,
    actor_of,
    argument_spec,
)
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, ReleaseStore, validate_release_id


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC, ACTOR_SPEC, SWITCH_SPEC, RESTART_TIMEOUT_SPEC,
            restart_command={"type": "str"},
            confirmed={"type": "bool", "default": True},
        ),
        supports_check_mode=True,
    )
    params = module.params
    restart_result = {}
    before = None

    try:
        release_id = validate_release_id(params["release"])
        check_restart_timeout(params["restart_timeout"])
        store = ReleaseStore(params["app_root"])
        before = store.current()

        def restart():
            env = restart_environment(params["run_id"], release_id, before, store.root)
            try:
                restart_result.update(run_restart(params["restart_command"], params["restart_timeout"], env,
                                                  "after switching %s to %s (the host now points at it)" % (store.current_link, release_id)))
            except RestartFailed as exc:
                restart_result.update(exc.restart)
                raise

        result = store.switch(
            release_id, operation=params["operation"], run_id=params["run_id"], actor=actor_of(module), reason=params["reason"],
            confirmed=params["confirmed"], restart=restart if params["restart_command"] else None, check_mode=module.check_mode,
        )
    except FleetError as exc:
        module.fail_json(msg=str(exc), restart=restart_result or None, **{"from": before})

    if restart_result:
        result["restart"] = restart_result
    result["diff"] = {
        "before": "current -> releases/%s\n" % result["from"] if result["from"] else "current: absent\n",
        "after": "current -> releases/%s\n" % result["to"],
        "before_header": store.current_link,
        "after_header": store.current_link,
    }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
