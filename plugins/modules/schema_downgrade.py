#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: schema_downgrade
short_description: Take the schema back to a version with the tool's downgrade, then verify
version_added: 0.1.0
description:
  - Reads the schema history and runs the tool's downgrade command to O(to) (default C(alembic downgrade {version}),
    C(sqitch revert -y --to {version}); Flyway C(undo -target={version}) and Liquibase C(rollback --tag={version}) are
    templates not tested here, since those Java tools cannot be installed on our machines).
extends_documentation_fragment:
  - fleetops.release.schema_change
  - fleetops.release.schema_fleet_db
  - fleetops.release.common.attributes
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Take the schema back to the rollback target's version
  fleetops.release.schema_downgrade:
    db: "{{ fleet_db | combine({'command_timeout': 1200}) }}"
    to: "0001"
  delegate_to: migrate1.example.com
  run_once: true
  register: fleet_schema_change
"""

RETURN = r"""
before:
  description: Where the schema was before the downgrade.
  returned: always
  type: str
  sample: "0003"
after:
  description: Where it is after, read again from the database (RV(before) when nothing ran).
  returned: always
  type: str
  sample: "0001"
command:
  description: The downgrade command (argv) that ran, or would run.
  returned: always
  type: list
  elements: str
  sample: ["alembic", "downgrade", "0001"]
verified:
  description: Whether the history read at the end puts the database at O(to), with no failed migration.
  returned: always
  type: bool
  sample: true
steps:
  description:
    - The command that ran (C(step) V(downgrade), C(command), C(rc), C(elapsed), C(stdout), C(stderr)), scrubbed of the
      password; empty when nothing ran.
  returned: always
  type: list
  elements: dict
  sample: [{"step": "downgrade", "command": ["alembic", "downgrade", "0001"], "rc": 0}]
"""

from ansible_collections.fleetops.release.plugins.module_utils._schema_ops import run_change_module


def main():
    run_change_module("downgrade")


if __name__ == "__main__":
    main()
