# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""release_mark with the actor (who marked) determined on the controller (trust model: plugin_utils/_identity.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.fleetops.release.plugins.plugin_utils._identity import controller_operator, override


class ActionModule(ActionBase):
    """Sets the module's ``actor`` to the controller's operator and runs the module (community.docker's
    docker_container_copy_into pattern); a different value the task passes is ignored with a warning."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True  # as the normal action: a long activation may run with async
    MODULE = "fleetops.release.release_mark"
    IDENTITY_ARG = "actor"

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        operator, _warnings = controller_operator(task_vars or {})
        args = override(self._task.args, self.IDENTITY_ARG, operator["name"], self._display, self.MODULE)
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(module_name=self.MODULE, module_args=args, task_vars=task_vars,
                                                         wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)  # pylint: disable=protected-access
        return result
