# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback plugin of bench/run.py (not part of the collection): counts what a playbook run executes.

Enabled only for benchmark runs, through the environment that bench/run.py sets:

    ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins ANSIBLE_CALLBACKS_ENABLED=bench_tasks BENCH_TASK_LOG=<file>

It appends one JSON line per task result to BENCH_TASK_LOG:

    {"event": "task", "host": "us-1", "task": "...", "action": "...", "status": "ok|changed|skipped|failed|unreachable",
     "run_once": false, "delegate_to": null}

and, from inside the worker processes, one line per ssh/scp/sftp process that the ssh connection plugin starts for
a host (each one is one SSH round trip; with pipelining a module call is one):

    {"event": "ssh", "address": "127.0.71.3", "program": "ssh"}

The SSH lines come from wrapping the ssh connection plugin's private ``Connection._bare_run``; when an ansible-core
release renames it, the plugin writes one ``{"event": "ssh-unavailable"}`` line and the SSH counts are missing, not
wrong.  Lines are short single writes to a file opened with O_APPEND, so concurrent workers do not interleave them.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_tasks
type: aggregate
short_description: JSON lines per task result and per SSH process, for bench/run.py
description:
  - Writes one JSON line per task result and one per ssh, scp or sftp process started for a host to the file named
    by the environment variable E(BENCH_TASK_LOG). Does nothing when that variable is not set.
requirements:
  - enabled through E(ANSIBLE_CALLBACKS_ENABLED) with E(ANSIBLE_CALLBACK_PLUGINS) pointing at bench/callback_plugins
"""

LOG_ENV = "BENCH_TASK_LOG"


def _append(path, record):
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _count_ssh_processes(path):
    """Wrap the ssh connection plugin so that every ssh/scp/sftp process it starts leaves a line.

    The workers are forked from this process after the callbacks are loaded, and the plugin loader reuses the
    module already in sys.modules, so the wrapped class is the one every worker uses.
    """
    try:
        from ansible.plugins.connection import ssh as ssh_connection  # pylint: disable=import-outside-toplevel
        original = ssh_connection.Connection._bare_run  # pylint: disable=protected-access
    except (ImportError, AttributeError) as exc:
        _append(path, {"event": "ssh-unavailable", "reason": str(exc)})
        return
    if getattr(original, "_bench_counted", False):
        return

    def counted(self, cmd, *args, **kwargs):
        try:
            program = os.path.basename(os.fsdecode(cmd[0])) if cmd else "?"
            _append(path, {"event": "ssh", "address": str(self.host), "program": program})
        except Exception:  # pylint: disable=broad-exception-caught
            pass  # counting must never break the run it counts
        return original(self, cmd, *args, **kwargs)

    counted._bench_counted = True  # pylint: disable=protected-access
    ssh_connection.Connection._bare_run = counted  # pylint: disable=protected-access


class CallbackModule(CallbackBase):
    """One JSON line per task result (and per SSH process) to $BENCH_TASK_LOG."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_tasks"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get(LOG_ENV) or None
        if self._path:
            _count_ssh_processes(self._path)

    def _record(self, result, status):
        if not self._path:
            return
        task = result._task  # pylint: disable=protected-access
        # task_fields are the worker's templated values (run_once: "{{ ... }}" is already a bool there)
        fields = getattr(result, "_task_fields", None) or {}
        run_once = fields.get("run_once", getattr(task, "run_once", False))
        delegate_to = fields.get("delegate_to", getattr(task, "delegate_to", None))
        _append(self._path, {
            "event": "task",
            "host": result._host.get_name(),  # pylint: disable=protected-access
            "task": task.get_name(),
            "action": task.action,
            "status": status,
            "run_once": bool(run_once) if isinstance(run_once, bool) else str(run_once).lower() in ("true", "yes", "1"),
            "delegate_to": str(delegate_to) if delegate_to else None,
        })

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result._result.get("changed") else "ok")  # pylint: disable=protected-access

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
