# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The schema guard's judgement (module_utils/_schema_guard.py) and the database steps' pure parts (_schema_ops.py)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _schema_guard as guard
from ansible_collections.fleetops.release.plugins.module_utils import _schema_ops as ops
from ansible_collections.fleetops.release.plugins.module_utils._schema import SchemaError


def alembic_info(applied, all_revisions=None, downgrades=None, current=None):
    """A schema_info result of Alembic: the applied chain and a graph of all_revisions (base first)."""
    all_revisions = all_revisions or applied
    downgrades = downgrades or {}
    nodes = [{"revision": name, "has_downgrade": downgrades.get(name, True), "applied": name in applied,
              "message": "m" + name, "path": name + ".py"} for name in all_revisions]
    return {"tool": "alembic", "database": "PostgreSQL at db, database shop", "current_version": current or applied[-1],
            "applied": [{"version": name, "description": "m" + name, "success": True} for name in applied],
            "failed_migrations": [], "checksum_problems": [], "graph": {"revisions": nodes},
            "pending": [{"version": n["revision"], "description": n["message"]} for n in nodes if not n["applied"]],
            "migrations_dir": "/srv/m"}


DECL1 = {"tool": "alembic", "version": "0001"}


def test_target_at_the_current_schema_is_ok():
    result = guard.judge_rollback("r1", DECL1, alembic_info(["0001"]))
    assert result["verdict"] == "ok" and result["in_the_way"] == []


def test_newer_migrations_not_expand_only_refuse_with_the_list_and_what_to_do():
    result = guard.judge_rollback("r1", DECL1, alembic_info(["0001", "0002", "0003"]), expand_only=["0002"])
    assert result["verdict"] == "refuse"
    assert [e["version"] for e in result["in_the_way"]] == ["0002", "0003"]
    assert [e["version"] for e in result["blocking"]] == ["0003"]
    assert "0003 (m0003)" in result["message"] and "fleet_schema_rollback=true" in result["message"]
    assert "fleet_schema_override_reason" in result["message"]


def test_expand_only_migrations_let_the_rollback_go_ahead_without_the_schema():
    result = guard.judge_rollback("r1", DECL1, alembic_info(["0001", "0002"]), expand_only=["0002"])
    assert result["verdict"] == "ok" and "expand-only" in result["message"]


def test_rollback_asked_gives_downgrade_and_override_gives_override():
    info = alembic_info(["0001", "0002"])
    assert guard.judge_rollback("r1", DECL1, info, rollback=True)["verdict"] == "downgrade"
    assert guard.judge_rollback("r1", DECL1, info, override_reason="incident 7")["verdict"] == "override"
    assert guard.judge_rollback("r1", DECL1, info, override_reason="  ")["verdict"] == "refuse"


def test_a_migration_without_downgrade_cannot_be_taken_back():
    info = alembic_info(["0001", "0002"], downgrades={"0002": False})
    result = guard.judge_rollback("r1", DECL1, info, rollback=True)
    assert result["verdict"] == "refuse" and result["irreversible"] == ["0002"]
    assert "no downgrade" in result["message"]


def test_failed_migrations_and_checksum_problems_refuse_even_with_an_override():
    info = alembic_info(["0001"])
    info["checksum_problems"] = [{"version": "0001", "problem": "missing", "message": "revision 0001 is gone"}]
    result = guard.judge_rollback("r1", DECL1, info, override_reason="x", rollback=True)
    assert result["verdict"] == "refuse" and "revision 0001 is gone" in result["message"]
    assert "No override" in result["message"]


def test_release_without_declaration_refuses_unless_overridden():
    info = alembic_info(["0001"])
    assert guard.judge_rollback("r1", None, info)["verdict"] == "refuse"
    assert guard.judge_rollback("r1", None, info, override_reason="old release")["verdict"] == "override"


def test_tool_mismatch_refuses():
    result = guard.judge_rollback("r1", {"tool": "sqitch", "version": "a"}, alembic_info(["0001"]), override_reason="x")
    assert result["verdict"] == "refuse" and "fleet_db.tool is alembic" in result["message"]


def test_schema_behind_the_target_is_ok_only_down_to_min_version():
    info = alembic_info(["0001"], ["0001", "0002"])
    assert guard.judge_rollback("r2", {"tool": "alembic", "version": "0002"}, info)["verdict"] == "refuse"
    assert guard.judge_rollback("r2", {"tool": "alembic", "version": "0002", "min_version": "0001"}, info)["verdict"] == "ok"


@pytest.mark.parametrize("declaration, text", [
    ("0001", "must be a dict"),
    ({"tool": "alembic"}, "has no version"),
    ({"tool": "alembic", "version": "1", "extra": 1}, "unknown keys extra"),
    ({"tool": "mongo", "version": "1"}, "unknown schema tool"),
    ({"tool": "alembic", "version": "1", "expand_only": "2"}, "expand_only must be a list"),
    ({"tool": "alembic", "version": ["1"]}, "version must be a schema version"),
])
def test_bad_declarations_say_what_is_wrong(declaration, text):
    with pytest.raises(SchemaError, match=text):
        guard.check_declaration(declaration, "r1")


def test_flyway_history_versions_compare_numerically_and_undo_removes():
    applied = [{"version": "1", "type": "SQL", "success": True, "description": "a"},
               {"version": "1.1", "type": "SQL", "success": True, "description": "b"},
               {"version": "2", "type": "SQL", "success": True, "description": "c"},
               {"version": "2", "type": "UNDO_SQL", "success": True, "description": "c"}]
    info = {"tool": "flyway", "applied": applied, "failed_migrations": [], "checksum_problems": [], "current_version": "1.1"}
    assert [e["version"] for e in guard.effective_history(info)] == ["1", "1.1"]
    assert guard.judge_rollback("r", {"tool": "flyway", "version": "1.0"}, info, expand_only=["1.1"])["verdict"] == "ok"


def test_sqitch_and_liquibase_targets_may_be_tags():
    info = {"tool": "sqitch", "failed_migrations": [], "checksum_problems": [], "current_version": "b",
            "applied": [{"version": "a", "tags": ["@v1"], "success": True}, {"version": "b", "tags": [], "success": True}]}
    result = guard.judge_rollback("r", {"tool": "sqitch", "version": "@v1"}, info)
    assert result["verdict"] == "refuse" and [e["version"] for e in result["blocking"]] == ["b"]


def test_deploy_lists_the_migrations_up_to_the_release_version():
    info = alembic_info(["0001"], ["0001", "0002", "0003"])
    result = guard.judge_deploy("r2", {"tool": "alembic", "version": "0002"}, info)
    assert result["verdict"] == "migrate" and [e["version"] for e in result["to_run"]] == ["0002"]
    assert guard.judge_deploy("r1", DECL1, info)["verdict"] == "current"


def test_deploy_refuses_irreversible_migrations_unless_expand_only_or_allowed():
    info = alembic_info(["0001"], ["0001", "0002"], downgrades={"0002": False})
    decl = {"tool": "alembic", "version": "0002"}
    result = guard.judge_deploy("r2", decl, info)
    assert result["verdict"] == "refuse" and "fleet_schema_require_reversible=false" in result["message"]
    assert guard.judge_deploy("r2", decl, info, require_reversible=False)["verdict"] == "migrate"
    assert guard.judge_deploy("r2", dict(decl, expand_only=["0002"]), info)["verdict"] == "migrate"


def test_deploy_of_a_release_older_than_the_schema_is_refused():
    info = alembic_info(["0001", "0002"])
    result = guard.judge_deploy("r1", DECL1, info)
    assert result["verdict"] == "refuse" and "playbooks/rollback.yml" in result["message"]


def test_deploy_needs_a_declaration_and_a_known_version():
    info = alembic_info(["0001"], ["0001", "0002"])
    assert "declares no schema" in guard.judge_deploy("r", None, info)["message"]
    assert "no such pending migration" in guard.judge_deploy("r", {"tool": "alembic", "version": "0009"}, info)["message"]


def test_a_revert_of_a_contracting_deploy_must_take_the_schema_back():
    info = alembic_info(["0001"], ["0001", "0002", "0003"])
    to_run = [{"version": "0002", "description": "drop nickname"}]
    blocked = guard.revert_plan(info, to_run, ["r1"], {"r1": DECL1})
    assert [b["release"] for b in blocked] == ["r1"] and "0002 (drop nickname) in the way" in blocked[0]["why"]


def test_a_deploy_the_live_code_cannot_run_against_is_refused_unless_allowed():
    info = alembic_info(["0001"], ["0001", "0002"])
    judged = guard.judge_deploy("r2", {"tool": "alembic", "version": "0002", "min_version": "0002"}, info)
    blocked = guard.revert_plan(info, judged["to_run"], ["r1"], {"r1": DECL1})
    refused = guard.refuse_incompatible(dict(judged), blocked)
    assert refused["verdict"] == "refuse" and "r1 cannot run against 0002" in refused["message"], refused["message"]
    assert "fleet_schema_require_compatible=false" in refused["message"] and "expand_only" in refused["message"]
    assert guard.refuse_incompatible(dict(judged), blocked, require_compatible=False)["verdict"] == "migrate"
    assert guard.refuse_incompatible(dict(judged), [])["verdict"] == "migrate"  # the live code runs after them
    # r1 runs against 0002 already (an earlier override): not this deploy's doing.
    already = [b["release"] for b in guard.revert_plan(alembic_info(["0001", "0002"]), [], ["r1"], {"r1": DECL1})]
    assert already == ["r1"] and guard.refuse_incompatible(dict(judged), blocked, blocked_now=already)["verdict"] == "migrate"
    current = guard.judge_deploy("r1", DECL1, info)  # nothing to run: nothing to refuse
    assert guard.refuse_incompatible(dict(current), blocked)["verdict"] == "current"


def test_a_revert_of_an_expand_only_deploy_leaves_the_schema():
    info = alembic_info(["0001"], ["0001", "0002"])
    to_run = [{"version": "0002", "description": "add email"}]
    assert guard.revert_plan(info, to_run, ["r1"], {"r1": DECL1}, expand_only=["0002"]) == []
    # min_version of the release running now does not matter: it runs at a version, the deploy moves past it
    assert guard.revert_plan(info, to_run, ["r1", "r0"], {"r1": DECL1}, expand_only=["0002"]) == []  # r0 undeclared
    assert [b["release"] for b in guard.revert_plan(info, to_run, ["r0"], {})] == ["r0"]


def test_status_judges_each_release_as_a_rollback_to_it_would_be():
    info = alembic_info(["0001", "0002", "0003"])
    declarations = {"r1": DECL1, "r2": {"tool": "alembic", "version": "0002"}, "r3": {"tool": "alembic", "version": "0003"}}
    judged = guard.judge_status(info, ["r1", "r2", "r3", "r0"], declarations, expand_only=["0003"])
    assert (judged["r1"]["runs"], judged["r2"]["runs"], judged["r3"]["runs"], judged["r0"]["runs"]) == (False, True, True, None)
    assert judged["r1"]["message"] == "cannot run: 0002 (m0002) in the way" and judged["r1"]["version"] == "0001"
    assert "expand-only" in judged["r2"]["message"]
    for release in ("r1", "r2", "r3"):  # the one judgement: the rollback guard's
        assert judged[release]["runs"] == (guard.judge_rollback(release, declarations[release], info, ["0003"])["verdict"] == "ok")


def test_status_of_a_history_with_problems_says_no_release_runs():
    info = alembic_info(["0001"])
    info["failed_migrations"] = [{"version": "0002", "description": "x"}]
    judged = guard.judge_status(info, ["r1", "r0"], {"r1": DECL1, "bad": "x"})
    assert judged["r1"]["runs"] is False and judged["r0"]["runs"] is False
    assert "failed migration 0002" in judged["r1"]["message"]
    assert guard.judge_status(info, ["bad"], {"bad": "x"})["bad"]["runs"] is False  # a broken manifest: said, not raised


# --- the database steps -------------------------------------------------------------------------------------------

DB = {"tool": "alembic", "host": "127.0.0.1", "port": 5433, "dbname": "shop", "user": "shop", "password": "pw-Secret9",
      "dsn": None, "service": None, "connect_timeout": 5, "commands": {}, "command_timeout": 30,
      "backup_dir": "/var/backups/x", "migrations_dir": None}


def test_the_password_goes_through_the_environment_only():
    env = ops.tool_environment(DB)
    assert env["PGPASSWORD"] == env["SQITCH_PASSWORD"] == "pw-Secret9"
    assert (env["PGHOST"], env["PGPORT"], env["PGDATABASE"], env["PGUSER"]) == ("127.0.0.1", "5433", "shop", "shop")
    argv = ops.render(ops.command_for(DB, "downgrade"), {"version": "0001"})
    assert argv == ["alembic", "downgrade", "0001"]
    flyway = ops.tool_environment(dict(DB, tool="flyway"))
    assert flyway["FLYWAY_URL"] == "jdbc:postgresql://127.0.0.1:5433/shop" and flyway["FLYWAY_PASSWORD"] == "pw-Secret9"


def test_a_command_holding_the_password_is_refused():
    with pytest.raises(SchemaError, match="holds the database password"):
        ops.run_step(DB, "migrate", ["echo", "pw-Secret9"])


def test_commands_can_be_overridden_as_argv_lists_only():
    db = dict(DB, commands={"migrate": ["./migrate.sh", "{version}"]})
    assert ops.render(ops.command_for(db, "migrate"), {"version": "7"}) == ["./migrate.sh", "7"]
    with pytest.raises(SchemaError, match="argv, no shell"):
        ops.command_for(dict(DB, commands={"migrate": "alembic upgrade head"}), "migrate")
    with pytest.raises(SchemaError, match="unknown steps"):
        ops.command_for(dict(DB, commands={"migrat": ["x"]}), "migrate")


def test_a_failing_command_is_scrubbed_and_a_slow_one_stopped(tmp_path):
    with pytest.raises(ops.StepFailed) as failed:
        ops.run_step(DB, "migrate", ["sh", "-c", 'echo "boom $PGPASSWORD" >&2; exit 3'])
    assert "exit code 3" in str(failed.value) and "pw-Secret9" not in str(failed.value)
    assert "********" in failed.value.result["stderr"]
    with pytest.raises(ops.StepFailed, match="did not finish within 1"):
        ops.run_step(dict(DB, command_timeout=1), "migrate", ["sleep", "30"], cwd=str(tmp_path))


def test_backup_path_names_the_database_and_run():
    path = ops.backup_path(DB, "r-1/x")
    assert path.startswith("/var/backups/x/shop-") and path.endswith("-r-1_x.dump")


def test_backup_of_a_dump_that_lists_nothing_fails(tmp_path):
    db = dict(DB, backup_dir=str(tmp_path / "b"), commands={"backup": ["sh", "-c", "echo data > {backup}"],
                                                            "verify_backup": ["echo", ";comment only"]})
    with pytest.raises(SchemaError, match="lists no entries"):
        ops.backup(db)
    assert oct(os.stat(str(tmp_path / "b")).st_mode & 0o777) == "0o700"


def test_run_inputs_refuses_a_bad_fleet_db_before_any_connection():
    """The spec run_inputs checks fleet_db with (plugins/action/run_inputs.py): an unknown tool or key is named, with
    what to use; the password is never in the message."""
    from ansible_collections.fleetops.release.plugins.module_utils._run_inputs import role_spec_problems  # pylint: disable=import-outside-toplevel
    spec = [("fleet_db", {"fleet_db": {"type": "dict", "options": ops.FLEET_DB_SPEC}})]
    problems = role_spec_problems(spec, {"h1": {"fleet_db": dict(tool="mongo", password="pw-Secret9", dbname="shop")}})
    assert len(problems) == 1 and "tool must be one of: flyway, liquibase, alembic, sqitch, got: mongo" in problems[0]
    assert "pw-Secret9" not in problems[0]
    problems = role_spec_problems(spec, {"h1": {"fleet_db": dict(tool="alembic", pasword="pw-Secret9")}})
    assert "pasword" in problems[0] and "pw-Secret9" not in problems[0]
    assert role_spec_problems(spec, {"h1": {"fleet_db": dict(tool="alembic", port=5432)}}) == []
