# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The drill's action plugins: their documentation stubs match their argument specs; the options of the drill that its
runs get too."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.fleetops.release.plugins.action import drill_plan, drill_report, drill_run
from ansible_collections.fleetops.release.plugins.modules import drill_plan as drill_plan_doc
from ansible_collections.fleetops.release.plugins.modules import drill_report as drill_report_doc
from ansible_collections.fleetops.release.plugins.modules import drill_run as drill_run_doc


@pytest.mark.parametrize("action, doc, name", [(drill_plan, drill_plan_doc, "drill_plan"), (drill_run, drill_run_doc, "drill_run"),
                                               (drill_report, drill_report_doc, "drill_report")])
def test_documentation_matches_argument_spec(spec_matches_doc, action, doc, name):
    spec_matches_doc(action.ARGUMENT_SPEC, yaml.safe_load(doc.DOCUMENTATION)["options"], name)


def test_runs_get_the_drills_connection_options():
    cliargs = {"private_key_file": "/k", "remote_user": "deploy", "connection": drill_run.C.DEFAULT_TRANSPORT, "become": True,
               "become_user": "root", "vault_password_files": ("/v",), "verbosity": 2, "forks": drill_run.C.DEFAULT_FORKS}
    assert drill_run.passed_options(cliargs) == [("--private-key", "/k"), ("--user", "deploy"), ("--become", True),
                                                 ("--vault-password-file", "/v"), ("-vv", True)]


def test_each_run_is_found_by_the_reason_the_drill_gave_it():
    records = [{"run_id": "a", "reason": "drill d1: fault: x"}, {"run_id": "b", "reason": "drill d1: recover: y"},
               {"run_id": "c", "reason": "drill d0: fault: x"}, {"run_id": "a", "event": "other", "reason": "drill d1: fault"}]
    found = drill_report.with_audit([{"step": "fault"}, {"step": "recover"}, {"step": "forward"}], records, "d1")
    assert [(run["audit"] or {}).get("run_id") for run in found] == ["a", "b", None]


def test_a_drill_in_check_mode_fails_at_its_plan_saying_so():
    from unittest import mock  # pylint: disable=import-outside-toplevel
    task = mock.MagicMock()
    task.args = {"group": "staging", "fault": "rollback"}
    task.check_mode = True
    task.async_val = 0
    action = drill_plan.ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    result = action.run(task_vars={})
    assert result["failed"] and "a drill cannot run in check mode" in result["msg"]


def report_action(tmp_path, monkeypatch, matplotlib_missing):
    from unittest import mock  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    if matplotlib_missing:
        monkeypatch.setitem(sys.modules, "matplotlib", None)
    probe = tmp_path / "probe.jsonl"
    probe.write_text('{"t": 100.0, "region": "eu", "status": 200, "release": "r2", "host": "eu-1"}\n')
    read = {"current": "r2", "previous": "r1", "release_ids": ["r1", "r2"], "config": {}}
    plan = {"group": "staging", "fault": "rollback", "fault_text": "x", "hosts": ["eu-1"], "production": [], "release": None,
            "regions": {"eu": {"hosts": ["eu-1"], "url": "http://lb.eu/"}}, "probe_output": str(probe)}
    start = {"release": "r2", "states": drill_report.states_of(plan, {"eu-1": read}, {}), "schema": None}
    task = mock.MagicMock()
    task.args = {"step": "report", "plan": plan, "reads": {"eu-1": read}, "run_id": "d1", "started": 90.0, "start": start,
                 "directory": str(tmp_path), "schema": {"skipped": True}}
    task.check_mode = False
    task.async_val = 0
    action = drill_report.ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars={})


def test_the_report_is_drawn_with_matplotlib(tmp_path, monkeypatch):
    result = report_action(tmp_path, monkeypatch, matplotlib_missing=False)
    assert result["svg"].lstrip().startswith("<?xml") and result["paths"]["svg"].endswith("/drills/d1.svg")
    assert result["report"]["picture"] == {"file": result["paths"]["svg"], "drawn_with": "matplotlib"}
    assert "![drill d1](d1.svg)" in result["markdown"] and not result.get("warnings")


def test_without_matplotlib_the_report_is_still_written_and_the_package_named(tmp_path, monkeypatch):
    result = report_action(tmp_path, monkeypatch, matplotlib_missing=True)
    assert result["ok"] and result["report"]["outcome"] == "ok" and "# Rollback drill d1: passed" in result["markdown"]
    assert result["svg"] is None and result["paths"]["svg"] is None and result["report"]["picture"] is None
    assert "![" not in result["markdown"]
    assert "needs the Python package matplotlib" in result["warnings"][0]
    assert any("needs the Python package matplotlib" in finding for finding in result["report"]["findings"])


def test_the_digest_key_is_in_a_private_file_never_in_the_plan():
    import json  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    import shutil  # pylint: disable=import-outside-toplevel
    import stat  # pylint: disable=import-outside-toplevel
    from unittest import mock  # pylint: disable=import-outside-toplevel
    hostvars = {"eu-1": {"fleet_region": "eu", "fleet_lb_url": "http://lb.eu/", "fleet_environment": "staging"}}
    task = mock.MagicMock()
    task.args = {"group": "staging", "fault": "rollback"}
    task.check_mode = False
    task.async_val = 0
    action = drill_plan.ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    result = action.run(task_vars={"ansible_play_hosts_all": ["eu-1"], "hostvars": hostvars, "groups": {"staging": ["eu-1"]}})
    plan = result["plan"]
    try:
        with open(plan["digest_key_file"], encoding="ascii") as handle:
            key = handle.read()
        assert len(key) == 32 and int(key, 16) >= 0
        assert key not in json.dumps(result) and "digest_key" not in plan
        assert stat.S_IMODE(os.stat(plan["digest_key_file"]).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(plan["work_dir"]).st_mode) == 0o700
    finally:
        shutil.rmtree(plan["work_dir"])
