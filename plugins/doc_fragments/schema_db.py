# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The database and its migration tool, described once (SCHEMA_DB_SPEC in module_utils/_schema.py).
    DOCUMENTATION = r"""
options:
  tool:
    description:
      - The migration tool whose history the database holds.
      - V(flyway) reads C(flyway_schema_history), V(liquibase) C(DATABASECHANGELOG), V(alembic) C(alembic_version),
        V(sqitch) its registry (the tables C(changes), C(tags) and C(events) of the registry schema).
    type: str
    required: true
    choices: [flyway, liquibase, alembic, sqitch]
  dialect:
    description:
      - The kind of database. Only PostgreSQL for now; MySQL/MariaDB are planned behind the same options.
    type: str
    choices: [postgresql]
    default: postgresql
  host:
    description:
      - Host name or address of the database server, or the directory of its Unix socket.
      - Defaults to libpq's default (the local socket), or to what O(dsn) or O(service) say.
    type: str
  port:
    description: TCP port of the database server. Defaults to libpq's default (5432), or to what O(dsn) or O(service) say.
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
      - Password of O(user). Never shown in output, messages or logs (C(no_log)).
      - Can also come from libpq's C(~/.pgpass) or C(PGPASSWORD) on the host the module runs on.
    type: str
    aliases: [login_password]
  dsn:
    description:
      - A libpq connection string (V(host=db1 port=5432 dbname=app)) or URI (V(postgresql://app@db1/app)).
        The other connection options, when given, take precedence over its parts.
      - Treated as a secret (C(no_log)), since it may hold a password.
    type: str
  service:
    description: A libpq service name from C(pg_service.conf) on the host the module runs on.
    type: str
  connect_timeout:
    description: Seconds to wait for the connection before giving up with a clear error.
    type: int
    default: 10
  query_timeout:
    description:
      - Seconds one query may run (PostgreSQL C(statement_timeout) and C(lock_timeout) of the read-only session).
    type: int
    default: 30
  schema:
    description:
      - The database schema that holds the history table.
      - Defaults to V(public) for Flyway, Liquibase and Alembic, and to V(sqitch) (the registry schema) for Sqitch.
    type: str
  history_table:
    description:
      - Name of the history table when the tool was configured with another one (Flyway C(flyway.table), Liquibase
        C(databaseChangeLogTableName), Alembic C(version_table)).
      - Defaults to V(flyway_schema_history), V(databasechangelog) and V(alembic_version). Not for Sqitch, whose
        registry is a schema (O(schema)).
    type: str
requirements:
  - psycopg 3 (C(psycopg[binary])) on the host the module runs on (the controller, or the host it is delegated to).
notes:
  - The session is read-only (C(default_transaction_read_only)); the user needs only C(SELECT) on the history table.
"""
