#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: schema_backup
short_description: Back the database up before its schema changes, and prove the dump is readable
version_added: 0.1.0
description:
  - Dumps the database of O(db) (default C(pg_dump --format=custom)) into a new file of O(db.backup_dir), then lists
    it (default C(pg_restore --list)); a dump that cannot be listed, or lists nothing, fails and is no backup.
  - The file is created with mode 0600 (the dump holds the data), named C(<dbname>-<UTC time>[-<run id>].dump).
  - The password reaches C(pg_dump) through C(PGPASSWORD), never its arguments; each command has a timeout
    (O(db.command_timeout)).
extends_documentation_fragment:
  - fleetops.release.schema_fleet_db
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: Nothing is dumped; RV(path) says where the backup would go.
  diff_mode:
    support: none
options:
  run_id:
    description: The run's id, part of the file name so that the audit record and the file match.
    type: str
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Back the database up
  fleetops.release.schema_backup:
    db: "{{ fleet_db }}"
    run_id: "{{ fleet_run_id }}"
  delegate_to: "{{ fleet_db.delegate_to | default('localhost') }}"
  run_once: true
  register: fleet_schema_backup
"""

RETURN = r"""
path:
  description: The backup file, on the host the module ran on.
  returned: always
  type: str
  sample: /var/backups/fleetops-schema/shop-20261205T170102Z-r-20261205-abcd.dump
size:
  description: Its size in bytes.
  returned: success
  type: int
  sample: 10421
entries:
  description: How many entries C(pg_restore --list) lists in it.
  returned: success
  type: int
  sample: 17
verified:
  description: Whether the dump was listed with at least one entry.
  returned: always
  type: bool
  sample: true
steps:
  description: The commands run (C(step), C(command), C(rc), C(elapsed), C(stdout), C(stderr); scrubbed of the password).
  returned: always
  type: list
  elements: dict
  sample: [{"step": "backup", "command": ["pg_dump", "--format=custom", "--no-password", "--file=/var/backups/x.dump"], "rc": 0}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._schema import SchemaError
from ansible_collections.fleetops.release.plugins.module_utils._schema_ops import FLEET_DB_SPEC, StepFailed, backup


def main():
    module = AnsibleModule(
        argument_spec={"db": {"type": "dict", "required": True, "options": FLEET_DB_SPEC}, "run_id": {"type": "str"}},
        supports_check_mode=True,
    )
    try:
        result = backup(module.params["db"], module.params["run_id"], check_mode=module.check_mode)
    except StepFailed as exc:
        module.fail_json(msg="backup failed; nothing was changed: %s" % exc, steps=[exc.result])
    except SchemaError as exc:
        module.fail_json(msg="backup failed; nothing was changed: %s" % exc)
    module.exit_json(changed=not module.check_mode, **result)


if __name__ == "__main__":
    main()
