# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Error-rate gate: send requests at a steady rate from the controller, fail on a sustained error rate above a threshold."""

from __future__ import annotations

import concurrent.futures
import math
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils import _health_probe
from ansible_collections.fleetops.release.plugins.module_utils._health import (
    MODES,
    BreachTracker,
    ErrorRateWindow,
    HealthError,
    answer_is_error,
    check_positive,
    conclude,
    latency_summary,
)

MAX_WORKERS = 64

ARGUMENT_SPEC = {
    "url": {"type": "raw", "required": True},
    "rate": {"type": "float", "default": 10.0},
    "duration": {"type": "float", "default": 180.0},
    "window": {"type": "float", "default": 30.0},
    "max_error_rate": {"type": "float", "default": 0.05},
    "sustained_for": {"type": "float", "default": 120.0},
    "min_samples": {"type": "int", "default": 10},
    "status_codes": {"type": "list", "elements": "int"},
    "method": {"type": "str", "default": "GET"},
    "headers": {"type": "dict", "default": {}},
    "validate_certs": {"type": "bool", "default": True},
    "request_timeout": {"type": "float", "default": 5.0},
    "mode": {"type": "str", "default": "enforce", "choices": list(MODES)},
}


def urls_of(value):
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u.lower().startswith(("http://", "https://")) for u in urls):
        raise HealthError("url must be an http(s) URL or a non-empty list of them, not %r" % (value,))
    return urls


class ActionModule(ActionBase):

    _requires_connection = False  # every request leaves from the controller

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname", "localhost")
        try:
            urls = urls_of(args["url"])
            check_positive("rate", args["rate"])
            check_positive("duration", args["duration"])
            check_positive("request_timeout", args["request_timeout"])
            check_positive("min_samples", args["min_samples"])
            if not 0 <= args["max_error_rate"] < 1:
                raise HealthError("max_error_rate is a fraction: at least 0 and below 1 (0.05 for 5%%), not %r" % args["max_error_rate"])
            if args["sustained_for"] > args["duration"]:
                raise HealthError("sustained_for (%g s) is longer than duration (%g s): the gate could never fail; sample for longer"
                                  % (args["sustained_for"], args["duration"]))
            window = ErrorRateWindow(args["window"])
            tracker = BreachTracker(args["sustained_for"])
        except HealthError as exc:
            raise AnsibleActionFail("%s: %s" % (host, to_text(exc)))

        spec_of = [{"type": "http", "url": url, "method": args["method"], "headers": args["headers"],
                    "validate_certs": args["validate_certs"], "timeout": args["request_timeout"]} for url in urls]
        workers = min(MAX_WORKERS, max(4, int(math.ceil(args["rate"] * args["request_timeout"])) + 1))
        latencies, statuses = [], {}
        counts = {"samples": 0, "errors": 0}
        worst = {"rate": None, "at": None}
        pending = set()
        started = time.monotonic()
        total = int(math.floor(args["duration"] * args["rate"]))

        def collect(done_futures, now):
            for future in done_futures:
                answer = future.result()
                error = answer_is_error(answer, args["status_codes"])
                counts["samples"] += 1
                counts["errors"] += 1 if error else 0
                key = str(answer["status"]) if answer.get("status") is not None else "no answer"
                statuses[key] = statuses.get(key, 0) + 1
                if answer.get("latency_ms") is not None and answer.get("status") is not None:
                    latencies.append(answer["latency_ms"])
                window.add(now - started, error)
            rate = window.rate(now - started, args["min_samples"])
            if rate is not None:
                if worst["rate"] is None or rate > worst["rate"]:
                    worst.update(rate=rate, at=round(now - started, 2))
                tracker.observe(now - started, rate > args["max_error_rate"])

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            for index in range(total):
                delay = started + index / args["rate"] - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pending.add(pool.submit(_health_probe.run, spec_of[index % len(spec_of)]))
                done = set(f for f in pending if f.done())
                pending -= done
                collect(done, time.monotonic())
                if tracker.sustained and args["mode"] == "enforce":
                    break
            # The requests still in flight belong to the measurement: wait for them (at most request_timeout).
            done, _not_done = concurrent.futures.wait(pending, timeout=args["request_timeout"] + 1)
            for future in sorted(done, key=id):
                collect([future], time.monotonic())

        elapsed = time.monotonic() - started
        overall = counts["errors"] / float(counts["samples"]) if counts["samples"] else None
        result.update(samples=counts["samples"], errors=counts["errors"],
                      error_rate=None if overall is None else round(overall, 4),
                      max_window_error_rate=None if worst["rate"] is None else round(worst["rate"], 4),
                      longest_breach=round(tracker.longest, 2), statuses=statuses, elapsed=round(elapsed, 2), urls=urls,
                      **latency_summary(latencies))
        target = urls[0] if len(urls) == 1 else "%d URLs (%s, ...)" % (len(urls), urls[0])
        latency = "p50 %s ms, p95 %s ms" % (result["p50_ms"], result["p95_ms"])
        if tracker.sustained:
            message = ("%s: traffic gate on %s expected an error rate of at most %.4g%% (over %g s windows) but saw %.4g%% "
                       "for %.1f s (sustained_for %g s); %d errors in %d requests (%s), statuses %s, %s"
                       % (host, target, args["max_error_rate"] * 100, args["window"], (worst["rate"] or 0) * 100, tracker.longest,
                          args["sustained_for"], counts["errors"], counts["samples"], _percent(overall), _statuses(statuses), latency))
            return conclude(result, False, message, args["mode"])
        if counts["samples"] < args["min_samples"]:
            message = ("%s: traffic gate on %s expected at least %d answered requests but saw %d in %.1f s; raise rate or duration"
                       % (host, target, args["min_samples"], counts["samples"], elapsed))
            return conclude(result, False, message, args["mode"])
        message = ("%s: traffic gate on %s passed: %d errors in %d requests (%s), worst %g s window %s, longest breach %.1f s "
                   "of %g s allowed, %s" % (host, target, counts["errors"], counts["samples"], _percent(overall), args["window"],
                                            _percent(worst["rate"]), tracker.longest, args["sustained_for"], latency))
        return conclude(result, True, message, args["mode"])


def _percent(value):
    return "n/a" if value is None else "%.4g%%" % (value * 100)


def _statuses(statuses):
    return ", ".join("%s x%d" % (key, statuses[key]) for key in sorted(statuses))
