#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/run_guard.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: run_guard
short_description: Decide on the controller whether a run may start, and who runs it
version_added: 0.1.0
description:
  - Names a run and decides, on the controller, whether it may start. Two steps, both C(run_once).
  - "O(step=start), the playbook's first task, with O(operation) written literally in the playbook (never templated from
    a variable): issues the run id (returned as RV(run_id)) and writes the run record
    C(~/.ansible/fleetops/runs/<run_id>.json) (directory 0700, in the home of the controller's OS user): the operation,
    the operator, the controller and the pid of the C(ansible-playbook) process. A run id is never taken from a variable."
  - "O(step=decide), after the fleet-wide lock was taken with M(fleetops.release.release_lock) O(fleetops.release.release_lock#module:read_policy=true)
    (which keeps the fleet policy C(/etc/fleetops/policy.yml) of the fleet lock host in the run record) and before any
    host is locked or changed: checks the guard rails of the fleet policy, tightened by the options of this task, for the
    operation of the run record. A refused run fails this task with one message that lists every refusal and what to do.
    Without a fleet policy read for this run (an empty C(fleet_lock_host)) the run is refused."
  - "Rules: only the allowed operators may run anything (when a list is set); a rollback or automatic rollback needs
    O(reason) when a reason is required; a deploy is refused inside a freeze window, while rollbacks, automatic
    rollbacks, drills and adoptions (which write bookkeeping beside the releases and change nothing live) are always
    allowed; a new automatic rollback is refused while the last one is within the
    cooldown, or when the maximum of them started within the window."
  - "Variables may only tighten the fleet policy: allowed operators are the intersection when both name some; freeze
    windows are both lists; a reason is required when either requires it; the longer cooldown and the smaller maximum
    (over the longer window) count."
  - O(force) overrides the cooldown only (unless the policy sets C(allow_force=false)), and RV(forced) and a warning say
    that it did. Nothing overrides the operator, reason, freeze or maximum rules.
  - "Trust model: no variable names the operator. Outside AWX the operator is the controller's OS user, the account of
    the effective uid of the C(ansible-playbook) process (not C($USER) and not a variable). Inside AWX the operator is
    AWX's C(awx_user_name) (a scheduled launch is C(schedule:<schedule name>), a webhook's C(webhook:<job template>)),
    accepted only when the job really runs under AWX: the environment variable C(JOB_ID) equals the variable
    C(awx_job_id), C(AWX_PRIVATE_DATA_DIR) is AWX's folder of that job (C(awx_<JOB_ID>_*)) and ansible-runner's
    artifact directory C(AWX_ISOLATED_DATA_DIR) is C(<AWX_PRIVATE_DATA_DIR>/artifacts/<JOB_ID>) or, in an execution
    environment, C(/runner/artifacts/<JOB_ID>), and exists. Otherwise every C(awx_*) variable is ignored, the OS user
    counts, and a warning says so. Every plugin of this collection that records who did something determines the
    operator the same way, itself."
  - "Limits: whoever controls both the controller's environment, its files and the variables (their own shell) can
    imitate an AWX job; outside AWX, the controller account is the boundary. Anybody holding the
    fleet's SSH key can change the hosts by hand; the guard protects the product's runs, not the hosts."
extends_documentation_fragment:
  - fleetops.release.audit.guard
options:
  step:
    description:
      - V(start) names the run and records its operation; V(decide) applies the guard rails.
    type: str
    choices: [start, decide]
    default: decide
  operation:
    description:
      - With O(step=start), the operation of the playbook, written literally in it. Ignored by O(step=decide), which
        judges the operation of the run record.
    type: str
    choices: [deploy, rollback, drill, adopt]
  trigger:
    description:
      - With O(step=start), V(automatic) makes a rollback an automatic one (launched by monitoring or a schedule); the
        anti-flap limits apply to it. A variable may set it, because it only makes the guard stricter. Not the revert
        inside a failed deploy, which always completes and is not judged here.
    type: str
    choices: [manual, automatic]
    default: manual
  run_id:
    description:
      - With O(step=decide), the run id that O(step=start) returned. A run id that run_guard did not issue in this
        C(ansible-playbook) process is refused. Its own records in O(recent_runs) are not counted against it.
    type: str
  allowed_operators:
    description:
      - Operators (OS user names on the controller, or AWX user names) who may run any operation. Empty adds no rule.
      - Only tightens the fleet policy's C(allowed_operators) (the intersection when both are set).
      - Compared exactly, case included.
    type: list
    elements: str
    default: []
  reason:
    description:
      - Why the run is made (C(fleet_reason)).
    type: str
  require_reason:
    description:
      - Refuse a V(rollback) or V(automatic_rollback) without a non-blank O(reason).
    type: bool
    default: false
  freeze_windows:
    description:
      - Change freeze windows; a deploy is refused while any of them is active. Rollbacks are always allowed.
      - "A one-off window: C({name, start, end}) with ISO-8601 times (V(2026-12-20T00:00:00+01:00)); times without an
        offset are in C(timezone), default UTC. C(end) is exclusive and must be after C(start)."
      - "A recurring window: C({name, days, from, to, timezone}). C(days) is a list of V(mon) to V(sun) (all days when
        omitted); C(from) and C(to) are C(\"HH:MM\") wall-clock times (quoted, so YAML keeps them strings) in C(timezone),
        an IANA zone such as V(Europe/Berlin) (default V(UTC)). A C(to) at or before C(from) crosses midnight, so
        V(fri) V(22:00) to V(06:00) ends on Saturday morning; C(to) may be V(24:00) for the end of the day."
      - "On a daylight-saving change day a wall-clock time that does not exist (02:30 in spring) starts or ends the
        window when the clock skips past it, and a time that occurs twice (autumn) means its first occurrence."
      - A window that is not one of these forms (unknown keys, a bad time or zone, an empty window) fails a deploy with a
        clear error; other operations only warn about it, so a typo never blocks a rollback.
    type: list
    elements: dict
    default: []
  recent_runs:
    description:
      - Audit records of recent runs (RV(fleetops.release.audit_info#module:records)). Only records with C(operation)
        V(automatic_rollback) count, each run once, at its earliest time (C(started), else C(recorded_at)).
    type: list
    elements: dict
    default: []
  auto_rollback_cooldown:
    description:
      - Refuse a new automatic rollback while the last one started less than this long ago. Seconds, or a duration
        such as V(30m), V(2h) or V(1h30m). V(0) turns the cooldown off.
    type: raw
    default: 0
  auto_rollback_max:
    description:
      - Refuse a new automatic rollback when this many or more started within O(auto_rollback_window). V(0) turns the
        limit off. O(force) does not override it, because a fleet that keeps flapping needs a person.
    type: int
    default: 0
  auto_rollback_window:
    description:
      - The span O(auto_rollback_max) counts over, as seconds or a duration such as V(24h). Required with
        O(auto_rollback_max).
      - Wrong anti-flap settings fail an V(automatic_rollback) with a clear error; other operations only warn about them.
    type: raw
  force:
    description:
      - Start an automatic rollback despite the cooldown (C(-e fleet_force=true)). Overrides nothing else.
    type: bool
    default: false
  drill_max_age:
    description:
      - A deploy warns when the newest successful rollback drill in O(drills) (of O(drill_max_age_group), or of any
        group) finished longer ago than this (seconds, or a duration such as V(30d)); unset or V(0) adds no rule.
      - Only tightens the fleet policy's C(drill_max_age) (the shorter of the two applies).
    type: raw
  drill_max_age_action:
    description:
      - V(refuse) refuses such a deploy when any of its hosts is a production host (C(fleet_environment) V(production)
        or V(prod), or not set); V(warn) only warns. Refuse wins when the fleet policy or this option says so.
    type: str
    choices: [warn, refuse]
  drill_max_age_group:
    description: The group whose drills count for O(drill_max_age); unset, a drill of any group.
    type: str
  drills:
    description:
      - The rollback drills on record (RV(fleetops.release.drill_info#module:drills)); unset when none were read, which
        counts as no drill when a maximum age applies.
    type: list
    elements: dict
seealso:
  - module: fleetops.release.audit_info
  - module: fleetops.release.audit_record
  - module: fleetops.release.release_lock
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the recent automatic rollbacks on the audit host
  fleetops.release.audit_info:
    since: 24h
    operation: [automatic_rollback]
  delegate_to: "{{ fleet_audit_host }}"
  run_once: true
  register: fleet_recent

- name: Start the run (the operation is written here literally, never templated)
  fleetops.release.run_guard:
    step: start
    operation: rollback
    trigger: "{{ fleet_trigger | default('manual') }}"
  run_once: true
  register: fleet_guard_run

- name: Take the fleet-wide lock and read the fleet policy in the same call
  fleetops.release.release_lock:
    path: /var/lib/fleetops/fleet.lock
    run_id: "{{ fleet_guard_run.run_id }}"
    read_policy: true
  delegate_to: "{{ fleet_lock_host }}"
  run_once: true
  register: fleet_fleet_lock

- name: May this run start? (the fleet policy, tightened by these options)
  fleetops.release.run_guard:
    run_id: "{{ fleet_guard_run.run_id }}"
    allowed_operators: "{{ fleet_allowed_operators | default([]) }}"
    reason: "{{ fleet_reason | default(omit) }}"
    require_reason: "{{ fleet_require_reason | default(false) }}"
    freeze_windows:
      - name: year-end freeze
        start: "2026-12-20T00:00:00+01:00"
        end: "2027-01-04T00:00:00+01:00"
      - name: friday evening
        days: [fri]
        from: "18:00"
        to: "24:00"
        timezone: Europe/Berlin
    recent_runs: "{{ fleet_recent.records }}"
    auto_rollback_cooldown: 30m
    auto_rollback_max: 3
    auto_rollback_window: 24h
    force: "{{ fleet_force | default(false) }}"
  run_once: true
  register: fleet_guard
"""

RETURN = r"""
run_id:
  description: The run id (issued by O(step=start); the one given to O(step=decide)).
  returned: always
  type: str
  sample: 20261126T210405Z-48213
operation:
  description: The operation the guard judges (V(automatic_rollback) for a rollback with O(trigger=automatic)).
  returned: always
  type: str
  sample: rollback
controller:
  description: The controller's host name.
  returned: with O(step=start)
  type: str
  sample: ops-1
started:
  description: When the run started (seconds since the epoch).
  returned: with O(step=start)
  type: float
  sample: 1795755014.551822
run_record:
  description: The run record's file on the controller.
  returned: with O(step=start)
  type: str
  sample: /home/alice/.ansible/fleetops/runs/20261126T210405Z-48213.json
policy:
  description: The fleet policy's rules (C(source) is C(<lock host>:<path>); C(exists) false when there is no file).
  returned: with O(step=decide)
  type: dict
  sample: {"source": "shop-us-1:/etc/fleetops/policy.yml", "exists": true, "allowed_operators": ["alice", "bob"]}
operator:
  description: Who runs this (see the trust model in the description).
  returned: always
  type: dict
  contains:
    name:
      description: The operator's name, the OS user or the AWX user; for an AWX job without a user
        C(schedule:<schedule name>), C(webhook:<job template>) or C(<launch type>:job <id>).
      type: str
    source:
      description: V(os) (the controller's OS user) or V(awx) (proven AWX job).
      type: str
    launched_by:
      description: V(user), or for an AWX job without a user what launched it (V(schedule), V(webhook), or AWX's
        launch type).
      type: str
    awx_user_name:
      description: AWX's user name, or V(null) outside a proven AWX job and for launches without a user.
      type: str
    awx_user_id:
      description: AWX's user id, or V(null) as for RV(operator.awx_user_name).
      type: str
    awx_job_id:
      description: AWX's job id, or V(null) outside a proven AWX job.
      type: str
    awx_job_launch_type:
      description: AWX's launch type (V(manual), V(relaunch), V(scheduled), V(workflow), V(webhook), ...), or V(null).
      type: str
    awx_job_template_id:
      description: AWX's job template id, or V(null).
      type: str
    awx_job_template_name:
      description: AWX's job template name, or V(null) outside a proven AWX job.
      type: str
    awx_workflow_job_id:
      description: The id of the workflow job this job is a node of, or V(null).
      type: str
    awx_workflow_job_name:
      description: The name of that workflow job, or V(null).
      type: str
    awx_schedule_name:
      description: The schedule that launched the job (or its workflow), or V(null).
      type: str
  sample: {"name": "alice", "source": "awx", "launched_by": "user", "awx_user_name": "alice", "awx_user_id": "7",
           "awx_job_id": "4821", "awx_job_launch_type": "manual", "awx_job_template_id": "11",
           "awx_job_template_name": "shop rollback", "awx_workflow_job_id": null, "awx_workflow_job_name": null,
           "awx_schedule_name": null}
allowed:
  description: Whether the run may start. When V(false) the task fails.
  returned: with O(step=decide)
  type: bool
  sample: true
refusals:
  description: Every rule that refuses the run, with what to do.
  returned: with O(step=decide)
  type: list
  elements: dict
  contains:
    rule:
      description: V(operator), V(reason), V(freeze), V(cooldown), V(max) or V(drill).
      type: str
    message:
      description: What is wrong and what to do.
      type: str
  sample: [{"rule": "cooldown", "message": "the last automatic rollback (run 20261126T210405Z-4821) started at
            2026-11-26T21:04:05Z, within the cooldown of 30m: wait until 2026-11-26T21:34:05Z or -e fleet_force=true"}]
forced:
  description: Whether O(force) let an automatic rollback start inside the cooldown.
  returned: with O(step=decide)
  type: bool
  sample: false
freeze_window:
  description: Name of the freeze window that refused a deploy, or V(null).
  returned: with O(step=decide)
  type: str
  sample: year-end freeze
msg:
  description: The verdict; when refused, every refusal on its own line.
  returned: always
  type: str
  sample: "deploy refused for bob (1 reason):\n  - freeze: deploys are frozen by window 'year-end freeze' until
    2027-01-03T23:00:00Z: wait until then, or change fleet_freeze_windows; rollbacks are always allowed"
"""
