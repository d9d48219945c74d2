#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: schema_migrate
short_description: Run the release's migrations up to its schema version, then verify
version_added: 0.1.0
description:
  - Reads the schema history, and unless the database is at O(to) already, runs the tool's migrate command (default
    C(alembic upgrade {version}), C(sqitch deploy --to {version}), C(flyway migrate -target={version}), C(liquibase
    update)) in O(db.command_dir) (default O(db.migrations_dir)), with the connection in the command's environment
    and a timeout (O(db.command_timeout)).
  - Then reads the history again and fails unless the database is at O(to) with no failed migration.
  - Take a backup first (M(fleetops.release.schema_backup)); the playbooks do.
extends_documentation_fragment:
  - fleetops.release.schema_fleet_db
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: Nothing is run; C(changed) says whether the command would run.
  diff_mode:
    support: none
options:
  to:
    description: The schema version (or Liquibase/Sqitch tag) the database must end at.
    type: str
    required: true
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Schema to the release's version
  fleetops.release.schema_migrate:
    db: "{{ fleet_db }}"
    to: "0002"
  delegate_to: "{{ fleet_db.delegate_to | default('localhost') }}"
  run_once: true
"""

RETURN = r"""
before:
  description: The schema version before.
  returned: always
  type: str
  sample: "0002"
after:
  description: The schema version after (read again from the database).
  returned: always
  type: str
  sample: "0001"
verified:
  description: Whether the database was read at O(to) afterwards.
  returned: always
  type: bool
  sample: true
command:
  description: The command (argv) run, or that would run.
  returned: always
  type: list
  elements: str
  sample: ["alembic", "upgrade", "0001"]
steps:
  description: The commands run (C(step), C(command), C(rc), C(elapsed), C(stdout), C(stderr); scrubbed of the password).
  returned: always
  type: list
  elements: dict
  sample: [{"step": "migrate", "command": ["alembic", "upgrade", "0001"], "rc": 0}]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.fleetops.release.plugins.module_utils._schema import DriverMissing, SchemaError
from ansible_collections.fleetops.release.plugins.module_utils._schema_ops import FLEET_DB_SPEC, StepFailed, change_schema


def main():
    module = AnsibleModule(
        argument_spec={"db": {"type": "dict", "required": True, "options": FLEET_DB_SPEC}, "to": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    try:
        result = change_schema(module.params["db"], "migrate", module.params["to"], check_mode=module.check_mode)
    except DriverMissing as exc:
        module.fail_json(msg=missing_required_lib("psycopg (pip install 'psycopg[binary]')"), exception=str(exc.error))
    except StepFailed as exc:
        module.fail_json(msg=str(exc), steps=[exc.result])
    except SchemaError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
