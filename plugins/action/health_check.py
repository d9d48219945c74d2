# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Probe a host until its checks pass (or fail for good): HTTP and TCP from the controller or the host, commands on the host."""

from __future__ import annotations

import json
import shlex
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils import _command, _health_probe
from ansible_collections.fleetops.release.plugins.module_utils._health import (
    MODES,
    WAIT_SPEC,
    HealthError,
    check_positive,
    conclude,
    evaluate_command,
    evaluate_http,
    evaluate_tcp,
    normalize_check,
    wait_message,
    wait_settings,
    wait_until_healthy,
)

CHECK_OPTIONS = {
    "name": {"type": "str"},
    "type": {"type": "str", "default": "http", "choices": ["http", "tcp", "command"]},
    "run_on": {"type": "str", "choices": ["controller", "host"]},
    "url": {"type": "str"},
    "method": {"type": "str", "default": "GET"},
    "headers": {"type": "dict", "default": {}},
    "status_codes": {"type": "list", "elements": "int", "default": [200]},
    "body_regex": {"type": "str"},
    "json_field": {"type": "str"},
    "json_value": {"type": "raw"},
    "expect_headers": {"type": "dict", "default": {}},
    "validate_certs": {"type": "bool", "default": True},
    "max_latency_ms": {"type": "float"},
    "host": {"type": "str"},
    "port": {"type": "int"},
    "command": {"type": "str"},
    "rc": {"type": "int", "default": 0},
    "stdout_regex": {"type": "str"},
}

ARGUMENT_SPEC = {
    "url": {"type": "str"},
    "checks": {"type": "list", "elements": "dict", "options": CHECK_OPTIONS, "default": []},
    "expected_release": {"type": "str"},
    "release_field": {"type": "str", "default": "release"},
    "initial_delay": {"type": "float", "default": 0.0},
    "command_timeout": {"type": "float", "default": 30.0},
    "mode": {"type": "str", "default": "enforce", "choices": list(MODES)},
    "wait": WAIT_SPEC["wait"],
}


def build_checks(args):
    """The checks to run: ``url`` first (an HTTP check of the release with ``expected_release``), then ``checks``."""
    checks = []
    if args["url"]:
        checks.append(dict((key, spec.get("default")) for key, spec in CHECK_OPTIONS.items()))
        checks[0].update(type="http", url=args["url"], status_codes=[200], headers={}, expect_headers={})
        if args["expected_release"] is not None:
            checks[0].update(json_field=args["release_field"], json_value=args["expected_release"])
    elif args["expected_release"] is not None:
        raise HealthError("expected_release is checked on url: give the health URL (or a check with json_field and json_value)")
    checks.extend(args["checks"])
    if not checks:
        raise HealthError("nothing to check: give url or at least one entry in checks")
    return [normalize_check(dict(check), index) for index, check in enumerate(checks)]


class ActionModule(ActionBase):

    _requires_connection = True  # command checks and run_on=host checks use the host's connection

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname", "localhost")
        try:
            checks = build_checks(args)
            wait = wait_settings(args["wait"])
            check_positive("initial_delay", args["initial_delay"], allow_zero=True)
            check_positive("command_timeout", args["command_timeout"])
        except HealthError as exc:
            raise AnsibleActionFail("%s: %s" % (host, to_text(exc)))

        self._python = None
        self._sources = {}
        self._command_timeout = args["command_timeout"]
        self._task_vars = task_vars
        if args["initial_delay"]:
            time.sleep(args["initial_delay"])
        waited = wait_until_healthy(lambda: [self._probe(check, wait["request_timeout"]) for check in checks], wait)
        result.update(probes=waited["probes"], successes=waited["successes"], failures=waited["failures"], not_up=waited["not_up"],
                      reason=waited["reason"], last_failures=waited["last_failures"], elapsed=waited["elapsed"], checks=waited["checks"])
        return conclude(result, waited["passed"], wait_message(host, waited), args["mode"])

    # -- probes ------------------------------------------------------------------------------------------

    def _probe(self, check, request_timeout):
        if check["type"] == "command":
            started = time.monotonic()
            res = self._command_on_host(check["command"], self._command_timeout)
            latency = round((time.monotonic() - started) * 1000.0, 1)
            return evaluate_command(check, res.get("rc"), res.get("stdout", ""), res.get("stderr", ""), latency,
                                    killed_after=res["timeout"] if res.get("timed_out") else None)
        spec = {"type": check["type"], "timeout": request_timeout}
        if check["type"] == "tcp":
            spec.update(host=check["host"], port=check["port"])
        else:
            spec.update(url=check["url"], method=check.get("method") or "GET", headers=check.get("headers") or {},
                        validate_certs=check.get("validate_certs", True))
        answer = self._probe_on_host(spec) if check.get("run_on") == "host" else _health_probe.run(spec)
        return evaluate_tcp(check, answer) if check["type"] == "tcp" else evaluate_http(check, answer)

    def _python_on_host(self, module, spec):
        """``<host python> -c <source of module> <spec as JSON>``: how a self-contained module_utils file runs on the host."""
        if self._python is None:
            interpreter = self._task_vars.get("ansible_python_interpreter")
            interpreter = self._templar.template(interpreter) if interpreter else None
            self._python = to_text(interpreter) if interpreter and "auto" not in to_text(interpreter) else "python3"
        if module.__name__ not in self._sources:
            with open(module.__file__, encoding="utf-8") as handle:
                self._sources[module.__name__] = handle.read()
        command = "%s -c %s %s" % (shlex.quote(self._python), shlex.quote(self._sources[module.__name__]), shlex.quote(json.dumps(spec)))
        return self._low_level_execute_command(command, sudoable=True)

    def _command_on_host(self, command, timeout):
        """Run a check's command on the host through _command: killed with its process group after ``timeout`` seconds."""
        res = self._python_on_host(_command, {"command": command, "timeout": timeout})
        try:
            answer = json.loads(to_text(res.get("stdout", "")).strip().splitlines()[-1])
        except (ValueError, IndexError):
            detail = to_text(res.get("stderr") or res.get("stdout") or "").strip()[-300:]
            return {"rc": None, "stdout": "", "stderr": "the command runner could not run on the host (exit %s): %s" % (res.get("rc"), detail)}
        if answer.get("error"):
            return {"rc": None, "stdout": "", "stderr": "cannot run %r on the host: %s" % (command, answer["error"])}
        return answer

    def _probe_on_host(self, spec):
        """Run the probe's own source with the host's Python; a broken run is reported as the probe's error."""
        res = self._python_on_host(_health_probe, spec)
        try:
            return json.loads(to_text(res.get("stdout", "")).strip().splitlines()[-1])
        except (ValueError, IndexError):
            detail = to_text(res.get("stderr") or res.get("stdout") or "").strip()[-300:]
            return {"status": None, "headers": {}, "body": "", "latency_ms": None,
                    "error": "the probe could not run on the host (exit %s): %s" % (res.get("rc"), detail)}
