# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The arithmetic and the judging of health checks and gates (no network, no clock)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.module_utils._health import (
    BreachTracker,
    ErrorRateWindow,
    FleetError,
    HealthError,
    conclude,
    evaluate_command,
    evaluate_http,
    evaluate_metric,
    evaluate_tcp,
    json_field,
    latency_summary,
    normalize_check,
    percentile,
    prometheus_series,
    values_match,
)

# -- percentile ----------------------------------------------------------------------------------------


def test_percentile_nearest_rank():
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 5) == 15
    assert percentile(values, 30) == 20
    assert percentile(values, 40) == 20
    assert percentile(values, 50) == 35
    assert percentile(values, 100) == 50
    assert percentile(values, 0) == 15
    assert percentile([], 50) is None


def test_percentile_rejects_out_of_range():
    with pytest.raises(HealthError, match="between 0 and 100"):
        percentile([1], 101)


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200),
       st.floats(min_value=0, max_value=100))
def test_percentile_is_the_nearest_rank(values, pct):
    result = percentile(values, pct)
    rank = max(1, math.ceil(pct / 100.0 * len(values)))
    assert result in values
    assert sum(1 for v in values if v <= result) >= rank
    assert sum(1 for v in values if v < result) < rank


@given(st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), min_size=1, max_size=100))
def test_latency_summary_is_ordered(latencies):
    summary = latency_summary(latencies)
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["max_ms"]


# -- sustained breaches ----------------------------------------------------------------------------------


def test_breach_must_last_without_interruption():
    tracker = BreachTracker(sustained_for=2.0)
    assert not tracker.observe(0.0, True)
    assert not tracker.observe(1.9, True)
    assert not tracker.observe(2.0, False)  # interrupted: starts again
    assert not tracker.observe(2.5, True)
    assert not tracker.observe(4.0, True)
    assert tracker.observe(4.5, True)
    assert tracker.longest == 2.0
    assert tracker.current(5.0) == 2.5


def test_breach_zero_seconds_fails_at_the_first_violation():
    tracker = BreachTracker(0)
    assert not tracker.observe(0.0, False)
    assert tracker.observe(0.1, True)


def test_breach_rejects_negative_duration():
    with pytest.raises(HealthError, match="sustained_for"):
        BreachTracker(-1)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.floats(min_value=0, max_value=5, allow_nan=False), st.booleans()), max_size=40),
       st.floats(min_value=0, max_value=10, allow_nan=False))
def test_breach_matches_brute_force(steps, sustained_for):
    times, now = [], 0.0
    for step, _violated in steps:
        now += step
        times.append(now)
    flags = [violated for _step, violated in steps]
    tracker = BreachTracker(sustained_for)
    results = [tracker.observe(t, v) for t, v in zip(times, flags)]
    # brute force: some uninterrupted run of violations i..j spans at least sustained_for seconds
    expected = any(all(flags[i:j + 1]) and times[j] - times[i] >= sustained_for
                   for i in range(len(flags)) for j in range(i, len(flags)))
    assert tracker.sustained == expected
    assert results == sorted(results)  # once sustained, it stays so


# -- error-rate windows ----------------------------------------------------------------------------------


def test_window_counts_the_trailing_seconds():
    window = ErrorRateWindow(2.0)
    for t, error in [(0.0, False), (0.5, True), (1.0, False), (2.0, True), (2.5, False)]:
        window.add(t, error)
    assert window.counts(2.0) == (3, 2)  # (0, 2]: 0.5, 1.0 and 2.0; 0.0 is out
    assert window.counts(2.5) == (3, 1)  # (0.5, 2.5]
    assert window.rate(2.5) == pytest.approx(1 / 3)
    assert window.rate(2.5, min_samples=4) is None
    assert window.rate(10.0) is None


def test_window_ten_percent_errors():
    # the demo app's error_rate 0.1 fails exactly every tenth request
    window = ErrorRateWindow(2.0)
    for n in range(1, 101):
        window.add(n * 0.05, math.floor(n * 0.1) > math.floor((n - 1) * 0.1))
    assert window.rate(5.0) == pytest.approx(0.1)
    assert window.rate(5.0) > 0.05
    assert window.rate(5.0) <= 0.2


def test_window_rejects_bad_input():
    with pytest.raises(HealthError, match="window"):
        ErrorRateWindow(0)
    window = ErrorRateWindow(1)
    window.add(2.0, False)
    with pytest.raises(ValueError):
        window.add(1.0, False)


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=2, allow_nan=False), st.booleans()), max_size=80),
       st.floats(min_value=0.01, max_value=10, allow_nan=False), st.floats(min_value=0, max_value=100, allow_nan=False))
def test_window_matches_brute_force(steps, seconds, now):
    window, samples, t = ErrorRateWindow(seconds), [], 0.0
    for step, error in steps:
        t += step
        window.add(t, error)
        samples.append((t, error))
    inside = [error for when, error in samples if now - seconds < when <= now]
    assert window.counts(now) == (len(inside), sum(inside))


# -- judging answers -------------------------------------------------------------------------------------


def http_check(**options):
    check = {"type": "http", "url": "http://127.0.0.1:8000/health", "status_codes": [200]}
    check.update(options)
    return normalize_check(check, 0)


def answer(status=200, body=None, headers=None, latency=3.0, error=None):
    return {"status": status, "headers": headers or {}, "body": json.dumps(body) if isinstance(body, dict) else (body or ""),
            "latency_ms": latency, "error": error}


def test_http_wrong_release_names_expected_and_seen():
    verdict = evaluate_http(http_check(json_field="release", json_value="v2"), answer(body={"release": "v1"}))
    assert not verdict["ok"]
    assert verdict["expected"] == "HTTP 200, release=v2"
    assert verdict["seen"] == "HTTP 200, release=v1"


def test_http_right_release_passes():
    verdict = evaluate_http(http_check(json_field="release", json_value="v2"), answer(body={"release": "v2"}))
    assert verdict["ok"] and verdict["seen"] == "HTTP 200, release=v2"


def test_http_nested_field_and_typed_values():
    assert json_field({"a": {"b": [{"c": 1}]}}, "a.b.0.c") == (True, 1)
    assert json_field({"a": 1}, "a.b") == (False, None)
    assert values_match(42, "42") and values_match(True, "true") and not values_match("v1", "v2")


@pytest.mark.parametrize("check, reply, seen", [
    ({}, answer(status=503), "HTTP 503"),
    ({}, answer(error="connection refused", status=None), "no answer (connection refused)"),
    ({"json_field": "release"}, answer(body="<html>"), "HTTP 200, a body that is not JSON: '<html>'"),
    ({"json_field": "release"}, answer(body={"other": 1}), "HTTP 200, no JSON field release"),
    ({"body_regex": "^ok"}, answer(body="fail"), "HTTP 200, a body not matching: 'fail'"),
    ({"max_latency_ms": 100}, answer(latency=250.0), "HTTP 200, an answer after 250 ms"),
    ({"expect_headers": {"Content-Type": "json"}}, answer(), "HTTP 200, no Content-Type header"),
    ({"expect_headers": {"Content-Type": "json"}}, answer(headers={"content-type": "text/plain"}), "HTTP 200, header Content-Type=text/plain"),
    ({"status_codes": [301]}, answer(status=200), "HTTP 200"),
])
def test_http_failures_say_what_was_seen(check, reply, seen):
    verdict = evaluate_http(http_check(**check), reply)
    assert not verdict["ok"]
    assert verdict["seen"] == seen


def test_http_status_codes_and_headers_pass():
    verdict = evaluate_http(http_check(status_codes=[200, 204], expect_headers={"Content-Type": "^application/json"}, body_regex="ok"),
                            answer(status=204, body="ok", headers={"content-type": "application/json"}))
    assert verdict["ok"], verdict


def test_tcp_and_command_verdicts():
    tcp = normalize_check({"type": "tcp", "host": "127.0.0.1", "port": 22, "max_latency_ms": 10}, 0)
    assert evaluate_tcp(tcp, answer(latency=1.0))["ok"]
    assert evaluate_tcp(tcp, answer(latency=50.0))["seen"] == "a connection after 50 ms"
    assert evaluate_tcp(tcp, answer(status=None, error="connection refused"))["seen"] == "no connection (connection refused)"
    command = normalize_check({"type": "command", "command": "systemctl is-active shop", "rc": 0, "stdout_regex": "^active"}, 0)
    assert evaluate_command(command, 0, "active\n", "")["ok"]
    failed = evaluate_command(command, 3, "inactive\n", "")
    assert not failed["ok"]
    assert failed["expected"] == "exit code 0 and stdout matching '^active'"
    assert failed["seen"].startswith("exit code 3, stdout 'inactive")


@pytest.mark.parametrize("check, match", [
    ({"type": "http"}, "checks\\[0\\] \\(type http\\) needs url"),
    ({"type": "http", "url": "ftp://x"}, "must start with http"),
    ({"type": "http", "url": "http://x", "json_value": "v1"}, "without json_field"),
    ({"type": "http", "url": "http://x", "body_regex": "("}, "not a valid regular expression"),
    ({"type": "http", "url": "http://x", "status_codes": [999]}, "100-599"),
    ({"type": "tcp", "host": "x"}, "needs host and port"),
    ({"type": "tcp", "host": "x", "port": 70000}, "between 1 and 65535"),
    ({"type": "command", "command": "true", "run_on": "controller"}, "always runs on the host"),
    ({"type": "http", "url": "http://x", "max_latency_ms": 0}, "max_latency_ms must be more than 0"),
])
def test_bad_checks_are_refused(check, match):
    with pytest.raises(HealthError, match=match):
        normalize_check(check, 0)


def test_health_error_is_a_fleet_error():
    assert issubclass(HealthError, FleetError)


def test_conclude_enforce_and_shadow():
    failed = conclude({}, False, "bad", "enforce")
    assert failed["failed"] and failed["msg"] == "bad" and failed["would_fail"]
    shadow = conclude({}, False, "bad", "shadow")
    assert "failed" not in shadow and shadow["would_fail"] and not shadow["passed"]
    assert shadow["warnings"] == ["shadow mode, not failing: bad"]
    assert conclude({}, True, "good", "shadow") == {"passed": True, "mode": "shadow", "would_fail": False, "changed": False, "msg": "good"}


# -- Prometheus ------------------------------------------------------------------------------------------


def test_prometheus_vector_and_scalar():
    vector = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"instance": "a"}, "value": [1700000000.1, "0.25"]},
        {"metric": {}, "value": [1700000000.1, "NaN"]}]}}
    series = prometheus_series(vector)
    assert series[0] == ({"instance": "a"}, 0.25)
    assert math.isnan(series[1][1])
    assert prometheus_series({"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}}) == [({}, 3.0)]


@pytest.mark.parametrize("document, match", [
    ({"status": "error", "errorType": "bad_data", "error": "parse error"}, "bad_data: parse error"),
    ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "needs an instant vector"),
    ({"status": "success", "data": {"resultType": "vector", "result": [{"value": [1]}]}}, "cannot read"),
    ({"data": {}}, "not a Prometheus API answer"),
])
def test_prometheus_bad_answers(document, match):
    with pytest.raises(HealthError, match=match):
        prometheus_series(document)


def test_metric_evaluation():
    assert evaluate_metric([({}, 0.01)], "<=", 0.05)[0]
    ok, seen, values = evaluate_metric([({"instance": "a"}, 0.1), ({"instance": "b"}, 0.0)], "<=", 0.05)
    assert not ok and seen == '{instance="a"} 0.1' and values == [0.1, 0.0]
    assert not evaluate_metric([({}, float("nan"))], "<=", 0.05)[0]
    assert evaluate_metric([], "<=", 0.05) == (False, "no series (empty result)", [])
    assert evaluate_metric([], "<=", 0.05, empty_result="pass")[0]
    with pytest.raises(HealthError, match="comparison"):
        evaluate_metric([], "=<", 1)


def test_a_killed_command_fails_naming_its_timeout():
    from ansible_collections.fleetops.release.plugins.module_utils._health import evaluate_command
    check = {"type": "command", "command": "sleep 100", "name": "command sleep 100", "rc": 0}
    verdict = evaluate_command(check, None, "", "", 2000.0, killed_after=2)
    assert not verdict["ok"] and "no exit within the command timeout of 2 s" in verdict["seen"]
