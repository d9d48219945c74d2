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
  - Reads the schema history and runs the tool's migrate command to O(to) (default C(alembic upgrade {version}),
    C(sqitch deploy --to {version}), C(flyway migrate -target={version}), C(liquibase update)).
extends_documentation_fragment:
  - fleetops.release.schema_change
  - fleetops.release.schema_fleet_db
  - fleetops.release.common.attributes
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Back the database up before its schema changes
  fleetops.release.schema_backup:
    db: "{{ fleet_db }}"
  delegate_to: "{{ fleet_db.delegate_to | default('localhost') }}"
  run_once: true

- name: Migrate the schema to the release's version, once for the whole run
  fleetops.release.schema_migrate:
    db: "{{ fleet_db }}"
    to: "{{ fleet_release_schema.version }}"
  delegate_to: "{{ fleet_db.delegate_to | default('localhost') }}"
  run_once: true
  register: fleet_schema_change
"""

RETURN = r"""
command:
  description: The migrate command (argv) that ran, or would run; its placeholders filled in.
  returned: always
  type: list
  elements: str
  sample: ["sqitch", "deploy", "--to", "email", "db:pg:"]
before:
  description: The schema version read before the migrations.
  returned: always
  type: str
  sample: person
after:
  description: The schema version read again after them (RV(before) when nothing ran).
  returned: always
  type: str
  sample: email
verified:
  description: Whether the database was read at O(to), with no failed migration, at the end.
  returned: always
  type: bool
  sample: true
steps:
  description:
    - The command that ran (C(step) V(migrate), C(command), C(rc), C(elapsed), C(stdout), C(stderr)), scrubbed of the
      password; empty when the database was at O(to) already.
  returned: always
  type: list
  elements: dict
  sample: [{"step": "migrate", "command": ["sqitch", "deploy", "--to", "email", "db:pg:"], "rc": 0}]
"""

from ansible_collections.fleetops.release.plugins.module_utils._schema_ops import run_change_module


def main():
    run_change_module("migrate")


if __name__ == "__main__":
    main()
