# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shipped AWX controller data (extensions/awx/controller/) against AWX's rules and the collection's playbooks.

The rules are in awx_controller_rules.py (each cited there); test_awx_rules.py shows that each of them can fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import awx_controller_rules as rules

REPO = Path(__file__).resolve().parents[3]
CONTROLLER = REPO / "extensions" / "awx" / "controller"
PROJECT = REPO / "extensions" / "awx" / "project"
ROLES = REPO / "roles"

# Variables that describe one run rather than the fleet: a survey may give them a default (equal to the playbooks').
PER_RUN = {"fleet_release", "fleet_artifact", "fleet_artifact_sha256", "fleet_reason", "fleet_status_format",
           "fleet_allow_bad_release", "fleet_break_stale_lock", "fleet_break_lock_of_run", "fleet_trigger",
           # a drill's answers describe that drill only
           "fleet_drill_group", "fleet_drill_fault", "fleet_drill_release", "fleet_drill_artifact",
           "fleet_drill_artifact_sha256", "fleet_drill_allow_production", "fleet_paused_run"}


def _load(name: str) -> Any:
    return yaml.safe_load((CONTROLLER / name).read_text(encoding="utf-8"))


DATA: dict[str, Any] = {}
for _file in sorted(CONTROLLER.glob("*.yml")):
    DATA.update(yaml.safe_load(_file.read_text(encoding="utf-8")))
TEMPLATES = {t["name"]: t for t in DATA["controller_templates"]}
WORKFLOWS = {w["name"]: w for w in DATA["controller_workflows"]}
KNOWN = rules.argument_spec_options(ROLES)
for _name, _defs in rules.run_inputs_variables(ROLES / "waves" / "tasks" / "inputs.yml").items():
    KNOWN.setdefault(_name, []).extend(_defs)
ALIASES = rules.wrapper_aliases(PROJECT)


def _surveys() -> list[tuple[str, dict[str, Any]]]:
    return [(f"job template {n}", t["survey_spec"]) for n, t in TEMPLATES.items()] + \
        [(f"workflow {n}", w["survey_spec"]) for n, w in WORKFLOWS.items() if w.get("survey_enabled")]


def test_controller_data_has_the_issue_s_templates_and_workflows() -> None:
    assert {"fleet status", "fleet deploy", "fleet rollback"} <= set(TEMPLATES)
    assert TEMPLATES["fleet status"]["job_type"] == "check"
    assert TEMPLATES["fleet deploy"]["job_type"] == TEMPLATES["fleet rollback"]["job_type"] == "run"
    assert set(WORKFLOWS) == {"fleet deploy with approval", "fleet guarded rollback"}
    for variable in ("controller_projects", "controller_inventories", "controller_inventory_sources", "controller_execution_environments",
                     "controller_credentials", "controller_teams", "controller_roles", "controller_schedules"):
        assert DATA.get(variable), f"{variable} is missing from {CONTROLLER}"


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_job_template_settings_and_playbook(name: str) -> None:
    assert rules.job_template_errors(TEMPLATES[name], PROJECT) == []


@pytest.mark.parametrize("where,survey", _surveys(), ids=[entry[0] for entry in _surveys()])
def test_survey_passes_awx_rules(where: str, survey: dict[str, Any]) -> None:
    assert rules.survey_spec_errors(survey, where) == []


@pytest.mark.parametrize("where,survey", _surveys(), ids=[entry[0] for entry in _surveys()])
def test_survey_variables_are_read_by_the_playbooks(where: str, survey: dict[str, Any]) -> None:
    errors = []
    for question in survey["spec"]:
        errors += rules.survey_variable_errors(question, KNOWN, ALIASES, where)
        errors += rules.survey_default_errors(question, KNOWN, ALIASES, PER_RUN, where)
    assert errors == []


def test_yes_no_answers_are_read_with_bool() -> None:
    """Every variable asked as "true"/"false" is read by the roles with | bool."""
    bool_variables = {ALIASES.get(q["variable"], q["variable"]) for _where, s in _surveys() for q in s["spec"]
                      if q["type"] == "multiplechoice" and sorted(q["choices"]) == ["false", "true"]}
    assert bool_variables, "no yes/no question found: the test would check nothing"
    task_files = sorted(ROLES.glob("*/tasks/*.yml"))
    errors = [e for variable in sorted(bool_variables) for e in rules.bool_usage_errors(variable, task_files)]
    assert errors == []


def test_every_wrapper_playbook_imports_a_collection_playbook() -> None:
    playbooks = sorted(PROJECT.glob("*.yml"))
    assert playbooks
    collection_playbooks = {p.stem for p in (REPO / "playbooks").glob("*.yml")}
    for playbook in playbooks:
        entries = yaml.safe_load(playbook.read_text(encoding="utf-8"))
        imported = [e["ansible.builtin.import_playbook"] for e in entries]
        assert imported and all(i.startswith("fleetops.release.") for i in imported), playbook
        assert all(i.removeprefix("fleetops.release.") in collection_playbooks for i in imported), playbook
    requirements = yaml.safe_load((PROJECT / "collections" / "requirements.yml").read_text(encoding="utf-8"))
    assert [c["name"] for c in requirements["collections"]] == ["fleetops.release"]


def test_every_template_of_the_project_is_used_and_every_playbook_too() -> None:
    used = {t["playbook"] for t in TEMPLATES.values()}
    assert used == {p.name for p in PROJECT.glob("*.yml")}


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflow_graph_and_prompts(name: str) -> None:
    assert rules.workflow_errors(WORKFLOWS[name], TEMPLATES) == []


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflow_with_a_rollback_does_not_name_its_target(name: str) -> None:
    """The workflow's answers reach every node: fleet_release would be the rollback node's target."""
    workflow = WORKFLOWS[name]
    nodes, _edges = rules.workflow_nodes(workflow)
    names = {n["name"] for n in nodes.values() if n["kind"] == "template"}
    deploys = any(TEMPLATES[n]["playbook"].startswith("deploy") for n in names)
    rolls_back = any(TEMPLATES[n]["playbook"] == "rollback.yml" for n in names)
    asked = {q["variable"] for q in workflow["survey_spec"]["spec"]}
    if deploys and rolls_back:
        assert "fleet_release" not in asked
    assert workflow["allow_simultaneous"] is False and workflow["ask_variables_on_launch"] is False


def test_deploy_with_approval_paths() -> None:
    """canary -> approval -> rest; a denial or a failed rest rolls the canary back, then the status report."""
    nodes, errors = rules.workflow_nodes(WORKFLOWS["fleet deploy with approval"])
    assert errors == []
    kinds = {i: n["kind"] for i, n in nodes.items()}
    assert kinds == {"canary": "template", "approve_rest": "approval", "rest": "template", "rollback_canary": "template", "report": "template"}
    assert nodes["canary"]["limit"] == "canary" and nodes["canary"]["edges"]["success"] == ["approve_rest"]
    assert nodes["approve_rest"]["edges"] == {"success": ["rest"], "failure": ["rollback_canary"], "always": []}
    assert nodes["rest"]["edges"]["failure"] == ["rollback_canary"]
    assert TEMPLATES[nodes["rollback_canary"]["name"]]["playbook"] == "rollback.yml" and nodes["rollback_canary"]["limit"] == "canary"
    assert nodes["rollback_canary"]["edges"]["always"] == ["report"]
    assert TEMPLATES[nodes["report"]["name"]]["job_type"] == "check"


def test_guarded_rollback_paths() -> None:
    nodes, errors = rules.workflow_nodes(WORKFLOWS["fleet guarded rollback"])
    assert errors == []
    assert nodes["status_before"]["edges"]["always"] == ["approve_rollback"]
    assert nodes["approve_rollback"]["kind"] == "approval"
    assert nodes["approve_rollback"]["edges"] == {"success": ["rollback"], "failure": ["report"], "always": []}
    assert nodes["rollback"]["edges"]["failure"] == ["report"]
    assert TEMPLATES[nodes["report"]["name"]]["job_type"] == "check"


@pytest.mark.parametrize("schedule", DATA["controller_schedules"], ids=lambda s: s["name"])
def test_schedules_launch_without_a_person(schedule: dict[str, Any]) -> None:
    assert rules.schedule_errors(schedule, {**TEMPLATES, **WORKFLOWS}) == []


def test_references_between_the_controller_objects() -> None:
    """Every name one object uses is defined by another (organization Default is AWX's own)."""
    projects = {p["name"] for p in DATA["controller_projects"]}
    inventories = {i["name"] for i in DATA["controller_inventories"]}
    environments = {e["name"] for e in DATA["controller_execution_environments"]}
    credentials = {c["name"] for c in DATA["controller_credentials"]}
    teams = {t["name"] for t in DATA["controller_teams"]}
    for template in TEMPLATES.values():
        assert template["project"] in projects and template["inventory"] in inventories
        assert template["execution_environment"] in environments and set(template["credentials"]) <= credentials
    for source in DATA["controller_inventory_sources"]:
        assert source["inventory"] in inventories and source["source_project"] in projects
    for project in DATA["controller_projects"]:
        assert project["default_environment"] in environments
    for grant in DATA["controller_roles"]:
        assert grant["team"] in teams
        assert set(grant.get("job_templates", [])) <= set(TEMPLATES), grant
        assert set(grant.get("workflows", [])) <= set(WORKFLOWS), grant
    # The workflow step template runs inside its workflow only: nobody gets to launch it on its own.
    assert all("fleet deploy (workflow step)" not in g.get("job_templates", []) for g in DATA["controller_roles"])
