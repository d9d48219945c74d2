#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_record
short_description: Append one run's record to the audit trail
version_added: 0.1.0
description:
  - Appends O(record) as one JSON line to C(<directory>/<YYYY-MM-DD>.jsonl), the file of the current UTC day on the audit
    host. Normally run once per run with C(delegate_to) the audit host and C(run_once).
  - Append-only and durable. The line is written with C(O_APPEND) under an exclusive C(flock) of the file, then the file
    is fsynced (and the directory when the file or directory was created). The directory is created with mode C(0750),
    day files with C(0640). Existing lines are never changed.
  - Idempotent. A record whose C(run_id) and C(event) (default C(run)) are already in today's file is not written
    again and the one already there is returned with C(changed=false). Re-running the task that finishes a run does
    not duplicate its record. Give each record of a run its own C(event), such as C(start) and C(run).
  - The record is refused (clear error, nothing written) when it lacks C(run_id) or C(operation), or when it is not
    JSON-serialisable (including NaN and infinite numbers).
  - C(recorded_at), the audit host's UTC time of writing, is added when the record has none.
  - "Who, where and what are never taken from the task: the action plugin sets C(operator) (the controller's OS user,
    or AWX's user inside a proven AWX job), C(actor) (its name) and C(controller) (the controller's host name), and,
    for a run that M(fleetops.release.run_guard) started in this C(ansible-playbook) process, C(operation), C(forced)
    and C(policy) from its run record. A differing value in O(record) is ignored with a warning."
extends_documentation_fragment:
  - fleetops.release.audit
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: Writes nothing and reports the file the record would go to and whether it would be written.
  diff_mode:
    support: full
    details: The diff shows the line appended.
  idempotent:
    support: full
    details: Keyed by C(run_id), C(event) and the UTC day.
options:
  record:
    description:
      - The JSON document to append. Must contain C(run_id) and C(operation) (non-empty strings).
      - Any other fields are kept as given, for example C(event), C(actor), C(reason), C(started), C(finished),
        C(outcome), C(hosts) (per host C(from), C(to), C(outcome)), gate results and timings.
    type: dict
    required: true
seealso:
  - module: fleetops.release.audit_info
  - module: fleetops.release.run_guard
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Record the run on the audit host
  fleetops.release.audit_record:
    directory: /var/lib/fleetops/audit
    record:
      run_id: "{{ fleet_run_id }}"
      operation: rollback
      actor: "{{ fleet_guard.operator }}"
      reason: "{{ fleet_reason | default(omit) }}"
      started: "{{ fleet_started }}"
      finished: "{{ now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ') }}"
      outcome: ok
      hosts:
        eu-1: {from: "2026.11.26-1", to: "2026.11.20-3", outcome: ok}
  delegate_to: "{{ fleet_audit_host }}"
  run_once: true
  become: true
"""

RETURN = r"""
path:
  description: The day file the record was (or in check mode would be) appended to.
  returned: always
  type: str
  sample: /var/lib/fleetops/audit/2026-11-26.jsonl
record:
  description: The record as written, with C(recorded_at); when it was there already, the record found in the file.
  returned: always
  type: dict
  sample: {"run_id": "20261126T210405Z-4821", "operation": "rollback", "event": "run", "outcome": "ok",
           "recorded_at": "2026-11-26T21:09:12Z"}
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._audit import DEFAULT_DIRECTORY, append_record
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError


def main():
    module = AnsibleModule(
        argument_spec={
            "directory": {"type": "path", "default": DEFAULT_DIRECTORY},
            "record": {"type": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    directory = module.params["directory"]
    try:
        changed, path, record = append_record(directory, module.params["record"], check_mode=module.check_mode)
    except FleetError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot write the audit record under %s: %s; check that the task's user may write there "
                             "(become: true?) and that the disk is not full" % (directory, exc))
    result = {"changed": changed, "path": path, "record": record}
    if changed:
        result["diff"] = {"before": "", "after": json.dumps(record, sort_keys=True) + "\n",
                          "before_header": path, "after_header": path}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
