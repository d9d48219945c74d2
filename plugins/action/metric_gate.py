# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Metric gate: evaluate a Prometheus instant query against a threshold, fail when it stays violated."""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._health import (
    COMPARISONS,
    MODES,
    BreachTracker,
    HealthError,
    check_positive,
    conclude,
    evaluate_metric,
)
from ansible_collections.fleetops.release.plugins.plugin_utils._prometheus import QueryRejected, measure, query_url

ARGUMENT_SPEC = {
    "url": {"type": "str", "required": True},
    "query": {"type": "str", "required": True},
    "threshold": {"type": "float", "required": True},
    "comparison": {"type": "str", "default": "<=", "choices": list(COMPARISONS)},
    "interval": {"type": "float", "default": 10.0},
    "duration": {"type": "float", "default": 0.0},
    "sustained_for": {"type": "float", "default": 0.0},
    "empty_result": {"type": "str", "default": "fail", "choices": ["fail", "pass"]},
    "headers": {"type": "dict", "default": {}},
    "validate_certs": {"type": "bool", "default": True},
    "request_timeout": {"type": "float", "default": 10.0},
    "mode": {"type": "str", "default": "enforce", "choices": list(MODES)},
}


class ActionModule(ActionBase):

    _requires_connection = False  # the query leaves from the controller

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname", "localhost")
        try:
            if not args["url"].lower().startswith(("http://", "https://")):
                raise HealthError("url must be the http(s) base URL of the Prometheus server, not %r" % args["url"])
            check_positive("interval", args["interval"])
            check_positive("duration", args["duration"], allow_zero=True)
            check_positive("request_timeout", args["request_timeout"])
            if args["sustained_for"] > args["duration"]:
                raise HealthError("sustained_for (%g s) is longer than duration (%g s): the gate could never fail; "
                                  "measure for longer" % (args["sustained_for"], args["duration"]))
            tracker = BreachTracker(args["sustained_for"])
        except HealthError as exc:
            raise AnsibleActionFail("%s: %s" % (host, to_text(exc)))

        url = query_url(args["url"], args["query"])
        condition = "value %s %g" % (args["comparison"], args["threshold"])
        started = time.monotonic()
        measurements = []
        last_seen = None
        rejected = None
        while True:
            tick = time.monotonic()
            try:
                series, error = measure(url, args)
            except QueryRejected as exc:
                rejected = to_text(exc)
                break
            now = time.monotonic() - started
            if error:
                ok, seen, values = False, error, []
            else:
                ok, seen, values = evaluate_metric(series, args["comparison"], args["threshold"], args["empty_result"])
            last_seen = seen
            measurements.append({"at": round(now, 2), "ok": ok, "values": values, "seen": seen})
            tracker.observe(now, not ok)
            if tracker.sustained and args["mode"] == "enforce":
                break
            if now + args["interval"] > args["duration"] + 1e-9:
                break
            time.sleep(max(0.0, args["interval"] - (time.monotonic() - tick)))

        elapsed = time.monotonic() - started
        result.update(query=args["query"], measurements=measurements[-50:], evaluations=len(measurements),
                      violations=tracker.violations, longest_breach=round(tracker.longest, 2), elapsed=round(elapsed, 2),
                      value=(measurements[-1]["values"][0] if measurements and measurements[-1]["values"] else None))
        if rejected:
            return conclude(result, False, "%s: metric gate: %s; fix the query" % (host, rejected), args["mode"])
        if tracker.sustained:
            message = ("%s: metric gate %r expected %s but saw %s for %.1f s (%d of %d evaluations violated, sustained_for %g s)"
                       % (host, args["query"], condition, last_seen if not measurements[-1]["ok"] else "a violation",
                          tracker.longest, tracker.violations, tracker.observations, args["sustained_for"]))
            return conclude(result, False, message, args["mode"])
        message = ("%s: metric gate %r passed: %s held at %d of %d evaluations over %.1f s (longest violation %.1f s, "
                   "sustained_for %g s); last seen %s" % (host, args["query"], condition, tracker.observations - tracker.violations,
                                                          tracker.observations, elapsed, tracker.longest, args["sustained_for"], last_seen))
        return conclude(result, True, message, args["mode"])
