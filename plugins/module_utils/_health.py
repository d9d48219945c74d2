# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Health verification and gates: the arithmetic and the judging, free of Ansible and of the network.

- ``WAIT_SPEC`` and ``wait_until_healthy``: the one health wait of release_activate (on the host) and health_check
  (on the controller): successes in a row needed, failures tolerated (Argo Rollouts' ``failureLimit``), a start
  period for an app that is not listening yet (Docker's ``HEALTHCHECK --start-period``), a timeout.
- ``BreachTracker``: "the condition has been violated for at least N seconds in a row".
- ``ErrorRateWindow``: error rate over a trailing window of samples.
- ``percentile``: nearest-rank percentiles for latency reports.
- ``evaluate_*``: turn a probe's answer into a verdict with what was expected and what was seen.
- ``prometheus_series``: the values of a Prometheus ``/api/v1/query`` answer.

The action plugins ``health_check``, ``traffic_gate`` and ``metric_gate`` and the module ``release_activate`` do the
probing; the clock and the sleep are parameters of the wait, so that unit tests replay recorded answers.
"""

from __future__ import annotations

import bisect
import json
import math
import operator
import re
import time

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

def answer_is_error(answer, status_codes=None):
    """Whether a sampled answer counts as an error for the traffic and baseline gates: no answer, or a status outside
    status_codes (default: any status of 500 or more)."""
    if answer.get("error") or answer.get("status") is None:
        return True
    return answer["status"] not in status_codes if status_codes else answer["status"] >= 500


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


def _verdict(check, ok, expected, seen, latency_ms, not_up=False):
    """``not_up``: the check failed only because nothing answered (yet); see wait_until_healthy."""
    return {"name": check["name"], "type": check["type"], "ok": ok, "expected": expected, "seen": seen,
            "latency_ms": latency_ms, "not_up": bool(not_up) and not ok}


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
        return _verdict(check, False, expected_text, "no answer (%s)" % answer["error"], latency, answer.get("not_up"))

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
        return _verdict(check, False, expected, "no connection (%s)" % answer["error"], latency, answer.get("not_up"))
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


# -- the health wait -----------------------------------------------------------------------------------

# The suboptions of ``wait`` (release_activate and health_check; documented once in doc fragment fleetops.release.wait).
WAIT_OPTIONS = {
    "timeout": {"type": "float", "default": 60.0},
    "interval": {"type": "float", "default": 0.5},
    "successes": {"type": "int", "default": 1},
    "failure_limit": {"type": "int", "default": 3},
    "start_period": {"type": "float", "default": 10.0},
    "request_timeout": {"type": "float", "default": 5.0},
}
# apply_defaults: an omitted ``wait`` gets every default, like ``wait: {}``.
WAIT_SPEC = {"wait": {"type": "dict", "options": WAIT_OPTIONS, "apply_defaults": True}}
WAIT_REASONS = ("passed", "failure_limit", "timeout")
LAST_FAILURES = 10


def wait_settings(wait):
    """The ``wait`` option with the defaults of what it leaves out, checked; raises HealthError naming the suboption."""
    settings = dict((key, spec["default"]) for key, spec in WAIT_OPTIONS.items())
    unknown = sorted(set(wait or {}) - set(WAIT_OPTIONS))
    if unknown:
        raise HealthError("wait has no suboption %s; it takes %s" % (", ".join(unknown), ", ".join(WAIT_OPTIONS)))
    settings.update(wait or {})
    for key in ("timeout", "start_period"):
        if settings[key] is None or settings[key] < 0:
            raise HealthError("wait.%s must be 0 or more seconds, not %r" % (key, settings[key]))
    for key in ("interval", "request_timeout"):
        if settings[key] is None or settings[key] <= 0:
            raise HealthError("wait.%s must be more than 0 seconds, not %r" % (key, settings[key]))
    if settings["successes"] is None or settings["successes"] < 1:
        raise HealthError("wait.successes (passing rounds in a row needed) must be at least 1, not %r" % (settings["successes"],))
    if settings["failure_limit"] is None or settings["failure_limit"] < 0:
        # No "unlimited": Ansible refuses null for an option with a default; a large limit leaves it to wait.timeout.
        raise HealthError("wait.failure_limit must be 0 or more (0: the first failed round ends the wait; a limit above "
                          "wait.timeout / wait.interval leaves it to wait.timeout), not %r" % (settings["failure_limit"],))
    return settings


def round_outcome(verdicts):
    """``passed``, ``not_up`` (the only trouble: nothing answered, see _health_probe) or ``failed`` (a wrong answer)."""
    if all(v["ok"] for v in verdicts):
        return "passed"
    if all(v["ok"] or v.get("not_up") for v in verdicts):
        return "not_up"
    return "failed"


def _seen_of_round(verdicts):
    failing = [v for v in verdicts if not v["ok"]]
    if len(verdicts) == 1:
        return failing[0]["seen"]
    return "; ".join("%s: %s" % (v["name"], v["seen"]) for v in failing)


def wait_until_healthy(run_round, wait=None, clock=time.monotonic, sleep=time.sleep):
    """Run rounds of checks until they pass ``successes`` times in a row, fail for good, or ``timeout`` passes.

    ``run_round()`` runs every check once and returns their verdicts (evaluate_*). A round fails definitely when a
    check got a wrong answer (an HTTP status it does not accept, such as a 5xx; another release; a failed command):
    that counts against ``failure_limit`` at any time. A round whose only trouble is that nothing answered (refused,
    reset, timed out) is an app not listening yet: not counted while it started within ``start_period`` seconds of the
    start of the wait, counted like any failure after that, so that an app that crashes at start fails after about
    start_period + failure_limit * interval instead of the whole timeout. Failures are counted in total (a passing
    round does not forgive the ones before it); the wait fails at the first failure beyond ``failure_limit``.
    Rounds start ``interval`` seconds apart; the last one starts at ``timeout`` at the latest (``timeout`` 0: one round).

    Returns ``{"passed", "reason" (one of WAIT_REASONS), "elapsed", "probes", "successes", "streak" (passing rounds
    in a row at the end), "failures" (counted), "not_up" (rounds forgiven in the start period), "last_failures"
    [{"at", "seen", "not_up"}], "checks" (the last round's verdicts), "wait" (the settings used)}``; wait_message
    words it.
    """
    settings = wait_settings(wait)
    started = clock()
    probes = successes = streak = forgiven = 0
    counted = []
    while True:
        round_started = clock()
        verdicts = run_round()
        now = clock()
        probes += 1
        outcome = round_outcome(verdicts)
        if outcome == "passed":
            successes += 1
            streak += 1
        else:
            streak = 0
            if outcome == "not_up" and round_started - started < settings["start_period"]:
                forgiven += 1
            else:
                counted.append({"at": round(round_started - started, 2), "seen": _seen_of_round(verdicts),
                                "not_up": outcome == "not_up"})
        elapsed = now - started
        if streak >= settings["successes"]:
            reason = "passed"
        elif len(counted) > settings["failure_limit"]:
            reason = "failure_limit"
        elif elapsed >= settings["timeout"]:
            reason = "timeout"
        else:
            sleep(max(0.0, min(settings["interval"] - (now - round_started), settings["timeout"] - elapsed)))
            continue
        return {"passed": reason == "passed", "reason": reason, "elapsed": round(elapsed, 2), "probes": probes,
                "successes": successes, "streak": streak, "failures": len(counted), "not_up": forgiven,
                "last_failures": counted[-LAST_FAILURES:], "checks": verdicts, "wait": settings}


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def wait_message(subject, result):
    """The verdict of a wait in words: the subject (host, release), every failing check with what it expected and saw,
    why the wait ended and after how long, and the ``wait`` suboption to change."""
    settings = result["wait"]
    prefix = "%s: " % subject if subject else ""
    if result["passed"]:
        return "%s%s passed %s in a row after %s (%.1f s)" % (
            prefix, _plural(len(result["checks"]), "check"), _plural(settings["successes"], "time"), _plural(result["probes"], "probe"),
            result["elapsed"])
    failing = "; ".join("check '%s' expected %s but saw %s" % (v["name"], v["expected"], v["seen"]) for v in result["checks"] if not v["ok"])
    forgiven = (", %d without an answer during wait.start_period of %g s not counted" % (result["not_up"], settings["start_period"])
                if result["not_up"] else "")
    if result["reason"] == "failure_limit":
        last = ", ".join("%.1f s: %s" % (f["at"], f["seen"]) for f in result["last_failures"])
        if all(f["not_up"] for f in result["last_failures"]):
            hint = ("Nothing answered after wait.start_period of %g s: is the app running and listening (did it crash at start)? "
                    "Raise wait.start_period if it needs longer to start" % settings["start_period"])
        else:
            hint = "Fix the release, or raise wait.failure_limit to tolerate more failed rounds"
        return "%s%s; %s (more than wait.failure_limit %d) after %.1f s (%s%s; failures at %s). %s" % (
            prefix, failing, _plural(result["failures"], "failed round"), settings["failure_limit"], result["elapsed"],
            _plural(result["probes"], "probe"), forgiven, last, hint)
    if failing:
        return "%s%s; not healthy within wait.timeout of %g s (%s, %d failed%s). Raise wait.timeout if it needs longer" % (
            prefix, failing, settings["timeout"], _plural(result["probes"], "probe"), result["failures"], forgiven)
    return ("%sonly %d of wait.successes %d passing rounds in a row within wait.timeout of %g s (%s, %d failed%s; the last one "
            "passed: %s). Raise wait.timeout, or lower wait.successes" % (
                prefix, result["streak"], settings["successes"], settings["timeout"], _plural(result["probes"], "probe"),
                result["failures"], forgiven, "; ".join("%s saw %s" % (v["name"], v["seen"]) for v in result["checks"])))


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
