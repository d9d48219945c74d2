# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""release_activate with the actor of its history line determined on the controller, and, when the activation also
releases the host lock (``unlock``), the lock's holder and the run line's actor and operation too (trust model:
plugin_utils/_identity.py)."""

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.plugin_utils import _identity


class ActionModule(_identity.IdentityAction):

    MODULE = "fleetops.release.release_activate"

    def identity_args(self, args, task_vars):
        unlock = args.get("unlock")
        if not isinstance(unlock, dict):
            return args
        operator, _warnings = _identity.controller_operator(task_vars)
        run_id = args.get("run_id")
        # The same holder and run line as release_lock state=absent would record for this run.
        unlock = _identity.lock_args(dict(unlock, state="absent"), operator, _identity.run_record_of(run_id), self._display,
                                     run_id, self.MODULE + " unlock")
        unlock.pop("state")
        return dict(args, unlock=unlock)
