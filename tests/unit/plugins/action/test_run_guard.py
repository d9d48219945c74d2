# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run_guard action plugin: its documentation stub matches its argument spec; it issues the run id and records
the operation itself (step=start), and decides (step=decide) from the fleet policy in its run record, tightened by
the options; the identity comes from the process and AWX's proven variables, never from an option."""

from __future__ import annotations

from unittest import mock

import pytest
import yaml
from ansible.errors import AnsibleActionFail

from ansible_collections.fleetops.release.plugins.action import run_guard
from ansible_collections.fleetops.release.plugins.module_utils._audit import parse_time
from ansible_collections.fleetops.release.plugins.module_utils._guard import parse_policy
from ansible_collections.fleetops.release.plugins.modules import run_guard as run_guard_doc
from ansible_collections.fleetops.release.plugins.plugin_utils import _identity


def test_documentation_matches_argument_spec(spec_matches_doc):
    spec_matches_doc(run_guard.ARGUMENT_SPEC, yaml.safe_load(run_guard_doc.DOCUMENTATION)["options"], "run_guard")


def test_no_option_names_the_operator():
    assert not {"operator", "actor", "user", "awx_user_name", "holder"} & set(run_guard.ARGUMENT_SPEC)


@pytest.fixture(autouse=True, name="home")
def fixture_home(controller):
    """Run records in a temporary home (see conftest.py)."""
    return controller


def make_action(args, check_mode=False):
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "fleetops.release.run_guard"
    connection = mock.MagicMock()
    connection._shell.tmpdir = "/tmp/not-used"  # pylint: disable=protected-access
    return run_guard.ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())


def start(operation="deploy", trigger="manual", task_vars=None):
    return make_action({"step": "start", "operation": operation, "trigger": trigger}).run(task_vars=task_vars or {})


def with_policy(run_id, document, exists=True):
    settings = parse_policy(document, "us-1:/etc/fleetops/policy.yml")
    _identity.update_run_record(run_id, policy={"path": "/etc/fleetops/policy.yml", "exists": exists,
                                                "source": "us-1:/etc/fleetops/policy.yml", "settings": settings})


def test_start_issues_the_run_id_and_records_the_literal_operation(home):
    result = start("rollback", "automatic")
    assert not result.get("failed") and _identity.RUN_ID_RE.fullmatch(result["run_id"])
    assert result["operation"] == "automatic_rollback" and result["operator"]["name"] == "alice"
    record = _identity.read_run_record(result["run_id"])
    assert (record["operation"], record["pid"], record["policy"]) == ("automatic_rollback", 4242, None)
    assert (home / "runs").stat().st_mode & 0o777 == 0o700


def test_start_refuses_a_given_run_id_and_needs_an_operation():
    with pytest.raises(AnsibleActionFail, match="issues the run id itself"):
        make_action({"step": "start", "operation": "deploy", "run_id": "20260101T000000Z-1"}).run(task_vars={})
    with pytest.raises(AnsibleActionFail, match="needs operation"):
        make_action({"step": "start"}).run(task_vars={})


def test_decide_refuses_without_the_fleet_policy():
    run_id = start()["run_id"]
    with pytest.raises(AnsibleActionFail, match="fleet policy was not read.*fleet_lock_host"):
        make_action({"run_id": run_id}).run(task_vars={})


def test_decide_judges_the_operation_of_the_record_not_an_option():
    run_id = start("deploy")["run_id"]
    with_policy(run_id, {"freeze_windows": [{"name": "always", "start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}]})
    # There is no operation option for decide: drill (or anything else) cannot be claimed.
    with pytest.raises(AnsibleActionFail, match="unsupported parameter|operation"):
        make_action({"run_id": run_id, "operation": "drill", "step": "decide", "bogus": 1}).run(task_vars={})
    result = make_action({"run_id": run_id}).run(task_vars={})
    assert result["failed"] and result["freeze_window"] == "always" and result["operation"] == "deploy"
    assert _identity.read_run_record(run_id)["decision"]["allowed"] is False


def test_decide_an_empty_variable_list_never_switches_the_policy_off():
    run_id = start("rollback")["run_id"]
    with_policy(run_id, {"allowed_operators": ["bob"]})
    result = make_action({"run_id": run_id, "allowed_operators": []}).run(task_vars={})
    assert result["failed"] and [r["rule"] for r in result["refusals"]] == ["operator"]
    assert "us-1:/etc/fleetops/policy.yml" in result["msg"]


def test_decide_allows_within_the_policy_and_the_variables():
    run_id = start("rollback")["run_id"]
    with_policy(run_id, {"allowed_operators": ["alice", "bob"], "require_reason": True})
    result = make_action({"run_id": run_id, "allowed_operators": ["alice"], "reason": "5xx"}).run(task_vars={})
    assert result["allowed"] and not result.get("failed") and result["operator"]["name"] == "alice"
    result = make_action({"run_id": run_id, "allowed_operators": ["alice"]}).run(task_vars={})
    assert result["failed"] and [r["rule"] for r in result["refusals"]] == ["reason"]


def test_decide_refuses_a_run_id_of_another_process_or_not_issued(monkeypatch):
    run_id = start()["run_id"]
    with_policy(run_id, {})
    with pytest.raises(AnsibleActionFail, match="not started by fleetops.release.run_guard"):
        make_action({"run_id": "20260101T000000Z-1"}).run(task_vars={})
    with pytest.raises(AnsibleActionFail, match="was not issued"):
        make_action({"run_id": "../../etc/passwd"}).run(task_vars={})
    monkeypatch.setattr(_identity, "playbook_pid", lambda: 4343)
    with pytest.raises(AnsibleActionFail, match="another ansible-playbook process"):
        make_action({"run_id": run_id}).run(task_vars={})


def test_awx_variables_outside_awx_are_ignored_with_a_warning(monkeypatch):
    monkeypatch.setenv("JOB_ID", "9")
    result = start(task_vars={"awx_user_name": "boss", "awx_job_id": 9})
    assert result["operator"]["name"] == "alice" and result["operator"]["source"] == "os"
    assert any("AWX_PRIVATE_DATA_DIR" in warning for warning in result["warnings"])


def test_a_proven_awx_job_names_the_awx_user(monkeypatch, tmp_path):
    pdd = tmp_path / "awx_9_abc"  # AWX's job folder, with ansible-runner's artifact directory of job 9 (ident 9)
    (pdd / "artifacts" / "9").mkdir(parents=True)
    monkeypatch.setenv("JOB_ID", "9")
    monkeypatch.setenv("AWX_PRIVATE_DATA_DIR", str(pdd))
    monkeypatch.setenv("AWX_ISOLATED_DATA_DIR", str(pdd / "artifacts" / "9"))
    result = start("rollback", task_vars={"awx_user_name": "bob", "awx_job_id": 9, "awx_job_template_name": "shop rollback"})
    operator = result["operator"]
    assert (operator["name"], operator["source"], operator["awx_user_name"], operator["awx_job_id"]) == ("bob", "awx", "bob", "9")
    assert operator["awx_job_template_name"] == "shop rollback"


def test_decide_forced_past_the_cooldown_unless_the_policy_forbids_it(monkeypatch):
    monkeypatch.setattr(run_guard, "utc_now", lambda: parse_time("2026-11-26T21:04:05Z"))
    recent = [{"run_id": "before", "operation": "automatic_rollback", "started": "2026-11-26T21:00:00Z"}]
    run_id = start("rollback", "automatic")["run_id"]
    with_policy(run_id, {"auto_rollback_cooldown": "30m"})
    result = make_action({"run_id": run_id, "force": True, "recent_runs": recent}).run(task_vars={})
    assert result["allowed"] and result["forced"] and any("forced past" in w for w in result["warnings"])
    with_policy(run_id, {"auto_rollback_cooldown": "30m", "allow_force": False})
    result = make_action({"run_id": run_id, "force": True, "recent_runs": recent}).run(task_vars={})
    assert result["failed"] and [r["rule"] for r in result["refusals"]] == ["cooldown"]
    assert any("allow_force: false" in w for w in result["warnings"])


def test_decide_bad_configuration_is_a_clear_failure():
    run_id = start()["run_id"]
    with_policy(run_id, {})
    windows = [{"name": "x", "from": "01:00", "to": "02:00", "timezone": "Nowhere/Land"}]
    with pytest.raises(AnsibleActionFail, match="run_guard: freeze window 1 .*unknown timezone"):
        make_action({"run_id": run_id, "freeze_windows": windows}).run(task_vars={})
