# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""rollout_control with who acts determined on the controller (trust model: plugin_utils/_identity.py): the operator
who promotes or aborts, and the operator of a run that pauses, as run_guard determines them; never a variable."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

MODULE = "fleetops.release.rollout_control"


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        if args.get("action") in ("pause", "promote", "abort"):
            operator, _warnings = _identity.controller_operator(task_vars or {})
            args = _identity.override(args, "operator", operator, self._display, MODULE)
            args = _identity.override(args, "controller", _identity.controller_name(), self._display, MODULE)
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        return result
