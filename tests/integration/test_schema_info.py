# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleetops.release.schema_info against a real PostgreSQL (its own cluster, tests/db/pglib.py), run by ansible.

Alembic and Sqitch migrate the database for real, up and down. Flyway and Liquibase are Java tools that cannot be
installed on our machines: their history tables are created with the DDL the tools themselves run on PostgreSQL and
filled with the values they write, each migration's SQL being run for real beside its history row:

* Flyway: flyway/flyway flyway-core/src/main/resources/org/flywaydb/core/internal/database/postgresql/
  createMetaDataTable.sql (commit 0ffe1541625c); checksum: flyway-core .../resolver/ChecksumCalculator.java (CRC32 of
  each line without its line break, as a signed int); description: the file name's part after "__", "_" -> " ".
* Liquibase: liquibase/liquibase liquibase-standard/.../sqlgenerator/core/CreateDatabaseChangeLogTableGenerator.java
  (commit 295b76c36d8a; unquoted names, which PostgreSQL folds to lower case; "datetime" is TIMESTAMP WITHOUT TIME
  ZONE there), rows as StandardChangeLogHistoryService / MarkChangeSetRanGenerator write them (EXECTYPE EXECUTED,
  MD5SUM "9:<md5>", DESCRIPTION "sql" for a formatted SQL changeset, DEPLOYMENT_ID of 10 digits).

Every scenario is prepared in a database of its own, then all are read by ONE ansible-playbook -vvv run (each
ansible start costs seconds), whose whole output is checked for the password. Needs no test fleet, only the
cluster: marked ``fleet`` so that ``make test-fleet`` runs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "db"))
sys.path.insert(0, str(HERE.parent / "fleet"))

import fleetlib  # noqa: E402  pylint: disable=wrong-import-position
import pglib  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.fleet

PASSWORD = "Sch3ma-Pa55-7f1c"  # distinctive, so that a leak anywhere in the output is found
MODULE = "fleetops.release.schema_info"
BIN = Path(sys.executable).parent
TOOL_TIMEOUT = 120


@pytest.fixture(scope="module")
def cluster():
    handle = pglib.Cluster().start()
    yield handle
    handle.stop()


def run(args, cwd, env=None):
    return subprocess.run(args, cwd=str(cwd), env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT, check=False)


def must(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def schema_infos(work, calls, verbose=False):
    """Run the module once per call, in order, in one ansible-playbook run on localhost (local connection).

    calls: [(name, arguments)], where ``_check: true`` asks for check mode and ``_python`` for another interpreter.
    Returns ({name: result}, the process)."""
    results = work / "results.json"
    tasks = []
    for index, (name, call) in enumerate(calls):
        task = {"name": name, MODULE: {key: value for key, value in call.items() if not key.startswith("_")},
                "register": "r%d" % index, "ignore_errors": True, "check_mode": bool(call.get("_check"))}
        if call.get("_python"):
            task["vars"] = {"ansible_python_interpreter": call["_python"]}
        tasks.append(task)
    tasks.append({"name": "Save the results", "check_mode": False, "ansible.builtin.copy": {
        "dest": str(results), "mode": "0600",
        "content": "{{ [%s] | to_json }}" % ", ".join("r%d" % index for index in range(len(calls)))}})
    playbook = work / "schema_info.yml"
    # The interpreter as a play variable, so that a task's own can override it (an extra var could not be).
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks,
                                     "vars": {"ansible_python_interpreter": sys.executable}}]), encoding="utf-8")
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)] + (["-vvv"] if verbose else [])
    env = {"ANSIBLE_CONFIG": str(fleetlib.REPO_ROOT / "ansible.cfg"), "PATH": "%s:%s" % (BIN, os.environ["PATH"])}
    proc = run(cmd, fleetlib.REPO_ROOT, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = json.loads(results.read_text(encoding="utf-8"))
    return dict(zip([name for name, call in calls], found)), proc


class Scenarios:
    """The databases, directories and module calls of every scenario, and what the preparation saw."""

    def __init__(self, cluster, work):
        self.cluster = cluster
        self.work = work
        self.calls = []
        self.facts = {}
        cluster.psql("CREATE ROLE shop LOGIN PASSWORD '%s'" % PASSWORD)

    def database(self, name):
        self.cluster.psql("CREATE DATABASE %s OWNER shop" % name)
        return {"host": self.cluster.address, "port": self.cluster.port, "dbname": name, "user": "shop",
                "password": PASSWORD}

    def psql(self, sql, dbname):
        return self.cluster.psql(sql, dbname=dbname, user="shop")

    def columns(self, dbname, table):
        return self.psql("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns "
                         "WHERE table_name = '%s'" % table, dbname).strip()

    def call(self, name, **args):
        self.calls.append((name, args))


@pytest.fixture(scope="module")
def read(cluster, tmp_path_factory):
    """Every scenario prepared, then read: (results by call name, the run's output, the preparation's facts)."""
    scenarios = Scenarios(cluster, tmp_path_factory.mktemp("schema"))
    for prepare in (prepare_flyway, prepare_liquibase, prepare_alembic, prepare_sqitch, prepare_faults):
        prepare(scenarios)
    results, proc = schema_infos(scenarios.work, scenarios.calls, verbose=True)
    return results, proc.stdout + proc.stderr, scenarios.facts


# --- Flyway -------------------------------------------------------------------------------------------------------

FLYWAY_DDL = """
CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");
"""

FLYWAY_SCRIPTS = {
    "V1__Create_person.sql": "CREATE TABLE person (\r\n    id integer PRIMARY KEY,\r\n    name text NOT NULL\r\n);\r\n",
    "V1_1__Add_email.sql": "ALTER TABLE person ADD COLUMN email text;\n",
    # Non-transactional, so a failure is recorded with success = false (in a transaction PostgreSQL rolls it back
    # and Flyway records nothing).
    "V2__Index_email.sql": "CREATE INDEX CONCURRENTLY person_mail_idx ON person (mail);\n",
    "V3__Add_phone.sql": "ALTER TABLE person ADD COLUMN phone text;\n",
}


def java_crc32(text):
    """Flyway's checksum, computed here independently of the module: CRC32 over the concatenated line contents."""
    lines = text.replace("\r\n", "\n").split("\n")
    value = zlib.crc32("".join(lines).encode("utf-8"))
    return value - 2 ** 32 if value >= 2 ** 31 else value


def prepare_flyway(scenarios):
    """Apply V1, V1.1 and (failing) V2 the way Flyway does: run each script, then record it."""
    db = scenarios.database("flyway")
    migrations = scenarios.work / "flyway"
    migrations.mkdir()
    for name, text in FLYWAY_SCRIPTS.items():
        (migrations / name).write_bytes(text.encode("utf-8"))
    scenarios.psql(FLYWAY_DDL, "flyway")
    for rank, name in enumerate(list(FLYWAY_SCRIPTS)[:3], start=1):
        text = FLYWAY_SCRIPTS[name]
        try:
            scenarios.psql(text, "flyway")
            success = "true"
        except RuntimeError:
            success = "false"
        version, description = name[1:-4].split("__")
        scenarios.psql("INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, "
                       "installed_by, execution_time, success) VALUES (%d, '%s', '%s', 'SQL', '%s', %d, current_user, 7, %s)"
                       % (rank, version.replace("_", "."), description.replace("_", " "), name, java_crc32(text), success),
                       "flyway")
    # Beside the release's directory: one where an applied migration was edited, one where one was removed.
    edited, removed = scenarios.work / "flyway-edited", scenarios.work / "flyway-removed"
    shutil.copytree(migrations, edited)
    shutil.copytree(migrations, removed)
    (edited / "V1_1__Add_email.sql").write_text("ALTER TABLE person ADD COLUMN email varchar(320);\n", encoding="utf-8")
    (removed / "V1__Create_person.sql").unlink()
    args = dict(db, tool="flyway", migrations_dir=str(migrations))
    scenarios.call("flyway", **args)
    scenarios.call("flyway edited", **dict(args, migrations_dir=str(edited), _check=True))
    scenarios.call("flyway removed", **dict(args, migrations_dir=str(removed)))


def test_flyway_history_and_failed_entry(read):
    result = read[0]["flyway"]
    assert not result["failed"] and not result["changed"], result
    assert result["current_version"] == "1.1"
    assert [(e["version"], e["description"], e["success"]) for e in result["applied"]] == [
        ("1", "Create person", True), ("1.1", "Add email", True), ("2", "Index email", False)]
    assert [e["script"] for e in result["failed_migrations"]] == ["V2__Index_email.sql"]
    assert result["checksum_problems"] == []  # CRLF in V1: Flyway's checksum does not depend on line endings
    assert [p["version"] for p in result["pending"]] == ["2", "3"]
    assert result["table"] == '"public"."flyway_schema_history"'


def test_flyway_checksum_mismatch_and_missing_script(read):
    edited, removed = read[0]["flyway edited"], read[0]["flyway removed"]
    assert not edited["failed"] and not edited["changed"], edited  # check mode: it only reads
    assert [(p["version"], p["problem"]) for p in edited["checksum_problems"]] == [("1.1", "checksum_mismatch")]
    problem = edited["checksum_problems"][0]
    assert problem["recorded"] == java_crc32(FLYWAY_SCRIPTS["V1_1__Add_email.sql"]) != problem["computed"]
    assert "changed after it was applied" in problem["message"]
    assert [(p["version"], p["problem"]) for p in removed["checksum_problems"]] == [("1", "missing")]


# --- Liquibase ----------------------------------------------------------------------------------------------------

LIQUIBASE_DDL = """
CREATE TABLE public.databasechangelog (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL,
    FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED TIMESTAMP WITHOUT TIME ZONE NOT NULL, ORDEREXECUTED INTEGER NOT NULL,
    EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35), DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255),
    TAG VARCHAR(255), LIQUIBASE VARCHAR(20), CONTEXTS VARCHAR(255), LABELS VARCHAR(255), DEPLOYMENT_ID VARCHAR(10),
    EXECUTION_MILLISECONDS INTEGER);
CREATE TABLE public.databasechangeloglock (ID INTEGER NOT NULL, LOCKED BOOLEAN NOT NULL,
    LOCKGRANTED TIMESTAMP WITHOUT TIME ZONE, LOCKEDBY VARCHAR(255), CONSTRAINT databasechangeloglock_pkey PRIMARY KEY (ID));
INSERT INTO public.databasechangeloglock (ID, LOCKED) VALUES (1, FALSE);
"""

LIQUIBASE_CHANGELOG = """--liquibase formatted sql

--changeset alice:1
CREATE TABLE person (id integer PRIMARY KEY, name text NOT NULL);
--rollback DROP TABLE person;

--changeset alice:2
ALTER TABLE person ADD COLUMN email text;
--rollback ALTER TABLE person DROP COLUMN email;

--changeset bob:3
ALTER TABLE person ADD COLUMN phone text;
--rollback ALTER TABLE person DROP COLUMN phone;
"""


def prepare_liquibase(scenarios):
    """Changesets alice:1 and alice:2 applied and recorded as Liquibase does, tagged v2; a second database where a
    checksum was cleared, read with a changelog that lost alice:2."""
    changelog_dir = scenarios.work / "liquibase"
    (changelog_dir / "db").mkdir(parents=True)
    (changelog_dir / "db" / "changelog.sql").write_text(LIQUIBASE_CHANGELOG, encoding="utf-8")
    changed_dir = scenarios.work / "liquibase-changed"
    (changed_dir / "db").mkdir(parents=True)
    (changed_dir / "db" / "changelog.sql").write_text(LIQUIBASE_CHANGELOG.replace("--changeset alice:2", "--changeset alice:2b"),
                                                      encoding="utf-8")
    for dbname, directory in (("liquibase", changelog_dir), ("liquibase_changed", changed_dir)):
        db = scenarios.database(dbname)
        scenarios.psql(LIQUIBASE_DDL, dbname)
        for order, block in enumerate(LIQUIBASE_CHANGELOG.split("--changeset ")[1:3], start=1):
            author, changeset = block.split("\n", 1)[0].split(":")
            scenarios.psql(block.split("\n", 1)[1].split("--rollback")[0], dbname)
            scenarios.psql("INSERT INTO databasechangelog (ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED, EXECTYPE, "
                           "MD5SUM, DESCRIPTION, COMMENTS, TAG, LIQUIBASE, CONTEXTS, LABELS, DEPLOYMENT_ID, "
                           "EXECUTION_MILLISECONDS) VALUES ('%s', '%s', 'db/changelog.sql', now(), %d, 'EXECUTED', '9:%s', "
                           "'sql', '', NULL, '4.31.1', NULL, NULL, '4830571234', 5)"
                           % (changeset, author, order, hashlib.md5(block.encode()).hexdigest()),  # nosec - a test value
                           dbname)
        # `liquibase tag v2` sets TAG on the newest row.
        scenarios.psql("UPDATE databasechangelog SET TAG = 'v2' WHERE ORDEREXECUTED = 2", dbname)
        scenarios.call(dbname, **dict(db, tool="liquibase", migrations_dir=str(directory)))
    scenarios.psql("UPDATE databasechangelog SET MD5SUM = NULL WHERE ID = '1'", "liquibase_changed")


def test_liquibase_history_and_tag(read):
    result = read[0]["liquibase"]
    assert not result["failed"], result
    assert (result["current_version"], result["current_tag"]) == ("2", "v2")
    assert [(e["version"], e["author"], e["exectype"]) for e in result["applied"]] == [
        ("1", "alice", "EXECUTED"), ("2", "alice", "EXECUTED")]
    assert all(e["checksum"].startswith("9:") for e in result["applied"])
    assert result["checksum_problems"] == [] and result["failed_migrations"] == []
    assert result["table"] == '"public"."databasechangelog"'  # found although asked for in another case
    assert "not recomputed" in result["checksum_method"]


def test_liquibase_removed_changeset_and_cleared_checksum(read):
    result = read[0]["liquibase_changed"]
    assert sorted((p["version"], p["problem"]) for p in result["checksum_problems"]) == [
        ("1", "checksum_cleared"), ("2", "missing")]


# --- Alembic ------------------------------------------------------------------------------------------------------

ALEMBIC_REVISIONS = {
    "0001_create_person.py": ('"""create person"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
                              'revision = "0001"\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n\n\n'
                              'def upgrade():\n    op.create_table("person", sa.Column("id", sa.Integer, primary_key=True),'
                              ' sa.Column("name", sa.Text, nullable=False))\n\n\n'
                              'def downgrade():\n    op.drop_table("person")\n'),
    "0002_add_email.py": ('"""add email"""\nfrom typing import Sequence, Union\n\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
                          'revision: str = "0002"\ndown_revision: Union[str, None] = "0001"\n'
                          'branch_labels: Union[str, Sequence[str], None] = None\n'
                          'depends_on: Union[str, Sequence[str], None] = None\n\n\n'
                          'def upgrade() -> None:\n    op.add_column("person", sa.Column("email", sa.Text))\n\n\n'
                          'def downgrade() -> None:\n    """Drop it again."""\n    op.drop_column("person", "email")\n'),
    "0003_backfill.py": ('"""backfill names"""\nfrom alembic import op\n\n'
                         'revision = "0003"\ndown_revision = "0002"\nbranch_labels = None\ndepends_on = None\n\n\n'
                         'def upgrade():\n    op.execute("UPDATE person SET name = initcap(name)")\n\n\n'
                         'def downgrade():\n    pass\n'),
}


def prepare_alembic(scenarios):
    """A real Alembic project: upgrade head on one database; upgrade head then downgrade 0001 on another."""
    project = scenarios.work / "alembic"
    project.mkdir()
    must(run([str(BIN / "alembic"), "init", "-t", "generic", str(project / "migrations")], project))
    for name, text in ALEMBIC_REVISIONS.items():
        (project / "migrations" / "versions" / name).write_text(text, encoding="utf-8")
    # The script directory of an older release, which does not know the newest revisions.
    older = scenarios.work / "alembic-older"
    shutil.copytree(project / "migrations", older)
    for name in ("0002_add_email.py", "0003_backfill.py"):
        (older / "versions" / name).unlink()
    ini = (project / "alembic.ini").read_text(encoding="utf-8").splitlines()
    for dbname in ("alembic_up", "alembic_down"):
        db = scenarios.database(dbname)
        url = scenarios.cluster.url(dbname, "shop", PASSWORD, driver="postgresql+psycopg")
        config = project / ("%s.ini" % dbname)
        config.write_text("\n".join("sqlalchemy.url = %s" % url if line.startswith("sqlalchemy.url") else line
                                    for line in ini) + "\n", encoding="utf-8")
        must(run([str(BIN / "alembic"), "-c", str(config), "upgrade", "head"], project))
        scenarios.facts[dbname + " columns after upgrade"] = scenarios.columns(dbname, "person")
        scenarios.call(dbname, **dict(db, tool="alembic", migrations_dir=str(project / "migrations")))
    must(run([str(BIN / "alembic"), "-c", str(project / "alembic_down.ini"), "downgrade", "0001"], project))
    scenarios.facts["alembic_down columns after downgrade"] = scenarios.columns("alembic_down", "person")
    scenarios.call("alembic older scripts", **dict(db, dbname="alembic_up", tool="alembic", migrations_dir=str(older)))


def test_alembic_upgrade_and_revision_graph(read):
    up = read[0]["alembic_up"]
    assert not up["failed"], up
    assert read[2]["alembic_up columns after upgrade"] == "id,name,email"
    assert (up["current_version"], up["current_heads"]) == ("0003", ["0003"])
    assert [(e["version"], e["description"], e["has_downgrade"]) for e in up["applied"]] == [
        ("0001", "create person", True), ("0002", "add email", True), ("0003", "backfill names", False)]
    graph = up["graph"]
    assert (graph["heads"], graph["bases"]) == (["0003"], ["0001"])
    assert [(n["revision"], n["down_revision"], n["applied"]) for n in graph["revisions"]] == [
        ("0001", [], True), ("0002", ["0001"], True), ("0003", ["0002"], True)]
    assert up["pending"] == [] and up["checksum_problems"] == []


def test_alembic_downgrade(read):
    down = read[0]["alembic_down"]
    assert read[2]["alembic_down columns after downgrade"] == "id,name"  # the real downgrade dropped the column
    assert down["current_version"] == "0001"
    assert [e["version"] for e in down["applied"]] == ["0001"]
    assert [p["version"] for p in down["pending"]] == ["0002", "0003"]


def test_alembic_revision_unknown_to_the_scripts(read):
    older = read[0]["alembic older scripts"]
    assert [(p["version"], p["problem"]) for p in older["checksum_problems"]] == [("0003", "missing")]
    assert "not in the script directory" in older["checksum_problems"][0]["message"]


# --- Sqitch -------------------------------------------------------------------------------------------------------

def sqitch_project(directory, changes):
    """The files `sqitch init shop --engine pg`, `sqitch add` and `sqitch tag` write (written here, as each sqitch
    start costs time); deploy and revert are Sqitch's own. changes: [(name or @tag, note, deploy, revert)]."""
    directory.mkdir()
    (directory / "sqitch.conf").write_text("[core]\n\tengine = pg\n", encoding="utf-8")
    lines = ["%syntax-version=1.0.0", "%project=shop", ""]
    for index, (name, note, deploy, revert) in enumerate(changes):
        lines.append("%s 2026-12-01T10:00:%02dZ Fleet Tests <tests@example.invalid> # %s" % (name, index, note))
        if not name.startswith("@"):
            for kind, text in (("deploy", deploy), ("revert", revert)):
                (directory / kind).mkdir(exist_ok=True)
                (directory / kind / ("%s.sql" % name)).write_text(text, encoding="utf-8")
    (directory / "sqitch.plan").write_text("\n".join(lines) + "\n", encoding="utf-8")


SQITCH_CHANGES = [
    ("person", "Add person", "BEGIN;\nCREATE TABLE person (id integer PRIMARY KEY, name text);\nCOMMIT;\n",
     "BEGIN;\nDROP TABLE person;\nCOMMIT;\n"),
    ("@v1", "Release 1", None, None),
    ("email", "Add email", "BEGIN;\nALTER TABLE person ADD COLUMN email text;\nCOMMIT;\n",
     "BEGIN;\nALTER TABLE person DROP COLUMN email;\nCOMMIT;\n"),
]


def prepare_sqitch(scenarios):
    """sqitch deploy on one database; deploy then revert --to @v1 on another; on a third a deploy that fails at a
    broken change, read with an edited deploy script."""
    env = {"HOME": str(scenarios.work), "SQITCH_FULLNAME": "Fleet Tests", "SQITCH_EMAIL": "tests@example.invalid"}

    def sqitch(project, *args):
        return run(["sqitch", "-C", str(project), *args], scenarios.work, env)

    def target(dbname):
        return "db:pg://shop:%s@%s:%d/%s" % (PASSWORD, scenarios.cluster.address, scenarios.cluster.port, dbname)

    project = scenarios.work / "sqitch"
    sqitch_project(project, SQITCH_CHANGES)
    broken = scenarios.work / "sqitch-broken"
    broken_change = ("broken", "Broken change", "ALTER TABLE nowhere ADD COLUMN x int;\n", "SELECT 1;\n")
    sqitch_project(broken, SQITCH_CHANGES + [broken_change])
    databases = {dbname: scenarios.database(dbname) for dbname in ("sqitch_deployed", "sqitch_reverted", "sqitch_failed")}
    must(sqitch(project, "deploy", target("sqitch_deployed")))
    must(sqitch(project, "deploy", target("sqitch_reverted")))
    must(sqitch(project, "revert", "-y", "--to", "@v1", target("sqitch_reverted")))
    scenarios.facts["sqitch_reverted columns"] = scenarios.columns("sqitch_reverted", "person")
    must(sqitch(project, "deploy", "--to", "@v1", target("sqitch_failed")))
    scenarios.facts["sqitch broken deploy"] = sqitch(broken, "deploy", target("sqitch_failed")).returncode
    # A deployed script edited afterwards.
    (broken / "deploy" / "person.sql").write_text("BEGIN;\nCREATE TABLE person (id bigint PRIMARY KEY, name text);\nCOMMIT;\n",
                                                  encoding="utf-8")
    for dbname, directory in (("sqitch_deployed", project), ("sqitch_reverted", project), ("sqitch_failed", broken)):
        scenarios.call(dbname, **dict(databases[dbname], tool="sqitch", migrations_dir=str(directory)))


def test_sqitch_deploy(read):
    deployed = read[0]["sqitch_deployed"]
    assert not deployed["failed"], deployed
    assert (deployed["current_version"], deployed["current_tag"], deployed["project"]) == ("email", "@v1", "shop")
    assert [(e["version"], e["description"], e["tags"]) for e in deployed["applied"]] == [
        ("person", "Add person", ["@v1"]), ("email", "Add email", [])]
    assert deployed["checksum_problems"] == [] and deployed["failed_migrations"] == [] and deployed["pending"] == []
    assert deployed["table"] == '"sqitch"."changes"'


def test_sqitch_revert(read):
    reverted = read[0]["sqitch_reverted"]
    assert read[2]["sqitch_reverted columns"] == "id,name"
    assert (reverted["current_version"], reverted["current_tag"]) == ("person", "@v1")
    assert [p["version"] for p in reverted["pending"]] == ["email"]


def test_sqitch_failed_deploy_and_edited_script(read):
    failed = read[0]["sqitch_failed"]
    assert read[2]["sqitch broken deploy"] != 0
    assert [e["version"] for e in failed["failed_migrations"]] == ["broken"]
    # Sqitch's default deploy mode (all) reverted email too, which the failed deploy had brought.
    assert failed["current_version"] == "person"
    assert [(p["version"], p["problem"]) for p in failed["checksum_problems"]] == [("person", "checksum_mismatch")]


# --- faults -------------------------------------------------------------------------------------------------------

def prepare_faults(scenarios):
    empty = scenarios.database("empty")
    venv = scenarios.work / "bare"  # a Python without psycopg
    must(run([sys.executable, "-m", "venv", "--without-pip", str(venv)], scenarios.work))
    assert run([str(venv / "bin" / "python"), "-c", "import psycopg"], scenarios.work).returncode != 0
    scenarios.facts["unreachable port"] = port = pglib.free_port()
    scenarios.call("unreachable", **dict(empty, tool="flyway", port=port, connect_timeout=3))
    scenarios.call("wrong password", **dict(empty, tool="flyway", password="Wr0ng-" + PASSWORD))
    scenarios.call("no flyway table", **dict(empty, tool="flyway", schema="app"))
    scenarios.call("no alembic table, dsn", tool="alembic",
                   dsn="host=%(host)s port=%(port)d dbname=empty user=shop password=%(password)s" % empty)
    scenarios.call("no sqitch registry", **dict(empty, tool="sqitch"))
    scenarios.call("unknown tool", **dict(empty, tool="redgate"))
    scenarios.call("no driver", **dict(empty, tool="flyway", _python=str(venv / "bin" / "python")))


def test_password_never_shown(read):
    """ansible-playbook -vvv prints module arguments and results in full: the password is in none of it."""
    results, output, facts = read
    assert "Wr0ng-" not in output and PASSWORD not in output and PASSWORD not in json.dumps(results)
    assert "refused the credentials" in output  # the output is the run's, not an empty one


def test_unreachable(read):
    result = read[0]["unreachable"]
    assert result["failed"] and "cannot reach PostgreSQL at 127.0.0.1:%d" % read[2]["unreachable port"] in result["msg"]
    assert "check host and port" in result["msg"]


def test_wrong_password(read):
    result = read[0]["wrong password"]
    assert result["failed"] and "refused the credentials" in result["msg"] and "check user and password" in result["msg"]


def test_history_table_missing(read):
    flyway, alembic, sqitch = (read[0][name] for name in ("no flyway table", "no alembic table, dsn", "no sqitch registry"))
    assert flyway["failed"] and 'has no Flyway history table "app"."flyway_schema_history"' in flyway["msg"]
    assert "Check tool, dbname, schema, history_table" in flyway["msg"]
    assert alembic["failed"] and 'has no Alembic history table "public"."alembic_version"' in alembic["msg"]
    assert "database empty, user shop" in alembic["msg"]  # where, from the DSN, without its password
    assert sqitch["failed"] and 'has no Sqitch registry table "sqitch".changes' in sqitch["msg"]


def test_unknown_tool(read):
    result = read[0]["unknown tool"]
    assert result["failed"] and "value of tool must be one of: flyway, liquibase, alembic, sqitch, got: redgate" in result["msg"]


def test_missing_driver_names_the_library(read):
    result = read[0]["no driver"]
    assert result["failed"] and "psycopg" in result["msg"] and "pip install 'psycopg[binary]'" in result["msg"], result
