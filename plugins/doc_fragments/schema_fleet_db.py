# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # fleet_db: the database described once for the fleet (FLEET_DB_SPEC in module_utils/_schema_ops.py), handed
    # whole to each database step of the playbooks.
    DOCUMENTATION = r"""
options:
  db:
    description:
      - The fleet's database and its migration tool, as the playbooks' variable C(fleet_db) gives it.
      - The connection options are those of M(fleetops.release.schema_info) (doc fragment C(fleetops.release.schema_db)).
    type: dict
    required: true
    suboptions:
      tool:
        description: The migration tool.
        type: str
        required: true
        choices: [flyway, liquibase, alembic, sqitch]
      dialect:
        description: The kind of database (only PostgreSQL for now).
        type: str
        choices: [postgresql]
        default: postgresql
      host:
        description: Host name or address of the database server, or the directory of its Unix socket.
        type: str
      port:
        description: TCP port of the database server.
        type: int
      dbname:
        description: Name of the database.
        type: str
        aliases: [database]
      user:
        description: User to connect as.
        type: str
        aliases: [login_user]
      password:
        description:
          - Password of O(db.user); never shown (C(no_log)). The tools get it through their environment
            (C(PGPASSWORD), C(SQITCH_PASSWORD), C(FLYWAY_PASSWORD), C(LIQUIBASE_COMMAND_PASSWORD)), never their
            arguments.
        type: str
        aliases: [login_password]
      dsn:
        description: A libpq connection string or URI; a secret (C(no_log)). The explicit options take precedence.
        type: str
      service:
        description: A libpq service name.
        type: str
      connect_timeout:
        description: Seconds to wait for a connection.
        type: int
        default: 10
      query_timeout:
        description: Seconds one query of a read may run.
        type: int
        default: 30
      schema:
        description: The database schema of the history table (Sqitch, the registry schema).
        type: str
      history_table:
        description: Name of the history table when the tool was configured with another one.
        type: str
      migrations_dir:
        description:
          - The release's migrations on the host the database steps run on (Flyway the SQL folder, Liquibase the
            changelog folder, Alembic the script directory, Sqitch the project). For a rollback, the folder of the
            newest release, whose scripts hold the downgrades.
        type: path
      command_dir:
        description:
          - Where the migrate and downgrade commands run (for Alembic the folder of C(alembic.ini), for Sqitch the
            project). Defaults to O(db.migrations_dir).
        type: path
      backup_dir:
        description: Directory (created with mode 0700) for the backups, on the host the database steps run on.
        type: path
        default: /var/backups/fleetops-schema
      commands:
        description:
          - Commands to use instead of the defaults, each an argv list (no shell), by step - C(migrate),
            C(downgrade), C(backup), C(verify_backup). Placeholders C({version}), C({backup}), C({migrations_dir}).
          - Defaults - Alembic C(alembic upgrade {version}) / C(alembic downgrade {version}); Sqitch
            C(sqitch deploy --to {version} db:pg:) / C(sqitch revert -y --to {version} db:pg:); Flyway
            C(flyway migrate -target={version}) / C(flyway undo -target={version}); Liquibase C(liquibase update) /
            C(liquibase rollback --tag={version}); backup C(pg_dump --format=custom --no-password --file={backup}),
            verified with C(pg_restore --list {backup}).
        type: dict
        default: {}
      command_timeout:
        description: Seconds each command may run before it is stopped (with everything it started).
        type: int
        default: 600
      delegate_to:
        description:
          - The host the playbooks run the database steps on (C(delegate_to)); the module itself ignores it.
        type: str
        default: localhost
requirements:
  - psycopg 3 (C(psycopg[binary])) on the host the database steps run on, and the tool's own command there.
notes:
  - Every command runs with a timeout, without a shell, with the connection in its environment.
"""
