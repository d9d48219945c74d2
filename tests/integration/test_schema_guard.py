# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The schema guard of rollback.yml, the opt-in schema rollback and the migrations of deploy.yml (issue 17, step 2):
the real playbooks over SSH against the test fleet, a real PostgreSQL (tests/db/pglib.py, started and stopped here)
and real Alembic migrations, run by the playbooks on the controller (fleet_db.delegate_to: localhost).

One story, in order (each test builds on the one before, as the fleet and the database carry over):

* s-1 reads ``person.nickname`` (schema 0001); s-2 drops it (0002, with a downgrade); s-3 adds ``person.email``
  (0003, declared expand-only); s-bad's 0004 fails. Each release's Alembic script directory is its own folder.
* deploy s-1 (schema already 0001: nothing to run), s-2 (0002 runs once: a counter table counts the upgrades),
  s-3 (0003 runs once);
* the faults (unreachable, wrong password, no history table, an applied migration edited, an unknown tool): each a
  refusal of rollback.yml before any change, naming the cause and what to do (one region: they stop before a switch);
* rollback to s-2: only the expand-only 0003 is in the way: the code goes back, the schema stays;
* rollback to s-1: 0002 is in the way: refused, nothing changed anywhere (hosts, load balancers, schema);
* the same with fleet_schema_rollback=true: verified backup, 0003 and 0002 downgraded, schema 0001 read again,
  every host on s-1, the rows written before still there; the password never in the -vvv output;
* deploy s-2x (s-2's migrations, a release whose health fails) on one region: 0002 runs, the canary fails its gate,
  and the revert takes the schema back to 0001 first (s-1 cannot run against 0002), then the code;
* deploy s-2 again, then a rollback to s-1 with an override reason: the schema stays, the reason is audited; status.yml
  shows the schema and which release on the hosts can run against it;
* deploy s-bad: its migration fails: the deploy stops, no host touched (not even unpacked), the schema as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_audit_guard import records, run_id_of
from test_release_lifecycle import DEPLOY, ROLLBACK, currents, history_lengths, names
from test_waves import lb_statuses

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "db"))

import pglib  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.fleet

PASSWORD = "Gu4rd-Pa55-e9b2"  # distinctive, so that a leak anywhere in the output is found
BIN = Path(sys.executable).parent
STATUS = HERE.parent.parent / "playbooks" / "status.yml"
RELEASES = ("s-1", "s-2", "s-3", "s-bad")
BROKEN = {"s-2x": "s-2"}
# For the runs whose point is not the waves: one batch per region (nothing here checks traffic), to keep the module
# short. The counted deploy of s-2 walks the default waves, so that "once per run" is also "not once per batch".
ONE_BATCH = {"fleet_waves": ["100%"], "fleet_min_healthy": 0}  # a release whose health fails, with the migrations and declaration of another

HEADER = '"""%s"""\nfrom alembic import op\n\nrevision = "%s"\ndown_revision = %s\nbranch_labels = None\ndepends_on = None\n\n\n'
COUNT = "    op.execute(\"INSERT INTO migration_runs (revision) VALUES ('%s')\")\n"
REVISIONS = {
    "0001": ("create person", None,
             "def upgrade():\n    op.execute(\"CREATE TABLE migration_runs (revision text, at timestamptz DEFAULT now())\")\n"
             "    op.execute(\"CREATE TABLE person (id serial PRIMARY KEY, name text NOT NULL, nickname text)\")\n"
             + COUNT % "0001" + "\n\ndef downgrade():\n    op.execute(\"DROP TABLE person\")\n"),
    "0002": ("drop nickname", "0001",
             "def upgrade():\n    op.execute(\"ALTER TABLE person DROP COLUMN nickname\")\n" + COUNT % "0002"
             + "\n\ndef downgrade():\n    op.execute(\"ALTER TABLE person ADD COLUMN nickname text\")\n"),
    "0003": ("add email", "0002",
             "def upgrade():\n    op.execute(\"ALTER TABLE person ADD COLUMN email text\")\n" + COUNT % "0003"
             + "\n\ndef downgrade():\n    op.execute(\"ALTER TABLE person DROP COLUMN email\")\n"),
    "0004": ("broken", "0003",
             "def upgrade():\n    op.execute(\"ALTER TABLE no_such_table ADD COLUMN x text\")\n"
             "\n\ndef downgrade():\n    op.execute(\"SELECT 1\")\n"),
}
# Release -> (its revisions, its declaration)
DECLARED = {
    "s-1": (["0001"], {"tool": "alembic", "version": "0001"}),
    "s-2": (["0001", "0002"], {"tool": "alembic", "version": "0002", "min_version": "0002"}),
    "s-3": (["0001", "0002", "0003"], {"tool": "alembic", "version": "0003", "min_version": "0002", "expand_only": ["0003"]}),
    "s-bad": (["0001", "0002", "0003", "0004"], {"tool": "alembic", "version": "0004", "expand_only": ["0003", "0004"]}),
}
ALEMBIC_INI = "[alembic]\nscript_location = %(here)s\nsqlalchemy.url = postgresql+psycopg://\n"
# The connection comes from libpq's PG* variables that the collection sets for the command (no password in a file).
ENV_PY = """from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_online():
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                     poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""
SCRIPT_MAKO = '"""${message}"""\n'


@pytest.fixture(scope="module", name="db")
def fixture_db(tmp_path_factory):
    """The cluster, database shop at schema 0001 (migrated by hand: the database exists before the collection
    manages it) with two rows, and each release's Alembic script directory."""
    cluster = pglib.Cluster().start()
    work = tmp_path_factory.mktemp("schema-guard")
    try:
        params = cluster.create_database("shop", "shop", PASSWORD)
        dirs = {}
        for release, (revisions, _declaration) in DECLARED.items():
            directory = work / release
            (directory / "versions").mkdir(parents=True)
            (directory / "alembic.ini").write_text(ALEMBIC_INI, encoding="utf-8")
            (directory / "env.py").write_text(ENV_PY, encoding="utf-8")
            (directory / "script.py.mako").write_text(SCRIPT_MAKO, encoding="utf-8")
            for revision in revisions:
                message, down, body = REVISIONS[revision]
                (directory / "versions" / ("%s.py" % revision)).write_text(
                    HEADER % (message, revision, repr(down)) + body, encoding="utf-8")
            dirs[release] = directory
        env = dict(os.environ, PGHOST=params["host"], PGPORT=str(params["port"]), PGDATABASE="shop", PGUSER="shop",
                   PGPASSWORD=PASSWORD)
        proc = subprocess.run([str(BIN / "alembic"), "upgrade", "0001"], cwd=str(dirs["s-1"]), env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        cluster.psql("INSERT INTO person (name, nickname) VALUES ('Ada', 'ada'), ('Grace', 'amazing')", "shop", "shop")
        yield {"cluster": cluster, "params": params, "dirs": dirs, "backups": work / "backups"}
    finally:
        cluster.stop()


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet):
    built = {release_id: fleet.build_release(release_id) for release_id in RELEASES}
    built.update({release_id: fleet.build_release(release_id, health="fail") for release_id in BROKEN})
    return built


@pytest.fixture(scope="module", name="audit_dir")
def fixture_audit_dir(fleet):
    return fleet.state_dir / "audit"


def fleet_db(db, release):
    """fleet_db as an operator writes it, with the release's script directory."""
    return dict(db["params"], tool="alembic", migrations_dir=str(db["dirs"][BROKEN.get(release, release)]),
                backup_dir=str(db["backups"]), delegate_to="localhost", command_timeout=120)


def sql(db, query):
    return db["cluster"].psql(query, "shop", "shop").strip()


def schema_version(db):
    return sql(db, "SELECT version_num FROM alembic_version")


def upgrades(db, revision):
    return int(sql(db, "SELECT count(*) FROM migration_runs WHERE revision = '%s'" % revision))


def columns(db):
    return sql(db, "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns "
                   "WHERE table_name = 'person'")


def run(fleet, playbook, *args, **extra_vars):
    proc = fleet.ansible_playbook(playbook, *args, extra_vars=extra_vars)
    return proc, proc.stdout + proc.stderr


def deploy(fleet, db, releases, release, *args, **extra):
    path, sha = releases[release]
    return run(fleet, DEPLOY, *args, fleet_release=release, fleet_artifact=str(path), fleet_artifact_sha256=sha,
               fleet_release_schema=DECLARED[BROKEN.get(release, release)][1], fleet_db=fleet_db(db, release), **extra)


def state(fleet, db):
    """What a refused run must leave as it was."""
    return {"current": currents(fleet), "history": history_lengths(fleet), "lb": lb_statuses(fleet),
            "releases": {name: sorted(os.listdir(fleet.host_path(name, "/srv/app/releases"))) for name in names(fleet)},
            "locked": [name for name in names(fleet) if fleet.host_path(name, "/srv/app/.fleet/lock").exists()],
            "schema": schema_version(db), "columns": columns(db), "backups": sorted(os.listdir(db["backups"]))
            if db["backups"].exists() else []}


def test_deploy_runs_each_migration_once_after_a_verified_backup(fleet, on_base, db, releases, audit_dir):
    proc, out = deploy(fleet, db, releases, "s-1", **ONE_BATCH)
    assert proc.returncode == 0, out
    assert schema_version(db) == "0001" and not db["backups"].exists()  # nothing to run: no backup either
    manifest = json.loads(fleet.host_path(names(fleet)[0], "/srv/app/releases/s-1/.fleet-release.json").read_text())
    assert manifest["schema"] == DECLARED["s-1"][1]

    # s-1, live on every host, reads the column 0002 drops, and the hosts not yet switched keep serving on it during
    # the waves: refused up front with nothing changed (one region: the refusal comes before the waves), unless the
    # operator says it is a maintenance window.
    before = state(fleet, db)
    proc, out = deploy(fleet.view([fleet.regions[0]]), db, releases, "s-2", **ONE_BATCH)
    assert proc.returncode != 0 and "s-1 cannot run against 0002" in out, out[-3000:]
    assert "fleet_schema_require_compatible=false" in out and "nothing was changed" in out, out[-3000:]
    assert state(fleet, db) == before

    proc, out = deploy(fleet, db, releases, "s-2", fleet_schema_require_compatible=False)
    assert proc.returncode == 0, out
    assert set(currents(fleet).values()) == {"s-2"}
    assert schema_version(db) == "0002" and columns(db) == "id,name"
    assert upgrades(db, "0002") == 1  # once for the run, not once per host
    [backup] = os.listdir(db["backups"])
    [record] = records(audit_dir, run_id_of(out))
    schema = record["schema"]
    assert (schema["version_before"], schema["version_after"], schema["migrated"]) == ("0001", "0002", ["0002"])
    assert schema["backup"] == str(db["backups"] / backup) and PASSWORD not in json.dumps(record)
    listed = subprocess.run(["pg_restore", "--list", schema["backup"]], capture_output=True, text=True, timeout=60, check=False)
    assert listed.returncode == 0 and "TABLE public person" in listed.stdout

    proc, out = deploy(fleet, db, releases, "s-3", **ONE_BATCH)
    assert proc.returncode == 0, out
    assert schema_version(db) == "0003" and upgrades(db, "0003") == 1 and upgrades(db, "0002") == 1
    sql(db, "INSERT INTO person (name, email) VALUES ('Linus', 'l@example.invalid')")


@pytest.fixture(scope="module", name="faulty")
def fixture_faulty(db, tmp_path_factory):
    """What the fault variants of fleet_db point at: a port nothing listens on, a database without a history table, and
    a Flyway database (history table and row as Flyway writes them, test_schema_info) whose applied V1 was edited since."""
    from test_schema_info import FLYWAY_DDL, java_crc32  # pylint: disable=import-outside-toplevel
    cluster = db["cluster"]
    cluster.psql("CREATE DATABASE nohistory OWNER shop")
    cluster.psql("CREATE DATABASE fly OWNER shop")
    script = "CREATE TABLE person (id integer PRIMARY KEY, name text NOT NULL);\n"
    cluster.psql(FLYWAY_DDL + script + "INSERT INTO flyway_schema_history (installed_rank, version, description, type, "
                 "script, checksum, installed_by, execution_time, success) VALUES (1, '1', 'Create person', 'SQL', "
                 "'V1__Create_person.sql', %d, current_user, 5, true)" % java_crc32(script), "fly", "shop")
    edited = tmp_path_factory.mktemp("flyway-edited")
    (edited / "V1__Create_person.sql").write_text(script.replace("text NOT NULL", "varchar(80) NOT NULL"), encoding="utf-8")
    return {"port": pglib.free_port(cluster.address), "edited": str(edited)}


FAULTS = {
    "unreachable": (lambda base, faulty: dict(base, port=faulty["port"], connect_timeout=3),
                    ["cannot reach PostgreSQL at", "check host and port"]),
    "wrong password": (lambda base, faulty: dict(base, password="not-" + PASSWORD),
                       ["refused the credentials", "check user and password"]),
    "no history table": (lambda base, faulty: dict(base, dbname="nohistory"),
                         ["has no Alembic history table", "alembic stamp"]),
    "edited migration": (lambda base, faulty: dict(base, dbname="fly", tool="flyway", migrations_dir=faulty["edited"]),
                         ["migration 1 was changed after it was applied", "No override applies"]),
    "unknown tool": (lambda base, faulty: dict(base, tool="mongo"),
                     ["fleet_db: value of tool must be one of: flyway, liquibase, alembic, sqitch, got: mongo"]),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_database_fault_refuses_the_rollback_before_any_change(fleet, db, faulty, fault):
    """Each fault stops rollback.yml before any host is switched (the unknown tool already in the run's inputs, before
    any lock or connection): one region, since the refusal comes before the waves."""
    make, expected = FAULTS[fault]
    before = state(fleet, db)
    proc, out = run(fleet.view([fleet.regions[0]]), ROLLBACK, fleet_db=make(fleet_db(db, "s-3"), faulty))
    assert proc.returncode != 0
    for text in expected:
        assert text in out, out[-4000:]
    assert "nothing was changed" in out and PASSWORD not in out
    if fault == "unknown tool":  # input validation: no lock taken, no host read, no connection tried
        assert "Take the fleet-wide lock" not in out and "schema_guard" not in out, out[-3000:]
    assert state(fleet, db) == before


def test_rollback_across_an_expand_only_migration_leaves_the_schema(fleet, db, audit_dir):
    proc, out = run(fleet, ROLLBACK, fleet_db=fleet_db(db, "s-3"), **ONE_BATCH)
    assert proc.returncode == 0, out
    assert set(currents(fleet).values()) == {"s-2"}
    assert schema_version(db) == "0003" and columns(db) == "id,name,email"
    [record] = records(audit_dir, run_id_of(out))
    assert (record["schema"]["verdict"], record["schema"]["in_the_way"], record["schema"]["backup"]) == ("ok", ["0003"], None)


def test_rollback_to_a_release_the_schema_moved_away_from_is_refused_and_changes_nothing(fleet, db):
    before = state(fleet, db)
    proc, out = run(fleet, ROLLBACK, fleet_release="s-1", fleet_db=fleet_db(db, "s-3"))
    assert proc.returncode != 0
    assert "cannot run against the database's schema 0003" in out, out
    assert "0002 (drop nickname)" in out and "fleet_schema_rollback=true" in out and "fleet_schema_override_reason" in out
    assert "0003 (add email)" not in out  # declared expand-only by s-3: not in the way
    assert state(fleet, db) == before


def test_the_rollback_role_entry_point_refuses_too(fleet, db, tmp_path):
    """roles/rollback main (the hosts of your own play, without the waves) has the same guard."""
    playbook = tmp_path / "own-rollback.yml"
    playbook.write_text(json.dumps([{"hosts": "fleet", "gather_facts": False, "tasks": [
        {"name": "Roll back", "ansible.builtin.include_role": {"name": "fleetops.release.rollback"}}]}]), encoding="utf-8")
    before = state(fleet, db)
    proc, out = run(fleet, playbook, fleet_release="s-1", fleet_db=fleet_db(db, "s-3"))
    assert proc.returncode != 0
    assert "cannot run against the database's schema 0003" in out and "0002 (drop nickname)" in out, out
    assert state(fleet, db) == before


def test_schema_rollback_takes_a_backup_downgrades_then_rolls_the_code_back(fleet, db, audit_dir):
    rows = sql(db, "SELECT string_agg(name, ',' ORDER BY id) FROM person")
    proc, out = run(fleet, ROLLBACK, "-vvv", fleet_release="s-1", fleet_schema_rollback=True, fleet_db=fleet_db(db, "s-3"),
                    **ONE_BATCH)
    assert proc.returncode == 0, out[-5000:]
    assert PASSWORD not in out
    assert set(currents(fleet).values()) == {"s-1"}
    assert schema_version(db) == "0001" and columns(db) == "id,name,nickname"
    assert sql(db, "SELECT string_agg(name, ',' ORDER BY id) FROM person") == rows == "Ada,Grace,Linus"
    [record] = records(audit_dir, run_id_of(out))
    schema = record["schema"]
    assert (schema["verdict"], schema["version_before"], schema["version_after"]) == ("downgrade", "0003", "0001")
    assert Path(schema["backup"]).is_file() and oct(Path(schema["backup"]).stat().st_mode & 0o777) == "0o600"
    listed = subprocess.run(["pg_restore", "--list", schema["backup"]], capture_output=True, text=True, timeout=60, check=False)
    assert listed.returncode == 0 and "TABLE public person" in listed.stdout
    # The order: the schema went back (a run_once step) before the first host switched.
    assert out.index("rollback : Downgrade the schema to") < out.index("PLAY [Roll back - walk the waves"), out[-3000:]


def test_a_deploy_reverted_after_contracting_migrations_takes_the_schema_back_first(fleet, db, releases, audit_dir):
    """s-2x brings 0002 (drop nickname), which s-1 (live) cannot run against; its canary fails the gate: the schema goes
    back to 0001 (verified), before the revert walk puts s-1 back. One region: what matters is one revert."""
    region = fleet.view([fleet.regions[0]])
    proc, out = deploy(region, db, releases, "s-2x", fleet_health_start_period=0, fleet_health_failure_limit=1,
                       fleet_schema_require_compatible=False)
    assert proc.returncode != 0
    assert upgrades(db, "0002") == 2  # it ran (once more than the first s-2 deploy)...
    assert schema_version(db) == "0001" and columns(db) == "id,name,nickname"  # ...and went back
    assert set(currents(fleet).values()) == {"s-1"}
    assert sql(db, "SELECT string_agg(name, ',' ORDER BY id) FROM person") == "Ada,Grace,Linus"
    [record] = records(audit_dir, run_id_of(out))
    schema = record["schema"]
    assert (schema["version_before"], schema["migrated"], schema["revert_to"]) == ("0001", ["0002"], "0001")
    assert schema["reverted"] == {"to": "0001", "after": "0001", "verified": True, "error": None}
    assert schema["version_after"] == "0001" and [b["release"] for b in schema["revert_because"]] == ["s-1"]
    # The order: the schema went back before the revert walk's first batch.
    assert out.index("Downgrade the schema to the version before") < out.index("PLAY [Deploy - put every touched host back"), out[-3000:]


def test_override_rolls_the_code_back_and_is_audited(fleet, db, releases, audit_dir):
    proc, out = deploy(fleet, db, releases, "s-2", fleet_allow_bad_release=True, fleet_schema_require_compatible=False,
                       **ONE_BATCH)
    assert proc.returncode == 0, out
    assert schema_version(db) == "0002" and upgrades(db, "0002") == 3  # once more for this deploy (s-2, s-2x before)
    proc, out = run(fleet, ROLLBACK, fleet_release="s-1", fleet_schema_override_reason="INC-42 s-1 tolerates it",
                    fleet_db=fleet_db(db, "s-2"), **ONE_BATCH)
    assert proc.returncode == 0, out
    assert set(currents(fleet).values()) == {"s-1"} and schema_version(db) == "0002"
    [record] = records(audit_dir, run_id_of(out))
    assert (record["schema"]["verdict"], record["schema"]["override_reason"]) == ("override", "INC-42 s-1 tolerates it")


def test_status_shows_the_schema_and_which_release_can_run_against_it(fleet, db, tmp_path):
    status_file = tmp_path / "status.json"
    proc, out = run(fleet, STATUS, fleet_db=fleet_db(db, "s-3"), fleet_status_file=str(status_file))
    assert proc.returncode == 0, out
    schema = json.loads(status_file.read_text(encoding="utf-8"))["schema"]
    assert (schema["version"], schema["tool"]) == ("0002", "alembic") and PASSWORD not in json.dumps(schema)
    runs = {release: judged["runs"] for release, judged in schema["releases"].items()}
    # s-1 reads the column 0002 dropped; s-3 runs down to its min_version 0002; the base releases declare no schema.
    assert (runs.pop("s-1"), runs.pop("s-2"), runs.pop("s-3"), runs.pop("s-2x")) == (False, True, True, True), schema
    assert runs and set(runs.values()) == {None}, schema
    assert schema["releases"]["s-1"]["message"] == "cannot run: 0002 (drop nickname) in the way"
    assert "schema: 0002 (alembic, PostgreSQL at" in out and "CANNOT RUN" in out


def test_a_failing_migration_stops_the_deploy_with_every_host_untouched(fleet, db, releases):
    before = state(fleet, db)
    proc, out = deploy(fleet, db, releases, "s-bad", fleet_allow_bad_release=True)
    assert proc.returncode != 0
    assert "The migrations of s-bad failed; no host was touched" in out and "no_such_table" in out, out
    assert "The backup taken before is %s" % db["backups"] in out
    after = state(fleet, db)
    assert len(after.pop("backups")) == len(before.pop("backups")) + 1
    assert after == before  # not even unpacked: the migrations come before anything on the hosts
    assert PASSWORD not in out


def test_a_wrong_password_is_a_clear_refusal_before_any_change(fleet, db, releases):
    before = state(fleet, db)
    path, sha = releases["s-3"]
    proc, out = run(fleet, DEPLOY, fleet_release="s-3", fleet_artifact=str(path), fleet_artifact_sha256=sha,
                    fleet_release_schema=DECLARED["s-3"][1], fleet_db=dict(fleet_db(db, "s-3"), password="not-" + PASSWORD),
                    fleet_allow_bad_release=True)
    assert proc.returncode != 0
    assert "refused the credentials" in out and "not-" + PASSWORD not in out, out
    assert state(fleet, db) == before


# --- Sqitch: the modules' default commands, run for real (no fleet needed: one ansible-playbook on localhost) -------

def test_sqitch_backup_migrate_and_downgrade_to_a_tag(db, tmp_path):
    from test_schema_info import SQITCH_CHANGES, sqitch_project  # pylint: disable=import-outside-toplevel
    cluster = db["cluster"]
    cluster.psql("CREATE DATABASE sqitchdb OWNER shop")
    project = tmp_path / "sqitch"
    sqitch_project(project, SQITCH_CHANGES)
    env = dict(os.environ, HOME=str(tmp_path), PGHOST=cluster.address, PGPORT=str(cluster.port), PGDATABASE="sqitchdb",
               PGUSER="shop", PGPASSWORD=PASSWORD)
    proc = subprocess.run(["sqitch", "deploy", "--to", "person", "db:pg:"], cwd=str(project), env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fleet_db_ = dict(db["params"], dbname="sqitchdb", tool="sqitch", migrations_dir=str(project),
                     backup_dir=str(tmp_path / "backups"), command_timeout=120)
    tasks = [
        {"name": "backup", "fleetops.release.schema_backup": {"db": fleet_db_, "run_id": "t-1"}, "register": "b"},
        {"name": "migrate", "fleetops.release.schema_migrate": {"db": fleet_db_, "to": "email"}, "register": "m"},
        {"name": "again", "fleetops.release.schema_migrate": {"db": fleet_db_, "to": "email"}, "register": "m2"},
        {"name": "downgrade", "fleetops.release.schema_downgrade": {"db": fleet_db_, "to": "@v1"}, "register": "d"},
        {"name": "save", "ansible.builtin.copy": {
            "dest": str(tmp_path / "out.json"), "mode": "0600", "content": "{{ [b, m, m2, d] | to_json }}"}},
    ]
    playbook = tmp_path / "sqitch.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks,
                                     "vars": {"ansible_python_interpreter": sys.executable}}]), encoding="utf-8")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-vvv", str(playbook)],
                          cwd=str(HERE.parent.parent), capture_output=True, text=True, timeout=600, check=False,
                          env=dict(os.environ, HOME=str(tmp_path), PATH="%s:%s" % (BIN, os.environ["PATH"])))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert PASSWORD not in out
    backup, migrated, again, downgraded = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert backup["verified"] and backup["entries"] > 0 and backup["path"].endswith("-t-1.dump")
    assert (migrated["changed"], migrated["before"], migrated["after"]) == (True, "person", "email")
    assert migrated["command"] == ["sqitch", "deploy", "--to", "email", "db:pg:"]
    assert (again["changed"], again["steps"]) == (False, [])  # at the version already: nothing runs
    assert (downgraded["changed"], downgraded["before"], downgraded["after"]) == (True, "email", "person")
    assert cluster.psql("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns "
                        "WHERE table_name = 'person'", "sqitchdb", "shop").strip() == "id,name"
