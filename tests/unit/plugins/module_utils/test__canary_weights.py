# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Weighted canaries (issue 19): the validation of fleet_canary_weights and fleet_canary_step_pause, the weight each
load-balancer member gets, the hosts left at a reduced weight, the steps recorded in the report, and the share of
requests a weight gives."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _canary_weights as canary
from ansible_collections.fleetops.release.plugins.module_utils._run_inputs import RunInputsError, check_run_inputs, lb_servers_read


@pytest.mark.parametrize("value, expected", [
    (None, {}), ([], {}), ({}, {}), ("", {}),
    ([5, 25, 100], {1: [5, 25, 100]}),
    ([100], {1: [100]}),
    (["10%", "100"], {1: [10, 100]}),
    ({"1": [10, 100], 3: [50, 100], "2": []}, {1: [10, 100], 3: [50, 100]}),
])
def test_weights_are_normalized_per_wave(value, expected):
    assert canary.normalize_weights(value) == expected


@pytest.mark.parametrize("value, message", [
    ([10, 5, 100], "strictly increasing (10 is followed by 5)"),
    ([10, 10, 100], "strictly increasing (10 is followed by 10)"),
    ([10, 50], "the last step must be 100"),
    ([0, 100], "fleet_canary_weights[0] is 0"),
    ([10, 101], "from 1 to 100"),
    ([True, 100], "fleet_canary_weights[0] is True"),
    ([10.5, 100], "fleet_canary_weights[0] is 10.5"),
    ("10,100", "give a list of percentages"),
    (10, "give a list of percentages"),
    ({"0": [10, 100]}, "waves are numbered from 1"),
    ({"x": [10, 100]}, "names wave 'x'"),
])
def test_bad_weights_are_refused_saying_what_to_give(value, message):
    with pytest.raises(canary.CanaryWeightsError) as caught:
        canary.normalize_weights(value)
    assert message in str(caught.value)


def test_every_bad_wave_of_a_mapping_is_named_and_a_wave_past_the_plan_is_refused():
    with pytest.raises(canary.CanaryWeightsError) as caught:
        canary.normalize_weights({"1": [10, 5, 100], "2": [25, 50]})
    assert len(caught.value.problems) == 2 and "[1]" in caught.value.problems[0] and "[2]" in caught.value.problems[1]
    with pytest.raises(canary.CanaryWeightsError, match="names wave 3, but the plan has 2 wave"):
        canary.normalize_weights({"3": [10, 100]}, waves=2)
    assert canary.normalize_weights({"2": [10, 100]}, waves=2) == {2: [10, 100]}


@pytest.mark.parametrize("value, expected", [
    (0, {"kind": "none", "seconds": 0}), ("0", {"kind": "none", "seconds": 0}), (None, {"kind": "none", "seconds": 0}),
    (30, {"kind": "bake", "seconds": 30}), ("manual", {"kind": "manual", "seconds": 0}),
])
def test_step_pause(value, expected):
    assert canary.normalize_step_pause(value) == expected


@pytest.mark.parametrize("value", [-1, "soon", 1.5, True, [5]])
def test_bad_step_pause_is_refused(value):
    with pytest.raises(canary.CanaryWeightsError, match="fleet_canary_step_pause"):
        canary.normalize_step_pause(value)


@pytest.mark.parametrize("percent, full, lb_type, expected", [
    (10, 100, "haproxy", "10"),
    (5, 100, "haproxy", "5"),
    (100, 100, "haproxy", "100"),
    (10, 1, "haproxy", "1"),  # never 0: a canary in rotation gets some traffic
    (25, 7, "haproxy", "1"),
    (10, None, "haproxy", "10%"),  # configured weight unknown: HAProxy resolves the percentage
    (10, None, "nginx", "1"),  # nginx: fleet_lb_weight unset is 1, and there is no weight 0
    (10, 50, "nginx", "5"),
    (100, 50, "nginx", "50"),
])
def test_weight_for(percent, full, lb_type, expected):
    assert canary.weight_for(percent, full, lb_type) == expected


def lb_read(servers, hosts):
    return {"item": {"key": "eu", "value": hosts}, "backends": {"app": servers}, "nodes": []}


def test_configured_and_reduced_weights_come_from_the_preflight_read():
    hostvars = {host: {"fleet_lb_backend": "app"} for host in ("eu-1", "eu-2", "eu-3")}
    servers = {"eu-1": {"state": "ready", "weight": 10, "initial_weight": 100},
               "eu-2": {"state": "ready", "weight": 100, "initial_weight": 100},
               "eu-3": {"state": "drain", "weight": 0, "initial_weight": 100}}
    reads = [lb_read(servers, ["eu-1", "eu-2", "eu-3"]), {"skipped": True}]
    weights = canary.lb_weights(lb_servers_read(reads, hostvars))
    assert weights["eu-1"] == {"weight": 10, "initial_weight": 100}
    # Weight 0 is what a drain may leave: drained hosts are planned anyway (out of rotation), not as reduced.
    assert canary.reduced_weight(weights) == ["eu-1"]


def test_enable_weights_first_step_full_weight_back_and_nothing_without_the_setting():
    setting = {"weights": {"1": [10, 50, 100]}, "full": {"eu-1": 100, "eu-2": 100}}
    rows = {"eu-1": {"region": "eu"}, "eu-2": {"region": "eu", "reduced_weight": True}}
    assert canary.enable_weights(setting, {"wave": 1, "phase": "forward"}, ["eu-1"], rows) == {"eu-1": 10}
    assert canary.enable_weights(setting, {"wave": 2, "phase": "forward"}, ["eu-1", "eu-2"], rows) == {"eu-2": 100}
    assert canary.enable_weights(setting, {"wave": 1, "phase": "revert"}, ["eu-1"], rows) == {"eu-1": 100}
    # Without weighted canaries, today's behaviour: no weight is named, except to put a reduced host back.
    assert canary.enable_weights({}, {"wave": 1, "phase": "revert"}, ["eu-1"], rows) == {}
    assert canary.enable_weights({}, {"wave": 1, "phase": "forward"}, ["eu-1", "eu-2"], rows) == {"eu-2": 100}
    hostvars = {"eu-1": {"fleet_lb_type": "haproxy"}, "eu-2": {"fleet_lb_type": "nginx", "fleet_lb_weight": 20}}
    assert canary.member_weights(setting, {"eu-1": 10, "eu-2": 50}, hostvars) == {"eu-1": "10", "eu-2": "10"}


def test_steps_are_recorded_per_region_and_judged_by_their_gates():
    report = {"hosts": {"eu-1": {"region": "eu", "wave": 1, "outcome": "switched"},
                        "us-1": {"region": "us", "wave": 1, "outcome": "back in rotation"},
                        "us-2": {"region": "us", "wave": 1, "outcome": "switch failed"},
                        "eu-2": {"region": "eu", "wave": 2, "outcome": "pending"}}}
    assert canary.step_hosts(report, 1) == {"eu": ["eu-1"], "us": ["us-1"]}
    report = canary.record_weights(report, {"wave": 1, "phase": "forward"}, {"eu-1": 10, "us-1": 10}, 5.0)
    report = canary.record_weights(report, {"wave": 1, "phase": "forward"}, {"eu-1": 100, "us-1": 100}, 9.0)
    report = canary.record_step_result(report, 1, 100, {"us"})
    assert [(entry["percent"], entry["region"], entry["hosts"], entry.get("passed")) for entry in report["canary_steps"]] == [
        (10, "eu", ["eu-1"], None), (10, "us", ["us-1"], None), (100, "eu", ["eu-1"], True), (100, "us", ["us-1"], False)]
    assert canary.record_weights(report, {"wave": 1}, {}, 10.0) is report


def test_expected_share_and_its_bounds():
    # HAProxy roundrobin: 10 against one peer of 100 answers 10/110 of the requests.
    assert canary.expected_share([10], [100]) == pytest.approx(10 / 110)
    assert canary.expected_share([10, 10], [100, 100, 100]) == pytest.approx(20 / 320)
    assert canary.expected_share([], []) == 0.0
    low, high = canary.share_bounds(10 / 110, 400)
    assert low == pytest.approx(10 / 110 - 4 * (10 / 110 * 100 / 110 / 400) ** 0.5) and high < 0.5
    assert canary.share_bounds(0.0, 10) == (0.0, 0.0)


def run_inputs(**overrides):
    hosts = ["eu-1", "eu-2", "eu-3", "eu-4"]
    hostvars = {host: {"fleet_region": "eu"} for host in hosts}
    arguments = dict(operation="deploy", hosts=hosts, hostvars=hostvars, groups={"all": hosts, "eu": hosts}, release="v2",
                     waves=[1, "100%"], keep_releases=3, min_healthy=1)
    arguments.update(overrides)
    return check_run_inputs(**arguments)


def test_run_inputs_judge_the_weights_before_anything_changes():
    run_inputs(canary_weights=[10, 100], canary_step_pause="manual")
    with pytest.raises(RunInputsError) as caught:
        run_inputs(canary_weights={"1": [50, 10, 100], "3": [10, 100]}, canary_step_pause="soon")
    assert any("strictly increasing" in problem for problem in caught.value.problems)
    with pytest.raises(RunInputsError) as caught:
        run_inputs(canary_weights={"3": [10, 100]})
    assert caught.value.problems == ["fleet_canary_weights names wave 3, but the plan has 2 wave(s)"]
    with pytest.raises(RunInputsError) as caught:
        run_inputs(canary_weights=[10, 100], strategy="blue_green")
    assert "weighted canaries need fleet_strategy=rolling" in caught.value.problems[0]
    # A manual step pause needs the manual pause's settings to be right, as fleet_wave_pause=manual does.
    with pytest.raises(RunInputsError) as caught:
        run_inputs(canary_weights=[10, 100], canary_step_pause="manual", wave_pause_poll=0)
    assert "fleet_wave_pause_poll" in caught.value.problems[0]
