# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.module_utils import _wave_report as wr
from ansible_collections.fleetops.release.plugins.module_utils._waves import plan_waves

REGIONS = {"eu": ["eu-1", "eu-2", "eu-3", "eu-4"], "us": ["us-1", "us-2", "us-3", "us-4"]}
OK = {"changed": True, "to": "v2"}
FAILED = {"failed": True, "msg": "health: 500"}
UNREACHABLE = {"unreachable": True, "msg": "ssh: connection refused"}
SKIPPED = {"skipped": True}


def make(operation="deploy", on_failure="revert", max_fail=0, waves=(1, "50%", "100%")):
    plan = plan_waves(REGIONS, waves=list(waves), min_healthy=1)
    hosts = {host: {"region": region, "from": "v1", "to": "v2", "needed": True}
             for region, members in REGIONS.items() for host in members}
    run = {"run_id": "r-1", "operation": operation, "actor": "alice", "on_failure": on_failure, "max_fail": max_fail,
           "started": 100.0}
    return wr.start(run, hosts, plan, now=101.0), wr.walk(plan)


def run_batch(report, batch, results=None, phase="forward", drain=None, enable=None, now=110.0):
    results = results or {}
    host_results = {host: {"activation": results.get(host, OK)} for host in batch["hosts"]}
    report = wr.record_switch(report, batch, phase, drain or {}, host_results, now, started=now - 5)
    return wr.record_enable(report, batch, phase, enable or {}, now + 1)


def test_walk_lists_hosts_in_batch_order_with_serial_sizes():
    _report, walk = make()
    assert walk["sizes"] == [len(batch["hosts"]) for batch in walk["batches"]]
    assert walk["hosts"][:2] == ["eu-1", "us-1"]  # the canaries come first
    assert sorted(walk["hosts"]) == sorted(REGIONS["eu"] + REGIONS["us"])
    assert all(walk["batches"][walk["batch_of"][host]]["hosts"].count(host) == 1 for host in walk["hosts"])


def test_a_clean_batch_switches_its_hosts_and_keeps_going():
    report, walk = make()
    report = run_batch(report, walk["batches"][0])
    assert report["hosts"]["eu-1"]["outcome"] == "switched"
    assert report["hosts"]["eu-2"]["outcome"] == "pending"
    assert report["first_switch"] == 105.0
    assert report["position"] == {"phase": "forward", "wave": 1, "batch": 1, "batches": len(walk["batches"])}
    assert not report["stopped"] and report["failures"] == [] and report["revert"] == []
    assert "live" not in report


def test_a_failed_host_stops_the_deploy_and_every_touched_host_goes_back():
    report, walk = make()
    report = run_batch(report, walk["batches"][0])
    report = run_batch(report, walk["batches"][1], {"us-2": FAILED}, now=120.0)
    assert report["stopped"]
    assert report["failed_at"] == 121.0
    assert report["failures"] == [{"host": "us-2", "region": "us", "phase": "forward switch", "wave": 2,
                                   "message": "health: 500"}]
    touched = ["eu-1", "us-1"] + walk["batches"][1]["hosts"]
    assert sorted(report["revert"]) == sorted(touched)


def test_within_the_budget_only_the_failed_host_goes_back():
    report, walk = make(max_fail=1)
    report = run_batch(report, walk["batches"][0], {"us-1": FAILED})
    assert not report["stopped"]
    assert report["revert"] == ["us-1"]


def test_live_hosts_exclude_failed_drains_hooks_and_checks():
    report, walk = make()
    batch = walk["batches"][1]
    eu, us = batch["hosts_by_region"]["eu"], batch["hosts_by_region"]["us"]
    host_results = {host: {"activation": OK} for host in batch["hosts"]}
    host_results[us[0]]["checks"] = FAILED
    host_results[eu[0]] = {"activation": SKIPPED, "hook_failure": "before-switch hook: boom"}
    report = wr.record_switch(report, batch, "forward", {"eu": {}, "us": {}}, host_results, 200.0)
    assert eu[0] not in report["live"] and us[0] not in report["live"]
    report = wr.record_enable(report, batch, "forward", {}, 201.0)
    assert report["hosts"][eu[0]]["outcome"] == "hook failed"
    assert report["hosts"][us[0]]["outcome"] == "health checks failed"
    assert not report["hosts"][eu[0]]["touched"]


def test_a_failed_drain_fails_the_region_and_nobody_there_is_touched():
    report, walk = make()
    batch = walk["batches"][1]
    results = {host: SKIPPED for host in batch["hosts_by_region"]["eu"]}
    report = run_batch(report, batch, results, drain={"eu": {"failed": True, "msg": "sessions left"}})
    assert {report["hosts"][h]["outcome"] for h in batch["hosts_by_region"]["eu"]} == {"drain failed"}
    assert {report["hosts"][h]["outcome"] for h in batch["hosts_by_region"]["us"]} == {"switched"}


def test_loop_results_are_read_per_region():
    loop = {"results": [{"item": {"key": "eu", "value": ["eu-1"]}, "failed": True, "msg": "down"},
                        {"item": "us", "changed": True}]}
    assert wr.region_failures(loop) == {"eu": "down"}
    assert wr.region_failures({"eu": SKIPPED, "us": UNREACHABLE}) == {"us": "ssh: connection refused"}
    assert wr.region_failures(None) == {}


def test_lb_pool_results_are_read_per_pool_and_an_unanswered_call_fails_each_of_its_regions():
    def item(*regions):
        return {"lb_host": "lb", "pools": [{"name": region, "members": []} for region in regions]}
    loop = {"results": [
        {"item": item("eu", "us"), "failed": True, "msg": "pool us: refused", "failed_pools": ["us"],
         "pools": [{"name": "eu", "failed": False}, {"name": "us", "failed": True, "msg": "refused"}]},
        {"item": item("ap", "sa"), "unreachable": True, "msg": "ssh: no route"},
        {"item": item("af"), "changed": True, "failed_pools": [], "pools": [{"name": "af", "failed": False}]},
    ]}
    assert wr.region_failures(loop) == {"us": "refused", "ap": "ssh: no route", "sa": "ssh: no route"}


def test_an_unreachable_host_is_reported_and_never_reverted():
    report, walk = make()
    report = run_batch(report, walk["batches"][0], {"us-1": UNREACHABLE})
    assert report["hosts"]["us-1"]["outcome"] == "unreachable"
    assert report["hosts"]["us-1"]["unreachable"]
    assert report["revert"] == ["eu-1"]


def test_hosts_not_started_stay_pending_and_count_no_failure():
    report, walk = make()
    report["stopped"] = True
    report = run_batch(report, walk["batches"][0], {"eu-1": SKIPPED, "us-1": SKIPPED})
    assert report["hosts"]["eu-1"]["outcome"] == "pending"
    assert report["failures"] == []


def test_the_revert_settles_and_the_recovery_time_runs_from_the_failure():
    report, walk = make()
    report = run_batch(report, walk["batches"][0], {"us-1": FAILED}, now=110.0)
    revert_batch = {"hosts": ["eu-1", "us-1"], "hosts_by_region": {"eu": ["eu-1"], "us": ["us-1"]}, "wave": 1,
                    "step": 1, "steps": 1, "index": 1, "total": 1}
    report = run_batch(report, revert_batch, phase="revert", now=130.0)
    assert report["status"] == "reverting"
    assert {report["hosts"][h]["outcome"] for h in ("eu-1", "us-1")} == {"reverted"}
    assert report["revert"] == []
    report = wr.finish(report, 140.0)
    assert report["status"] == "failed"
    assert report["recovery_seconds"] == 29.0  # from the failure (111) to the end (140)
    assert [phase["name"] for phase in report["phases"]] == ["preflight", "waves", "revert"]
    assert all(phase["finished"] for phase in report["phases"])


def test_a_rollback_never_reverts_and_times_its_recovery_from_the_first_switch():
    report, walk = make(operation="rollback", on_failure="stop")
    for batch in walk["batches"]:
        report = run_batch(report, batch, now=200.0 + batch["step"] * 10)
    report = wr.finish(report, 260.0)
    assert report["status"] == "ok" and report["revert"] == []
    assert report["recovery_seconds"] == 260.0 - 205.0
    failed, walk = make(operation="rollback", on_failure="stop")
    failed = run_batch(failed, walk["batches"][0], {"eu-1": FAILED})
    assert failed["stopped"] and failed["revert"] == []
    assert wr.finish(failed, 300.0)["recovery_seconds"] is None


def test_a_failed_gate_counts_like_a_failed_host():
    report, walk = make()
    report = run_batch(report, walk["batches"][0])
    report = wr.record_gates(report, walk["batches"][0], {
        "eu": {"health": {"passed": True}, "traffic": SKIPPED},
        "us": {"health": {"failed": True, "msg": "error rate 30%"}, "traffic": {}}}, 120.0)
    assert report["gates"] == [
        {"wave": 1, "region": "eu", "passed": True, "message": "passed"},
        {"wave": 1, "region": "us", "passed": False, "message": "error rate 30%"}]
    assert report["stopped"] and sorted(report["revert"]) == ["eu-1", "us-1"]


def test_hooks_merges_and_blue_green():
    report, walk = make()
    assert wr.record_hook(report, "after-wave", {}, 1.0) is report
    hooked = wr.record_hook(report, "after-wave", {"host": "eu-1", "region": "eu", "wave": 1, "message": "x"}, 5.0)
    assert hooked["failures"][0]["phase"] == "after-wave hook" and hooked["stopped"]
    merged = wr.merge(report, {"eu-1": {"outcome": "serving now"}}, [], 6.0)
    assert merged["hosts"]["eu-1"]["outcome"] == "serving now" and not merged["stopped"]
    assert wr.merge(report, {}, [], 7.0, stop=True)["stopped"]
    report["strategy"] = "blue_green"
    report["hosts"]["eu-1"].update(touched=True, outcome="switch failed")
    assert wr.merge(report, {}, [{"host": "eu-1"}], 8.0)["revert"] == []


def test_summary_names_every_host_and_the_verdict():
    report, walk = make()
    report = run_batch(report, walk["batches"][0], {"us-1": FAILED})
    text = wr.summary(wr.finish(report, 150.0))
    assert text.splitlines()[0].startswith("run r-1 (deploy by alice): FAILED, 1 failure(s) in 50.0 s")
    assert "us-1           us       v1               -> v2               switch failed (left out of its load balancer)" in text
    assert "eu-2           eu       v1               -> v2               not started" in text


def test_the_input_report_is_never_changed():
    report, walk = make()
    before = repr(report)
    run_batch(report, walk["batches"][0], {"us-1": FAILED})
    wr.finish(report, 1.0)
    assert repr(report) == before


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["ok", "failed", "unreachable"]), min_size=8, max_size=8), st.integers(0, 3))
def test_every_touched_reachable_host_is_reverted_once_the_deploy_stops(outcomes, max_fail):
    report, walk = make(max_fail=max_fail)
    verdicts = dict(zip(walk["hosts"], outcomes))
    kinds = {"ok": OK, "failed": FAILED, "unreachable": UNREACHABLE}
    for batch in walk["batches"]:
        if report["stopped"]:
            break
        report = run_batch(report, batch, {host: kinds[verdicts[host]] for host in batch["hosts"]})
    touched = [host for host, row in report["hosts"].items() if row["touched"]]
    failures = [host for host in touched if verdicts[host] != "ok"]
    assert report["stopped"] == (len(failures) > max_fail)
    expected = touched if report["stopped"] else [host for host in touched if verdicts[host] == "failed"]
    assert sorted(report["revert"]) == sorted(host for host in expected if verdicts[host] != "unreachable")
