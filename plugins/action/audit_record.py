# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""audit_record with who, where and what determined on the controller (trust model: plugin_utils/_identity.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._guard import GuardError
from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

MODULE = "fleetops.release.audit_record"


def true_record(record, operator, controller, run_record, display=None):
    """The record with the operator (and ``actor``), the controller and, for a run that run_guard started, the
    operation and whether the guard was forced, as the controller knows them; what the task passed is ignored."""
    record = dict(record)
    record = _identity.override(record, "operator", operator, display, MODULE + " record")
    record = _identity.override(record, "actor", operator["name"], display, MODULE + " record")
    record = _identity.override(record, "controller", controller, display, MODULE + " record")
    if run_record is not None:
        record = _identity.override(record, "operation", run_record["operation"], display, MODULE + " record")
        decision = run_record.get("decision") or {}
        record["forced"] = bool(decision.get("forced"))
        policy = run_record.get("policy") or {}
        record["policy"] = policy.get("source") if policy.get("exists") else None
    return record


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        record = args.get("record")
        if isinstance(record, dict):
            operator, _warnings = _identity.controller_operator(task_vars or {})
            run_record = None
            if record.get("run_id"):
                try:
                    run_record = _identity.read_run_record(record["run_id"])
                except GuardError:
                    run_record = None  # a record written by hand: who and where are still the controller's
            args["record"] = true_record(record, operator, _identity.controller_name(), run_record, self._display)
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        return result
