# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Each rule of awx_controller_rules.py on a valid example and on an example that breaks it: the validator that
passes the shipped controller data (test_awx_controller_data.py) can fail."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest

import awx_controller_rules as rules


def _survey() -> dict[str, Any]:
    return {
        "name": "s",
        "description": "d",
        "spec": [
            {"question_name": "Reason", "variable": "fleet_reason", "type": "text", "required": True, "min": 1, "max": 20},
            {"question_name": "Mode", "variable": "fleet_wave_mode", "type": "multiplechoice", "choices": ["lockstep", "sequential"],
             "required": False},
            {"question_name": "Bad", "variable": "fleet_allow_bad_release", "type": "multiplechoice", "choices": ["true", "false"],
             "default": "false", "required": False},
            {"question_name": "Max", "variable": "fleet_max_fail", "type": "integer", "min": 0, "max": 10, "required": False},
            {"question_name": "Sha", "variable": "fleet_artifact_sha256", "type": "text", "min": 0, "max": 64, "default": "", "required": False},
        ],
    }


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(survey: dict[str, Any]) -> None:
        target: Any = survey
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def change(survey: dict[str, Any]) -> None:
        target: Any = survey
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def test_a_valid_survey_passes() -> None:
    assert rules.survey_spec_errors(_survey()) == []


def test_a_survey_is_a_mapping() -> None:
    assert "a survey spec is a mapping" in rules.survey_spec_errors([{"type": "text"}])[0]


SURVEY_BREAKS = [
    ("no name", _drop(("name",)), "field 'name' is missing"),
    ("no description", _drop(("description",)), "field 'description' is missing"),
    ("no spec", _drop(("spec",)), "field 'spec' is missing"),
    ("name not a string", _set(("name",), 3), "field 'name' must be a string"),
    ("spec not a list", _set(("spec",), {"a": 1}), "field 'spec' must be a list"),
    ("empty spec", _set(("spec",), []), "'spec' has no questions"),
    ("question not a mapping", _set(("spec", 0), "reason"), "a question is a mapping"),
    ("no type", _drop(("spec", 0, "type")), "'type' is missing"),
    ("no question_name", _drop(("spec", 0, "question_name")), "'question_name' is missing"),
    ("no variable", _drop(("spec", 0, "variable")), "'variable' is missing"),
    ("no required", _drop(("spec", 0, "required")), "'required' is missing"),
    ("required not a boolean", _set(("spec", 0, "required"), "yes"), "'required' must be a boolean"),
    ("variable not a string", _set(("spec", 0, "variable"), 7), "'variable' must be a string"),
    ("variable twice", _set(("spec", 1, "variable"), "fleet_reason"), "is asked twice"),
    ("unknown type", _set(("spec", 0, "type"), "date"), "type 'date' is not one of"),
    ("boolean type", _set(("spec", 2, "type"), "boolean"), "AWX has no boolean question"),
    ("integer default of another type", _set(("spec", 3, "default"), "3"), "must be of the question's type integer"),
    ("integer default a bool", _set(("spec", 3, "default"), True), "must be of the question's type integer"),
    ("min not an integer", _set(("spec", 0, "min"), "1"), "'min' must be an integer"),
    ("max not an integer", _set(("spec", 3, "max"), 2.5), "'max' must be an integer"),
    ("min above max", _set(("spec", 3, "min"), 11), "min 11 is above max 10"),
    ("multiplechoice without choices", _drop(("spec", 1, "choices")), "must list its choices"),
    ("blank choice", _set(("spec", 1, "choices"), ["lockstep", " "]), "choices must be non-empty strings"),
    ("choice twice", _set(("spec", 1, "choices"), ["lockstep", "lockstep"]), "repeat a value"),
    ("two defaults for one choice", _set(("spec", 1, "default"), "lockstep\nsequential"), "one default at most"),
    ("default among no choice", _set(("spec", 2, "default"), "no"), "is not among the choices"),
    ("default a part of a choice", _set(("spec", 1, "default"), "lock"), "is not among the choices"),
    ("choices on a text question", _set(("spec", 0, "choices"), ["a"]), "choices are for multiplechoice and multiselect"),
    ("encrypted default on text", _set(("spec", 0, "default"), "$encrypted$abc"), "$encrypted$ is reserved"),
    ("default too long for its own max", _set(("spec", 0, "default"), "x" * 21), "would silently drop the default"),
    ("default outside its own range", _set(("spec", 3, "default"), 11), "would silently drop the default"),
]


@pytest.mark.parametrize("change,message", [entry[1:] for entry in SURVEY_BREAKS], ids=[entry[0] for entry in SURVEY_BREAKS])
def test_a_broken_survey_fails(change: Callable[[dict[str, Any]], None], message: str) -> None:
    survey = _survey()
    change(survey)
    errors = rules.survey_spec_errors(survey, "s")
    assert any(message in error for error in errors), errors


def test_multiselect_defaults_and_choices_as_lines() -> None:
    """Choices may be lines of one string (AWX strips blank ones); a default must be among them. A multiselect default
    given as lines passes the spec check but is not a list, so AWX drops it from an unanswered launch (a schedule)."""
    question = {"question_name": "Regions", "variable": "fleet_region_order", "type": "multiselect", "required": False,
                "choices": "us\neu\n\nap", "default": ["eu", "ap"]}
    assert rules.question_errors(question, "q") == []
    assert "is not among the choices" in rules.question_errors(dict(question, default=["eu", "asia"]), "q")[0]
    assert "would silently drop the default" in rules.question_errors(dict(question, default="eu\nap"), "q")[0]


ANSWERS = [
    ({"variable": "v", "type": "text", "min": 1, "max": 3}, "ab", None),
    ({"variable": "v", "type": "text", "min": 1, "max": 3}, 5, "must be a string"),
    ({"variable": "v", "type": "text", "min": 1, "max": 3}, "", "shorter than min"),
    ({"variable": "v", "type": "textarea", "max": 3}, "abcd", "longer than max"),
    ({"variable": "v", "type": "integer", "min": 0, "max": 3}, 2, None),
    ({"variable": "v", "type": "integer"}, True, "must be an integer"),
    ({"variable": "v", "type": "integer"}, 2.0, "must be an integer"),
    ({"variable": "v", "type": "integer", "min": 0}, -1, "below min"),
    ({"variable": "v", "type": "float", "max": 1}, 1.5, "above max"),
    ({"variable": "v", "type": "float"}, 1, None),
    ({"variable": "v", "type": "multiselect", "choices": ["a", "b"]}, ["a"], None),
    ({"variable": "v", "type": "multiselect", "choices": ["a", "b"]}, "a", "must be a list"),
    ({"variable": "v", "type": "multiselect", "choices": ["a", "b"]}, ["c"], "is not one of"),
    ({"variable": "v", "type": "multiplechoice", "choices": ["true", "false"]}, "true", None),
    ({"variable": "v", "type": "multiplechoice", "choices": ["true", "false"]}, True, "is not one of"),
]


@pytest.mark.parametrize("question,value,message", ANSWERS)
def test_answers_as_awx_validates_them(question: dict[str, Any], value: Any, message: str | None) -> None:
    errors = rules.answer_errors(question, value)
    if message is None:
        assert errors == []
    else:
        assert any(message in error for error in errors), errors


def test_what_awx_sends_for_unanswered_questions() -> None:
    """A blank text default is sent as ''; a blank or missing default of another type is not sent at all."""
    sent = rules.unanswered_values(_survey())
    assert sent == {"fleet_allow_bad_release": "false", "fleet_artifact_sha256": ""}
    survey = _survey()
    survey["spec"][3]["default"] = ""
    assert "fleet_max_fail" not in rules.unanswered_values(survey)


KNOWN: dict[str, list[dict[str, Any]]] = {
    "fleet_reason": [{"type": "str", "where": "role r entry point main"}],
    "fleet_wave_mode": [{"type": "str", "choices": ["lockstep", "sequential"], "default": "lockstep", "where": "role waves entry point main"}],
    "fleet_allow_bad_release": [{"type": "bool", "default": False, "where": "role deploy entry point main"}],
    "fleet_max_fail": [{"type": "int", "default": 0, "where": "role waves entry point main"}],
    "fleet_artifact_sha256": [{"type": "str", "where": "role deploy entry point main"}],
    "fleet_region_order": [{"type": "list", "elements": "str", "where": "role waves entry point main"}],
    "fleet_health_checks": [{"type": "list", "elements": "dict", "where": "role waves entry point main"}],
    "fleet_release": [{"type": "str", "where": "role deploy entry point main"}],
}


def test_the_valid_survey_fits_the_argument_specs() -> None:
    errors = [e for q in _survey()["spec"] for e in rules.survey_variable_errors(q, KNOWN)]
    errors += [e for q in _survey()["spec"] for e in rules.survey_default_errors(q, KNOWN, per_run={"fleet_allow_bad_release"})]
    assert errors == []


VARIABLE_BREAKS = [
    ({"variable": "fleet_relase", "type": "text"}, "no role's argument spec nor run_inputs reads 'fleet_relase'"),
    ({"variable": "fleet_allow_bad_release", "type": "text"}, "takes a bool; ask it as multiplechoice"),
    ({"variable": "fleet_allow_bad_release", "type": "multiplechoice", "choices": ["yes", "no"]}, "takes a bool"),
    ({"variable": "fleet_reason", "type": "integer"}, "a integer answer does not fit type str"),
    ({"variable": "fleet_max_fail", "type": "text"}, "a text answer does not fit type int"),
    ({"variable": "fleet_wave_mode", "type": "multiplechoice", "choices": ["lockstep", "canary"]}, "choices ['canary'] are not among"),
    ({"variable": "fleet_wave_mode", "type": "text"}, "ask it as a multiplechoice question"),
    ({"variable": "fleet_health_checks", "type": "multiselect", "choices": ["a"]}, "wants elements dict"),
]


@pytest.mark.parametrize("question,message", VARIABLE_BREAKS)
def test_a_survey_variable_that_does_not_fit_fails(question: dict[str, Any], message: str) -> None:
    errors = rules.survey_variable_errors(question, KNOWN, where="s")
    assert any(message in error for error in errors), errors


def test_a_wrapper_alias_names_the_variable_the_playbook_reads() -> None:
    question = {"variable": "fleet_deploy_release", "type": "text"}
    assert "no role's argument spec" in rules.survey_variable_errors(question, KNOWN)[0]
    assert rules.survey_variable_errors(question, KNOWN, {"fleet_deploy_release": "fleet_release"}) == []


def test_wrapper_aliases_are_read_from_import_playbook_vars(tmp_path: Path) -> None:
    (tmp_path / "step.yml").write_text(
        "- name: x\n  ansible.builtin.import_playbook: fleetops.release.deploy\n  vars:\n    fleet_release: \"{{ fleet_deploy_release }}\"\n"
        "    fleet_reason: \"fixed {{ fleet_x }}\"\n", encoding="utf-8")
    assert rules.wrapper_aliases(tmp_path) == {"fleet_deploy_release": "fleet_release"}


DEFAULT_BREAKS = [
    ({"variable": "fleet_max_fail", "type": "integer", "default": 0}, "would override the inventory's fleet_max_fail"),
    ({"variable": "fleet_wave_mode", "type": "multiplechoice", "choices": ["lockstep", "sequential"], "default": "lockstep"},
     "would override the inventory's fleet_wave_mode"),
    ({"variable": "fleet_allow_bad_release", "type": "multiplechoice", "choices": ["true", "false"], "default": "true"},
     "differs from False"),
]


@pytest.mark.parametrize("question,message", DEFAULT_BREAKS)
def test_a_survey_default_that_changes_the_playbook_fails(question: dict[str, Any], message: str) -> None:
    errors = rules.survey_default_errors(question, KNOWN, per_run={"fleet_allow_bad_release"}, where="s")
    assert any(message in error for error in errors), errors


def test_bool_answers_must_be_read_with_bool(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text("- name: a\n  when: fleet_flag | bool\n- name: b\n  x:\n    y: \"{{ fleet_flag | default(false) | bool }}\"\n"
                    "  # fleet_flag in a comment\n- name: c\n  msg: re-run with -e fleet_flag=true\n", encoding="utf-8")
    assert rules.bool_usage_errors("fleet_flag", [good]) == []
    bad = tmp_path / "bad.yml"
    bad.write_text("- name: a\n  when: fleet_flag\n- name: b\n  x:\n    y: \"{{ fleet_flag }}\"\n", encoding="utf-8")
    errors = rules.bool_usage_errors("fleet_flag", [bad])
    assert [e.split(": ")[0] for e in errors] == [f"{bad}:2", f"{bad}:5"]


def _template(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    (tmp_path / "status.yml").write_text("---\n", encoding="utf-8")
    template = {"name": "t", "job_type": "check", "playbook": "status.yml", "ask_variables_on_launch": False, "ask_limit_on_launch": True,
                "allow_simultaneous": False, "job_slice_count": 1, "survey_enabled": True, "survey_spec": _survey()}
    template.update(changes)
    return template


def test_a_valid_job_template_passes(tmp_path: Path) -> None:
    assert rules.job_template_errors(_template(tmp_path), tmp_path) == []


TEMPLATE_BREAKS = [
    ({"ask_variables_on_launch": True}, "ask_variables_on_launch must be False"),
    ({"ask_limit_on_launch": False}, "ask_limit_on_launch must be True"),
    ({"allow_simultaneous": True}, "allow_simultaneous must be False"),
    ({"job_slice_count": 3}, "slicing splits the fleet lock and the waves"),
    ({"survey_enabled": False}, "survey_enabled must be True"),
    ({"job_type": "scan"}, "job_type must be run or check"),
    ({"playbook": "rollbak.yml"}, "playbook 'rollbak.yml' is not a file of the project"),
    ({"survey_spec": {"name": "s", "description": "d", "spec": []}}, "'spec' has no questions"),
]


@pytest.mark.parametrize("changes,message", TEMPLATE_BREAKS)
def test_a_broken_job_template_fails(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    errors = rules.job_template_errors(_template(tmp_path, **changes), tmp_path)
    assert any(message in error for error in errors), errors


TEMPLATES = {
    "deploy": {"name": "deploy", "ask_limit_on_launch": True, "ask_variables_on_launch": False,
               "survey_spec": {"spec": [{"variable": "fleet_release", "type": "text", "required": True, "min": 1},
                                        {"variable": "fleet_trigger", "type": "multiplechoice", "choices": ["manual", "automatic"],
                                         "required": False}]}},
    "status": {"name": "status", "ask_limit_on_launch": False, "ask_variables_on_launch": False, "survey_spec": {"spec": []}},
}


def _simplified() -> dict[str, Any]:
    return {
        "name": "w",
        "survey_enabled": True,
        "survey_spec": {"name": "w", "description": "d",
                        "spec": [{"question_name": "R", "variable": "fleet_release", "type": "text", "required": True}]},
        "simplified_workflow_nodes": [
            {"identifier": "one", "unified_job_template": "deploy", "limit": "canary", "extra_data": {"fleet_trigger": "automatic"},
             "success_nodes": ["ok"], "failure_nodes": ["report"]},
            {"identifier": "ok", "approval_node": {"name": "approve", "timeout": 60}, "success_nodes": ["two"], "failure_nodes": ["report"]},
            {"identifier": "two", "unified_job_template": "deploy", "always_nodes": ["report"]},
            {"identifier": "report", "unified_job_template": "status"},
        ],
    }


def _exported() -> dict[str, Any]:
    return {
        "name": "x",
        "workflow_nodes": [
            {"identifier": "s", "unified_job_template": {"name": "status", "type": "job_template"},
             "related": {"success_nodes": [{"identifier": "a"}]}},
            {"identifier": "a", "unified_job_template": {"name": "approve", "type": "workflow_approval", "timeout": 900},
             "related": {"failure_nodes": [{"identifier": "r"}]}},
            {"identifier": "r", "unified_job_template": {"name": "status", "type": "job_template"}},
        ],
    }


def test_valid_workflows_pass_in_both_forms() -> None:
    assert rules.workflow_errors(_simplified(), TEMPLATES) == []
    assert rules.workflow_errors(_exported(), TEMPLATES) == []
    nodes, _edges = rules.workflow_nodes(_exported())
    assert nodes["a"]["kind"] == "approval" and nodes["s"]["edges"]["success"] == ["a"]


def _nodes(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return workflow.get("simplified_workflow_nodes") or workflow["workflow_nodes"]


WORKFLOW_BREAKS: list[tuple[str, Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None], str]] = [
    ("both forms", _simplified, lambda w: w.update(workflow_nodes=[]), "has both simplified_workflow_nodes and workflow_nodes"),
    ("no nodes", _simplified, lambda w: w.update(simplified_workflow_nodes=[]), "has no nodes"),
    ("no identifier", _simplified, lambda w: _nodes(w)[3].pop("identifier"), "needs an identifier"),
    ("identifier twice", _simplified, lambda w: _nodes(w)[2].update(identifier="one"), "is used by more than one node"),
    ("edge to nowhere", _simplified, lambda w: _nodes(w)[2].update(always_nodes=["reprot"]), "always edge to 'reprot'"),
    ("cycle", _simplified, lambda w: _nodes(w)[3].update(success_nodes=["one"]), "the nodes form a cycle"),
    ("approval without failure edge", _simplified, lambda w: _nodes(w)[1].pop("failure_nodes"), "an approval node needs a failure edge"),
    ("approval without timeout", _simplified, lambda w: _nodes(w)[1]["approval_node"].pop("timeout"), "needs a timeout in seconds above 0"),
    ("approval and template", _simplified, lambda w: _nodes(w)[1].update(unified_job_template="deploy"), "exclude each other"),
    ("unknown template", _simplified, lambda w: _nodes(w)[3].update(unified_job_template="statsu"), "'statsu' is not defined"),
    ("limit not asked", _simplified, lambda w: _nodes(w)[3].update(limit="eu"), "limit 'eu' would be ignored"),
    ("extra_data not in the survey", _simplified, lambda w: _nodes(w)[0]["extra_data"].update(fleet_force="true"),
     "extra_data 'fleet_force' would be refused"),
    ("extra_data not a choice", _simplified, lambda w: _nodes(w)[0]["extra_data"].update(fleet_trigger="auto"), "'auto' is not one of"),
    ("required question unanswered", _simplified, lambda w: w["survey_spec"]["spec"][0].update(required=False),
     "the required question 'fleet_release' of 'deploy' is not answered"),
    ("workflow limit", _simplified, lambda w: w.update(ask_limit_on_launch=True), "a workflow limit replaces every node's limit"),
    ("workflow survey broken", _simplified, lambda w: w["survey_spec"].update(spec=[]), "'spec' has no questions"),
    ("export approval without failure edge", _exported, lambda w: _nodes(w)[1]["related"].pop("failure_nodes"),
     "an approval node needs a failure edge"),
    ("export approval timeout 0", _exported, lambda w: _nodes(w)[1]["unified_job_template"].update(timeout=0), "above 0, not 0"),
    ("export node without type", _exported, lambda w: _nodes(w)[0]["unified_job_template"].pop("type"), "needs a type"),
    ("export cycle", _exported, lambda w: _nodes(w)[2].update(related={"success_nodes": [{"identifier": "s"}]}), "the nodes form a cycle"),
]


@pytest.mark.parametrize("make,change,message", [entry[1:] for entry in WORKFLOW_BREAKS], ids=[entry[0] for entry in WORKFLOW_BREAKS])
def test_a_broken_workflow_fails(make: Callable[[], dict[str, Any]], change: Callable[[dict[str, Any]], None], message: str) -> None:
    workflow = make()
    change(workflow)
    errors = rules.workflow_errors(workflow, TEMPLATES)
    assert any(message in error for error in errors), errors


def test_schedules() -> None:
    templates = copy.deepcopy(TEMPLATES)
    assert rules.schedule_errors({"name": "s", "unified_job_template": "status"}, templates) == []
    assert "required question 'fleet_release' has no default" in rules.schedule_errors({"name": "s", "unified_job_template": "deploy"}, templates)[0]
    assert rules.schedule_errors({"name": "s", "unified_job_template": "deploy", "extra_data": {"fleet_release": "v2"}}, templates) == []
    assert "'x' is not one of" in rules.schedule_errors(
        {"name": "s", "unified_job_template": "deploy", "extra_data": {"fleet_release": "v2", "fleet_trigger": "x"}}, templates)[0]
    assert "is not a job template or workflow" in rules.schedule_errors({"name": "s", "unified_job_template": "drill"}, templates)[0]
