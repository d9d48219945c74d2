# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run's summary as set_stats data (AWX job artifacts): module_utils/_run_stats.py and filter run_stats."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.filter.release_matrix import release_matrix
from ansible_collections.fleetops.release.plugins.filter.run_stats import FilterModule, run_stats
from ansible_collections.fleetops.release.plugins.module_utils import _run_stats

ROOT = Path(__file__).resolve().parents[4]
BOB = {"name": "bob", "source": "awx", "launched_by": "user", "awx_user_name": "bob", "awx_user_id": "7",
       "awx_job_id": "4821", "awx_job_launch_type": "manual", "awx_job_template_id": "11",
       "awx_job_template_name": "fleet rollback", "awx_workflow_job_id": None, "awx_workflow_job_name": None,
       "awx_schedule_name": None}


def host(region, source, target, outcome):
    return {"region": region, "from": source, "to": target, "outcome": outcome, "wave": 1}


# A reverted deploy as the audit record has it (run report + operator, controller, operation).
REVERTED = {
    "run_id": "20261126T210405Z-4821", "operation": "deploy", "actor": "bob", "operator": BOB, "reason": "fix",
    "limit": "", "status": "failed", "started": 1795755014.5, "finished": 1795755069.5, "recovery_seconds": 19.0,
    "failures": [{"host": "us-2", "region": "us", "phase": "forward switch", "wave": 2, "message": "503"}],
    "hosts": {"eu-1": host("eu", "v1", "v2", "reverted"), "eu-2": host("eu", "v1", "v2", "reverted"),
              "us-1": host("us", "v1", "v2", "reverted"), "us-2": host("us", "v2", "v2", "unchanged")},
}


def test_a_reverted_deploy():
    data = run_stats(REVERTED)
    assert set(data) == {"fleetops_last_run", "fleetops_last_deploy"} and data["fleetops_last_run"] == data["fleetops_last_deploy"]
    summary = data["fleetops_last_run"]
    assert summary["run_id"] == "20261126T210405Z-4821" and summary["operation"] == "deploy"
    assert summary["outcome"] == "failed" and summary["failures"] == 1 and summary["time_to_recover_seconds"] == 19.0
    assert summary["operator"]["name"] == "bob" and summary["operator"]["awx_user_id"] == "7"
    assert summary["regions"] == {"eu": {"hosts": 2, "from": ["v1"], "to": ["v2"], "outcomes": {"reverted": 2}},
                                  "us": {"hosts": 2, "from": ["v1", "v2"], "to": ["v2"],
                                         "outcomes": {"reverted": 1, "unchanged": 1}}}
    assert summary["from_release"] is None and summary["to_release"] == "v2"
    assert summary["started_at"] == "2026-11-27T04:50:14Z" and summary["duration_seconds"] == 55.0
    json.dumps(data)  # what AWX stores: plain JSON


def test_a_rollback_from_the_run_report_names_the_actor():
    report = {"run_id": "r-2", "operation": "automatic_rollback", "actor": "alice", "status": "ok", "started": 10.0,
              "finished": 20.0, "recovery_seconds": 8.8, "failures": [],
              "hosts": {"eu-1": host("eu", "v2", "v1", "switched")}}
    data = run_stats(report)
    assert set(data) == {"fleetops_last_run", "fleetops_last_rollback"}
    summary = data["fleetops_last_rollback"]
    assert summary["outcome"] == "ok" and summary["operator"] == {"name": "alice", "source": None}
    assert (summary["from_release"], summary["to_release"]) == ("v2", "v1") and summary["time_to_recover_seconds"] == 8.8


@pytest.mark.parametrize("report, outcome", [
    ({"status": "running", "started": 1.0, "updated": 3.0}, "running"),
    ({"status": "reverting", "failures": [{"host": "a"}]}, "failed"),
    ({"status": "ok", "failures": [{"host": "a"}]}, "failed"),
    ({}, "running"),
])
def test_outcome_of_an_unfinished_or_odd_report(report, outcome):
    summary = run_stats(dict(report, operation="deploy"))["fleetops_last_deploy"]
    assert summary["outcome"] == outcome and summary["regions"] == {}


def test_a_report_with_missing_or_odd_values_never_fails():
    summary = _run_stats.run_summary({"hosts": {"x": "odd"}, "started": "yesterday", "failures": "many",
                                      "recovery_seconds": True, "operator": "mallory"})
    assert summary["regions"] == {"-": {"hosts": 1, "from": [], "to": [], "outcomes": {"pending": 1}}}
    assert summary["started_at"] is None and summary["time_to_recover_seconds"] is None and summary["failures"] == 0
    assert summary["operator"] == {"name": None, "source": None}


def row(name, current, reachable=True):
    return {"host": name, "region": name.split("-")[0], "reachable": reachable, "current": current}


def test_status():
    matrix = release_matrix([row("eu-1", "v2"), row("eu-2", "v2"), row("us-1", "v1"), row("us-2", None, reachable=False)])
    data = run_stats(matrix, "status", {"name": "bob", "source": "awx"})
    assert set(data) == {"fleetops_last_run", "fleetops_last_status"}
    summary = data["fleetops_last_status"]
    assert summary["outcome"] == "degraded" and summary["operator"]["name"] == "bob" and summary["run_id"] is None
    assert summary["regions"]["eu"] == {"hosts": 2, "current": "v2", "releases": {"v2": 2}, "unreachable": [], "differs": []}
    assert summary["regions"]["us"]["unreachable"] == ["us-2"]
    healthy = run_stats(release_matrix([row("eu-1", "v2")]), "status")["fleetops_last_status"]
    assert healthy["outcome"] == "ok" and healthy["operator"] is None
    split = run_stats(release_matrix([row("eu-1", "v2"), row("eu-2", "v1")]), "status")["fleetops_last_status"]
    assert split["outcome"] == "degraded" and split["regions"]["eu"]["current"] is None


@pytest.mark.parametrize("data, operation, match", [
    ("a report", None, "must be an audit record"),
    ({}, "deploy", "operation may only be 'status'"),
])
def test_bad_input_is_a_filter_error(data, operation, match):
    with pytest.raises(AnsibleFilterError, match=match):
        run_stats(data, operation)
    assert FilterModule().filters() == {"run_stats": run_stats}


def test_no_role_or_playbook_reads_an_artifact_key():
    """AWX passes a job's artifacts to the later workflow nodes as extra variables: a key that is some role's input
    would change what the next node does (a fleet_release would make the rollback node roll back to the deploy's
    release). So no argument spec has a fleetops_* option and nothing reads a fleetops_last_* variable."""
    options = set()
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(spec.read_text())["argument_specs"] or {}).values():
            options.update((entry.get("options") or {}).keys())
    assert options and not [name for name in options if name.startswith("fleetops_")]
    readers = []
    for path in list(ROOT.glob("roles/**/*.yml")) + list(ROOT.glob("playbooks/*.yml")) + list(ROOT.glob("roles/**/*.j2")):
        text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        for match in re.finditer(r"fleetops_last_\w+", text):
            readers.append("%s: %s" % (path.relative_to(ROOT), match.group(0)))
    assert readers == []
    assert _run_stats.stats_key("automatic_rollback") == "fleetops_last_rollback"
