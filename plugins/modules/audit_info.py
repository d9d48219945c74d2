#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_info
short_description: Read records from the audit trail
version_added: 0.1.0
description:
  - Reads the day files C(<directory>/<YYYY-MM-DD>.jsonl) written by M(fleetops.release.audit_record) and returns the
    records that match every filter given, oldest first.
  - Lines that are not JSON objects (a torn or hand-edited line) are skipped and reported in RV(problems) and a warning;
    they never fail the task. A missing directory has no records.
  - Its RV(records) are what M(fleetops.release.run_guard) takes as O(fleetops.release.run_guard#module:recent_runs).
extends_documentation_fragment:
  - fleetops.release.audit
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
options:
  since:
    description:
      - Only records whose time is at or after this moment.
      - An ISO-8601 time (V(2026-11-26T21:04:05Z), V(2026-11-26T22:04:05+01:00); without an offset it is UTC), or a
        duration back from now (V(30m), V(24h), V(7d), V(1h30m), or seconds).
      - Records without a usable time are left out (and reported in RV(problems)) when O(since) is set.
    type: str
  operation:
    description:
      - Only records of these operations (for example V(deploy), V(rollback), V(automatic_rollback), V(drill)).
    type: list
    elements: str
  run_id:
    description:
      - Only records of this run.
    type: str
seealso:
  - module: fleetops.release.audit_record
  - module: fleetops.release.run_guard
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Automatic rollbacks of the last day, for the anti-flap guard
  fleetops.release.audit_info:
    since: 24h
    operation: [automatic_rollback]
  delegate_to: "{{ fleet_audit_host }}"
  run_once: true
  register: fleet_recent

- name: Everything recorded about one run
  fleetops.release.audit_info:
    run_id: "20261126T210405Z-4821"
  register: fleet_run_audit
"""

RETURN = r"""
records:
  description: Matching records, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"run_id": "20261126T210405Z-4821", "operation": "automatic_rollback", "event": "run",
            "started": "2026-11-26T21:04:05Z", "outcome": "ok", "recorded_at": "2026-11-26T21:09:12Z"}]
files:
  description: The day files that were read (those that can hold records since O(since)), oldest first.
  returned: always
  type: list
  elements: str
  sample: ["/var/lib/fleetops/audit/2026-11-25.jsonl", "/var/lib/fleetops/audit/2026-11-26.jsonl"]
problems:
  description: What could not be read, one text per line or file (file, line number, what is wrong); the rest was read.
  returned: always
  type: list
  elements: str
  sample: ["/var/lib/fleetops/audit/2026-11-26.jsonl:7: not valid JSON (Expecting value: line 1 column 1 (char 0)); line skipped"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._audit import DEFAULT_DIRECTORY, parse_since, read_records
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError

WARNED_PROBLEMS = 5  # the rest are in the result; a wall of warnings helps nobody


def main():
    module = AnsibleModule(
        argument_spec={
            "directory": {"type": "path", "default": DEFAULT_DIRECTORY},
            "since": {"type": "str"},
            "operation": {"type": "list", "elements": "str"},
            "run_id": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        since = parse_since(params["since"]) if params["since"] else None
        records, files, problems = read_records(params["directory"], since=since, operations=params["operation"],
                                                run_id=params["run_id"])
    except FleetError as exc:
        module.fail_json(msg=str(exc))
    for problem in problems[:WARNED_PROBLEMS]:
        module.warn(problem)
    if len(problems) > WARNED_PROBLEMS:
        module.warn("%d more problems reading the audit trail; see the result's problems" % (len(problems) - WARNED_PROBLEMS))
    module.exit_json(changed=False, records=records, files=files, problems=problems)


if __name__ == "__main__":
    main()
