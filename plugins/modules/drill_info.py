#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_info
short_description: List the rollback drills kept beside the audit records
version_added: 0.1.0
description:
  - Reads the drill reports C(<directory>/drills/<run id>.json) that C(playbooks/drill.yml) keeps beside the audit
    records and returns one summary per drill, oldest first, with its times and figures, and the newest successful
    drill per group.
  - A report that cannot be read is reported in RV(problems) and skipped; it never fails the task.
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
  group:
    description: Only drills of this inventory group.
    type: str
  since:
    description:
      - Only drills started at or after this moment; an ISO-8601 time, or a duration back from now (V(30d), V(24h)).
    type: str
  max_age:
    description:
      - How old the newest successful drill (of O(group), or of any group) may be, as a duration (V(30d), V(12h)).
      - When set, RV(freshness) says whether it is younger, and the task warns when it is not (it does not fail; the
        caller decides, see C(fleet_drill_max_age_action) in docs/drill.md).
    type: str
seealso:
  - module: fleetops.release.audit_info
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The drills of the last 30 days
  fleetops.release.drill_info:
    directory: "{{ fleet_audit_dir }}"
    since: 30d
  delegate_to: "{{ fleet_audit_host }}"
  run_once: true
  register: fleet_drills
"""

RETURN = r"""
drills:
  description: One summary per drill, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"run_id": "20261126T210405Z-4821", "group": "staging", "fault": "broken_health", "outcome": "ok", "ok": true,
            "started_at": "2026-11-26T21:04:05.12Z", "finished_at": "2026-11-26T21:06:40.50Z", "time_to_detect": 9.8,
            "time_to_recover_outside": 0.0, "time_to_recover_audit": 12.1, "requests_failed": 0, "end_state_matched": true,
            "problems": [], "files": {"json": "/var/lib/fleetops/audit/drills/20261126T210405Z-4821.json"}}]
last:
  description: Group -> the summary of its newest drill.
  returned: always
  type: dict
  sample: {"staging": {"run_id": "20261126T210405Z-4821", "outcome": "failed", "finished_at": "2026-11-26T21:06:40.50Z"}}
last_ok:
  description: Group -> the summary of its newest drill that passed.
  returned: always
  type: dict
  sample: {"staging": {"run_id": "20261126T210405Z-4821", "finished_at": "2026-11-26T21:06:40.50Z"}}
freshness:
  description:
    - With O(max_age), C(fresh) (whether the newest successful drill is younger), C(age_seconds), C(last_ok) (its
      summary) and C(message).
  returned: when O(max_age) is set
  type: dict
  sample: {"fresh": false, "age_seconds": 3888000.0, "message": "the last successful rollback drill of any group (run ...) finished ..."}
problems:
  description: Reports that could not be read, each with its path and why.
  returned: always
  type: list
  elements: str
  sample: []
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._audit import AuditError, parse_duration, parse_since
from ansible_collections.fleetops.release.plugins.module_utils._drill import freshness, list_drills


def main():
    module = AnsibleModule(
        argument_spec={
            "directory": {"type": "path", "default": "/var/lib/fleetops/audit"},
            "group": {"type": "str"},
            "since": {"type": "str"},
            "max_age": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    since = max_age = None
    try:
        if params["since"]:
            since = parse_since(params["since"]).timestamp()
        if params["max_age"]:
            max_age = parse_duration(params["max_age"], "max_age")
    except AuditError as exc:
        module.fail_json(msg=str(exc))
    drills, problems = list_drills(params["directory"], group=params["group"], since=since)
    last, last_ok = {}, {}
    for drill in drills:
        last[drill.get("group")] = drill
        if drill.get("ok"):
            last_ok[drill.get("group")] = drill
    for problem in problems:
        module.warn(problem)
    result = {"changed": False, "drills": drills, "last": last, "last_ok": last_ok, "problems": problems}
    if max_age is not None:
        # Over every drill on record, not only those since O(since): an old successful drill still counts.
        everything = drills if since is None else list_drills(params["directory"], group=params["group"])[0]
        result["freshness"] = freshness(everything, time.time(), max_age, group=params["group"])
        if not result["freshness"]["fresh"]:
            module.warn(result["freshness"]["message"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
