# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Judge a drill's starting point, and at its end compare, measure and write up (logic in module_utils/_drill.py)."""

from __future__ import annotations

import time

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils import _drill
from ansible_collections.fleetops.release.plugins.module_utils._drill_probe import read_records
from ansible_collections.fleetops.release.plugins.plugin_utils import _drill_picture, _identity

ARGUMENT_SPEC = {
    "step": {"type": "str", "required": True, "choices": ["start", "report"]},
    "plan": {"type": "dict", "required": True},
    "reads": {"type": "dict", "required": True},
    "lb": {"type": "dict", "default": {}},
    "schema": {"type": "dict"},
    "run_id": {"type": "str"},
    "started": {"type": "float"},
    "start": {"type": "dict", "default": {}},
    "runs": {"type": "list", "elements": "dict", "default": []},
    "audit_records": {"type": "list", "elements": "dict", "default": []},
    "data_checks": {"type": "list", "elements": "dict", "default": []},
    "directory": {"type": "path"},
}


def states_of(plan, reads, lb):
    """``{host: state}`` of the drill's hosts from their drill_host_info results and their load balancer states."""
    return dict((host, _drill.host_state(reads.get(host), lb.get(host))) for host in plan["hosts"])


def with_audit(runs, records, drill_run_id):
    """Each drill_run result with the audit record of the run it started (found by the reason the drill gave it)."""
    out = []
    for run in runs:
        marker = "drill %s: %s" % (drill_run_id, run.get("step"))
        audit = next((record for record in records if record.get("event", "run") == "run"
                      and str(record.get("reason") or "").startswith(marker)), None)
        out.append(dict(run, audit=audit))
    return out


class ActionModule(ActionBase):

    _requires_connection = False  # judges and renders on the controller only
    _supports_check_mode = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        plan = args["plan"]
        states = states_of(plan, args["reads"], args["lb"])
        schema = _drill.schema_state(args["schema"])
        if args["step"] == "start":
            release, problems = _drill.judge_start(states)
            problems += _drill.judge_start_schema(schema)
            if plan.get("release") and release and plan["release"] == release:
                problems.append("fleet_drill_release %s is the release the hosts run already: give the broken release a new id" % release)
            result.update(changed=False, release=release, states=states, schema=schema, problems=problems)
            if problems:
                result.update(failed=True, msg="the drill cannot start from here; nothing was changed:\n  - " + "\n  - ".join(problems))
            else:
                result["msg"] = "starting point: %d host(s) on %s%s" % (
                    len(states), release, ", schema at %s" % schema["version"] if schema else "")
            return result
        for key in ("run_id", "started", "directory"):
            if args[key] in (None, ""):
                result.update(failed=True, changed=False, msg="drill_report step=report needs %s" % key)
                return result
        operator, _warnings = _identity.controller_operator(task_vars)
        start = args["start"]
        runs = with_audit(args["runs"], args["audit_records"], args["run_id"])
        records = read_records(plan["probe_output"])
        report = _drill.build_report(plan, args["run_id"], operator, args["started"], time.time(), start.get("release"),
                                     start.get("states") or {}, states, runs, records, args["data_checks"],
                                     start_schema=start.get("schema"), end_schema=schema)
        paths = _drill.report_paths(args["directory"], args["run_id"])
        try:
            svg = _drill_picture.render_svg(report)
            report["picture"] = {"file": paths["svg"], "drawn_with": _drill_picture.PACKAGE}
        except _drill_picture.PictureUnavailable as exc:
            # A drill is about the rollback, not the drawing: without matplotlib it still keeps its JSON and Markdown,
            # passes or fails on its own merits, and says (warning and finding) which package the picture needs.
            svg, paths["svg"] = None, None
            report["picture"] = None
            report["findings"].append("no picture: %s" % exc)
            result.setdefault("warnings", []).append("drill %s: no picture: %s" % (args["run_id"], exc))
        report["files"] = paths
        markdown = _drill.render_markdown(report, picture_name=args["run_id"] + ".svg" if svg else None)
        result.update(changed=False, report=report, markdown=markdown, svg=svg, paths=paths, ok=report["ok"],
                      summary=_drill.summary(report),
                      msg=to_text("drill %s %s: %s" % (args["run_id"], report["outcome"], "; ".join(report["problems"]) or "end state matched")))
        return result
