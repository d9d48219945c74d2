# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every action plugin that records who did something sets the identity itself, whatever the task passes (issue 14):
release_mark, release_activate, release_switch (actor), release_lock (holder, run summary), audit_record (operator,
actor, controller, operation), release (created_by) and config_snapshot (actor)."""

from __future__ import annotations

from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.fleetops.release.plugins.action import audit_record as audit_record_action
from ansible_collections.fleetops.release.plugins.action import config_snapshot as config_snapshot_action
from ansible_collections.fleetops.release.plugins.action import release_activate as release_activate_action
from ansible_collections.fleetops.release.plugins.action import release_lock as release_lock_action
from ansible_collections.fleetops.release.plugins.action import release_mark as release_mark_action
from ansible_collections.fleetops.release.plugins.action import release_switch as release_switch_action
from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

MALLORY_VARS = {"fleet_actor": "mallory", "awx_user_name": "mallory", "awx_job_id": 1}


@pytest.fixture(autouse=True)
def fixture_ops_1(controller, monkeypatch):  # pylint: disable=unused-argument
    """The controller of conftest.py, named ops-1."""
    monkeypatch.setattr(_identity, "controller_name", lambda: "ops-1")


def run(plugin_module, args, task_vars=None, module_result=None, transport="ssh", delegate_to=None):
    """Run the action plugin with _execute_module captured; returns (result, [module args of each call])."""
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    task.delegate_to = delegate_to
    connection = mock.MagicMock()
    connection.transport = transport
    connection._shell.tmpdir = None  # pylint: disable=protected-access
    action = plugin_module.ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    calls = []

    def execute(module_name=None, module_args=None, task_vars=None, **_kwargs):
        calls.append((module_name, module_args))
        return dict(module_result or {"changed": True})

    action._execute_module = execute  # pylint: disable=protected-access
    action._display = mock.MagicMock()  # pylint: disable=protected-access
    return action.run(task_vars=dict(task_vars or {}, inventory_hostname="us-1")), calls, action._display  # pylint: disable=protected-access


@pytest.mark.parametrize("plugin, module", [
    (release_mark_action, "fleetops.release.release_mark"),
    (release_activate_action, "fleetops.release.release_activate"),
    (release_switch_action, "fleetops.release.release_switch"),
])
def test_actor_is_the_controller_operator(plugin, module):
    _result, calls, display = run(plugin, {"release": "r1", "actor": "mallory", "run_id": "x"}, MALLORY_VARS)
    assert calls == [(module, {"release": "r1", "actor": "alice", "run_id": "x"})]
    assert "'mallory' given by the task is ignored" in display.warning.call_args[0][0]
    _result, calls, display = run(plugin, {"release": "r1"})
    assert calls[0][1]["actor"] == "alice" and not display.warning.called


def test_release_lock_names_the_holder_and_the_run_summary_actor_and_operation():
    run_id = _identity.new_run_id()
    _identity.write_run_record({"run_id": run_id, "operation": "automatic_rollback", "pid": 4242})
    args = {"app_root": "/srv/app", "state": "absent",
            "run_summary": {"run_id": run_id, "actor": "mallory", "operation": "drill", "outcome": "switched"}}
    _result, calls, _display = run(release_lock_action, args, MALLORY_VARS)
    sent = calls[0][1]
    assert sent["holder"] == "alice@ops-1 run %s" % run_id
    assert sent["run_summary"] == {"run_id": run_id, "actor": "alice", "operation": "automatic_rollback", "outcome": "switched"}
    _result, calls, _display = run(release_lock_action, {"app_root": "/srv/app", "run_id": run_id})
    assert calls[0][1]["holder"] == "alice@ops-1 run %s" % run_id


def test_release_lock_read_policy_keeps_the_parsed_policy_in_the_run_record():
    run_id = _identity.new_run_id()
    _identity.write_run_record({"run_id": run_id, "operation": "deploy", "pid": 4242})
    raw = {"changed": True, "policy": {"path": "/etc/fleetops/policy.yml", "exists": True, "text": "allowed_operators: [bob]\n"}}
    result, calls, _display = run(release_lock_action, {"path": "/srv/fleet.lock", "run_id": run_id, "read_policy": True},
                                  module_result=raw, delegate_to="us-1")
    assert calls[0][1]["read_policy"] is True and not result.get("failed")
    record = _identity.read_run_record(run_id)
    assert record["policy"]["settings"]["allowed_operators"] == ["bob"] and record["policy"]["source"] == "us-1:/etc/fleetops/policy.yml"


def test_release_lock_read_policy_refuses_a_bad_policy_and_releases_the_lock():
    run_id = _identity.new_run_id()
    _identity.write_run_record({"run_id": run_id, "operation": "deploy", "pid": 4242})
    raw = {"changed": True, "policy": {"path": "/etc/fleetops/policy.yml", "exists": True, "text": "allowed_operator: [bob]\n"}}
    result, calls, _display = run(release_lock_action, {"path": "/srv/fleet.lock", "run_id": run_id, "read_policy": True},
                                  module_result=raw, delegate_to="us-1")
    assert result["failed"] and "unknown key(s) allowed_operator" in result["msg"]
    assert calls[1][1] == {"path": "/srv/fleet.lock", "holder": "alice@ops-1 run %s" % run_id, "state": "absent"}


def test_release_lock_read_policy_refuses_the_controller_and_a_forged_run_id():
    run_id = _identity.new_run_id()
    _identity.write_run_record({"run_id": run_id, "operation": "deploy", "pid": 4242})
    with pytest.raises(AnsibleActionFail, match="fleet_lock_host localhost is the controller"):
        run(release_lock_action, {"path": "/srv/fleet.lock", "run_id": run_id, "read_policy": True},
            transport="local", delegate_to="localhost")
    with pytest.raises(AnsibleActionFail, match="not started by fleetops.release.run_guard"):
        run(release_lock_action, {"path": "/srv/fleet.lock", "run_id": "20260101T000000Z-1", "read_policy": True})


def test_audit_record_takes_who_where_and_what_from_the_controller_and_the_run_record():
    run_id = _identity.new_run_id()
    _identity.write_run_record({"run_id": run_id, "operation": "deploy", "pid": 4242, "decision": {"forced": False},
                                "policy": {"exists": True, "source": "us-1:/etc/fleetops/policy.yml"}})
    forged = {"run_id": run_id, "operation": "drill", "actor": "mallory", "controller": "elsewhere", "forced": True,
              "operator": {"name": "mallory", "source": "awx"}, "reason": "added by -e, kept"}
    _result, calls, _display = run(audit_record_action, {"directory": "/var/lib/fleetops/audit", "record": forged}, MALLORY_VARS)
    record = calls[0][1]["record"]
    assert (record["operation"], record["actor"], record["controller"], record["forced"]) == ("deploy", "alice", "ops-1", False)
    assert record["operator"]["name"] == "alice" and record["operator"]["source"] == "os"
    assert record["reason"] == "added by -e, kept" and record["policy"] == "us-1:/etc/fleetops/policy.yml"


def test_release_created_by_and_config_snapshot_actor_are_the_controller_operator():
    _result, calls, _display = run(release_action_module(), {"release": "r1", "state": "absent", "created_by": "mallory"})
    assert calls[0][1]["created_by"] == "alice"
    _result, calls, _display = run(config_snapshot_action, {"release": "r1", "actor": "mallory", "state": "restore"})
    assert calls[0][1]["actor"] == "alice"


def release_action_module():
    from ansible_collections.fleetops.release.plugins.action import release  # pylint: disable=import-outside-toplevel
    return release


def test_release_lock_a_holder_given_to_release_selects_the_lock_but_never_to_take_one():
    _result, calls, _display = run(release_lock_action, {"app_root": "/srv/app", "state": "absent", "holder": "bob@ci run 7"})
    assert calls[0][1]["holder"] == "bob@ci run 7"
    _result, calls, display = run(release_lock_action, {"app_root": "/srv/app", "holder": "bob@ci run 7"})
    assert calls[0][1]["holder"] == "alice@ops-1" and display.warning.called


@pytest.mark.parametrize("remote_src, copied", [("false", True), ("no", True), (False, True), ("true", False), (True, False),
                                                ("maybe", False)])
def test_release_copies_a_controller_artifact_unless_remote_src_is_true_however_it_is_spelt(tmp_path, remote_src, copied):
    """A survey or an inventory gives remote_src as a string: "false" is false (the artifact is sent from the controller)."""
    from ansible_collections.fleetops.release.plugins.action import release as release_action
    artifact = tmp_path / "r1.tar.gz"
    artifact.write_bytes(b"not really a tarball")
    args = {"app_root": "/srv/app", "release": "r1", "artifact": str(artifact), "remote_src": remote_src}
    with mock.patch.object(release_action.ActionModule, "_find_needle", lambda self, _kind, path: path):
        _result, calls, _display = run(release_action, args)
    [(_module, module_args)] = calls
    # Sent from the controller: inline, with its checksum; else the module gets the path as given (on the host).
    assert ("artifact_content" in module_args) is copied, module_args
    assert (module_args.get("artifact") == str(artifact)) is not copied
