#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/drill_report.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_report
short_description: Judge a drill's starting point, and at its end compare, measure and write the report
version_added: 0.1.0
description:
  - "O(step=start): from every host's M(fleetops.release.drill_host_info) result (O(reads)) and its state in its load
    balancer (O(lb)), checks that the drill can start: every host readable, on one and the same release, without an
    unfinished operation or a lock, in rotation; and with O(schema), the database schema readable. Fails with every
    problem otherwise; returns RV(release), RV(states) and RV(schema)."
  - "O(step=report): compares the end with the start (O(start), the result of step=start): release, configuration
    digests, load balancer state, locks and unfinished operations, per host, and the schema version (O(schema)); reads
    the prober's records; takes the runs the drill started (O(runs)) with their audit records (O(audit_records)); and
    returns the report (RV(report)), its Markdown (RV(markdown)) and its picture (RV(svg)). See docs/drill.md for the
    figures and the marks."
  - The picture is drawn with the Python package C(matplotlib) on the controller (pinned in the collection's
    C(requirements.txt) and C(meta/ee-requirements.txt)). Without it the report and its Markdown are still returned,
    RV(svg) is V(null), and a warning and a finding of the report name the missing package.
  - The operator in the report is determined on the controller (as run_guard does), never taken from a variable.
  - The task does not fail when the drill failed; RV(ok) and the C(problems) of RV(report) say so, and the drill role fails the
    drill after it kept the report.
author:
  - fleetops maintainers (!UNKNOWN)
extends_documentation_fragment:
  - fleetops.release.drill.actions
attributes:
  idempotent:
    description: Changes nothing.
    support: full
options:
  step:
    description: V(start) judges the starting point, V(report) writes the report up.
    type: str
    required: true
    choices: [start, report]
  plan:
    description: The plan of M(fleetops.release.drill_plan).
    type: dict
    required: true
  reads:
    description: Host -> its M(fleetops.release.drill_host_info) result, now.
    type: dict
    required: true
  lb:
    description: Host -> its state in its load balancer (V(ready), V(drain), V(maint)), now; hosts without one are not judged on it.
    type: dict
    default: {}
  schema:
    description:
      - The M(fleetops.release.schema_info) result of C(fleet_db), now (read once, on C(fleet_db.delegate_to)); omit it
        (or pass a skipped result) when the drill has no C(fleet_db).
      - At O(step=start) an unreadable schema stops the drill; at O(step=report) a version other than the start's (or
        an unreadable one) is an end-state difference.
    type: dict
  run_id:
    description: The drill's run id (O(step=report)).
    type: str
  started:
    description: When the drill started, seconds since the epoch (O(step=report)).
    type: float
  start:
    description: The result of O(step=start) (O(step=report)).
    type: dict
    default: {}
  runs:
    description: The results of M(fleetops.release.drill_run), in order (O(step=report)).
    type: list
    elements: dict
    default: []
  audit_records:
    description: The audit records since the drill started (M(fleetops.release.audit_info)); each run's is found by its reason.
    type: list
    elements: dict
    default: []
  data_checks:
    description: The data checks, each with C(phase) (V(before), V(after)), C(rc), C(stdout), C(stderr) (O(step=report)).
    type: list
    elements: dict
    default: []
  directory:
    description: The audit directory on the audit host; the report's files go to its C(drills/) (O(step=report)).
    type: path
seealso:
  - module: fleetops.release.drill_info
"""

EXAMPLES = r"""
- name: Judge the starting point
  fleetops.release.drill_report:
    step: start
    plan: "{{ fleet_drill_plan.plan }}"
    reads: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'fleet_drill_read'))) }}"
  run_once: true
  register: fleet_drill_start
"""

RETURN = r"""
release:
  description: The release every host starts from (O(step=start)).
  returned: O(step=start)
  type: str
  sample: "2026.11.26-1"
states:
  description: Host -> its state as the drill compares it (O(step=start)).
  returned: O(step=start)
  type: dict
  sample: {"eu-1": {"reachable": true, "current": "2026.11.26-1", "lb": "ready", "config": {"/etc/shop/app.conf": "5f1c..."}}}
problems:
  description: Why the drill cannot start (O(step=start)).
  returned: O(step=start)
  type: list
  elements: str
  sample: []
report:
  description: The drill report (docs/drill.md describes its keys).
  returned: O(step=report)
  type: dict
  sample: {"run_id": "20261126T210405Z-4821", "ok": true, "figures": {"time_to_detect": 9.8, "requests_failed": 0}}
markdown:
  description: The report for people.
  returned: O(step=report)
  type: str
  sample: "# Rollback drill 20261126T210405Z-4821: passed"
schema:
  description: The schema as the drill compares it (C(read), C(version), C(tool), or C(error)); V(null) without O(schema).
  returned: O(step=start)
  type: dict
  sample: {"read": true, "version": "20261201_add_orders_note", "tool": "alembic"}
svg:
  description: The picture (SVG, drawn with matplotlib); V(null) when matplotlib is not installed on the controller.
  returned: O(step=report)
  type: str
  sample: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><svg ...>"
paths:
  description: Where the files are kept on the audit host (C(json), C(markdown), C(svg)).
  returned: O(step=report)
  type: dict
  sample: {"json": "/var/lib/fleetops/audit/drills/20261126T210405Z-4821.json"}
ok:
  description: Whether the drill passed.
  returned: O(step=report)
  type: bool
  sample: true
summary:
  description: The drill's summary (as M(fleetops.release.drill_info) lists it).
  returned: O(step=report)
  type: dict
  sample: {"run_id": "20261126T210405Z-4821", "ok": true}
"""
