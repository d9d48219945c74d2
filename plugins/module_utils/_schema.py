# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read a database's schema history as Flyway, Liquibase, Alembic or Sqitch recorded it (read-only).

Two layers:

* the tool layer (pure functions over rows and files): what each tool's history table means, the current version,
  failed entries, checksums recomputed from a migrations directory, Alembic's revision graph;
* the dialect layer (``DIALECTS``): how to connect, quote names, find a table and run a query on one kind of
  database. PostgreSQL (psycopg 3) is the only one today; MySQL/MariaDB is another class with the same methods.

Every failure is a SchemaError whose text says what is wrong and what to do, and never holds the password.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import os
import re
import zlib

from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError

TOOLS = ("flyway", "liquibase", "alembic", "sqitch")
TOOL_NAMES = {"flyway": "Flyway", "liquibase": "Liquibase", "alembic": "Alembic", "sqitch": "Sqitch"}
# The tools' own default history tables (Sqitch keeps a registry schema instead: see SQITCH_REGISTRY).
DEFAULT_TABLES = {"flyway": "flyway_schema_history", "liquibase": "databasechangelog", "alembic": "alembic_version"}
SQITCH_REGISTRY = "sqitch"
MASK = "********"

# The options that describe the database (doc fragment fleetops.release.schema_db); shared by every module that
# reads or changes the schema, so that one fleet_db dict can feed them all.
SCHEMA_DB_SPEC = {
    "tool": {"type": "str", "required": True, "choices": list(TOOLS)},
    "dialect": {"type": "str", "default": "postgresql", "choices": ["postgresql"]},
    "host": {"type": "str"},
    "port": {"type": "int"},
    "dbname": {"type": "str", "aliases": ["database"]},
    "user": {"type": "str", "aliases": ["login_user"]},
    "password": {"type": "str", "no_log": True, "aliases": ["login_password"]},
    "dsn": {"type": "str", "no_log": True},
    "service": {"type": "str"},
    "connect_timeout": {"type": "int", "default": 10},
    "query_timeout": {"type": "int", "default": 30},
    "schema": {"type": "str"},
    "history_table": {"type": "str"},
}


class SchemaError(FleetError):
    """A refusal with a message that says what is wrong and what to do."""


class DriverMissing(SchemaError):
    """The database driver is not importable on the host the module runs on."""

    def __init__(self, library, error):
        super().__init__("%s is not installed" % library)
        self.library = library
        self.error = error


def check_tool(tool):
    if tool not in TOOLS:
        raise SchemaError("unknown schema tool %r: use one of %s (fleet_db.tool)" % (tool, ", ".join(TOOLS)))
    return tool


def scrub(text, secrets):
    """text with every secret replaced by a mask: driver messages may quote a connection string."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


# --- Flyway -------------------------------------------------------------------------------------------------------

FLYWAY_FILE = re.compile(r"^(?P<prefix>[VUR])(?P<version>.*?)__(?P<description>.*)\.sql$")
# Types whose success moves a version out of the applied set (Flyway Teams' undo; repair's deleted markers).
FLYWAY_REMOVING_TYPES = ("UNDO_SQL", "UNDO_JDBC", "UNDO_SCRIPT", "DELETE")
FLYWAY_NO_VERSION_TYPES = ("SCHEMA",)


def split_lines(text):
    """Lines as Java's BufferedReader.readLine() returns them: split on \\r\\n, \\r or \\n, no empty last line."""
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def flyway_checksum(data):
    """Flyway's checksum of an SQL migration: CRC32 over the UTF-8 bytes of each line without its line break, the
    BOM removed from the first line, as a signed 32-bit int (flyway-core ChecksumCalculator). So it does not depend
    on line endings."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    text = text[1:] if text.startswith("\ufeff") else text
    crc = 0
    for line in split_lines(text):
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - (1 << 32) if crc >= (1 << 31) else crc


def flyway_version_key(version):
    """Flyway's version order: dot- or underscore-separated numbers, trailing zeros ignored (1.0 == 1)."""
    parts = []
    for part in re.split(r"[._]", str(version)):
        parts.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    while parts and parts[-1] == (0, 0, ""):
        parts.pop()
    return tuple(parts)


def parse_flyway_filename(name):
    """(kind, version, description) of a Flyway SQL file name, kind V (versioned), U (undo) or R (repeatable); or
    None when the name is not a migration."""
    match = FLYWAY_FILE.match(name)
    if not match or (match.group("prefix") != "R" and not match.group("version")):
        return None
    version = match.group("version").replace("_", ".") or None
    return match.group("prefix"), version, match.group("description").replace("_", " ")


def flyway_scripts(directory):
    """{script: path} of the SQL migrations under directory, script relative to it as Flyway records it."""
    found = {}
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if parse_flyway_filename(name):
                path = os.path.join(root, name)
                found[os.path.relpath(path, directory).replace(os.sep, "/")] = path
    return found


def flyway_history(rows):
    """applied, failed and current version from flyway_schema_history rows (any order)."""
    rows = sorted(rows, key=lambda row: row["installed_rank"])
    applied = []
    failed = []
    versions = {}
    for row in rows:
        entry = {
            "version": row["version"],
            "description": row["description"],
            "applied_at": iso(row["installed_on"]),
            "checksum": row["checksum"],
            "success": bool(row["success"]),
            "type": row["type"],
            "script": row["script"],
            "installed_rank": row["installed_rank"],
            "installed_by": row["installed_by"],
            "execution_time": row["execution_time"],
        }
        applied.append(entry)
        if not entry["success"]:
            failed.append(entry)
            continue
        if row["version"] is None or row["type"] in FLYWAY_NO_VERSION_TYPES:
            continue
        if row["type"] in FLYWAY_REMOVING_TYPES:
            versions.pop(flyway_version_key(row["version"]), None)
        else:
            versions[flyway_version_key(row["version"])] = row["version"]
    current = versions[max(versions)] if versions else None
    return applied, failed, current


def flyway_problems(applied, directory):
    """Checksum problems and pending migrations of a Flyway history against the SQL files under directory."""
    problems = []
    scripts = flyway_scripts(directory)
    by_version = {}
    for script, path in scripts.items():
        kind, version, description = parse_flyway_filename(os.path.basename(script))
        if kind == "V":
            by_version[flyway_version_key(version)] = (script, path, version, description)
    done = set()
    for entry in applied:
        if not entry["success"] or entry["version"] is None or entry["type"] != "SQL":
            continue  # repeatables change on purpose (Flyway re-applies them); baselines and Java have no file
        key = flyway_version_key(entry["version"])
        done.add(key)
        local = by_version.get(key)
        if local is None:
            problems.append(problem(entry["version"], entry["script"], entry["checksum"], None, "missing",
                                    "applied migration %s (%s) is not in %s: restore the file, or run `flyway repair` if it "
                                    "was removed on purpose" % (entry["version"], entry["script"], directory)))
            continue
        with open(local[1], "rb") as handle:
            computed = flyway_checksum(handle.read())
        if entry["checksum"] is not None and computed != entry["checksum"]:
            problems.append(problem(entry["version"], local[0], entry["checksum"], computed, "checksum_mismatch",
                                    "migration %s was changed after it was applied: %s has checksum %d, the database "
                                    "recorded %d; restore the applied file (a change belongs in a new migration)"
                                    % (entry["version"], local[0], computed, entry["checksum"])))
    pending = [{"version": version, "description": description, "script": script}
               for key, (script, path, version, description) in sorted(by_version.items()) if key not in done]
    return problems, pending


# --- Liquibase ----------------------------------------------------------------------------------------------------

LIQUIBASE_SQL_HEADER = re.compile(r"^\s*--\s*liquibase\s+formatted\s+sql", re.I)
LIQUIBASE_SQL_CHANGESET = re.compile(r"^\s*--\s*changeset\s+(?:\"([^\"]+)\"|(\S+?)):(?:\"([^\"]+)\"|(\S+))", re.I | re.M)
LIQUIBASE_OK = ("EXECUTED", "RERAN", "MARK_RAN", "SKIPPED")


def liquibase_history(rows):
    """applied, failed, current changeset id and newest tag from DATABASECHANGELOG rows (any order, any case)."""
    rows = [{key.lower(): value for key, value in row.items()} for row in rows]
    rows.sort(key=lambda row: (row["dateexecuted"], row["orderexecuted"]))
    applied = []
    failed = []
    tag = None
    for row in rows:
        entry = {
            "version": row["id"],
            "description": row.get("description"),
            "applied_at": iso(row["dateexecuted"]),
            "checksum": row.get("md5sum"),
            "success": row["exectype"] in LIQUIBASE_OK,
            "author": row["author"],
            "filename": row["filename"],
            "exectype": row["exectype"],
            "order_executed": row["orderexecuted"],
            "tag": row.get("tag"),
            "comments": row.get("comments"),
            "deployment_id": row.get("deployment_id"),
        }
        applied.append(entry)
        if not entry["success"]:
            failed.append(entry)
        if entry["tag"]:
            tag = entry["tag"]
    current = applied[-1]["version"] if applied else None
    return applied, failed, current, tag


def liquibase_sql_changesets(text):
    """(author, id) of each changeset of a Liquibase formatted SQL changelog, or None when it is not one."""
    if not LIQUIBASE_SQL_HEADER.match(text):
        return None
    return [(m.group(1) or m.group(2), m.group(3) or m.group(4)) for m in LIQUIBASE_SQL_CHANGESET.finditer(text)]


def liquibase_problems(applied, directory):
    """What can be checked of Liquibase checksums without Liquibase: the changelog files recorded in the history
    exist under directory, the changesets of formatted SQL changelogs are still in them, no checksum was cleared."""
    problems = []
    changesets = {}
    for entry in applied:
        name = entry["filename"] or ""
        key = (entry["author"], entry["version"])
        if entry["checksum"] is None:
            problems.append(problem(entry["version"], name, None, None, "checksum_cleared",
                                    "changeset %s::%s has no checksum (cleared with `liquibase clear-checksums`?): "
                                    "Liquibase recomputes it at the next update without checking the old one"
                                    % (entry["version"], entry["author"])))
        relative = name.split(":", 1)[1] if name.startswith("classpath:") else name
        candidates = [os.path.join(directory, relative.lstrip("/")), os.path.join(directory, os.path.basename(relative))]
        path = next((candidate for candidate in candidates if os.path.isfile(candidate)), None)
        if path is None:
            problems.append(problem(entry["version"], name, entry["checksum"], None, "missing",
                                    "changelog %s of applied changeset %s::%s is not in %s: restore it"
                                    % (name, entry["version"], entry["author"], directory)))
            continue
        if path not in changesets:
            with open(path, encoding="utf-8", errors="replace") as handle:
                changesets[path] = liquibase_sql_changesets(handle.read())
        if changesets[path] is not None and key not in changesets[path]:
            problems.append(problem(entry["version"], name, entry["checksum"], None, "missing",
                                    "applied changeset %s::%s is no longer in %s: restore it (a change belongs in a new "
                                    "changeset)" % (entry["version"], entry["author"], name)))
    return problems


# --- Alembic ------------------------------------------------------------------------------------------------------

def _literal(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _no_op(body):
    """Whether a function body does nothing: only a docstring, pass, ... or raise NotImplementedError."""
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and (
                isinstance(statement.value.value, str) or statement.value.value is Ellipsis):
            continue
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                continue
        return False
    return True


def as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def parse_alembic_revision(source, path="<revision>"):
    """revision, down_revision (list), message and whether it has a real downgrade, read from a revision file
    without importing it (importing runs the migration's module code)."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise SchemaError("cannot read Alembic revision %s: %s (line %s); fix the file" % (path, exc.msg, exc.lineno))
    values = {}
    downgrade = False
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            downgrade = not _no_op(node.body)
            continue
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision", "depends_on"):
                values[target.id] = _literal(value)
    if not isinstance(values.get("revision"), str):
        return None
    docstring = ast.get_docstring(tree) or ""
    return {
        "revision": values["revision"],
        "down_revision": as_list(values.get("down_revision")),
        "depends_on": as_list(values.get("depends_on")),
        "message": docstring.strip().splitlines()[0] if docstring.strip() else "",
        "path": path,
        "has_downgrade": downgrade,
    }


def alembic_revisions(directory):
    """{revision: info} of an Alembic script directory (the one holding versions/, or versions/ itself)."""
    versions = os.path.join(directory, "versions")
    versions = versions if os.path.isdir(versions) else directory
    revisions = {}
    for root, dirs, files in os.walk(versions):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".py") or name.startswith("__"):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as handle:
                info = parse_alembic_revision(handle.read(), path)
            if info is None:
                continue
            if info["revision"] in revisions:
                raise SchemaError("Alembic revision %s is defined twice (%s and %s): remove one"
                                  % (info["revision"], revisions[info["revision"]]["path"], path))
            revisions[info["revision"]] = info
    return revisions


def alembic_graph(revisions, current):
    """The revision graph: heads, bases, and each revision (base first) with whether the database has it applied;
    plus the applied chain (base first) and problems (a current revision unknown to the script directory)."""
    children = {name: [] for name in revisions}
    for name, info in revisions.items():
        for parent in info["down_revision"]:
            if parent in children:
                children[parent].append(name)
    heads = sorted(name for name, kids in children.items() if not kids)
    bases = sorted(name for name, info in revisions.items() if not info["down_revision"])
    problems = []
    applied = set()
    stack = []
    for name in current:
        if name in revisions:
            stack.append(name)
        else:
            problems.append(problem(name, None, None, None, "missing",
                                    "revision %s recorded in alembic_version is not in the script directory: deploy the "
                                    "script directory of the release that migrated the database" % name))
    while stack:
        name = stack.pop()
        if name in applied or name not in revisions:
            continue
        applied.add(name)
        stack.extend(revisions[name]["down_revision"])
    order = []
    seen = set()

    def visit(name):
        if name in seen or name not in revisions:
            return
        seen.add(name)
        for parent in revisions[name]["down_revision"]:
            visit(parent)
        order.append(name)

    for name in sorted(revisions):
        visit(name)
    nodes = [dict(revisions[name], applied=name in applied) for name in order]
    return {"heads": heads, "bases": bases, "revisions": nodes}, [name for name in order if name in applied], problems


# --- Sqitch -------------------------------------------------------------------------------------------------------

def sqitch_plan(text):
    """(project, [change names in plan order]) of a sqitch.plan."""
    project = None
    changes = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("%project="):
            project = line.split("=", 1)[1].strip()
        if not line or line[0] in "%#@":
            continue
        changes.append(re.split(r"[\s\[]", line, maxsplit=1)[0])
    return project, changes


def sqitch_script_hash(data):
    """Sqitch's script_hash: the SHA-1 of the deploy script's bytes."""
    return hashlib.sha1(data).hexdigest()  # nosec - Sqitch's own choice of hash, compared, not trusted


def sqitch_problems(applied, directory):
    problems = []
    last = {}
    for index, entry in enumerate(applied):
        last[entry["version"]] = index
    for index, entry in enumerate(applied):
        if last[entry["version"]] != index:
            continue  # an earlier instance of a reworked change: its script is deploy/<change>@<tag>.sql
        script = "deploy/%s.sql" % entry["version"]
        path = os.path.join(directory, script)
        if not os.path.isfile(path):
            problems.append(problem(entry["version"], script, entry["checksum"], None, "missing",
                                    "deploy script of applied change %s is not in %s: restore it" % (entry["version"], directory)))
            continue
        with open(path, "rb") as handle:
            computed = sqitch_script_hash(handle.read())
        if entry["checksum"] and computed != entry["checksum"]:
            problems.append(problem(entry["version"], script, entry["checksum"], computed, "checksum_mismatch",
                                    "change %s was edited after it was deployed: %s has SHA-1 %s, the registry recorded "
                                    "%s; restore the deployed script (or rework the change with `sqitch rework`)"
                                    % (entry["version"], script, computed, entry["checksum"])))
    return problems


# --- shared helpers -----------------------------------------------------------------------------------------------

def problem(version, script, recorded, computed, kind, message):
    return {"version": version, "script": script, "recorded": recorded, "computed": computed, "problem": kind,
            "message": message}


def iso(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            return value.isoformat(timespec="seconds") + "Z"
        return value.isoformat(timespec="seconds")  # the tools write local time without a zone: keep it as it is
    return value


def quote_ident(name):
    """An SQL identifier in double quotes (PostgreSQL and the SQL standard)."""
    return '"%s"' % str(name).replace('"', '""')


# --- dialects -----------------------------------------------------------------------------------------------------

class PostgresDialect:
    """PostgreSQL through psycopg 3: a read-only session with a connect timeout and a statement timeout."""

    name = "postgresql"
    library = "psycopg"
    default_port = 5432
    default_schema = "public"

    def __init__(self, params):
        self.params = params
        try:
            import psycopg  # pylint: disable=import-outside-toplevel
            from psycopg import conninfo  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise DriverMissing("psycopg", exc)
        self.psycopg = psycopg
        self.conninfo = conninfo

    def secrets(self):
        secrets = [self.params.get("password")]
        if self.params.get("dsn"):
            secrets.append(self.params["dsn"])
            try:
                secrets.append(self.conninfo.conninfo_to_dict(self.params["dsn"]).get("password"))
            except self.psycopg.ProgrammingError:
                pass
        return [secret for secret in secrets if secret]

    def describe(self):
        """Where the database is, for messages: never the password."""
        params = dict(self.params)
        if params.get("dsn"):
            try:
                parsed = self.conninfo.conninfo_to_dict(params["dsn"])
            except self.psycopg.ProgrammingError:
                parsed = {}
            for key in ("host", "port", "dbname", "user", "service"):
                params[key] = params.get(key) or parsed.get(key)
        where = params.get("host") or "the local socket"
        if params.get("port"):
            where = "%s:%s" % (where, params["port"])
        text = "PostgreSQL at %s" % where
        if params.get("service"):
            text = "PostgreSQL service %s" % params["service"]
        if params.get("dbname"):
            text += ", database %s" % params["dbname"]
        if params.get("user"):
            text += ", user %s" % params["user"]
        return text

    def connect(self):
        params = self.params
        kwargs = {key: params[key] for key in ("host", "port", "dbname", "user", "password", "service") if params.get(key)}
        kwargs["connect_timeout"] = params["connect_timeout"]
        kwargs["application_name"] = "fleetops.release schema_info"
        # Read-only session, bounded statements: this module never writes and never waits for ever.
        kwargs["options"] = "-c default_transaction_read_only=on -c statement_timeout=%d -c lock_timeout=%d" % (
            params["query_timeout"] * 1000, params["query_timeout"] * 1000)
        try:
            return self.psycopg.connect(params.get("dsn") or "", autocommit=True, **kwargs)
        except self.psycopg.ProgrammingError as exc:
            raise SchemaError("invalid connection settings for %s: %s; check dsn, host, port and dbname"
                              % (self.describe(), scrub(exc, self.secrets())))
        except self.psycopg.Error as exc:
            raise self.connect_error(exc)

    def connect_error(self, exc):
        reason = scrub(" ".join(str(exc).split()) or type(exc).__name__, self.secrets())
        text = str(exc)
        if getattr(exc, "sqlstate", None) in ("28P01", "28000") or "password authentication failed" in text \
                or "no password supplied" in text or "authentication failed" in text:
            return SchemaError("%s refused the credentials (%s): check user and password (fleet_db.user, "
                               "fleet_db.password; the password is not shown)" % (self.describe(), reason))
        if getattr(exc, "sqlstate", None) == "3D000" or ("database" in text and "does not exist" in text):
            return SchemaError("%s: the database does not exist (%s): check dbname (fleet_db.dbname)"
                               % (self.describe(), reason))
        return SchemaError("cannot reach %s (%s): check host and port, that PostgreSQL runs and accepts connections "
                           "from this host (listen_addresses, pg_hba.conf), and the network in between "
                           "(connect_timeout=%ss)" % (self.describe(), reason, self.params["connect_timeout"]))

    @staticmethod
    def find_table(conn, schema, table):
        """(schema, table) as the database spells them, or None: an exact match first, then one that differs only in
        case (Liquibase creates DATABASECHANGELOG unquoted, so PostgreSQL folds it to lower case)."""
        rows = fetch(conn, "SELECT table_schema, table_name FROM information_schema.tables "
                           "WHERE lower(table_schema) = lower(%s) AND lower(table_name) = lower(%s)", (schema, table))
        for row in rows:
            if (row["table_schema"], row["table_name"]) == (schema, table):
                return schema, table
        return (rows[0]["table_schema"], rows[0]["table_name"]) if rows else None

    @staticmethod
    def qualified(schema, table):
        return "%s.%s" % (quote_ident(schema), quote_ident(table))

    def query_error(self, exc):
        return SchemaError("reading the schema history from %s failed: %s; check that the user may read the history "
                           "table (GRANT SELECT)" % (self.describe(), scrub(str(exc).strip(), self.secrets())))


DIALECTS = {"postgresql": PostgresDialect}


def fetch(conn, query, args=()):
    with conn.cursor() as cursor:
        cursor.execute(query, args)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


# --- the module's work --------------------------------------------------------------------------------------------

def missing_table(tool, dialect, schema, table):
    hints = {
        "flyway": "Flyway creates it at its first `flyway migrate` (or `flyway baseline` for an existing database)",
        "liquibase": "Liquibase creates it at its first `liquibase update`",
        "alembic": "Alembic creates it at its first `alembic upgrade` (or `alembic stamp`)",
        "sqitch": "Sqitch creates its registry at its first `sqitch deploy`",
    }
    what = "registry table %s.changes" % quote_ident(schema) if tool == "sqitch" else "history table %s" % (
        PostgresDialect.qualified(schema, table))
    option = "schema (the registry schema)" if tool == "sqitch" else "schema, history_table"
    return SchemaError("%s has no %s %s: %s. Check tool, dbname, %s, or migrate the database first"
                       % (dialect.describe(), TOOL_NAMES[tool], what, hints[tool], option))


def check_directory(directory, tool):
    if directory is not None and not os.path.isdir(directory):
        raise SchemaError("migrations_dir %s is not a directory: give the %s migrations of the release (%s)" % (
            directory, TOOL_NAMES[tool], {"flyway": "the folder of the V<version>__<description>.sql files",
                                          "liquibase": "the folder the changelog paths are relative to",
                                          "alembic": "the script directory, holding versions/",
                                          "sqitch": "the project folder, holding sqitch.plan and deploy/"}[tool]))


def schema_info(params, dialect=None):
    """Read the history of params['tool'] from the database; the module's result without 'changed'."""
    tool = check_tool(params["tool"])
    if params.get("dialect", "postgresql") not in DIALECTS:
        raise SchemaError("unknown database dialect %r: use one of %s" % (params["dialect"], ", ".join(DIALECTS)))
    if tool == "sqitch" and params.get("history_table"):
        raise SchemaError("history_table does not apply to Sqitch, whose registry is a schema of its own: name it "
                          "with schema (default %s)" % SQITCH_REGISTRY)
    directory = params.get("migrations_dir")
    check_directory(directory, tool)
    dialect = dialect or DIALECTS[params.get("dialect", "postgresql")](params)
    schema = params.get("schema") or (SQITCH_REGISTRY if tool == "sqitch" else dialect.default_schema)
    table = "changes" if tool == "sqitch" else params.get("history_table") or DEFAULT_TABLES[tool]
    conn = dialect.connect()
    try:
        found = dialect.find_table(conn, schema, table)
        if found is None:
            raise missing_table(tool, dialect, schema, table)
        schema, table = found
        reader = {"flyway": _read_flyway, "liquibase": _read_liquibase, "alembic": _read_alembic,
                  "sqitch": _read_sqitch}[tool]
        try:
            result = reader(conn, dialect, schema, table, params, directory)
        except dialect.psycopg.Error as exc:
            raise dialect.query_error(exc)
    finally:
        conn.close()
    result.update({"tool": tool, "dialect": dialect.name, "database": dialect.describe(),
                   "table": dialect.qualified(schema, table)})
    result.setdefault("pending", [])
    result.setdefault("current_tag", None)
    result.setdefault("graph", None)
    return result


FLYWAY_COLUMNS = ("installed_rank", "version", "description", "type", "script", "checksum", "installed_by",
                  "installed_on", "execution_time", "success")


def _read_flyway(conn, dialect, schema, table, params, directory):
    rows = fetch(conn, "SELECT %s FROM %s ORDER BY installed_rank" % (
        ", ".join(quote_ident(column) for column in FLYWAY_COLUMNS), dialect.qualified(schema, table)))
    applied, failed, current = flyway_history(rows)
    problems, pending = flyway_problems(applied, directory) if directory else ([], [])
    return {"current_version": current, "applied": applied, "failed_migrations": failed, "checksum_problems": problems,
            "pending": pending,
            "checksum_method": "recomputed: CRC32 of the script lines, as Flyway computes it" if directory else "not checked: no migrations_dir"}


def _read_liquibase(conn, dialect, schema, table, params, directory):
    rows = fetch(conn, "SELECT * FROM %s" % dialect.qualified(schema, table))
    applied, failed, current, tag = liquibase_history(rows)
    problems = liquibase_problems(applied, directory) if directory else []
    return {"current_version": current, "current_tag": tag, "applied": applied, "failed_migrations": failed,
            "checksum_problems": problems,
            "checksum_method": ("not recomputed (Liquibase's MD5SUM needs Liquibase's own serialisation of each changeset): "
                                "checked that each applied changeset's changelog exists, that formatted SQL changelogs "
                                "still hold it, and that no checksum was cleared") if directory else "not checked: no migrations_dir"}


def _read_alembic(conn, dialect, schema, table, params, directory):
    rows = fetch(conn, "SELECT version_num FROM %s ORDER BY version_num" % dialect.qualified(schema, table))
    heads = [row["version_num"] for row in rows]
    result = {"current_version": heads[0] if len(heads) == 1 else (",".join(heads) or None), "current_heads": heads,
              "failed_migrations": [], "checksum_problems": [], "checksum_method": "Alembic records no checksums"}
    if not directory:
        result["applied"] = [alembic_entry({"revision": head, "message": None}) for head in heads]
        return result
    graph, chain, problems = alembic_graph(alembic_revisions(directory), heads)
    by_name = {node["revision"]: node for node in graph["revisions"]}
    result.update({"graph": graph, "checksum_problems": problems,
                   "applied": [alembic_entry(by_name[name]) for name in chain],
                   "pending": [{"version": node["revision"], "description": node["message"], "script": node["path"]}
                               for node in graph["revisions"] if not node["applied"]]})
    return result


def alembic_entry(node):
    return {"version": node["revision"], "description": node.get("message"), "applied_at": None, "checksum": None,
            "success": True, "down_revision": node.get("down_revision"), "has_downgrade": node.get("has_downgrade"),
            "script": node.get("path")}


def _read_sqitch(conn, dialect, schema, table, params, directory):
    project = params.get("project")
    if directory and not project and os.path.isfile(os.path.join(directory, "sqitch.plan")):
        with open(os.path.join(directory, "sqitch.plan"), encoding="utf-8") as handle:
            project = sqitch_plan(handle.read())[0]
    registry = quote_ident(schema)
    where, args = ("WHERE c.project = %s", (project,)) if project else ("", ())
    rows = fetch(conn, "SELECT c.change_id, c.change, c.project, c.note, c.committed_at, c.committer_name, "
                       "c.script_hash, ARRAY(SELECT t.tag FROM %s.tags t WHERE t.change_id = c.change_id "
                       "ORDER BY t.committed_at) AS tags FROM %s.changes c %s ORDER BY c.committed_at, c.change_id"
                       % (registry, registry, where), args)
    applied = [{"version": row["change"], "description": row["note"], "applied_at": iso(row["committed_at"]),
                "checksum": row["script_hash"], "success": True, "change_id": row["change_id"],
                "project": row["project"], "tags": list(row["tags"] or []), "committed_by": row["committer_name"]}
               for row in rows]
    # A failed deploy leaves a "fail" event (Sqitch reverts the change): failed unless deployed again since.
    events = fetch(conn, "SELECT e.event, e.change_id, e.change, e.note, e.committed_at, e.project FROM %s.events e %s "
                         "ORDER BY e.committed_at" % (registry, where.replace("c.", "e.")), args)
    failed = {}
    for event in events:
        if event["event"] in ("fail", "deploy_fail"):
            failed[event["change"]] = {"version": event["change"], "description": event["note"],
                                       "applied_at": iso(event["committed_at"]), "checksum": None, "success": False,
                                       "change_id": event["change_id"], "project": event["project"], "tags": [],
                                       "committed_by": None}
        elif event["event"] == "deploy":
            failed.pop(event["change"], None)
    current = applied[-1]["version"] if applied else None
    tag = next((entry["tags"][-1] for entry in reversed(applied) if entry["tags"]), None)
    result = {"current_version": current, "current_tag": tag, "applied": applied, "failed_migrations": list(failed.values()),
              "checksum_problems": [], "project": project,
              "checksum_method": "recomputed: SHA-1 of each deploy script, as Sqitch records it" if directory else "not checked: no migrations_dir"}
    if directory:
        result["checksum_problems"] = sqitch_problems(applied, directory)
        plan = os.path.join(directory, "sqitch.plan")
        if os.path.isfile(plan):
            with open(plan, encoding="utf-8") as handle:
                planned = sqitch_plan(handle.read())[1]
            done = {entry["version"] for entry in applied}
            result["pending"] = [{"version": name, "description": None, "script": "deploy/%s.sql" % name}
                                 for name in planned if name not in done]
    return result
