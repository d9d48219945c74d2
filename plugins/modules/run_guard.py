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
  - Run once (C(run_once)) before a deploy, rollback, automatic rollback or drill changes anything. It names the operator
    and checks the guard rails; a refused run fails this task with one message that lists every refusal and what to do.
  - "Rules: only O(allowed_operators) may run anything (when the list is set); a rollback or automatic rollback needs
    O(reason) when O(require_reason) is on; a deploy is refused inside a freeze window (O(freeze_windows)), while
    rollbacks, automatic rollbacks and drills are always allowed; a new automatic rollback is refused while the last one
    is within O(auto_rollback_cooldown), or when O(auto_rollback_max) of them started within O(auto_rollback_window)."
  - O(force) overrides the cooldown only, and RV(forced) and a warning say that it did. Nothing overrides the
    operator, reason, freeze or maximum rules.
  - "Trust model: an extra variable alone is never enough to claim an identity. Outside AWX the operator is the
    controller's OS user, the account of the effective uid of the C(ansible-playbook) process (not C($USER) and not a
    variable). Inside AWX the operator is AWX's C(awx_user_name), accepted only when the job environment proves that
    this is an AWX job: AWX sets both the environment variable C(JOB_ID) and the variable C(awx_job_id) to the job's id,
    and they must be equal. Otherwise every C(awx_*) variable is ignored, the OS user counts, and a warning says so. No
    option of this module names the operator."
  - "Limits of the trust model: whoever controls both the controller's environment and the variables (their own shell,
    or an AWX credential type that injects environment variables) can still claim a name, and AWX merges launch-time
    extra variables over its own C(awx_*) variables. Job templates that deploy or roll back should not prompt for
    free-form extra variables (surveys with fixed fields are fine); outside AWX, the controller account is the boundary."
extends_documentation_fragment:
  - fleetops.release.audit.guard
options:
  operation:
    description:
      - The run to judge. V(automatic_rollback) is a rollback launched by monitoring or a schedule, not the revert inside a
        failed deploy (which always completes and is not judged here).
    type: str
    required: true
    choices: [deploy, rollback, automatic_rollback, drill]
  allowed_operators:
    description:
      - Operators (OS user names on the controller, or AWX user names) who may run any operation. Empty allows anybody.
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
  run_id:
    description:
      - Id of this run; its own records in O(recent_runs) are not counted against it (a re-run of the same run).
    type: str
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

- name: May this run start, and who runs it?
  fleetops.release.run_guard:
    operation: "{{ fleet_operation }}"
    run_id: "{{ fleet_run_id }}"
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
      - name: nightly batch
        days: [mon, tue, wed, thu, fri, sat, sun]
        from: "22:00"
        to: "06:00"
        timezone: Europe/Berlin
    recent_runs: "{{ fleet_recent.records }}"
    auto_rollback_cooldown: 30m
    auto_rollback_max: 3
    auto_rollback_window: 24h
    force: "{{ fleet_force | default(false) }}"
  run_once: true
  register: fleet_guard

- name: Everybody uses the guard's operator name
  ansible.builtin.set_fact:
    fleet_actor: "{{ fleet_guard.operator.name }}"
"""

RETURN = r"""
operator:
  description: Who runs this (see the trust model in the description).
  returned: always
  type: dict
  contains:
    name:
      description: The operator's name, the OS user or the AWX user.
      type: str
    source:
      description: V(os) (the controller's OS user) or V(awx) (proven AWX job).
      type: str
    awx_user_name:
      description: AWX's user name, or V(null) outside a proven AWX job.
      type: str
    awx_job_id:
      description: AWX's job id, or V(null) outside a proven AWX job.
      type: str
    awx_job_template_name:
      description: AWX's job template name, or V(null) outside a proven AWX job.
      type: str
  sample: {"name": "alice", "source": "awx", "awx_user_name": "alice", "awx_job_id": "4821",
           "awx_job_template_name": "shop rollback"}
allowed:
  description: Whether the run may start. When V(false) the task fails.
  returned: always
  type: bool
  sample: true
refusals:
  description: Every rule that refuses the run, with what to do.
  returned: always
  type: list
  elements: dict
  contains:
    rule:
      description: V(operator), V(reason), V(freeze), V(cooldown) or V(max).
      type: str
    message:
      description: What is wrong and what to do.
      type: str
  sample: [{"rule": "cooldown", "message": "the last automatic rollback (run 20261126T210405Z-4821) started at
            2026-11-26T21:04:05Z, within the cooldown of 30m: wait until 2026-11-26T21:34:05Z or -e fleet_force=true"}]
forced:
  description: Whether O(force) let an automatic rollback start inside the cooldown.
  returned: always
  type: bool
  sample: false
freeze_window:
  description: Name of the freeze window that refused a deploy, or V(null).
  returned: always
  type: str
  sample: year-end freeze
msg:
  description: The verdict; when refused, every refusal on its own line.
  returned: always
  type: str
  sample: "deploy refused for bob (1 reason):\n  - freeze: deploys are frozen by window 'year-end freeze' until
    2027-01-03T23:00:00Z: wait until then, or change fleet_freeze_windows; rollbacks are always allowed"
"""
