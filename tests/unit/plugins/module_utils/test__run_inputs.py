# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run's inputs are judged before the first remote change: each bad input is a problem with what to do."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._run_inputs import (
    lb_membership_problems,
    lb_out_of_rotation,
    RunInputsError,
    check_run_inputs,
    hosts_by_region,
    role_spec_problems,
)


def inventory(**sizes):
    hostvars, groups = {}, {"all": [], "fleet": []}
    for region, size in sizes.items():
        groups[region] = []
        for number in range(1, size + 1):
            host = "%s-%d" % (region, number)
            hostvars[host] = {"fleet_region": region}
            groups[region].append(host)
            groups["fleet"].append(host)
            groups["all"].append(host)
    return hostvars, groups


def check(operation="deploy", hosts=None, fleet=None, **inputs):
    hostvars, groups = fleet or inventory(us=4, eu=4)
    inputs.setdefault("release", "r2")
    inputs.setdefault("keep_releases", 5)
    return check_run_inputs(operation, hosts if hosts is not None else groups["fleet"], hostvars, groups,
                            members=groups["fleet"], **inputs)


def problems_of(**kwargs):
    with pytest.raises(RunInputsError) as caught:
        check(**kwargs)
    assert "nothing was changed" in str(caught.value)
    return caught.value.problems


def test_good_inputs_give_the_regions_and_the_dry_plan():
    checked = check(waves=[1, "50%", "100%"])
    assert checked["regions"] == {"us": ["us-1", "us-2", "us-3", "us-4"], "eu": ["eu-1", "eu-2", "eu-3", "eu-4"]}
    assert checked["waves"] == 3 and checked["keep_releases"] == 5 and checked["max_fail"] == 0


@pytest.mark.parametrize("waves", [[0.5], [], [0], [-1], ["50%"], ["abc"]])
def test_bad_waves_are_refused(waves):
    (problem,) = problems_of(waves=waves)
    assert problem.startswith("the waves cannot be planned")


def test_min_healthy_larger_than_a_region_is_refused_with_the_region():
    (problem,) = problems_of(min_healthy=4)
    assert "region 'us' has 4 host(s)" in problem
    assert "min_healthy 4 keeps 4 in rotation" in problem


def test_min_healthy_counts_hosts_outside_the_limit():
    hostvars, groups = inventory(us=4, eu=4)
    # --limit us-1: three more members of us keep serving, so min_healthy 3 still lets us-1 be drained.
    checked = check_run_inputs("deploy", ["us-1"], hostvars, groups, members=groups["fleet"], release="r2", keep_releases=5,
                               min_healthy=3)
    assert checked["regions"] == {"us": ["us-1"]}


@pytest.mark.parametrize("option, value, needle", [
    ("strategy", "yolo", "fleet_strategy is 'yolo': it must be one of rolling, blue_green"),
    ("mode", "random", "fleet_wave_mode is 'random'"),
    ("max_fail", "abc", "fleet_max_fail is 'abc'"),
    ("max_fail", -1, "fleet_max_fail is -1"),
    ("max_fail", True, "fleet_max_fail is True"),
    ("wave_pause", "soon", "fleet_wave_pause is 'soon'"),
    ("keep_releases", -1, "fleet_keep_releases is -1"),
    ("keep_releases", "abc", "fleet_keep_releases is 'abc'"),
    ("release", "r3\n", "fleet_release:"),
    ("release", "../etc", "(path traversal)"),
    ("release", ".hidden", "must not start with a dot"),
    ("release", "x" * 200, "limit is 128"),
    ("config_paths", ["/etc/app/../shadow"], "'..'"),
    ("config_paths", ["etc/app"], "fleet_config_paths[0]"),
    ("config_paths", "/etc/app", "must be a list"),
    ("region_order", "us", "fleet_region_order is 'us'"),
    ("restart_timeout", 0, "fleet_restart_timeout is 0"),
    ("restart_timeout", "soon", "fleet_restart_timeout is 'soon'"),
    ("health_command_timeout", -5, "fleet_health_command_timeout is -5"),
    ("hook_timeout", "abc", "fleet_hook_timeout is 'abc'"),
    ("artifact_max_unpacked", 0, "fleet_artifact_max_unpacked is 0"),
    ("artifact_max_unpacked", "1G", "fleet_artifact_max_unpacked is '1G'"),
    ("health_wait", {"start_period": "soon"}, "fleet_health_start_period is 'soon'"),
    ("health_wait", {"start_period": -1}, "wait.start_period must be 0 or more seconds"),
    ("health_wait", {"failure_limit": None}, "wait.failure_limit must be 0 or more"),
    ("health_wait", {"interval": 0}, "wait.interval must be more than 0 seconds"),
    ("health_wait", "fast", "fleet_health_wait is 'fast'"),
])
def test_each_bad_option_is_named(option, value, needle):
    problems = problems_of(**{option: value})
    assert any(needle in problem for problem in problems), problems


def test_the_roles_health_wait_is_accepted():
    wait = {"timeout": 60, "interval": "0.5", "successes": 1, "failure_limit": 3, "start_period": 10, "request_timeout": 5}
    assert check(health_wait=wait)["regions"]


def test_numbers_as_digit_strings_are_accepted():
    checked = check(max_fail="2", keep_releases="0", wave_pause="5")
    assert (checked["max_fail"], checked["keep_releases"], checked["wave_pause"]) == (2, 0, 5)


def test_a_deploy_needs_a_release_a_rollback_does_not():
    assert any("fleet_release is missing" in p for p in problems_of(release=""))
    assert check("rollback", release=None)["release"] is None


def test_every_problem_is_listed_at_once():
    assert len(problems_of(strategy="yolo", max_fail="x", release="r3\n")) == 3


def test_the_bad_inputs_of_the_fleet_refusal_test_are_each_one_problem():
    """The values tests/integration/test_refusals.py passes in one deploy: none hides another (a bad strategy would hide
    the wave plan, so that run has none)."""
    problems = problems_of(min_healthy=5, max_fail="abc", keep_releases=-1, config_paths=["/etc/fleetapp/../shadow"],
                           release="n-3\n", restart_timeout="soon", health_command_timeout=0, hook_timeout="abc",
                           artifact_max_unpacked="1G")
    assert len(problems) == 9, problems
    assert "min_healthy 5 keeps" in problems[-1]


def test_a_rollback_is_judged_too():
    problems = problems_of(operation="rollback", release=None, strategy="yolo", restart_timeout="soon")
    assert problems == ["fleet_strategy is 'yolo': it must be one of rolling, blue_green",
                        "fleet_restart_timeout is 'soon': it must be a whole number of 1 or more (seconds)"]


def test_a_host_in_two_region_groups_is_refused_naming_both():
    hostvars, groups = inventory(us=3, eu=3)
    groups["eu"].append("us-2")
    regions, problems = hosts_by_region(groups["fleet"], hostvars, groups)
    assert problems == ["host us-2 is in 2 region groups (eu, us); a host belongs to exactly one region: remove it from all but one"]
    assert "us-2" not in regions["us"]


def test_a_region_without_a_group_and_a_host_without_a_region_are_refused():
    hostvars, groups = inventory(us=2, eu=2)
    hostvars["eu-2"] = {"fleet_region": "ap"}
    hostvars["us-2"] = {}
    _regions, problems = hosts_by_region(groups["fleet"], hostvars, groups)
    assert any("host eu-2: fleet_region 'ap' names no group" in p for p in problems)
    assert any("host us-2 has no fleet_region" in p for p in problems)


def test_blue_green_is_not_planned_in_waves():
    assert check(strategy="blue_green", min_healthy=99)["waves"] == 0


def test_an_empty_play_is_refused():
    assert any("no host" in p for p in problems_of(hosts=[]))


def lb_read(hosts, servers_by_node, backend="app"):
    return {"item": {"key": "us", "value": hosts},
            "nodes": [{"socket": socket, "backends": {backend: dict.fromkeys(servers, {})}} for socket, servers in servers_by_node.items()]}


def test_lb_membership_names_unknown_servers_and_backends():
    hostvars = {"us-1": {"fleet_lb_backend": "app"}, "us-2": {"fleet_lb_backend": "app", "fleet_lb_server": "web-2"},
                "us-3": {"fleet_lb_backend": "api"}, "us-4": {}}
    read = lb_read(["us-1", "us-2", "us-3", "us-4"], {"/a.sock": ["us-1", "web-2"], "/b.sock": ["us-1"]})
    problems = lb_membership_problems([read, {"skipped": True}], hostvars)
    assert problems == {
        "us-2": "server web-2 is not in backend app at /b.sock (servers there: us-1)",
        "us-3": "backend api is unknown to the load balancer at /a.sock",
        "us-4": "no fleet_lb_backend: name the HAProxy backend this host serves in",
    }


def test_lb_membership_of_known_hosts_is_empty():
    hostvars = {"us-1": {"fleet_lb_backend": "app"}}
    assert lb_membership_problems([lb_read(["us-1"], {"/a.sock": ["us-1"]})], hostvars) == {}


def test_config_paths_a_template_creates_need_not_exist():
    checked = check(config_paths=["/etc/app/conf.d", "/etc/app/app.conf", "/etc/app/extra"],
                    config_templates=[{"src": "a.j2", "dest": "/etc/app/conf.d/a.conf"}, {"src": "b.j2", "dest": "/etc/app/extra"}])
    assert checked["config_paths_to_check"] == ["/etc/app/app.conf"]
    assert check("rollback", release=None, config_paths=["/etc/app/app.conf"])["config_paths_to_check"] == []


def test_hosts_an_earlier_run_left_drained_or_in_maintenance_are_out_of_rotation():
    hostvars = {"us-1": {"fleet_lb_backend": "app"}, "us-2": {"fleet_lb_backend": "app", "fleet_lb_server": "web-2"},
                "us-3": {"fleet_lb_backend": "app"}, "us-4": {"fleet_lb_backend": "app"}}
    read = {"item": {"key": "us", "value": ["us-1", "us-2", "us-3", "us-4"]},
            "backends": {"app": {"us-1": {"state": "ready"}, "web-2": {"state": "drain"}, "us-3": {"state": "maint"},
                                 "us-4": {"state": "unknown"}}}}
    assert lb_out_of_rotation([read, {"skipped": True}], hostvars) == ["us-2", "us-3"]


def test_role_spec_problems_are_said_once_naming_the_hosts_when_not_all_have_them():
    options = {"fleet_shared_paths": {"type": "list", "elements": "str"}, "fleet_artifact": {"type": "str", "required": True},
               "fleet_allow_bad_release": {"type": "bool"}}
    values = {"a": {"fleet_artifact": "x.tgz", "fleet_shared_paths": {"log": 1}, "fleet_allow_bad_release": "maybe"},
              "b": {"fleet_artifact": "x.tgz", "fleet_shared_paths": ["log"], "fleet_allow_bad_release": "maybe"}}
    problems = role_spec_problems([("role deploy, entry point preflight", options)], values)
    assert len(problems) == 2, problems
    assert any("fleet_shared_paths" in p and p.endswith("(hosts: a)") for p in problems), problems
    assert any("fleet_allow_bad_release" in p and "(hosts:" not in p for p in problems), problems
    assert all(p.startswith("role deploy, entry point preflight: ") for p in problems)
    assert role_spec_problems([("x", options)], {"a": {"fleet_artifact": "x.tgz", "fleet_shared_paths": []}}) == []
    assert any("fleet_artifact" in p for p in role_spec_problems([("x", options)], {"a": {}}))


def test_the_run_deadline_and_the_lock_margin_are_whole_seconds_and_said_once():
    with pytest.raises(RunInputsError) as raised:
        check_run_inputs("deploy", ["eu-1"], {"eu-1": {"fleet_region": "eu"}}, {"eu": ["eu-1"]}, release="v1",
                         run_timeout="soon", lock_ttl=-5,
                         role_problems=role_spec_problems([("x", {"fleet_run_timeout": {"type": "int"}})],
                                                          {"eu-1": {"fleet_run_timeout": "soon"}}))
    problems = raised.value.problems
    assert "fleet_run_timeout is 'soon': it must be a whole number of 0 or more (seconds from the run's start; 0 for no deadline)" in problems
    assert any(p.startswith("fleet_lock_ttl is -5") for p in problems)
    # The role spec's type error for the same variable is not said again.
    assert sum("fleet_run_timeout" in p for p in problems) == 1, problems
