# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Canary versus baseline (issue 19): the comparison arithmetic and the verdicts - ratio against margin, zero
baselines, small samples, missing series, shadow mode, the groups of a run and what the run report keeps."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.module_utils import _baseline as bl
from ansible_collections.fleetops.release.plugins.module_utils import _wave_report as wr
from ansible_collections.fleetops.release.plugins.module_utils._health import conclude
from ansible_collections.fleetops.release.plugins.module_utils._waves import plan_waves


def options(**overrides):
    return bl.check_options(dict({"metric": "error_rate", "max_ratio": 2.0, "max_margin": 0.01}, **overrides))


def group(value, samples=400, hosts=("h1",), **extra):
    return dict({"value": value, "samples": samples, "hosts": list(hosts), "missing": []}, **extra)


def ok(answer_status=200, latency=1.0):
    return {"status": answer_status, "latency_ms": latency, "error": None}


NO_ANSWER = {"status": None, "latency_ms": None, "error": "connection refused"}


# -- compare --------------------------------------------------------------------------------------------------

def test_ratio_and_margin_both_broken_fail_with_combine_all():
    result = bl.compare(0.05, 0.005, max_ratio=2, max_margin=0.01)
    assert result["worse"] and result["broken"] == ["max_ratio", "max_margin"]
    assert result["ratio"] == pytest.approx(10.0) and result["margin"] == pytest.approx(0.045)


def test_a_large_ratio_of_small_numbers_stays_under_the_margin():
    # 0.2% against 0.05% is 4x, but only 0.15 points: with combine all the margin is the floor.
    assert not bl.compare(0.002, 0.0005, max_ratio=2, max_margin=0.01)["worse"]
    assert bl.compare(0.002, 0.0005, max_ratio=2, max_margin=0.01, combine="any")["worse"]
    # A margin broken with the ratio kept: any fails, all does not.
    assert not bl.compare(0.5, 0.4, max_ratio=2, max_margin=0.01)["worse"]
    assert bl.compare(0.5, 0.4, max_ratio=2, max_margin=0.01, combine="any")["broken"] == ["max_margin"]


def test_ratio_alone_and_margin_alone():
    assert bl.compare(0.03, 0.01, max_ratio=2)["worse"]
    assert not bl.compare(0.02, 0.01, max_ratio=2)["worse"]  # exactly 2x is allowed
    assert bl.compare(120.0, 100.0, max_margin=10)["worse"]
    assert not bl.compare(110.0, 100.0, max_margin=10)["worse"]
    assert not bl.compare(0.001, 0.01, max_ratio=1)["worse"]  # a better canary never fails


def test_zero_baseline_falls_back_to_the_margin():
    result = bl.compare(0.005, 0.0, max_ratio=2, max_margin=0.01)
    assert result["ratio"] is None and not result["worse"] and result["judged"] == ["max_margin"]
    assert "ratio undefined" in result["note"]
    assert bl.compare(0.02, 0.0, max_ratio=2, max_margin=0.01)["worse"]


def test_zero_baseline_without_margin_fails_any_canary_value_above_zero():
    result = bl.compare(0.0025, 0.0, max_ratio=2)
    assert result["worse"] and result["ratio"] is None and "any canary value above 0" in result["note"]
    assert not bl.compare(0.0, 0.0, max_ratio=2)["worse"]  # both zero: equal


@given(st.floats(0, 1e6), st.floats(0.001, 1e6), st.floats(1, 100))
def test_ratio_is_the_quotient_and_decides_alone(canary, baseline, max_ratio):
    result = bl.compare(canary, baseline, max_ratio=max_ratio)
    assert result["ratio"] == pytest.approx(canary / baseline)
    assert result["worse"] == (canary / baseline > max_ratio)


@given(st.floats(0, 1e3), st.floats(0, 1e3), st.floats(0, 10))
def test_margin_is_the_difference_and_decides_alone(canary, baseline, max_margin):
    result = bl.compare(canary, baseline, max_margin=max_margin)
    assert result["margin"] == pytest.approx(canary - baseline)
    assert result["worse"] == (canary - baseline > max_margin)


# -- judge ----------------------------------------------------------------------------------------------------

def test_error_rate_twice_the_baseline_fails_naming_the_figures():
    verdict = bl.judge(options(), group(0.05, errors=20, hosts=("us-1",)), group(0.005, errors=2, hosts=("us-4",)), "us")
    assert verdict["verdict"] == "failed" and not verdict["passed"]
    assert verdict["message"] == (
        "baseline gate error_rate in region us failed: the canary is worse than the baseline by more than allowed "
        "(max_ratio and max_margin broken): canary 5% over 400 requests (20 errors) from us-1; baseline 0.5% over 400 "
        "requests (2 errors) from us-4; ratio 10x (max_ratio 2), margin +0.045 (max_margin 0.01)")
    assert verdict["ratio"] == pytest.approx(10) and verdict["margin"] == pytest.approx(0.045)


def test_a_canary_as_good_as_its_baseline_passes():
    verdict = bl.judge(options(), group(0.006, errors=2), group(0.005, errors=2))
    assert verdict["verdict"] == "passed" and verdict["passed"] and verdict["message"].startswith("baseline gate error_rate passed: ")


def test_no_baseline_host_left_skips_with_a_note():
    verdict = bl.judge(options(), group(0.05), group(None, samples=0, hosts=()), "eu")
    assert verdict["verdict"] == "skipped" and verdict["passed"]
    assert "no baseline host left on the old release" in verdict["message"] and "region eu" in verdict["message"]
    verdict = bl.judge(options(), group(None, samples=0, hosts=()), group(0.0))
    assert verdict["verdict"] == "skipped" and "no canary host" in verdict["message"]


def test_small_samples_fail_or_pass_per_option_and_say_so():
    few = group(0.1, samples=20, errors=2)
    verdict = bl.judge(options(), few, group(0.0))
    assert verdict["verdict"] == "failed" and verdict["small_sample"]
    assert "not enough samples in canary (min_samples 100)" in verdict["message"] and "raise samples" in verdict["message"]
    verdict = bl.judge(options(on_small_sample="pass"), few, group(0.0, samples=10))
    assert verdict["verdict"] == "passed" and verdict["small_sample"] and verdict["note"] == "small sample"
    assert "passed without a comparison (on_small_sample: pass): not enough samples in canary and baseline" in verdict["message"]
    # A group whose value is None (no answered request for a latency) is a small sample too.
    verdict = bl.judge(options(metric="latency", min_samples=1), group(None, samples=0), group(3.0, samples=50))
    assert verdict["small_sample"] and verdict["verdict"] == "failed"


def query_options(**overrides):
    return options(metric="query", query='rate(process_cpu_seconds_total{instance="{instance}"}[5s])',
                   prometheus_url="http://127.0.0.1:9090", max_ratio=3, max_margin=0.05, **overrides)


def test_missing_series_fail_naming_the_host_or_are_left_out():
    canary = bl.query_group(["us-1"], {"us-1": [({}, 0.2)]})
    baseline = bl.query_group(["us-4", "us-7"], {"us-4": [({}, 0.01)], "us-7": []})
    assert baseline["missing"] == ["us-7"] and baseline["samples"] == 1
    verdict = bl.judge(query_options(), canary, baseline)
    assert verdict["verdict"] == "failed" and verdict["missing"] == {"canary": [], "baseline": ["us-7"]}
    assert "no data for us-7 (baseline) from the query" in verdict["message"] and "on_missing_series: ignore" in verdict["message"]
    verdict = bl.judge(query_options(on_missing_series="ignore"), canary, baseline)
    assert verdict["verdict"] == "failed" and "no data, left out: us-7 (baseline)" in verdict["message"]
    assert verdict["ratio"] == pytest.approx(20)
    # Every baseline host without data and ignored: no sample left, a small sample.
    empty = bl.query_group(["us-4"], {})
    verdict = bl.judge(query_options(on_missing_series="ignore"), canary, empty)
    assert verdict["small_sample"] and "not enough samples in baseline (min_samples 1)" in verdict["message"]


def test_query_groups_aggregate_and_refuse_several_series_per_host():
    series = {"a": [({}, 0.1)], "b": [({}, 0.3)], "c": [({}, float("nan"))]}
    assert bl.query_group(["a", "b", "c"], series)["value"] == pytest.approx(0.2)
    assert bl.query_group(["a", "b", "c"], series, "max")["value"] == pytest.approx(0.3)
    assert bl.query_group(["a", "b", "c"], series)["missing"] == ["c"]  # NaN is no data
    two = bl.query_group(["a"], {"a": [({"code": "200"}, 1.0), ({"code": "500"}, 2.0)]})
    verdict = bl.judge(query_options(), two, bl.query_group(["b"], series))
    assert verdict["verdict"] == "failed" and "a: 2 series (the query must give one value per host" in verdict["message"]


def test_cpu_three_times_the_baseline_fails_and_a_zero_baseline_uses_the_margin():
    canary = bl.query_group(["us-1"], {"us-1": [({}, 0.25)]})
    assert bl.judge(query_options(), canary, bl.query_group(["us-4"], {"us-4": [({}, 0.004)]}))["verdict"] == "failed"
    verdict = bl.judge(query_options(), bl.query_group(["us-1"], {"us-1": [({}, 0.03)]}), bl.query_group(["us-4"], {"us-4": [({}, 0.0)]}))
    assert verdict["verdict"] == "passed" and "ratio undefined (max_ratio 3)" in verdict["message"]
    assert "judged by max_margin alone" in verdict["message"]


def test_shadow_mode_reports_the_failed_verdict_without_failing():
    verdict = bl.judge(options(), group(0.05, errors=20), group(0.005, errors=2))
    result = conclude({}, verdict["passed"], verdict["message"], "shadow")
    assert not result.get("failed") and result["would_fail"] and result["msg"].startswith("shadow mode, not failing: baseline gate")
    assert conclude({}, verdict["passed"], verdict["message"], "enforce")["failed"]


# -- samples ----------------------------------------------------------------------------------------------------

def test_request_groups_count_errors_and_latency_percentiles():
    answers = [("a", ok()), ("b", ok(500)), ("a", NO_ANSWER), ("b", ok(200, 9.0))]
    figures = bl.request_group("error_rate", ["a", "b"], answers)
    assert (figures["value"], figures["samples"], figures["errors"]) == (0.5, 4, 2)
    assert figures["per_host"] == {"a": {"requests": 2, "errors": 1}, "b": {"requests": 2, "errors": 1}}
    assert bl.request_group("error_rate", ["a"], [("a", ok(404))], status_codes=[200])["value"] == 1.0
    latency = bl.request_group("latency", ["a", "b"], answers, pct=50)
    assert latency["samples"] == 3 and latency["value"] == 1.0  # the unanswered request has no latency
    assert bl.request_group("latency", ["a", "b"], answers, pct=99)["value"] == 9.0
    assert bl.request_group("error_rate", ["a"], [])["value"] is None


def test_members_urls_and_instances():
    assert bl.members(["http://10.0.0.1:8000"], "canary") == [
        {"name": "10.0.0.1:8000", "url": "http://10.0.0.1:8000", "instance": "10.0.0.1:8000"}]
    assert bl.members([{"name": "us-1", "url": "http://10.0.0.1:8000/health", "instance": "x:9100"}], "canary")[0]["instance"] == "x:9100"
    assert bl.members([{"name": "us-1", "instance": "x:9100"}], "canary")[0]["url"] is None
    assert bl.members(None, "baseline") == []
    for bad, match in ((["ftp://x"], r"canary\[0\] url must be"), ("http://x", "must be a list"), ([3], r"canary\[0\] must be a URL"),
                       ([{"name": "us-1"}], r"canary\[0\] \(us-1\) has neither url nor instance")):
        with pytest.raises(bl.BaselineError, match=match):
            bl.members(bad, "canary")
    assert bl.request_url("http://10.0.0.1:8000/health", "/api?x=1") == "http://10.0.0.1:8000/api?x=1"
    assert bl.instance_query('up{instance="{instance}"}', "10.0.0.1:8000") == 'up{instance="10.0.0.1:8000"}'


# -- options --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, match", [
    ({"metric": "error_rate"}, "sets neither max_ratio nor max_margin"),
    ({"metric": "cpu", "max_ratio": 2}, "metric must be one of error_rate, latency, query, not 'cpu'"),
    ({"metric": "error_rate", "max_ratio": 0.5}, "max_ratio must be at least 1"),
    ({"metric": "error_rate", "max_margin": -1}, "max_margin must be at least 0"),
    ({"metric": "latency", "max_ratio": 2, "percentile": 0}, "percentile must be above 0"),
    ({"metric": "error_rate", "max_ratio": 2, "samples": 50}, r"samples \(50 requests per group\) is below min_samples \(100\)"),
    ({"metric": "query", "max_ratio": 2, "query": "up", "prometheus_url": "http://p"}, "placeholder {instance}"),
    ({"metric": "query", "max_ratio": 2, "query": 'up{instance="{instance}"}'}, "needs prometheus_url"),
    ({"metric": "error_rate", "max_ratio": 2, "rate": 0}, "rate must be more than 0"),
    ({"metric": "error_rate", "max_ratio": 2, "path": "health"}, "path must start with /"),
    ({"metric": "error_rate", "max_ratio": 2, "combine": "both"}, "combine must be one of all, any"),
    ({"metric": "error_rate", "max_ratio": 2, "threshold": 1}, "has no option threshold"),
])
def test_bad_options_are_named(bad, match):
    with pytest.raises(bl.BaselineError, match=match):
        bl.check_options(bad)


def test_defaults_and_the_problems_of_the_role_variable():
    checked = options()
    assert checked["min_samples"] == 100 and checked["samples"] == 200 and checked["combine"] == "all"
    assert query_options()["min_samples"] == 1
    assert bl.comparison_name(options(metric="latency", percentile=90.0)) == "latency p90"
    assert bl.comparison_name(options(name="errors 2x")) == "errors 2x"
    assert bl.comparison_problems([]) == [] and bl.comparison_problems(None) == []
    assert bl.comparison_problems({"metric": "x"})[0].startswith("fleet_baseline_gates must be a list")
    problems = bl.comparison_problems([{"metric": "error_rate", "max_ratio": 2}, "x", {"metric": "latency"}])
    assert problems[0].startswith("fleet_baseline_gates[1] is 'x'")
    assert problems[1].startswith("fleet_baseline_gates[2] sets neither max_ratio nor max_margin")


# -- the groups of a run and the run report --------------------------------------------------------------------

def test_run_groups_canary_live_and_switched_baseline_pending():
    report = {"live": ["us-4"], "hosts": {
        "us-1": {"region": "us", "outcome": "switched"},
        "us-4": {"region": "us", "outcome": "pending", "touched": True},
        "us-7": {"region": "us", "outcome": "pending"},
        "us-10": {"region": "us", "outcome": "health checks failed"},
        "us-13": {"region": "us", "outcome": "pending", "touched": True},  # this batch, failed: neither
        "eu-2": {"region": "eu", "outcome": "pending"}}}
    assert bl.run_groups(report, "us") == {"canary": ["us-1", "us-4"], "baseline": ["us-7"]}
    assert bl.run_groups(report, "eu") == {"canary": [], "baseline": ["eu-2"]}
    assert bl.run_groups({}, "us") == {"canary": [], "baseline": []}


def test_the_run_report_keeps_each_comparison_and_a_failed_one_counts_like_a_failed_host():
    plan = plan_waves({"us": ["us-1", "us-4"]}, waves=[1, "100%"], min_healthy=1)
    report = wr.start({"run_id": "r-1", "operation": "deploy", "actor": "alice", "on_failure": "revert", "max_fail": 0,
                       "started": 100.0},
                      {"us-1": {"region": "us", "from": "v1", "to": "v2", "needed": True},
                       "us-4": {"region": "us", "from": "v1", "to": "v2", "needed": True}}, plan, 100.0)
    batch = {"wave": 1, "step": 1, "hosts": ["us-1"]}
    comparison = {"metric": "error_rate", "max_ratio": 2}
    failed = {"failed": True, "msg": "baseline gate error_rate in region us failed: ...", "verdict": "failed", "mode": "enforce",
              "name": "error_rate", "metric": "error_rate", "canary": {"value": 0.05, "samples": 400, "hosts": ["us-1"], "errors": 20},
              "baseline": {"value": 0.005, "samples": 400, "hosts": ["us-4"]}, "ratio": 10.0, "margin": 0.045,
              "max_ratio": 2.0, "max_margin": None, "note": "", "item": [{"key": "us", "leader": "us-1"}, comparison]}
    shadow = dict(failed, failed=False, mode="shadow", msg="shadow mode, not failing: ...")
    skipped_item = {"skipped": True, "item": [{"key": "us"}, comparison]}
    report = wr.record_gates(report, batch, {"us": {"health": {"passed": True}, "baseline": [failed, shadow, skipped_item]}}, 120.0)
    assert report["gates"] == [{"wave": 1, "region": "us", "passed": False, "message": failed["msg"]}]
    assert report["stopped"] and report["failures"][0]["phase"] == "gate"
    entries = report["baseline_gates"]
    assert len(entries) == 2
    assert entries[0] == {"wave": 1, "region": "us", "name": "error_rate", "metric": "error_rate", "verdict": "failed",
                          "mode": "enforce", "counted": True, "canary": {"value": 0.05, "samples": 400, "hosts": ["us-1"]},
                          "baseline": {"value": 0.005, "samples": 400, "hosts": ["us-4"]}, "ratio": 10.0, "margin": 0.045,
                          "max_ratio": 2.0, "max_margin": None, "note": "", "message": failed["msg"]}
    assert entries[1]["verdict"] == "failed" and entries[1]["mode"] == "shadow" and not entries[1]["counted"]
    # A comparison refused before it measured (a bad option) is kept with what the loop item says.
    refused = bl.report_entry(1, "us", {"failed": True, "msg": "x: max_ratio must be at least 1", "item": [{"key": "us"}, comparison]})
    assert refused["name"] == "error_rate" and refused["verdict"] == "failed" and refused["canary"]["value"] is None
    assert not math.isnan(entries[0]["ratio"])


def test_members_of_the_run_and_what_they_lack_before_anything_changes():
    hostvars = {"a": {"fleet_health_url": "http://10.0.0.1:8000/health?x=1"},
                "b": {"fleet_app_url": "http://10.0.0.2:8000", "fleet_prometheus_instance": "b:9100"},
                "c": {}, "d": {"fleet_app_url": "ftp://10.0.0.4"}}
    assert bl.member_of("a", hostvars["a"]) == {"name": "a", "url": "http://10.0.0.1:8000", "instance": "10.0.0.1:8000"}
    assert bl.member_of("b", hostvars["b"]) == {"name": "b", "url": "http://10.0.0.2:8000", "instance": "b:9100"}
    errors = [{"metric": "error_rate", "max_ratio": 2}]
    assert bl.host_problems(errors, ["a", "b"], hostvars) == [] and bl.host_problems([], ["c"], hostvars) == []
    [lacking, bad_url] = bl.host_problems(errors, ["a", "c", "d"], hostvars)
    assert lacking.startswith("c: ") and "fleet_app_url" in lacking and "error_rate" in lacking
    assert bad_url.startswith("d: ") and "ftp://10.0.0.4" in bad_url
    query = [{"metric": "query", "query": 'up{instance="{instance}"}', "max_ratio": 2}]
    assert bl.host_problems(query, ["a", "b"], hostvars) == []
    [no_instance] = bl.host_problems(query, ["c"], hostvars)
    assert no_instance.startswith("c: ") and "fleet_prometheus_instance" in no_instance
