# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""release_lock on the controller: the lock records the playbook's process, and a lock whose process is provably gone
is broken by the next run itself, saying so (issue 14, section 5)."""

from __future__ import annotations

from unittest import mock

import pytest

from ansible_collections.fleetops.release.plugins.action import release_lock as release_lock_action
from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

HERE = {"controller": "ops-1", "pid": 4242, "start": 9000, "boot_id": "boot-a", "pid_ns": "pid:[1]"}
DEAD = {"controller": "ops-1", "pid": 3131, "start": 1234, "boot_id": "boot-a", "pid_ns": "pid:[1]"}
HELD = {"holder": "bob@ops-1 run 20261126T180000Z-7", "run_id": "20261126T180000Z-7", "reason": "deploy",
        "since": "2026-11-26T18:00:00Z", "expires_at": "2099-01-01T00:00:00Z", "process": DEAD}


@pytest.fixture(autouse=True)
def fixture_ops_1(controller, monkeypatch):  # pylint: disable=unused-argument
    """The controller of conftest.py, named ops-1, whose ansible-playbook process is HERE."""
    monkeypatch.setattr(_identity, "controller_name", lambda: "ops-1")
    monkeypatch.setattr(_identity, "process_identity", lambda pid=None: dict(HERE))


def run(args, results, table):
    """The action plugin with each module call answered from ``results`` in turn; ``table`` is the controller's
    process table {pid: start}. Returns (result, [module args of each call], display)."""
    task = mock.MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    task.delegate_to = None
    connection = mock.MagicMock()
    connection.transport = "ssh"
    connection._shell.tmpdir = None  # pylint: disable=protected-access
    action = release_lock_action.ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    calls = []
    answers = list(results)

    def execute(module_name=None, module_args=None, task_vars=None, **_kwargs):
        calls.append(dict(module_args))
        return dict(answers.pop(0))

    action._execute_module = execute  # pylint: disable=protected-access
    action._display = mock.MagicMock()  # pylint: disable=protected-access
    with mock.patch.object(_identity, "probe_process", lambda pid: (pid in table, table.get(pid))):
        result = action.run(task_vars={"inventory_hostname": "us-1"})
    return result, calls, action._display  # pylint: disable=protected-access


REFUSED = {"failed": True, "msg": "/srv/app/.fleet/lock is locked by bob@ops-1 run 20261126T180000Z-7", "held": HELD}
TAKEN = {"changed": True, "lock": {"holder": "alice@ops-1 run r2"}, "broken": HELD, "previous": HELD}


def test_the_lock_records_the_playbook_process_and_a_task_cannot_set_it_or_break_gone():
    result, calls, display = run({"app_root": "/srv/app", "run_id": "r2", "process": {"pid": 1}, "break_gone": HELD},
                                 [{"changed": True, "lock": {}}], {})
    assert calls[0]["process"] == HERE and "break_gone" not in calls[0] and not result.get("failed")
    assert display.warning.called


def test_a_lock_of_a_gone_process_on_this_controller_is_broken_and_said_so():
    result, calls, display = run({"app_root": "/srv/app", "run_id": "r2"}, [REFUSED, TAKEN], {})
    assert len(calls) == 2 and calls[1]["break_gone"] == {"run_id": HELD["run_id"], "process": DEAD}
    assert not result.get("failed") and result["broken"]["run_id"] == HELD["run_id"]
    assert "that process is gone" in result["broken"]["broken_because"]
    warning = display.warning.call_args[0][0]
    assert warning.startswith("the lock of run 20261126T180000Z-7 held by pid 3131 on ops-1 was broken: that process is gone")


def test_a_reused_pid_counts_as_gone():
    result, calls, _display = run({"app_root": "/srv/app", "run_id": "r2"}, [REFUSED, TAKEN], {3131: 5555})
    assert len(calls) == 2 and not result.get("failed")


@pytest.mark.parametrize("table, held", [
    ({3131: 1234}, HELD),  # the process still runs: wait for it
    ({}, dict(HELD, process=dict(DEAD, controller="ops-2"))),  # another controller: its processes are not ours to see
    ({}, {"holder": "bob run 1", "run_id": "1"}),  # an old lock that records no process
])
def test_a_lock_that_is_not_provably_gone_is_still_refused(table, held):
    result, calls, display = run({"app_root": "/srv/app", "run_id": "r2"}, [dict(REFUSED, held=held)], table)
    assert len(calls) == 1 and result["failed"] and result["held"] == held
    assert not display.warning.called


def test_releasing_never_breaks_anything():
    result, calls, _display = run({"app_root": "/srv/app", "run_id": "r2", "state": "absent"}, [REFUSED], {})
    assert len(calls) == 1 and "process" not in calls[0] and result["failed"]
