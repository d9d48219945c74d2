# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Health verification and gates: the arithmetic and the judging, free of Ansible and of the network.

- ``ProbeCounter``: consecutive successes needed, failures tolerated (Argo Rollouts' ``failureLimit``).
- ``BreachTracker``: "the condition has been violated for at least N seconds in a row".
- ``ErrorRateWindow``: error rate over a trailing window of samples.
- ``percentile``: nearest-rank percentiles for latency reports.
- ``evaluate_*``: turn a probe's answer into a verdict with what was expected and what was seen.
- ``prometheus_series``: the values of a Prometheus ``/api/v1/query`` answer.

The action plugins ``health_check``, ``traffic_gate`` and ``metric_gate`` do the probing and the clock.
"""

from __future__ import annotations

import bisect
import json
import math
import operator
import re

from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError

MODES = ("enforce", "shadow")
SEEN_MAX = 200

COMPARISONS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class HealthError(FleetError):
    """A health check or gate is configured wrongly; the message says which option and what to do."""


# -- arithmetic ------------------------------------------------------------------------------------------

def percentile(values, pct):
    """Nearest-rank percentile (the smallest value with at least pct % of the values at or below it).

    None for no values. pct is in [0, 100]; 0 gives the minimum, 100 the maximum.
    """
    if not 0 <= pct <= 100:
        raise HealthError("percentile must be between 0 and 100, not %r" % (pct,))
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, int(math.ceil(pct / 100.0 * len(ordered))))
    return ordered[rank - 1]


def latency_summary(latencies_ms):
    """p50, p95 and max of latencies in milliseconds (None when there are none), rounded to 0.1 ms."""
    def rounded(value):
        return None if value is None else round(value, 1)
    return {
        "p50_ms": rounded(percentile(latencies_ms, 50)),
        "p95_ms": rounded(percentile(latencies_ms, 95)),
        "max_ms": rounded(max(latencies_ms) if latencies_ms else None),
    }


class ProbeCounter:
    """Counts probe rounds the way progressive-delivery tools do.

    Passed once ``consecutive_successes`` rounds in a row succeeded. Failed once more than ``failure_limit``
    rounds failed in total (``failure_limit`` None: failures never end the check, only the timeout does;
    0: the first failure does).
    """

    def __init__(self, consecutive_successes=1, failure_limit=None):
        if consecutive_successes < 1:
            raise HealthError("consecutive_successes must be at least 1, not %r" % (consecutive_successes,))
        if failure_limit is not None and failure_limit < 0:
            raise HealthError("failure_limit must be 0 or more (or null for no limit), not %r" % (failure_limit,))
        self.consecutive_successes = consecutive_successes
        self.failure_limit = failure_limit
        self.probes = 0
        self.successes = 0
        self.failures = 0
        self.streak_successes = 0
        self.streak_failures = 0
        self.failing_since = None

    def record(self, ok, now):
        """Count one round at time ``now``; return "passed", "failed" or None (go on probing)."""
        self.probes += 1
        if ok:
            self.successes += 1
            self.streak_successes += 1
            self.streak_failures = 0
            self.failing_since = None
        else:
            self.failures += 1
            self.streak_failures += 1
            self.streak_successes = 0
            if self.failing_since is None:
                self.failing_since = now
        if self.streak_successes >= self.consecutive_successes:
            return "passed"
        if self.failure_limit is not None and self.failures > self.failure_limit:
            return "failed"
        return None

    def failing_for(self, now):
        """Seconds since the first failure of the current run of failures (0 when the last round passed)."""
        return 0.0 if self.failing_since is None else max(0.0, now - self.failing_since)


class BreachTracker:
    """Whether a condition has been violated without interruption for at least ``sustained_for`` seconds.

    Feed it observations in time order. A violation starts at the first violating observation and lasts
    until the first observation that does not violate; ``sustained`` turns true once an uninterrupted
    violation has lasted ``sustained_for`` seconds (0: at the first violation).
    """

    def __init__(self, sustained_for):
        if sustained_for < 0:
            raise HealthError("sustained_for must be 0 or more seconds, not %r" % (sustained_for,))
        self.sustained_for = sustained_for
        self.breach_since = None
        self.longest = 0.0
        self.sustained = False
        self.observations = 0
        self.violations = 0

    def observe(self, now, violated):
        """Record one observation; return True when the violation is (now or already) sustained."""
        self.observations += 1
        if violated:
            self.violations += 1
            if self.breach_since is None:
                self.breach_since = now
            duration = now - self.breach_since
            self.longest = max(self.longest, duration)
            if duration >= self.sustained_for:
                self.sustained = True
        else:
            self.breach_since = None
        return self.sustained

    def current(self, now):
        """Seconds the current violation has lasted (0 when there is none)."""
        return 0.0 if self.breach_since is None else max(0.0, now - self.breach_since)


class ErrorRateWindow:
    """Samples (time, error) and the error rate over the trailing ``window`` seconds: (now - window, now]."""

    def __init__(self, window):
        if window <= 0:
            raise HealthError("window must be more than 0 seconds, not %r" % (window,))
        self.window = window
        self._times = []
        self._errors = []  # cumulative error counts, parallel to _times

    def add(self, when, error):
        if self._times and when < self._times[-1]:
            raise ValueError("samples must be added in time order")
        self._times.append(when)
        self._errors.append((self._errors[-1] if self._errors else 0) + (1 if error else 0))

    def counts(self, now):
        """(samples, errors) with a time in (now - window, now]."""
        low = bisect.bisect_right(self._times, now - self.window)
        high = bisect.bisect_right(self._times, now)
        if high <= low:
            return 0, 0
        errors = self._errors[high - 1] - (self._errors[low - 1] if low > 0 else 0)
        return high - low, errors

    def rate(self, now, min_samples=1):
        """Error rate in the window, or None with fewer than ``min_samples`` samples there."""
        samples, errors = self.counts(now)
        if samples == 0 or samples < min_samples:
            return None
        return errors / float(samples)


# -- option checks -------------------------------------------------------------------------------------

def check_mode_option(mode):
    if mode not in MODES:
        raise HealthError("mode must be one of %s, not %r" % (", ".join(MODES), mode))
    return mode


def check_positive(name, value, allow_zero=False):
    if value is None or (value < 0 if allow_zero else value <= 0):
        raise HealthError("%s must be %s, not %r" % (name, "0 or more" if allow_zero else "more than 0", value))
    return value


def compile_regex(option, pattern):
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise HealthError("%s %r is not a valid regular expression: %s" % (option, pattern, exc))


def check_name(check):
    """A check's display name: its ``name``, else its type and target."""
    if check.get("name"):
        return check["name"]
    if check["type"] == "http":
        return "http %s" % check.get("url")
    if check["type"] == "tcp":
        return "tcp %s:%s" % (check.get("host"), check.get("port"))
    return "command %s" % check.get("command")


def normalize_check(check, index):
    """Validate one entry of ``checks`` (after the argument spec did the types); return it with its name."""
    kind = check["type"]
    where = "checks[%d] (type %s)" % (index, kind)
    needed = {"http": ("url",), "tcp": ("host", "port"), "command": ("command",)}[kind]
    for option in needed:
        if check.get(option) in (None, ""):
            raise HealthError("%s needs %s" % (where, " and ".join(needed)))
    if kind == "http":
        if not re.match(r"^https?://", check["url"], re.I):
            raise HealthError("%s url must start with http:// or https://, not %r" % (where, check["url"]))
        if check.get("json_value") is not None and not check.get("json_field"):
            raise HealthError("%s sets json_value without json_field: name the JSON field that must hold it" % where)
        for code in check.get("status_codes") or []:
            if not 100 <= code <= 599:
                raise HealthError("%s status_codes must be HTTP statuses (100-599), not %r" % (where, code))
        if check.get("body_regex"):
            compile_regex(where + " body_regex", check["body_regex"])
        for name, pattern in (check.get("expect_headers") or {}).items():
            compile_regex("%s expect_headers[%s]" % (where, name), str(pattern))
    if kind == "tcp" and not 1 <= int(check["port"]) <= 65535:
        raise HealthError("%s port must be between 1 and 65535, not %r" % (where, check["port"]))
    if kind == "command" and check.get("run_on") == "controller":
        raise HealthError("%s always runs on the host; remove run_on: controller" % where)
    if check.get("max_latency_ms") is not None:
        check_positive(where + " max_latency_ms", check["max_latency_ms"])
    if check.get("stdout_regex"):
        compile_regex(where + " stdout_regex", check["stdout_regex"])
    normalized = dict(check)
    normalized["name"] = check_name(check)
    return normalized


# -- judging one answer --------------------------------------------------------------------------------

def shorten(text, limit=SEEN_MAX):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def json_field(document, path):
    """(True, value) for a dotted path (``data.release``, ``items.0.id``) in a JSON document, else (False, None)."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


def _as_text(value):
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def values_match(seen, expected):
    """Equal, or equal as text (a release id ``"42"`` given as a string matches a JSON number 42)."""
    if seen == expected and type(seen) is type(expected):
        return True
    return _as_text(seen) == _as_text(expected)


def _verdict(check, ok, expected, seen, latency_ms):
    return {"name": check["name"], "type": check["type"], "ok": ok, "expected": expected, "seen": seen,
            "latency_ms": latency_ms}


def evaluate_http(check, answer):
    """Judge an HTTP answer (see _health_probe) against an http check; returns a verdict dict."""
    latency = answer.get("latency_ms")
    status_codes = check.get("status_codes") or [200]
    expected = ["HTTP %s" % "/".join(str(code) for code in status_codes)]
    if check.get("json_field"):
        expected.append("%s=%s" % (check["json_field"], _as_text(check["json_value"])) if check.get("json_value") is not None
                        else "a JSON field %s" % check["json_field"])
    if check.get("body_regex"):
        expected.append("a body matching %r" % check["body_regex"])
    for name, pattern in sorted((check.get("expect_headers") or {}).items()):
        expected.append("header %s matching %r" % (name, str(pattern)))
    if check.get("max_latency_ms") is not None:
        expected.append("an answer within %g ms" % check["max_latency_ms"])
    expected_text = ", ".join(expected)

    if answer.get("error"):
        return _verdict(check, False, expected_text, "no answer (%s)" % answer["error"], latency)

    problems = []
    status = answer.get("status")
    if status not in status_codes:
        problems.append("HTTP %s" % status)
    if check.get("json_field"):
        try:
            document = json.loads(answer.get("body") or "")
        except ValueError:
            problems.append("a body that is not JSON: %s" % shorten(repr(answer.get("body") or "")))
        else:
            found, value = json_field(document, check["json_field"])
            if not found:
                problems.append("no JSON field %s" % check["json_field"])
            elif check.get("json_value") is not None and not values_match(value, check["json_value"]):
                problems.append("%s=%s" % (check["json_field"], shorten(_as_text(value))))
    if check.get("body_regex") and not re.search(check["body_regex"], answer.get("body") or ""):
        problems.append("a body not matching: %s" % shorten(repr(answer.get("body") or "")))
    headers = answer.get("headers") or {}
    for name, pattern in sorted((check.get("expect_headers") or {}).items()):
        value = headers.get(name.lower())
        if value is None:
            problems.append("no %s header" % name)
        elif not re.search(str(pattern), value):
            problems.append("header %s=%s" % (name, shorten(value)))
    if check.get("max_latency_ms") is not None and latency is not None and latency > check["max_latency_ms"]:
        problems.append("an answer after %g ms" % latency)
    if problems:
        if not any(p.startswith("HTTP ") for p in problems):
            problems.insert(0, "HTTP %s" % status)
        return _verdict(check, False, expected_text, ", ".join(problems), latency)
    seen = ["HTTP %s" % status]
    if check.get("json_field"):
        seen.append("%s=%s" % (check["json_field"], shorten(_as_text(json_field(json.loads(answer["body"]), check["json_field"])[1]))))
    if check.get("max_latency_ms") is not None:
        seen.append("%g ms" % latency)
    return _verdict(check, True, expected_text, ", ".join(seen), latency)


def evaluate_tcp(check, answer):
    latency = answer.get("latency_ms")
    expected = "a TCP connection to %s:%s" % (check["host"], check["port"])
    if check.get("max_latency_ms") is not None:
        expected += " within %g ms" % check["max_latency_ms"]
    if answer.get("error"):
        return _verdict(check, False, expected, "no connection (%s)" % answer["error"], latency)
    if check.get("max_latency_ms") is not None and latency is not None and latency > check["max_latency_ms"]:
        return _verdict(check, False, expected, "a connection after %g ms" % latency, latency)
    return _verdict(check, True, expected, "connected in %g ms" % latency, latency)


def evaluate_command(check, rc, stdout, stderr, latency_ms=None, killed_after=None):
    """The verdict of one command run; ``killed_after``: it ran out of its timeout (seconds) and was killed."""
    wanted_rc = check.get("rc", 0)
    expected = "exit code %d" % wanted_rc
    if check.get("stdout_regex"):
        expected += " and stdout matching %r" % check["stdout_regex"]
    if check.get("max_latency_ms") is not None:
        expected += " within %g ms" % check["max_latency_ms"]
    if killed_after is not None:
        return _verdict(check, False, expected, "no exit within the command timeout of %g s (killed with every process it started)"
                        % killed_after, latency_ms)
    problems = []
    if rc != wanted_rc:
        problems.append("exit code %s" % rc)
    if check.get("stdout_regex") and not re.search(check["stdout_regex"], stdout or ""):
        problems.append("stdout %s" % shorten(repr(stdout or "")))
    if check.get("max_latency_ms") is not None and latency_ms is not None and latency_ms > check["max_latency_ms"]:
        problems.append("a run of %g ms" % latency_ms)
    if problems:
        if rc != wanted_rc and (stderr or stdout):
            problems.append("output %s" % shorten(repr((stderr or stdout).strip())))
        return _verdict(check, False, expected, ", ".join(problems), latency_ms)
    return _verdict(check, True, expected, "exit code %s%s" % (rc, ", stdout %s" % shorten(repr(stdout.strip())) if stdout.strip() else ""),
                    latency_ms)


def failure_message(host, verdicts, why, failing_for, streak, elapsed):
    """'<host>: check '<name>' expected <...> but saw <...>; ...' naming every failing check, and for how long."""
    parts = ["check '%s' expected %s but saw %s" % (v["name"], v["expected"], v["seen"]) for v in verdicts if not v["ok"]]
    return "%s: %s; failing for %.1f s (%d failed probe%s in a row, %.1f s since the first probe): %s" % (
        host, "; ".join(parts) or "no check ran", failing_for, streak, "" if streak == 1 else "s", elapsed, why)


# -- Prometheus ----------------------------------------------------------------------------------------

def prometheus_series(document):
    """[(labels, value)] of a Prometheus HTTP API query answer (``vector`` or ``scalar``); raises HealthError.

    ``value`` is a float (NaN and infinities included, as Prometheus sends them).
    """
    if not isinstance(document, dict) or "status" not in document:
        raise HealthError("not a Prometheus API answer (no status field): %s" % shorten(json.dumps(document)))
    if document["status"] != "success":
        raise HealthError("Prometheus answered %s: %s: %s" % (document.get("status"), document.get("errorType", "error"),
                                                              document.get("error", "no detail")))
    data = document.get("data") or {}
    kind = data.get("resultType")
    result = data.get("result")
    try:
        if kind == "scalar":
            return [({}, float(result[1]))]
        if kind == "vector":
            return [(dict(item.get("metric") or {}), float(item["value"][1])) for item in result]
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise HealthError("cannot read the %s result of the Prometheus answer (%s): %s" % (kind, exc, shorten(json.dumps(data))))
    raise HealthError("the query returned a %s; metric_gate needs an instant vector or a scalar (use an instant query such as "
                      "sum(rate(...[1m])))" % kind)


def describe_labels(labels):
    if not labels:
        return "{}"
    return "{%s}" % ", ".join('%s="%s"' % (key, labels[key]) for key in sorted(labels))


def evaluate_metric(series, comparison, threshold, empty_result="fail"):
    """(ok, seen text, values) of one query answer: ok when every series' value satisfies ``value <comparison> threshold``.

    NaN never satisfies a condition (0/0 rates are "no data", not healthy). No series is ok only with
    ``empty_result='pass'``.
    """
    if comparison not in COMPARISONS:
        raise HealthError("comparison must be one of %s, not %r" % (" ".join(COMPARISONS), comparison))
    if not series:
        return empty_result == "pass", "no series (empty result)", []
    compare = COMPARISONS[comparison]
    bad = [(labels, value) for labels, value in series if math.isnan(value) or not compare(value, threshold)]
    values = [value for _labels, value in series]
    if bad:
        return False, ", ".join("%s %s" % (describe_labels(labels), _number(value)) for labels, value in bad[:5]), values
    return True, ", ".join("%s %s" % (describe_labels(labels), _number(value)) for labels, value in series[:5]), values


def _number(value):
    return "%.6g" % value


# -- results -------------------------------------------------------------------------------------------

def conclude(result, passed, message, mode):
    """Fill ``passed``, ``would_fail``, ``msg`` and ``failed`` of an action result; shadow mode never fails but warns."""
    result["passed"] = passed
    result["mode"] = mode
    result["would_fail"] = not passed
    result["changed"] = False
    if passed:
        result["msg"] = message
        return result
    if mode == "shadow":
        result["msg"] = "shadow mode, not failing: " + message
        result.setdefault("warnings", []).append(result["msg"])
    else:
        result["failed"] = True
        result["msg"] = message
    return result
