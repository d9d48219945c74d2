# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""release_lock with the holder and the history's actor determined on the controller, and the fleet policy parsed
there and kept in the run record (trust model: plugin_utils/_identity.py). The lock records the ansible-playbook
process of its run; a lock whose process is provably gone (this controller, the process no longer exists) is broken
here, with a warning, instead of stopping the next run."""

from __future__ import annotations

import yaml
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._guard import GuardError, parse_policy
from ansible_collections.fleetops.release.plugins.module_utils._lock import holder_gone
from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

MODULE = "fleetops.release.release_lock"


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        args = dict(self._task.args)
        operator, _warnings = _identity.controller_operator(task_vars)  # run_guard shows the warnings once
        run_id = args.get("run_id")
        run_id = run_id if run_id not in (None, "") else (args.get("run_summary") or {}).get("run_id")
        read_policy = args.get("read_policy") in (True, "true", "True", "yes", 1)
        try:
            run_record = None
            if read_policy:
                # The fleet-wide lock of a playbook run: a run id that run_guard did not issue in this process is
                # refused before the lock is touched.
                run_record = _identity.read_run_record(run_id) if run_id else None
                if run_record is None:
                    raise GuardError("read_policy keeps the fleet policy in the run record of run_id; give the run_id "
                                     "that fleetops.release.run_guard (step=start) issued")
                if getattr(self._connection, "transport", None) == "local":
                    raise GuardError("fleet_lock_host %s is the controller itself (a local connection): the fleet-wide lock "
                                     "and the fleet policy live on a fleet host; set fleet_lock_host to one"
                                     % (self._task.delegate_to or task_vars.get("inventory_hostname")))
            elif run_id:
                # A host lock or unlock: the run summary gets the operation of the run record when there is one.
                try:
                    run_record = _identity.read_run_record(run_id)
                except GuardError:
                    run_record = None
        except GuardError as exc:
            raise AnsibleActionFail("%s: %s" % (MODULE, to_text(exc)))
        args = _identity.lock_args(args, operator, run_record, self._display, run_id, MODULE)
        if args.get("state", "present") == "present":
            # The process that holds the lock, for the next run's proof that it is gone; breaking a lock of a gone
            # process is this plugin's own decision, never the task's.
            args = _identity.override(args, "process", _identity.process_identity(), self._display, MODULE)
        if args.pop("break_gone", None) is not None:
            self._display.warning("%s: break_gone given by the task is ignored; the controller breaks a lock only when "
                                  "its process is provably gone (break a lock by hand with break_run)" % MODULE)
        base = dict(result)
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        if args.get("state", "present") == "present":
            result = self._break_if_gone(base, result, args, task_vars)
        if read_policy and not result.get("failed") and isinstance(result.get("policy"), dict):
            host = self._task.delegate_to or task_vars.get("inventory_hostname")
            try:
                stored = self._keep_policy(run_id, host, result["policy"])
            except GuardError as exc:
                # The lock was taken in this call, and a failed task is not released by the caller: release it here.
                if result.get("changed") and not self._task.check_mode:
                    self._execute_module(module_name=MODULE, task_vars=task_vars, module_args={
                        "path": args["path"], "holder": args["holder"], "state": "absent"})
                result.update(failed=True, msg="%s: %s" % (MODULE, to_text(exc)))
                return result
            result["policy"] = stored
        return result

    def _break_if_gone(self, base, result, args, task_vars):
        """A lock refused because another run holds it, whose ansible-playbook process is provably gone (this
        controller, its pid no longer exists or was reused): take it again, breaking exactly that lock, and say so.
        The proof needs this controller's process table, so it is made here and handed to the module."""
        held = result.get("held")
        if not result.get("failed") or not isinstance(held, dict):
            return result
        gone, why = holder_gone(held, args["process"], _identity.probe_process)
        if not gone:
            return result
        retry = dict(args, break_gone={"run_id": held.get("run_id"), "process": held["process"]})
        again = dict(base)
        again.update(self._execute_module(module_name=MODULE, module_args=retry, task_vars=task_vars))
        if again.get("failed"):
            return again
        if isinstance(again.get("broken"), dict):
            again["broken"] = dict(again["broken"], broken_because=why)
        self._display.warning("%s%s" % (why, " (check mode: it would be)" if self._task.check_mode else ""))
        return again

    @staticmethod
    def _keep_policy(run_id, host, raw):
        source = "%s:%s" % (host, raw.get("path"))
        if raw.get("exists"):
            try:
                document = yaml.safe_load(raw.get("text") or "")
            except yaml.YAMLError as exc:
                raise GuardError("the fleet policy %s is not valid YAML: %s" % (source, exc))
            settings = parse_policy(document, "the fleet policy %s" % source)
        else:
            settings = parse_policy(None, source)
        stored = {"path": raw.get("path"), "exists": bool(raw.get("exists")), "source": source, "settings": settings}
        _identity.update_run_record(run_id, policy=stored, policy_host=host)
        return stored
