# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Name a run and decide on the controller whether it may start (decisions in module_utils/_guard.py).

Two steps, because the fleet policy is read on the fleet lock host in the call that takes the fleet-wide lock:

* ``step: start`` (the playbook's first task, with the operation written literally in the playbook): issues the run
  id and writes the run record (plugin_utils/_identity.py) with the operation, the operator and the controller.
* ``step: decide`` (after the fleet-wide lock, before any host is locked or changed): applies the fleet policy the
  lock step stored in the run record, tightened by the variables, to the operation of the record.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._guard import (
    POLICY_PATH,
    PRODUCTION_ENVIRONMENTS,
    GuardError,
    evaluate,
    merge_policy,
)
from ansible_collections.fleetops.release.plugins.module_utils._release_store import utc_now
from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

ARGUMENT_SPEC = {
    "step": {"type": "str", "default": "decide", "choices": ["start", "decide"]},
    "operation": {"type": "str", "choices": ["deploy", "rollback", "drill", "adopt"]},
    "trigger": {"type": "str", "default": "manual", "choices": ["manual", "automatic"]},
    "run_id": {"type": "str"},
    "allowed_operators": {"type": "list", "elements": "str", "default": []},
    "reason": {"type": "str"},
    "require_reason": {"type": "bool", "default": False},
    "freeze_windows": {"type": "list", "elements": "dict", "default": []},
    "recent_runs": {"type": "list", "elements": "dict", "default": []},
    "auto_rollback_cooldown": {"type": "raw", "default": 0},
    "auto_rollback_max": {"type": "int", "default": 0},
    "auto_rollback_window": {"type": "raw"},
    "force": {"type": "bool", "default": False},
    "drill_max_age": {"type": "raw"},
    "drill_max_age_action": {"type": "str", "choices": ["warn", "refuse"]},
    "drill_max_age_group": {"type": "str"},
    "drills": {"type": "list", "elements": "dict"},
}


def production_hosts(task_vars):
    """The run's hosts whose fleet_environment is production (or prod), or not set: the hosts the drill freshness rule
    protects when its action is refuse (a safety net: the inventory says which hosts are production)."""
    hostvars = task_vars.get("hostvars") or {}
    return [host for host in task_vars.get("ansible_play_hosts") or []
            if str((hostvars.get(host) or {}).get("fleet_environment") or "production").lower() in PRODUCTION_ENVIRONMENTS]


def guard_operation(operation, trigger):
    """What the guard judges: a rollback launched by monitoring or a schedule is an automatic one (a variable may only
    make the guard stricter, and the anti-flap limits apply to automatic rollbacks only)."""
    return "automatic_rollback" if operation == "rollback" and trigger == "automatic" else operation


class ActionModule(ActionBase):

    _requires_connection = False  # decides on the controller only
    _supports_check_mode = True  # only reads the fleet; its own run record is bookkeeping on the controller

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        # The identity comes from the process and AWX's proven variables, never from an option (trust model in _guard).
        operator, warnings = _identity.controller_operator(task_vars)
        try:
            if args["step"] == "start":
                result.update(self._start(args, operator))
            else:
                verdict, more = self._decide(args, operator, production_hosts(task_vars))
                warnings.extend(more)
                result.update(verdict)
        except GuardError as exc:
            raise AnsibleActionFail("run_guard: %s" % to_text(exc))
        result.update(changed=False, operator=operator)
        if warnings:
            result.setdefault("warnings", []).extend(warnings)
        if result.get("allowed") is False:
            result["failed"] = True
        return result

    @staticmethod
    def _start(args, operator):
        if not args["operation"]:
            raise GuardError("step=start needs operation, written literally in the playbook (deploy, rollback, drill or adopt)")
        if args["run_id"]:
            raise GuardError("step=start issues the run id itself; run_id %r was given (do not set fleet_run_id)" % args["run_id"])
        now = time.time()
        record = {
            "run_id": _identity.new_run_id(now), "operation": guard_operation(args["operation"], args["trigger"]),
            "playbook_operation": args["operation"], "trigger": args["trigger"], "operator": operator,
            "controller": _identity.controller_name(), "pid": _identity.playbook_pid(), "started": now,
            "policy": None, "decision": None,
        }
        _identity.prune_run_records(now)
        path = _identity.write_run_record(record)
        return {"run_id": record["run_id"], "operation": record["operation"], "controller": record["controller"],
                "started": now, "run_record": path, "msg": "run %s: %s by %s" % (record["run_id"], record["operation"], operator["name"])}

    @staticmethod
    def _decide(args, operator, production):
        if not args["run_id"]:
            raise GuardError("step=decide needs the run_id that step=start issued")
        record = _identity.read_run_record(args["run_id"])
        operation = record["operation"]
        if record["operator"]["name"] != operator["name"]:
            raise GuardError("the operator changed within run %s (%s, now %s)" % (args["run_id"], record["operator"]["name"], operator["name"]))
        policy = record.get("policy")
        if not policy:
            raise GuardError(
                "the fleet policy was not read, so run %s may not start: the fleet-wide lock (fleetops.release.release_lock "
                "with read_policy=true, delegated to fleet_lock_host) reads %s on the fleet lock host before the guard "
                "decides. fleet_lock_host must name a fleet host (it is %s); an empty fleet_lock_host is no longer "
                "supported" % (args["run_id"], POLICY_PATH, "never read" if record.get("policy_host") is None else record["policy_host"]))
        variables = dict((key, args[key]) for key in ("allowed_operators", "require_reason", "freeze_windows",
                                                      "auto_rollback_cooldown", "auto_rollback_max", "auto_rollback_window",
                                                      "drill_max_age", "drill_max_age_action"))
        settings = policy.get("settings") or {}
        merged = merge_policy(settings, variables)
        warnings = []
        force = args["force"]
        if force and not merged["allow_force"]:
            warnings.append("fleet_force is ignored: the fleet policy (%s) sets allow_force: false" % policy.get("source"))
            force = False
        verdict = evaluate(
            operation, operator, utc_now(), allowed_operators=merged["allowed_operators"], reason=args["reason"],
            require_reason=merged["require_reason"], freeze_windows=merged["freeze_windows"], recent_runs=args["recent_runs"],
            auto_rollback_cooldown=merged["auto_rollback_cooldown"], auto_rollback_max=merged["auto_rollback_max"],
            auto_rollback_window=merged["auto_rollback_window"], force=force, run_id=args["run_id"],
            drill_max_age=merged["drill_max_age"], drill_max_age_action=merged["drill_max_age_action"], drills=args["drills"],
            drill_group=args["drill_max_age_group"], production_hosts=production)
        warnings.extend(verdict.pop("warnings"))
        source = policy.get("source")
        verdict["msg"] = "%s\n(guard rails: the fleet policy %s%s, tightened by the variables)" % (
            verdict["msg"], source, "" if policy.get("exists") else " (no policy file there: no rules of its own)")
        decision = {"allowed": verdict["allowed"], "forced": verdict["forced"], "refusals": verdict["refusals"],
                    "freeze_window": verdict["freeze_window"], "decided": time.time()}
        _identity.update_run_record(args["run_id"], decision=decision)
        verdict.update(run_id=args["run_id"], operation=operation, policy=dict(settings, source=source, exists=policy.get("exists")))
        return verdict, warnings
