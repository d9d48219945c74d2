# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pure parts of module_utils/_schema.py: what each tool's history means, checksums, Alembic's graph."""

from __future__ import annotations

import datetime
import zlib

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _schema
from ansible_collections.fleetops.release.plugins.module_utils._schema import SchemaError

BASE = {"tool": "flyway", "dialect": "postgresql", "host": "127.0.0.1", "port": 5432, "dbname": "shop", "user": "shop",
        "password": "s3cret-pw", "dsn": None, "service": None, "connect_timeout": 5, "query_timeout": 5, "schema": None,
        "history_table": None, "migrations_dir": None, "project": None}


# --- Flyway -------------------------------------------------------------------------------------------------------

def test_flyway_checksum_is_crc32_of_the_lines_as_a_signed_int():
    # zlib.crc32(b"a") is 0xe8b7be43, which Java's (int) cast makes negative.
    assert _schema.flyway_checksum(b"a\n") == 0xE8B7BE43 - 2 ** 32
    assert _schema.flyway_checksum(b"ab\ncd\n") == zlib.crc32(b"abcd") - 2 ** 32  # 0xed82cd11, negative too


def test_flyway_checksum_ignores_line_endings_and_the_bom():
    lf = _schema.flyway_checksum(b"CREATE TABLE t (\n  id int\n);\n")
    assert lf == _schema.flyway_checksum(b"CREATE TABLE t (\r\n  id int\r\n);\r\n")
    assert lf == _schema.flyway_checksum(b"CREATE TABLE t (\r  id int\r);")
    assert lf == _schema.flyway_checksum("\ufeffCREATE TABLE t (\n  id int\n);\n".encode("utf-8"))
    # ... but not inner blank lines: readLine returns them, empty, and they change nothing; content does.
    assert lf != _schema.flyway_checksum(b"CREATE TABLE t (\n  id bigint\n);\n")


def test_split_lines_like_readline():
    assert _schema.split_lines("a\r\nb\rc\nd") == ["a", "b", "c", "d"]
    assert _schema.split_lines("a\n\n") == ["a", ""]
    assert _schema.split_lines("") == []


@pytest.mark.parametrize("name, expected", [
    ("V1__Create_person.sql", ("V", "1", "Create person")),
    ("V1_1__Add_email.sql", ("V", "1.1", "Add email")),
    ("V2.0.1__x.sql", ("V", "2.0.1", "x")),
    ("U3__Undo.sql", ("U", "3", "Undo")),
    ("R__Views.sql", ("R", None, "Views")),
    ("V__no_version.sql", None),
    ("README.sql", None),
    ("V1__x.txt", None),
])
def test_parse_flyway_filename(name, expected):
    assert _schema.parse_flyway_filename(name) == expected


def test_flyway_version_order():
    key = _schema.flyway_version_key
    assert key("1.0") == key("1") == key("1.0.0")
    assert key("1.10") > key("1.9") > key("1.1") > key("1")
    assert key("2") > key("1.99")


def flyway_row(rank, version, success=True, kind="SQL", checksum=1):
    return {"installed_rank": rank, "version": version, "description": "d%s" % rank, "type": kind,
            "script": "V%s__d.sql" % version, "checksum": checksum, "installed_by": "shop",
            "installed_on": datetime.datetime(2026, 12, 1, 10, 0, rank), "execution_time": 3, "success": success}


def test_flyway_history_current_failed_and_undo():
    rows = [flyway_row(3, "2"), flyway_row(1, "1"), flyway_row(4, "10", success=False),
            flyway_row(0, None, kind="SCHEMA", checksum=None), flyway_row(2, "1.1")]
    applied, failed, current = _schema.flyway_history(rows)
    assert [entry["installed_rank"] for entry in applied] == [0, 1, 2, 3, 4]
    assert current == "2"  # 10 failed
    assert [entry["version"] for entry in failed] == ["10"] and failed[0]["success"] is False
    assert applied[1]["applied_at"] == "2026-12-01T10:00:01"
    undone, failed, current = _schema.flyway_history(rows + [flyway_row(5, "2", kind="UNDO_SQL")])
    assert current == "1.1" and len(undone) == 6 and len(failed) == 1
    assert _schema.flyway_history([]) == ([], [], None)


def test_flyway_problems(tmp_path):
    (tmp_path / "V1__a.sql").write_bytes(b"select 1;\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "V2__b.sql").write_bytes(b"select 2;\n")
    (tmp_path / "V3__c.sql").write_bytes(b"select 3;\n")
    (tmp_path / "R__views.sql").write_bytes(b"select 4;\n")
    applied = _schema.flyway_history([
        flyway_row(1, "1", checksum=_schema.flyway_checksum(b"select 1;\n")),
        flyway_row(2, "2", checksum=12345),
        flyway_row(3, "4", checksum=1),
        dict(flyway_row(4, None, checksum=999), script="R__views.sql"),  # repeatables change on purpose
    ])[0]
    problems, pending = _schema.flyway_problems(applied, str(tmp_path))
    assert [(p["version"], p["problem"]) for p in problems] == [("2", "checksum_mismatch"), ("4", "missing")]
    assert problems[0]["script"] == "sub/V2__b.sql" and problems[0]["recorded"] == 12345
    assert "flyway repair" in problems[1]["message"]
    assert pending == [{"version": "3", "description": "c", "script": "V3__c.sql"}]


# --- Liquibase ----------------------------------------------------------------------------------------------------

def liquibase_row(order, changeset, exectype="EXECUTED", tag=None, when=1):
    return {"ID": changeset, "AUTHOR": "alice", "FILENAME": "db/changelog.sql", "DATEEXECUTED":
            datetime.datetime(2026, 12, 1, 10, 0, when), "ORDEREXECUTED": order, "EXECTYPE": exectype,
            "MD5SUM": "9:abc", "DESCRIPTION": "sql", "COMMENTS": "", "TAG": tag, "LIQUIBASE": "4.31.1",
            "DEPLOYMENT_ID": "4830571234"}


def test_liquibase_history_order_tags_and_failures():
    rows = [liquibase_row(2, "2", tag="v2"), liquibase_row(1, "1"), liquibase_row(1, "3", exectype="FAILED", when=2),
            liquibase_row(2, "4", exectype="MARK_RAN", when=2)]
    applied, failed, current, tag = _schema.liquibase_history(rows)
    assert [entry["version"] for entry in applied] == ["1", "2", "3", "4"]  # DATEEXECUTED, then ORDEREXECUTED
    assert [entry["version"] for entry in failed] == ["3"]
    assert (current, tag) == ("4", "v2")
    assert applied[0]["checksum"] == "9:abc" and applied[0]["author"] == "alice"


def test_liquibase_sql_changesets():
    text = "--liquibase formatted sql\n\n--changeset alice:1\nselect 1;\n-- changeset \"bob smith\":two runOnChange:true\n"
    assert _schema.liquibase_sql_changesets(text) == [("alice", "1"), ("bob smith", "two")]
    assert _schema.liquibase_sql_changesets("<databaseChangeLog/>") is None


def test_liquibase_problems(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "changelog.sql").write_text("--liquibase formatted sql\n--changeset alice:1\nselect 1;\n",
                                                   encoding="utf-8")
    applied = _schema.liquibase_history([
        liquibase_row(1, "1"), liquibase_row(2, "2"), dict(liquibase_row(3, "3"), FILENAME="classpath:gone.xml"),
        dict(liquibase_row(4, "1"), MD5SUM=None, ID="1", FILENAME="db/changelog.sql")])[0]
    problems = _schema.liquibase_problems(applied, str(tmp_path))
    assert [(p["version"], p["problem"]) for p in problems] == [
        ("2", "missing"), ("3", "missing"), ("1", "checksum_cleared")]
    assert "no longer in db/changelog.sql" in problems[0]["message"]
    assert "changelog classpath:gone.xml" in problems[1]["message"]


# --- Alembic ------------------------------------------------------------------------------------------------------

REVISION = '''"""{message}

Revision ID: {revision}
"""
from alembic import op

revision{annotation} = {revision!r}
down_revision = {down!r}


def upgrade():
    op.execute("select 1")


def downgrade():
{downgrade}
'''


def revision_source(revision, down, downgrade="    op.execute('select 2')", message="a change", annotation=""):
    return REVISION.format(revision=revision, down=down, downgrade=downgrade, message=message, annotation=annotation)


@pytest.mark.parametrize("body, expected", [
    ("    op.execute('select 2')", True),
    ("    pass", False),
    ('    """Nothing to undo."""\n    pass', False),
    ("    ...", False),
    ("    raise NotImplementedError()", False),
    ("    raise NotImplementedError", False),
    ("    # only a comment\n    pass", False),
    ("    raise RuntimeError('no')", True),
])
def test_downgrade_that_does_something(body, expected):
    info = _schema.parse_alembic_revision(revision_source("a1", None, downgrade=body))
    assert info["has_downgrade"] is expected


def test_parse_alembic_revision_fields():
    info = _schema.parse_alembic_revision(revision_source("m1", ("a1", "b1"), message="merge heads", annotation=": str"))
    assert (info["revision"], info["down_revision"], info["message"]) == ("m1", ["a1", "b1"], "merge heads")
    assert _schema.parse_alembic_revision("x = 1\n") is None  # not a revision file
    without = _schema.parse_alembic_revision("revision = 'a'\ndown_revision = None\n")
    assert without["has_downgrade"] is False and without["down_revision"] == []
    with pytest.raises(SchemaError, match="cannot read Alembic revision bad.py"):
        _schema.parse_alembic_revision("revision = (", "bad.py")


def test_alembic_graph_with_a_merge(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    for revision, down in (("a1", None), ("b1", "a1"), ("c1", "a1"), ("m1", ("b1", "c1")), ("d1", "m1")):
        (versions / ("%s.py" % revision)).write_text(revision_source(revision, down), encoding="utf-8")
    revisions = _schema.alembic_revisions(str(tmp_path))
    graph, chain, problems = _schema.alembic_graph(revisions, ["m1"])
    assert (graph["heads"], graph["bases"]) == (["d1"], ["a1"])
    assert chain[0] == "a1" and chain[-1] == "m1" and set(chain) == {"a1", "b1", "c1", "m1"}
    assert [node["revision"] for node in graph["revisions"] if not node["applied"]] == ["d1"]
    assert problems == []
    chain, problems = _schema.alembic_graph(revisions, ["zz"])[1:]
    assert chain == [] and [(p["version"], p["problem"]) for p in problems] == [("zz", "missing")]


def test_alembic_revision_defined_twice(tmp_path):
    for name in ("one.py", "two.py"):
        (tmp_path / name).write_text(revision_source("a1", None), encoding="utf-8")
    with pytest.raises(SchemaError, match="Alembic revision a1 is defined twice"):
        _schema.alembic_revisions(str(tmp_path))


# --- Sqitch -------------------------------------------------------------------------------------------------------

def test_sqitch_plan():
    plan = ("%syntax-version=1.0.0\n%project=shop\n\n# a comment\nperson 2026-12-01T10:00:00Z A <a@x> # Add person\n"
            "@v1 2026-12-01T10:00:01Z A <a@x> # Release 1\nemail [person] 2026-12-01T10:00:02Z A <a@x> # Add email\n")
    assert _schema.sqitch_plan(plan) == ("shop", ["person", "email"])


def test_sqitch_problems(tmp_path):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "person.sql").write_bytes(b"create table person();\n")
    good = _schema.sqitch_script_hash(b"create table person();\n")
    applied = [{"version": "person", "checksum": "0" * 40}, {"version": "email", "checksum": "1" * 40},
               {"version": "person", "checksum": good}]  # reworked: only the newest instance is compared
    problems = _schema.sqitch_problems(applied, str(tmp_path))
    assert [(p["version"], p["problem"]) for p in problems] == [("email", "missing")]
    applied[2]["checksum"] = "f" * 40
    assert [(p["version"], p["problem"]) for p in _schema.sqitch_problems(applied, str(tmp_path))] == [
        ("email", "missing"), ("person", "checksum_mismatch")]


# --- refusals before any connection -------------------------------------------------------------------------------

def test_unknown_tool():
    with pytest.raises(SchemaError, match=r"unknown schema tool 'redgate': use one of flyway, liquibase, alembic, sqitch"):
        _schema.schema_info(dict(BASE, tool="redgate"))


def test_history_table_is_not_for_sqitch():
    with pytest.raises(SchemaError, match="history_table does not apply to Sqitch"):
        _schema.schema_info(dict(BASE, tool="sqitch", history_table="changes"))


def test_migrations_dir_must_exist(tmp_path):
    with pytest.raises(SchemaError, match="migrations_dir .*/nowhere is not a directory.*V<version>__<description>.sql"):
        _schema.schema_info(dict(BASE, migrations_dir=str(tmp_path / "nowhere")))


def test_scrub():
    assert _schema.scrub("url postgresql://u:s3cret@h/db failed", ["s3cret", None, ""]) == "url postgresql://u:********@h/db failed"


# --- the PostgreSQL dialect's messages ----------------------------------------------------------------------------

def test_describe_never_holds_the_password():
    dialect = _schema.PostgresDialect(dict(BASE, host=None, port=None, dbname=None, user=None, password=None,
                                           dsn="postgresql://app:dsn-s3cret@db1:6432/shop"))
    assert dialect.describe() == "PostgreSQL at db1:6432, database shop, user app"
    assert "dsn-s3cret" in dialect.secrets()
    assert _schema.PostgresDialect(dict(BASE, service="shop", host=None, port=None)).describe().startswith(
        "PostgreSQL service shop")


class FakeError(Exception):
    def __init__(self, text, sqlstate=None):
        super().__init__(text)
        self.sqlstate = sqlstate


@pytest.mark.parametrize("text, sqlstate, expected", [
    ('connection failed: FATAL:  password authentication failed for user "shop"', None, "refused the credentials"),
    ("connection failed: fe_sendauth: no password supplied", None, "refused the credentials"),
    ('FATAL:  database "nope" does not exist', "3D000", "the database does not exist"),
    ("connection failed: Connection refused\n\tIs the server running on that host?", None, "cannot reach PostgreSQL at 127.0.0.1:5432"),
    ("connection timeout expired", None, "cannot reach"),
])
def test_connect_errors_are_classified(text, sqlstate, expected):
    dialect = _schema.PostgresDialect(BASE)
    message = str(dialect.connect_error(FakeError(text + " s3cret-pw", sqlstate)))
    assert expected in message and "s3cret-pw" not in message and "********" in message
