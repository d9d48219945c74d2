# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run_guard action plugin: its documentation stub matches its argument spec, and the identity it uses comes from
the process and AWX's proven variables, never from an option."""

from __future__ import annotations

import os
import pwd
from unittest import mock

import pytest
import yaml
from ansible.errors import AnsibleActionFail

from ansible_collections.fleetops.release.plugins.action import run_guard
from ansible_collections.fleetops.release.plugins.module_utils._audit import parse_time
from ansible_collections.fleetops.release.plugins.modules import run_guard as run_guard_doc


def compare(spec, options, where):
    """Validate-modules skips documentation-only modules: this is the same check, done here."""
    assert sorted(spec) == sorted(options), where
    for key, arg in spec.items():
        doc = options[key]
        assert doc.get("type", "str") == arg.get("type", "str"), (where, key)
        assert doc.get("default") == arg.get("default"), (where, key)
        assert doc.get("required", False) == arg.get("required", False), (where, key)
        assert doc.get("choices") == arg.get("choices"), (where, key)
        assert doc.get("elements") == arg.get("elements"), (where, key)


def test_documentation_matches_argument_spec():
    compare(run_guard.ARGUMENT_SPEC, yaml.safe_load(run_guard_doc.DOCUMENTATION)["options"], "run_guard")


def test_no_option_names_the_operator():
    assert not {"operator", "actor", "user", "awx_user_name"} & set(run_guard.ARGUMENT_SPEC)


def test_os_user_is_the_effective_uid_not_the_environment(monkeypatch):
    monkeypatch.setenv("USER", "somebody-else")
    monkeypatch.setenv("LOGNAME", "somebody-else")
    assert run_guard.os_user() == pwd.getpwuid(os.geteuid()).pw_name
    with mock.patch.object(run_guard.pwd, "getpwuid", side_effect=KeyError(4242)), \
            mock.patch.object(run_guard.os, "geteuid", return_value=4242):
        assert run_guard.os_user() == "uid 4242"


def make_action(args, check_mode=False):
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "fleetops.release.run_guard"
    connection = mock.MagicMock()
    connection._shell.tmpdir = "/tmp/not-used"  # pylint: disable=protected-access
    return run_guard.ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())


def test_run_allows_and_names_the_os_user(monkeypatch):
    monkeypatch.delenv("JOB_ID", raising=False)
    monkeypatch.setattr(run_guard, "os_user", lambda: "alice")
    result = make_action({"operation": "deploy", "allowed_operators": ["alice"]}).run(
        task_vars={"awx_user_name": "boss", "awx_job_id": 9})
    assert result["allowed"] and not result.get("failed") and result["changed"] is False
    assert result["operator"]["name"] == "alice" and result["operator"]["source"] == "os"
    assert any("does not prove" in warning for warning in result["warnings"])


def test_run_inside_a_proven_awx_job(monkeypatch):
    monkeypatch.setenv("JOB_ID", "9")
    monkeypatch.setattr(run_guard, "os_user", lambda: "runner")
    result = make_action({"operation": "rollback", "allowed_operators": ["bob"], "reason": "5xx"}, check_mode=True).run(
        task_vars={"awx_user_name": "bob", "awx_job_id": 9, "awx_job_template_name": "shop rollback"})
    assert result["allowed"] and result["operator"] == {
        "name": "bob", "source": "awx", "awx_user_name": "bob", "awx_job_id": "9", "awx_job_template_name": "shop rollback"}


def test_run_refusal_fails_with_every_reason(monkeypatch):
    monkeypatch.delenv("JOB_ID", raising=False)
    monkeypatch.setattr(run_guard, "os_user", lambda: "mallory")
    result = make_action({"operation": "rollback", "allowed_operators": ["alice"], "require_reason": True}).run(task_vars={})
    assert result["failed"] and not result["allowed"]
    assert [r["rule"] for r in result["refusals"]] == ["operator", "reason"]
    assert "ask one of them" in result["msg"] and "set fleet_reason" in result["msg"]


def test_run_forced_past_the_cooldown(monkeypatch):
    monkeypatch.setattr(run_guard, "os_user", lambda: "alice")
    monkeypatch.setattr(run_guard, "utc_now", lambda: parse_time("2026-11-26T21:04:05Z"))
    args = {"operation": "automatic_rollback", "auto_rollback_cooldown": "30m", "force": True, "run_id": "now",
            "recent_runs": [{"run_id": "before", "operation": "automatic_rollback", "started": "2026-11-26T21:00:00Z"}]}
    result = make_action(args).run(task_vars={})
    assert result["allowed"] and result["forced"] and any("forced past" in w for w in result["warnings"])


def test_run_bad_configuration_is_a_clear_failure(monkeypatch):
    monkeypatch.setattr(run_guard, "os_user", lambda: "alice")
    windows = [{"name": "x", "from": "01:00", "to": "02:00", "timezone": "Nowhere/Land"}]
    with pytest.raises(AnsibleActionFail, match="run_guard: freeze window 1 .*unknown timezone"):
        make_action({"operation": "deploy", "freeze_windows": windows}).run(task_vars={})
