# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check a run's inputs and plan it on the controller before the first remote change (logic in module_utils/_run_inputs.py)."""

from __future__ import annotations

import os

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._run_inputs import (
    OPERATIONS,
    RunInputsError,
    check_run_inputs,
    role_spec_problems,
)
from ansible_collections.fleetops.release.plugins.module_utils._schema_ops import FLEET_DB_SPEC

# The role entry points whose argument specs each operation's playbook checks here, once for every host, instead of a
# validation task per host and entry point (the playbooks import them with rolespec_validate: false).
ROLE_ENTRY_POINTS = {
    "deploy": (("deploy", "preflight"), ("waves", "main")),
    "rollback": (("rollback", "preflight"), ("waves", "main")),
}
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ARGUMENT_SPEC = {
    "operation": {"type": "str", "required": True, "choices": list(OPERATIONS)},
    "release": {"type": "str"},
    "strategy": {"type": "raw", "default": "rolling"},
    "waves": {"type": "raw"},
    "mode": {"type": "raw", "default": "lockstep"},
    "region_order": {"type": "raw"},
    "min_healthy": {"type": "raw"},
    "max_fail": {"type": "raw", "default": 0},
    "wave_pause": {"type": "raw", "default": 0},
    "wave_pause_timeout": {"type": "raw", "default": 3600},
    "wave_pause_on_timeout": {"type": "raw", "default": "abort"},
    "wave_pause_poll": {"type": "raw", "default": 10},
    "keep_releases": {"type": "raw"},
    "config_paths": {"type": "raw", "default": []},
    "config_templates": {"type": "raw", "default": []},
    "restart_timeout": {"type": "raw", "default": 120},
    "health_command_timeout": {"type": "raw", "default": 30},
    "hook_timeout": {"type": "raw", "default": 600},
    "health_wait": {"type": "raw"},
    "artifact_max_unpacked": {"type": "raw"},
    "run_timeout": {"type": "raw", "default": 0},
    "lock_ttl": {"type": "raw", "default": 0},
    "baseline_gates": {"type": "raw", "default": []},
    "canary_weights": {"type": "raw", "default": []},
    "canary_step_pause": {"type": "raw", "default": 0},
}


class ActionModule(ActionBase):

    _requires_connection = False  # judges on the controller only
    _supports_check_mode = True  # only reads

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        hostvars = task_vars.get("hostvars") or {}
        groups = task_vars.get("groups") or {}
        hosts = list(task_vars.get("ansible_play_hosts") or [])
        members = [host for host in groups.get("all", []) if "fleet_region" in hostvars.get(host, {})]
        inputs = dict(args)
        if isinstance(inputs["waves"], str):  # -e fleet_waves='[1, "100%"]' arrives as a string
            inputs["waves"] = self._loader.load(inputs["waves"])
        if isinstance(inputs["canary_weights"], str) and inputs["canary_weights"].strip().startswith(("[", "{")):
            inputs["canary_weights"] = self._loader.load(inputs["canary_weights"])
        try:
            checked = check_run_inputs(hosts=hosts, hostvars=hostvars, groups=groups, members=members,
                                       role_problems=self._role_problems(inputs["operation"], hosts, hostvars, task_vars),
                                       **inputs)
        except RunInputsError as exc:
            # A failed result, not an exception: ansible-core would print an exception's text again as its cause.
            result.update(failed=True, changed=False, msg=to_text(exc))
            return result
        result.update(changed=False, **checked)
        return result

    def _role_problems(self, operation, hosts, hostvars, task_vars):
        """Each host's variables against the argument specs of the operation's role entry points."""
        specs, names = [], set()
        for role, entry in ROLE_ENTRY_POINTS.get(operation, ()):
            path = os.path.join(COLLECTION_ROOT, "roles", role, "meta", "argument_specs.yml")
            options = (self._loader.load_from_file(path)["argument_specs"][entry].get("options") or {})
            specs.append(("role %s, entry point %s" % (role, entry), options))
            names.update(options)
        # The fleet's database (issue 17): fleet_db's keys, types and tool, before any lock or connection.
        specs.append(("fleet_db", {"fleet_db": {"type": "dict", "options": FLEET_DB_SPEC}}))
        names.add("fleet_db")
        values_by_host = {}
        for host in hosts:
            own = hostvars.get(host) or {}
            # A host's own variables (inventory, facts, extra vars), else the play's (play vars, role defaults).
            values_by_host[host] = {name: own[name] if name in own else task_vars[name] for name in names
                                    if name in own or name in task_vars}
        return role_spec_problems(specs, values_by_host)
