# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Weighted canaries through the run_ledger action plugin (issue 19): the enable of a weighted wave names each
member's weight from its configured weight (the preflight's read), each later step raises the wave's canaries and
gates their regions, a failed step stops the run and the revert puts the hosts back at full weight; a host found at
a reduced weight is planned and put back; without the setting nothing names a weight."""

from __future__ import annotations

import pytest

from test_run_ledger import HOSTS, REGIONS, Run, lb_loop, pool_names

pytestmark = pytest.mark.usefixtures("controller")  # conftest.py


def lb_read(weights=None):
    """tasks/lb_preflight.yml's registered result: one lb_pool_info per region, every server at weight 100 unless
    ``weights`` says otherwise."""
    results = []
    for region, hosts in REGIONS.items():
        servers = {host: {"state": "ready", "weight": (weights or {}).get(host, 100), "initial_weight": 100} for host in hosts}
        results.append({"item": {"key": region, "value": hosts}, "backends": {"app": servers}, "nodes": []})
    return {"results": results}


class WeightedRun(Run):

    def __init__(self, weights=(10, 50, 100), lb_weights=None, **kwargs):
        super().__init__(**kwargs)
        self.weights = list(weights)
        self.lb_weights = lb_weights
        for host in HOSTS:
            self.hostvars[host]["fleet_lb_backend"] = "app"

    def plan(self):
        return self.step("plan", run_id=self.run_id, waves=self.waves, min_healthy=1, on_failure=self.on_failure,
                         release="v2", canary_weights=self.weights, canary_step_pause="manual",
                         task_vars={"fleet_wave_lb": lb_read(self.lb_weights)})


def members(items):
    return {member["server"]: member.get("weight") for item in items for pool in item["pools"] for member in pool["members"]}


def test_a_weighted_wave_enters_at_its_first_step_and_steps_up_after_its_gates():
    run = WeightedRun()
    run.plan()
    assert run.report["canary"] == {"weights": {"1": [10, 50, 100]}, "step_pause": {"kind": "manual", "seconds": 0}}
    batch = run.batch(0)
    assert batch["canary"] == [10, 50, 100]
    assert members(batch["enable"]) == {"eu-1": "10", "us-1": "10"}
    run.step("canary", percent=50)
    step = run.hostvars["localhost"]["fleet_canary_step"]
    assert members(step["todo"]) == {"eu-1": "50", "us-1": "50"} and step["percent"] == 50
    assert [item["key"] for item in run.hostvars["localhost"]["fleet_batch"]["gate"]] == ["eu", "us"]
    run.step("canary_gated", min_healthy=1, task_vars={"fleet_lb_result": lb_loop(["eu", "us"]), "fleet_gate_health": {
        "results": [{"item": {"key": "eu", "leader": "eu-1"}}, {"item": {"key": "us", "leader": "us-1"}}]}})
    assert not run.report["stopped"]
    assert [(entry["percent"], entry["region"], entry.get("passed")) for entry in run.report["canary_steps"]] == [
        (10, "eu", None), (10, "us", None), (50, "eu", True), (50, "us", True)]
    # The next wave enters at full weight: its enable names no weight.
    batch = run.batch(1)
    assert batch["canary"] == [] and set(members(batch["enable"]).values()) == {None}


def test_a_failed_step_stops_the_run_and_the_revert_brings_the_canaries_back_at_full_weight():
    run = WeightedRun()
    run.plan()
    run.batch(0)
    run.step("canary", percent=50)
    run.step("canary_gated", min_healthy=1, task_vars={"fleet_lb_result": lb_loop(["eu", "us"], failed=("us",)),
                                                       "fleet_gate_traffic": {"results": [
                                                           {"item": {"key": "eu", "leader": "eu-1"}, "failed": True,
                                                            "msg": "error rate 9% over 2 s"}]}})
    assert run.report["stopped"]
    failures = {(failure["region"], failure["phase"]) for failure in run.report["failures"]}
    assert failures == {("us", "canary weight"), ("eu", "gate")}, run.report["failures"]
    assert [entry.get("passed") for entry in run.report["canary_steps"] if entry["percent"] == 50] == [False, False]
    revert = run.hostvars["localhost"]["fleet_wave_revert_walk"]
    assert sorted(revert["hosts"]) == ["eu-1", "us-1"]
    batch = run.batch(0, phase="revert")
    assert members(batch["enable"]) == {"eu-1": "100", "us-1": "100"} and batch["canary"] == []
    # After the stop a step changes nothing.
    run.step("canary", percent=100)
    assert run.hostvars["localhost"]["fleet_canary_step"]["todo"] == []


def test_a_host_left_at_a_reduced_weight_is_planned_and_put_back_without_the_setting():
    run = WeightedRun(weights=[], lb_weights={"eu-3": 10})
    run.hostvars["eu-3"]["fleet_lock_taken"]["info"]["current"] = "v2"  # on its target already: planned for its weight
    run.plan()
    assert "eu-3" in run.hostvars["localhost"]["fleet_wave_walk"]["hosts"]
    assert "canary" not in run.report and run.report["hosts"]["eu-3"]["reduced_weight"]
    assert run.report["hosts"]["eu-3"]["out_of_rotation"]
    batch = run.batch(0)
    assert members(batch["enable"]) == {"eu-1": None, "us-1": None}
    enables = {}
    for number in range(1, len(run.hostvars["localhost"]["fleet_wave_walk"]["batches"])):
        enables.update(members(run.batch(number)["enable"]))
    assert enables["eu-3"] == "100" and {weight for host, weight in enables.items() if host != "eu-3"} == {None}
    assert pool_names(batch["enable"]) == ["eu", "us"]


def test_bad_weights_fail_the_plan_before_any_change():
    run = WeightedRun(weights=[10, 50])
    result = run.plan()
    assert result["failed"] and "the last step must be 100" in result["msg"]
