# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # What schema_migrate and schema_downgrade share (one runner: _schema_ops.run_change_module): the database
    # (fleet_db, fragment schema_fleet_db), the version to end at, the check after, check mode.
    DOCUMENTATION = r"""
description:
  - The command runs in O(db.command_dir) (default O(db.migrations_dir)), with the connection in its environment (never
    its arguments) and a timeout (O(db.command_timeout)); nothing runs when the database is at O(to) already.
  - Then the module reads the history again and fails unless the database is at O(to) with no failed migration.
  - Take a backup first (M(fleetops.release.schema_backup)); the playbooks do.
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
"""
