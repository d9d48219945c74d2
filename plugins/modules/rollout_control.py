#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_control
short_description: Pause, promote or abort a running rollout through its control record on the fleet lock host
version_added: 0.1.0
description:
  - The control record of a rollout that holds after a wave (C(fleet_wave_pause=manual)), kept next to the fleet-wide
    lock on C(fleet_lock_host) (default C(<directory of fleet_lock_path>/fleet.control)). See C(docs/rollout-control.md).
  - "O(action=pause): the paused run writes the record (run, wave, since when, who started the run, the timeout and
    what happens at it) and keeps the fleet-wide lock O(lock_path) alive for O(ttl) more seconds; refused unless that
    lock is held by O(run_id)."
  - "O(action=wait): the paused run polls the record for up to O(poll) seconds and returns RV(decision): V(wait),
    V(promote) or V(abort). A request is acknowledged in the record (C(promoted), C(aborted)); at the pause's timeout
    the module decides C(on_timeout) itself. Run it in an C(until) loop, once per run (C(run_once)): a paused run
    costs no task on the other hosts."
  - "O(action=promote) / O(action=abort): from C(playbooks/promote.yml) and C(playbooks/abort.yml). Refused, with
    nothing changed, when no run is paused, when the paused run no longer holds the fleet-wide lock, when O(run_id) names
    another run, or (abort) without O(reason). The operator is determined by the action plugin on the controller (as
    M(fleetops.release.run_guard) does), never taken from the task."
  - "O(action=read): the record and the fleet-wide lock, as RV(status) (what C(playbooks/status.yml) shows)."
  - "O(action=extend_lock): on a fleet host, keep this run's host lock C(<app_root>/.fleet/lock) alive for O(ttl) more
    seconds (never shortened); refused unless the lock is held by O(run_id)."
  - The record is written atomically (temporary file, fsync, rename) under an exclusive C(flock) of its directory, and
    read only from a regular file owned by root and writable by root only, in a directory with the same properties.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: partial
    details: O(action=read) and O(action=wait) run; the other actions report what they would write and write nothing.
  diff_mode:
    support: none
options:
  action:
    description: What to do (see the description).
    type: str
    required: true
    choices: [read, pause, wait, promote, abort, extend_lock]
  path:
    description: The control record on the fleet lock host.
    type: path
    default: /var/lib/fleetops/fleet.control
  lock_path:
    description: The fleet-wide lock (C(fleet_lock_path)); the record is acted on only while its run holds it.
    type: path
    default: /var/lib/fleetops/fleet.lock
  run_id:
    description:
      - The run. Required for O(action=pause), O(action=wait) and O(action=extend_lock); with O(action=promote) or
        O(action=abort) it must name the paused run (any paused run when omitted).
    type: str
  reason:
    description: Why (O(action=promote), O(action=abort); required for abort), recorded with who.
    type: str
  operator:
    description:
      - Who acts, set by the action plugin on the controller (the controller's OS user, or AWX's user inside a proven
        AWX job); a value the task passes is ignored with a warning.
    type: dict
  controller:
    description: The controller's host name, set by the action plugin.
    type: str
  operation:
    description: The paused run's operation (O(action=pause)).
    type: str
  release:
    description: The release the paused run brings (O(action=pause)).
    type: str
  wave:
    description: The wave after which the run holds (O(action=pause)).
    type: int
  waves:
    description: The number of waves of the run (O(action=pause)).
    type: int
  timeout:
    description: Seconds the pause may last (O(action=pause); C(fleet_wave_pause_timeout)).
    type: int
    default: 3600
  on_timeout:
    description: What the run does when nobody decides within O(timeout) (C(fleet_wave_pause_on_timeout)).
    type: str
    choices: [abort, promote]
    default: abort
  ttl:
    description:
      - Seconds from now the lock must last at least (O(action=pause) for the fleet-wide lock, O(action=extend_lock)
        for the host lock). V(0) extends nothing (the locks never expire).
    type: int
    default: 0
  poll:
    description: Seconds O(action=wait) waits for a decision before it returns V(wait) (1 to 120).
    type: int
    default: 20
  interval:
    description: Seconds between two reads of the record while O(action=wait) waits.
    type: float
    default: 1.0
seealso:
  - module: fleetops.release.release_lock
  - module: fleetops.release.run_guard
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Promote the paused rollout (what playbooks/promote.yml does)
  fleetops.release.rollout_control:
    action: promote
    path: /var/lib/fleetops/fleet.control
    lock_path: /var/lib/fleetops/fleet.lock
    reason: dashboards look fine
  delegate_to: "{{ fleet_lock_host }}"
  run_once: true

- name: Abort it (a reason is required)
  fleetops.release.rollout_control:
    action: abort
    reason: latency up on the canaries
  delegate_to: "{{ fleet_lock_host }}"
  run_once: true

- name: Is a run paused?
  fleetops.release.rollout_control:
    action: read
  delegate_to: "{{ fleet_lock_host }}"
  run_once: true
  register: fleet_control
"""

RETURN = r"""
record:
  description: The control record after the action (None when there is none).
  returned: always
  type: dict
status:
  description:
    - What status.yml shows; C(paused) (a run holds and still owns the fleet-wide lock), C(waiting) (paused or a request
      not taken up yet), C(stale) (the record says paused but its run no longer holds the lock), the run, the wave,
      C(since), C(started_by), C(timeout_at), C(on_timeout) and C(how_to_continue).
  returned: always
  type: dict
decision:
  description: O(action=wait) only. V(wait), V(promote) or V(abort).
  returned: when action is wait
  type: str
decided:
  description: O(action=wait) only. Who decided and why (C(source) operator, timeout or record), when it was decided.
  returned: when action is wait and a decision was taken
  type: dict
lock:
  description: The fleet-wide lock (O(action=read), O(action=pause)) or the host lock (O(action=extend_lock)) after the action.
  returned: always
  type: dict
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils import _rollout_control as control
from ansible_collections.fleetops.release.plugins.module_utils._module_common import APP_ROOT_SPEC, argument_spec
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError


def _need(params, *names):
    missing = [name for name in names if params.get(name) in (None, "")]
    if missing:
        raise control.ControlError("action=%s needs %s" % (params["action"], ", ".join(missing)))


def run(module):
    params, now = module.params, time.time()
    action, path = params["action"], params["path"]
    result = {"changed": False, "record": None, "lock": None}
    if action == "extend_lock":
        _need(params, "run_id")
        lock_file = os.path.join(params["app_root"], ".fleet", "lock")
        if module.check_mode:
            result["lock"] = control.read_lock(lock_file)
            return result
        result["changed"], result["lock"] = control.extend_lock(lock_file, params["run_id"], params["ttl"], now)
        return result
    if action == "read":
        record, lock = control.read_record(path), control.read_lock(params["lock_path"])
        result.update(record=record, lock=lock, status=control.status(record, lock, now))
        return result
    if action == "wait":
        _need(params, "run_id")
        control.normalize_poll(params["poll"], what="poll")
        end = time.monotonic() + params["poll"]
        while True:
            now = time.time()
            with control.locked_directory(path):
                record = control.read_record(path)
                decision, new, decided = control.decide(record, params["run_id"], now)
                if new is not None:
                    if not module.check_mode:
                        control.write_record(path, new)
                    record = new
                    result["changed"] = True
            if decision != "wait" or time.monotonic() >= end:
                break
            time.sleep(max(0.1, params["interval"]))
        lock = control.read_lock(params["lock_path"])
        result.update(decision=decision, decided=decided, record=record, lock=lock, status=control.status(record, lock, now))
        return result
    if action == "pause":
        _need(params, "run_id", "wave", "waves")
        run_row = {"run_id": params["run_id"], "operation": params["operation"], "release": params["release"],
                   "started_by": params["operator"], "controller": params["controller"], "reason": params["reason"]}
        with control.locked_directory(path):
            lock = control.read_lock(params["lock_path"])
            if not control.held_by(lock, params["run_id"]):
                raise control.ControlError("the fleet-wide lock %s is not held by run %s (%s): the run cannot pause" % (
                    params["lock_path"], params["run_id"], control.describe_lock(lock)))
            record = control.new_pause(run_row, params["wave"], params["waves"], params["timeout"], params["on_timeout"], now)
            if not module.check_mode:
                extended, lock = control.extend_lock(params["lock_path"], params["run_id"], params["ttl"], now)
                control.write_record(path, record)
                result["lock_extended"] = extended
        result.update(changed=True, record=record, lock=lock, status=control.status(record, lock, now))
        return result
    # promote, abort: the operator's request.
    with control.locked_directory(path):
        record, lock = control.read_record(path), control.read_lock(params["lock_path"])
        operator = dict(params["operator"] or {}, controller=params["controller"])
        new = control.request(record, lock, action, operator, params["reason"], now, run_id=params["run_id"])
        if not module.check_mode:
            control.write_record(path, new)
    result.update(changed=True, record=new, lock=lock, status=control.status(new, lock, now))
    return result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC,
            action={"type": "str", "required": True, "choices": ["read", "pause", "wait", "promote", "abort", "extend_lock"]},
            path={"type": "path", "default": "/var/lib/fleetops/fleet.control"},
            lock_path={"type": "path", "default": "/var/lib/fleetops/fleet.lock"},
            run_id={"type": "str"},
            reason={"type": "str"},
            operator={"type": "dict"},
            controller={"type": "str"},
            operation={"type": "str"},
            release={"type": "str"},
            wave={"type": "int"},
            waves={"type": "int"},
            timeout={"type": "int", "default": 3600},
            on_timeout={"type": "str", "default": "abort", "choices": ["abort", "promote"]},
            ttl={"type": "int", "default": 0},
            poll={"type": "int", "default": 20},
            interval={"type": "float", "default": 1.0},
        ),
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except (FleetError, OSError) as exc:
        module.fail_json(msg="rollout_control %s: %s" % (module.params["action"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
