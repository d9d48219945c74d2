# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check a drill's inputs on the controller and plan it, before anything is locked or changed (logic in
module_utils/_drill.py)."""

from __future__ import annotations

import os
import secrets
import tempfile

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._drill import DrillError, check_inputs

ARGUMENT_SPEC = {
    "group": {"type": "str"},
    "fault": {"type": "str"},
    "release": {"type": "str"},
    "artifact": {"type": "str"},
    "artifact_sha256": {"type": "str"},
    "allow_production": {"type": "bool", "default": False},
    "reason": {"type": "str"},
    "probe_path": {"type": "raw", "default": "/"},
    "probe_interval": {"type": "raw", "default": 0.1},
    "probe_timeout": {"type": "raw", "default": 2.0},
    "probe_max_seconds": {"type": "raw", "default": 900},
    "probe_max_requests": {"type": "raw", "default": 50000},
    "run_timeout": {"type": "raw", "default": 1800},
}


class ActionModule(ActionBase):

    _requires_connection = False  # judges on the controller only
    # A drill changes the fleet on purpose and has no dry run: this first step runs in check mode only to fail saying so
    # (an action that does not support check mode would be skipped, and the drill would stumble on later).
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        if self._task.check_mode:
            result.update(failed=True, changed=False, msg="a drill cannot run in check mode: it deploys and rolls back for real "
                                                          "(on the group meant for it); run it without --check")
            return result
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            plan = check_inputs(hosts=list(task_vars.get("ansible_play_hosts_all") or []), hostvars=task_vars.get("hostvars") or {},
                                groups=task_vars.get("groups") or {}, **args)
        except DrillError as exc:
            # A failed result, not an exception: ansible-core would print an exception's text again as its cause.
            result.update(failed=True, changed=False, msg=to_text(exc))
            return result
        # The prober's output and stop file, and the logs of the runs the drill starts: private to this controller user.
        work_dir = tempfile.mkdtemp(prefix="fleetops-drill-")
        os.chmod(work_dir, 0o700)
        # Keys the configuration digests of this drill only, so a digest never helps to guess a secret file. It is kept
        # in a private file, not in the result, which -v would print: the role reads it (file lookup) for
        # drill_host_info, whose digest_key option is no_log.
        key_file = os.path.join(work_dir, "digest.key")
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(16))
        plan.update(work_dir=work_dir, probe_output=os.path.join(work_dir, "probe.jsonl"),
                    probe_stop_file=os.path.join(work_dir, "probe.stop"), digest_key_file=key_file)
        result.update(changed=False, plan=plan, msg="drill %s on %s (%d hosts in %s)" % (
            plan["fault"], plan["group"], len(plan["hosts"]), ", ".join(sorted(plan["regions"]))))
        return result
