# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The wave planner: examples, the refusals, and the properties a plan must keep for any inventory."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.module_utils._waves import (
    FleetError,
    WavePlanError,
    plan_waves,
)


def fleet(**sizes):
    return {region: ["%s-%d" % (region, n) for n in range(1, size + 1)] for region, size in sizes.items()}


def layout(plan):
    """The plan as [[{region: hosts}, ...batches], ...waves]."""
    return [[batch["hosts_by_region"] for batch in wave["batches"]] for wave in plan]


# -- examples ---------------------------------------------------------------------------------------------


def test_default_plan_for_twelve_hosts_in_three_regions():
    plan = plan_waves(fleet(eu=4, us=4, ap=4))
    assert layout(plan) == [
        [{"eu": ["eu-1"], "us": ["us-1"], "ap": ["ap-1"]}],
        [{"eu": ["eu-2"], "us": ["us-2"], "ap": ["ap-2"]}],
        [{"eu": ["eu-3", "eu-4"], "us": ["us-3", "us-4"], "ap": ["ap-3", "ap-4"]}],
    ]
    assert [(w["index"], w["total"], w["spec"], w["mode"]) for w in plan] == [
        (1, 3, 1, "lockstep"), (2, 3, "50%", "lockstep"), (3, 3, "100%", "lockstep")]
    last = plan[-1]
    assert last["regions"] == ["eu", "us", "ap"]
    assert last["hosts"] == ["eu-3", "eu-4", "us-3", "us-4", "ap-3", "ap-4"]
    assert last["counts"] == {"eu": 2, "us": 2, "ap": 2}
    assert last["switched"] == last["sizes"] == {"eu": 4, "us": 4, "ap": 4}
    assert last["min_healthy"] == {"eu": 1, "us": 1, "ap": 1}
    batch = last["batches"][0]
    assert (batch["wave"], batch["waves"], batch["step"], batch["steps"], batch["index"], batch["total"]) == (
        3, 3, 3, 3, 1, 1)
    assert batch["in_rotation"] == {"eu": 2, "us": 2, "ap": 2}
    assert batch["outage"] is False and batch["outage_regions"] == []


def test_percentages_round_up_and_counts_are_capped_by_the_region():
    plan = plan_waves(fleet(eu=10, us=3), waves=[1, "25%", 5, "100%"])
    assert [w["switched"] for w in plan] == [
        {"eu": 1, "us": 1}, {"eu": 3, "us": 1}, {"eu": 5, "us": 3}, {"eu": 10, "us": 3}]
    assert [w["regions"] for w in plan] == [["eu", "us"], ["eu"], ["eu", "us"], ["eu"]]
    assert plan[1]["counts"] == {"eu": 2}
    assert plan[2]["counts"] == {"eu": 2, "us": 2}


def test_decimal_percentages_and_digit_strings():
    plan = plan_waves(fleet(eu=1000), waves=["1", "33.3%", "100%"], min_healthy="10%")
    assert [w["switched"]["eu"] for w in plan] == [1, 333, 1000]
    assert plan[0]["min_healthy"] == {"eu": 100}


def test_a_wave_that_would_drain_too_much_is_split_into_balanced_batches():
    plan = plan_waves(fleet(eu=5, us=2), waves=["100%"], min_healthy={"eu": 2})
    assert layout(plan) == [[
        {"eu": ["eu-1", "eu-2", "eu-3"], "us": ["us-1"]},
        {"eu": ["eu-4", "eu-5"], "us": ["us-2"]},
    ]]
    assert [b["in_rotation"] for b in plan[0]["batches"]] == [{"eu": 2, "us": 1}, {"eu": 3, "us": 1}]
    assert [(b["index"], b["total"], b["step"], b["steps"]) for b in plan[0]["batches"]] == [(1, 2, 1, 2), (2, 2, 2, 2)]


def test_regions_split_into_different_numbers_of_batches():
    plan = plan_waves(fleet(eu=6, us=2), waves=["100%"], min_healthy={"eu": 4})
    assert layout(plan) == [[
        {"eu": ["eu-1", "eu-2"], "us": ["us-1"]},
        {"eu": ["eu-3", "eu-4"], "us": ["us-2"]},
        {"eu": ["eu-5", "eu-6"]},
    ]]


def test_min_healthy_percentage_is_rounded_up():
    plan = plan_waves(fleet(eu=5), waves=["100%"], min_healthy="50%")
    # 50% of 5 keeps 3 in rotation: at most 2 drained at a time.
    assert [len(b["hosts"]) for b in plan[0]["batches"]] == [2, 2, 1]


def test_single_host_region_is_refused_by_default():
    with pytest.raises(WavePlanError, match=r"region 'ap' has 1 host\(s\).*lower min_healthy.*\{'ap': 0\}"):
        plan_waves(fleet(eu=3, ap=1))


def test_single_host_region_with_min_healthy_zero_is_marked_as_an_outage():
    plan = plan_waves(fleet(eu=3, ap=1), min_healthy={"ap": 0})
    assert layout(plan) == [
        [{"eu": ["eu-1"], "ap": ["ap-1"]}],
        [{"eu": ["eu-2"]}],
        [{"eu": ["eu-3"]}],
    ]
    canary = plan[0]["batches"][0]
    assert canary["outage"] is True
    assert canary["outage_regions"] == ["ap"]
    assert canary["in_rotation"] == {"eu": 2, "ap": 0}
    assert not any(b["outage"] for w in plan[1:] for b in w["batches"])


def test_min_healthy_zero_drains_a_whole_region_only_when_asked_and_says_so():
    plan = plan_waves(fleet(eu=3), waves=["100%"], min_healthy=0)
    assert layout(plan) == [[{"eu": ["eu-1", "eu-2", "eu-3"]}]]
    assert plan[0]["batches"][0]["outage_regions"] == ["eu"]


def test_empty_waves_are_left_out():
    plan = plan_waves(fleet(eu=2, us=2))
    # 50% of 2 hosts is the canary already: wave 2 brings nobody and is dropped.
    assert [w["spec"] for w in plan] == [1, "100%"]
    assert [(w["index"], w["total"]) for w in plan] == [(1, 2), (2, 2)]


def test_sequential_walks_region_after_region_in_the_given_order():
    plan = plan_waves(fleet(eu=4, us=4, ap=4), mode="sequential", region_order=["ap", "eu"])
    assert [(w["regions"], w["spec"], w["hosts"]) for w in plan] == [
        (["ap"], 1, ["ap-1"]), (["ap"], "50%", ["ap-2"]), (["ap"], "100%", ["ap-3", "ap-4"]),
        (["eu"], 1, ["eu-1"]), (["eu"], "50%", ["eu-2"]), (["eu"], "100%", ["eu-3", "eu-4"]),
        (["us"], 1, ["us-1"]), (["us"], "50%", ["us-2"]), (["us"], "100%", ["us-3", "us-4"]),
    ]
    assert plan[3]["switched"] == {"ap": 4, "eu": 1, "us": 0}
    assert all(w["mode"] == "sequential" and w["total"] == 9 for w in plan)


def test_region_order_orders_regions_inside_lockstep_batches():
    plan = plan_waves(fleet(eu=2, us=2, ap=2), region_order=["us"])
    assert list(plan[0]["batches"][0]["hosts_by_region"]) == ["us", "eu", "ap"]
    assert plan[0]["hosts"] == ["us-1", "eu-1", "ap-1"]


def test_inventory_order_within_a_region_is_kept():
    plan = plan_waves({"eu": ["web-9", "web-1", "web-5"]}, waves=[1, 2, "100%"])
    assert [w["hosts"] for w in plan] == [["web-9"], ["web-1"], ["web-5"]]


def test_defaults_when_none_is_given():
    assert plan_waves(fleet(eu=4), waves=None, mode=None, min_healthy=None) == plan_waves(fleet(eu=4))


# -- refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("waves, message", [
    ([], "waves is empty"),
    ("100%", "must be a list"),
    ({"a": 1}, "must be a list"),
    ([1, "50%"], "end waves with \"100%\""),
    ([1, 5], "end waves with \"100%\""),
    (["100%", "100%"], r"waves\[2\].*larger than the one before"),
    ([2, 2, "100%"], r"waves\[2\].*larger than the one before"),
    ([3, 1, "100%"], r"waves\[2\]"),
    (["50%", "10%", "100%"], r"waves\[2\]"),
    ([0, "100%"], r"waves\[1\] is 0.*at least 1 host"),
    ([-1, "100%"], r"waves\[1\] is -1.*at least 1 host"),
    (["0%", "100%"], "above 0%"),
    (["150%"], "at most 100%"),
    (["half", "100%"], r"waves\[1\] must be a number of hosts"),
    (["50 %%", "100%"], "must be a number of hosts"),
    ([True, "100%"], "must be a number of hosts"),
    ([1.5, "100%"], "must be a number of hosts"),
    ([None, "100%"], "must be a number of hosts"),
])
def test_bad_waves_are_refused(waves, message):
    with pytest.raises(WavePlanError, match=message):
        plan_waves(fleet(eu=4), waves=waves)


def test_a_share_already_reached_brings_nobody():
    # 2 hosts, then 25%: a 10-host region goes 2, 3, 10; a 3-host region is past 25% (1 host) after wave 1.
    plan = plan_waves(fleet(eu=10, us=3), waves=[2, "25%", "100%"], min_healthy=0)
    assert [w["switched"] for w in plan] == [{"eu": 2, "us": 2}, {"eu": 3, "us": 2}, {"eu": 10, "us": 3}]
    assert plan[1]["regions"] == ["eu"]
    assert plan[1]["counts"] == {"eu": 1}


@pytest.mark.parametrize("hosts_by_region, message", [
    ({}, "no hosts to plan"),
    ([["eu-1"]], "no hosts to plan"),
    ({"eu": []}, "non-empty list of hosts"),
    ({"eu": "eu-1"}, "non-empty list of hosts"),
    ({"": ["eu-1"]}, "non-empty strings"),
    ({"eu": ["eu-1", ""]}, "non-empty strings"),
    ({"eu": ["eu-1", 7]}, "non-empty strings"),
    ({"eu": ["eu-1", "eu-1"]}, "'eu-1' is listed twice"),
    ({"eu": ["web-1", "web-2"], "us": ["web-3", "web-1"]}, "'web-1' is listed twice .in region 'eu' and in region 'us'"),
])
def test_bad_inventories_are_refused(hosts_by_region, message):
    with pytest.raises(WavePlanError, match=message):
        plan_waves(hosts_by_region, min_healthy=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "parallel"}, "mode must be one of lockstep, sequential"),
    ({"region_order": ["mars"]}, "region_order names 'mars'.*regions: eu, us"),
    ({"region_order": ["us", "us"]}, "names 'us' twice"),
    ({"region_order": "us"}, "must be a list"),
    ({"min_healthy": {"mars": 1}}, "min_healthy names region 'mars'"),
    ({"min_healthy": -1}, "min_healthy for region 'eu' is -1: it must be 0 or more"),
    ({"min_healthy": "120%"}, "between 0% and 100%"),
    ({"min_healthy": "lots"}, "min_healthy for region 'eu' must be a number"),
    ({"min_healthy": 3}, "region 'eu' has 3 host.*keeps 3 in rotation"),
    ({"min_healthy": "100%"}, "no host of it can be drained"),
    ({"min_healthy": {"us": 4}}, "region 'us' has 4 host"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(WavePlanError, match=message):
        plan_waves(fleet(eu=3, us=4), **kwargs)


def test_errors_are_fleet_errors():
    assert issubclass(WavePlanError, FleetError)


# -- properties -------------------------------------------------------------------------------------------

region_names = st.lists(st.sampled_from(["eu", "us", "ap", "sa", "af", "me"]), min_size=1, max_size=5, unique=True)


@st.composite
def inventories(draw):
    names = draw(region_names)
    sizes = draw(st.lists(st.integers(min_value=1, max_value=12), min_size=len(names), max_size=len(names)))
    host_ids = draw(st.permutations(range(sum(sizes))))
    inventory = {}
    start = 0
    for name, size in zip(names, sizes):
        inventory[name] = ["h%d" % n for n in host_ids[start:start + size]]
        start += size
    return inventory


@st.composite
def wave_lists(draw):
    """Valid lists: strictly growing counts and percentages, interleaved, ending at 100%."""
    counts = sorted(draw(st.sets(st.integers(min_value=1, max_value=15), max_size=3)))
    percents = sorted(draw(st.sets(st.integers(min_value=1, max_value=99), max_size=3)))
    merged = []
    while counts or percents:
        take_count = counts and (not percents or draw(st.booleans()))
        merged.append(counts.pop(0) if take_count else "%d%%" % percents.pop(0))
    return merged + ["100%"]


@st.composite
def min_healthy_for(draw, inventory):
    """0 or a value each region can satisfy while draining one host."""
    choice = draw(st.sampled_from(["default", "int", "percent", "dict"]))
    smallest = min(len(hosts) for hosts in inventory.values())
    if choice == "default":
        return None if smallest > 1 else {r: 0 for r, hosts in inventory.items() if len(hosts) == 1}
    if choice == "int":
        return draw(st.integers(min_value=0, max_value=smallest - 1))
    if choice == "percent":
        # ceil(p * n / 100) < n for every region
        return "%d%%" % draw(st.integers(min_value=0, max_value=math.floor(100 * (smallest - 1) / smallest)))
    return {r: draw(st.integers(min_value=0, max_value=len(hosts) - 1)) for r, hosts in inventory.items()}


def share(spec, size):
    if isinstance(spec, int):
        return min(spec, size)
    return min(size, math.ceil(int(spec[:-1]) * size / 100))


def target(waves, index, size):
    """Hosts of a region switched after wave ``index`` (0: none yet): the largest share reached so far."""
    return max([0] + [share(spec, size) for spec in waves[:index]])


@st.composite
def scenarios(draw):
    inventory = draw(inventories())
    waves = draw(wave_lists())
    min_healthy = draw(min_healthy_for(inventory))
    mode = draw(st.sampled_from(["lockstep", "sequential"]))
    order = draw(st.permutations(list(inventory)))
    order = order[:draw(st.integers(min_value=0, max_value=len(order)))]
    return inventory, waves, min_healthy, mode, order


def resolved_floor(min_healthy, region, size):
    value = min_healthy.get(region, 1) if isinstance(min_healthy, dict) else (1 if min_healthy is None else min_healthy)
    if isinstance(value, str):
        return math.ceil(int(value[:-1]) * size / 100)
    return value


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_every_host_exactly_once_in_inventory_order(scenario):
    inventory, waves, min_healthy, mode, order = scenario
    plan = plan_waves(inventory, waves=waves, mode=mode, region_order=order, min_healthy=min_healthy)
    everything = [host for wave in plan for batch in wave["batches"] for host in batch["hosts"]]
    assert sorted(everything) == sorted(host for hosts in inventory.values() for host in hosts)
    assert len(everything) == len(set(everything))
    for region, hosts in inventory.items():
        walked = [h for wave in plan for batch in wave["batches"] for h in batch["hosts_by_region"].get(region, [])]
        assert walked == hosts
    # the flat lists agree with the per-region ones
    for wave in plan:
        assert wave["hosts"] == [h for batch in wave["batches"] for h in batch["hosts"]]
        for batch in wave["batches"]:
            assert batch["hosts"] == [h for hosts in batch["hosts_by_region"].values() for h in hosts]
            assert all(batch["hosts_by_region"].values())


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_no_batch_leaves_a_region_below_min_healthy_and_outages_are_marked(scenario):
    inventory, waves, min_healthy, mode, order = scenario
    plan = plan_waves(inventory, waves=waves, mode=mode, region_order=order, min_healthy=min_healthy)
    for wave in plan:
        for batch in wave["batches"]:
            for region, hosts in batch["hosts_by_region"].items():
                size = len(inventory[region])
                serving = size - len(hosts)
                assert batch["in_rotation"][region] == serving
                assert serving >= resolved_floor(min_healthy, region, size)
                assert (serving == 0) == (region in batch["outage_regions"])
            assert batch["outage"] == bool(batch["outage_regions"])
            if batch["outage"]:
                assert all(resolved_floor(min_healthy, r, len(inventory[r])) == 0 for r in batch["outage_regions"])


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_positions_and_counts_are_consistent(scenario):
    inventory, waves, min_healthy, mode, order = scenario
    plan = plan_waves(inventory, waves=waves, mode=mode, region_order=order, min_healthy=min_healthy)
    steps = [batch for wave in plan for batch in wave["batches"]]
    assert [b["step"] for b in steps] == list(range(1, len(steps) + 1))
    assert all(b["steps"] == len(steps) and b["waves"] == len(plan) for b in steps)
    switched = dict.fromkeys(inventory, 0)
    for number, wave in enumerate(plan, 1):
        assert (wave["index"], wave["total"], wave["mode"]) == (number, len(plan), mode)
        assert wave["spec"] in waves
        assert wave["hosts"], "an empty wave is left out"
        assert [(b["index"], b["total"], b["wave"]) for b in wave["batches"]] == [
            (i, len(wave["batches"]), number) for i in range(1, len(wave["batches"]) + 1)]
        for region, count in wave["counts"].items():
            switched[region] += count
        assert wave["switched"] == switched
        assert wave["sizes"] == {r: len(h) for r, h in inventory.items()}


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_lockstep_canaries_first_and_regions_never_more_than_one_wave_apart(scenario):
    inventory, waves, min_healthy, _mode, order = scenario
    plan = plan_waves(inventory, waves=waves, mode="lockstep", region_order=order, min_healthy=min_healthy)
    sizes = {r: len(h) for r, h in inventory.items()}
    # the first wave touches every region
    assert set(plan[0]["regions"]) == set(inventory)
    if waves[0] == 1:
        assert plan[0]["counts"] == dict.fromkeys(inventory, 1)
    # each wave is the target of one entry of ``waves``, and while it runs (batch by batch) every region's switched
    # count stays between the previous wave's target and this wave's target
    done = dict.fromkeys(inventory, 0)
    for wave in plan:
        index = waves.index(wave["spec"])
        previous = {r: target(waves, index, sizes[r]) for r in inventory}
        current = {r: target(waves, index + 1, sizes[r]) for r in inventory}
        assert done == previous
        for batch in wave["batches"]:
            for region, hosts in batch["hosts_by_region"].items():
                done[region] += len(hosts)
            assert all(previous[r] <= done[r] <= current[r] for r in inventory)
        assert done == current == wave["switched"]
    assert done == sizes


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_sequential_finishes_each_region_before_the_next_in_order(scenario):
    inventory, waves, min_healthy, _mode, order = scenario
    plan = plan_waves(inventory, waves=waves, mode="sequential", region_order=order, min_healthy=min_healthy)
    expected_order = list(order) + [r for r in inventory if r not in order]
    walked = []
    for wave in plan:
        assert len(wave["regions"]) == 1
        if not walked or walked[-1] != wave["regions"][0]:
            walked.append(wave["regions"][0])
    assert walked == expected_order
    # the canary of each region comes first in its walk
    firsts = {}
    for wave in plan:
        firsts.setdefault(wave["regions"][0], wave)
    for region, wave in firsts.items():
        assert wave["counts"][region] == target(waves, 1, len(inventory[region]))


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_plans_are_deterministic_and_leave_the_input_alone(scenario):
    inventory, waves, min_healthy, mode, order = scenario
    snapshot = {r: list(h) for r, h in inventory.items()}
    first = plan_waves(inventory, waves=waves, mode=mode, region_order=order, min_healthy=min_healthy)
    second = plan_waves(dict(inventory), waves=list(waves), mode=mode, region_order=list(order),
                        min_healthy=min_healthy)
    assert first == second
    assert inventory == snapshot


def test_region_sizes_count_members_outside_the_plan():
    # One eu host to switch (a --limit, or the rest already on the target): alone it could not be drained, but three
    # other members keep serving, so it goes in one wave; the shares apply to the planned hosts.
    plan = plan_waves({"eu": ["eu-4"]}, region_sizes={"eu": 4})
    assert [wave["hosts"] for wave in plan] == [["eu-4"]]
    assert plan[0]["batches"][0]["in_rotation"] == {"eu": 3}
    plan = plan_waves({"eu": ["eu-1", "eu-2", "eu-3"]}, waves=["100%"], region_sizes={"eu": 4}, min_healthy=2)
    assert [batch["hosts"] for batch in plan[0]["batches"]] == [["eu-1", "eu-2"], ["eu-3"]]


@pytest.mark.parametrize("sizes, message", [
    ({"eu": 1}, "2 of its hosts are planned"),
    ({"eu": "4"}, "region_sizes gives region 'eu'"),
    (["eu"], "region_sizes must map"),
])
def test_region_sizes_errors(sizes, message):
    with pytest.raises(WavePlanError, match=message):
        plan_waves({"eu": ["eu-1", "eu-2"]}, region_sizes=sizes)
