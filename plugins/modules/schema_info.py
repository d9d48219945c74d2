#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: schema_info
short_description: Read a database's schema history as Flyway, Liquibase, Alembic or Sqitch recorded it
version_added: 0.1.0
description:
  - Connects to the database (read-only session) and reads the history table of the migration tool named by O(tool),
    that is the current schema version, every applied migration (version, description, when, checksum, success), the failed
    ones, and with O(migrations_dir) the checksum problems (a migration edited or removed after it was applied) and
    the migrations not applied yet.
  - For Alembic, O(migrations_dir) is the script directory; the module then returns the revision graph (heads, the
    C(down_revision) chain, and whether each revision has a downgrade that does something), read without importing
    the revision files.
  - Flyway checksums are recomputed exactly (CRC32 of the script's lines). Sqitch's (SHA-1 of each deploy script) too.
    Liquibase's C(MD5SUM) cannot be recomputed without Liquibase; the module checks what it can (see
    RV(checksum_method)).
  - Every failure says what is wrong and what to do (unreachable server, refused credentials, a missing database or
    history table); the password never appears in a message.
extends_documentation_fragment:
  - fleetops.release.schema_db
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
options:
  migrations_dir:
    description:
      - The release's migrations, on the host the module runs on, to compare with the history.
      - Flyway, the folder holding the C(V<version>__<description>.sql) files (searched recursively); Liquibase, the
        folder the changelog paths recorded in C(FILENAME) are relative to; Alembic, the script directory (holding
        C(versions/)); Sqitch, the project folder (holding C(sqitch.plan) and C(deploy/)).
    type: path
  project:
    description:
      - Sqitch only, the project whose changes to read. Defaults to the C(%project) of C(sqitch.plan) in
        O(migrations_dir), else every project of the registry.
    type: str
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the Flyway history and check the release's scripts against it
  fleetops.release.schema_info:
    tool: flyway
    host: db1.example.com
    dbname: shop
    user: shop_migrator
    password: "{{ vault_shop_db_password }}"
    migrations_dir: "/srv/app/releases/{{ fleet_release }}/db/migration"
  delegate_to: localhost
  run_once: true
  register: fleet_schema

- name: Stop on a failed migration or an edited script
  ansible.builtin.assert:
    that:
      - fleet_schema.failed_migrations | length == 0
      - fleet_schema.checksum_problems | length == 0
    fail_msg: "{{ (fleet_schema.failed_migrations + fleet_schema.checksum_problems) | map(attribute='version') }}"

- name: Alembic, with the script directory's revision graph
  fleetops.release.schema_info:
    tool: alembic
    dsn: "postgresql://shop@db1.example.com/shop"
    migrations_dir: /opt/shop/alembic
  register: fleet_alembic

- name: Sqitch, through a libpq service
  fleetops.release.schema_info:
    tool: sqitch
    service: shop
    migrations_dir: /opt/shop/sqitch
"""

RETURN = r"""
tool:
  description: The migration tool read.
  returned: success
  type: str
  sample: flyway
dialect:
  description: The kind of database.
  returned: success
  type: str
  sample: postgresql
database:
  description: Where the database is (host, port, database, user; never the password).
  returned: success
  type: str
  sample: PostgreSQL at db1.example.com:5432, database shop, user shop_migrator
table:
  description: The history table read, as the database spells it (for Sqitch, the registry's C(changes) table).
  returned: success
  type: str
  sample: '"public"."flyway_schema_history"'
current_version:
  description:
    - The schema version the database is at, or V(null) when nothing is applied.
    - Flyway, the highest successfully applied version (undone ones excluded); Liquibase, the id of the newest
      changeset; Alembic, the revision in C(alembic_version) (comma-separated when there are several heads); Sqitch,
      the newest deployed change.
  returned: success
  type: str
  sample: "2.1"
current_tag:
  description: Liquibase, the newest tag in the history; Sqitch, the newest tag of a deployed change; else V(null).
  returned: success
  type: str
  sample: v2
current_heads:
  description: Alembic only, the revisions in C(alembic_version).
  returned: when tool is alembic
  type: list
  elements: str
  sample: ["3c1f2a7b9d10"]
applied:
  description:
    - The history, oldest first. Each entry has C(version), C(description), C(applied_at) (as the tool wrote it;
      Flyway and Liquibase write local time without a zone), C(checksum) and C(success), plus the tool's own fields
      (Flyway C(type), C(script), C(installed_rank), C(installed_by), C(execution_time); Liquibase C(author),
      C(filename), C(exectype), C(order_executed), C(tag), C(deployment_id); Alembic C(down_revision),
      C(has_downgrade), C(script); Sqitch C(change_id), C(project), C(tags), C(committed_by)).
    - Alembic keeps no history, only its current revision; with O(migrations_dir) this is the chain of revisions
      that leads to it (without dates), else only the current revision.
  returned: success
  type: list
  elements: dict
  sample: [{"version": "1", "description": "create person", "applied_at": "2026-11-20T09:00:00", "checksum": 1432546713,
            "success": true, "type": "SQL", "script": "V1__create_person.sql", "installed_rank": 1,
            "installed_by": "shop", "execution_time": 12}]
failed_migrations:
  description:
    - Entries of a failed migration (Flyway C(success = false); Liquibase C(EXECTYPE) C(FAILED); Sqitch a
      C(fail) event not followed by a deploy of the change). Same fields as RV(applied).
  returned: success
  type: list
  elements: dict
  sample: [{"version": "3", "description": "add index", "success": false, "type": "SQL", "script": "V3__add_index.sql"}]
checksum_problems:
  description:
    - Applied migrations that differ from O(migrations_dir) or are missing from it, each with C(version), C(script),
      C(recorded) and C(computed) checksums, C(problem) (V(checksum_mismatch), V(missing) or V(checksum_cleared))
      and C(message) (what to do). Empty without O(migrations_dir).
  returned: success
  type: list
  elements: dict
  sample: [{"version": "2", "script": "V2__add_email.sql", "recorded": 1894301132, "computed": -61772319,
            "problem": "checksum_mismatch", "message": "migration 2 was changed after it was applied: ..."}]
checksum_method:
  description: How checksums were checked, or why they were not.
  returned: success
  type: str
  sample: "recomputed: CRC32 of the script lines, as Flyway computes it"
pending:
  description:
    - Migrations of O(migrations_dir) that are not applied (C(version), C(description), C(script)); empty without
      O(migrations_dir) and for Liquibase.
  returned: success
  type: list
  elements: dict
  sample: [{"version": "3", "description": "add index", "script": "V3__add_index.sql"}]
graph:
  description:
    - Alembic with O(migrations_dir), the revision graph; else V(null). C(heads) and C(bases) are revision ids;
      C(revisions) lists every revision base first with C(revision), C(down_revision) (a list, since merges have several),
      C(depends_on), C(message), C(path), C(has_downgrade) (V(false) when C(downgrade()) is missing or only C(pass))
      and C(applied).
  returned: success
  type: dict
  sample: {"heads": ["3c1f2a7b9d10"], "bases": ["1a2b3c4d5e6f"], "revisions": [{"revision": "1a2b3c4d5e6f",
           "down_revision": [], "message": "create person", "has_downgrade": true, "applied": true}]}
project:
  description: Sqitch only, the project read (V(null) for every project).
  returned: when tool is sqitch
  type: str
  sample: shop
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.fleetops.release.plugins.module_utils._module_common import argument_spec
from ansible_collections.fleetops.release.plugins.module_utils._schema import SCHEMA_DB_SPEC, DriverMissing, SchemaError, schema_info


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            SCHEMA_DB_SPEC,
            migrations_dir={"type": "path"},
            project={"type": "str"},
        ),
        supports_check_mode=True,
    )
    try:
        result = schema_info(module.params)
    except DriverMissing as exc:
        module.fail_json(msg=missing_required_lib("psycopg (pip install 'psycopg[binary]')"), exception=str(exc.error))
    except SchemaError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
