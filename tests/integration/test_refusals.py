# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Refusals come before any change (issue 14, section 4), and a run puts back in rotation a host an earlier run left
drained (section 5): the real playbooks over SSH against the test fleet.

"Nothing changed" is read from the hosts themselves: the release directories, the history files, the host locks, and
every region's HAProxy.
"""

from __future__ import annotations

import os

import pytest
import yaml

from test_release_lifecycle import DEPLOY, ROLLBACK, currents, deploy, history_lengths, names, play
from test_waves import lb_statuses

pytestmark = pytest.mark.fleet


def host_state(fleet):
    """What a refused run must leave as it was: per host its releases, history length and lock; the LB states."""
    state = {}
    for name in names(fleet):
        releases = fleet.host_path(name, "/srv/app/releases")
        state[name] = {
            "releases": sorted(os.listdir(releases)) if releases.is_dir() else [],
            "locked": fleet.host_path(name, "/srv/app/.fleet/lock").exists(),
        }
    return {"hosts": state, "history": history_lengths(fleet), "current": currents(fleet), "lb": lb_statuses(fleet)}


def run(fleet, playbook, *args, **extra_vars):
    proc = fleet.ansible_playbook(playbook, *args, extra_vars=extra_vars)
    return proc, proc.stdout + proc.stderr


def deploy_n3(fleet, releases, *args, **extra_vars):
    path, sha = releases["n-3"]
    return run(fleet, DEPLOY, *args, fleet_release="n-3", fleet_artifact=str(path), fleet_artifact_sha256=sha, **extra_vars)


def extra_inventory(tmp_path, data):
    """A second inventory source merged over the fleet's (ansible-playbook -i twice)."""
    path = tmp_path / "extra.yml"
    path.write_text(yaml.safe_dump(data))
    return ("-i", str(path))


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet, base_artifacts):
    """n-3 to deploy, and the base releases every host already runs (for a deploy that changes no release)."""
    return dict(base_artifacts, **{"n-3": fleet.build_release("n-3")})


@pytest.fixture(scope="module", name="on_n2")
def fixture_on_n2(fleet, on_base):
    """Every host on base-2 with base-1 before it (so that a rollback has a target), all in rotation: the session's base
    state (conftest.py on_base) stands for what the module once deployed as n-1 and n-2."""
    assert set(currents(fleet).values()) == {on_base}
    return on_base


# One run with one bad value of each kind the inputs check judges: it proves end to end that each -e variable reaches the
# check, that every problem is refused at once, before any change, and shown once.  Each value's own message (and
# the values that cannot share a run: other waves, keep_releases 'abc', a strategy, which stops the wave plan) is
# unit-tested in tests/unit/plugins/module_utils/test__run_inputs.py.
BAD_INPUTS = {
    "fleet_min_healthy": 5,
    "fleet_max_fail": "abc",
    "fleet_keep_releases": -1,
    "fleet_config_paths": ["/etc/fleetapp/../shadow"],
    "fleet_release": "n-3\n",
    "fleet_restart_timeout": "soon",
    "fleet_health_command_timeout": 0,
    "fleet_hook_timeout": "abc",
    "fleet_artifact_max_unpacked": "1G",
}
BAD_INPUT_NEEDLES = [
    "min_healthy 5 keeps",
    "fleet_max_fail is 'abc'",
    "fleet_keep_releases is -1",
    "'..'",
    "fleet_release: release id 'n-3\\n'",
    "fleet_restart_timeout is 'soon'",
    "fleet_health_command_timeout is 0",
    "fleet_hook_timeout is 'abc'",
    "fleet_artifact_max_unpacked is '1G'",
]


def test_bad_inputs_are_refused_at_once_before_any_change(fleet, releases, on_n2):
    before = host_state(fleet)
    proc, out = deploy(fleet, releases, "n-3", extra_vars=BAD_INPUTS)
    assert proc.returncode != 0, out
    # Every problem, once, without ansible-core's templating prefixes or a "caused by" copy: the default callback shows
    # a failed task's message twice (its [ERROR] line and the result), no more.
    for needle in BAD_INPUT_NEEDLES:
        assert 1 <= out.count(needle) <= 2, (needle, out)
    assert "Finalization of task args" not in out and "caused by" not in out
    assert host_state(fleet) == before


def test_a_rollback_with_a_bad_input_is_refused_before_any_change(fleet, on_n2):
    before = host_state(fleet)
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_strategy": "yolo", "fleet_reason": "test"})
    assert proc.returncode != 0 and 1 <= out.count("fleet_strategy is 'yolo': it must be one of rolling, blue_green") <= 2, out
    assert host_state(fleet) == before


def test_a_host_in_two_region_groups_is_refused_naming_both(fleet, releases, on_n2, tmp_path):
    host = fleet.hosts_in("us")[0].name
    before = host_state(fleet)
    proc, out = deploy_n3(fleet, releases, *extra_inventory(tmp_path, {"all": {"children": {"fleet": {"children": {
        "eu": {"hosts": {host: None}}}}}}}))
    assert proc.returncode != 0, out
    assert "host %s is in 2 region groups (eu, us)" % host in out
    assert host_state(fleet) == before


def test_an_unknown_lb_server_stops_a_rollback_before_the_first_switch(fleet, on_n2, tmp_path):
    host = fleet.hosts_in("eu")[-1].name
    before = host_state(fleet)
    proc, out = run(fleet, ROLLBACK, *extra_inventory(tmp_path, {"all": {"hosts": {host: {"fleet_lb_server": "nope"}}}}),
                    fleet_reason="test")
    assert proc.returncode != 0, out
    assert "%s: server nope is not in backend app" % host in out
    # Nothing switched, nothing drained, and a refused run leaves no line in any host's history.
    assert host_state(fleet) == before


@pytest.mark.parametrize("region_vars, needle", [
    ({"fleet_lb_socket": "{tmp}/missing.sock"}, "missing.sock"),
    ({"fleet_lb_backend": "nope"}, "nope"),
])
def test_an_unreachable_lb_socket_or_unknown_backend_stops_a_deploy_before_the_unpack(fleet, releases, on_n2, tmp_path,
                                                                                      region_vars, needle):
    before = host_state(fleet)
    region_vars = {name: value.format(tmp=tmp_path) for name, value in region_vars.items()}
    proc, out = deploy_n3(fleet, releases, *extra_inventory(tmp_path, {"all": {"children": {"fleet": {"children": {
        "ap": {"vars": region_vars}}}}}}))
    assert proc.returncode != 0, out
    assert needle in out and "before any switch" in out, out
    assert host_state(fleet) == before  # no host has releases/n-3


def test_a_host_that_fails_its_unpack_stops_the_run_naming_it(fleet, releases, on_n2, tmp_path):
    host = fleet.hosts_in("ap")[-1].name
    before = host_state(fleet)
    # A wrong checksum for one host only (a host variable: an extra var would apply to every host).
    proc, out = run(fleet, DEPLOY, *extra_inventory(tmp_path, {"all": {"hosts": {host: {"fleet_artifact_sha256": "0" * 64}}}}),
                    fleet_release="n-4", fleet_artifact=str(releases["n-3"][0]))
    assert proc.returncode != 0, out
    assert "HostVarsVars" not in out and "has no attribute" not in out, out
    assert "unpacking failed on %s" % host in out
    assert "checksum mismatch" in out
    assert currents(fleet) == before["current"]


def test_a_host_left_drained_is_put_back_in_rotation_by_the_next_run(fleet, releases, on_n2):
    host = fleet.hosts_in("eu")[0].name
    fleet.lb_command("eu", "set server app/%s state drain" % host)
    assert lb_statuses(fleet)[host] == "DRAIN"
    proc, out = deploy(fleet, releases, on_n2)
    assert proc.returncode == 0, out
    assert lb_statuses(fleet)[host] == "UP", out
    assert set(lb_statuses(fleet).values()) == {"UP"}
    assert set(currents(fleet).values()) == {on_n2}


def test_the_playbooks_run_the_input_check_first(fleet):
    for playbook in (DEPLOY, ROLLBACK):
        with open(playbook, encoding="utf-8") as handle:
            first_play = yaml.safe_load(handle)[0]
        assert first_play["tasks"][0]["ansible.builtin.import_role"]["tasks_from"] == "inputs"


def test_a_configuration_path_that_does_not_exist_is_refused_before_any_change(fleet, releases, on_n2):
    before = host_state(fleet)
    proc, out = deploy_n3(fleet, releases, fleet_config_paths=["/etc/fleetapp/app.conf", "/etc/fleetapp/typo.conf"])
    assert proc.returncode != 0, out
    assert "These configuration paths (fleet_config_paths) do not exist" in out
    assert all("%s: /etc/fleetapp/typo.conf" % name in out for name in names(fleet)), out
    assert host_state(fleet) == before
