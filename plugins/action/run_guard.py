# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Decide on the controller whether a run may start, and who runs it (decisions in module_utils/_guard.py)."""

from __future__ import annotations

import os
import pwd

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._guard import (
    AWX_VARS,
    OPERATIONS,
    GuardError,
    evaluate,
    resolve_operator,
)
from ansible_collections.fleetops.release.plugins.module_utils._release_store import utc_now

ARGUMENT_SPEC = {
    "operation": {"type": "str", "required": True, "choices": list(OPERATIONS)},
    "allowed_operators": {"type": "list", "elements": "str", "default": []},
    "reason": {"type": "str"},
    "require_reason": {"type": "bool", "default": False},
    "freeze_windows": {"type": "list", "elements": "dict", "default": []},
    "recent_runs": {"type": "list", "elements": "dict", "default": []},
    "auto_rollback_cooldown": {"type": "raw", "default": 0},
    "auto_rollback_max": {"type": "int", "default": 0},
    "auto_rollback_window": {"type": "raw"},
    "force": {"type": "bool", "default": False},
    "run_id": {"type": "str"},
}


def os_user():
    """The controller's OS user: the account of the effective uid (never $USER/$LOGNAME, which a caller can set)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container uid without a passwd entry
        return "uid %d" % uid


class ActionModule(ActionBase):

    _requires_connection = False  # decides on the controller only
    _supports_check_mode = True  # only reads

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        # The identity comes from the process and AWX's variables, never from an option (trust model in _guard).
        awx_vars = dict((name, task_vars.get(name)) for name in AWX_VARS)
        operator, warnings = resolve_operator(os_user(), os.environ.get("JOB_ID"), awx_vars)
        try:
            verdict = evaluate(
                args["operation"], operator, utc_now(), allowed_operators=args["allowed_operators"], reason=args["reason"],
                require_reason=args["require_reason"], freeze_windows=args["freeze_windows"], recent_runs=args["recent_runs"],
                auto_rollback_cooldown=args["auto_rollback_cooldown"], auto_rollback_max=args["auto_rollback_max"],
                auto_rollback_window=args["auto_rollback_window"], force=args["force"], run_id=args["run_id"])
        except GuardError as exc:
            raise AnsibleActionFail("run_guard: %s" % to_text(exc))
        warnings.extend(verdict.pop("warnings"))
        result.update(changed=False, operator=operator, **verdict)
        if warnings:
            result.setdefault("warnings", []).extend(warnings)
        if not verdict["allowed"]:
            result["failed"] = True
        return result
