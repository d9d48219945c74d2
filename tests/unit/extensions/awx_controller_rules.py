# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rules AWX applies to the controller data of extensions/awx/controller/, as plain functions for the tests.

AWX itself cannot run on the test machines (containers, git-only dependencies), so these functions follow its source
(ansible/awx at e21dd0a0933fd544d1fe2513c54fe41203775eb5) and that of infra.controller_configuration
(redhat-cop/controller_configuration at 9b08b14286a5ad07f6d08820ea26801c80bb04a1), cited at each rule. Every
function returns a list of messages (empty: valid), each naming the item and what to do, so that a test can show all
problems at once and the failing examples can assert on the message.

Where a rule is this project's, not AWX's, the comment says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

# awx/main/constants.py:98 SURVEY_TYPE_MAPPING: the question types and the Python types of their defaults and answers.
# There is no boolean type.
SURVEY_TYPE_MAPPING: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "textarea": (str,),
    "password": (str,),
    "multiplechoice": (str,),
    "multiselect": (str,),
    "integer": (int,),
    "float": (float, int),
}
MULTI_TYPES = ("multiplechoice", "multiselect")
TEXT_TYPES = ("text", "textarea", "password")
BOOL_CHOICES = ("true", "false")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choices(question: Mapping[str, Any]) -> list[str]:
    """The choices of a multi question as AWX reads them: a list, or a string of lines without blank ones
    (awx/main/models/mixins.py _survey_element_validation, the multiselect and multiplechoice branches)."""
    choices = question.get("choices")
    if isinstance(choices, str):
        return [line for line in choices.splitlines() if line.strip() != ""]
    return list(choices or [])


def _defaults(question: Mapping[str, Any]) -> list[Any]:
    default = question.get("default")
    if isinstance(default, str):
        return [line for line in default.splitlines() if line.strip() != ""]
    return list(default) if isinstance(default, list) else [default]


def survey_spec_errors(survey: Any, where: str = "survey") -> list[str]:
    """What AWX's POST of a survey spec refuses, plus the traps it lets through.

    Follows awx/api/views/__init__.py JobTemplateSurveySpec._validate_spec_data (lines 2523-2668; the same
    validation serves WorkflowJobTemplateSurveySpec): top-level ``name`` and ``description`` strings and a non-empty
    ``spec`` list; each question a mapping with ``type``, ``question_name``, ``variable`` (strings) and ``required``
    (a boolean); variables unique; ``type`` one of SURVEY_TYPE_MAPPING; a non-blank default of the type's Python type;
    ``min``/``max`` integers or null; choices for multiplechoice and multiselect; a multiplechoice has at most one
    default; defaults among the choices; ``$encrypted$`` only for password defaults.
    """
    if not isinstance(survey, Mapping):
        return [f"{where}: a survey spec is a mapping with name, description and spec, not {type(survey).__name__}"]
    errors = []
    for field, expected, label in (("name", str, "a string"), ("description", str, "a string"), ("spec", list, "a list of questions")):
        if field not in survey:
            errors.append(f"{where}: field '{field}' is missing from the survey spec; add it ({label})")
        elif not isinstance(survey[field], expected):
            errors.append(f"{where}: field '{field}' must be {label}, not {type(survey[field]).__name__}")
    if isinstance(survey.get("spec"), list) and not survey["spec"]:
        errors.append(f"{where}: 'spec' has no questions; a survey needs at least one (or disable the survey)")
    if errors:
        return errors
    seen: set[str] = set()
    for idx, question in enumerate(survey["spec"]):
        errors.extend(question_errors(question, f"{where} question {idx}", seen))
    return errors


def question_errors(question: Any, where: str, seen: set[str] | None = None) -> list[str]:
    """One question of a survey spec (see survey_spec_errors); ``seen`` collects variables across the spec."""
    if not isinstance(question, Mapping):
        return [f"{where}: a question is a mapping, not {type(question).__name__}"]
    errors = []
    for field in ("type", "question_name", "variable", "required"):
        if field not in question:
            errors.append(f"{where}: '{field}' is missing; every question needs type, question_name, variable and required")
            continue
        expected, label = (bool, "a boolean") if field == "required" else (str, "a string")
        if not isinstance(question[field], expected):
            errors.append(f"{where}: '{field}' must be {label}, not {question[field]!r}")
    if errors:
        return errors
    where = f"{where} ({question['variable']})"
    if seen is not None:
        if question["variable"] in seen:
            errors.append(f"{where}: variable '{question['variable']}' is asked twice; keep one question per variable")
        seen.add(question["variable"])
    qtype = question["type"]
    if qtype not in SURVEY_TYPE_MAPPING:
        hint = ' (AWX has no boolean question: use multiplechoice with choices "true" and "false", read with | bool)' if qtype in ("boolean", "bool") else ""
        return errors + [f"{where}: type '{qtype}' is not one of {', '.join(SURVEY_TYPE_MAPPING)}{hint}"]
    if "default" in question and question["default"] != "" and question["default"] is not None:
        default = question["default"]
        if qtype == "multiselect" and isinstance(default, list):
            ok = all(isinstance(item, str) for item in default)
        else:
            ok = isinstance(default, SURVEY_TYPE_MAPPING[qtype]) and not isinstance(default, bool)
        if not ok:
            errors.append(f"{where}: default {default!r} must be of the question's type {qtype}")
    for key in ("min", "max"):
        if key in question and question[key] is not None and not _is_int(question[key]):
            errors.append(f"{where}: '{key}' must be an integer (or null), not {question[key]!r}")
    if _is_int(question.get("min")) and _is_int(question.get("max")) and question["min"] > question["max"]:
        errors.append(f"{where}: min {question['min']} is above max {question['max']}")  # this project's rule
    if qtype in MULTI_TYPES:
        if "choices" not in question:
            errors.append(f"{where}: a {qtype} question must list its choices")
        else:
            choices = _choices(question)
            if not choices or not all(isinstance(choice, str) and choice.strip() for choice in choices):
                errors.append(f"{where}: choices must be non-empty strings, not {question['choices']!r}")
            elif len(set(choices)) != len(choices):
                errors.append(f"{where}: choices {choices} repeat a value")  # this project's rule
            elif "default" in question and question["default"] not in ("", None):
                defaults = _defaults(question)
                if qtype == "multiplechoice" and len(defaults) > 1:
                    errors.append(f"{where}: a multiplechoice question has one default at most, not {defaults}")
                # AWX tests `item in choices`, a substring test when choices is a string: here membership, exactly.
                missing = [item for item in defaults if item not in choices]
                if missing:
                    errors.append(f"{where}: default {missing} is not among the choices {choices}")
    elif "choices" in question and question["choices"] not in ("", None, []):
        errors.append(f"{where}: choices are for multiplechoice and multiselect questions only, not {qtype}")  # this project's rule
    default = question.get("default")
    if isinstance(default, str) and default.startswith("$encrypted$") and qtype != "password":
        errors.append(f"{where}: $encrypted$ is reserved for password defaults")
    if not errors and "default" in question and default not in ("", None):
        # awx/main/models/mixins.py _update_unified_job_kwargs: a default is applied only when it passes
        # _survey_element_validation; one that does not (too long, out of range) is dropped without a word.
        invalid = answer_errors(question, default)
        if invalid:
            errors.append(f"{where}: AWX would silently drop the default {default!r}: {'; '.join(invalid)}")
    return errors


def answer_errors(question: Mapping[str, Any], value: Any) -> list[str]:
    """Whether AWX accepts ``value`` as the answer to ``question`` (a launch, a node's extra_data, a schedule).

    Follows awx/main/models/mixins.py SurveyJobTemplateMixin._survey_element_validation (lines 205-364): text types
    take strings within min/max length; integer an int (``type(...) != int``, so not a bool) within min/max; float an
    int or float within min/max; multiselect a list of choices; multiplechoice one of the choices.
    """
    variable, qtype = question["variable"], question["type"]
    errors = []
    if qtype in TEXT_TYPES:
        if not isinstance(value, str):
            return [f"'{variable}': {value!r} must be a string"]
        if question.get("min") not in ("", None) and len(value) < int(question["min"]):
            errors.append(f"'{variable}': {value!r} is shorter than min {question['min']}")
        if question.get("max") not in ("", None) and len(value) > int(question["max"]):
            errors.append(f"'{variable}': {value!r} is longer than max {question['max']}")
    elif qtype in ("integer", "float"):
        allowed = (int,) if qtype == "integer" else (int, float)
        if type(value) not in allowed:  # pylint: disable=unidiomatic-typecheck  # AWX's own test: a bool is no int
            return [f"'{variable}': {value!r} must be {'an integer' if qtype == 'integer' else 'a number'}"]
        if question.get("min") not in ("", None) and value < float(question["min"]):
            errors.append(f"'{variable}': {value!r} is below min {question['min']}")
        if question.get("max") not in ("", None) and value > float(question["max"]):
            errors.append(f"'{variable}': {value!r} is above max {question['max']}")
    elif qtype == "multiselect":
        if not isinstance(value, list):
            return [f"'{variable}': {value!r} must be a list"]
        errors.extend(f"'{variable}': {item!r} is not one of {_choices(question)}" for item in value if item not in _choices(question))
    elif qtype == "multiplechoice" and value not in _choices(question):
        errors.append(f"'{variable}': {value!r} is not one of {_choices(question)}")
    return errors


def unanswered_values(survey: Mapping[str, Any]) -> dict[str, Any]:
    """The extra variables AWX sends for the questions nobody answered: every default that is not None and passes
    validation (mixins.py _update_unified_job_kwargs), so a text default "" arrives as ''."""
    values = {}
    for question in survey.get("spec", []):
        if question.get("default") is not None and not answer_errors(question, question["default"]):
            values[question["variable"]] = question["default"]
    return values


# -- survey variables against the roles' argument specs (this project's rules) -----------------------------------------

# What an answer of each question type is in Ansible, and the argument-spec types that take it. A multiplechoice of
# exactly "true"/"false" is how AWX asks a yes/no question; the string is converted by the argument spec's bool type
# and, in the roles' expressions, by `| bool` (bool_usage_errors).
_COMPATIBLE = {
    "text": {"str", "path", "raw"},
    "textarea": {"str", "path", "raw"},
    "password": {"str", "raw"},
    "multiplechoice": {"str", "raw"},
    "multiselect": {"list", "raw"},
    "integer": {"int", "float", "raw"},
    "float": {"float", "raw"},
}


def argument_spec_options(roles_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every option of every entry point of every role: variable -> list of its definitions, each with ``where``."""
    options: dict[str, list[dict[str, Any]]] = {}
    for spec_file in sorted(roles_dir.glob("*/meta/argument_specs.yml")):
        specs = yaml.safe_load(spec_file.read_text(encoding="utf-8"))["argument_specs"]
        for entry, spec in specs.items():
            for name, option in (spec.get("options") or {}).items():
                options.setdefault(name, []).append(dict(option, where=f"role {spec_file.parts[-3]} entry point {entry}"))
    return options


def run_inputs_variables(inputs_tasks: Path) -> dict[str, list[dict[str, Any]]]:
    """The variables that the playbooks' first task (fleetops.release.run_inputs, in roles/waves/tasks/inputs.yml)
    judges: each option's expression names one fleet_ variable. Its options are of type raw (run_inputs checks their
    values itself, before anything changes)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for task in yaml.safe_load(inputs_tasks.read_text(encoding="utf-8")):
        for option, expression in (task.get("fleetops.release.run_inputs") or {}).items():
            match = re.search(r"\b(fleet_\w+)", str(expression))
            if match:
                found.setdefault(match.group(1), []).append({"type": "raw", "where": f"run_inputs option {option}"})
    return found


def wrapper_aliases(project_dir: Path) -> dict[str, str]:
    """Variables that a wrapper playbook of the AWX project hands to the collection's playbook under another name:
    ``vars: {fleet_release: "{{ fleet_deploy_release }}"}`` on an import_playbook maps fleet_deploy_release to
    fleet_release."""
    aliases = {}
    for playbook in sorted(project_dir.glob("*.yml")):
        for entry in yaml.safe_load(playbook.read_text(encoding="utf-8")) or []:
            for target, expression in (entry.get("vars") or {}).items():
                match = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", str(expression))
                if match:
                    aliases[match.group(1)] = target
    return aliases


def survey_variable_errors(question: Mapping[str, Any], known: Mapping[str, list[dict[str, Any]]], aliases: Mapping[str, str] | None = None,
                           where: str = "survey") -> list[str]:
    """A survey variable must be one the playbooks read (an option of a role's argument spec, or judged by run_inputs),
    directly or through a wrapper playbook's alias, with a type that takes the answer and choices the option accepts."""
    variable = question["variable"]
    name = (aliases or {}).get(variable, variable)
    where = f"{where} ({variable})"
    if name not in known:
        return [f"{where}: no role's argument spec nor run_inputs reads '{name}'; a survey answer to it would change nothing. "
                "Ask for a variable of meta/argument_specs.yml, or map it in a wrapper playbook"]
    errors = []
    qtype = question["type"]
    survey_choices = _choices(question) if qtype in MULTI_TYPES else []
    is_bool_question = qtype == "multiplechoice" and sorted(survey_choices) == sorted(BOOL_CHOICES)
    for option in known[name]:
        spec_type = option.get("type", "str")
        if spec_type == "bool":
            if not is_bool_question:
                errors.append(f"{where}: {option['where']} takes a bool; ask it as multiplechoice with choices \"true\" and \"false\"")
            continue
        if spec_type not in _COMPATIBLE[qtype]:
            errors.append(f"{where}: a {qtype} answer does not fit type {spec_type} of {option['where']}")
            continue
        if qtype == "multiselect" and option.get("elements", "str") not in ("str", "raw"):
            errors.append(f"{where}: a multiselect answer is a list of strings; {option['where']} wants elements {option.get('elements')}")
        spec_choices = option.get("choices")
        if spec_choices and qtype in MULTI_TYPES:
            extra = [choice for choice in survey_choices if choice not in [str(item) for item in spec_choices]]
            if extra:
                errors.append(f"{where}: choices {extra} are not among {spec_choices} of {option['where']}")
        elif spec_choices and qtype not in MULTI_TYPES:
            errors.append(f"{where}: {option['where']} takes only {spec_choices}; ask it as a multiplechoice question")
    return errors


def survey_default_errors(question: Mapping[str, Any], known: Mapping[str, list[dict[str, Any]]], aliases: Mapping[str, str] | None = None,
                          per_run: Iterable[str] = (), where: str = "survey") -> list[str]:
    """This project's rule: survey defaults never change what the playbook would do without them.

    A default becomes an extra variable (unanswered_values) and so beats the inventory. Settings that the inventory may
    carry (not in ``per_run``) get no default, or a blank one; a per-run variable's default must equal the argument
    spec's default (a "true"/"false" answer compared as the bool it becomes).
    """
    variable = question["variable"]
    name = (aliases or {}).get(variable, variable)
    default = question.get("default")
    if default in (None, "") or name not in known:
        return []
    if name not in per_run:
        return [f"{survey_where(where, variable)}: the default {default!r} would override the inventory's {name} at every launch; "
                "leave the question without a default (unanswered, the inventory's value holds)"]
    errors = []
    for option in known[name]:
        if "default" not in option:
            continue
        expected = option["default"]
        actual: Any = default
        if option.get("type") == "bool" and isinstance(default, str):
            actual = default == "true"
        if actual != expected:
            errors.append(f"{survey_where(where, variable)}: default {default!r} differs from {expected!r} of {option['where']}; "
                          "a survey must not change the playbook's defaults")
    return errors


def survey_where(where: str, variable: str) -> str:
    return f"{where} ({variable})"


def bool_usage_errors(variable: str, task_files: Iterable[Path]) -> list[str]:
    """A yes/no survey answer is the string "true" or "false": every expression of the roles that reads the variable
    must convert it with ``| bool`` (a bare string in a conditional is an error in ansible-core 2.19, and "false" would
    be truthy). This project's rule, over the roles' task files."""
    errors = []
    pattern = re.compile(rf"\b{re.escape(variable)}\b(?!\s*=)")
    for path in task_files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
            for match in pattern.finditer(code):
                rest = code[match.end():]
                if not re.match(r"\s*(\|\s*default\([^)]*\)\s*)?\|\s*bool\b", rest):
                    errors.append(f"{path}:{number}: {variable} is read without | bool: {line.strip()}")
    return errors


# -- job templates, workflows, schedules ------------------------------------------------------------------------------

def job_template_errors(template: Mapping[str, Any], project_dir: Path) -> list[str]:
    """This project's settings for a job template (the field names of infra.controller_configuration
    roles/job_templates/tasks/main.yml, which are awx.awx.job_template's), and its playbook as a file of the project."""
    name = template.get("name", "<unnamed>")
    where = f"job template {name!r}"
    errors = []
    expected = {"ask_variables_on_launch": False, "ask_limit_on_launch": True, "allow_simultaneous": False, "job_slice_count": 1,
                "survey_enabled": True}
    reasons = {
        "ask_variables_on_launch": "launches take the survey's variables only",
        "ask_limit_on_launch": "the region limit is the launch's Limit prompt",
        "allow_simultaneous": "a second launch must queue, not meet the fleet-wide lock",
        "job_slice_count": "slicing splits the fleet lock and the waves",
        "survey_enabled": "every template asks its survey",
    }
    for field, value in expected.items():
        if template.get(field) != value:
            errors.append(f"{where}: {field} must be {value!r} ({reasons[field]}), not {template.get(field)!r}")
    if template.get("job_type", "run") not in ("run", "check"):
        errors.append(f"{where}: job_type must be run or check, not {template.get('job_type')!r}")
    playbook = template.get("playbook")
    if not playbook or not (project_dir / playbook).is_file():
        errors.append(f"{where}: playbook {playbook!r} is not a file of the project {project_dir}; AWX offers only the project's playbooks")
    survey = template.get("survey_spec", template.get("survey"))
    errors.extend(survey_spec_errors(survey, f"{where} survey"))
    return errors


def _node_list(edges: Any) -> list[str]:
    """Edge targets of a node in either form: identifiers (simplified) or mappings with an identifier (export)."""
    result = []
    for item in edges or []:
        result.append(item.get("identifier") if isinstance(item, Mapping) else item)
    return result


def workflow_nodes(workflow: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The nodes of a workflow in one shape, from simplified_workflow_nodes or workflow_nodes (or related.workflow_nodes).

    Simplified (roles/workflow_job_templates/README.md "Simplified Workflow Node Data structure model" and
    tasks/add_workflows_schema.yml): ``identifier``, ``unified_job_template`` (a name) or ``approval_node`` (name,
    description, timeout), ``success_nodes``/``failure_nodes``/``always_nodes`` as identifiers, ``limit``,
    ``extra_data``. Export model (awx_collection/plugins/modules/workflow_job_template.py, option workflow_nodes):
    ``unified_job_template`` a mapping with ``name`` and ``type`` (``workflow_approval`` for an approval, with
    ``timeout``), edges under ``related`` as mappings with an identifier.
    """
    errors: list[str] = []
    wf = workflow.get("name", "<unnamed>")
    simplified = workflow.get("simplified_workflow_nodes")
    exported = workflow.get("workflow_nodes", (workflow.get("related") or {}).get("workflow_nodes"))
    if simplified is not None and exported is not None:
        errors.append(f"workflow {wf!r}: has both simplified_workflow_nodes and workflow_nodes; infra.controller_configuration takes one form")
    raw_nodes = simplified if simplified is not None else exported
    if not raw_nodes:
        return {}, errors + [f"workflow {wf!r}: has no nodes"]
    nodes: dict[str, dict[str, Any]] = {}
    for idx, raw in enumerate(raw_nodes):
        ident = raw.get("identifier")
        if not isinstance(ident, str) or not ident:
            errors.append(f"workflow {wf!r} node {idx}: needs an identifier (unique in the workflow)")
            continue
        if ident in nodes:
            errors.append(f"workflow {wf!r}: identifier {ident!r} is used by more than one node")
            continue
        node: dict[str, Any] = {"limit": raw.get("limit"), "extra_data": raw.get("extra_data") or {}}
        ujt = raw.get("unified_job_template")
        if simplified is not None:
            if raw.get("approval_node") is not None and ujt is not None:
                errors.append(f"workflow {wf!r} node {ident!r}: approval_node and unified_job_template exclude each other")
            if raw.get("approval_node") is not None:
                node.update(kind="approval", name=raw["approval_node"].get("name"), timeout=raw["approval_node"].get("timeout", 0))
            else:
                node.update(kind="template", name=ujt)
            edges = raw
        else:
            ujt = ujt or {}
            if ujt.get("type") == "workflow_approval":
                node.update(kind="approval", name=ujt.get("name"), timeout=ujt.get("timeout", 0))
            else:
                if ujt.get("type") is None:
                    errors.append(f"workflow {wf!r} node {ident!r}: unified_job_template needs a type (job_template, workflow_approval, ...)")
                node.update(kind="template", name=ujt.get("name"))
            edges = raw.get("related") or {}
        node["edges"] = {kind: _node_list(edges.get(f"{kind}_nodes")) for kind in ("success", "failure", "always")}
        if not node.get("name"):
            errors.append(f"workflow {wf!r} node {ident!r}: names no job template or approval")
        nodes[ident] = node
    return nodes, errors


def _cycle(nodes: Mapping[str, Mapping[str, Any]]) -> list[str] | None:
    """A cycle as a list of identifiers, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(ident: str) -> list[str] | None:
        state[ident] = 1
        stack.append(ident)
        for kind in ("success", "failure", "always"):
            for child in nodes[ident]["edges"][kind]:
                if child not in nodes:
                    continue
                if state.get(child) == 1:
                    return stack[stack.index(child):] + [child]
                if child not in state:
                    found = visit(child)
                    if found:
                        return found
        stack.pop()
        state[ident] = 2
        return None

    for ident in nodes:
        if ident not in state:
            found = visit(ident)
            if found:
                return found
    return None


def workflow_errors(workflow: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A workflow's graph and its prompts.

    Graph (AWX: a workflow is a DAG, awx/main/models/workflow.py and docs/workflow.md; identifiers unique within their
    workflow): no duplicate identifiers, edges to existing nodes only, no cycle, every approval node with a failure
    edge and a timeout above zero (a denied or timed-out approval fails and takes its failure path, WorkflowApproval
    deny() and the task manager's timeout; with timeout 0 it would wait for ever, and without a failure edge a denial
    would end the workflow with nothing undone).

    Prompts (WorkflowJobNode.get_job_kwargs): the workflow's survey answers reach every node as extra variables and
    win over the node's; a node's limit is used only when its template has ask_limit_on_launch, and its extra_data
    only for its template's survey variables when ask_variables_on_launch is false (_accept_or_ignore_variables),
    validated like any answer. Every required question of a node's template must be answered by the workflow's
    survey (required or with a default) or the node.
    """
    wf = workflow.get("name", "<unnamed>")
    nodes, errors = workflow_nodes(workflow)
    for ident, node in nodes.items():
        for kind, children in node["edges"].items():
            for child in children:
                if child not in nodes:
                    errors.append(f"workflow {wf!r} node {ident!r}: {kind} edge to {child!r}, which is no node of the workflow")
    cycle = _cycle(nodes)
    if cycle:
        errors.append(f"workflow {wf!r}: the nodes form a cycle {' -> '.join(cycle)}; a workflow is a directed acyclic graph")
    survey = workflow.get("survey_spec", workflow.get("survey")) if workflow.get("survey_enabled") else None
    if workflow.get("survey_enabled"):
        errors.extend(survey_spec_errors(survey, f"workflow {wf!r} survey"))
    workflow_answers = {}
    if isinstance(survey, Mapping):
        workflow_answers = {q["variable"]: q for q in survey.get("spec", []) if isinstance(q, Mapping) and "variable" in q}
    if workflow.get("limit") or workflow.get("ask_limit_on_launch"):
        errors.append(f"workflow {wf!r}: a workflow limit replaces every node's limit (the canary's too); set the limit on the nodes")
    for ident, node in nodes.items():
        where = f"workflow {wf!r} node {ident!r}"
        if node["kind"] == "approval":
            if not node["edges"]["failure"]:
                errors.append(f"{where}: an approval node needs a failure edge (taken when it is denied or times out)")
            if not _is_int(node.get("timeout")) or node["timeout"] <= 0:
                errors.append(f"{where}: an approval node needs a timeout in seconds above 0, not {node.get('timeout')!r}")
            continue
        template = templates.get(node["name"])
        if template is None:
            errors.append(f"{where}: job template {node['name']!r} is not defined in the controller data")
            continue
        if node["limit"] and not template.get("ask_limit_on_launch"):
            errors.append(f"{where}: limit {node['limit']!r} would be ignored: {node['name']!r} does not ask for a limit on launch")
        questions = {q["variable"]: q for q in (template.get("survey_spec") or {}).get("spec", [])}
        for variable, value in node["extra_data"].items():
            if variable not in questions and not template.get("ask_variables_on_launch"):
                errors.append(f"{where}: extra_data {variable!r} would be refused: it is no survey variable of {node['name']!r}")
            elif variable in questions:
                errors.extend(f"{where}: {message}" for message in answer_errors(questions[variable], value))
        for variable, question in questions.items():
            if not question.get("required") or variable in node["extra_data"]:
                continue
            answer = workflow_answers.get(variable)
            if answer is None or not (answer.get("required") or answer.get("default") not in (None, "")):
                errors.append(f"{where}: the required question {variable!r} of {node['name']!r} is not answered; "
                              "ask it in the workflow's survey (required) or set it in the node's extra_data")
    return errors


def schedule_errors(schedule: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A scheduled launch has nobody to answer: every required question of its template needs the schedule's
    extra_data or a default (AWX launches it with the schedule's extra_data, validated like any answer)."""
    name = schedule.get("name", "<unnamed>")
    template = templates.get(schedule.get("unified_job_template"))
    if template is None:
        return [f"schedule {name!r}: {schedule.get('unified_job_template')!r} is not a job template or workflow of the controller data"]
    errors = []
    extra = schedule.get("extra_data") or {}
    for question in (template.get("survey_spec") or {}).get("spec", []):
        variable = question["variable"]
        if variable in extra:
            errors.extend(f"schedule {name!r}: {message}" for message in answer_errors(question, extra[variable]))
        elif question.get("required") and question.get("default") in (None, ""):
            errors.append(f"schedule {name!r}: the required question {variable!r} has no default; set it in the schedule's extra_data")
    return errors
