# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The database steps that change something: a verified backup, the tool's migrate and downgrade.

Each step is one command (an argv list, never a shell) with a timeout; the connection reaches the tools through
their environment (libpq's PG* variables, SQITCH_PASSWORD, FLYWAY_*, LIQUIBASE_COMMAND_*), never through argv, and
every message is scrubbed of the password. ``fleet_db`` (FLEET_DB_SPEC) is the schema_db options plus where and how
the steps run.
"""

from __future__ import annotations

import datetime
import os
import re

from ansible_collections.fleetops.release.plugins.module_utils import _command
from ansible_collections.fleetops.release.plugins.module_utils._schema import (
    SCHEMA_DB_SPEC,
    TOOL_NAMES,
    DriverMissing,
    SchemaError,
    schema_info,
    scrub,
)
from ansible_collections.fleetops.release.plugins.module_utils._schema_guard import effective_history, position

# Placeholders in command templates: {version} the target schema version, {backup} the dump file,
# {migrations_dir} the release's migrations.
DEFAULT_COMMANDS = {
    "alembic": {"migrate": ["alembic", "upgrade", "{version}"], "downgrade": ["alembic", "downgrade", "{version}"]},
    "sqitch": {"migrate": ["sqitch", "deploy", "--to", "{version}", "db:pg:"],
               "downgrade": ["sqitch", "revert", "-y", "--to", "{version}", "db:pg:"]},
    # Java tools: templates only, not tested here (their distributions cannot be installed on our machines).
    "flyway": {"migrate": ["flyway", "migrate", "-target={version}"], "downgrade": ["flyway", "undo", "-target={version}"]},
    "liquibase": {"migrate": ["liquibase", "update"], "downgrade": ["liquibase", "rollback", "--tag={version}"]},
}
DEFAULT_BACKUP = {"backup": ["pg_dump", "--format=custom", "--no-password", "--file={backup}"],
                  "verify_backup": ["pg_restore", "--list", "{backup}"]}
COMMAND_NAMES = ("migrate", "downgrade", "backup", "verify_backup")
DEFAULT_BACKUP_DIR = "/var/backups/fleetops-schema"

FLEET_DB_SPEC = dict(
    SCHEMA_DB_SPEC,
    migrations_dir={"type": "path"},
    command_dir={"type": "path"},
    backup_dir={"type": "path", "default": DEFAULT_BACKUP_DIR},
    commands={"type": "dict", "default": {}},
    command_timeout={"type": "int", "default": 600},
    delegate_to={"type": "str", "default": "localhost"},
)

# conninfo keyword -> libpq environment variable (what a dsn may say, for pg_dump, alembic and sqitch alike).
LIBPQ_ENV = {"host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE", "user": "PGUSER",
             "password": "PGPASSWORD", "service": "PGSERVICE", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
             "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT",
             "options": "PGOPTIONS", "application_name": "PGAPPNAME", "target_session_attrs": "PGTARGETSESSIONATTRS"}


def parse_dsn(dsn):
    """conninfo dict of a libpq dsn (key=value string or URI), with psycopg's parser."""
    try:
        from psycopg import conninfo  # pylint: disable=import-outside-toplevel
        from psycopg import ProgrammingError  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise SchemaError("fleet_db.dsn needs psycopg on the host the database steps run on to be read; give host, "
                          "port, dbname and user instead, or install psycopg[binary]")
    try:
        return conninfo.conninfo_to_dict(dsn)
    except ProgrammingError:
        raise SchemaError("fleet_db.dsn is not a valid libpq connection string (it is not shown: it may hold a password)")


def connection(db):
    """The connection as conninfo keywords: the dsn's, overridden by the explicit options."""
    params = parse_dsn(db["dsn"]) if db.get("dsn") else {}
    for key in ("host", "port", "dbname", "user", "password", "service"):
        if db.get(key) not in (None, ""):
            params[key] = db[key]
    params["connect_timeout"] = db.get("connect_timeout") or 10
    return {key: str(value) for key, value in params.items() if value is not None}


def secrets_of(db):
    found = [db.get("password"), db.get("dsn")]
    if db.get("dsn"):
        try:
            found.append(parse_dsn(db["dsn"]).get("password"))
        except SchemaError:
            pass
    return [secret for secret in found if secret]


def tool_environment(db):
    """Environment variables that give the tools the connection, password included (never argv)."""
    params = connection(db)
    unknown = sorted(set(params) - set(LIBPQ_ENV))
    if unknown:
        raise SchemaError("fleet_db.dsn has keywords the database steps cannot pass on (%s): use %s"
                          % (", ".join(unknown), ", ".join(sorted(LIBPQ_ENV))))
    env = {LIBPQ_ENV[key]: value for key, value in params.items()}
    if params.get("password"):
        env["SQITCH_PASSWORD"] = params["password"]
    host = params.get("host", "localhost")
    jdbc = "jdbc:postgresql://%s%s/%s" % (host, ":" + params["port"] if params.get("port") else "", params.get("dbname", ""))
    if db["tool"] == "flyway":
        env.update(FLYWAY_URL=jdbc, FLYWAY_USER=params.get("user", ""), FLYWAY_PASSWORD=params.get("password", ""))
        if db.get("schema"):
            env["FLYWAY_DEFAULT_SCHEMA"] = db["schema"]
    if db["tool"] == "liquibase":
        env.update(LIQUIBASE_COMMAND_URL=jdbc, LIQUIBASE_COMMAND_USERNAME=params.get("user", ""),
                   LIQUIBASE_COMMAND_PASSWORD=params.get("password", ""))
    return {key: value for key, value in env.items() if value != ""}


def command_for(db, name):
    """The argv template of step ``name``: fleet_db.commands[name], else the tool's (or pg_dump's) own."""
    unknown = sorted(set(db.get("commands") or {}) - set(COMMAND_NAMES))
    if unknown:
        raise SchemaError("fleet_db.commands has unknown steps %s: use %s" % (", ".join(unknown), ", ".join(COMMAND_NAMES)))
    given = (db.get("commands") or {}).get(name)
    if given is None:
        return list(DEFAULT_BACKUP.get(name) or DEFAULT_COMMANDS[db["tool"]][name])
    if isinstance(given, str) or not isinstance(given, (list, tuple)) or not given:
        raise SchemaError("fleet_db.commands.%s must be a non-empty list of arguments (argv, no shell), not %r: the "
                          "password reaches the tool through its environment, never the command line" % (name, given))
    return [str(part) for part in given]


def render(argv, values):
    """argv with {version}, {backup} and {migrations_dir} filled in (plain replacement: other braces stay)."""
    out = []
    for part in argv:
        for key, value in values.items():
            part = part.replace("{%s}" % key, "" if value is None else str(value))
        out.append(part)
    return out


def run_step(db, step, argv, cwd=None, timeout=None, env_extra=None):
    """Run one step's command with the connection in its environment; its result, scrubbed. Fails with what to do."""
    secrets = secrets_of(db)
    for part in argv:
        for secret in secrets:
            if secret and secret in part:
                raise SchemaError("the %s command holds the database password in its arguments: take it out (the "
                                  "tools get it through their environment)" % step)
    timeout = timeout or db.get("command_timeout") or 600
    env = _command.child_environment(dict(tool_environment(db), **(env_extra or {})))
    try:
        result = _command.run(argv, timeout, shell=False, env=env, cwd=cwd)
    except OSError as exc:
        raise SchemaError("the %s command %s could not start on this host (%s): install it or set fleet_db.commands.%s"
                          % (step, argv[0], scrub(exc, secrets), step))
    public = {"step": step, "command": argv, "rc": result["rc"], "timed_out": result["timed_out"],
              "elapsed": round(result["elapsed"], 3), "stdout": scrub(result["stdout"], secrets)[-4000:],
              "stderr": scrub(result["stderr"], secrets)[-4000:]}
    if result["timed_out"]:
        raise StepFailed("the %s command (%s) did not finish within %ss and was stopped; raise fleet_db.command_timeout "
                         "if it needs longer" % (step, " ".join(argv), timeout), public)
    if result["rc"] != 0:
        tail = (public["stderr"].strip() or public["stdout"].strip())[-1500:]
        raise StepFailed("the %s command (%s) failed with exit code %s: %s" % (step, " ".join(argv), result["rc"], tail),
                         public)
    return public


class StepFailed(SchemaError):
    """A step's command failed; ``result`` is its scrubbed result."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def backup_path(db, run_id=None, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    dbname = connection(db).get("dbname") or "db"
    name = "%s-%s%s.dump" % (SAFE_NAME.sub("_", dbname), now.strftime("%Y%m%dT%H%M%SZ"),
                             ("-" + SAFE_NAME.sub("_", run_id)) if run_id else "")
    return os.path.join(db.get("backup_dir") or DEFAULT_BACKUP_DIR, name)


def backup(db, run_id=None, check_mode=False):
    """pg_dump -Fc into backup_dir, then pg_restore --list to prove the dump is readable; {path, size, entries}."""
    path = backup_path(db, run_id)
    result = {"path": path, "size": None, "entries": None, "verified": False, "steps": []}
    if check_mode:
        return result
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, 0o700, exist_ok=True)
    except OSError as exc:
        raise SchemaError("cannot create the backup directory %s (%s): set fleet_db.backup_dir to a directory the "
                          "database steps may write" % (directory, exc))
    values = {"backup": path, "version": None, "migrations_dir": db.get("migrations_dir")}
    old = os.umask(0o077)  # the dump holds the data: only its owner reads it
    try:
        result["steps"].append(run_step(db, "backup", render(command_for(db, "backup"), values), cwd=directory))
    except StepFailed:
        if os.path.exists(path):
            os.unlink(path)  # a partial dump is no backup
        raise
    finally:
        os.umask(old)
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise SchemaError("the backup command wrote nothing to %s: nothing was changed" % path)
    listed = run_step(db, "verify_backup", render(command_for(db, "verify_backup"), values), cwd=directory)
    entries = [line for line in listed["stdout"].splitlines() if line.strip() and not line.startswith(";")]
    listed["stdout"] = "%d entries" % len(entries)  # the list itself is long and says nothing more
    result["steps"].append(listed)
    if not entries:
        raise SchemaError("the backup %s lists no entries (pg_restore --list): it cannot restore anything; nothing "
                          "was changed" % path)
    result.update(size=os.path.getsize(path), entries=len(entries), verified=True)
    return result


def step_directory(db):
    directory = db.get("command_dir") or db.get("migrations_dir")
    if not directory or not os.path.isdir(directory):
        raise SchemaError("fleet_db.command_dir (or migrations_dir) %s is not a directory on this host: the %s commands "
                          "run there (for Alembic the folder of alembic.ini, for Sqitch the project with sqitch.plan)"
                          % (directory or "(not set)", TOOL_NAMES.get(db["tool"], db["tool"])))
    return directory


def info_params(db):
    """schema_info's parameters from fleet_db."""
    params = {key: db.get(key) for key in SCHEMA_DB_SPEC}
    params["migrations_dir"] = db.get("migrations_dir")
    params["project"] = None
    return params


def read_schema(db):
    """schema_info of fleet_db, with migrations_dir in it (the judgement needs to know where the files are)."""
    info = schema_info(info_params(db))
    info["migrations_dir"] = db.get("migrations_dir")
    return info


def change_schema(db, step, version, check_mode=False):
    """Run the tool's ``step`` (migrate or downgrade) to ``version``, then read the schema again and verify that the
    database is there; {before, after, command, steps}. Fails (StepFailed / SchemaError) with what to do."""
    directory = step_directory(db)
    before = read_schema(db)
    argv = render(command_for(db, step), {"version": version, "backup": None, "migrations_dir": db.get("migrations_dir")})
    result = {"before": before["current_version"], "after": before["current_version"], "command": argv, "steps": [],
              "verified": False, "changed": False}
    history = effective_history(before)
    at = position(before["tool"], history, version)
    if at is not None and at == len(history) - 1:
        result["verified"] = True
        return result  # already there: nothing to run
    if check_mode:
        result["changed"] = True
        return result
    result["changed"] = True
    result["steps"].append(run_step(db, step, argv, cwd=directory))
    after = read_schema(db)
    result["after"] = after["current_version"]
    history = effective_history(after)
    at = position(after["tool"], history, version)
    if at is None or at != len(history) - 1 or after["failed_migrations"]:
        raise SchemaError("after %s to %s the database is at %s, not %s%s: check the tool's output above and the "
                          "history (%s)" % (step, version, after["current_version"], version,
                                            " and has failed migrations" if after["failed_migrations"] else "",
                                            after["table"]))
    result["verified"] = True
    return result


def run_change_module(step):
    """main() of schema_migrate (``step`` migrate) and schema_downgrade (downgrade): the same options (doc fragment
    fleetops.release.schema_change), the same run of change_schema, the same failures."""
    # Imported here: the other users of this file (schema_guard, schema_backup) need no AnsibleModule of it.
    from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # pylint: disable=import-outside-toplevel

    module = AnsibleModule(
        argument_spec={"db": {"type": "dict", "required": True, "options": FLEET_DB_SPEC}, "to": {"type": "str", "required": True}},
        supports_check_mode=True,
    )
    try:
        result = change_schema(module.params["db"], step, module.params["to"], check_mode=module.check_mode)
    except DriverMissing as exc:
        module.fail_json(msg=missing_required_lib("psycopg (pip install 'psycopg[binary]')"), exception=str(exc.error))
    except StepFailed as exc:
        module.fail_json(msg=str(exc), steps=[exc.result])
    except SchemaError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)
