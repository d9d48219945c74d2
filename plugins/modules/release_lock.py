#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_lock
short_description: Take or release a host's deploy lock, or the fleet-wide lock
version_added: 0.1.0
description:
  - Takes (O(state=present)) or releases (O(state=absent)) the lock C(<app_root>/.fleet/lock), which records the holder,
    the reason, the run, since when it is held and when it expires.
  - With O(path) instead of O(app_root), the same lock lives in that file, for example a fleet-wide lock on a
    designated fleet host (C(/var/lib/fleetops/fleet.lock)), so that it outlives the controller (AWX throws its job
    containers away). A missing parent directory is created with mode C(0750).
  - Taking is atomic (a hard link of a complete file), so of two concurrent takers exactly one wins.
  - A lock held by somebody else is refused with that holder's name, reason and times. The same holder taking it again
    changes nothing.
  - An expired lock is broken only with O(break_expired=true), the lock of a run that has ended only with
    O(break_run) naming that run, and the lock of a run whose C(ansible-playbook) process is provably gone (same
    controller, its process no longer exists) by the action plugin itself (O(break_gone)), with a warning; the broken
    lock is returned as RV(broken) and kept inside the new lock record (C(broke)) so the break can be audited. No other
    lock is ever broken by this module.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  path:
    description:
      - Absolute path of the lock file, for a lock that does not belong to one release layout (the fleet-wide lock
        on C(fleet_lock_host)).
      - Mutually exclusive with O(app_root); without it the lock is C(<app_root>/.fleet/lock).
    type: path
  state:
    description:
      - V(present) takes the lock, V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  holder:
    description:
      - Who holds the lock. The action plugin of this module sets it on the controller to
        C(<operator>@<controller> run <run_id>) (without the run part when O(run_id) is not given), where the operator
        is the controller's OS user, or AWX's user inside a proven AWX job; to take a lock, a value the task passes is
        ignored, with a warning when it differs. The same holder may take the lock again; anybody else is refused.
      - With O(state=absent) a holder given selects the lock to release (for example one another run left behind); it
        is recorded nowhere. Without it, the lock of the operator (and O(run_id)) is released.
    type: str
  reason:
    description:
      - Why the lock is taken; shown to anybody who is refused.
    type: str
  ttl:
    description:
      - Seconds after which the lock counts as expired (stale). V(0) means it never expires.
    type: int
    default: 3600
  run_id:
    description:
      - Run that holds the lock.
    type: str
  break_expired:
    description:
      - Replace a lock of another holder when it has expired.
    type: bool
    default: false
  break_run:
    description:
      - Replace the lock when it belongs to this run id, expired or not. For a run known to have ended without
        releasing it (interrupted, or the host was unreachable when the run unlocked). The broken lock is returned and
        kept inside the new lock record.
    type: str
  process:
    description:
      - The process that holds the lock, kept in the lock record (C(process)) so that the next run on the same
        controller can prove it gone. It holds C(controller) (host name), C(pid) and C(start) (start time in clock ticks after
        boot) of the C(ansible-playbook) process, C(boot_id) and C(pid_ns) (the boot and the pid namespace in which that
        pid means something).
      - Set by the action plugin of this module on the controller when the lock is taken; a value the task passes is
        ignored, with a warning.
    type: dict
  break_gone:
    description:
      - Internal, set by the action plugin only (a value the task passes is ignored, with a warning). Replace the lock
        when it is exactly this one (the same C(run_id) and C(process)), expired or not.
      - The action plugin sets it after this module refused a lock whose holder is provably gone (the lock records this
        controller, in this boot and pid namespace, and a pid that no longer exists there, or that now belongs to a
        process started at another time). That check needs the controller's process table, so it is made on the
        controller, never on the host that keeps the lock. The break is returned as RV(broken) and kept in the new
        lock (C(broke)), like a break with O(break_run).
    type: dict
  force:
    description:
      - With O(state=absent), release the lock even when another holder has it.
    type: bool
    default: false
  read:
    description:
      - With O(state=present) and O(app_root), also read the host's releases once the lock is taken and return them
        as RV(info), the same as M(fleetops.release.release_info) returns with these options. A preflight gets the
        lock and everything it checks in one round trip per host.
    type: dict
    suboptions:
      release:
        description:
          - A named rollback target to check, as O(fleetops.release.release_info#module:release).
        type: str
      allow_bad:
        description:
          - Accept a named O(read.release) that is marked bad, as O(fleetops.release.release_info#module:allow_bad).
        type: bool
        default: false
      config_paths:
        description:
          - Configuration paths whose existence to check; those that do not exist are returned in
            C(info.config_missing).
        type: list
        elements: str
        default: []
      snapshots:
        description:
          - Also verify the configuration snapshot of every release on the host (each file against its manifest) and
            return C(info.snapshots), each release's C(exists), C(valid) and C(problems), so that a rollback's
            preflight checks the snapshot of the target it picks without another round trip.
        type: bool
        default: false
  read_policy:
    description:
      - With O(path) and O(state=present), also read the fleet policy C(/etc/fleetops/policy.yml) on this host, in the
        same call and before the lock is taken, and return it as RV(policy). The guard rails of
        M(fleetops.release.run_guard) come from it.
      - The file must be a regular file owned by root and writable by root only, in a directory with the same
        properties; otherwise the call fails without taking the lock and names the file and what to fix. A missing file
        is an empty policy.
      - The action plugin parses the policy (YAML) on the controller and keeps it in the run record of O(run_id), where
        M(fleetops.release.run_guard) reads it; the task must not run on the controller itself.
    type: bool
    default: false
  run_summary:
    description:
      - With O(state=absent) and O(app_root), the run's summary for this host, appended to
        C(<app_root>/.fleet/history.jsonl) as one line (C(event=run)) when the lock is released, so that the host's
        history says which runs touched it, from where to where and with what outcome, also when nothing changed.
      - Known keys are C(run_id), C(operation), C(actor), C(reason), C(from), C(to), C(outcome), C(started) and
        C(finished) (epoch seconds or ISO 8601 text); other keys are ignored, missing ones are V(null).
      - C(actor) is set by the action plugin to the operator it determines (a value passed is ignored), and
        C(operation) to the operation of the run record of C(run_id) when run_guard started that run.
      - The playbooks of this collection pass the host's entry of the run report (see C(docs/run-report.md)).
    type: dict
seealso:
  - module: fleetops.release.release_info
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Lock every host for this rollback (the holder is <operator>@<controller> run <run_id>, named by the controller)
  fleetops.release.release_lock:
    run_id: "{{ fleet_run_id }}"
    reason: "{{ fleet_reason | default('rollback') }}"
    ttl: 1800

- name: Release the lock at the end
  fleetops.release.release_lock:
    run_id: "{{ fleet_run_id }}"
    state: absent

- name: Lock the host and read its releases and rollback target in the same call
  fleetops.release.release_lock:
    run_id: "{{ fleet_run_id }}"
    read:
      release: "{{ fleet_release | default(omit) }}"
  register: fleet_lock_taken

- name: Release the lock and leave the run's summary in the host's history (its actor is the operator)
  fleetops.release.release_lock:
    run_id: "{{ fleet_run_id }}"
    state: absent
    run_summary:
      run_id: "{{ fleet_run_id }}"
      operation: rollback
      from: 2026.11.26-1
      to: 2026.11.20-3
      outcome: switched

- name: Take the fleet-wide lock on the designated fleet host, breaking a stale one only when told to
  fleetops.release.release_lock:
    path: /var/lib/fleetops/fleet.lock
    reason: "deploy 2026.11.26-1"
    run_id: "{{ fleet_run_id }}"
    ttl: 3600
    break_expired: "{{ fleet_break_stale_lock | bool }}"
  delegate_to: "{{ fleet_lock_host }}"
  run_once: true
  register: fleet_lock

- name: Say which stale lock was broken
  ansible.builtin.debug:
    msg: "Broke the lock of {{ fleet_lock.broken.holder }} (run {{ fleet_lock.broken.run_id }}) since {{ fleet_lock.broken.since }}"
  when: fleet_lock.broken is truthy
  run_once: true
"""

RETURN = r"""
lock:
  description: The lock record now in place (V(null) after a release).
  returned: always
  type: dict
  sample: {"holder": "alice run 20261126T210405Z-4821", "reason": "rollback", "since": "2026-11-26T21:04:05Z",
           "expires_at": "2026-11-26T21:34:05Z", "run_id": "20261126T210405Z-4821",
           "process": {"controller": "ops-1", "pid": 4821, "start": 912345, "boot_id": "0b5c...", "pid_ns": "pid:[4026531836]"}}
previous:
  description: The lock that was released or broken, if any.
  returned: always
  type: dict
  sample: {"holder": "bob run 20261126T180000Z-1", "since": "2026-11-26T18:00:00Z", "expires_at": "2026-11-26T18:30:00Z"}
broken:
  description:
    - The lock record of another holder that was broken (expired with O(break_expired), of the run named by
      O(break_run), or of a run whose process is gone), for the audit; V(null) when no lock was broken. It is also kept
      in the new lock as C(broke).
    - When the holder's process was gone, C(broken_because) says so (added by the action plugin).
  returned: always
  type: dict
  sample: {"holder": "bob run 20261126T180000Z-1", "reason": "deploy", "run_id": "20261126T180000Z-1",
           "since": "2026-11-26T18:00:00Z", "expires_at": "2026-11-26T18:30:00Z"}
info:
  description:
    - With O(read), the host's releases, state, lock (now this one) and rollback target, as
      M(fleetops.release.release_info) returns them (RV(fleetops.release.release_info#module:current),
      RV(fleetops.release.release_info#module:rollback_target) and the rest; no history lines),
      C(config_missing), the paths of O(read.config_paths) that do not exist, and C(snapshots), each release's
      configuration snapshot verified (with O(read.snapshots), else V(null)).
  returned: when O(read) is set and the lock was taken
  type: dict
  sample: {"current": "2026.11.26-1", "previous": "2026.11.20-3", "release_ids": ["2026.11.20-3", "2026.11.26-1"],
           "rollback_target": "2026.11.20-3", "rollback_target_reason": "newest release older than 2026.11.26-1",
           "bad": {}, "pending": null, "lock": {"holder": "alice run 20261126T210405Z-4821"}}
held:
  description: When the lock is refused because somebody else holds it, that holder's lock record.
  returned: when the lock is held by another holder
  type: dict
  sample: {"holder": "bob run 20261126T180000Z-1", "reason": "deploy", "since": "2026-11-26T18:00:00Z",
           "expires_at": "2026-11-26T18:30:00Z", "run_id": "20261126T180000Z-1"}
history:
  description: The line appended to C(.fleet/history.jsonl) from O(run_summary); V(null) without one.
  returned: always
  type: dict
  sample: {"time": "2026-11-26T21:09:12Z", "event": "run", "run_id": "20261126T210405Z-4821", "operation": "rollback",
           "actor": "alice", "reason": "error rate", "from": "2026.11.26-1", "to": "2026.11.20-3", "outcome": "switched",
           "started": "2026-11-26T21:04:05Z", "finished": "2026-11-26T21:09:10Z"}
policy:
  description:
    - With O(read_policy), the fleet policy read on this host; C(settings) is its content checked by the controller
      (see M(fleetops.release.run_guard)), C(source) is C(<host>:<path>).
  returned: when O(read_policy) is true
  type: dict
  sample: {"path": "/etc/fleetops/policy.yml", "exists": true, "source": "shop-us-1:/etc/fleetops/policy.yml",
           "settings": {"allowed_operators": ["alice", "bob"], "require_reason": true, "freeze_windows": []}}
path:
  description: The lock file.
  returned: always
  type: str
  sample: /var/lib/fleetops/fleet.lock
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._host_info import host_info, read_policy_file, release_host
from ansible_collections.fleetops.release.plugins.module_utils._lock import FileLock, LockHeld
from ansible_collections.fleetops.release.plugins.module_utils._module_common import APP_ROOT_SPEC, argument_spec
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, ReleaseStore

# A fleet-wide lock names its holders and reasons: its directory is not for everybody to read.
FLEET_LOCK_DIR_MODE = 0o750


def lock_for(params):
    """The lock the parameters name: the file O(path), else the release layout's own lock."""
    path = params["path"]
    if path is None:
        return FileLock(ReleaseStore(params["app_root"]).lock_path)
    if not os.path.isabs(path):
        raise FleetError("path must be an absolute path of a lock file, got %r" % path)
    if path.endswith("/") or os.path.isdir(path):
        raise FleetError("path %s is a directory; give the lock file inside it, for example %s"
                         % (path, os.path.join(path, "fleet.lock")))
    return FileLock(os.path.normpath(path), dir_mode=FLEET_LOCK_DIR_MODE)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC,
            path={"type": "path"},
            state={"type": "str", "default": "present", "choices": ["present", "absent"]},
            holder={"type": "str"},
            reason={"type": "str"},
            ttl={"type": "int", "default": 3600},
            run_id={"type": "str"},
            break_expired={"type": "bool", "default": False},
            break_run={"type": "str"},
            process={"type": "dict"},
            break_gone={"type": "dict"},
            force={"type": "bool", "default": False},
            read={"type": "dict", "options": {"release": {"type": "str"}, "allow_bad": {"type": "bool", "default": False},
                                              "config_paths": {"type": "list", "elements": "str", "default": []},
                                              "snapshots": {"type": "bool", "default": False}}},
            run_summary={"type": "dict"},
            read_policy={"type": "bool", "default": False},
        ),
        mutually_exclusive=[("app_root", "path"), ("path", "run_summary"), ("path", "read")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["ttl"] < 0:
            raise FleetError("ttl must be 0 (never expires) or a number of seconds, got %d" % params["ttl"])
        if params["run_summary"] is not None and params["state"] == "present":
            raise FleetError("run_summary is written when the lock is released; use it with state=absent")
        if params["read"] is not None and params["state"] == "absent":
            raise FleetError("read returns the host's releases once the lock is taken; use it with state=present")
        if not params["holder"]:
            raise FleetError("holder is required (the action plugin of fleetops.release.release_lock sets it)")
        if params["read_policy"] and (params["path"] is None or params["state"] != "present"):
            raise FleetError("read_policy reads the fleet policy with the fleet-wide lock: use it with path and state=present")
        lock = lock_for(params)
        # The policy is read before the lock is taken: an unusable policy stops the run without leaving a lock behind.
        policy = read_policy_file() if params["read_policy"] else None
        before = lock.read()
        if params["state"] == "present":
            changed, record, broken = lock.acquire(
                params["holder"], reason=params["reason"], ttl=params["ttl"] or None, run_id=params["run_id"],
                break_expired=params["break_expired"], break_run=params["break_run"], check_mode=module.check_mode,
                process=params["process"], break_gone=params["break_gone"])
            result = {"changed": changed, "lock": record, "previous": broken, "broken": broken}
            if params["read"] is not None:
                try:
                    result["info"] = host_info(params["app_root"], **params["read"])
                except FleetError:
                    # A host that cannot be read is not locked by this call: its run stops before any change.
                    if changed and not module.check_mode:
                        lock.release(params["holder"])
                    raise
        elif params["path"] is None:
            changed, previous, line = release_host(params["app_root"], params["holder"], params["run_summary"],
                                                   force=params["force"], check_mode=module.check_mode)
            result = {"changed": changed, "lock": None, "previous": previous, "broken": None, "history": line}
        else:
            changed, previous = lock.release(params["holder"], force=params["force"], check_mode=module.check_mode)
            result = {"changed": changed, "lock": None, "previous": previous, "broken": None}
    except LockHeld as exc:
        module.fail_json(msg=str(exc), held=exc.held)
    except FleetError as exc:
        module.fail_json(msg=str(exc))
    result.setdefault("history", None)
    if policy is not None:
        result["policy"] = policy
    result["path"] = lock.path
    result["diff"] = {
        "before": json.dumps(before, indent=2, sort_keys=True) + "\n" if before else "",
        "after": json.dumps(result["lock"], indent=2, sort_keys=True) + "\n" if result["lock"] else "",
        "before_header": lock.path, "after_header": lock.path,
    }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
