# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one health wait (release_activate on the host, health_check on the controller): its decisions on recorded
answers with a fake clock, its settings, and its one documentation."""

from __future__ import annotations

import json
import socket
import threading

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.doc_fragments.wait import ModuleDocFragment
from ansible_collections.fleetops.release.plugins.module_utils._activate import health_check_spec, wait_healthy
from ansible_collections.fleetops.release.plugins.module_utils._health import (
    WAIT_OPTIONS,
    WAIT_REASONS,
    WAIT_SPEC,
    HealthError,
    evaluate_command,
    normalize_check,
    round_outcome,
    wait_message,
    wait_settings,
    wait_until_healthy,
)
from ansible_collections.fleetops.release.plugins.module_utils._health_probe import http_probe

URL = "http://127.0.0.1:8000/health"
DEFAULTS = {"timeout": 60.0, "interval": 0.5, "successes": 1, "failure_limit": 3, "start_period": 10.0, "request_timeout": 5.0}


class Clock:
    """Fake monotonic clock; each probe takes ``latency`` seconds, sleeps add up exactly."""

    def __init__(self, latency=0.0):
        self.now = 1000.0
        self.latency = latency
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


# Recorded answers of _health_probe.http_probe (shape and texts as it gives them).
def ok(release="v2"):
    return {"status": 200, "headers": {"content-type": "application/json"}, "body": json.dumps({"status": "ok", "release": release}),
            "latency_ms": 1.2, "error": None, "not_up": False}


def http_503():
    return {"status": 503, "headers": {}, "body": json.dumps({"status": "fail", "release": "v2"}), "latency_ms": 1.1, "error": None,
            "not_up": False}


def refused():
    return {"status": None, "headers": {}, "body": "", "latency_ms": 0.3, "error": "connection refused", "not_up": True}


def reset():
    return {"status": None, "headers": {}, "body": "", "latency_ms": 0.4, "error": "connection reset (Remote end closed connection "
            "without response)", "not_up": True}


def timed_out():
    return {"status": None, "headers": {}, "body": "", "latency_ms": 5000.0, "error": "no answer within 5 s (timed out)", "not_up": True}


def tls_error():
    return {"status": None, "headers": {}, "body": "", "latency_ms": 2.0, "error": "TLS error: certificate verify failed", "not_up": False}


def replay(clock, answers, forever=None):
    """A probe returning the recorded answers in turn (then ``forever``, else the last one), advancing the clock."""
    queue = list(answers)
    calls = []

    def probe(url, timeout):
        calls.append((clock.now, url, timeout))
        if clock.latency:
            clock.now += clock.latency
        if queue:
            return queue.pop(0)
        return forever() if forever else answers[-1]
    probe.calls = calls
    return probe


def run(answers, wait=None, expected_release="v2", latency=0.0, forever=None):
    clock = Clock(latency)
    probe = replay(clock, answers, forever)
    result = wait_healthy(health_check_spec(URL, expected_release=expected_release), wait, probe=probe, clock=clock, sleep=clock.sleep)
    return result, probe.calls, clock


# -- the decisions --------------------------------------------------------------------------------------


def test_healthy_at_once_passes_in_one_round():
    result, calls, dummy = run([ok()])
    assert result["passed"] and result["reason"] == "passed" and result["probes"] == 1 and result["elapsed"] == 0
    assert result["msg"] == "1 check passed 1 time in a row after 1 probe (0.0 s)"
    assert calls[0][2] == 5.0  # request_timeout


def test_refused_during_the_start_period_does_not_count():
    # 19 refusals (0.0 .. 9.0 s) then healthy: no failure is counted, whatever failure_limit says.
    result, calls, dummy = run([refused()] * 19 + [ok()], {"failure_limit": 0})
    assert result["passed"] and result["failures"] == 0 and result["not_up"] == 19 and result["probes"] == 20
    assert result["elapsed"] == pytest.approx(9.5)
    assert [round(at - calls[0][0], 2) for at, dummy_url, dummy_timeout in calls[:3]] == [0.0, 0.5, 1.0]


def test_a_crash_is_detected_at_start_period_plus_failure_limit_times_interval():
    result, calls, dummy = run([], forever=refused)
    assert not result["passed"] and result["reason"] == "failure_limit"
    # rounds at 0.0 .. 9.5 s are forgiven (20), 10.0, 10.5, 11.0 and 11.5 s count: the 4th is beyond failure_limit 3
    assert result["elapsed"] == pytest.approx(10 + 3 * 0.5)
    assert (result["not_up"], result["failures"], result["probes"]) == (20, 4, 24)
    assert [f["at"] for f in result["last_failures"]] == [10.0, 10.5, 11.0, 11.5]
    assert all(f["not_up"] and f["seen"] == "no answer (connection refused)" for f in result["last_failures"])
    msg = result["msg"]
    assert msg.startswith("check 'http %s' expected HTTP 200, release=v2 but saw no answer (connection refused); 4 failed rounds "
                          "(more than wait.failure_limit 3) after 11.5 s (24 probes, 20 without an answer during wait.start_period of "
                          "10 s not counted; failures at 10.0 s: no answer (connection refused), 10.5 s: " % URL), msg
    assert msg.endswith("Nothing answered after wait.start_period of 10 s: is the app running and listening (did it crash at start)? "
                        "Raise wait.start_period if it needs longer to start"), msg


@pytest.mark.parametrize("not_up", [reset, timed_out])
def test_reset_and_timeout_are_not_up_like_refused(not_up):
    result, dummy_calls, dummy = run([not_up()] * 3 + [ok()], {"failure_limit": 0})
    assert result["passed"] and result["not_up"] == 3 and result["failures"] == 0


def test_5xx_counts_from_the_first_answer_and_fails_after_failure_limit_plus_one_answers():
    result, calls, dummy = run([], forever=http_503)
    assert not result["passed"] and result["reason"] == "failure_limit"
    assert (result["probes"], result["failures"], result["not_up"]) == (4, 4, 0) and len(calls) == 4
    assert result["elapsed"] == pytest.approx(1.5)
    assert result["last_failures"] == [{"at": at, "seen": "HTTP 503", "not_up": False} for at in (0.0, 0.5, 1.0, 1.5)]
    assert "expected HTTP 200, release=v2 but saw HTTP 503; 4 failed rounds (more than wait.failure_limit 3) after 1.5 s" \
        in result["msg"]
    assert result["msg"].endswith("Fix the release, or raise wait.failure_limit to tolerate more failed rounds")


def test_a_wrong_release_is_a_definite_failure_during_the_start_period():
    result, dummy_calls, dummy = run([ok("v1")] * 10, {"failure_limit": 1})
    assert not result["passed"] and result["reason"] == "failure_limit" and result["probes"] == 2
    assert result["last_failures"][-1]["seen"] == "HTTP 200, release=v1"
    assert "expected HTTP 200, release=v2 but saw HTTP 200, release=v1" in result["msg"]


def test_other_errors_than_no_answer_count_at_once():
    result, dummy_calls, dummy = run([tls_error()] * 5, {"failure_limit": 0})
    assert not result["passed"] and result["probes"] == 1 and result["failures"] == 1
    assert "no answer (TLS error: certificate verify failed)" in result["msg"]


def test_failure_limit_zero_fails_at_the_first_counted_failure():
    result, dummy_calls, dummy = run([refused(), http_503()], {"failure_limit": 0})
    assert result["reason"] == "failure_limit" and result["probes"] == 2 and result["not_up"] == 1 and result["failures"] == 1


def test_a_success_does_not_forgive_earlier_failures_but_counts_towards_successes():
    answers = [http_503(), ok(), http_503(), ok(), ok(), http_503(), http_503()]
    result, dummy_calls, dummy = run(answers, {"successes": 3, "failure_limit": 3})
    assert result["reason"] == "failure_limit" and result["probes"] == 7 and result["successes"] == 3 and result["failures"] == 4
    result, dummy_calls, dummy = run([http_503(), ok(), http_503(), ok(), ok(), ok()], {"successes": 3})
    assert result["passed"] and result["probes"] == 6 and result["failures"] == 2 and result["streak"] == 3
    assert result["msg"] == "1 check passed 3 times in a row after 6 probes (2.5 s)"


def test_timeout_when_failures_stay_below_the_limit():
    # not_up for ever and a limit it never reaches: the timeout ends it, with the last round exactly at the timeout.
    result, calls, dummy = run([], {"timeout": 5, "failure_limit": 100}, forever=refused)
    assert not result["passed"] and result["reason"] == "timeout"
    assert result["elapsed"] == 5 and result["probes"] == 11 and round(calls[-1][0] - calls[0][0], 2) == 5
    assert result["msg"] == ("check 'http %s' expected HTTP 200, release=v2 but saw no answer (connection refused); not healthy within "
                             "wait.timeout of 5 s (11 probes, 0 failed, 11 without an answer during wait.start_period of 10 s not "
                             "counted). Raise wait.timeout if it needs longer" % URL)


def test_timeout_with_the_last_round_passing_says_how_many_successes_were_missing():
    answers = [ok(), http_503()] * 10
    result, dummy_calls, dummy = run(answers, {"timeout": 2, "successes": 2, "failure_limit": 100})
    assert result["reason"] == "timeout" and result["probes"] == 5 and result["streak"] == 1
    assert result["msg"].startswith("only 1 of wait.successes 2 passing rounds in a row within wait.timeout of 2 s (5 probes, 2 failed; "
                                    "the last one passed: http %s saw HTTP 200, release=v2)" % URL), result["msg"]


def test_timeout_zero_is_one_round():
    result, dummy_calls, clock = run([refused()], {"timeout": 0})
    assert result["reason"] == "timeout" and result["probes"] == 1 and clock.sleeps == []


def test_interval_is_from_round_start_to_round_start_and_the_last_sleep_stops_at_the_timeout():
    result, calls, clock = run([], {"timeout": 2, "interval": 0.75, "failure_limit": 100}, latency=0.25, forever=http_503)
    starts = [round(at - calls[0][0], 2) for at, dummy_url, dummy_timeout in calls]
    assert starts == [0.0, 0.75, 1.5, 2.0]
    assert clock.sleeps == [0.5, 0.5, 0.25] and result["reason"] == "timeout"


def test_a_slow_not_up_round_started_in_the_start_period_is_forgiven():
    # Each probe times out after 4 s: rounds start at 0, 4, 8 (forgiven) and 12 s (counted).
    result, dummy_calls, dummy = run([], {"failure_limit": 0, "interval": 1}, latency=4.0, forever=timed_out)
    assert result["not_up"] == 3 and result["failures"] == 1 and result["last_failures"][0]["at"] == 12


def test_a_round_fails_definitely_when_any_check_answers_wrongly():
    http_refused = {"ok": False, "not_up": True}
    command_failed = evaluate_command(normalize_check({"type": "command", "command": "false"}, 1), 1, "", "")
    assert command_failed["not_up"] is False
    assert round_outcome([{"ok": True, "not_up": False}, http_refused]) == "not_up"
    assert round_outcome([http_refused, command_failed]) == "failed"
    assert round_outcome([{"ok": True, "not_up": False}]) == "passed"


def test_several_checks_name_each_failing_one_in_the_failures():
    checks = [{"name": "a", "ok": False, "not_up": False, "seen": "HTTP 500", "expected": "HTTP 200"},
              {"name": "b", "ok": True, "not_up": False, "seen": "ok", "expected": "ok"},
              {"name": "c", "ok": False, "not_up": True, "seen": "no connection (connection refused)", "expected": "a TCP connection"}]
    clock = Clock()
    result = wait_until_healthy(lambda: checks, {"failure_limit": 0}, clock=clock, sleep=clock.sleep)
    assert result["last_failures"][0]["seen"] == "a: HTTP 500; c: no connection (connection refused)"
    msg = wait_message("us-1", result)
    assert msg.startswith("us-1: check 'a' expected HTTP 200 but saw HTTP 500; check 'c' expected a TCP connection but saw no "
                          "connection (connection refused); 1 failed round (more than wait.failure_limit 0) after 0.0 s"), msg


@given(st.lists(st.sampled_from(["ok", "503", "refused"]), min_size=1, max_size=80), st.integers(1, 4),
       st.integers(0, 100), st.sampled_from([0.0, 1.0, 3.0]))
def test_the_wait_matches_a_direct_count(outcomes, successes, failure_limit, start_period):
    """Every round at interval 0.5 with instant answers: the verdict is what counting the outcomes by hand gives."""
    recorded = {"ok": ok, "503": http_503, "refused": refused}
    answers = [recorded[name]() for name in outcomes]
    wait = {"successes": successes, "failure_limit": failure_limit, "start_period": start_period, "timeout": 0.5 * (len(outcomes) - 1)}
    result, dummy_calls, dummy = run(answers, wait)
    seen = outcomes[:result["probes"]]
    counted = [name for index, name in enumerate(seen) if name == "503" or (name == "refused" and index * 0.5 >= start_period)]
    streak = 0
    for name in reversed(seen):
        if name != "ok":
            break
        streak += 1
    assert result["reason"] in WAIT_REASONS and result["failures"] == len(counted) and result["streak"] == streak
    assert result["not_up"] == seen.count("refused") - counted.count("refused")
    if result["reason"] == "passed":
        assert streak == successes
    elif result["reason"] == "failure_limit":
        assert len(counted) == failure_limit + 1 and streak < successes
    else:
        assert result["probes"] == len(outcomes) and streak < successes
        assert len(counted) <= failure_limit


# -- settings -------------------------------------------------------------------------------------------


def test_defaults_of_an_omitted_or_partial_wait():
    assert wait_settings(None) == DEFAULTS and wait_settings({}) == DEFAULTS
    assert wait_settings({"timeout": 5})["interval"] == 0.5


@pytest.mark.parametrize("wait, match", [
    ({"timeout": -1}, r"wait.timeout must be 0 or more seconds, not -1"),
    ({"interval": 0}, r"wait.interval must be more than 0 seconds, not 0"),
    ({"request_timeout": None}, r"wait.request_timeout must be more than 0 seconds, not None"),
    ({"successes": 0}, r"wait.successes \(passing rounds in a row needed\) must be at least 1, not 0"),
    ({"failure_limit": -1}, r"wait.failure_limit must be 0 or more \(0: the first failed round ends the wait; a limit above"),
    ({"failure_limit": None}, r"wait.failure_limit must be 0 or more .*, not None"),
    ({"start_period": -0.5}, r"wait.start_period must be 0 or more seconds"),
    ({"health_timeout": 5}, r"wait has no suboption health_timeout; it takes timeout, interval, successes, failure_limit"),
])
def test_bad_settings_are_refused_naming_the_suboption(wait, match):
    with pytest.raises(HealthError, match=match):
        wait_settings(wait)


def test_the_doc_fragment_documents_exactly_the_spec():
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert list(WAIT_SPEC) == ["wait"] and doc["wait"]["type"] == "dict" and WAIT_SPEC["wait"]["apply_defaults"]
    assert "default" not in doc["wait"] and "default" not in WAIT_SPEC["wait"]
    suboptions = doc["wait"]["suboptions"]
    assert sorted(suboptions) == sorted(WAIT_OPTIONS)
    for key, spec in WAIT_OPTIONS.items():
        assert (suboptions[key]["type"], suboptions[key]["default"]) == (spec["type"], spec["default"]), key
    assert {key: spec["default"] for key, spec in WAIT_OPTIONS.items()} == DEFAULTS


def test_both_modules_take_the_one_wait_spec():
    from ansible_collections.fleetops.release.plugins.action import health_check
    from ansible_collections.fleetops.release.plugins.modules import health_check as health_check_doc
    from ansible_collections.fleetops.release.plugins.modules import release_activate
    assert health_check.ARGUMENT_SPEC["wait"] is WAIT_SPEC["wait"]
    for module in (release_activate, health_check_doc):
        doc = yaml.safe_load(module.DOCUMENTATION)
        assert "fleetops.release.wait" in doc["extends_documentation_fragment"]
        assert not set(doc["options"]) & {"timeout", "interval", "consecutive_successes", "failure_limit", "request_timeout",
                                          "health_timeout", "health_interval", "health_consecutive_successes",
                                          "health_request_timeout"}
    with open(release_activate.__file__, encoding="utf-8") as handle:
        assert "WAIT_SPEC," in handle.read()


def test_the_real_probe_says_refused_and_closed_without_an_answer_are_not_up():
    # Port 1 of the loopback: nothing listens there (no network beyond 127.0.0.0/8).
    answer = http_probe("http://127.0.0.1:1/health", timeout=2)
    assert answer["error"] == "connection refused" and answer["not_up"] is True
    # A listener that closes every connection before answering (an app dying while it starts).
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def close_one():
            conn, dummy_address = listener.accept()
            conn.recv(1024)
            conn.close()
        thread = threading.Thread(target=close_one, daemon=True)
        thread.start()
        answer = http_probe("http://127.0.0.1:%d/health" % listener.getsockname()[1], timeout=2)
        thread.join(5)
    assert answer["error"].startswith("connection reset") and answer["not_up"] is True and answer["status"] is None
